#!/usr/bin/env bash
# The issue-22 runs: `attend train speech` for MINUTES each, one after another (2 cores: never two at once), each log
# under docs/results/speech-real/. A run is NAME:SEED:VOICES:AUGMENT, e.g. full-s1:1:all:all or before:1:espeak:none.
#   tools/speech/ablation.sh 15 full-s1:1:all:all before:1:espeak:none …
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=$1; shift
dotnet build src/Attend.Cli -c Release -v q -nologo > /dev/null
attend=src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli
out=docs/results/speech-real; mkdir -p "$out"
cpu="$(lscpu | sed -n 's/^Model name: *//p'), cpu family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p'), $(nproc) cores"
for run in "$@"; do
  IFS=: read -r name seed voices augment <<< "$run"
  cmd="attend train speech --minutes $minutes --eval-every 200 --seed $seed --voices $voices --augment $augment --out /tmp/speech-$name"
  rm -rf "/tmp/speech-$name"
  { echo "\$ /usr/bin/time -f wall_%e_s,_cpu_%U_user_+_%S_sys $cmd   # $cpu, $(date -u +%F), commit $(git rev-parse --short HEAD)"
    /usr/bin/time -f 'wall_%e_s,_cpu_%U_user_+_%S_sys' "$attend" train speech --minutes "$minutes" --eval-every 200 --seed "$seed" \
      --voices "$voices" --augment "$augment" --out "/tmp/speech-$name" 2>&1
  } > "$out/$name.txt"
  echo "$name: $(grep -E '^Real recordings' "$out/$name.txt")"
done

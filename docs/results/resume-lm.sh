#!/usr/bin/env bash
# Exact resume after Ctrl-C, as a user does it: `attend train lm --preset small` for 300 steps straight, and the same run
# stopped by SIGINT (Ctrl-C) part-way and continued with --resume. The checkpoints' weights must be byte-identical.
# Usage: docs/results/resume-lm.sh [ATTEND]   (default: the Release build of src/Attend.Cli)
set -uo pipefail
attend="${1:-$(cd "$(dirname "$0")/../.." && pwd)/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
args=(train lm --data kjv --preset small --steps 300 --seed 4 --eval-every 100 --save-every 1000)
echo "\$ attend ${args[*]} --out straight"
"$attend" "${args[@]}" --out "$tmp/straight" | grep -E 'val|Done'
echo "\$ attend ${args[*]} --out stopped   # SIGINT after 12 s"
# background jobs of a script start with SIGINT ignored: restore its default so that Ctrl-C (SIGINT) reaches attend
env --default-signal=INT "$attend" "${args[@]}" --out "$tmp/stopped" > "$tmp/first.log" 2>&1 &
pid=$!; sleep 12; kill -INT "$pid"; wait "$pid"; echo "exit code $?"
grep -E 'val|Interrupted' "$tmp/first.log"
echo "\$ attend ${args[*]} --out stopped --resume"
"$attend" "${args[@]}" --out "$tmp/stopped" --resume | grep -E 'steps [0-9]+→|val|Done'
echo "\$ cmp straight/model.safetensors stopped/model.safetensors && cmp straight/optimizer.safetensors stopped/optimizer.safetensors"
cmp "$tmp/straight/model.safetensors" "$tmp/stopped/model.safetensors" && cmp "$tmp/straight/optimizer.safetensors" "$tmp/stopped/optimizer.safetensors" \
  && echo "identical weights and optimizer state"

#!/usr/bin/env bash
# The positional-scheme comparison of docs/long-context.md: the CI-size recall task (8 pairs, 8 queries, 528 tokens,
# answers ≥ 448 back, 1,200 steps) with each scheme, with and without the token shift, tested on held-out sequences
# at 528 tokens and at 4,176 (answers ≥ 4,096 back: 8× the trained length).
# Usage: tools/recall/positions.sh > docs/results/recall-positions.txt
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$root/src/Attend.Cli" -v q -nologo > /dev/null
cli="$root/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
for run in "none true" "rope true" "alibi true" "learned true" "none false" "rope false"; do
  set -- $run
  echo; echo "## --positions $1 --token-shift $2"
  echo "\$ attend train recall --context 448 --pairs 8 --queries 8 --test-lengths 4096 --start-length 128 --batch 32 --steps 1200 --test-sequences 32 --positions $1 --token-shift $2"
  TERM=dumb "$cli" train recall --context 448 --pairs 8 --queries 8 --test-lengths 4096 --start-length 128 --batch 32 --steps 1200 \
    --test-sequences 32 --positions "$1" --token-shift "$2" --out "$tmp/$1-$2" 2>&1
done

#!/usr/bin/env bash
# Peak memory of training the recall model at 16,384 tokens (docs/long-context.md): three steps of one 16,384-token
# sequence, on the fused kernel (the default) and on the materialized path (--attention math: the L×S scores and
# weights formed and kept for the backward, as PyTorch 1.13's math attention), then PyTorch 1.13 itself
# (tools/recall/torch_math_16k.py: one step of the same shape with math attention). Peak RSS by GNU time.
# Usage: tools/recall/memory.sh > docs/results/recall-memory.txt
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$root/src/Attend.Cli" -v q -nologo > /dev/null
cli="$root/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
for L in 4096 8192 16384; do
  for attention in soft math; do
    echo; echo "## attend, $L tokens, --attention $attention"
    echo "\$ attend train recall --context $((L - 144)) --start-length $L --batch 1 --steps 3 --test-sequences 1 --attention $attention"
    TERM=dumb /usr/bin/time -f "peak RSS %M KiB, wall %e s" "$cli" train recall --context $((L - 144)) --start-length "$L" --batch 1 --steps 3 \
      --eval-every 1000 --test-sequences 1 --attention "$attention" --out "$tmp/$L-$attention" 2>&1 | grep -vE '^│|^┌|^├|^└'
  done
  echo; echo "## PyTorch, $L tokens, math attention"
  echo "\$ /usr/bin/time /usr/bin/python3 tools/recall/torch_math_16k.py $L"
  /usr/bin/time -f "peak RSS %M KiB, wall %e s" /usr/bin/python3 "$root/tools/recall/torch_math_16k.py" "$L" 2>&1
done

#!/usr/bin/env bash
# Side-by-side benchmark against a peer: bench/compare.sh CASE [CASE ...]
# The peer is libtorch (../shared/peers/torchsharp), or ONNX Runtime with PEER=onnxruntime (the bert-encode cases).
# Builds Attend.Bench (Release) once, then per case runs peer, ours, peer, ours (alternating, two rounds each, each run
# a fresh process) and prints: case, peer median ms, ours median ms, ratio peer/ours (> 1: we are faster).
# Each side's figure is the BEST (lowest) of its two rounds' medians, which discards a round hit by host noise.
# The per-round medians are printed to stderr as they come. The peer builds itself on first use (takes a while).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peer="$root/../shared/peers/${PEER:-torchsharp}/run.sh"
[ $# -ge 1 ] || { echo "usage: $0 CASE [CASE ...]" >&2; exit 2; }
[ -x "$peer" ] || [ -f "$peer" ] || { echo "peer not found: $peer" >&2; exit 2; }

dotnet build -c Release "$root/bench/Attend.Bench/Attend.Bench.csproj" -v q -nologo >/tmp/attend-compare-build.log 2>&1 \
  || { tail -20 /tmp/attend-compare-build.log >&2; exit 1; }
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')$(grep -qm1 avx512_vp2intersect /proc/cpuinfo && echo ' (avx512_vp2intersect)'), $(nproc) cores; peer: ${PEER:-torchsharp}; $(date -u +%F)"
ours_dll="$root/bench/Attend.Bench/bin/Release/net10.0/Attend.Bench.dll"

. "$root/bench/lib.sh"

rows=()
for c in "$@"; do
  p1=$(median_of bash "$peer" "$c");         echo "  $c peer round 1: $p1 ms" >&2
  o1=$(median_of dotnet "$ours_dll" "$c");   echo "  $c ours round 1: $o1 ms" >&2
  p2=$(median_of bash "$peer" "$c");         echo "  $c peer round 2: $p2 ms" >&2
  o2=$(median_of dotnet "$ours_dll" "$c");   echo "  $c ours round 2: $o2 ms" >&2
  p=$(best "$p1" "$p2"); o=$(best "$o1" "$o2")
  r=$(python3 -c "import sys; p,o=sys.argv[1:]; print('nan' if 'nan' in (p,o) else f'{float(p)/float(o):.2f}')" "$p" "$o")
  rows+=("$c	$p	$o	$r")
done

printf '%-28s %12s %12s %10s\n' "case" "peer_ms" "ours_ms" "peer/ours"
for row in "${rows[@]}"; do
  IFS=$'\t' read -r c p o r <<<"$row"
  printf '%-28s %12s %12s %10s\n' "$c" "$p" "$o" "$r"
done
echo "(best of 2 rounds' medians per side, rounds alternated peer/ours)"

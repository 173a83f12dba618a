#!/usr/bin/env bash
# Two builds of Attend against the libtorch peer in one run: bench/compare-builds.sh BASE_REV CASE [CASE ...]
# BASE_REV is built from `git archive` into a temporary folder; this tree is built as it is. Per case and round, the
# peer, the base and this tree run in turn (each a fresh process, 2 threads); each side's figure is the best of its
# rounds' medians (ROUNDS, default 3), which discards a round hit by host noise. Prints the ratios peer/base and
# peer/this (> 1: Attend is faster) and this/base (< 1: this tree is faster). Per-round medians go to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peer="$root/../shared/peers/${PEER:-torchsharp}/run.sh"   # PEER=onnxruntime for the bert-encode cases
[ $# -ge 2 ] || { echo "usage: $0 BASE_REV CASE [CASE ...]" >&2; exit 2; }
base_rev=$1; shift
rounds=${ROUNDS:-3}
source "$root/bench/build-two.sh"
build_two "$root" "$base_rev"
median() { "$@" | tail -1 | cut -f2; }
ratio() { python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print(f"{a/b:.2f}")' "$1" "$2"; }
echo "peer ${PEER:-torchsharp} vs base $(git -C "$root" rev-parse --short "$base_rev") vs this tree ($(git -C "$root" rev-parse --short HEAD)); $rounds rounds, best of medians (ms)"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores$(grep -q avx512_vp2intersect /proc/cpuinfo && echo ', avx512_vp2intersect (Zen 5)')"
printf '%-24s %10s %10s %10s %10s %10s %10s\n' case peer base this peer/base peer/this this/base
for c in "$@"; do
  p=(); b=(); o=()
  for r in $(seq "$rounds"); do
    p+=("$(median bash "$peer" "$c")"); b+=("$(median dotnet "$base_dll" "$c")"); o+=("$(median dotnet "$ours_dll" "$c")")
    echo "  $c round $r: peer ${p[-1]}, base ${b[-1]}, this ${o[-1]} ms" >&2
  done
  pp=$(best "${p[@]}"); bb=$(best "${b[@]}"); oo=$(best "${o[@]}")
  printf '%-24s %10s %10s %10s %10s %10s %10s\n' "$c" "$pp" "$bb" "$oo" "$(ratio "$pp" "$bb")" "$(ratio "$pp" "$oo")" "$(ratio "$oo" "$bb")"
done

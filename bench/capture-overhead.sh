#!/usr/bin/env bash
# What AttentionCapture costs when it is off: the same cases built from BASE (default: the commit before the capture,
# i.e. the merge-base with main) and from this tree, in alternating fresh processes, ROUNDS rounds each; each side's
# figure is the best of its rounds' medians. Then mha-fwd with a capture of every head on (this tree only).
# The host is shared and noisy (±10% between rounds is common), so it also times the check itself (capture-check):
# ns per attention call, against the smallest case's time per call.
# Usage: bench/capture-overhead.sh [BASE] [ROUNDS]   — run it under: flock /tmp/attend-heavy.lock bench/capture-overhead.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base_rev=${1:-$(git -C "$root" merge-base HEAD main)}
rounds=${2:-3}
read -r -a cases <<< "${CASES:-sdpa-fwd:64:full sdpa-fwd:1024:causal mha-fwd gpt-step}"   # CASES="…" to choose
source "$root/bench/build-two.sh"
build_two "$root" "$base_rev"
median() { dotnet "$1" "$2" | tail -1 | cut -f2; }
echo "base $(git -C "$root" rev-parse --short "$base_rev") vs this tree ($(git -C "$root" rev-parse --short HEAD)), $rounds rounds, best of medians"
printf '%-22s %10s %10s %9s\n' case base_ms off_ms overhead
for c in "${cases[@]}"; do
  b=(); o=()
  for r in $(seq "$rounds"); do
    b+=("$(median "$base_dll" "$c")"); o+=("$(median "$ours_dll" "$c")")
    echo "  $c round $r: base ${b[-1]} ms, capture off ${o[-1]} ms" >&2
  done
  bb=$(best "${b[@]}"); oo=$(best "${o[@]}")
  printf '%-22s %10s %10s %8s%%\n' "$c" "$bb" "$oo" "$(python3 -c "import sys; b,o=map(float,sys.argv[1:]); print(f'{(o/b-1)*100:+.1f}')" "$bb" "$oo")"
done
offs=(); ons=()
for r in $(seq "$rounds"); do offs+=("$(median "$ours_dll" mha-fwd)"); ons+=("$(median "$ours_dll" mha-fwd:capture)"); done
off=$(best "${offs[@]}"); on=$(best "${ons[@]}")
printf 'mha-fwd capture on (8 heads, 8x256x256 weights): %s ms vs off %s ms (%s%%)\n' "$on" "$off" "$(python3 -c "import sys; a,b=map(float,sys.argv[1:]); print(f'{(a/b-1)*100:+.1f}')" "$on" "$off")"
dotnet "$ours_dll" capture-check 2>&1 >/dev/null | grep ns

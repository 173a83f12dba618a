#!/usr/bin/env bash
# The NativeAOT build against the JIT build of the same benchmark runner, on one host: bench/aot-vs-jit.sh CASE [CASE ...]
# (default: mm:2048 gpt-step). Publishes bench/Attend.Bench with NativeAOT (x86-64-v3, Directory.Build.targets) into
# out/aot/Bench unless it is there, builds the JIT one, then per case runs jit, aot, jit, aot (each a fresh process)
# and prints: case, JIT median ms, AOT median ms, ratio JIT/AOT (< 1: AOT is slower). Each side's figure is the best
# of its two rounds' medians.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || set -- mm:2048 gpt-step
dotnet build -c Release "$root/bench/Attend.Bench/Attend.Bench.csproj" -v q -nologo > /tmp/attend-jit-build.log 2>&1 \
  || { tail -20 /tmp/attend-jit-build.log >&2; exit 1; }
aot="$root/out/aot/Bench/Attend.Bench"
[ -x "$aot" ] || dotnet publish "$root/bench/Attend.Bench" -c Release -r linux-x64 -p:PublishAot=true -o "$root/out/aot/Bench" -v q -nologo > /tmp/attend-aot-build.log 2>&1 \
  || { tail -20 /tmp/attend-aot-build.log >&2; exit 1; }
jit="$root/bench/Attend.Bench/bin/Release/net10.0/Attend.Bench.dll"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -m1 -oE 'avx512f' /proc/cpuinfo || echo 'no AVX-512'), $(nproc) cores; $(date -u +%F)"
dotnet "$jit" --isa 2>&1 | grep '^isa:'
"$aot" --isa 2>&1 | grep '^isa:'
. "$root/bench/lib.sh"
rows=()
for c in "$@"; do
  j1=$(median_of dotnet "$jit" "$c"); echo "  $c jit round 1: $j1 ms" >&2
  a1=$(median_of "$aot" "$c");        echo "  $c aot round 1: $a1 ms" >&2
  j2=$(median_of dotnet "$jit" "$c"); echo "  $c jit round 2: $j2 ms" >&2
  a2=$(median_of "$aot" "$c");        echo "  $c aot round 2: $a2 ms" >&2
  j=$(best "$j1" "$j2"); a=$(best "$a1" "$a2")
  rows+=("$c	$j	$a	$(python3 -c "import sys; j,a=map(float,sys.argv[1:]); print(f'{j/a:.3f}')" "$j" "$a")")
done
printf '%-12s %12s %12s %10s\n' case jit_ms aot_ms jit/aot
for row in "${rows[@]}"; do IFS=$'\t' read -r c j a r <<< "$row"; printf '%-12s %12s %12s %10s\n' "$c" "$j" "$a" "$r"; done

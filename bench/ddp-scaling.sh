#!/usr/bin/env bash
# Data-parallel scaling on this machine (issue 18): the gpt-step's global batch of 8 sequences as
#   one process × T threads          ATTEND_NUM_THREADS=T Attend.Bench gpt-ddp
#   mpirun -np K × (T/K) threads     each rank 8/K sequences, gradients all-reduced (DataParallel over Open MPI)
# alternated ROUNDS times in the same run (hosts drift), then one all-reduce of the gpt-step's gradient size.
# Same tokens per step, so tokens/s ratio = time(one process) / time(K ranks). Prints CASE<TAB>median_ms<TAB>min_ms<TAB>reps.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3} K=${K:-2} T=${T:-$(nproc)}
dotnet build -c Release bench/Attend.Bench > /dev/null
dotnet build-server shutdown > /dev/null 2>&1 || true
dll=bench/Attend.Bench/bin/Release/net10.0/Attend.Bench.dll
mpi=(mpirun --allow-run-as-root --oversubscribe -np "$K" -x TERM=dumb -x ATTEND_NUM_THREADS=$((T / K)))
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; $(mpirun --version | head -1)"
for r in $(seq "$ROUNDS"); do
  echo "# round $r"
  ATTEND_NUM_THREADS=$T dotnet "$dll" gpt-ddp | sed "s/^gpt-ddp/gpt-ddp[1x$T]/"
  TERM=dumb "${mpi[@]}" dotnet "$dll" gpt-ddp | sed "s/^gpt-ddp/gpt-ddp[${K}x$((T / K))]/"
done
params=$(TERM=dumb "${mpi[@]}" dotnet "$dll" gpt-ddp 2>&1 >/dev/null | grep -oE '[0-9.]+ MB all-reduced' | cut -d' ' -f1)
n=$(awk -v mb="$params" 'BEGIN { printf "%d", mb * 1e6 / 4 }')
# the gradients' all-reduce alone, one bucket at a time as DataParallel does: 25 MiB buckets (DataParallel's), 4 MiB; and
# the latency of a one-float all-reduce (each step also all-reduces its loss and items)
for c in "$n:25:one" "$n:4:one" "1:1:one"; do TERM=dumb "${mpi[@]}" dotnet "$dll" "allreduce:$c"; done

#!/usr/bin/env bash
# Builds and runs every lesson of docs/learn (Release), printing each program's output, its build time (the first
# lessons of a fresh clone also build src/Attend, lessons 11–13 src/Attend.Cli) and its run time without the build
# (dotnet run --no-build). Usage: tools/learn/run-all.sh [NN …]   (default: every lesson)
set -uo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 TERM=dumb
lessons=()
if [ $# -eq 0 ]; then lessons=(docs/learn/[0-9][0-9]-*.cs); else for n in "$@"; do lessons+=(docs/learn/"$n"-*.cs); done; fi
echo "host: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(date -u +%F)"
rc=0; summary=()
for f in "${lessons[@]}"; do
  b0=$(date +%s%N)
  dotnet build -c Release "$f" > /tmp/learn-build.log 2>&1 || { cat /tmp/learn-build.log; echo "BUILD FAILED: $f"; rc=1; continue; }
  bms=$(( ($(date +%s%N) - b0) / 1000000 ))
  echo; echo "\$ dotnet run -c Release $f"
  start=$(date +%s%N)
  dotnet run -c Release --no-build "$f"; r=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $r -eq 0 ] || rc=1
  summary+=("$(printf '%-24s build %3d.%d s   run %3d.%d s%s' "$(basename "$f")" $((bms / 1000)) $((bms % 1000 / 100)) $((ms / 1000)) $((ms % 1000 / 100)) "$([ $r -eq 0 ] || echo '  FAILED')")")
done
echo; echo "times (the build, then the program alone):"; printf '  %s\n' "${summary[@]}"
exit $rc

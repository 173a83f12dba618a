#!/usr/bin/env bash
# Coverage-guided fuzzing of Attend's readers (issue 20): builds tests/Attend.Fuzz, instruments Attend.dll and
# Attend.Cli.dll with SharpFuzz 2.3.0, and runs Debian's afl-fuzz (afl++ 4.04c) on each target for a budget, from its
# seed corpus tests/fuzz/corpus/TARGET (-t 1000: an input that runs over 1 s is a hang). Prints a line per target:
# executions, executions/s, paths (afl's corpus count), crashes and hangs; each crash is replayed to show the contract
# it broke. Last line "fuzz test: N targets, passed" (or FAILED); exit 1 if any target found a crash or a hang.
# Usage: tools/fuzz/run.sh SECONDS [TARGET…]        (all targets when none)
#        tools/fuzz/run.sh --smoke [TARGET…]        (.ci/run: 20,000 executions or 8 s each, whichever comes first)
#        tools/fuzz/run.sh --execs N [TARGET…]      (about N executions each: afl-fuzz -E; the long run: 1000000)
# ATTEND_FUZZ_OUT=DIR keeps afl's output there (default out/fuzz).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
budget=(-V "${1:?usage: tools/fuzz/run.sh SECONDS|--execs N|--smoke [TARGET…]}"); what="$1 s per target"; shift
if [ "${budget[1]}" = --execs ]; then budget=(-E "${1:?--execs N}"); what="about $1 executions per target"; shift; fi
if [ "${budget[1]}" = --smoke ]; then budget=(-E 20000 -V 8); what="20,000 executions or 8 s per target, whichever comes first"; fi
out="$(realpath -m "${ATTEND_FUZZ_OUT:-$root/out/fuzz}")"
bin="$out/bin" plain="$out/plain"
command -v afl-fuzz > /dev/null || { echo "fuzz: afl-fuzz not found (apt-get install afl++)"; exit 1; }
rm -rf "$bin" "$plain"; mkdir -p "$out"
dotnet publish -c Release "$root/tests/Attend.Fuzz" -o "$plain" -v q -nologo > "$out/build.log" 2>&1 || { cat "$out/build.log"; echo "fuzz: build failed"; exit 1; }
cp -r "$plain" "$bin"                                                      # afl runs an instrumented copy; crashes replay on the plain one
[ -x "$out/tools/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$out/tools" > "$out/tool.log" 2>&1 \
  || { cat "$out/tool.log"; echo "fuzz: cannot install SharpFuzz.CommandLine"; exit 1; }
for dll in Attend.dll Attend.Cli.dll; do "$out/tools/sharpfuzz" "$bin/$dll" > /dev/null || { echo "fuzz: cannot instrument $dll"; exit 1; }; done
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(dotnet "$plain/Attend.Fuzz.dll" list | awk '{print $1}')
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
  AFL_FORKSRV_INIT_TMOUT=60000 DOTNET_TieredPGO=0
echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p') (cpu family $(lscpu | sed -n 's/^CPU family: *//p')), $(nproc) cores; afl++ $(dpkg-query -W -f='${Version}' afl++ 2>/dev/null); SharpFuzz 2.3.0; $what"
printf '%-18s %10s %8s %7s %8s %6s\n' target executions "exec/s" paths crashes hangs
bad=0
for t in "${targets[@]}"; do
  rm -rf "$out/$t"
  afl-fuzz -i "$root/tests/fuzz/corpus/$t" -o "$out/$t" -t 1000 -m none "${budget[@]}" -- dotnet "$bin/Attend.Fuzz.dll" "$t" > "$out/$t.log" 2>&1
  arc=$?
  stats="$out/$t/default/fuzzer_stats"
  if [ "$arc" -ne 0 ] || grep -q 'PROGRAM ABORT' "$out/$t.log"; then
    echo "$t: afl-fuzz stopped (exit $arc): the target process died outside afl's control:"
    sed 's/\x1b\[[0-9;]*m//g' "$out/$t.log" | grep -A3 'PROGRAM ABORT\|Unable to' | head -8; bad=1
  fi
  [ -f "$stats" ] || { echo "$t: afl-fuzz did not start:"; tail -15 "$out/$t.log"; bad=1; continue; }
  get() { awk -v k="$1" '$1 == k {print $3}' "$stats"; }
  printf '%-18s %10s %8s %7s %8s %6s\n' "$t" "$(get execs_done)" "$(get execs_per_sec)" "$(get corpus_count)" "$(get saved_crashes)" "$(get saved_hangs)"
  if [ "$(get saved_crashes)" != 0 ] || [ "$(get saved_hangs)" != 0 ]; then
    bad=1
    dotnet "$plain/Attend.Fuzz.dll" replay "$t" "$out/$t/default/crashes" "$out/$t/default/hangs" 2>&1 | grep -v '^   at ' | head -20
  fi
done
echo "fuzz test: ${#targets[@]} targets, $([ "$bad" = 0 ] && echo passed || echo 'FAILED: a crash or a hang (above)')"
exit "$bad"

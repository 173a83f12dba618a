#!/usr/bin/env bash
# Publishes the CLI (and the benchmark runner) with NativeAOT and runs the AOT `attend` as a user would
# (run by .ci/run; prints "aot test: …, passed"):
#   dotnet publish src/Attend.Cli -c Release -r linux-x64 -p:PublishAot=true -o out/aot/cli
#   dotnet publish bench/Attend.Bench -c Release -r linux-x64 -p:PublishAot=true -o out/aot/bench
# Both must compile with zero warnings (trim, AOT, or any other); then out/aot/cli/attend runs --help and
# quickstart --preset tiny in an empty folder, and quickstart, explain and serve must give the JIT build's results.
# --cli-only (as .ci/run calls it, to save CI half a minute) skips the benchmark runner; the CLI's publish compiles every
# library (Attend, Attend.Interop, Attend.Distributed) with the trim and AOT analyzers all the same. The AOT link needs clang and zlib1g-dev (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
fail() { echo "aot test: $*, FAILED"; exit 1; }
need=""
command -v clang > /dev/null || need="$need clang"
[ -f /usr/include/zlib.h ] || need="$need zlib1g-dev"
if [ -n "$need" ]; then
  [ "$(id -u)" = 0 ] || fail "missing$need (apt-get install$need as root)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need) > /dev/null 2>&1 || fail "could not install$need"
fi
rm -rf out/aot
warnings=0
projects=(src/Attend.Cli bench/Attend.Bench)
[ "${1:-}" = --cli-only ] && projects=(src/Attend.Cli)
for p in "${projects[@]}"; do
  name=$(basename "$p"); log=$(mktemp)
  start=$(date +%s)
  dotnet publish "$p" -c Release -r linux-x64 -p:PublishAot=true -o "out/aot/${name#Attend.}" > "$log" 2>&1 || { cat "$log"; fail "dotnet publish $p"; }
  n=$( (grep -E ': warning [A-Z]+[0-9]+' "$log" || true) | sort -u | wc -l)
  grep -E ': warning [A-Z]+[0-9]+' "$log" | sort -u || true
  echo "$p: NativeAOT publish in $(( $(date +%s) - start )) s, $n warnings"
  warnings=$((warnings + n)); rm -f "$log"
done
[ "$warnings" -eq 0 ] || fail "$warnings warnings"
exe=out/aot/Cli/attend
[ -x "$exe" ] || fail "no $exe"
echo "== out/aot/Cli: $(ls out/aot/Cli | paste -sd' ' -)"
printf 'attend (NativeAOT, x86-64-v3): %s KB\n' "$(( $(stat -c %s "$exe") / 1024 ))"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
"$root/$exe" --help | head -5 || fail "attend --help"
"$root/$exe" quickstart --preset tiny | tail -4 || fail "attend quickstart --preset tiny"
[ -d attend-out/model ] || fail "quickstart saved no model"
echo "== the AOT binary against the JIT build (tools/pack/aot-parity.sh)"
cd "$root"
dotnet build src/Attend.Cli -c Release -v q -nologo > /dev/null 2>&1 || fail "the JIT build"
tools/pack/aot-parity.sh "$exe" dotnet "$root/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli.dll" || fail "AOT and JIT differ"
echo "aot test: attend published with NativeAOT, 0 warnings, --help, quickstart, explain and serve as the JIT build, passed"

#!/usr/bin/env bash
# Browser test of the attention explorer: trains the tiny quickstart model (seconds), writes explain.html for it, starts
# `attend serve` on a free loopback port, and runs explorer.test.mjs in Debian's chromium (playwright-core).
# Usage: tests/browser/run.sh [SHOT_DIR]   (screenshots; default out/browser). ATTEND_BROWSER_MODEL=DIR uses that
# checkpoint instead of training one (e.g. the 60-second quickstart's, for the docs/ screenshots).
# Needs: the .NET SDK, node + npm, /usr/bin/chromium. Last line: "browser test: N checks, passed" (or FAILED).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
shots="$(realpath -m "${1:-$root/out/browser}")"
input="${ATTEND_BROWSER_INPUT:-Saturday 28 Nov 2026}"
mkdir -p "$shots"
tmp="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "browser test: 0 checks, FAILED: $*"; exit 1; }

dotnet build -c Release "$root/src/Attend.Cli" -v q -nologo > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build"; }
cli="$root/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli"
model="${ATTEND_BROWSER_MODEL:-}"
if [ -z "$model" ]; then
  "$cli" quickstart --preset tiny --out "$tmp/quickstart" > "$tmp/quickstart.log" 2>&1 || { cat "$tmp/quickstart.log"; fail "quickstart"; }
  model="$tmp/quickstart/model"
fi
"$cli" explain --model "$model" --input "$input" --out "$tmp/explain" > "$tmp/explain.log" 2>&1 || { cat "$tmp/explain.log"; fail "explain"; }
(cd "$root/tests/browser" && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund > "$tmp/npm.log" 2>&1; }) || { cat "$tmp/npm.log"; fail "npm ci"; }

"$cli" serve --model "$model" --port 0 > "$tmp/serve.log" 2>&1 &
server=$!
url=""
for _ in $(seq 1 100); do
  url="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$tmp/serve.log" | head -1)"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.log"; fail "attend serve exited"; }
  sleep 0.2
done
[ -n "$url" ] || { cat "$tmp/serve.log"; fail "attend serve did not start"; }
node "$root/tests/browser/explorer.test.mjs" "$url/" "$tmp/explain/explain.html" "$shots" "$input"

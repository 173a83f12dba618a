#!/usr/bin/env bash
# Browser test of the attention explorer: trains the tiny quickstart model (seconds), writes explain.html for it, starts
# `attend serve` on a free loopback port, and runs explorer.test.mjs in Debian's chromium (playwright-core).
# Usage: tests/browser/run.sh [SHOT_DIR]   (screenshots; default out/browser). ATTEND_BROWSER_MODEL=DIR uses that
# checkpoint instead of training one (e.g. the 60-second quickstart's, for the docs/ screenshots).
# Also the upload box of the explorer with a tiny ViT (upload.test.mjs) and the long-context view of a recall model
# (longcontext.test.mjs).
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

# Starts `attend serve --model $1` on a free port; sets server (pid) and url.
serve() {
  "$cli" serve --model "$1" --port 0 > "$tmp/serve.log" 2>&1 &
  server=$!
  url=""
  for _ in $(seq 1 100); do
    url="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$tmp/serve.log" | head -1)"
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.log"; fail "attend serve exited"; }
    sleep 0.2
  done
  [ -n "$url" ] || { cat "$tmp/serve.log"; fail "attend serve did not start"; }
}

# The upload box, with a tiny ViT (seconds): a PNG of docs/, and this script as the file that is not an image.
"$cli" train vit --data digits --preset tiny --out "$tmp/vit" > "$tmp/vit.log" 2>&1 || { cat "$tmp/vit.log"; fail "train vit"; }
serve "$tmp/vit"
node "$root/tests/browser/upload.test.mjs" "$url/" "$root/docs/explain-vit-rollout.png" "$root/tests/browser/run.sh" "$shots" \
  || fail "the upload test (above)"
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; server=""

# The long-context view, with a small recall model (the CI size: about a minute) read at 4,176 tokens.
"$cli" train recall --context 448 --pairs 8 --queries 8 --test-lengths 4096 --start-length 128 --batch 32 --steps 1200 \
  --test-sequences 4 --out "$tmp/recall" > "$tmp/recall.log" 2>&1 || { cat "$tmp/recall.log"; fail "train recall"; }
serve "$tmp/recall"
node "$root/tests/browser/longcontext.test.mjs" "$url/" "$shots" "length=4176 sequence=0 query=7" || fail "the long-context test (above)"
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; server=""

serve "$model"
node "$root/tests/browser/explorer.test.mjs" "$url/" "$tmp/explain/explain.html" "$shots" "$input"

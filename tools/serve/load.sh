#!/usr/bin/env bash
# Load test of `attend serve` (docs/explain.md, issue 20): the tiny quickstart model served on 127.0.0.1, warmed up with
# 50 requests, then wrk (Debian's) with 64 connections for 30 s on POST /api/explain. Prints the responses by status
# (200, and the intended 503s of the bounded queue; nothing else may appear), wrk's socket errors, the latency
# percentiles, and the server's RSS before the load, right after it and after 10 s of rest (flat: within 10%).
# Usage: tools/serve/load.sh [CONNECTIONS] [SECONDS] > docs/results/serve-load.txt
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
connections="${1:-64}" seconds="${2:-30}"
dotnet build -c Release "$root/src/Attend.Cli" -v q -nologo > /dev/null
cli="$root/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli"
tmp="$(mktemp -d)"; server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p') (cpu family $(lscpu | sed -n 's/^CPU family: *//p')), $(nproc) cores; $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
"$cli" quickstart --preset tiny --out "$tmp/q" > "$tmp/q.log" 2>&1
"$cli" serve --model "$tmp/q/model" --port 0 > "$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do url="$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$tmp/serve.log" | head -1 || true)"; [ -n "$url" ] && break; sleep 0.2; done
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status"; }
for _ in $(seq 1 50); do curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"input": "Saturday 28 Nov 2026"}' "$url/api/explain"; done
echo "server RSS after 50 warm-up requests: $(rss)"
echo "\$ wrk -t2 -c$connections -d${seconds}s --timeout 10s --latency -s tools/serve/post.lua $url/api/explain"
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s --latency -s "$root/tools/serve/post.lua" "$url/api/explain"
echo "server RSS right after the load: $(rss)"
sleep 10
echo "server RSS after 10 s of rest: $(rss)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"input": "Saturday 28 Nov 2026"}' "$url/api/explain")
echo "a request after the load: HTTP $code"

#!/usr/bin/env bash
# The NativeAOT attend against the JIT one, command by command, on the same host (run by tools/pack/aot.sh):
#   quickstart --preset tiny   the same training log (timings left out) and the same saved model, byte for byte;
#   explain                    the same explanation.json and summary from that model;
#   serve                      the same GET /api/info and POST /api/explain answers, and the same 400 for a bad body.
# Usage: tools/pack/aot-parity.sh AOT_EXE JIT_COMMAND…   (e.g. out/aot/Cli/attend dotnet src/Attend.Cli/bin/…/Attend.Cli.dll)
set -euo pipefail
aot=$(realpath "$1"); shift
jit=("$@")
work=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$work"' EXIT
fail() { echo "aot parity: $*, FAILED"; exit 1; }
run() { # run NAME CMD…: in $work/NAME
  local name=$1; shift; mkdir -p "$work/$name"; (cd "$work/$name" && "$@")
}
# Times, throughput and ETA vary from run to run; everything else a command prints must be equal.
strip() { sed -E 's/[0-9.]+k tok\/s//; s/ETA [0-9:]+//; s/[0-9.]+ s\b//g; s/\(wall time [^)]*\)//; s/Done in [0-9.]+ s/Done/'; }
for side in jit aot; do
  if [ $side = jit ]; then cmd=("${jit[@]}"); else cmd=("$aot"); fi
  run $side "${cmd[@]}" quickstart --preset tiny | strip > "$work/$side.quickstart.txt"
  run $side "${cmd[@]}" explain --model attend-out/model --input "Saturday 28 Nov 2026" --out explain > /dev/null
done
diff "$work/jit.quickstart.txt" "$work/aot.quickstart.txt" || fail "quickstart printed differently"
grep -E "Exact match|held-out" "$work/aot.quickstart.txt" | tail -1
for f in $(cd "$work/jit/attend-out/model" && ls); do
  cmp -s "$work/jit/attend-out/model/$f" "$work/aot/attend-out/model/$f" || fail "the saved model's $f differs"
done
echo "quickstart: same log and same model files ($(ls "$work/jit/attend-out/model" | paste -sd' ' -))"
for f in explanation.json summary.txt; do
  [ -f "$work/jit/explain/$f" ] || fail "explain wrote no $f"
  cmp -s "$work/jit/explain/$f" "$work/aot/explain/$f" || fail "explain's $f differs"
done
echo "explain: same explanation.json ($(stat -c %s "$work/aot/explain/explanation.json") bytes) and summary.txt"
serve() { # serve SIDE CMD…: start, wait for the address, query, write $work/SIDE.serve.txt
  local side=$1; shift
  (cd "$work/$side" && exec "$@" serve --model attend-out/model --port 0 > serve.log 2>&1) &
  pids+=($!)
  local url=""
  for _ in $(seq 100); do url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$work/$side/serve.log" | head -1 || true); [ -n "$url" ] && break; sleep 0.1; done
  [ -n "$url" ] || { cat "$work/$side/serve.log"; fail "$side serve printed no address"; }
  { curl -sS "$url/api/info"; echo
    curl -sS -X POST -H 'Content-Type: application/json' -d '{"input": "Saturday 28 Nov 2026"}' "$url/api/explain"; echo
    curl -sS -w ' %{http_code}' -X POST -H 'Content-Type: application/json' -d '{"input": 5}' "$url/api/explain"; echo
  } > "$work/$side.serve.txt"
  kill "${pids[-1]}"
}
serve jit "${jit[@]}"
serve aot "$aot"
cmp -s "$work/jit.serve.txt" "$work/aot.serve.txt" || { diff <(cut -c1-300 "$work/jit.serve.txt") <(cut -c1-300 "$work/aot.serve.txt"); fail "serve answered differently"; }
echo "serve: same /api/info, /api/explain ($(sed -n 2p "$work/aot.serve.txt" | wc -c) bytes) and error answers:"
sed -n '1p;3p' "$work/aot.serve.txt"
echo "aot parity: quickstart, explain and serve give the JIT build's results, passed"

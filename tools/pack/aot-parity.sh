#!/usr/bin/env bash
# The NativeAOT attend against the JIT one on the same host (run by tools/pack/aot.sh):
#   quickstart --preset tiny   both builds train (150 steps): the saved models must be the same bytes, and the output
#                              the same apart from times, throughput and the progress lines (reported every second,
#                              so a slower build prints more of them, each with the mean loss since the one before);
#   explain                    the same explanation.json and summary.txt, byte for byte;
#   serve                      the same GET /api/info and POST /api/explain answers, and the same 400 for a bad body.
# Usage: tools/pack/aot-parity.sh AOT_EXE JIT_COMMAND…   (e.g. out/aot/Cli/attend dotnet src/Attend.Cli/bin/…/Attend.Cli.dll)
set -euo pipefail
aot=$(realpath "$1"); shift
jit=("$@")
work=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$work"' EXIT
fail() { echo "aot parity: $*, FAILED"; exit 1; }
run() { local name=$1; shift; mkdir -p "$work/$name"; (cd "$work/$name" && "$@"); }
# what quickstart prints that does not depend on speed: no progress lines, times, throughput
steady() { grep -vE '^  step ' | sed -E 's/\(wall time [^)]*\)//; s/in [0-9.]+ s/in _ s/g; s/Done in [0-9.]+ s/Done/'; }
run aot "$aot" quickstart --preset tiny | steady > "$work/aot.quickstart.txt"
run jit "${jit[@]}" quickstart --preset tiny | steady > "$work/jit.quickstart.txt"
diff "$work/jit.quickstart.txt" "$work/aot.quickstart.txt" || fail "quickstart printed differently"
[ -f "$work/aot/attend-out/model/model.safetensors" ] || fail "quickstart saved no model"
for f in $(cd "$work/jit/attend-out/model" && ls); do
  cmp -s "$work/jit/attend-out/model/$f" "$work/aot/attend-out/model/$f" || fail "the trained models differ ($f)"
done
echo "quickstart: the same output and the same trained model, byte for byte ($(cd "$work/aot/attend-out/model" && ls | paste -sd' ' -)); $(grep -E 'Exact match' "$work/aot.quickstart.txt" | sed 's/ *$//')"
for side in jit aot; do
  if [ $side = jit ]; then cmd=("${jit[@]}"); else cmd=("$aot"); fi
  run $side "${cmd[@]}" explain --model attend-out/model --input "Saturday 28 Nov 2026" --out explain > "$work/$side.explain.txt"
done
cmp -s "$work/jit.explain.txt" "$work/aot.explain.txt" || fail "explain printed differently"
for f in explanation.json summary.txt; do
  [ -f "$work/jit/explain/$f" ] || fail "explain wrote no $f"
  cmp -s "$work/jit/explain/$f" "$work/aot/explain/$f" || fail "explain's $f differs"
done
echo "explain: same output, explanation.json ($(stat -c %s "$work/aot/explain/explanation.json") bytes) and summary.txt"
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

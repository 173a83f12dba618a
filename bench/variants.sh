#!/usr/bin/env bash
# The attention-variant experiment (docs/attention-variants.md): trains the date quickstart and/or the translation task
# once per variant with the same seed and step budget, from a frozen copy of the Release build, one run at a time
# (flock on /tmp/attend-heavy.lock), recording each run's log and /usr/bin/time -v (wall and CPU time).
#   bench/variants.sh dates       QS_STEPS (default 3342: what the default 60 s soft run reaches)
#   bench/variants.sh translate   TR_STEPS (default 1000: about 3 minutes of the soft model), TR_DATA (default data/translate/eng-spa.tsv)
# Output: OUT (default docs/attention-variants)/{dates,translate}-<variant>/{log.txt,time.txt,*.png}
# LOCK="" skips the per-run flock, for a caller that already holds /tmp/attend-heavy.lock around several runs.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:?usage: bench/variants.sh dates|translate}
VARIANTS=${VARIANTS:-"soft sparsemax entmax15 topk:3 hard gumbel:1 reinforce"}
OUT=${OUT:-docs/attention-variants}
BIN=${BIN:-/tmp/attend-variants-bin-$task}
LOCK=${LOCK-flock /tmp/attend-heavy.lock}
[ -n "${KEEP_BIN:-}" ] || { rm -rf "$BIN" && cp -r src/Attend.Cli/bin/Release/net10.0/linux-x64 "$BIN"; }
for v in $VARIANTS; do
  name=${v//:/-}
  dir="$OUT/$task-$name"
  rm -rf "$dir" && mkdir -p "$dir"
  case $task in
    dates) cmd=("$BIN/Attend.Cli" quickstart --steps "${QS_STEPS:-3342}" --seed 0 --attention "$v" --out "$dir") ;;
    translate) cmd=("$BIN/Attend.Cli" train translate --data "${TR_DATA:-data/translate/eng-spa.tsv}" --steps "${TR_STEPS:-1000}"
                    --seed 0 --attention "$v" --out "/tmp/attend-variants-ckpt-$name" --heatmap "$dir/attention.png")
               rm -rf "/tmp/attend-variants-ckpt-$name" ;;
    *) echo "unknown task $task" >&2; exit 2 ;;
  esac
  echo "== $task $v: ${cmd[*]}"
  TERM=dumb NO_COLOR=1 $LOCK /usr/bin/time -v -o "$dir/time.txt" "${cmd[@]}" > "$dir/log.txt" 2>&1 || echo "   (exit $?)" >> "$dir/log.txt"
  grep -E "Exact match|Trained|Cross-attention on|BLEU on|Done" "$dir/log.txt" || true
  grep -E "Elapsed|User time|System time" "$dir/time.txt"
done

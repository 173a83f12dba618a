#!/usr/bin/env bash
# Kill -9 soak of `attend train lm` (issue 20): the tiny KJV model with a checkpoint every 5 steps, SIGKILLed at random
# moments KILLS times and resumed each time, then run to its end. Checks that every resume starts from the last complete
# checkpoint (the step checkpoint.json held when the process died), that the loss file (every step's loss, as written
# by --loss-file) and the final weights and optimizer state equal an uninterrupted run's byte for byte. Then a full
# disk: the same training into a 2 MiB tmpfs, whose second save cannot fit — a clear error, exit 2, and the first
# checkpoint intact and loadable (needs root for the mount).
# Usage: tools/soak/kill9.sh [KILLS] [STEPS]   (CI: 5 kills). Last line: "soak test: N checks, passed" or "… FAILED: why".
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kills="${1:-50}" steps="${2:-4000}"
tmp="$(mktemp -d)"; checks=0
cleanup() { mountpoint -q "$tmp/full" 2>/dev/null && umount "$tmp/full"; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "soak test: $checks checks, FAILED: $*"; exit 1; }
check() { if eval "$1"; then checks=$((checks + 1)); else fail "$2"; fi; }

dotnet build -c Release "$root/src/Attend.Cli" -v q -nologo > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build"; }
cli="$root/src/Attend.Cli/bin/Release/net10.0/linux-x64/Attend.Cli"
train=(train lm --data kjv --preset tiny --steps "$steps" --save-every 5 --eval-every 1000000)
echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p') (cpu family $(lscpu | sed -n 's/^CPU family: *//p')), $(nproc) cores; $kills kills, $steps steps"

# 1) the uninterrupted run
"$cli" "${train[@]}" --out "$tmp/ref" --loss-file "$tmp/ref.tsv" > "$tmp/ref.log" 2>&1 || { cat "$tmp/ref.log"; fail "the uninterrupted run"; }
check "[ \$(wc -l < '$tmp/ref.tsv') -eq $steps ]" "the uninterrupted loss file has $(wc -l < "$tmp/ref.tsv") lines, not $steps"

# 2) killed at random moments, resumed each time
step_of() { grep -oE '"step": *"[0-9]+"' "$1/checkpoint.json" 2>/dev/null | grep -oE '[0-9]+'; }
done_kills=0 resumes=0 verified=0 finished=0
while [ "$done_kills" -lt "$kills" ]; do
  at="$(step_of "$tmp/soak" || true)"
  args=("${train[@]}" --out "$tmp/soak" --loss-file "$tmp/soak.tsv")
  [ -n "$at" ] && args+=(--resume)
  "$cli" "${args[@]}" > "$tmp/run.log" 2>&1 &
  pid=$!
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.6 + 2.0 * rand() }')"
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; rc=$?; finished=1; fi
  [ "$finished" -eq 0 ] && { kill -9 "$pid"; wait "$pid" 2>/dev/null; done_kills=$((done_kills + 1)); }
  if [ -n "$at" ]; then
    resumes=$((resumes + 1))
    started="$(grep -oE 'steps [0-9]+→' "$tmp/run.log" | grep -oE '[0-9]+' || true)"
    # a run killed before it printed its model line says nothing; otherwise it must have started at the checkpoint
    [ -z "$started" ] || { check "[ '$started' = '$at' ]" "resume $resumes started at step $started, but the checkpoint held step $at"; verified=$((verified + 1)); }
  fi
  after="$(step_of "$tmp/soak" || true)"
  echo "kill $done_kills: checkpoint at step ${at:-none} before, ${after:-none} after"
  [ "$finished" -eq 1 ] && { echo "the run finished before $kills kills (exit $rc): use more steps"; break; }
done
check "[ $done_kills -eq $kills ]" "only $done_kills kills"
echo "$done_kills kills, $resumes resumes ($verified of them killed after printing their first step, which was the checkpoint's); then a final resume from step $(step_of "$tmp/soak")"
"$cli" "${train[@]}" --out "$tmp/soak" --loss-file "$tmp/soak.tsv" --resume > "$tmp/last.log" 2>&1 || { cat "$tmp/last.log"; fail "the last resume"; }
check "cmp -s '$tmp/ref.tsv' '$tmp/soak.tsv'" "the loss curve differs from the uninterrupted run's: $(diff "$tmp/ref.tsv" "$tmp/soak.tsv" | head -3 | tr '\n' ' ')"
check "cmp -s '$tmp/ref/model.safetensors' '$tmp/soak/model.safetensors'" "the final weights differ from the uninterrupted run's"
check "cmp -s '$tmp/ref/optimizer.safetensors' '$tmp/soak/optimizer.safetensors'" "the final optimizer state differs"
check "[ -z \"\$(ls -d '$tmp'/soak.* 2>/dev/null | grep -v 'soak.tsv$')\" ]" "leftovers of killed saves remain: $(ls -d "$tmp"/soak.* | tr '\n' ' ')"
echo "after the final resume: the loss file ($steps steps), weights and optimizer state equal the uninterrupted run's byte for byte"

# 3) a full disk during a save
mkdir -p "$tmp/full"
mount -t tmpfs -o size=2m tmpfs "$tmp/full" || fail "cannot mount a tmpfs (run as root)"
"$cli" train lm --data kjv --preset tiny --steps 20 --save-every 5 --out "$tmp/full/ckpt" > "$tmp/full.log" 2>&1
rc=$?
echo "full disk: exit $rc: $(grep -m1 '^error' "$tmp/full.log")"
check "[ $rc -eq 2 ]" "a full disk exited $rc, not 2: $(tail -3 "$tmp/full.log")"
check "grep -q 'No space left on device' '$tmp/full.log'" "the error does not say the disk is full: $(tail -2 "$tmp/full.log")"
check "! grep -q '   at ' '$tmp/full.log'" "a stack trace was printed"
check "[ \"\$(step_of '$tmp/full/ckpt')\" = 5 ]" "the checkpoint of step 5 is not intact"
check "[ -z \"\$(ls -a '$tmp/full' | grep -E 'tmp-|old-')\" ]" "a half-written save was left: $(ls -a "$tmp/full")"
"$cli" sample --model "$tmp/full/ckpt" --prompt "In the" --max-tokens 5 > /dev/null 2>&1 || fail "the checkpoint left by the full disk does not load"
checks=$((checks + 1))
echo "soak test: $checks checks, passed"

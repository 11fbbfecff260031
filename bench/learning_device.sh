#!/usr/bin/env bash
# Issue 6 on the GPU machine in two calls (after `source .devsite/env.sh && source bench/device_env.sh`, carrying
# .devsite and .payload); the run folders stay in /tmp between the calls while the machine is warm.
#   bash bench/learning_device.sh first   # converts SmolLM2; trains A, then B beside it; each is asked to stop
#                                         # (STOP file) at step STOP_AT_STEP or after its time is up
#   bash bench/learning_device.sh second  # resumes each stopped run from its checkpoint, then evaluates it
# A = the reasoning preset with its defaults (max_steps lowered to MAX_STEPS for the device budget).
# B = the same with the changes in B_SETS, an experiment beside A. B starts once A has logged its first step, so that
# the two vLLM engines never size their memory at the same time (A keeps the default gpu_memory_utilization 0.6).
# The defaults are the values of the 2026-11-25 run (bench/LEARNING.md), which had ~7 minutes a call.
set -uo pipefail
A=/tmp/run-reasoning B=/tmp/run-reasoning-b OUT=${OUT:-/tmp/out}
MAX_STEPS=${MAX_STEPS:-120} STOP_AT_STEP=${STOP_AT_STEP:-60}; export STOP_AT_STEP
FIRST_S=${FIRST_S:-330} RESUME_S=${RESUME_S:-195} EVAL_S=${EVAL_S:-185}
B_SETS=(--set train.learning_rate=1.0e-4 --set train.num_generations=16 --set train.batch_size=16
        --set model.gpu_memory_utilization=0.25)
wait_for_event() {  # $1 run folder, $2 seconds at most: until events.jsonl grows past $3 lines (default 0)
  for _ in $(seq 1 $(($2 / 3))); do [ "$(cat "$1/events.jsonl" 2>/dev/null | wc -l)" -gt "${3:-0}" ] && return 0; sleep 3; done
}
collect() {  # metrics, samples, status, eval and the end of each log, for $OUT
  for r in $A $B; do [ -f $r/log.txt ] && tail -c 150000 $r/log.txt > $r/log-tail.txt; done
  (cd /tmp && tar czf $OUT/$1.tgz $(ls -d {run-reasoning,run-reasoning-b}/{events.jsonl,samples.jsonl,status.json,eval.json,config.yaml,log-tail.txt} 2>/dev/null))
}
case ${1:-} in
  first)
    python3 -c "from engine.builtin_models import builtin_path; print(builtin_path('builtin:smollm2-135m'))"
    STOP_AFTER_S=$((FIRST_S - SECONDS)) bash bench/learning_run.sh train $A --set train.max_steps=$MAX_STEPS \
      > $OUT/a-first.txt 2>&1 &
    wait_for_event $A 240
    STOP_AFTER_S=$((FIRST_S + 20 - SECONDS)) bash bench/learning_run.sh train $B "${B_SETS[@]}" \
      --set train.max_steps=$MAX_STEPS > $OUT/b-first.txt 2>&1 &
    wait; collect first ;;
  second)
    resume_then_eval() {
      (timeout -k 20 -s TERM $RESUME_S bash bench/learning_run.sh resume $1
       timeout -k 5 $EVAL_S bash bench/learning_run.sh eval $1) > $OUT/$(basename $1)-second.txt 2>&1
    }
    a0=$(cat $A/events.jsonl | wc -l)
    resume_then_eval $A &
    if ls -d $B/checkpoints/checkpoint-* >/dev/null 2>&1; then
      wait_for_event $A 200 "$a0"
      resume_then_eval $B &
    fi
    wait; collect second ;;
  *) sed -n 2,10p "$0"; exit 2 ;;
esac

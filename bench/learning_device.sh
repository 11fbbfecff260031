#!/usr/bin/env bash
# Issue 6 on the GPU machine, two calls of at most 10 minutes (after `source .devsite/env.sh && source
# bench/device_env.sh`); the run folders stay in /tmp between them while the machine is warm.
#   bash bench/learning_device.sh first   # converts SmolLM2, starts A then B, each stopped (STOP file) near step 100
#   bash bench/learning_device.sh second  # resumes A then B from their checkpoints, evaluates each when it ends
# A = the reasoning preset with its defaults. B = the same with the changes in B_SETS (an experiment beside A).
# B starts once A has logged its first step, so that the two vLLM engines never size their memory at the same time;
# A's vLLM keeps the default gpu_memory_utilization (0.6), B's takes 0.25 of the GPU beside it.
set -uo pipefail
A=/tmp/run-reasoning B=/tmp/run-reasoning-b
B_SETS=(--set train.learning_rate=1.0e-4 --set train.num_generations=16 --set train.batch_size=16
        --set model.gpu_memory_utilization=0.25)
OUT=${OUT:-/tmp/out}
wait_for_event() {  # $1 run folder, $2 events already there, $3 seconds at most
  for _ in $(seq 1 $(($3 / 3))); do
    [ "$(cat "$1/events.jsonl" 2>/dev/null | wc -l)" -gt "$2" ] && return 0; sleep 3
  done
}
collect() {  # what comes back: metrics, samples, status, eval, and the end of each log
  for r in $A $B; do tail -c 200000 $r/log.txt > $r/log-tail.txt 2>/dev/null; done
  tar czf $OUT/$1.tgz --transform 's,^tmp/,,' $(ls -d $A/{events,samples}.jsonl $A/{status,eval}.json $A/log-tail.txt \
    $A/config.yaml $B/{events,samples}.jsonl $B/{status,eval}.json $B/log-tail.txt $B/config.yaml 2>/dev/null)
}
case ${1:-} in
  first)
    python3 -c "from engine.builtin_models import builtin_path; print(builtin_path('builtin:smollm2-135m'))"
    STOP_AT_STEP=100 STOP_AFTER_S=$((490 - SECONDS)) bash bench/learning_run.sh train $A > $OUT/a-first.txt 2>&1 &
    wait_for_event $A 0 240
    STOP_AT_STEP=100 STOP_AFTER_S=$((520 - SECONDS)) bash bench/learning_run.sh train $B "${B_SETS[@]}" \
      > $OUT/b-first.txt 2>&1 &
    wait; collect first ;;
  second)
    a0=$(wc -l < $A/events.jsonl) b0=$(wc -l < $B/events.jsonl)
    (timeout -k 60 -s TERM $((380 - SECONDS)) bash bench/learning_run.sh resume $A
     bash bench/learning_run.sh eval $A) > $OUT/a-second.txt 2>&1 &
    wait_for_event $A "$a0" 200
    (timeout -k 60 -s TERM $((400 - SECONDS)) bash bench/learning_run.sh resume $B
     bash bench/learning_run.sh eval $B) > $OUT/b-second.txt 2>&1 &
    wait; collect second ;;
  *) sed -n 2,9p "$0"; exit 2 ;;
esac

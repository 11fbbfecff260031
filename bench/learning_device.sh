#!/usr/bin/env bash
# Issue 6 on the GPU machine, in 10-minute calls (after `source .devsite/env.sh && source bench/device_env.sh`,
# carrying .devsite and .payload); the run folders stay in /tmp between calls while the machine is warm.
#   bash bench/learning_device.sh first    # converts SmolLM2, starts A, R and D; each stops with a checkpoint at STOP_AT_S
#   bash bench/learning_device.sh resume   # resumes each run that is not finished; evaluates each one that is
# A = the reasoning preset with its defaults; R = the rlvr-math preset with its defaults (bench/learning*.yaml);
# D = A with twice the default learning rate (2e-4), to see whether more would learn faster.
# (The first machine also ran A with 5e-5 and with 5e-6, the earlier defaults: bench/LEARNING.md.)
# The three share one GPU: each vLLM engine may take a quarter of it (model.gpu_memory_utilization 0.25, a sharing
# setting, not a training one), and each run starts once the previous one's vLLM has sized its KV cache, so that no
# two engines measure free memory at the same time.
set -uo pipefail
OUT=${OUT:-/tmp/out} LOGS=/tmp/logs
mkdir -p $LOGS
STOP_AT_S=${STOP_AT_S:-520}  # seconds into this call; learning_run.sh compares clock times
export STOP_AT_EPOCH=$(($(date +%s) + STOP_AT_S))
SHARE=(--set model.gpu_memory_utilization=0.25)
RUNS=${RUNS:-A R D}
declare -A CONFIG=([A]=bench/learning.yaml [R]=bench/learning-rlvr.yaml [D]=bench/learning.yaml)
declare -A EXTRA=([A]="" [R]="" [D]="--set train.learning_rate=2.0e-4")
run_dir() { echo "/tmp/run-$1"; }
wait_for_kv_cache() {  # $1 output file, $2 seconds at most: until vLLM reports its KV cache (or a step is logged)
  for _ in $(seq 1 $(($2 / 3))); do
    grep -qE "Available KV cache memory|GPU KV cache size|step [0-9]+/" "$1" 2>/dev/null && return 0; sleep 3
  done
}
finished() { python3 -c "import json,sys; sys.exit(json.load(open('$1/status.json'))['state'] != 'completed')" 2>/dev/null; }
collect() {  # metrics, samples, status, eval and each output's end, in one file for $OUT (8 files come back at most)
  for f in $LOGS/*.txt; do tail -c 30000 "$f" > "/tmp/logs-tail-$(basename "$f")"; done
  (cd /tmp && tar czf "$OUT/$1.tgz" logs-tail-*.txt \
     $(ls -d run-{A,R,D}/{events.jsonl,samples.jsonl,status.json,eval.json,config.yaml} 2>/dev/null))
}
start_run() {  # $1 run letter: a new training run in the background, once its vLLM has sized its KV cache
  bash bench/learning_run.sh train "${CONFIG[$1]}" "$(run_dir $1)" "${SHARE[@]}" ${EXTRA[$1]} > "$LOGS/$1-first.txt" 2>&1 &
  wait_for_kv_cache "$LOGS/$1-first.txt" 180
}
case ${1:-} in
  first)
    python3 -c "from engine.builtin_models import builtin_path; print(builtin_path('builtin:smollm2-135m'))"
    for r in $RUNS; do start_run $r; done
    wait; collect first ;;
  resume)
    for r in $RUNS; do
      d=$(run_dir $r)
      if ! ls -d "$d"/checkpoints/checkpoint-* >/dev/null 2>&1; then  # cut before its first checkpoint: start over
        rm -rf "$d"
        start_run $r
      elif finished "$d"; then
        timeout -k 5 $((STOP_AT_S + 40 - SECONDS)) bash bench/learning_run.sh eval "$d" > "$LOGS/$r-eval.txt" 2>&1 &
      else
        (bash bench/learning_run.sh resume "$d"
         finished "$d" && timeout -k 5 $((STOP_AT_S + 40 - SECONDS)) bash bench/learning_run.sh eval "$d") \
          > "$LOGS/$r-resume.txt" 2>&1 &
        wait_for_kv_cache "$LOGS/$r-resume.txt" 180
      fi
    done
    wait; collect resume ;;
  *) sed -n 2,5p "$0"; exit 2 ;;
esac

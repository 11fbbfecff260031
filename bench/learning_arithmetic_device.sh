#!/usr/bin/env bash
# Issue 22 on the lent GPU: curate, train and evaluate SmolLM2-135M with rlvr-math on the bundled arithmetic task, as
# one pipeline that runs in the background (its own process session) across device calls of 10 minutes each.
#   bash bench/learning_arithmetic_device.sh start   # unpacks the lock's stack (bench/pack_lock_stack.sh parts in
#                                                    # /tmp/parts), starts the pipeline, waits WAIT_S (default 500)
#   bash bench/learning_arithmetic_device.sh wait    # waits for it up to WAIT_S more; copies what exists to $OUT
# The pipeline: `engine arithmetic` (2000 training questions, 300 held out), `engine curate` on 800 of the training
# questions at the preset's temperature 1.0 and, when fewer than MIN_LEARNABLE are learnable there, at 0.7 (the
# temperature with more learnable questions is trained with), `engine train` on the learnable ones (stopped with a
# checkpoint at TRAIN_S seconds if max_steps is not reached), then `engine eval` base vs tuned on the 300 held-out
# questions (never trained on, never curated), greedy.
set -uo pipefail
OUT=${OUT:-/tmp/out}
W=/tmp/learn
DIFFICULTY=${DIFFICULTY:-easy}
TRAIN_S=${TRAIN_S:-660}
MIN_LEARNABLE=${MIN_LEARNABLE:-150}
collect() {
    mkdir -p "$OUT"
    tail -c 300000 $W/train-output.txt > $W/train-output-tail.txt 2>/dev/null
    (cd $W && tar czf "$OUT/learning-arithmetic.tgz" --exclude='*.safetensors' --exclude='checkpoints' \
        --exclude='*.bin' --exclude='*.pt' log.txt train-output-tail.txt task curate-* run/{events.jsonl,samples.jsonl,status.json,eval.json,config.yaml,log.txt,best_checkpoint.json} gpu.txt done 2>/dev/null)
    tail -25 $W/log.txt
}
wait_done() {
    for _ in $(seq 1 $((${WAIT_S:-500} / 5))); do [ -f $W/done ] && break; sleep 5; done
}
pipeline() {
    cd $W/repo
    [ -n "${LOCAL_TRY:-}" ] || source bench/lock_stack_env.sh || exit 1
    export GRPO_STUDIO_CACHE_DIR=/tmp/gc GRPO_STUDIO_UPLOADS_DIR=$W/uploads GRPO_STUDIO_RUNS_DIR=$W/runs
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > $W/gpu.txt
    config=bench/learning-arithmetic.yaml
    extra=(${EXTRA_SET:-})  # a local try of the script: --set model.name=builtin:tiny --set train.max_steps=2
    echo "$(date -u +%FT%TZ) task"
    python3 -m engine arithmetic --difficulty $DIFFICULTY --rows 2000 --test-rows 300 --out-dir $W/task || return
    train=$W/task/arithmetic-$DIFFICULTY-train.jsonl test=$W/task/arithmetic-$DIFFICULTY-test.jsonl
    best=1.0
    for t in 1.0 0.7; do
        echo "$(date -u +%FT%TZ) curate at temperature $t"
        python3 -m engine curate $config --set data.path=$train --set train.temperature=$t --samples 8 --limit ${CURATE_N:-800} "${extra[@]}" \
            --out $W/curate-$t/learnable.jsonl 2>&1 | grep -v '^\s*$' | tail -4
        learnable=$(python3 -c "import json; print(json.load(open('$W/curate-$t/curation.json'))['learnable'])" 2>/dev/null || echo 0)
        if [ "$t" = 1.0 ]; then first=$learnable; fi
        if [ "$t" = 0.7 ] && [ "$learnable" -gt "$first" ]; then best=0.7; fi
        [ "$learnable" -ge "$MIN_LEARNABLE" ] && break
    done
    data=$W/curate-$best/learnable.jsonl
    [ -f "$data" ] || { echo "nothing learnable: training on the whole file"; data=$train; }
    echo "$(date -u +%FT%TZ) train at temperature $best on $data"
    start=$(date +%s)
    python3 -m engine train $config --set data.path=$data --set train.temperature=$best \
        "${extra[@]}" --run-dir $W/run > $W/train-output.txt 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
        [ $(($(date +%s) - start)) -ge $TRAIN_S ] && { echo "$(date -u +%FT%TZ) asking the run to stop"; touch $W/run/STOP; break; }
        sleep 5
    done
    wait $pid
    echo "$(date -u +%FT%TZ) trained for $(($(date +%s) - start)) s: $(tail -c 300 $W/run/status.json)"
    echo "$(date -u +%FT%TZ) eval"
    python3 -m engine eval $W/run --data $test --limit ${EVAL_N:-300} --batch-size 300 2>&1 | grep -vE 'Loading|it/s' | tail -6
    echo "$(date -u +%FT%TZ) end"
}
case ${1:-} in
    start)
        if [ -z "${LOCAL_TRY:-}" ] && [ ! -d /tmp/lockstack/vllm ]; then
            mkdir -p /tmp/lockstack && cat /tmp/parts/part.* | tar xz -C /tmp/lockstack && rm -rf /tmp/parts
        fi
        rm -rf $W && mkdir -p $W/repo && cp -r bench engine presets tests pyproject.toml $W/repo/
        export -f pipeline
        export W DIFFICULTY TRAIN_S MIN_LEARNABLE LOCAL_TRY EXTRA_SET CURATE_N EVAL_N
        setsid bash -c 'pipeline > $W/log.txt 2>&1; touch $W/done' < /dev/null > /dev/null 2>&1 &
        wait_done; collect ;;
    wait) wait_done; collect ;;
    *) sed -n 2,11p "$0"; exit 2 ;;
esac

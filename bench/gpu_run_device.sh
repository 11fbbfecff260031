#!/usr/bin/env bash
# The lock's GPU stack on the lent GPU machine, in one call: unpack the parts that bench/pack_lock_stack.sh made (sent
# one per run to /tmp/parts), record what Python imports there (requirements/gpu-run-freeze.txt), run every GPU test,
# then, if the call's time allows, one benchmark row. Outputs under $OUT; the end of the test output is printed.
# -v, not -q: a call cut by its time limit still names each test that finished (the -rA summary comes only at the end).
#   bash bench/gpu_run_device.sh            (BUDGET_S: seconds this call may take, default 540)
set -uo pipefail
started=$(date +%s)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
if [ ! -d /tmp/lockstack/vllm ]; then
    mkdir -p /tmp/lockstack && cat /tmp/parts/part.* | tar xz -C /tmp/lockstack && rm -rf /tmp/parts
fi
source bench/lock_stack_env.sh || exit 1
export GRPO_STUDIO_CACHE_DIR=/tmp/gc
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 bench/freeze.py >"$OUT/gpu-run-freeze.txt"
timeout "${TESTS_S:-330}" python3 -m pytest -m gpu tests/test_gpu.py tests/test_gpu_probe_eval.py -n 8 -v -rA \
    -p no:cacheprovider >"$OUT/gpu-tests-output.txt" 2>&1
echo "gpu tests exit $?"
# The multi-GPU tests take every GPU of the machine (and a server beside the trainer): one at a time, after the rest.
timeout "${MULTIGPU_TESTS_S:-300}" python3 -m pytest -m gpu tests/test_gpu_multigpu.py -v -rA -p no:cacheprovider \
    >>"$OUT/gpu-tests-output.txt" 2>&1
echo "multi-GPU tests exit $?"
grep -E "^(PASSED|FAILED|ERROR|SKIPPED)|passed|failed" "$OUT/gpu-tests-output.txt" | tail -30
left=$(( ${BUDGET_S:-540} - ($(date +%s) - started) ))
if [ "$left" -gt 170 ]; then
    timeout $((left - 10)) bash bench/speed_device.sh lock --variants hf-vllm --batch 8 --lengths 1024 --steps 6 \
        --timeout $((left - 40)) | tail -4
fi

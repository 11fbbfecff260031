#!/usr/bin/env bash
# The GPU tests on the lent GPU machine: unpack the parts that bench/pack_lock_stack.sh made (sent one per run to
# /tmp/parts; 15 runs), record what Python imports there (requirements/gpu-run-freeze.txt), run the GPU tests
# (GPU_TESTS below), then, if the call's time allows, one benchmark row. Outputs under $OUT; the end of the test
# output is printed. STACK=devsite uses .devsite and the vLLM stack of bench/device_env.sh instead of the lock's
# (6 parts; the same versions but peft 0.21.0).
# -v, not -q: a call cut by its time limit still names each test that finished (the -rA summary comes only at the end).
#   bash bench/gpu_run_device.sh            (BUDGET_S: seconds this call may take, default 540)
#   GPU_TESTS=rest bash bench/gpu_run_device.sh; then GPU_TESTS=vllm ...; then GPU_TESTS=multigpu ...
set -uo pipefail
started=$(date +%s)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
if [ "${STACK:-lock}" = devsite ]; then
    source .devsite/env.sh && source bench/device_env.sh || exit 1
else
    if [ ! -d /tmp/lockstack/vllm ]; then
        mkdir -p /tmp/lockstack && cat /tmp/parts/part.* | tar xz -C /tmp/lockstack && rm -rf /tmp/parts
    fi
    source bench/lock_stack_env.sh || exit 1
fi
export GRPO_STUDIO_CACHE_DIR=/tmp/gc
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 bench/freeze.py >"$OUT/gpu-run-freeze.txt"
# GPU_TESTS picks what this call runs, so the suite can span calls of 10 minutes: "rest" (the tests that start no
# vLLM, eight at a time), "vllm" (the tests marked vllm, one at a time: vLLM's start-up fails when a neighbour frees
# GPU memory while it profiles), "multigpu" (they take every GPU); several, comma-separated. Default: all three.
for part in $(echo "${GPU_TESTS:-rest,vllm,multigpu}" | tr , ' '); do
    case $part in
        rest) timeout "${TESTS_S:-330}" python3 -m pytest -m "gpu and not vllm" tests/test_gpu.py \
                  tests/test_gpu_probe_eval.py -n 8 -v -rA -p no:cacheprovider >>"$OUT/gpu-tests-output.txt" 2>&1 ;;
        vllm) timeout "${VLLM_TESTS_S:-480}" python3 -m pytest -m "gpu and vllm" tests/test_gpu.py \
                  tests/test_gpu_probe_eval.py -v -rA -p no:cacheprovider >>"$OUT/gpu-tests-output.txt" 2>&1 ;;
        multigpu) timeout "${MULTIGPU_TESTS_S:-300}" python3 -m pytest -m gpu tests/test_gpu_multigpu.py -v -rA \
                  -p no:cacheprovider >>"$OUT/gpu-tests-output.txt" 2>&1 ;;
        *) echo "GPU_TESTS: unknown part $part"; exit 2 ;;
    esac
    echo "GPU tests ($part) exit $?"
done
grep -E "PASSED|FAILED|ERROR|SKIPPED|passed|failed" "$OUT/gpu-tests-output.txt" | tail -40
left=$(( ${BUDGET_S:-540} - ($(date +%s) - started) ))
if [ "$left" -gt 170 ]; then
    timeout $((left - 10)) bash bench/speed_device.sh lock --variants hf-vllm --batch 8 --lengths 1024 --steps 6 \
        --timeout $((left - 40)) | tail -4
fi

# Sourced on the GPU machine after the lock's stack (bench/pack_lock_stack.sh) was unpacked to /tmp/lockstack (or
# LOCKSTACK): its packages first on PYTHONPATH, so that they win over the machine's own versions, plus the folders
# that its .pth files name (Python reads .pth files only in site folders, not in PYTHONPATH entries; CUTLASS's DSL
# installs its `cutlass` package that way), and an offline environment.
#
#   source bench/lock_stack_env.sh && python bench/freeze.py
_lockstack=${LOCKSTACK:-/tmp/lockstack}
if [ ! -d "$_lockstack/vllm" ]; then
    echo "lock_stack_env.sh: $_lockstack holds no unpacked stack (see bench/pack_lock_stack.sh)" >&2
    return 1 2>/dev/null || exit 1
fi
_paths=$_lockstack
for _pth in "$_lockstack"/*.pth; do
    [ -e "$_pth" ] || continue
    while IFS= read -r _line || [ -n "$_line" ]; do
        case $_line in ''|'#'*|import*) continue ;; esac
        [ -d "$_lockstack/$_line" ] && _paths="$_paths:$_lockstack/$_line"
    done <"$_pth"
done
export PYTHONPATH="$_paths:$PWD${PYTHONPATH:+:$PYTHONPATH}"
# No network there; the tests use builtin models. VLLM_USE_FLASHINFER_SAMPLER=0: with FlashInfer's sampler vLLM
# stalled after CUDA-graph capture on the lent GPUs (the image sets the same).
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 \
    HF_HUB_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 VLLM_USE_FLASHINFER_SAMPLER=0
unset _lockstack _paths _pth _line

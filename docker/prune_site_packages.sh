#!/bin/sh
# Removes from a site-packages folder what a GRPO run on one workstation GPU (8-80 GB: Turing to Ada, Hopper, consumer
# and workstation Blackwell) never loads. The Dockerfile runs it in the layer that installs the lock, so the files never
# reach the image; bench/pack_lock_stack.sh runs it for the H200 bundle with ONLY_SM=90 PY_TAG=312. Every item says
# why it is safe; the check at the end fails if pruning took a file that the stack loads.
#
#   sh docker/prune_site_packages.sh /opt/venv/lib/python3.13/site-packages
#   ONLY_SM=90 PY_TAG=312 sh docker/prune_site_packages.sh .lockstack     (one known GPU: keep only its kernels)
set -eu
site=$1
PY_TAG=${PY_TAG:-313}  # the CPython of the site-packages (cpython-313)
ONLY_SM=${ONLY_SM:-}    # set to an SM (90: Hopper) when the bundle runs on that GPU only
cd "$site"

# FlashInfer's prebuilt kernels for datacenter Blackwell (sm_100/sm_103: B200, B300, GB200; 180 GB and more per GPU)
# and Thor (sm_101/sm_110, an ARM board), read from each cubin's ELF header (e_flags holds the SM); with ONLY_SM, all
# but that SM's. What FlashInfer lacks for a GPU it JIT-compiles.
ONLY_SM=$ONLY_SM python3 - <<'PY'
import glob, os, struct
only = int(os.environ["ONLY_SM"]) if os.environ["ONLY_SM"] else None
removed = kept = 0
for path in glob.glob("flashinfer_cubin/cubins/**/*.cubin", recursive=True):
    with open(path, "rb") as cubin:
        header = cubin.read(52)
    sm = (struct.unpack_from("<I", header, 48)[0] >> 8) & 0xFF if len(header) == 52 and header[:4] == b"\x7fELF" else 0
    if (sm != only) if only else sm in (100, 101, 103, 110):
        os.remove(path)
        removed += 1
    else:
        kept += 1
print(f"prune: flashinfer_cubin: removed {removed} cubins, kept {kept}")
PY

# vLLM's Rust frontend binary, used only with VLLM_USE_RUST_FRONTEND=1.
rm -f vllm/vllm-rs
# Blackwell-datacenter sparse attention for MiniMax-M3, imported lazily by that model only.
rm -rf vllm/third_party/fmha_sm100
# DeepGEMM's extension built for other Python versions.
find vllm/third_party/deep_gemm -maxdepth 1 -name '_C.cpython-3*' ! -name "_C.cpython-$PY_TAG-*" -delete 2>/dev/null \
    || true
# xgrammar's static library: never loaded (the bindings are libxgrammar_bindings.so).
rm -f xgrammar/lib/libxgrammar.a
# Reference tokenizers behind mistral_common's MistralTokenizer.v1()..v7() test helpers; a Mistral model brings its
# own tokenizer files (mistral_common/guidance/data stays).
rm -rf mistral_common/data
# gettext translations of country and language names; pydantic-extra-types uses only the codes.
rm -rf pycountry/locales
# torch-c-dlpack-ext's add-ons for torch 2.4-2.9; torch 2.11 has the exchange API built in and never loads them.
find torch_c_dlpack_ext -name 'libtorch_c_dlpack_addon_torch2[4-9]-*.so' -delete 2>/dev/null || true
# Unsloth Studio, a separate web app (AGPL-3.0) that the unsloth wheel installs as the top-level package `studio`;
# unsloth and unsloth_zoo never import it.
rm -rf studio
# bitsandbytes' builds for other CUDA versions, ROCm and Intel XPU: it loads the one for torch's CUDA, 13.0 for the
# lock's torch 2.11.0 (libbitsandbytes_cuda130.so), or the CPU one.
find bitsandbytes -maxdepth 1 -name 'libbitsandbytes_*.so' ! -name 'libbitsandbytes_cuda130.so' \
    ! -name 'libbitsandbytes_cpu.so' -delete 2>/dev/null || true
# Static CUPTI libraries that Triton's wheel carries for building its profiler; nothing links at run time.
rm -f triton/backends/nvidia/lib/cupti/*_static.a
# FlashAttention-2 serves GPUs before Hopper (and ALiBi models); on Hopper alone vLLM picks FlashAttention-3.
if [ "$ONLY_SM" = 90 ]; then rm -f vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so; fi

# What the stack loads must still be there.
needed="vllm/_C_stable_libtorch.abi3.so vllm/_moe_C_stable_libtorch.abi3.so vllm/vllm_flash_attn/_vllm_fa3_C.abi3.so
        vllm/cumem_allocator.abi3.so xgrammar/libxgrammar_bindings.so nvidia_cutlass_dsl.pth flashinfer/__init__.py
        flashinfer_cubin/__init__.py bitsandbytes/libbitsandbytes_cuda130.so bitsandbytes/libbitsandbytes_cpu.so"
if [ "$ONLY_SM" != 90 ]; then needed="$needed vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so"; fi
for file in $needed; do
    [ -e "$file" ] || { echo "prune: $site/$file is missing after pruning" >&2; exit 1; }
done
echo "prune: $site now $(du -sm . | cut -f1) MiB"

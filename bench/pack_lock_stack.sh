#!/usr/bin/env bash
# Packs the lock's GPU stack for the lent GPU machine (Python 3.12, no network), so that the GPU tests and the benchmark
# run there with exactly requirements/gpu.lock's versions: builds .lockstack/ with the CPython 3.12 manylinux x86_64
# wheels of every lock package that the machine does not already have at the lock's version, unpacked as
# `pip install --target` lays them out and pruned for its H200 (docker/prune_site_packages.sh with ONLY_SM=90), then
# cuts it into parts .part0/ .part1/ ... of 48 MiB (one device run carries at most 64 MiB).
#
#   bash bench/pack_lock_stack.sh          # here (needs PyPI; ~9 min on 2 cores); prints the sizes and the parts
#   on the GPU machine, one run per part, all issued together in one message, each with carry [".partK"]:
#       mkdir -p /tmp/parts && mv .partK/* /tmp/parts/
#   then, in the next run (the machine keeps /tmp only while it is warm):
#       mkdir -p /tmp/lockstack && cat /tmp/parts/part.* | tar xz -C /tmp/lockstack
#       source bench/lock_stack_env.sh && python bench/freeze.py > $OUT/gpu-run-freeze.txt
#       python -m pytest -m gpu tests/test_gpu.py ...
#   and keep that freeze as requirements/gpu-run-freeze.txt (make check-lock compares it with the lock).
#   bash bench/pack_lock_stack.sh --clean  # removes .lockstack/ and the parts
#
# Environment: PYTHON (with pip and uv; default .venv/bin/python). MACHINE_FREEZE: the output of
# `python bench/freeze.py` on the bare GPU machine (one short run); with it, every lock package the machine already has
# at the lock's version stays home, not only those listed below (pandas, pyarrow, sympy, ... are there, versions
# unknown here).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
STACK=.lockstack
PART_MIB=48

if [[ "${1:-}" == "--clean" ]]; then rm -rf "$STACK" .part[0-9]*; echo "removed $STACK and its parts"; exit 0; fi

# The GPU machine's own packages with known versions ("pip list" as read there, 2026-11; the lent machine's
# description lists the others without versions, so those are carried). A lock package at exactly one of these
# versions is not carried: the machine's copy is the lock's.
MACHINE_HAS=(accelerate==1.15.0 botorch==0.18.1 cupy-cuda13x==14.2.0 gpytorch==1.15.2 huggingface-hub==1.33.0
    jax==0.11.2 jax-cuda13-pjrt==0.11.2 jax-cuda13-plugin==0.11.2 jaxlib==0.11.2 jaxtyping==0.3.11 numpy==2.5.2
    numpyro==0.21.0 onnx==1.23.1 onnx-ir==1.0.0 onnxruntime==1.30.0 onnxscript==0.7.2 pytorch-lightning==2.6.6
    safetensors==0.8.0 sentence-transformers==6.0.1 sentencepiece==0.2.2 tiktoken==0.14.0 tokenizers==0.23.2
    torch==2.11.0 torch-geometric==2.8.0.post1 torchaudio==2.11.0 torchdiffeq==0.2.5 torchmetrics==1.9.0
    torchvision==0.26.0 transformers==5.17.0 triton==3.6.0)
# Never carried: torch and triton are the machine's (2.11.0+cu130 and 3.6.0, the lock's versions), and the CUDA
# libraries and compilers that torch's wheel and the JIT compilers use are the machine's CUDA 13 install. NVIDIA's
# packages that are not CUDA itself (CUTLASS's Python DSL, cuDNN's frontend, NVML's bindings) are carried.
is_machine_cuda() {
    case $1 in
        torch|triton|cuda-toolkit) return 0 ;;
        nvidia-cutlass-dsl*|nvidia-cudnn-frontend|nvidia-ml-py) return 1 ;;
        nvidia-*) return 0 ;;
    esac
    return 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The lock as it installs on CPython 3.12 (the machine's): gpu.in resolved with the lock's versions as constraints.
# On 3.12 a few lock packages are not needed (audioop-lts is for 3.13 only); a package needed on 3.12 only is reported.
grep -vE '^[[:space:]]*(#|$)' requirements/excluded.txt >"$work/excluded"
"$PYTHON" -m uv pip compile requirements/gpu.in --constraints requirements/gpu.lock --excludes "$work/excluded" \
    --python-version 3.12 --python-platform x86_64-manylinux_2_35 --only-binary :all: --no-python-downloads \
    --no-annotate --no-header --quiet --output-file "$work/py312.txt"
# name==version lines with the name as PyPI compares names (lower case, runs of - _ . as one -)
pins_of() { grep -oE '^[A-Za-z0-9._-]+==[^ ;+]+' "$@" | awk -F== '{n = tolower($1); gsub(/[-_.]+/, "-", n); print n "==" $2}'; }
pins_of requirements/gpu.lock | cut -d= -f1 | sort >"$work/lock-names"
pins_of "$work/py312.txt" | cut -d= -f1 | sort >"$work/py312-names"
{ printf '%s\n' "${MACHINE_HAS[@]}"; if [[ -n "${MACHINE_FREEZE:-}" ]]; then cat "$MACHINE_FREEZE"; fi; } \
    | pins_of - >"$work/machine-has"

carry=() skipped=()
while IFS= read -r pin; do
    name=${pin%%==*}
    version=${pin#*==}
    grep -qx "$name" "$work/lock-names" || echo "note: $pin is needed on Python 3.12 only (not in the lock); carried"
    if is_machine_cuda "$name"; then
        skipped+=("$pin (the machine's CUDA stack)")
    elif grep -qxF "$pin" "$work/machine-has"; then
        skipped+=("$pin (the machine has it)")
    else
        carry+=("$name==$version")
    fi
done < <(pins_of "$work/py312.txt")
while IFS= read -r name; do skipped+=("$name (not needed on Python 3.12)"); done \
    < <(comm -23 "$work/lock-names" "$work/py312-names")
echo "carrying ${#carry[@]} packages; not carrying ${#skipped[@]}:"
printf '  %s\n' "${skipped[@]}"

platforms=()
for tag in manylinux_2_35 manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 \
           manylinux2014 manylinux1; do platforms+=(--platform "${tag}_x86_64"); done
echo "downloading ${#carry[@]} wheels for CPython 3.12 ..."
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" --platform any --dest "$work/wheels" "${carry[@]}" 2> >(grep -v 'is ignored: it is neither' >&2)

# Unpacked as pip --target does: exec bits kept (vllm/utils/numa_wrapper.sh), *.data/{purelib,platlib} moved to the
# top (scripts, headers and data of *.data left out), nvidia-cutlass-dsl-libs-cu13 after -libs-base, whose files it
# overwrites (pip installs it after its dependency too).
rm -rf "$STACK" .part[0-9]*
"$PYTHON" - "$work/wheels" "$STACK" <<'PY'
import glob, os, re, sys, zipfile
wheels, site = sys.argv[1:]
ordered = sorted(glob.glob(os.path.join(wheels, "*.whl")),
                 key=lambda w: ("_libs_cu13-" in w, os.path.basename(w).lower()))
for wheel in ordered:
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            data = re.match(r"[^/]+\.data/([^/]+)/(.*)", name)
            if data:
                if data[1] not in ("purelib", "platlib") or not data[2]:
                    continue
                name = data[2]
            target = os.path.join(site, name)
            if name.endswith("/"):
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as out:
                out.write(source.read())
            os.chmod(target, 0o755 if (info.external_attr >> 16) & 0o111 else 0o644)
print(f"unpacked {len(ordered)} wheels")
PY
ONLY_SM=90 PY_TAG=312 sh docker/prune_site_packages.sh "$STACK"
mkdir -p "$STACK/_lockstack"
printf '%s\n' "${carry[@]}" >"$STACK/_lockstack/CARRIED.txt"
printf '%s\n' "${skipped[@]}" >"$STACK/_lockstack/NOT-CARRIED.txt"

tar --sort=name --mtime='2026-01-01 00:00Z' --owner=0 --group=0 --numeric-owner -C "$STACK" -cf - . \
    | gzip -n -6 | split -b "${PART_MIB}M" -d -a 3 - "$work/part."
parts=0
for part in "$work"/part.*; do mkdir -p ".part$parts"; mv "$part" ".part$parts/"; parts=$((parts + 1)); done
echo "$STACK: $(du -sm "$STACK" | cut -f1) MiB unpacked, $(find "$STACK" -type f | wc -l) files;" \
     "packed $(cat .part[0-9]*/part.* | wc -c | numfmt --to=iec) in $parts parts of ${PART_MIB} MiB: $(ls -d .part[0-9]* \
     | sort -V | tr '\n' ' ')"
echo "largest:"
(cd "$STACK" && du -sm -- */ | sort -rn | head -15 | sed 's/^/  /')

"""Compares requirements/gpu.lock with requirements/gpu-run-freeze.txt, the packages that the last GPU run imported
(written by `python bench/freeze.py` on the GPU machine), so that a lock change without a GPU run shows.

    python requirements/compare_freeze.py [--lock requirements/gpu.lock] [--freeze requirements/gpu-run-freeze.txt]

Exit 1 when a GPU-critical package differs or is missing on either side (local labels such as +cu130 are ignored:
PyPI's torch 2.11.0 is the CUDA 13.0 build that the GPU machine calls 2.11.0+cu130); exit 2 when a file is missing or
unreadable. Other differences are listed as notes: the GPU machine brings packages of its own that the image does not
use, and the image has packages (gradio, ...) that a GPU test never imports.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
# The packages whose versions decide whether GRPO on the GPU works: the CUDA stack, the inference engine and its
# kernels, and the training libraries that Unsloth patches. xformers counts only when the lock has it.
GPU_CRITICAL = ("torch", "triton", "vllm", "xformers", "flashinfer-python", "unsloth", "unsloth-zoo", "trl",
                "transformers", "peft", "accelerate", "bitsandbytes")
OPTIONAL_CRITICAL = ("xformers",)
HOW_TO_RECORD = ("run the GPU tests on the GPU machine with the lock's stack (bench/pack_lock_stack.sh says how), then "
                 "save the output of `python bench/freeze.py` there as {path}")


def read_pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line (comments, `# via` lines and blank lines skipped)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def same_version(a: str, b: str) -> bool:
    try:
        return Version(a).public == Version(b).public
    except InvalidVersion:
        return a == b


def compare(lock: dict[str, str], freeze: dict[str, str]) -> tuple[list[str], list[str]]:
    """(problems with GPU-critical packages, notes about the others)."""
    problems = []
    for name in GPU_CRITICAL:
        if name not in lock:
            if name not in OPTIONAL_CRITICAL:
                problems.append(f"{name} is not in the lock")
        elif name not in freeze:
            problems.append(f"{name}: the lock has {lock[name]}, the GPU run had none")
        elif not same_version(lock[name], freeze[name]):
            problems.append(f"{name}: the lock has {lock[name]}, the GPU run had {freeze[name]}")
    notes = [f"{name}: lock {version}, GPU run {freeze.get(name, 'none')}" for name, version in sorted(lock.items())
             if name not in GPU_CRITICAL and not same_version(version, freeze.get(name, ""))]
    return problems, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements" / "gpu.lock")
    parser.add_argument("--freeze", type=Path, default=ROOT / "requirements" / "gpu-run-freeze.txt")
    arguments = parser.parse_args(argv)
    if not arguments.freeze.is_file():
        print(f"compare_freeze: {arguments.freeze} is missing: "
              + HOW_TO_RECORD.format(path=arguments.freeze) + ".", file=sys.stderr)
        return 2
    try:
        lock, freeze = read_pins(arguments.lock), read_pins(arguments.freeze)
    except (OSError, UnicodeDecodeError) as error:
        print(f"compare_freeze: cannot read {error.filename or arguments.lock}: {error}.", file=sys.stderr)
        return 2
    problems, notes = compare(lock, freeze)
    if notes:
        print(f"compare_freeze: {len(notes)} other lock packages differ from the GPU run (not GPU-critical):")
        print("\n".join(f"  note: {note}" for note in notes))
    if problems:
        print("compare_freeze: the lock's GPU-critical packages are not the ones that ran on the GPU; "
              + HOW_TO_RECORD.format(path=arguments.freeze.name) + ":", file=sys.stderr)
        print("\n".join(f"  {problem}" for problem in problems), file=sys.stderr)
        return 1
    print(f"compare_freeze: {arguments.lock.name} matches {arguments.freeze.name} in every GPU-critical package "
          f"({', '.join(name for name in GPU_CRITICAL if name in lock)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

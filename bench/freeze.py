"""Prints `name==version` of every distribution that this Python imports, sorted: for each name the first one on
sys.path wins, as for `import` (pip freeze would also list a machine's own copy that a PYTHONPATH entry shadows).
Its output, on the GPU machine with the lock's stack on PYTHONPATH, is requirements/gpu-run-freeze.txt, which
`make check-lock` compares with the lock.

    python bench/freeze.py > requirements/gpu-run-freeze.txt
"""

from __future__ import annotations

import importlib.metadata
import sys

from packaging.utils import canonicalize_name


def imported_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():  # in sys.path order
        name = distribution.metadata["Name"]
        if name:
            versions.setdefault(canonicalize_name(name), distribution.version)
    return versions


def main() -> int:
    print(f"# python {sys.version.split()[0]}, first distribution on sys.path per name (bench/freeze.py)")
    for name, version in sorted(imported_versions().items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A progress bar for long work in the terminal (tqdm, as the field's tools show theirs), and the same progress as a
small JSON file for a program that follows the work from outside (the app's curation box).

`progress_bar(...)` yields a `progress(done, total)` callback that the engine's long loops (curate, probe) call as
they go; the bar is drawn on stderr, so stdout keeps only the results. With `file`, each call also replaces that
file with {"done": N, "total": M}; `read_progress` reads it back.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path


@contextlib.contextmanager
def progress_bar(description: str, unit: str = "item", file: Path | None = None):
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=unit, file=sys.stderr, dynamic_ncols=True, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if file is not None:
            _write(file, done, total)

    try:
        yield progress
    finally:
        bar.close()


def _write(file: Path, done: int, total: int) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    partial.write_text(json.dumps({"done": done, "total": total}), encoding="utf-8")
    partial.replace(file)  # whole or absent: a reader never sees half of it


def read_progress(file: Path) -> tuple[int, int] | None:
    """(done, total) as last written, or None before the first write (or for a file that is not one of ours)."""
    try:
        said = json.loads(file.read_text(encoding="utf-8"))
        return int(said["done"]), int(said["total"])
    except (OSError, ValueError, TypeError, KeyError):
        return None

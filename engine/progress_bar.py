"""A progress bar for long work (the probe, curate, eval, export): tqdm on stderr, as the field's tools show theirs,
and the same count in a small JSON file when the app asks for one, so that its page can say "So far: the model
answering, 3 of 8 questions" instead of only "running for 04:10".

`progress_bar(...)` yields a `progress(done, total)` callback that the engine's long loops call as they go; the bar
is drawn on stderr, so stdout keeps only the results. The app names the file in GRPO_STUDIO_PROGRESS_FILE when it
starts the command (app/runner.py) and reads it back with `read_count`. Training has its own progress line
(engine/runs/progress.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROGRESS_FILE = "GRPO_STUDIO_PROGRESS_FILE"
WRITE_EVERY_S = 0.5  # the file is rewritten at most this often (and whenever the work is done)


@dataclass(frozen=True)
class Count:
    what: str  # what is being done, in words: "the model answering"
    done: int
    total: int
    unit: str  # what is counted: "questions", "tensors", "bytes"


def _write(path: Path, count: Count) -> None:
    """Whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(asdict(count)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a progress note is never worth failing the work for
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def progress_bar(description: str, unit: str = "items"):
    """`unit`: what is counted ("questions"; "bytes" are shown as KB, MB, GB). A log file (the app's jobs) gets a
    line every few seconds rather than a bar a frame."""
    from tqdm import tqdm

    in_bytes = unit == "bytes"
    interactive = sys.stderr.isatty()
    bar = tqdm(desc=description, unit="B" if in_bytes else f" {unit}", unit_scale=in_bytes,
               unit_divisor=1024 if in_bytes else 1000, file=sys.stderr, dynamic_ncols=interactive,
               mininterval=0.2 if interactive else 5.0)
    path = Path(os.environ[PROGRESS_FILE]) if os.environ.get(PROGRESS_FILE) else None
    written = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal written
        bar.total = total
        bar.update(done - bar.n)
        if path is not None and (done >= total or time.monotonic() - written >= WRITE_EVERY_S):
            _write(path, Count(description, done, total, unit))
            written = time.monotonic()

    try:
        yield progress
    finally:
        bar.close()


def read_count(path: Path) -> Count | None:
    """What a command counting into `path` has done so far; None before it has counted anything (or for a file that
    is not a count)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Count(str(raw["what"]), int(raw["done"]), int(raw["total"]), str(raw["unit"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None

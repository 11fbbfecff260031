"""Progress of long work besides training (the probe, curation, evaluation, export): a tqdm bar on stderr in a
terminal, and the same count in a small JSON file when the app asks for one, so that its page can say "answering:
37 of 120 questions" instead of only "running for 04:10". One helper, so every long command counts the same way:

    with counting("answering questions", len(rows), "questions") as advance:
        for batch in batches:
            ...
            advance(len(batch))

The app names the file in GRPO_STUDIO_PROGRESS_FILE when it starts the command (app/runner.py) and reads it back
with `read_count`. Training has its own progress line (engine/progress.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

PROGRESS_FILE = "GRPO_STUDIO_PROGRESS_FILE"
WRITE_EVERY_S = 0.5  # the file is rewritten at most this often (and at the end of each count)


@dataclass(frozen=True)
class Count:
    what: str  # what is being done, in words: "answering questions"
    done: int
    total: int
    unit: str  # what is counted: "questions", "tensors", "bytes"


def _write(path: Path, count: Count) -> None:
    """Whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(count.__dict__), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a progress note is never worth failing the work for
        tmp.unlink(missing_ok=True)


@contextmanager
def counting(what: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
    """Count `total` units of `what` ("questions", "tensors", or "bytes": shown as KB, MB, GB); yields advance(n)."""
    path = Path(os.environ[PROGRESS_FILE]) if os.environ.get(PROGRESS_FILE) else None
    interactive = sys.stderr.isatty()  # a log file (the app's jobs) gets a line every few seconds, not a bar a frame
    in_bytes = unit == "bytes"
    bar = tqdm(total=total, desc=what, unit="B" if in_bytes else f" {unit}", unit_scale=in_bytes,
               unit_divisor=1024 if in_bytes else 1000, file=sys.stderr, dynamic_ncols=interactive,
               mininterval=0.2 if interactive else 5.0)
    done, written = 0, 0.0

    def note(final: bool = False) -> None:
        nonlocal written
        if path is not None and (final or time.monotonic() - written >= WRITE_EVERY_S):
            _write(path, Count(what, done, total, unit))
            written = time.monotonic()

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        bar.update(n)
        note(final=done >= total)

    note(final=True)
    try:
        yield advance
    finally:
        bar.close()


def read_count(path: Path) -> Count | None:
    """What a command counting into `path` has done so far; None before it has started counting (or for a file
    that is not a count)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Count(str(raw["what"]), int(raw["done"]), int(raw["total"]), str(raw["unit"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None

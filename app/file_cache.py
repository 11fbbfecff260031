"""Run-folder reads for the views that poll every second or two: a file is parsed again only when its size or
modification time changed, so a long run's events.jsonl is not re-read on every timer tick."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from engine.runs.folder import RunFolder, read_jsonl


def stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _jsonl(path: str, _stamp) -> list[dict]:
    return read_jsonl(Path(path))


def events(run: RunFolder) -> list[dict]:
    return _jsonl(str(run.events_path), stamp(run.events_path))


def samples(run: RunFolder) -> list[dict]:
    return _jsonl(str(run.samples_path), stamp(run.samples_path))


@lru_cache(maxsize=256)
def _summary(path: str, _status_stamp, _events_stamp, _alive_check: int) -> dict:
    return RunFolder(Path(path)).summary()


def summary(run: RunFolder) -> dict:
    """RunFolder.summary, recomputed when status.json or events.jsonl change (and every 10 s for a run whose
    process may have died without a word: its state then reads failed)."""
    import time

    return _summary(str(run.path), stamp(run.status_path), stamp(run.events_path), int(time.time() // 10))

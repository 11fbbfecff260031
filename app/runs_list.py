"""The runs as the page lists and picks them: the runs table (each run's disk use and place in the queue), the
picker's choices (the runs here, newest first, then the bundled example runs), and the run a run id from the page
names. The results step, its boxes and the Train view all pick runs through this module."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

from engine import disk_space, settings
from engine.runs import queue as run_queue
from engine.runs.folder import RunFolder, list_runs, run_by_id

from app import example_runs, file_cache, run_view, strings
from app.example_runs import example_ids

SIZE_TTL_S = 15  # a run's disk use is walked again at most this often (the runs table refreshes every few seconds)


def picked_run(run_id: str | None) -> RunFolder | None:
    """The run named by a run id from the page: a folder directly in the runs folder, or a bundled example run;
    never a path."""
    if example_runs.is_example(run_id):
        return example_runs.example_run(run_id)
    return run_by_id(settings.runs_dir(), run_id) if run_id else None


@lru_cache(maxsize=256)
def _usage(path: str, _period: int) -> int:
    return disk_space.folder_usage(Path(path))


def disk_use(run: RunFolder) -> int:
    """The run folder's size on disk, walked again every SIZE_TTL_S seconds at most."""
    return _usage(str(run.path), int(time.time() // SIZE_TTL_S))


def runs_overview() -> tuple:
    """(the runs table, the run ids newest first). Queued runs show their place in the queue."""
    root = settings.runs_dir()
    runs, queued = list_runs(root), run_queue.queued_ids(root)
    summaries = [file_cache.summary(run) | {"disk": disk_use(run),
                                            "queued": queued.index(run.id) + 1 if run.id in queued else None}
                 for run in runs]
    return run_view.runs_frame(summaries), [run.id for run in runs]


def pick_choices(ids: list[str]) -> list[tuple[str, str]]:
    """The run picker: the runs here, newest first, then the bundled example runs."""
    examples = [(strings.EXAMPLE_CHOICE.format(name=e.removeprefix(example_runs.PREFIX)), e) for e in example_ids()]
    return [(run_id, run_id) for run_id in ids] + examples


def default_pick(ids: list[str]) -> str | None:
    """The newest run, else the first example (what a run that learns looks like)."""
    return ids[0] if ids else next(iter(example_ids()), None)

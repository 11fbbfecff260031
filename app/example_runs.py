"""Example runs bundled with the app (examples/runs/<name>/): real GPU runs as GRPO Studio wrote them, which the
results step offers and the Train view shows like any run. On a CPU they show what a run that learns looks like.

The page names one as "example:<name>"; only a folder directly in examples/runs is ever opened. They are read-only:
no adapter is bundled, and nothing is written into the app's own folder.
"""

from __future__ import annotations

from engine import settings
from engine.runs.folder import RunFolder

PREFIX = "example:"


def examples_dir():
    return settings.REPO_ROOT / "examples" / "runs"


def example_ids() -> list[str]:
    folder = examples_dir()
    return [PREFIX + path.name for path in sorted(folder.iterdir()) if (path / "status.json").is_file()] \
        if folder.is_dir() else []


def is_example(run_id: str | None) -> bool:
    return isinstance(run_id, str) and run_id.startswith(PREFIX)


def example_run(run_id: str | None) -> RunFolder | None:
    """The bundled run an id names, or None (not an example id, or not one of the bundled runs)."""
    if not is_example(run_id) or run_id not in example_ids():  # the list, not the text: no path from the page
        return None
    return RunFolder(examples_dir() / run_id.removeprefix(PREFIX))


def page_id(run: RunFolder) -> str:
    """How the page names a run: its id, or example:<name> for a bundled one."""
    return PREFIX + run.id if run.path.parent == examples_dir() else run.id

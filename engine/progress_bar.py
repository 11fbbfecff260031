"""A progress bar for long work in the terminal (tqdm, as the field's tools show theirs).

`progress_bar(...)` yields a `progress(done, total)` callback that the engine's long loops (curate, probe) call as
they go; the bar is drawn on stderr, so stdout keeps only the results.
"""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def progress_bar(description: str, unit: str = "item"):
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=unit, file=sys.stderr, dynamic_ncols=True, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()

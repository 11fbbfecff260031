"""Tracebacks that the libraries under the app log for harmless events, each turned into one plain line of app.log
(a user reading `docker compose logs` should see a traceback only when something broke). Only exact, recognised
cases are touched: any other record keeps its traceback."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from app import strings


def _is_stream_of_gone_session(error: BaseException | None) -> bool:
    """Gradio's event stream (`/queue/data`, `sse_stream` in gradio/routes.py) for a session it no longer knows: it
    sends the page a "session not found" message, then raises HTTPException(404) inside the response it already
    started, which Starlette wraps in "Caught handled exception, but response already started". Seen after a page
    reload on a busy machine; any stale or made-up session id does the same."""
    cause = getattr(error, "__cause__", None)
    if not isinstance(error, RuntimeError) or getattr(cause, "status_code", None) != 404:
        return False
    frames = traceback.extract_tb(cause.__traceback__)
    return bool(frames) and frames[-1].name == "sse_stream" and Path(frames[-1].filename).parts[-2:] == (
        "gradio", "routes.py")


class _OneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and _is_stream_of_gone_session(record.exc_info[1]):
            record.msg, record.args, record.exc_info, record.exc_text = strings.STREAM_OF_GONE_SESSION, (), None, None
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def install() -> None:
    """Uvicorn logs an application's exception through "uvicorn.error"; its own logging set-up keeps this filter."""
    logging.getLogger("uvicorn.error").addFilter(_OneLine())

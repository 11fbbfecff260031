"""Tracebacks that the libraries under the app log for harmless events, each turned into one plain line of app.log
(a user reading `docker compose logs` should see a traceback only when something broke). Only exact, recognised
cases are touched: any other record keeps its traceback."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import gradio as gr

from engine.config import short_repr

from app import strings

log = logging.getLogger("grpo_studio.app")


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


def _refusing_stale_picks_in_one_line() -> None:
    """Gradio refuses an event whose dropdown value is not among the choices (a run deleted in another tab, a page
    left open, a made-up request), rightly, with a gr.Error that it prints with its traceback: 25 lines in app.log
    each time. The same refusal, without the traceback, and one line. On the class, in the app's process only: Gradio
    builds a new instance of a component for each session whose choices an event changed, so a wrap on the app's own
    instances misses those. (A subclass would do, but Gradio writes a .pyi stub next to the file of any component
    class it meets.)"""
    refuse = gr.Dropdown.preprocess

    def preprocess(self, payload):
        try:
            return refuse(self, payload)
        except gr.Error as error:
            if "is not in the list of choices" not in str(error.message):
                raise
            log.info(strings.STALE_PICK.format(value=short_repr(payload, 80), where=self.elem_id or self.label))
            raise gr.Error(error.message, print_exception=False) from None

    gr.Dropdown.preprocess = preprocess


def install() -> None:
    """Uvicorn logs an application's exception through "uvicorn.error"; its own logging set-up keeps this filter.
    Called once, at the app's start."""
    logging.getLogger("uvicorn.error").addFilter(_OneLine())
    _refusing_stale_picks_in_one_line()

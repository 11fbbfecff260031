"""Event handlers never show a traceback: an unexpected exception becomes one sentence in a toast, and the
traceback goes to the app's console log. Errors a user can cause are handled in the handlers themselves and shown
next to the widget; this is the net under them."""

from __future__ import annotations

import functools
import logging

import gradio as gr

from app import strings

log = logging.getLogger("grpo_studio.app")


def guarded(handler):
    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # the app must stay up whatever a handler meets
            log.exception("handler %s failed", getattr(handler, "__name__", handler))
            raise gr.Error(strings.UNEXPECTED_ERROR.format(what=f"{type(error).__name__}: {error}"[:300]),
                           print_exception=False) from None
    return wrapper

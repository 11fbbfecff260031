"""Event handlers never show a traceback: an unexpected exception becomes one sentence in a toast, and the
traceback goes to the app's console log. Errors a user can cause are handled in the handlers themselves and shown
next to the widget; this is the net under them."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from app import strings

log = logging.getLogger("grpo_studio.app")


def guarded(handler):
    """The handler (a function or a generator function, whose updates show progress) with the net under it."""
    def failed(error: Exception) -> gr.Error:
        log.exception("handler %s failed", getattr(handler, "__name__", handler))
        return gr.Error(strings.UNEXPECTED_ERROR.format(what=f"{type(error).__name__}: {error}"[:300]),
                        print_exception=False)

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def generator(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:  # the app must stay up whatever a handler meets
                raise failed(error) from None
        return generator

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # the app must stay up whatever a handler meets
            raise failed(error) from None
    return wrapper

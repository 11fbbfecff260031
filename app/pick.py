"""The app's dropdown: Gradio's own, except that refusing a value it does not list is one line in app.log.

Gradio refuses an event whose dropdown value is not among the choices (a run deleted in another tab, a page left open,
a made-up request), which is right, but it raises that refusal as a gr.Error that it prints with its traceback: 25
lines in app.log each time. Pick raises the same refusal without the traceback and logs one line. It is a Gradio
"template" component (`is_template`): the page draws it as a plain dropdown, and the copies Gradio makes of a
component for each session are Picks too.
"""

from __future__ import annotations

import logging

import gradio as gr

from engine.config import short_repr

from app import strings

log = logging.getLogger("grpo_studio.app")


class Pick(gr.Dropdown):
    is_template = True

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except gr.Error as error:
            if "is not in the list of choices" not in str(error.message):
                raise
            log.info(strings.STALE_PICK.format(value=short_repr(payload, 80), where=self.elem_id or self.label))
            raise gr.Error(error.message, print_exception=False) from None

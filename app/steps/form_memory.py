"""A page reload keeps the form: every change of a setting is kept in the browser (Gradio's BrowserState, the page's
localStorage), and a fresh page puts it back. Nothing of it is trusted: the kept values go through the form as if
typed (the data path through web_data_path, the rewards through the web kinds' check).
"""

from __future__ import annotations

import gradio as gr

from engine.problems import ConfigError

from app.data_tables import read_table
from app.form_state import form_from_saved, saved_form
from app.safe import guarded
from app.steps import data_view
from app.steps.page import Page
from app.web_paths import web_data_path

STORAGE_KEY = "grpo-studio-form"


def wire(page: Page) -> None:
    form, data = page.form, page.data
    kept = gr.BrowserState(None, storage_key=STORAGE_KEY)
    components = sorted(form.value_components(), key=lambda c: c._id)

    @guarded
    def keep(values: dict):
        return saved_form(form.read(values))

    gr.on([c.change for c in components], keep, inputs=set(components), outputs=kept, show_progress="hidden",
          trigger_mode="always_last")

    @guarded
    def restore(saved) -> dict:
        restored = form_from_saved(saved)
        if restored is None:  # a first visit, or nothing usable kept: the page's own defaults stand
            return {data.shown_path: gr.skip()}  # (Gradio takes an empty dict for one output's value, not for none)
        try:
            columns = list(read_table(web_data_path(restored.data_path)).column_names)
        except ConfigError:
            columns = []
        # The columns come with the kept form: its file is the one they belong to (no re-guessing).
        return form.write(restored, columns) | {data.shown_path: restored.data_path}

    page.demo.load(restore, inputs=kept, outputs=form.write_outputs() + [data.shown_path],
                   show_progress="hidden").then(
        guarded(lambda values: data_view.refresh_updates(page, values)), inputs=data_view.refresh_inputs(page),
        outputs=data_view.refresh_outputs(data), show_progress="hidden")

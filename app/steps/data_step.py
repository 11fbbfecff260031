"""Step 3 · Data: upload a file (or keep the bundled GSM8K sample, or take the bundled HumanEval sample for code),
map its question and answer columns, set the answer-extraction regex, and see the first rows with the gold answer as
the rewards will see it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr

from app import strings
from app.data_tables import code_sample_path, sample_path
from app.form_state import DATA_SETTINGS, FormValues, sentence
from app.form_widgets import setting_component
from app.safe import guarded
from app.steps.data_view import preview_data, preview_widths, refresh_inputs, refresh_outputs, refresh_updates
from app.steps.page import DataStep, Page, wire_next
from app.uploads import MAX_UPLOAD_TEXT, UploadError, store_upload


def build(form: FormValues) -> DataStep:
    with gr.Tab(strings.TAB_DATA, id="data", elem_id="tab-data") as tab:
        gr.Markdown(strings.DATA_INTRO.format(limit=MAX_UPLOAD_TEXT))
        initial = preview_data(form)
        answer_choices = [strings.DATA_NO_ANSWER] + initial.columns
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label=strings.DATA_UPLOAD_LABEL.format(limit=MAX_UPLOAD_TEXT),
                                 file_types=[".jsonl", ".json", ".csv", ".parquet"], elem_id="data-upload",
                                 height=120)
            with gr.Column(scale=3):
                path = gr.Textbox(form.data_path, label=strings.DATA_PATH_LABEL, info=strings.DATA_PATH_INFO,
                                  elem_id="data-path")
                with gr.Row():
                    use_sample = gr.Button(strings.DATA_SAMPLE_BUTTON, size="sm", elem_id="data-use-sample")
                    use_code_sample = gr.Button(strings.DATA_CODE_SAMPLE_BUTTON, size="sm",
                                                elem_id="data-use-code-sample")
                message = gr.Markdown("", elem_id="data-message")
        error = gr.Markdown(initial.error, elem_id="data-error", elem_classes=["gs-error"])
        with gr.Row():
            # allow_custom_value: another file's columns replace the choices while an event already sent may carry
            # the old column, which Gradio would refuse with a traceback; the handlers check a column against the
            # file themselves (the preview guesses again, the check names a column the file lacks).
            prompt_column = gr.Dropdown(initial.columns, value=form.prompt_column if form.prompt_column in
                                        initial.columns else None, label=strings.DATA_PROMPT_COLUMN,
                                        info=strings.DATA_PROMPT_COLUMN_INFO, elem_id="data-prompt-column",
                                        allow_custom_value=True)
            answer_column = gr.Dropdown(answer_choices, value=form.answer_column if form.answer_column in
                                        initial.columns else strings.DATA_NO_ANSWER, label=strings.DATA_ANSWER_COLUMN,
                                        info=strings.DATA_ANSWER_COLUMN_INFO, elem_id="data-answer-column",
                                        allow_custom_value=True)
            with gr.Column():
                answer_pattern = gr.Textbox(form.answer_pattern, label=strings.DATA_PATTERN_LABEL,
                                            info=strings.DATA_PATTERN_INFO, elem_id="data-answer-pattern")
                pattern_error = gr.Markdown(initial.pattern_error, elem_id="data-pattern-error",
                                            elem_classes=["gs-error"])
        summary = gr.Markdown(initial.summary, elem_id="data-summary")
        preview = gr.Dataframe(initial.frame, label=strings.DATA_PREVIEW_LABEL, interactive=False, wrap=True,
                               max_height=360, elem_id="data-preview", column_widths=preview_widths(initial.frame),
                               visible=bool(initial.columns))
        with gr.Accordion(strings.DATA_SETTINGS_LABEL, open=False):
            with gr.Row():
                settings_widgets = {key: setting_component(key, form.settings.get(key)) for key in DATA_SETTINGS}
        next_button = gr.Button(strings.NEXT, elem_id="data-next", size="sm", elem_classes=["gs-next"])
        shown_path = gr.State(form.data_path)  # inside the tab: a Tabs container takes only tabs as children
    return DataStep(tab, upload, use_sample, use_code_sample, message, path, prompt_column, answer_column,
                    answer_pattern, pattern_error, summary, error, preview, settings_widgets, next_button, shown_path)


def wire(page: Page) -> None:
    step = page.data
    wire_next(step.next, page.tabs, "rewards")
    outputs = refresh_outputs(step)
    inputs = refresh_inputs(page)
    refresh = guarded(lambda values: refresh_updates(page, values))

    @guarded
    def uploaded(temporary: str | None) -> dict:
        stored, message = stored_upload(temporary)
        if stored is None:
            return {step.message: message, step.upload: None}
        return {step.path: stored, step.message: message}

    def use_sample(path: str) -> dict:
        return {step.path: path, step.upload: None, step.message: ""}

    step.upload.upload(uploaded, inputs=step.upload, outputs=[step.path, step.message, step.upload],
                       show_progress="minimal").then(refresh, inputs=inputs, outputs=outputs)
    for button, path in ((step.use_sample, sample_path()), (step.use_code_sample, code_sample_path())):
        button.click(guarded(partial(use_sample, path)), outputs=[step.path, step.upload, step.message]).then(
            refresh, inputs=inputs, outputs=outputs)
    gr.on([step.path.submit, step.path.blur], refresh, inputs=inputs, outputs=outputs)
    gr.on([step.prompt_column.change, step.answer_column.change, step.answer_pattern.change]
          + [c.change for c in step.settings.values()], refresh, inputs=inputs, outputs=outputs,
          show_progress="hidden", trigger_mode="always_last")


def stored_upload(temporary: str | None) -> tuple[str | None, str]:
    """(the stored path, a message) for a file Gradio received; (None, the reason) when it cannot be used. Only a
    file in Gradio's own upload folder is taken: an event's input can name any path, and this one copies it."""
    if not temporary:
        return None, ""
    if not received_upload(temporary):
        return None, f"✗ {strings.DATA_UPLOAD_NOT_UPLOADED}"
    try:
        stored = store_upload(temporary, Path(temporary).name)
    except UploadError as error:
        return None, f"✗ {error}"
    except OSError as error:
        return None, f"✗ {sentence(f'the upload could not be stored: {error.strerror or error}')}"
    return str(stored), strings.DATA_UPLOAD_STORED.format(name=Path(temporary).name)


def received_upload(path: str) -> bool:
    """True for a regular file inside Gradio's upload folder (where its upload route puts what a browser sends)."""
    from gradio.utils import get_upload_folder

    try:
        folder = Path(get_upload_folder()).resolve()
        file = Path(path).resolve()
        return folder in file.parents and file.is_file()
    except (OSError, ValueError, RuntimeError):
        return False

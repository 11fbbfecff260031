"""Step 3 · Data: upload a file (or keep the bundled GSM8K sample, or take the bundled HumanEval sample for code),
map its question and answer columns, set the answer-extraction regex, and see the first rows with the gold answer as
the rewards will see it."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import gradio as gr
import pandas as pd

from engine import hub_access, settings
from engine.config import ConfigError, Problem, PromptConfig, RunConfig, build_config
from engine.data import (
    ANSWER_NAMES,
    PROMPT_NAMES,
    extract_gold,
    gold_pattern,
    guess_column,
    load_table,
    prepare_data,
    start_answers_with_prefix,
)
from engine.model_loading import load_tokenizer, model_problems, resolve_model_path

from app import strings
from app.form_state import DATA_SETTINGS, FormValues, form_to_raw, problem_sentence, reward_row_problem, sentence
from app.form_widgets import setting_component
from app.safe import guarded
from app.steps.page import Page, wire_next
from app.uploads import MAX_UPLOAD_TEXT, UploadError, store_upload
from app.web_paths import ModelRefused, web_data_path, web_model_name

PREVIEW_ROWS = 5
CELL_CHARS = 200
_TABLES: OrderedDict = OrderedDict()  # a few recently read files, so editing a column does not re-read the file
_TABLES_LOCK = threading.Lock()
TABLES_KEPT = 4


def sample_path() -> str:
    return str(settings.sample_data_path())


def code_sample_path() -> str:
    return str(settings.code_sample_data_path())


def _table_key(path: str) -> tuple:
    file = Path(path).expanduser()
    if path.startswith("hf:") or not file.is_file():
        return (path,)
    stat = file.stat()
    return (str(file.resolve()), stat.st_mtime_ns, stat.st_size)


def read_table(path: str):
    """engine.data.load_table, cached by path, modification time and size. Raises ConfigError."""
    key = _table_key(path)
    with _TABLES_LOCK:
        if key in _TABLES:
            _TABLES.move_to_end(key)
            return _TABLES[key]
    table = load_table(path)
    with _TABLES_LOCK:
        _TABLES[key] = table
        while len(_TABLES) > TABLES_KEPT:
            _TABLES.popitem(last=False)
    return table


def guess_columns(columns: list[str]) -> tuple[str | None, str | None]:
    """The question column (guessed, else the first) and the answer column (guessed, else none)."""
    prompt = guess_column(columns, PROMPT_NAMES) or (columns[0] if columns else None)
    answer = guess_column(columns, ANSWER_NAMES)
    return prompt, (answer if answer != prompt else None)


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"


@dataclass
class DataPreview:
    columns: list[str]
    frame: pd.DataFrame
    summary: str
    error: str
    pattern_error: str


def shown_name(data_path: str) -> str:
    """The data file's name as the user knows it (uploads keep the name they were uploaded with)."""
    return Path(data_path or "").name or data_path or ""


@lru_cache(maxsize=4)
def _tokenizer(model_folder: str, answer_prefix: str):
    tokenizer = load_tokenizer(model_folder)
    start_answers_with_prefix(tokenizer, PromptConfig(start_with_thought=bool(answer_prefix)))
    return tokenizer


def prompt_tokenizer(config: RunConfig):
    """The model's tokenizer with the run's answer prefix, as `engine check` prepares the data with it (prompts too
    long for max_seq_length are then counted here too), or None where it cannot be had (a hub model not downloaded:
    the train check says why)."""
    name = config.model.name
    if model_problems(config.model) or hub_access.hub_problem(name):
        return None
    try:
        return _tokenizer(resolve_model_path(name), config.prompt.answer_prefix())
    except Exception:  # a folder without a tokenizer, a model that cannot be built here: counted without lengths
        return None


def _length_settings(raw: dict) -> dict:
    """The model, train and prompt settings that decide which prompts fit (the model's tokenizer, max_seq_length,
    max_completion_length, the prompt); {} when they have problems of their own (the preset step says which)."""
    chosen = {"model": {k: raw["model"][k] for k in ("name", "max_seq_length") if k in raw["model"]},
              "train": {k: raw["train"][k] for k in ("max_completion_length",) if k in raw["train"]},
              "prompt": raw["prompt"]}
    try:
        build_config(chosen)
    except ConfigError:
        return {}
    return chosen


def preview_data(form: FormValues) -> DataPreview:
    """Everything the data step shows for the current form. Errors come back as sentences, never raised."""
    empty = pd.DataFrame()
    names = (shown_name(form.data_path),)
    try:
        path = web_data_path(form.data_path)  # the web reads only its uploads and the bundled sample
        table = read_table(path)
    except ConfigError as error:
        return DataPreview([], empty, "", sentence(error.problems[0].message, names), "")
    columns = list(table.column_names)
    pattern, pattern_error = None, ""
    head = table.select(range(min(PREVIEW_ROWS, len(table))))
    frame = pd.DataFrame({name: [_cell(v) for v in head[name]] for name in columns})
    try:
        pattern = gold_pattern(form.answer_pattern)
        if form.answer_column in columns:
            frame[strings.DATA_GOLD_COLUMN] = [_cell(extract_gold(v, pattern)) for v in head[form.answer_column]]
    except ConfigError as error:  # does not compile, or backtracks catastrophically on these answers
        pattern_error = sentence(error.problems[0].message)
    raw = form_to_raw(form)
    raw["data"]["path"] = path
    try:
        raw["model"]["name"] = web_model_name(raw["model"]["name"])  # its tokenizer counts the prompts' lengths
    except ModelRefused:
        raw["model"].pop("name")  # counted without lengths; the model step says why
    if pattern_error:
        raw["data"]["answer_pattern"] = None
    # The data section, every valid reward (what they need of the data: gold answers, a code reward's tests column,
    # is what training will ask; the data step must say it, not "50 rows") and what decides the prompts' lengths.
    # Broken or duplicated rows are the rewards step's business.
    valid, seen = [], set()
    for index, (reward, row) in enumerate(zip(raw["rewards"], form.rewards)):
        if reward_row_problem(row) is None and row.name.strip() not in seen:
            valid.append((index, reward))
            seen.add(row.name.strip())
    data_raw = {"data": raw["data"], "rewards": [reward for _, reward in valid]} | _length_settings(raw)
    try:
        config = build_config(data_raw)
        prepared = prepare_data(config, prompt_tokenizer(config))
    except ConfigError as error:
        problems = [_in_form_rows(p, [index for index, _ in valid]) for p in error.problems]
        return DataPreview(columns, frame, "", " ".join(problem_sentence(p, names) for p in problems), pattern_error)
    summary = strings.DATA_SUMMARY.format(file=names[0], describe=prepared.describe())
    return DataPreview(columns, frame, summary, "", pattern_error)


def _in_form_rows(problem: Problem, form_rows: list[int]) -> Problem:
    """A problem of the i-th valid reward, keyed by that reward's row in the form ("rewards[2] (tests_pass)")."""
    match = re.match(r"rewards\[(\d+)\]", problem.key)
    if match is None or int(match[1]) >= len(form_rows):
        return problem
    return Problem(f"rewards[{form_rows[int(match[1])]}]" + problem.key[match.end():], problem.message)


def preview_widths(frame: pd.DataFrame) -> list[str] | None:
    """Equal shares of the width (the extracted gold answer gets a narrow one), so long cells wrap instead of
    pushing the other columns out of view."""
    columns = list(frame.columns)
    if not columns:
        return None
    gold = strings.DATA_GOLD_COLUMN in columns
    share = (100 - (12 if gold else 0)) / (len(columns) - (1 if gold else 0))
    return [("12%" if name == strings.DATA_GOLD_COLUMN else f"{share:.0f}%") for name in columns]


def preview_update(frame: pd.DataFrame) -> dict:
    """The preview table, hidden when there is nothing to show (an empty table would draw made-up headers)."""
    if frame.empty and not len(frame.columns):
        return gr.update(value=None, visible=False)
    return gr.update(value=frame, column_widths=preview_widths(frame), visible=True)


@dataclass
class DataStep:
    tab: gr.Tab
    upload: gr.File
    use_sample: gr.Button
    use_code_sample: gr.Button
    message: gr.Markdown
    path: gr.Textbox
    prompt_column: gr.Dropdown
    answer_column: gr.Dropdown
    answer_pattern: gr.Textbox
    pattern_error: gr.Markdown
    summary: gr.Markdown
    error: gr.Markdown
    preview: gr.Dataframe
    settings: dict
    next: gr.Button
    shown_path: gr.State  # the file the column dropdowns were filled from: another file gets fresh guesses


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


def refresh_updates(page: Page, values: dict) -> dict:
    """The preview for the current settings; for a file other than the one shown, fresh column guesses."""
    step = page.data
    current = page.form.read(values)
    guess = current.data_path != values[step.shown_path]
    shown = preview_data(current)
    updates = {step.preview: preview_update(shown.frame), step.summary: shown.summary,
               step.error: f"✗ {shown.error}" if shown.error else "",
               step.pattern_error: f"✗ {shown.pattern_error}" if shown.pattern_error else ""}
    if shown.error:
        updates[step.message] = ""  # no "Uploaded" beside the reason the file cannot be used
    columns = shown.columns
    if not columns:  # unreadable: no table and no columns of the file shown before
        updates[step.prompt_column] = gr.update(choices=[], value=None)
        updates[step.answer_column] = gr.update(choices=[strings.DATA_NO_ANSWER], value=strings.DATA_NO_ANSWER)
    else:
        updates[step.shown_path] = current.data_path
        prompt, answer = current.prompt_column, current.answer_column
        if guess or prompt not in columns or (answer is not None and answer not in columns):
            prompt, answer = guess_columns(columns)
            updates[step.prompt_column] = gr.update(choices=columns, value=prompt)
            updates[step.answer_column] = gr.update(choices=[strings.DATA_NO_ANSWER] + columns,
                                                    value=answer or strings.DATA_NO_ANSWER)
        else:
            # The user's own picks stand. Sending them back would undo a pick made while this ran (the next
            # refresh would then read the undone value: a column picked quickly after another was lost).
            updates[step.prompt_column] = gr.update(choices=columns)
            updates[step.answer_column] = gr.update(choices=[strings.DATA_NO_ANSWER] + columns)
        if guess and (prompt, answer) != (current.prompt_column, current.answer_column):
            # The preview above used the old columns; show it for the new ones.
            current.prompt_column, current.answer_column = prompt, answer
            shown = preview_data(current)
            updates |= {step.preview: preview_update(shown.frame), step.summary: shown.summary,
                        step.error: f"✗ {shown.error}" if shown.error else ""}
    return updates


def refresh_inputs(page: Page) -> set:
    return page.form.value_components() | {page.data.shown_path}


def refresh_outputs(step: DataStep) -> list:
    return [step.preview, step.summary, step.error, step.pattern_error, step.prompt_column, step.answer_column,
            step.shown_path, step.message]


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

"""What the data step shows for the form's settings: the first rows with the gold answer as the rewards will see
it, the summary of the prepared data or the reason it cannot be used, and the columns (guessed afresh for another
file). The data step shows it; a restored form and a run's loaded settings refresh it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import gradio as gr
import pandas as pd

from engine import hub_access
from engine.config import RunConfig, build_config
from engine.data import extract_gold, gold_pattern, prepare_data, start_answers_with_prefix
from engine.model_names import load_tokenizer, model_problems, resolve_model_path
from engine.problems import ConfigError, Problem
from engine.prompt_config import PromptConfig

from app import strings
from app.data_tables import guess_columns, read_table
from app.form_state import FormValues, form_to_raw, problem_sentence, reward_row_problem, sentence
from app.steps.page import DataStep, Page
from app.web_paths import ModelRefused, web_data_path, web_model_name

PREVIEW_ROWS = 5
CELL_CHARS = 200


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

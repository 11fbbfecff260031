"""Step 4 · Rewards: the reward rows (add, edit, reorder, remove; pre-filled from the preset), the system prompt and
tags, and the "try it" box that scores a completion with every reward, live, with each row's problem next to it."""

from __future__ import annotations

import html
import time
from functools import partial

import gradio as gr
import pandas as pd

from engine.problems import ConfigError
from engine.rewards import KINDS, web_kinds

from app import sample_completion, strings
from app.form_state import (
    MAX_REWARDS,
    NUMBER_WIDGETS,
    PROMPT_SETTINGS,
    FormValues,
    RewardRow,
    RowField,
    add_row,
    field_choices,
    form_to_config,
    kind_help,
    move_row,
    problem_sentence,
    prompt_config,
    remove_row,
    reward_field_help,
    row_fields,
    starter_for_kind,
)
from app.form_widgets import FormWidgets, RewardSlot, column_value, setting_component
from app.reward_preview import NO_ROW, Preview, TryRow, preview, try_row
from app.safe import guarded
from app.steps import probe_box
from app.steps.data_view import shown_name
from app.steps.page import Page, RewardsStep, wire_next

QUESTION_CHARS = 160


def _field_component(field: RowField, row: RewardRow, ident: str) -> gr.components.Component:
    """The widget of one reward field, shown when the row's kind has it (its help is the kind's)."""
    own = KINDS[row.kind].fields() if row.kind in KINDS else []
    common = dict(label=field.label, value=row.values.get(field.name), visible=field.name in own,
                  info=reward_field_help(row.kind, field.name), elem_id=f"{ident}-{field.name.replace('_', '-')}")
    if field.widget == "checkbox":
        return gr.Checkbox(scale=2, min_width=160, **common)
    if field.widget == "dropdown":
        return gr.Dropdown(field_choices(field), scale=2, **common)
    if field.widget in NUMBER_WIDGETS:
        return gr.Number(precision=None, scale=1, **common)
    return gr.Textbox(scale=4, elem_classes=["gs-mono"], **common)  # text and comma-separated lists


def _slot(index: int, row: RewardRow | None) -> RewardSlot:
    row_or_blank = starter_for_kind(row or RewardRow())
    ident = f"reward-{index}"
    shown = row is not None
    with gr.Group(visible=shown, elem_id=ident, elem_classes=["gs-reward"]) as group:
        with gr.Row(equal_height=True):
            name = gr.Textbox(row_or_blank.name, label=strings.REWARD_NAME, elem_id=f"{ident}-name", scale=2,
                              min_width=120)
            kind = gr.Dropdown([(k.label, k.name) for k in web_kinds()], value=row_or_blank.kind,
                               label=strings.REWARD_KIND, elem_id=f"{ident}-kind", scale=2, min_width=150)
            weight = gr.Number(row_or_blank.weight, label=strings.REWARD_WEIGHT, elem_id=f"{ident}-weight",
                               scale=1, min_width=70)
            reward = gr.Number(row_or_blank.reward, label=strings.REWARD_SCORE_MET, elem_id=f"{ident}-reward",
                               scale=1, min_width=70)
            penalty = gr.Number(row_or_blank.penalty, label=strings.REWARD_SCORE_MISSED,
                                elem_id=f"{ident}-penalty", scale=1, min_width=70)
            score = gr.HTML(score_badge(None, None), elem_id=f"{ident}-score", min_width=80, scale=1)
            with gr.Column(scale=0, min_width=48, elem_classes=["gs-row-buttons"]):
                up = gr.Button(strings.REWARD_UP, size="sm", elem_id=f"{ident}-up", min_width=36)
                down = gr.Button(strings.REWARD_DOWN, size="sm", elem_id=f"{ident}-down", min_width=36)
                remove = gr.Button(strings.REWARD_REMOVE, size="sm", variant="stop", elem_id=f"{ident}-remove",
                                   min_width=36)
        with gr.Row(equal_height=True):
            fields = {field.name: _field_component(field, row_or_blank, ident) for field in row_fields()}
        error = gr.Markdown("", elem_id=f"{ident}-error", elem_classes=["gs-error"])
        help_text = gr.Markdown(kind_help(row_or_blank.kind), elem_id=f"{ident}-help", elem_classes=["gs-help"])
    return RewardSlot(group, name, kind, weight, reward, penalty, fields, score, error, help_text, up, down, remove)


def build(form: FormValues) -> RewardsStep:
    with gr.Tab(strings.TAB_REWARDS, id="rewards", elem_id="tab-rewards") as tab:
        gr.Markdown(strings.REWARDS_INTRO)
        with gr.Row():
            with gr.Column(scale=3):
                slots = [_slot(i, form.rewards[i] if i < len(form.rewards) else None) for i in range(MAX_REWARDS)]
                with gr.Row():
                    add = gr.Button(strings.REWARD_ADD, size="sm", elem_id="reward-add")
                    list_message = gr.Markdown("", elem_id="reward-list-message", elem_classes=["gs-error"])
                with gr.Accordion(strings.PROMPT_LABEL, open=False, elem_id="prompt-settings"):
                    system_prompt = gr.Textbox(form.system_prompt, label=strings.PROMPT_SYSTEM, lines=6,
                                               info=strings.PROMPT_SYSTEM_INFO, elem_id="prompt-system")
                    with gr.Row():
                        thought_open = gr.Textbox(form.thought_tags[0], label=strings.PROMPT_THOUGHT_OPEN,
                                                  elem_id="prompt-thought-open")
                        thought_close = gr.Textbox(form.thought_tags[1], label=strings.PROMPT_THOUGHT_CLOSE,
                                                   elem_id="prompt-thought-close")
                        answer_open = gr.Textbox(form.answer_tags[0], label=strings.PROMPT_ANSWER_OPEN,
                                                 elem_id="prompt-answer-open")
                        answer_close = gr.Textbox(form.answer_tags[1], label=strings.PROMPT_ANSWER_CLOSE,
                                                  elem_id="prompt-answer-close")
                    with gr.Row():
                        settings = {key: setting_component(key, form.settings.get(key)) for key in PROMPT_SETTINGS}
                probe = probe_box.build("rewards")
            with gr.Column(scale=2, elem_id="try-it", elem_classes=["gs-try"]):
                gr.Markdown(strings.TRY_HEADING)
                gr.Markdown(strings.TRY_INTRO, elem_classes=["gs-help"])
                question = gr.Markdown("", elem_id="try-question")
                completion = gr.Textbox(strings.TRY_EXAMPLE_COMPLETION, label=strings.TRY_COMPLETION, lines=8,
                                        elem_id="try-completion", elem_classes=["gs-mono"])
                gold = gr.Textbox("", label=strings.TRY_GOLD, info=strings.TRY_GOLD_INFO, interactive=False,
                                  elem_id="try-gold")
                generate = gr.Button(strings.TRY_GENERATE, size="sm", elem_id="try-generate")
                generate_message = gr.Markdown(strings.TRY_GENERATE_INFO, elem_id="try-generate-message",
                                               elem_classes=["gs-help"])
                total = gr.Markdown("", elem_id="try-total")
                breakdown = gr.Dataframe(pd.DataFrame(columns=strings.TRY_TOTAL_HEADERS), interactive=False,
                                         elem_id="try-breakdown")
        next_button = gr.Button(strings.NEXT, elem_id="rewards-next", size="sm", elem_classes=["gs-next"])
        generated_row = gr.State(None)  # inside the tab: a Tabs container takes only tabs as children
    return RewardsStep(tab, slots, add, list_message, system_prompt, thought_open, thought_close, answer_open,
                       answer_close, settings, question, completion, gold, generate, generate_message, generated_row,
                       total, breakdown, probe, next_button)


def wire(page: Page) -> None:
    step, form = page.rewards, page.form
    wire_next(step.next, page.tabs, "train")
    _wire_rows(step, form)
    _wire_try_it(page, step, form)
    probe_box.wire(page, step.probe)


def _wire_rows(step: RewardsStep, form: FormWidgets) -> None:
    rows_inputs = {form.reward_count} | {c for slot in form.slots for c in slot.value_components()}
    rows_outputs = form.rows_outputs() + [step.list_message]

    @guarded
    def add(values: dict) -> dict:
        rows = form.read_rows(values)
        if len(rows) >= MAX_REWARDS:
            return {step.list_message: strings.REWARD_LIMIT.format(limit=MAX_REWARDS)}
        return form.write_rows(add_row(rows, MAX_REWARDS)) | {step.list_message: ""}

    step.add.click(add, inputs=rows_inputs, outputs=rows_outputs, show_progress="hidden")

    def edit(change, index: int, values: dict) -> dict:
        rows = change(form.read_rows(values), index)
        message = strings.REWARD_NEEDS_ONE if not rows else ""
        return form.write_rows(rows) | {step.list_message: message}

    for index, slot in enumerate(form.slots):
        for button, change in ((slot.up, lambda rows, i: move_row(rows, i, -1)),
                               (slot.down, lambda rows, i: move_row(rows, i, +1)),
                               (slot.remove, remove_row)):
            button.click(guarded(partial(edit, change, index)), inputs=rows_inputs, outputs=rows_outputs,
                         show_progress="hidden")

        def kind_chosen(values: dict, slot=slot) -> dict:
            row = starter_for_kind(slot.read(values))
            return slot.write(row)

        slot.kind.input(guarded(kind_chosen), inputs=set(slot.value_components()), outputs=slot.write_outputs(),
                        show_progress="hidden")


def _wire_try_it(page: Page, step: RewardsStep, form: FormWidgets) -> None:
    rows_inputs = {form.reward_count} | {c for slot in form.slots for c in slot.value_components()}
    prompt_widgets = [form.system_prompt, form.thought_open, form.thought_close, form.answer_open, form.answer_close]
    data_widgets = {form.data_path, form.prompt_column, form.answer_column, form.answer_pattern}
    try_inputs = rows_inputs | set(prompt_widgets) | data_widgets | {step.completion, step.generated_row}
    try_outputs = ([s.score for s in form.slots] + [s.error for s in form.slots]
                   + [step.total, step.breakdown, step.question, step.gold])

    @guarded
    def try_it(values: dict) -> list:
        rows = form.read_rows(values)
        prompt = prompt_config(FormValues(system_prompt=values[form.system_prompt],
                                          thought_tags=(values[form.thought_open], values[form.thought_close]),
                                          answer_tags=(values[form.answer_open], values[form.answer_close])))
        data = FormValues(data_path=values[form.data_path] or "", prompt_column=values[form.prompt_column],
                          answer_column=column_value(values[form.answer_column]),
                          answer_pattern=values[form.answer_pattern] or "")
        row = try_row(data, values[step.generated_row])
        result = preview(rows, prompt, values[step.completion], row.gold, row.columns) if rows else None
        badges, errors, total, table = preview_outputs(rows, result)
        return badges + errors + [total, table, row_markdown(row, data.data_path),
                                  strings.TRY_NO_GOLD if row.gold is None else row.gold]

    # On page load, on every change of a row field, the prompt tags, the text or the data file, and on the user's own
    # edits of the data's columns and regex: their `change` also fires when the data step refreshes their choices,
    # and listening to it made the two refresh each other without end (seen in a browser: a call a second, idle).
    changed = (rows_inputs | set(prompt_widgets)) | {step.completion, step.generated_row, form.data_path}
    typed = [form.prompt_column.input, form.answer_column.input, form.answer_pattern.input]
    gr.on([page.demo.load] + [c.change for c in changed] + typed, try_it, inputs=try_inputs, outputs=try_outputs,
          show_progress="hidden", trigger_mode="always_last")

    @guarded
    def generate_one(values: dict):
        """A sampled completion from the form's model into the try-it box (which then scores it), or one sentence
        saying what to fix; what is happening while the model loads, and how long it took."""
        try:
            config = form_to_config(form.read(values))
        except ConfigError as error:
            yield {step.generate_message: f"✗ {problem_sentence(error.problems[0])}"}
            return
        started = time.monotonic()
        yield {step.generate_message: strings.TRY_GENERATING.format(model=config.model.name)}
        try:
            sample = sample_completion.generate_sample(config)
        except ConfigError as error:
            yield {step.generate_message: f"✗ {problem_sentence(error.problems[0])}"}
            return
        except sample_completion.ModelLoadError as error:
            yield {step.generate_message: f"✗ {error}"}
            return
        question = " ".join(sample.question.split())
        question = question if len(question) <= QUESTION_CHARS else question[:QUESTION_CHARS - 1] + "…"
        yield {step.completion: sample.completion, step.generated_row: (values[form.data_path], sample.columns),
               step.generate_message: strings.TRY_GENERATED.format(model=config.model.name, question=question,
                                                                   seconds=time.monotonic() - started)}

    step.generate.click(generate_one, inputs=form.value_components(),
                        outputs=[step.completion, step.generated_row, step.generate_message],
                        show_progress="minimal")


def row_markdown(row: TryRow, data_path: str) -> str:
    """The question the try-it box grades against, and which row of which file it is."""
    if row is NO_ROW:
        return strings.TRY_NO_ROW
    question = " ".join(row.question.split())
    question = question if len(question) <= QUESTION_CHARS else question[:QUESTION_CHARS - 1] + "…"
    if row.number is None:
        return strings.TRY_ROW_GENERATED.format(question=question)
    return strings.TRY_ROW.format(number=row.number, file=shown_name(data_path), question=question)


def _number_text(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def score_badge(score: float | None, row: RewardRow | None, error: str | None = None) -> str:
    """A coloured chip: green at the row's full reward, red at its penalty, amber between, grey when unscored."""
    if error:
        return '<span class="gs-score gs-score-error" title="see the message below">!</span>'
    if score is None or row is None:
        tip = strings.REWARD_SCORE_NONE_TIP if row is not None else ""
        return f'<span class="gs-score gs-score-none" title="{html.escape(tip)}">{strings.REWARD_SCORE_NONE}</span>'
    top, bottom = row.reward or 0.0, row.penalty or 0.0
    tone = "full" if abs(score - top) < 1e-9 else "none" if abs(score - bottom) < 1e-9 and top != bottom else "part"
    return f'<span class="gs-score gs-score-{tone}">{_number_text(score)}</span>'


def matched_text(scored) -> str:
    """What a row's pattern matched, on one table line; blank for a kind that matches nothing."""
    if not scored.shows_match:
        return ""
    if scored.matched is None:
        return strings.TRY_NO_MATCH
    text = scored.matched.replace("\n", strings.TRY_LINE_BREAK)
    return text if len(text) <= strings.TRY_MATCH_CHARS else text[:strings.TRY_MATCH_CHARS - 1] + "…"


def preview_outputs(rows: list[RewardRow], result: Preview | None) -> tuple[list[str], list[str], str, pd.DataFrame]:
    """(badges, error sentences, total markdown, breakdown table) for every slot from a preview."""
    badges, errors, table = [], [], []
    for index in range(MAX_REWARDS):
        if result is None or index >= len(rows):
            badges.append(score_badge(None, None))
            errors.append("")
            continue
        row, scored = rows[index], result.rows[index]
        badges.append(score_badge(scored.score, row, scored.error))
        errors.append(f"✗ {scored.error}" if scored.error else "")
        weighted = "" if scored.score is None else _number_text(scored.weight * scored.score)
        table.append([row.name, "" if scored.score is None else _number_text(scored.score),
                      _number_text(scored.weight), weighted, matched_text(scored)])
    total = strings.TRY_NOTHING if not rows else strings.TRY_TOTAL.format(
        total=_number_text(result.total if result else 0.0))
    return badges, errors, total, pd.DataFrame(table, columns=strings.TRY_TOTAL_HEADERS)

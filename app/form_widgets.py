"""The widgets that hold the run's settings, and the two-way glue between them and `FormValues`.

Each step module creates its own widgets; ui.py gathers them into one `FormWidgets`, whose `read` turns the values
of an event (inputs given as a set, so the handler receives {component: value}) into FormValues and whose `write`
turns FormValues into updates for every widget (loading a preset or an earlier run's settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from engine.config import field_help
from engine.rewards import KINDS

from app import strings
from app.form_state import (
    FormValues,
    RewardRow,
    kind_help,
    reward_field_help,
    setting_choices,
    setting_label,
    setting_widget,
)


def setting_component(key: str, value, **extra) -> gr.components.Component:
    """The widget of one config field: plain words and the key's name as the label, the field's own help as
    `info`. Whole-number fields keep what is typed (no rounding): a fraction is refused with a sentence."""
    label = setting_label(key)
    info = field_help(key)
    elem_id = "setting-" + key.replace(".", "-").replace("_", "-")
    widget = setting_widget(key)
    common = dict(label=label, info=info, value=value, elem_id=elem_id, **extra)
    if widget == "checkbox":
        return gr.Checkbox(**common)
    if widget == "dropdown":
        return gr.Dropdown(choices=setting_choices(key), **common)
    if widget.endswith("?"):  # a text box, since a number box cannot be empty
        common["info"] = f"{info} {strings.OPTIONAL_NUMBER_HINT}"
        return gr.Textbox(**common)
    return gr.Number(precision=None, **common)


@dataclass
class RewardSlot:
    """One of MAX_REWARDS fixed rows; rows beyond the reward count are hidden. `fields` holds one widget per field
    name of the registry's web kinds (app.form_state.row_fields); a row shows those of its kind."""
    group: gr.Group
    name: gr.Textbox
    kind: gr.Dropdown
    weight: gr.Number
    reward: gr.Number
    penalty: gr.Number
    fields: dict[str, gr.components.Component]
    score: gr.HTML
    error: gr.Markdown
    help: gr.Markdown
    up: gr.Button
    down: gr.Button
    remove: gr.Button

    def value_components(self) -> list:
        return [self.name, self.kind, self.weight, self.reward, self.penalty, *self.fields.values()]

    def read(self, values: dict) -> RewardRow:
        kind = values[self.kind]
        own = KINDS[kind].fields() if kind in KINDS else []
        return RewardRow(name=values[self.name], kind=kind, weight=values[self.weight], reward=values[self.reward],
                         penalty=values[self.penalty],
                         values={name: values[self.fields[name]] for name in own if name in self.fields})

    def write(self, row: RewardRow | None) -> dict:
        """The row's values, with the fields of its kind shown (their help is the kind's) and the others hidden."""
        if row is None:
            return {self.group: gr.update(visible=False)}
        updates = {self.name: row.name, self.kind: row.kind, self.weight: row.weight, self.reward: row.reward,
                   self.penalty: row.penalty}
        own = KINDS[row.kind].fields() if row.kind in KINDS else []
        for name, component in self.fields.items():
            if name in own:
                updates[component] = gr.update(value=row.values.get(name), visible=True,
                                               info=reward_field_help(row.kind, name))
            else:
                updates[component] = gr.update(visible=False)
        updates[self.help] = kind_help(row.kind)
        updates[self.group] = gr.update(visible=True)
        return updates

    def write_outputs(self) -> list:
        return [self.group, self.help] + self.value_components()


@dataclass
class FormWidgets:
    model_name: gr.Textbox
    preset: gr.Radio
    settings: dict[str, gr.components.Component]
    data_path: gr.Textbox
    prompt_column: gr.Dropdown
    answer_column: gr.Dropdown
    answer_pattern: gr.Textbox
    system_prompt: gr.Textbox
    thought_open: gr.Textbox
    thought_close: gr.Textbox
    answer_open: gr.Textbox
    answer_close: gr.Textbox
    reward_count: gr.State
    slots: list[RewardSlot] = field(default_factory=list)
    preset_choices: list[str] = field(default_factory=list)  # a radio refuses any other value

    def value_components(self) -> set:
        """Every widget whose value is part of the run's config (inputs for handlers that build it)."""
        components = {self.model_name, self.preset, self.data_path, self.prompt_column, self.answer_column,
                      self.answer_pattern, self.system_prompt, self.thought_open, self.thought_close,
                      self.answer_open, self.answer_close, self.reward_count, *self.settings.values()}
        for slot in self.slots:
            components.update(slot.value_components())
        return components

    def read_rows(self, values: dict) -> list:
        return [slot.read(values) for slot in self.slots[: values[self.reward_count]]]

    def read(self, values: dict) -> FormValues:
        return FormValues(
            model_name=values[self.model_name] or "", preset=values[self.preset],
            settings={key: values[component] for key, component in self.settings.items()},
            data_path=values[self.data_path] or "", prompt_column=values[self.prompt_column],
            answer_column=column_value(values[self.answer_column]), answer_pattern=values[self.answer_pattern] or "",
            system_prompt=values[self.system_prompt] or "",
            thought_tags=(values[self.thought_open] or "", values[self.thought_close] or ""),
            answer_tags=(values[self.answer_open] or "", values[self.answer_close] or ""),
            rewards=self.read_rows(values))

    def write_rows(self, rows: list) -> dict:
        updates = {self.reward_count: len(rows)}
        for index, slot in enumerate(self.slots):
            updates |= slot.write(rows[index] if index < len(rows) else None)
        return updates

    def rows_outputs(self) -> list:
        return [self.reward_count] + [c for slot in self.slots for c in slot.write_outputs()]

    def write(self, form: FormValues, columns: list[str] | None = None, include_data: bool = True) -> dict:
        """Updates that show `form` in every widget. `columns` are the data file's columns for the dropdowns."""
        preset = form.preset if form.preset in self.preset_choices else None
        updates = {self.model_name: form.model_name, self.preset: preset,
                   self.answer_pattern: form.answer_pattern, self.system_prompt: form.system_prompt,
                   self.thought_open: form.thought_tags[0], self.thought_close: form.thought_tags[1],
                   self.answer_open: form.answer_tags[0], self.answer_close: form.answer_tags[1]}
        updates |= {component: form.settings[key] for key, component in self.settings.items() if key in form.settings}
        if include_data:
            choices = list(columns or [])
            for value in (form.prompt_column, form.answer_column):
                if value and value not in choices:
                    choices.append(value)
            updates[self.data_path] = form.data_path
            updates[self.prompt_column] = gr.update(choices=choices, value=form.prompt_column)
            updates[self.answer_column] = gr.update(choices=[strings.DATA_NO_ANSWER] + choices,
                                                    value=form.answer_column or strings.DATA_NO_ANSWER)
        return updates | self.write_rows(form.rewards)

    def write_outputs(self, include_data: bool = True) -> list:
        outputs = [self.model_name, self.preset, self.answer_pattern, self.system_prompt, self.thought_open,
                   self.thought_close, self.answer_open, self.answer_close, *self.settings.values()]
        if include_data:
            outputs += [self.data_path, self.prompt_column, self.answer_column]
        return outputs + self.rows_outputs()


def column_value(value: str | None) -> str | None:
    """The answer-column dropdown's '(none)' means no answer column."""
    return None if value in (None, "", strings.DATA_NO_ANSWER) else value

"""Step 2 · Preset: the presets with their descriptions (those this machine cannot run are shown with the reason
and cannot be chosen), and every model.* and train.* setting in a collapsed accordion, each with its help."""

from __future__ import annotations

import gradio as gr

from engine.checks import batch_problems, machine_problems
from engine.config import build_config
from engine.presets import list_presets
from engine.problems import ConfigError

from app import machine, strings
from app.form_state import (
    MODEL_SETTINGS,
    TRAIN_SETTINGS,
    FormValues,
    form_to_config,
    problem_sentence,
    sentence,
    with_preset,
)
from app.form_widgets import setting_component
from app.safe import guarded
from app.steps import model_view
from app.steps.page import Page, PresetStep, wire_next

DEFAULT_PRESET = "rlvr-math"
SETTINGS_PER_ROW = 3


def unavailable_reason(preset: str) -> str | None:
    """Why this machine cannot run the preset (e.g. FP8 without an FP8 GPU), or None."""
    try:
        config = build_config({"preset": preset})
    except ConfigError as error:
        return sentence(error.problems[0].message).rstrip(".")
    fp8_first = sorted(machine_problems(config, machine.gpu_info()), key=lambda p: p.key != "model.load_in_fp8")
    return fp8_first[0].message if fp8_first else None


def preset_cards() -> tuple[str, list[str]]:
    """Markdown describing every preset, and the names that can be chosen here."""
    cards, usable = [], []
    for preset in list_presets():
        reason = unavailable_reason(preset.name)
        if reason:
            cards.append(strings.PRESET_UNAVAILABLE.format(name=preset.name, description=preset.description,
                                                           reason=reason))
        else:
            cards.append(strings.PRESET_CARD.format(name=preset.name, description=preset.description))
            usable.append(preset.name)
    return "\n\n".join(cards), usable


def _settings_grid(keys: list[str], form: FormValues) -> dict:
    components = {}
    for start in range(0, len(keys), SETTINGS_PER_ROW):
        with gr.Row(equal_height=True):
            for key in keys[start:start + SETTINGS_PER_ROW]:
                components[key] = setting_component(key, form.settings.get(key))
    return components


def build(form: FormValues) -> PresetStep:
    with gr.Tab(strings.TAB_PRESET, id="preset", elem_id="tab-preset") as tab:
        gr.Markdown(strings.PRESET_INTRO)
        cards, usable = preset_cards()
        preset = gr.Radio(usable, value=form.preset if form.preset in usable else None, label=strings.PRESET_LABEL,
                          elem_id="preset-pick")
        gr.Markdown(cards, elem_id="preset-cards")
        with gr.Accordion(strings.ADVANCED_LABEL, open=False, elem_id="advanced-settings"):
            gr.Markdown(strings.ADVANCED_TRAIN_HEADING)
            settings = _settings_grid(TRAIN_SETTINGS, form)
            gr.Markdown(strings.ADVANCED_MODEL_HEADING)
            settings |= _settings_grid(MODEL_SETTINGS, form)
        errors = gr.Markdown("", elem_id="settings-errors", elem_classes=["gs-error"])
        next_button = gr.Button(strings.NEXT, elem_id="preset-next", size="sm", elem_classes=["gs-next"])
    return PresetStep(tab, preset, usable, settings, errors, next_button)


def settings_problems(problems) -> str:
    """The problems of this step's settings (model.* but the name, train.*), one line each."""
    mine = [p for p in problems if p.key.startswith(("train.", "model.")) and p.key != "model.name"]
    return "  \n".join(f"✗ {problem_sentence(p)}" for p in mine)


def wire(page: Page) -> None:
    step, form = page.preset, page.form
    wire_next(step.next, page.tabs, "data")

    @guarded
    def choose(values: dict) -> dict:
        chosen = with_preset(form.read(values), values[form.preset], page.cpu_demo)
        return form.write(chosen, include_data=False)

    step.preset.input(choose, inputs=form.value_components(), outputs=form.write_outputs(include_data=False),
                      show_progress="hidden").then(
        guarded(lambda values: model_view.view_updates(page, values)), inputs=form.value_components(),
        outputs=model_view.view_outputs(page.model), show_progress="hidden")

    @guarded
    def settings_errors(values: dict) -> str:
        try:
            config = form_to_config(form.read(values))
        except ConfigError as error:
            return settings_problems(error.problems)
        return settings_problems(batch_problems(config))  # e.g. a batch that does not hold whole groups

    setting_widgets = [c for key, c in form.settings.items() if not key.startswith("data.")]
    gr.on([c.change for c in setting_widgets], settings_errors, inputs=form.value_components(),
          outputs=step.errors, show_progress="hidden", trigger_mode="always_last")

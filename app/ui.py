"""The Gradio Blocks: the six steps as tabs. Each step module (app/steps/) builds its tab and wires its own events;
this module only puts them together (like LLaMA-Factory's webui/interface.py over its components/*).

State lives in the widgets (the run's settings, also kept in the browser so that a reload restores them) and in run
folders (everything about runs); the only session state is which run the user asked the Train view to show.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from engine.problems import ConfigError

from app import machine, strings
from app.data_tables import guess_columns, read_table, sample_path
from app.example_runs import example_ids
from app.form_state import FormValues, with_preset
from app.form_widgets import FormWidgets
from app.steps import data_step, form_memory, model_step, preset_step, results_step, rewards_step, train_step
from app.steps.model_view import config_or_none
from app.steps.page import Page, redraw_after

CSS_PATH = Path(__file__).with_name("style.css")
STEPS = (model_step, preset_step, data_step, rewards_step, train_step, results_step)
WIRED = STEPS + (form_memory,)  # the form kept in the browser, across page reloads


def initial_form(cpu_demo: bool) -> FormValues:
    """What the form shows on a fresh page: the default preset and model, and the bundled sample data."""
    form = with_preset(FormValues(model_name=model_step.default_model()), preset_step.DEFAULT_PRESET, cpu_demo)
    form.data_path = sample_path()
    try:
        form.prompt_column, form.answer_column = guess_columns(
            list(read_table(form.data_path).column_names))
    except ConfigError:
        pass
    return form


def build_ui() -> gr.Blocks:
    return build_page().demo


def build_page() -> Page:
    """The page with every step built and wired (the tests call its handlers through it)."""
    cpu_demo = machine.cpu_demo_mode()
    initial = initial_form(cpu_demo)
    with gr.Blocks(title=strings.TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {strings.TITLE}\n{strings.TAGLINE}", elem_id="app-title")
        example_button = cpu_demo_banner() if cpu_demo else None
        with gr.Tabs(elem_id="steps") as tabs:
            model = model_step.build(initial.model_name, config_or_none(initial))
            preset = preset_step.build(initial)
            data = data_step.build(initial)
            rewards = rewards_step.build(initial)
            train = train_step.build()
            results = results_step.build()
        form = FormWidgets(
            model_name=model.name, preset=preset.preset, settings=preset.settings | data.settings | rewards.settings,
            data_path=data.path, prompt_column=data.prompt_column, answer_column=data.answer_column,
            answer_pattern=data.answer_pattern, system_prompt=rewards.system_prompt,
            thought_open=rewards.thought_open, thought_close=rewards.thought_close,
            answer_open=rewards.answer_open, answer_close=rewards.answer_close,
            reward_count=gr.State(len(initial.rewards)), slots=rewards.slots, preset_choices=preset.choices)
        page = Page(demo=demo, tabs=tabs, form=form, watched_run=gr.State(None), cpu_demo=cpu_demo, model=model,
                    preset=preset, data=data, rewards=rewards, train=train, results=results)
        for module in WIRED:
            module.wire(page)
        if example_button is not None:
            # As the Results tab's "Show in the Train view": watch the bundled run, then redraw in the ticks' queue.
            redraw_after(page, example_button.click(
                lambda: {page.watched_run: example_ids()[0], tabs: gr.Tabs(selected="train")},
                outputs=[page.watched_run, tabs], show_progress="hidden"))
    return page


def cpu_demo_banner() -> gr.Button | None:
    """What a CPU cannot show, and a button that opens the bundled GPU run in the Train view (None if none is
    bundled)."""
    reason = machine.cpu_demo_reason()
    with gr.Column(elem_id="cpu-demo-banner", elem_classes=["gs-banner"]):
        gr.Markdown(strings.CPU_DEMO_BANNER + (f"  \n{strings.CPU_DEMO_WHY} {reason}" if reason else ""))
        return gr.Button(strings.CPU_DEMO_EXAMPLE_BUTTON, size="sm", elem_id="cpu-demo-example") \
            if example_ids() else None

"""Step 1 · Model: recommended models with their size and VRAM estimate against this machine, or any hub id /
local folder, validated as it is typed."""

from __future__ import annotations

import gradio as gr

from engine import builtin_models
from engine.config import RunConfig

from app import machine, strings
from app.safe import guarded
from app.steps.model_view import (
    RECOMMENDED_MODELS,
    config_or_none,
    model_summary,
    models_table,
    view_outputs,
    view_updates,
)
from app.steps.page import ModelStep, Page, wire_next

GPU_DEFAULT_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"


def default_model() -> str:
    return builtin_models.TINY if machine.cpu_demo_mode() else GPU_DEFAULT_MODEL


def machine_text() -> str:
    gpus = machine.visible_gpus()
    if not gpus:
        return strings.MODEL_NO_GPU
    if len(gpus) == 1:
        return strings.MODEL_GPU.format(description=gpus[0].describe())
    return "\n".join([strings.MODEL_GPUS] + [strings.MODEL_GPU_ROW.format(index=g.index, name=g.name,
                                                                           total=g.total_gib) for g in gpus])


def build(model_name: str, config: RunConfig | None) -> ModelStep:
    with gr.Tab(strings.TAB_MODEL, id="model", elem_id="tab-model") as tab:
        gr.Markdown(strings.MODEL_INTRO)
        machine_md = gr.Markdown(machine_text(), elem_id="machine-info")
        with gr.Row():
            with gr.Column(scale=3):
                table = gr.Dataframe(models_table(config), interactive=False, elem_id="models-table", wrap=True)
            with gr.Column(scale=2):
                pick = gr.Radio(RECOMMENDED_MODELS, value=model_name if model_name in RECOMMENDED_MODELS else None,
                                label=strings.MODEL_PICK_LABEL, elem_id="model-pick")
        name = gr.Textbox(model_name, label=strings.MODEL_NAME_LABEL, info=strings.MODEL_NAME_INFO,
                          elem_id="model-name")
        summary = gr.Markdown(model_summary(model_name, config), elem_id="model-summary")
        next_button = gr.Button(strings.NEXT, elem_id="model-next", size="sm", elem_classes=["gs-next"])
    return ModelStep(tab, machine_md, table, pick, name, summary, next_button)


def wire(page: Page) -> None:
    step, form = page.model, page.form
    wire_next(step.next, page.tabs, "preset")
    step.pick.input(lambda choice: choice, inputs=step.pick, outputs=step.name, show_progress="hidden")
    step.name.change(lambda name: gr.update(value=name if name in RECOMMENDED_MODELS else None),
                     inputs=step.name, outputs=step.pick, show_progress="hidden")

    @guarded
    def summarise(values: dict) -> str:
        current = form.read(values)
        return model_summary(current.model_name, config_or_none(current))

    step.name.change(summarise, inputs=form.value_components(), outputs=step.summary, show_progress="hidden",
                     trigger_mode="always_last")
    # Back on this step after changing settings: the estimates follow them.
    step.tab.select(guarded(lambda values: view_updates(page, values)), inputs=form.value_components(),
                    outputs=view_outputs(step), show_progress="hidden")

"""The page as every step's wiring sees it: the form (whose widgets live in steps 1–4), the tabs, the run the user
asked the Train view to show, and each step's widgets.

Like LLaMA-Factory's webui (components/* build and wire a tab each; interface.py assembles them; the Manager holds
every element), each step module here builds its tab (`build`) and connects its own events (`wire`). The form spans
four tabs, so building comes first for all steps and wiring second: a step's events may then read any widget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr

from app.form_widgets import FormWidgets

if TYPE_CHECKING:
    from app.steps.data_step import DataStep
    from app.steps.model_step import ModelStep
    from app.steps.preset_step import PresetStep
    from app.steps.results_step import ResultsStep
    from app.steps.rewards_step import RewardsStep
    from app.steps.train_step import TrainStep


@dataclass
class Page:
    demo: gr.Blocks
    tabs: gr.Tabs
    form: FormWidgets
    # The run the user asked the Train view to show (Show in the Train view), or None: the run that trains now, else
    # the newest (app/steps/train_step.py, shown_run). The one thing about runs the page holds.
    watched_run: gr.State
    cpu_demo: bool
    model: ModelStep
    preset: PresetStep
    data: DataStep
    rewards: RewardsStep
    train: TrainStep
    results: ResultsStep


def wire_next(button: gr.Button, tabs: gr.Tabs, target: str) -> None:
    """A step's "Next →" button opens the tab `target`."""
    button.click(lambda: gr.Tabs(selected=target), outputs=tabs, show_progress="hidden")

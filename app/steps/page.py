"""The page as every step's wiring sees it: the form (whose widgets live in steps 1–4), the tabs, the run the user
asked the Train view to show, and each step's widgets (each step's and each box's dataclass is here, below every step
module, so that a step reads another step's widgets without importing it).

Like LLaMA-Factory's webui (components/* build and wire a tab each; interface.py assembles them; the Manager holds
every element), each step module here builds its tab (`build`) and connects its own events (`wire`). The form spans
four tabs, so building comes first for all steps and wiring second: a step's events may then read any widget.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.form_widgets import FormWidgets, RewardSlot

# ---------------------------------------------------------------------------------------------------------------
# The boxes some steps share or own

@dataclass
class CurationBox:
    button: gr.Button
    result: gr.Markdown
    apply: gr.Button  # "Train on those N questions": the data step takes the curated file
    report: gr.State  # the last curation.json, for the apply button


@dataclass
class ProbeBox:
    button: gr.Button
    verdict: gr.Markdown
    apply: gr.Button
    report: gr.State  # the last probe.json, for the apply button
    curation: CurationBox


@dataclass
class Housekeeping:
    queue: gr.Markdown
    free_space: gr.Markdown
    queue_buttons: gr.Row
    earlier: gr.Button
    later: gr.Button
    cancel: gr.Button
    delete: gr.Button
    confirm: gr.Group
    confirm_text: gr.Markdown
    confirm_yes: gr.Button
    confirm_no: gr.Button
    confirming: gr.State  # the run the open confirmation names (held by the server, per page); None when closed

    def outputs(self) -> list:
        """What `status_updates` sets."""
        return [self.queue, self.free_space, self.queue_buttons]


@dataclass
class SampleHistory:
    step: gr.Slider
    caption: gr.Markdown
    table: gr.Dataframe
    shown: gr.State  # {"run": id, "step": shown or None, "last": the newest logged step, "follow": shows the newest}

    def outputs(self) -> list:
        return [self.step, self.caption, self.table, self.shown]


@dataclass
class TensorBoardPanel:
    logs: gr.Markdown
    start: gr.Button
    status: gr.Markdown


# ---------------------------------------------------------------------------------------------------------------
# The steps, in the order of the tabs

@dataclass
class ModelStep:
    tab: gr.Tab
    machine: gr.Markdown
    table: gr.Dataframe
    pick: gr.Radio
    name: gr.Textbox
    summary: gr.Markdown
    next: gr.Button


@dataclass
class PresetStep:
    tab: gr.Tab
    preset: gr.Radio
    choices: list[str]
    settings: dict
    errors: gr.Markdown
    next: gr.Button


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
    use_arithmetic: gr.Button  # the bundled learnable task (engine.arithmetic_task) of the difficulty picked
    arithmetic_difficulty: gr.Dropdown


@dataclass
class RewardsStep:
    tab: gr.Tab
    slots: list[RewardSlot]
    add: gr.Button
    list_message: gr.Markdown
    system_prompt: gr.Textbox
    thought_open: gr.Textbox
    thought_close: gr.Textbox
    answer_open: gr.Textbox
    answer_close: gr.Textbox
    settings: dict[str, gr.components.Component]  # PROMPT_SETTINGS
    question: gr.Markdown  # the data row the completion is graded against
    completion: gr.Textbox
    gold: gr.Textbox  # that row's gold answer (shown, not edited: it comes from the data)
    generate: gr.Button
    generate_message: gr.Markdown
    generated_row: gr.State  # (data path, the row's columns) of the question "Generate one" answered
    total: gr.Markdown
    breakdown: gr.Dataframe
    probe: ProbeBox
    next: gr.Button


@dataclass
class TrainStep:
    tab: gr.Tab
    summary: gr.Markdown
    facts: gr.Markdown
    busy: gr.Markdown  # while a run trains: not now, or into the queue (from the run folders, with the view)
    check: gr.Button
    launch: gr.Button
    queue: gr.Button  # shown while a run trains: this run waits in the queue and starts when that one ends
    stop: gr.Button
    message: gr.Markdown
    probe: ProbeBox
    no_run: gr.Markdown
    live: gr.Column
    header: gr.Markdown
    state: gr.Markdown
    step: gr.Markdown
    times: gr.Markdown
    progress: gr.HTML
    vram: gr.HTML
    error: gr.Markdown
    log: gr.DownloadButton
    curves_note: gr.Markdown
    curves: gr.Column
    reward_plot: gr.LinePlot
    heldout_plot: gr.LinePlot
    spread_plot: gr.LinePlot
    length_plot: gr.LinePlot
    loss_plot: gr.LinePlot
    hints: gr.Markdown
    samples: gr.Dataframe
    yaml_button: gr.Button
    yaml: gr.Code
    yaml_download: gr.DownloadButton
    timer: gr.Timer
    signature: gr.State

    def view_outputs(self) -> list:
        return [self.no_run, self.live, self.header, self.state, self.step, self.times, self.progress, self.vram,
                self.error, self.log, self.curves_note, self.curves, self.reward_plot, self.heldout_plot,
                self.spread_plot, self.length_plot, self.loss_plot, self.hints, self.samples, self.stop, self.launch,
                self.queue, self.busy, self.message, self.timer, self.signature]

    def redraw_outputs(self) -> list:
        return [self.signature, self.timer]

    def redraw(self, signature: tuple | None) -> dict:
        """Everything is drawn again on the next tick, which comes now; the signature keeps only which run was shown
        (a run that just ended stays in view)."""
        return {self.signature: signature[:1] if signature else None, self.timer: gr.Timer(active=True)}


@dataclass
class ResultsStep:
    tab: gr.Tab
    runs: gr.Dataframe
    pick: gr.Dropdown
    attach: gr.Button
    resume: gr.Button
    use_settings: gr.Button
    message: gr.Markdown
    adapter: gr.Radio  # best checkpoint (default) or last adapter, for eval, chat and export
    eval_limit: gr.Number
    eval_button: gr.Button
    eval_result: gr.Markdown
    chat_prompt: gr.Textbox
    chat_button: gr.Button
    chat_base: gr.Textbox
    chat_tuned: gr.Textbox
    chat_note: gr.Markdown
    export_zip: gr.Button
    export_merge: gr.Button
    export_result: gr.Markdown
    download_adapter: gr.DownloadButton
    download_config: gr.DownloadButton
    timer: gr.Timer
    export_merged_zip: gr.Button
    gguf_type: gr.Dropdown
    export_gguf: gr.Button
    download_merged: gr.DownloadButton
    download_gguf: gr.DownloadButton
    housekeeping: Housekeeping
    history: SampleHistory
    tensorboard: TensorBoardPanel


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


# The Train view's ticks and the requests to redraw it run one at a time, in order (app/steps/train_step.py).
VIEW_QUEUE = {"concurrency_id": "train-view", "concurrency_limit": 1}


def redraw_after(page: Page, event) -> None:
    """After `event` (which may have changed what the Train view shows: the watched run, a run started, resumed,
    stopped or deleted), the view redraws everything on its next tick. The request runs in the ticks' queue, so a tick
    computed before the event cannot land after it."""
    step = page.train
    event.then(step.redraw, inputs=step.signature, outputs=step.redraw_outputs(), show_progress="hidden",
               **VIEW_QUEUE)


def wire_next(button: gr.Button, tabs: gr.Tabs, target: str) -> None:
    """A step's "Next →" button opens the tab `target`."""
    button.click(lambda: gr.Tabs(selected=target), outputs=tabs, show_progress="hidden")

"""The results step's history of sampled completions: samples.jsonl keeps a few completions of every logged step,
and a slider picks the step to read (the Train view shows only the latest ones). While the slider stands at the
newest step it follows the run as it logs more; moved back, it stays where it was put."""

from __future__ import annotations

import gradio as gr

from engine.config import load_config
from engine.problems import ConfigError
from engine.runs.folder import RunFolder, UnreadableFile, read_jsonl

from app import file_cache, run_view, strings
from app.runs_list import picked_run
from app.safe import guarded
from app.steps.page import Page, SampleHistory


def build() -> SampleHistory:
    gr.Markdown(strings.HISTORY_HEADING)
    step = gr.Slider(1, 2, value=1, step=1, label=strings.HISTORY_STEP, elem_id="history-step", interactive=False)
    caption = gr.Markdown(strings.HISTORY_NONE, elem_id="history-caption")
    table = gr.Dataframe(run_view.samples_frame([]), interactive=False, wrap=True, max_height=420,
                         elem_id="history-table")
    return SampleHistory(step, caption, table, gr.State(None))


def _weights(run: RunFolder) -> dict[str, float] | None:
    try:
        return {spec.name: spec.weight for spec in load_config(run.config_path).rewards}
    except ConfigError:
        return None


def no_samples_caption(run: RunFolder | None) -> str:
    """Why a run shows no completions: its samples file cannot be read, the run is damaged, or none are logged yet."""
    if run is None:
        return strings.HISTORY_NONE
    try:
        read_jsonl(run.samples_path)
    except UnreadableFile as error:
        return strings.HISTORY_UNREADABLE.format(file=run.samples_path.name, reason=error)
    status = run.status()
    if status.state == "unreadable":
        return strings.HISTORY_DAMAGED.format(error=status.error)
    return strings.HISTORY_NONE


def view(history: SampleHistory, run: RunFolder | None, step: float | None) -> dict:
    """Everything the history shows for `run` at `step` (None: the newest logged step, followed from then on)."""
    samples = file_cache.samples(run) if run is not None else []
    steps = run_view.logged_steps(samples)
    shown, picked = run_view.samples_at_step(samples, step)
    state = {"run": run.id if run else None, "step": shown, "last": steps[-1] if steps else None,
             "follow": step is None or (bool(steps) and step >= steps[-1])}
    if shown is None:
        return {history.step: gr.update(minimum=1, maximum=2, value=1, interactive=False),
                history.caption: no_samples_caption(run), history.table: run_view.samples_frame([]),
                history.shown: state}
    frame = run_view.samples_frame(picked, _weights(run), rows=len(picked))
    # A slider needs two distinct ends; with one logged step the step after it shows that step too.
    return {history.step: gr.update(minimum=steps[0], maximum=max(steps[-1], steps[0] + 1), value=shown,
                                    interactive=True),
            history.caption: strings.HISTORY_SHOWN.format(step=shown, count=len(picked), s="s"[:len(picked) != 1],
                                                          steps=len(steps), first=steps[0], last=steps[-1]),
            history.table: gr.update(value=frame, column_widths=run_view.samples_column_widths(frame)),
            history.shown: state}


# One queue for every redraw of the history, so that they land in the order they read the files: a redraw computed
# from an older samples file (a tab opened before the run logged) never lands after one computed from the newer.
HISTORY_QUEUE = {"concurrency_id": "sample-history", "concurrency_limit": 1}


def wire(page: Page, ticked) -> None:
    """`ticked`: the runs list's timer refresh. The history's own tick runs after it, so the tick on which the runs
    list sees the run end (and stops the timer) also reads the run's last samples (CI saw the caption stay on a step
    read before the run ended, with the timer stopped)."""
    results = page.results
    history = results.history

    @guarded
    def newest(run_id: str | None) -> dict:
        return view(history, picked_run(run_id), None)

    gr.on([results.pick.change, results.tab.select], newest, inputs=results.pick, outputs=history.outputs(),
          show_progress="hidden", **HISTORY_QUEUE)
    gr.on([history.step.release, history.step.input],
          guarded(lambda run_id, step: view(history, picked_run(run_id), step)),
          inputs=[results.pick, history.step], outputs=history.outputs(), show_progress="hidden",
          trigger_mode="always_last", **HISTORY_QUEUE)

    @guarded
    def on_tick(run_id: str | None, shown: dict | None):
        """New steps of a training run: followed when the slider stands at the newest step, else only reachable."""
        run = picked_run(run_id)
        steps = run_view.logged_steps(file_cache.samples(run)) if run is not None else []
        if not steps or (shown and shown.get("run") == run_id and shown.get("last") == steps[-1]):
            return {history.shown: gr.skip()}  # nothing new (an empty dict would be taken for one output's value)
        if not shown or shown.get("run") != run_id or shown.get("follow"):
            return view(history, run, None)
        return {history.step: gr.update(maximum=max(steps[-1], steps[0] + 1)),
                history.shown: shown | {"last": steps[-1]}}

    ticked.then(on_tick, inputs=[results.pick, history.shown], outputs=history.outputs(), show_progress="hidden",
                **HISTORY_QUEUE)

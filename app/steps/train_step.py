"""Step 5 · Train: what will happen (engine.checks) and the Launch button; then the live view of one run, redrawn from
its folder every TICK_S seconds: progress, VRAM, reward curves, recent samples, health hints, Stop.

One source of truth per page: the page holds only which run the user asked to watch (`Page.watched_run`: a run id,
or None to follow the run that trains now, else the newest). Everything the view shows — which run, its state, its
curves and samples, whether another run trains (the busy line), Launch, Add to the queue and Stop — is read from the
run folders by one function (`view_updates`) in one event, the timer's tick. Every other event that changes what the
view should show (launch, resume, Show in the Train view, delete, a reload, opening the tab) only asks for a redraw
(`redraw_after`); that request runs in the ticks' own queue, so no tick computed for the run shown before can land
after it. So no view shows two runs at once, nor a state the run left minutes ago."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import gradio as gr

from engine import gpu, settings
from engine.checks import DURATION_FACT, CheckReport, check_config
from engine.config import RunConfig, load_config
from engine.evaluation import accuracy_metric
from engine.problems import ConfigError
from engine.runs import lock as run_lock
from engine.runs import queue as run_queue
from engine.runs.folder import ACTIVE_STATES, RunFolder, list_runs

from app import example_runs, file_cache, machine, run_view, runner, strings
from app.form_state import FormValues, form_to_config, problem_sentence, sentence
from app.runs_list import picked_run
from app.safe import guarded
from app.steps import probe_box
from app.steps.page import VIEW_QUEUE, Page, TrainStep, redraw_after

TICK_S = 1.5
HELDOUT_RANGE = [-0.05, 1.05]  # shares: 0% and 100% drawn inside the plot


def tab_of(key: str) -> str:
    return next((tab for prefix, tab in strings.TAB_OF_KEY if key.startswith(prefix)), "")


def problems_markdown(problems, names: tuple[str, ...] = ()) -> str:
    """One line a problem: the sentence in plain words first, then the tab where it is fixed."""
    lines = [f"- {strings.PROBLEM_WHERE.format(problem=problem_sentence(p, names), tab=tab_of(p.key))}"
             if tab_of(p.key) else f"- {problem_sentence(p, names)}" for p in problems]
    return strings.TRAIN_NOT_READY + "\n" + "\n".join(lines)


@dataclass
class CheckSummary:
    verdict: str  # ready or the problems, then the warnings
    facts: str  # what will happen (machine, backend, batch, data, VRAM estimate), shown collapsed
    reasons: list[str] = field(default_factory=list)  # why it cannot launch, one sentence each (the refusal's toast)


def report_summary(report: CheckReport, names: tuple[str, ...] = ()) -> CheckSummary:
    parts = [problems_markdown(report.problems, names) if report.problems else strings.TRAIN_READY]
    if DURATION_FACT in report.facts:  # in sight beside Launch, not only among the collapsed facts
        parts.append(strings.TRAIN_DURATION.format(duration=report.facts[DURATION_FACT]))
    if report.warnings:
        parts.append(strings.TRAIN_WARNINGS + "\n" + "\n".join(f"- ⚠ {sentence(w)}" for w in report.warnings))
    facts = "\n".join(f"- **{key}:** {value}" for key, value in report.facts.items())
    return CheckSummary("\n\n".join(parts), facts, [problem_sentence(p, names) for p in report.problems])


def check_form(form: FormValues) -> tuple[RunConfig | None, CheckSummary]:
    """The config (None when it has problems) and the summary to show above the Launch button."""
    names = (Path(form.data_path or "").name,)
    try:
        config = form_to_config(form)
    except ConfigError as error:
        return None, CheckSummary(problems_markdown(error.problems, names), "",
                                  [problem_sentence(p, names) for p in error.problems])
    report = check_config(config)
    return (config if report.ok else None), report_summary(report, names)


def launch_check(form: FormValues) -> tuple[RunConfig | None, CheckSummary]:
    """check_form for Launch, which also refuses while a run trains (the busy line beside it says so): one run at a
    time fits on the GPU."""
    config, summary = check_form(form)
    live = runner.active_run()
    if live is None:
        return config, summary
    return None, CheckSummary(summary.verdict, summary.facts, [busy_sentence(live)] + summary.reasons)


def busy_sentence(live: RunFolder) -> str:
    return strings.ONE_RUN_AT_A_TIME.format(id=live.id, state=live.state())


def busy_markdown(live: RunFolder | None) -> str:
    """The line beside Launch while a run trains (whichever run the view shows): not now, or into the queue."""
    if live is None:
        return ""
    return f"{strings.TRAIN_WAIT_FOR_RUN.format(busy=busy_sentence(live))} {strings.TRAIN_OR_QUEUE}"


# ---------------------------------------------------------------------------------------------------------------
# The live view

def shown_run(watched: str | None, last_shown: str | None = None) -> RunFolder | None:
    """The run the Train view shows: the one the user asked to watch while it exists, else the run that trains now,
    else the one it showed last (a run that just ended stays in view) unless a run started after it ended, else the
    newest."""
    for run in (picked_run(watched), runner.active_run()):
        if run is not None:
            return run
    runs = list_runs(settings.runs_dir())
    newest, last = (runs[0] if runs else None), picked_run(last_shown)
    if last is not None and not (newest is not None and newest.path != last.path and _started_after(newest, last)):
        return last
    return newest


def _started_after(run: RunFolder, ended: RunFolder) -> bool:
    """`run` began training after `ended` finished: the queue's next run, handed the GPU. A 2-step run can start and
    end between two ticks of a busy page (CI saw the view stay on the run that handed over)."""
    status, finished = run.read_status(), ended.read_status().finished
    began = max((t for t in (status.started, status.session_started) if t is not None), default=None)  # its latest
    return began is not None and finished is not None and began >= finished


def _run_config(run: RunFolder) -> RunConfig | None:
    try:
        return load_config(run.config_path)
    except ConfigError:
        return None


def files_signature(run: RunFolder) -> tuple:
    """Which run the view drew (as the page names it) and its files' stamps; a redraw request keeps only the name."""
    return (example_runs.page_id(run), file_cache.stamp(run.events_path), file_cache.stamp(run.samples_path))


def _plot(label: str, y_title: str, elem_id: str, y_format: str = "~r", **extra) -> gr.LinePlot:
    # No fixed height: with one, Gradio 6 clips the legend under the chart. Steps are whole numbers ("d"); values
    # drop trailing zeros ("~r": 0.5 and 250, not 0.500000 or 2.5e+2).
    return gr.LinePlot(None, x="step", y="value", color="series", color_title="", label=label, x_title="step",
                       y_title=y_title, elem_id=elem_id, min_width=300, x_axis_format="d", y_axis_format=y_format,
                       **extra)


def plot_update(frame, x_range: list[float], y_range: list[float] | None = None, **extra) -> dict:
    """A plot's new frame with its axes: whole steps from 0, and a margin around the values."""
    return gr.update(value=frame, x_lim=x_range, y_lim=y_range or run_view.value_axis(frame), **extra)


def build() -> TrainStep:
    with gr.Tab(strings.TAB_TRAIN, id="train", elem_id="tab-train") as tab:
        gr.Markdown(strings.TRAIN_CHECK_HEADING)
        summary = gr.Markdown(strings.TRAIN_CHECKING, elem_id="train-summary")
        with gr.Accordion(strings.TRAIN_FACTS, open=False, elem_id="train-facts-box"):
            facts = gr.Markdown("", elem_id="train-facts")
        busy = gr.Markdown("", elem_id="train-busy")
        with gr.Row():
            check = gr.Button(strings.TRAIN_CHECK_BUTTON, size="sm", elem_id="check-button", scale=0, min_width=140)
            launch = gr.Button(strings.TRAIN_LAUNCH, variant="primary", elem_id="launch-button", scale=1)
            queue = gr.Button(strings.TRAIN_QUEUE, elem_id="queue-button", visible=False, scale=1)
            stop = gr.Button(strings.TRAIN_STOP, variant="stop", elem_id="stop-button", interactive=False, scale=0,
                             min_width=240)
        message = gr.Markdown("", elem_id="launch-message")
        probe = probe_box.build("train")
        no_run = gr.Markdown(strings.TRAIN_NO_RUN, elem_id="no-run")
        with gr.Column(visible=False, elem_id="live-view") as live:
            with gr.Group(elem_id="run-view"):
                header = gr.Markdown("", elem_id="run-header", padding=True)
                with gr.Row(equal_height=True):
                    state = gr.Markdown("", elem_id="run-state", padding=True)
                    step = gr.Markdown("", elem_id="step-counter", padding=True, elem_classes=["gs-step"])
                    times = gr.Markdown("", elem_id="run-times", padding=True)
                progress = gr.HTML(run_view.bar_html(0, "", "progress-bar"), elem_id="progress")
                vram = gr.HTML(run_view.vram_html({}), elem_id="vram")
                error = gr.Markdown("", elem_id="run-error", elem_classes=["gs-error"], padding=True)
                log = gr.DownloadButton(strings.TRAIN_LOG_DOWNLOAD, visible=False, size="sm", elem_id="log-download")
            curves_note = gr.Markdown(strings.CURVES_PENDING, elem_id="curves-note")
            with gr.Column(visible=False, elem_id="curves") as curves:
                with gr.Row():
                    reward_plot = _plot(strings.PLOT_REWARD, "reward", "reward-plot")
                    heldout_plot = _plot(strings.PLOT_HELDOUT, "share", "heldout-plot", y_format=".0%",
                                         visible=False)
                with gr.Row():
                    spread_plot = _plot(strings.PLOT_SPREAD, "reward_std", "spread-plot")
                    length_plot = _plot(strings.PLOT_LENGTH, "tokens", "length-plot")
                    loss_plot = _plot(strings.PLOT_LOSS, "loss", "loss-plot")
            hints = gr.Markdown("", elem_id="health-hints")
            samples = gr.Dataframe(run_view.samples_frame([]), label=strings.SAMPLES_LABEL, interactive=False,
                                   wrap=True, max_height=420, elem_id="samples-table")
        with gr.Accordion(strings.CONFIG_EXPORT_LABEL, open=False, elem_id="config-export"):
            yaml_button = gr.Button(strings.CONFIG_EXPORT_BUTTON, size="sm", elem_id="config-export-button")
            yaml = gr.Code("", language="yaml", elem_id="config-yaml", interactive=False)
            yaml_download = gr.DownloadButton(strings.CONFIG_DOWNLOAD, visible=False, size="sm",
                                              elem_id="config-download")
        # Ticks while a run trains or waits in the queue, and once after a redraw request: an idle page is quiet.
        timer = gr.Timer(TICK_S, active=False)
        signature = gr.State(None)  # what the view last drew: (run id, its files' stamps, its state)
    return TrainStep(tab, summary, facts, busy, check, launch, queue, stop, message, probe, no_run, live, header, state,
                     step, times, progress, vram, error, log, curves_note, curves, reward_plot, heldout_plot,
                     spread_plot, length_plot, loss_plot, hints, samples, yaml_button, yaml, yaml_download, timer,
                     signature)


def on_load():
    """After a page load or an app restart: a run in progress is shown on the Train tab (a reload while a run trains
    lands where it is watched); the view follows the run that trains, else the newest."""
    return gr.Tabs(selected="train") if runner.active_run() is not None else gr.skip()


def wire(page: Page) -> None:
    step, form, watched = page.train, page.form, page.watched_run
    inputs = form.value_components()
    summary_outputs = [step.summary, step.facts]

    @guarded
    def check(values: dict) -> list:
        summary = check_form(form.read(values))[1]
        return [summary.verdict, summary.facts]

    step.tab.select(lambda: strings.TRAIN_CHECKING, outputs=step.summary, show_progress="hidden").then(
        check, inputs=inputs, outputs=summary_outputs, show_progress="minimal")
    redraw_after(page, step.tab.select(lambda: None, show_progress="hidden"))  # what it shows is true when opened
    step.check.click(check, inputs=inputs, outputs=summary_outputs, show_progress="minimal")

    @guarded
    def launch(values: dict):
        config, summary = launch_check(form.read(values))
        shown = {step.summary: summary.verdict, step.facts: summary.facts}
        if config is None:
            gr.Warning(strings.TRAIN_REFUSED.format(reasons=" ".join(summary.reasons)))
            yield shown | {step.message: ""}
            return
        yield shown | {step.message: strings.TRAIN_STARTING, step.launch: gr.update(interactive=False)}
        try:
            run = runner.launch(config)
        except runner.RunnerError as error:
            gr.Warning(strings.TRAIN_REFUSED.format(reasons=str(error)))
            yield {step.message: f"✗ {error}", step.launch: gr.update(interactive=True)}
            return
        yield launched(run)

    def launched(run: RunFolder) -> dict:
        """Launched, or queued beside a live run: either way the view follows the run that trains (then this one)."""
        position = runner.queue_position(run)
        said = (strings.TRAIN_QUEUED.format(id=run.id, position=position) if position is not None
                else strings.TRAIN_LAUNCHED.format(id=run.id))
        return {step.message: said, watched: None}

    # In the ticks' queue: a tick computed before the trainer started (Launch enabled) must not land after it.
    redraw_after(page, step.launch.click(
        launch, inputs=inputs, outputs=summary_outputs + [step.message, step.launch, watched], show_progress="minimal",
        **VIEW_QUEUE))

    @guarded
    def enqueue(values: dict):
        """Beside a live run: the run goes into the queue (runner.launch starts it at once if that run has ended)."""
        config, summary = check_form(form.read(values))
        if config is None:
            gr.Warning(strings.TRAIN_REFUSED.format(reasons=" ".join(summary.reasons)))
            return {step.summary: summary.verdict, step.facts: summary.facts}
        try:
            run = runner.launch(config)
        except runner.RunnerError as error:
            gr.Warning(strings.TRAIN_REFUSED.format(reasons=str(error)))
            return {step.message: f"✗ {error}"}
        return launched(run)

    redraw_after(page, step.queue.click(enqueue, inputs=inputs, outputs=summary_outputs + [step.message, watched],
                                        show_progress="minimal", **VIEW_QUEUE))

    @guarded
    def stop(watched_id: str | None) -> str:
        run = shown_run(watched_id)
        if run is None or example_runs.is_example(watched_id):
            return ""
        try:
            runner.stop(run)
        except runner.RunnerError as error:
            return f"✗ {error}"
        return strings.TRAIN_STOP_REQUESTED.format(id=run.id, grace=runner.STOP_GRACE_S)

    redraw_after(page, step.stop.click(stop, inputs=watched, outputs=step.message))

    view = guarded(partial(view_updates, step))
    step.timer.tick(view, inputs=[watched, step.signature], outputs=step.view_outputs(), show_progress="hidden",
                    **VIEW_QUEUE)

    @guarded
    def export_yaml(values: dict) -> dict:
        try:
            config = form_to_config(form.read(values))
        except ConfigError as error:
            text = "# " + strings.CONFIG_PROBLEMS + "\n" + "\n".join(f"# - {problem_sentence(p)}"
                                                                      for p in error.problems)
            return {step.yaml: text, step.yaml_download: gr.update(visible=False)}
        return {step.yaml: config.to_yaml(),
                step.yaml_download: gr.update(value=config_yaml_file(config), visible=True)}

    step.yaml_button.click(export_yaml, inputs=inputs, outputs=[step.yaml, step.yaml_download])
    probe_box.wire(page, step.probe).then(check, inputs=inputs, outputs=summary_outputs, show_progress="hidden")
    redraw_after(page, page.demo.load(guarded(on_load), outputs=page.tabs, show_progress="hidden"))


def view_updates(step: TrainStep, watched: str | None, last_signature) -> dict:
    """Everything the view shows, from the run folders: the run (shown_run), its state and progress, the busy line
    and the buttons; its plots and samples when its files changed (or a redraw was asked for: no signature). The
    timer ticks while a run trains or waits in the queue (the view follows a hand-off), and once more after a change
    (for the last lines)."""
    run = shown_run(watched, last_signature[0] if last_signature else None)
    live = runner.active_run()
    # Runs wait in the queue, or the one-run lock is held by a trainer not yet named (a queued run being handed the
    # GPU): the view keeps ticking, to follow the hand-off.
    root = settings.runs_dir()
    waiting = bool(run_queue.queued_ids(root)) or run_lock.active_holder(root) is not None
    page = {step.busy: busy_markdown(live), step.launch: gr.update(interactive=live is None),
            step.queue: gr.update(visible=live is not None)}
    if run is None:
        return page | {step.no_run: gr.update(visible=True), step.live: gr.update(visible=False),
                       step.stop: gr.update(interactive=False), step.signature: None,
                       step.timer: gr.Timer(active=live is not None or waiting)}
    events = file_cache.events(run)
    status = run_view.run_status(run, events)
    active = status.state in ACTIVE_STATES
    example = example_runs.is_example(example_runs.page_id(run))
    readings = None
    if active and machine.has_gpu():
        recorded = run.read_status()
        readings = (gpu.vram_readings(recorded.gpus, recorded.pid) if recorded.gpus
                    else [gpu.vram_reading(recorded.pid)])
    updates = page | {
        step.no_run: gr.update(visible=False), step.live: gr.update(visible=True),
        step.header: (strings.EXAMPLE_HEADER if example else "") + status.header,
        step.state: status.state_text, step.step: status.step_text, step.times: status.times_text,
        step.progress: run_view.bar_html(status.fraction, f"{status.fraction:.0%}", "progress-bar"),
        step.vram: run_view.vram_bars_html(run_view.gpu_readings_from(events[-1] if events else None, readings)),
        step.error: status.error_text, step.log: gr.update(value=str(run.log_path), visible=run.log_path.is_file()),
        step.stop: gr.update(interactive=active and not example)}
    signature = files_signature(run) + (status.state,)
    if last_signature and len(last_signature) > 1 and last_signature[0] == signature[0] \
            and last_signature[-1] != status.state:
        # "Launched run …", "Stopping run …": done now. A stop says where it ended (the stopping message alone could
        # come and go between two ticks: a step can be shorter than a tick).
        updates[step.message] = (strings.TRAIN_STOPPED.format(id=run.id, step=run.read_status().step)
                                 if status.state == "stopped" else "")
    if signature != last_signature:
        config = _run_config(run)
        weights = {spec.name: spec.weight for spec in config.rewards} if config else None
        rewards = run_view.reward_frame(events)
        samples = file_cache.samples(run)
        heldout = run_view.heldout_frame(events, accuracy_metric(config) if config else "accuracy")
        x_range = run_view.step_axis(rewards)
        updates |= {step.curves_note: gr.update(visible=not events), step.curves: gr.update(visible=bool(events)),
                    step.reward_plot: plot_update(rewards, x_range),
                    step.heldout_plot: plot_update(heldout, x_range, HELDOUT_RANGE, visible=bool(len(heldout))),
                    step.spread_plot: plot_update(run_view.spread_frame(events), x_range),
                    step.length_plot: plot_update(run_view.length_frame(events), x_range),
                    step.loss_plot: plot_update(run_view.loss_frame(events), x_range),
                    step.hints: run_view.hints_markdown(events, samples, config) if events else "",
                    step.samples: _samples_update(run_view.samples_frame(samples, weights))}
    changed = last_signature is not None and signature != last_signature
    updates[step.signature] = signature
    updates[step.timer] = gr.Timer(active=active or live is not None or waiting or changed)
    return updates


def _samples_update(frame) -> dict:
    """The samples table with room for the text columns (step, question, completion, gold, then scores)."""
    scores = max(0, len(frame.columns) - 4)
    widths = ["56px", "22%", "38%", "7%"] + [f"{28 / max(1, scores):.1f}%"] * scores
    return gr.update(value=frame, column_widths=widths[: len(frame.columns)])


def config_yaml_file(config: RunConfig) -> str:
    """The config written to a temporary file for the download button."""
    folder = Path(tempfile.mkdtemp(prefix="grpo-studio-config-"))
    path = folder / "config.yaml"
    config.save(path)
    return str(path)

"""The results step's TensorBoard panel: where the picked run's TensorBoard logs are, and a button that starts
TensorBoard beside the app (app/tensorboard_server.py: its own port, the app's login) and links to it."""

from __future__ import annotations

import gradio as gr

from engine import settings
from engine.config import load_config
from engine.problems import ConfigError
from engine.runs.folder import RunFolder

from app import strings, tensorboard_server
from app.runs_list import picked_run
from app.safe import guarded
from app.steps.page import Page, TensorBoardPanel


def build() -> TensorBoardPanel:
    gr.Markdown(strings.TENSORBOARD_HEADING)
    logs = gr.Markdown("", elem_id="tensorboard-logs")
    start = gr.Button(strings.TENSORBOARD_START, size="sm", elem_id="tensorboard-start")
    status = gr.Markdown("", elem_id="tensorboard-status")
    return TensorBoardPanel(logs, start, status)


def logs_text(run: RunFolder | None) -> str:
    """Where the run's TensorBoard logs are, or why it has none: damaged, settings unreadable, another tracker,
    or the folder is missing."""
    if run is None:
        return ""
    if run.tensorboard_dir.is_dir():
        return strings.TENSORBOARD_LOGS.format(path=run.tensorboard_dir)
    status = run.status()
    if status.state == "unreadable":
        return strings.TENSORBOARD_DAMAGED.format(error=status.error)
    try:
        tracker = load_config(run.config_path).train.report_to
    except ConfigError as error:
        return strings.TENSORBOARD_CONFIG_UNREADABLE.format(error=error.problems[0].message)
    if tracker != "tensorboard":
        return strings.TENSORBOARD_NO_LOGS.format(tracker=tracker)
    return strings.TENSORBOARD_NOT_WRITTEN.format(id=run.id)


def running_text(run: RunFolder | None, request_host: str | None) -> str:
    """Where TensorBoard runs, naming the picked run's logs only while that run exists."""
    port = tensorboard_server.port()
    login = strings.TENSORBOARD_LOGIN if tensorboard_server.needs_login() else ""
    return strings.TENSORBOARD_RUNNING.format(port=port, url=tensorboard_server.link(request_host, port),
                                              id=run.id if run is not None else "<run>", login=login)


def _host(request: gr.Request | None) -> str | None:
    return request.headers.get("host") if request is not None else None


def wire(page: Page) -> None:
    results = page.results
    panel = results.tensorboard

    @guarded
    def on_pick(run_id: str | None, request: gr.Request) -> dict:
        run = picked_run(run_id)
        status = running_text(run, _host(request)) if tensorboard_server.running() else ""
        return {panel.logs: logs_text(run), panel.status: status}

    # The runs list's tick too: a run deleted from another page (or the CLI) is no longer named here.
    gr.on([results.pick.change, results.tab.select, results.timer.tick], on_pick, inputs=results.pick,
          outputs=[panel.logs, panel.status], show_progress="hidden")

    @guarded
    def start(run_id: str | None, request: gr.Request) -> str:
        try:
            tensorboard_server.start(settings.runs_dir())
        except tensorboard_server.TensorBoardError as error:
            return "✗ " + strings.TENSORBOARD_FAILED.format(error=error)
        return running_text(picked_run(run_id), _host(request))

    panel.start.click(lambda: strings.TENSORBOARD_STARTING, outputs=panel.status, show_progress="hidden").then(
        start, inputs=results.pick, outputs=panel.status, concurrency_limit=1)

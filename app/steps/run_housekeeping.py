"""The results step's housekeeping: the run queue (the picked run moved earlier or later, or cancelled), deleting
the picked run (after a confirmation that names its size; never the run that trains), and the free space on the
disk of the runs folder. The queue itself is the engine's (engine/runs/queue.py); this only shows and edits it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from engine import disk_space, settings
from engine.export import human_size
from engine.runs import queue as run_queue
from engine.runs.folder import RunFolder

from app import example_runs, runner, strings
from app.runs_list import default_pick, pick_choices, picked_run, runs_overview
from app.safe import guarded
from app.steps.page import Housekeeping, Page, redraw_after

# The events that open or close the delete confirmation run one at a time, in the order the server got them (Gradio's
# queue is FIFO within a concurrency group), so each reads the confirmation state the one before it left. That order
# can still differ from the user's: the page sends a pick's change only once the previous change has been answered
# (Gradio's "always_last"), so on a busy machine the user's pick can reach the server after their delete click.
# Hence a pick closes a confirmation only when it names another run.
CONFIRMATION = {"concurrency_id": "delete-confirmation", "concurrency_limit": 1}


def build() -> Housekeeping:
    with gr.Row():
        with gr.Column(scale=3):
            queue = gr.Markdown(queue_markdown(settings.runs_dir()), elem_id="queue-list")
            free_space = gr.Markdown(free_space_markdown(settings.runs_dir()), elem_id="free-space")
        with gr.Column(scale=2, elem_classes=["gs-button-row"]):
            with gr.Row():  # first: the queue buttons below come and go, and must not move it
                delete = gr.Button(strings.DELETE_BUTTON, size="sm", variant="stop", elem_id="run-delete")
            with gr.Row(visible=False, elem_id="queue-buttons") as queue_buttons:
                earlier = gr.Button(strings.QUEUE_EARLIER, size="sm", elem_id="queue-earlier")
                later = gr.Button(strings.QUEUE_LATER, size="sm", elem_id="queue-later")
                cancel = gr.Button(strings.QUEUE_CANCEL, size="sm", variant="stop", elem_id="queue-cancel")
    with gr.Group(visible=False, elem_id="delete-confirm") as confirm:
        confirm_text = gr.Markdown("", elem_id="delete-confirm-text", padding=True)
        with gr.Row():
            confirm_yes = gr.Button(strings.DELETE_YES, size="sm", variant="stop", elem_id="delete-yes")
            confirm_no = gr.Button(strings.DELETE_NO, size="sm", elem_id="delete-no")
    return Housekeeping(queue, free_space, queue_buttons, earlier, later, cancel, delete, confirm, confirm_text,
                        confirm_yes, confirm_no, gr.State(None))


def queue_markdown(root: Path) -> str:
    ids = run_queue.queued_ids(root)
    shown = strings.QUEUE_HEADING.format(runs=" → ".join(f"{n}. `{run_id}`" for n, run_id in enumerate(ids, 1))) \
        if ids else strings.QUEUE_EMPTY
    note = run_queue.damage_note(root)
    return f"{shown}  \n⚠ {note}" if note else shown


def free_space_markdown(root: Path) -> str:
    space = disk_space.free_and_total(root if root.exists() else root.parent)
    if space is None:
        return strings.FREE_SPACE_UNKNOWN
    free, total = space
    return strings.FREE_SPACE.format(free=human_size(free), total=human_size(total))


def status_updates(housekeeping: Housekeeping, run: RunFolder | None) -> dict:
    """The queue, the free space, and the queue buttons (shown for a queued run only)."""
    root = settings.runs_dir()
    queued = run is not None and run_queue.position(root, run.id) is not None
    return {housekeeping.queue: queue_markdown(root), housekeeping.free_space: free_space_markdown(root),
            housekeeping.queue_buttons: gr.update(visible=queued)}


def wire(page: Page) -> None:
    step = page.results
    house = step.housekeeping

    def runs_updates() -> dict:
        frame, ids = runs_overview()
        return {step.runs: frame}

    closed = {house.confirm: gr.update(visible=False), house.confirming: None}

    @guarded
    def on_pick(run_id: str | None, confirming: str | None) -> dict:
        """Another run picked: the open confirmation named the one before, so it closes."""
        return status_updates(house, picked_run(run_id)) | ({} if run_id == confirming else closed)

    step.pick.change(on_pick, inputs=[step.pick, house.confirming], outputs=house.outputs() + list(closed),
                     show_progress="hidden", **CONFIRMATION)
    gr.on([step.tab.select, step.timer.tick], guarded(lambda run_id: status_updates(house, picked_run(run_id))),
          inputs=step.pick, outputs=house.outputs(), show_progress="hidden")

    def on_run(action):
        """A button on the picked run: a refusal is one sentence in the results step's message."""
        @guarded
        def handler(run_id: str | None) -> dict:
            run = picked_run(run_id)
            if run is None:
                return {step.message: strings.RUN_GONE.format(id=run_id) if run_id else strings.RUN_NONE_PICKED}
            if example_runs.is_example(run_id):  # bundled with the app: never deleted, never queued
                return {step.message: f"✗ {strings.EXAMPLE_READ_ONLY}"}
            try:
                message = action(run)
            except runner.RunnerError as error:
                message = f"✗ {error}"
            return {step.message: message} | status_updates(house, picked_run(run_id)) | runs_updates()
        return handler

    outputs = [step.message, step.runs] + house.outputs()
    for button, offset in ((house.earlier, -1), (house.later, 1)):
        button.click(on_run(lambda run, offset=offset: strings.QUEUE_MOVED.format(
            id=run.id, position=runner.move_queued(run, offset))), inputs=step.pick, outputs=outputs)

    def cancel(run: RunFolder) -> str:
        runner.cancel_queued(run)
        return strings.QUEUE_CANCELLED.format(id=run.id)

    house.cancel.click(on_run(cancel), inputs=step.pick, outputs=outputs)

    @guarded
    def ask(run_id: str | None) -> dict:
        run = picked_run(run_id)
        if run is None or example_runs.is_example(run_id):
            refusal = (strings.RUN_GONE.format(id=run_id) if run_id else strings.RUN_NONE_PICKED) if run is None \
                else f"✗ {strings.EXAMPLE_READ_ONLY}"
            return {step.message: refusal} | closed
        text = strings.DELETE_CONFIRM.format(id=run.id, size=human_size(disk_space.folder_usage(run.path)))
        return {step.message: "", house.confirm_text: text, house.confirm: gr.update(visible=True),
                house.confirming: run.id}

    house.delete.click(ask, inputs=step.pick, outputs=[step.message, house.confirm_text] + list(closed),
                       **CONFIRMATION)
    house.confirm_no.click(lambda: closed, outputs=list(closed), **CONFIRMATION)

    def delete(run: RunFolder) -> str:
        size = human_size(disk_space.folder_usage(run.path))
        runner.delete(run)
        return strings.DELETED.format(id=run.id, size=size)

    delete_handler = on_run(delete)

    @guarded
    def confirmed(confirming: str | None, picked: str | None) -> dict:
        """Yes deletes the run the confirmation named, whatever the pick is by now; a Yes that arrives after the
        confirmation closed (sent before a pick closed it) deletes nothing."""
        if confirming is None:
            return {step.message: strings.DELETE_NOT_CONFIRMED} | closed
        updates = delete_handler(confirming) | closed
        _, ids = runs_overview()
        if picked not in ids and not example_runs.is_example(picked):  # deleted: the newest left, or an example
            updates[step.pick] = gr.update(choices=pick_choices(ids), value=default_pick(ids))
        return updates

    redraw_after(page, house.confirm_yes.click(confirmed, inputs=[house.confirming, step.pick],
                                               outputs=outputs + list(closed) + [step.pick], **CONFIRMATION))

"""Step 6 · Results: the runs list (with each run's disk use, the queue and the free space); for the picked run:
watch it in the Train view, resume it, load its settings, move or cancel it in the queue, delete it, evaluate base vs
tuned, chat with both side by side, export and download (adapter zip, merged model zip, GGUF, config.yaml), read its
completions step by step, and open TensorBoard."""

from __future__ import annotations

import json
import time
from functools import partial

import gradio as gr

from engine import settings
from engine.best_checkpoint import WHICH, read_best
from engine.config import load_config
from engine.export import Download, available_downloads
from engine.export.gguf import OUTTYPES
from engine.problems import ConfigError
from engine.runs import queue as run_queue
from engine.runs.folder import RunFolder
from engine.runs.progress import clock

from app import chat, example_runs, run_view, runner, strings
from app.data_tables import read_table, sample_path
from app.form_state import config_to_form, problem_sentence, web_kind_problem
from app.runs_list import default_pick, pick_choices, picked_run, runs_overview
from app.safe import guarded
from app.steps import data_view, run_housekeeping, sample_history, tensorboard_panel
from app.steps.page import Page, ResultsStep, redraw_after
from app.web_paths import web_data_path

RUNS_TICK_S = 3.0
EVAL_DEFAULT_LIMIT = 20


def build() -> ResultsStep:
    with gr.Tab(strings.TAB_RESULTS, id="results", elem_id="tab-results") as tab:
        gr.Markdown(strings.RESULTS_INTRO)
        frame, ids = runs_overview()
        runs = gr.Dataframe(frame, label=strings.RUNS_LABEL, interactive=False, elem_id="runs-table", max_height=300)
        with gr.Row():
            # allow_custom_value: an event sent while a run was being deleted carries its id, which Gradio would
            # refuse with a red "not in the list of choices" toast; every handler says "no longer in the runs folder"
            # for an id it does not find (and opens nothing but run folders and the bundled examples by id).
            pick = gr.Dropdown(pick_choices(ids), value=default_pick(ids), label=strings.RUN_PICK,
                               elem_id="run-pick", scale=2, allow_custom_value=True)
            with gr.Column(scale=3, elem_classes=["gs-button-row"]):
                with gr.Row():
                    attach = gr.Button(strings.RUN_ATTACH, size="sm", elem_id="run-attach")
                    resume = gr.Button(strings.RUN_RESUME, size="sm", elem_id="run-resume")
                    use_settings = gr.Button(strings.RUN_USE_SETTINGS, size="sm", elem_id="run-use-settings")
        message = gr.Markdown("", elem_id="results-message")
        housekeeping = run_housekeeping.build()
        adapter = gr.Radio(run_view.adapter_choices(None, None), value="best", label=strings.ADAPTER_LABEL,
                           elem_id="adapter-choice")
        with gr.Row():
            with gr.Column():
                gr.Markdown(strings.EVAL_HEADING)
                eval_limit = gr.Number(EVAL_DEFAULT_LIMIT, label=strings.EVAL_LIMIT, precision=None, minimum=0,
                                       elem_id="eval-limit")
                eval_button = gr.Button(strings.EVAL_BUTTON, size="sm", variant="primary", elem_id="eval-button")
                eval_result = gr.Markdown(strings.EVAL_NONE, elem_id="eval-result")
            with gr.Column():
                gr.Markdown(strings.EXPORT_HEADING)
                with gr.Row():
                    export_zip = gr.Button(strings.EXPORT_ZIP, size="sm", elem_id="export-zip")
                    export_merge = gr.Button(strings.EXPORT_MERGE, size="sm", elem_id="export-merge")
                    export_merged_zip = gr.Button(strings.EXPORT_MERGED_ZIP, size="sm", elem_id="export-merged-zip")
                gguf_type = gr.Dropdown(list(OUTTYPES), value="q8_0", label=strings.EXPORT_GGUF_TYPE,
                                        info=strings.EXPORT_GGUF_TYPE_INFO, elem_id="gguf-type")
                export_gguf = gr.Button(strings.EXPORT_GGUF, size="sm", elem_id="export-gguf")
                export_result = gr.Markdown("", elem_id="export-result")
                with gr.Row():
                    download_adapter = gr.DownloadButton(strings.DOWNLOAD_ADAPTER, visible=False, size="sm",
                                                         elem_id="download-adapter")
                    download_merged = gr.DownloadButton(strings.DOWNLOAD_WHAT_MERGED, visible=False, size="sm",
                                                        elem_id="download-merged")
                    download_gguf = gr.DownloadButton("GGUF", visible=False, size="sm", elem_id="download-gguf")
                    download_config = gr.DownloadButton(strings.DOWNLOAD_CONFIG, visible=False, size="sm",
                                                        elem_id="download-config")
        gr.Markdown(strings.CHAT_HEADING)
        chat_prompt = gr.Textbox(label=strings.CHAT_PROMPT, lines=2, elem_id="chat-prompt")
        chat_button = gr.Button(strings.CHAT_BUTTON, size="sm", variant="primary", elem_id="chat-button",
                                elem_classes=["gs-next"])
        with gr.Row():
            chat_base = gr.Textbox(label=strings.CHAT_BASE, lines=8, interactive=False, elem_id="chat-base")
            chat_tuned = gr.Textbox(label=strings.CHAT_TUNED, lines=8, interactive=False, elem_id="chat-tuned")
        chat_note = gr.Markdown("", elem_id="chat-note", elem_classes=["gs-help"])
        history = sample_history.build()
        tensorboard = tensorboard_panel.build()
        timer = gr.Timer(RUNS_TICK_S, active=False)  # ticks only while a run or a job is live, or runs are queued
    return ResultsStep(tab, runs, pick, attach, resume, use_settings, message, adapter, eval_limit, eval_button,
                       eval_result, chat_prompt, chat_button, chat_base, chat_tuned, chat_note, export_zip,
                       export_merge, export_result, download_adapter, download_config, timer, export_merged_zip,
                       gguf_type, export_gguf, download_merged, download_gguf, housekeeping, history, tensorboard)


def anything_live() -> bool:
    """A run is training, a job is running or runs wait in the queue: the runs list and the picked run's boxes keep
    refreshing."""
    return runner.active_run() is not None or runner.jobs_running() or bool(run_queue.queued_ids(settings.runs_dir()))


def _job_text(run: RunFolder, kind: str, running: str, failed: str) -> str | None:
    """What an eval or export job of this run is doing (and for how long), if it is running or has failed."""
    current = runner.job(run, kind)
    if current is not None and current.running:
        return f"{running.format(elapsed=clock(time.time() - current.started))} {current.count()}".strip()
    if current is not None and current.failed:
        return "✗ " + failed.format(error=current.last_error(), path=current.log_path)
    return None


def eval_text(run: RunFolder) -> str:
    busy = _job_text(run, "eval", strings.EVAL_RUNNING, strings.EVAL_FAILED)
    if busy:
        return busy
    try:
        return run_view.eval_markdown(json.loads(run.eval_path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return strings.EVAL_NONE
    except (OSError, ValueError, RecursionError):  # not UTF-8, not JSON, a folder
        return strings.EVAL_UNREADABLE


DOWNLOAD_KINDS = {"adapter": lambda name: name.endswith("-adapter.zip"),
                  "merged": lambda name: "-merged" in name and name.endswith(".zip"),
                  "gguf": lambda name: name.endswith(".gguf")}


def newest_download(run: RunFolder, kind: str) -> Download | None:
    """The newest file of one kind (adapter, merged or gguf) among the run's exports."""
    found = [d for d in available_downloads(run) if DOWNLOAD_KINDS[kind](d.path.name)]
    return max(found, key=lambda d: d.path.stat().st_mtime_ns) if found else None


def download_update(download: Download | None, what: str) -> dict:
    """A download button labelled with the file's size first, hidden while there is no such file."""
    if download is None:
        return gr.update(value=None, visible=False)
    return gr.update(value=str(download.path), visible=True,
                     label=strings.DOWNLOAD_LABEL.format(size=download.human_size, what=what))


def export_text(run: RunFolder) -> str:
    busy = _job_text(run, "export", strings.EXPORT_RUNNING, strings.EXPORT_FAILED)
    if busy:
        return busy
    lines = [strings.EXPORT_DOWNLOAD.format(label=d.label[:1].upper() + d.label[1:], name=d.path.name,
                                            size=d.human_size) for d in available_downloads(run)]
    lines += [strings.EXPORT_MERGED.format(folder=folder) for folder in sorted(run.path.glob("merged*"))
              if (folder / "config.json").is_file()]
    return "  \n".join(lines)


def run_details(step: ResultsStep, run_id: str | None) -> dict:
    """Eval, export and download widgets for the picked run."""
    run = picked_run(run_id)
    if run is None:
        return {step.eval_result: strings.EVAL_NONE, step.export_result: "",
                step.adapter: gr.update(choices=run_view.adapter_choices(None, None)),
                step.download_adapter: gr.update(visible=False), step.download_merged: gr.update(visible=False),
                step.download_gguf: gr.update(visible=False), step.download_config: gr.update(visible=False)}
    gguf = newest_download(run, "gguf")
    return {step.eval_result: eval_text(run), step.export_result: export_text(run),
            step.adapter: gr.update(choices=run_view.adapter_choices(read_best(run), run.read_status().step)),
            step.download_adapter: download_update(newest_download(run, "adapter"), strings.DOWNLOAD_WHAT_ADAPTER),
            step.download_merged: download_update(newest_download(run, "merged"), strings.DOWNLOAD_WHAT_MERGED),
            step.download_gguf: download_update(gguf, strings.DOWNLOAD_WHAT_GGUF.format(name=gguf.path.name)
                                                if gguf else ""),
            step.download_config: gr.update(value=str(run.config_path), visible=True)}


def details_outputs(step: ResultsStep) -> list:
    return [step.eval_result, step.export_result, step.adapter, step.download_adapter, step.download_merged,
            step.download_gguf, step.download_config]


def wire(page: Page) -> None:
    step, form, watched, data = page.results, page.form, page.watched_run, page.data
    known_ids = gr.State(None)
    details = guarded(partial(run_details, step))

    def refresh(picked: str | None, known: list | None, opened: bool) -> dict:
        """The runs table, the picker's choices when the runs changed, and the picked run's boxes. The pick an event
        carries can be stale: on a busy machine a tick sent before the user picked lands after the pick. So the pick
        itself is only replaced when its run is gone (deleted elsewhere), or, when the tab is opened, an example
        (the first page's default) by the newest run; never by a timer tick while the picked run exists."""
        frame, ids = runs_overview()
        updates = {step.runs: frame, known_ids: ids, step.timer: gr.Timer(active=anything_live())}
        example = example_runs.is_example(picked)
        replace = (picked not in ids and not example) or (opened and example and bool(ids) and ids != known)
        if replace:
            picked = default_pick(ids)
            updates[step.pick] = gr.update(choices=pick_choices(ids), value=picked)
        elif ids != known:
            updates[step.pick] = gr.update(choices=pick_choices(ids))  # the value stays the user's
        return updates | details(picked)

    refresh_outputs = [step.runs, known_ids, step.pick, step.timer] + details_outputs(step)
    step.tab.select(guarded(partial(refresh, opened=True)), inputs=[step.pick, known_ids], outputs=refresh_outputs,
                    show_progress="hidden")
    ticked = step.timer.tick(guarded(partial(refresh, opened=False)), inputs=[step.pick, known_ids],
                             outputs=refresh_outputs, show_progress="hidden")
    step.pick.change(details, inputs=step.pick, outputs=details_outputs(step), show_progress="hidden")

    def row_picked(event: gr.SelectData):
        """Clicking a row of the runs table picks that run."""
        return event.row_value[0] if event.row_value else gr.skip()

    step.runs.select(row_picked, outputs=step.pick, show_progress="hidden")

    def with_run(action, on_examples: bool = False):
        """A button handler on the picked run; a missing run or a refusal is one sentence in the message. The bundled
        example runs are read-only: only the actions marked `on_examples` take them."""
        @guarded
        def handler(run_id: str | None, *rest):
            run = picked_run(run_id)
            if run is None:
                return {step.message: strings.RUN_GONE.format(id=run_id) if run_id else strings.RUN_NONE_PICKED}
            if example_runs.is_example(run_id) and not on_examples:
                return {step.message: f"✗ {strings.EXAMPLE_READ_ONLY}"}
            try:
                return action(run, *rest)
            except runner.RunnerError as error:
                return {step.message: f"✗ {error}"}
        return handler

    def attach(run) -> dict:
        return {watched: example_runs.page_id(run), page.tabs: gr.Tabs(selected="train"), step.message: ""}

    redraw_after(page, step.attach.click(with_run(attach, on_examples=True), inputs=step.pick,
                                         outputs=[watched, page.tabs, step.message]))

    def resume(run):
        note = runner.resume(run)
        message = strings.RUN_RESUMED.format(id=run.id) + (f" {note}" if note else "")
        return {watched: None, step.message: message, step.timer: gr.Timer(active=True)}  # the view follows it

    redraw_after(page, step.resume.click(with_run(resume), inputs=step.pick,
                                         outputs=[watched, step.message, step.timer]))

    def use_settings(run):
        try:
            loaded = config_to_form(load_config(run.config_path))
        except ConfigError as error:
            return {step.message: "✗ " + " ".join(problem_sentence(p) for p in error.problems)}
        message = strings.RUN_SETTINGS_LOADED.format(id=run.id)
        try:
            columns = list(read_table(web_data_path(loaded.data_path)).column_names)
        except ConfigError:  # a file the web may not read (a CLI run's, an example's): the bundled sample instead
            loaded.data_path = sample_path()
            columns = list(read_table(loaded.data_path).column_names)
            message += " " + strings.RUN_SETTINGS_SAMPLE_DATA
        left_out = [row.name for row in loaded.rewards if web_kind_problem(row.kind)]
        if left_out:  # a run made with the CLI may use python rewards; the web form never holds them
            loaded.rewards = [row for row in loaded.rewards if row.name not in left_out]
            message += " " + strings.RUN_SETTINGS_LEFT_OUT.format(names=", ".join(left_out))
        # The columns come with the run's settings: mark its file as the one they belong to (no re-guessing).
        return form.write(loaded, columns) | {data.shown_path: loaded.data_path, step.message: message}

    step.use_settings.click(with_run(use_settings, on_examples=True), inputs=step.pick,
                            outputs=form.write_outputs() + [data.shown_path, step.message]).then(
        guarded(lambda values: data_view.refresh_updates(page, values)), inputs=data_view.refresh_inputs(page),
        outputs=data_view.refresh_outputs(data))

    def evaluate(run, limit, which):
        if limit is not None and (limit < 0 or not float(limit).is_integer()):
            return {step.message: f"✗ {strings.EVAL_LIMIT_WHOLE.format(limit=limit)}"}
        runner.start_eval(run, int(limit) if limit else None, which)
        # The eval box says it is running, for how long, then the result: no message here to go stale.
        return {step.message: "", step.timer: gr.Timer(active=True)} | details(run.id)

    step.eval_button.click(with_run(evaluate), inputs=[step.pick, step.eval_limit, step.adapter],
                           outputs=[step.message, step.timer] + details_outputs(step))

    def export(run, which, gguf_type=None, merge: bool = False, merged_zip: bool = False, gguf: bool = False):
        runner.start_export(run, merge=merge, which=which, merged_zip=merged_zip, gguf=gguf_type if gguf else None)
        return {step.message: "", step.timer: gr.Timer(active=True)} | details(run.id)

    for button, kind in ((step.export_zip, {}), (step.export_merge, {"merge": True}),
                         (step.export_merged_zip, {"merged_zip": True}), (step.export_gguf, {"gguf": True})):
        button.click(with_run(partial(export, **kind)), inputs=[step.pick, step.adapter, step.gguf_type],
                     outputs=[step.message, step.timer] + details_outputs(step))
    for panel in (run_housekeeping, tensorboard_panel):
        panel.wire(page)
    sample_history.wire(page, ticked)

    @guarded
    def ask(run_id: str | None, question: str, which: str):
        """Both answers, with what is happening while the model loads and how long it took."""
        run = picked_run(run_id)
        if run is None:
            raise gr.Error(strings.RUN_NONE_PICKED)
        if example_runs.is_example(run_id):
            raise gr.Error(strings.EXAMPLE_READ_ONLY)
        if not (question or "").strip():
            raise gr.Error(strings.CHAT_EMPTY)
        if which not in WHICH:
            raise gr.Error(strings.ADAPTER_CHOICE_UNKNOWN.format(which=str(which)[:40]))
        started = time.monotonic()
        yield {step.chat_base: "", step.chat_tuned: "", step.chat_note: strings.CHAT_LOADING}
        try:
            base, tuned = chat.answer_both(run, question.strip(), which)
        except Exception as error:  # a model that cannot be loaded here (offline hub id, deleted folder, memory)
            lines = str(error).strip().splitlines()
            yield {step.chat_note: ""}
            raise gr.Error(strings.CHAT_FAILED.format(error=f"{type(error).__name__}: {lines[0] if lines else ''}"),
                           print_exception=False) from None
        yield {step.chat_base: base.strip(), step.chat_tuned: tuned.strip(),
               step.chat_note: strings.CHAT_ANSWERED.format(seconds=time.monotonic() - started)}

    step.chat_button.click(ask, inputs=[step.pick, step.chat_prompt, step.adapter],
                           outputs=[step.chat_base, step.chat_tuned, step.chat_note], concurrency_limit=1,
                           show_progress="minimal")

"""Step 6 · Results: the runs list; for the picked run: watch it in the Train view, resume it, load its settings,
evaluate base vs tuned, chat with both side by side, and export (adapter zip, merged 16-bit model, config.yaml)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from engine import settings
from engine.run_folder import RunFolder, list_runs, run_by_id

from app import file_cache, run_view, runner, strings

RUNS_TICK_S = 3.0
EVAL_DEFAULT_LIMIT = 20


@dataclass
class ResultsStep:
    runs: gr.Dataframe
    pick: gr.Dropdown
    attach: gr.Button
    resume: gr.Button
    use_settings: gr.Button
    message: gr.Markdown
    eval_limit: gr.Number
    eval_button: gr.Button
    eval_result: gr.Markdown
    chat_prompt: gr.Textbox
    chat_button: gr.Button
    chat_base: gr.Textbox
    chat_tuned: gr.Textbox
    export_zip: gr.Button
    export_merge: gr.Button
    export_result: gr.Markdown
    download_adapter: gr.DownloadButton
    download_config: gr.DownloadButton
    timer: gr.Timer


def runs_overview() -> tuple:
    """(the runs table, the run ids newest first)."""
    runs = list_runs(settings.runs_dir())
    return run_view.runs_frame([file_cache.summary(run) for run in runs]), [run.id for run in runs]


def build() -> ResultsStep:
    gr.Markdown(strings.RESULTS_INTRO)
    frame, ids = runs_overview()
    runs = gr.Dataframe(frame, label=strings.RUNS_LABEL, interactive=False, elem_id="runs-table", max_height=300)
    with gr.Row():
        pick = gr.Dropdown(ids, value=ids[0] if ids else None, label=strings.RUN_PICK, elem_id="run-pick", scale=2)
        with gr.Column(scale=3, elem_classes=["gs-button-row"]):
            with gr.Row():
                attach = gr.Button(strings.RUN_ATTACH, size="sm", elem_id="run-attach")
                resume = gr.Button(strings.RUN_RESUME, size="sm", elem_id="run-resume")
                use_settings = gr.Button(strings.RUN_USE_SETTINGS, size="sm", elem_id="run-use-settings")
    message = gr.Markdown("", elem_id="results-message")
    with gr.Row():
        with gr.Column():
            gr.Markdown(strings.EVAL_HEADING)
            eval_limit = gr.Number(EVAL_DEFAULT_LIMIT, label=strings.EVAL_LIMIT, precision=0, minimum=0,
                                   elem_id="eval-limit")
            eval_button = gr.Button(strings.EVAL_BUTTON, size="sm", variant="primary", elem_id="eval-button")
            eval_result = gr.Markdown(strings.EVAL_NONE, elem_id="eval-result")
        with gr.Column():
            gr.Markdown(strings.EXPORT_HEADING)
            with gr.Row():
                export_zip = gr.Button(strings.EXPORT_ZIP, size="sm", elem_id="export-zip")
                export_merge = gr.Button(strings.EXPORT_MERGE, size="sm", elem_id="export-merge")
            export_result = gr.Markdown("", elem_id="export-result")
            with gr.Row():
                download_adapter = gr.DownloadButton(strings.DOWNLOAD_ADAPTER, visible=False, size="sm",
                                                     elem_id="download-adapter")
                download_config = gr.DownloadButton(strings.DOWNLOAD_CONFIG, visible=False, size="sm",
                                                    elem_id="download-config")
    gr.Markdown(strings.CHAT_HEADING)
    chat_prompt = gr.Textbox(label=strings.CHAT_PROMPT, lines=2, elem_id="chat-prompt")
    chat_button = gr.Button(strings.CHAT_BUTTON, size="sm", variant="primary", elem_id="chat-button",
                            elem_classes=["gs-next"])
    with gr.Row():
        chat_base = gr.Textbox(label=strings.CHAT_BASE, lines=8, interactive=False, elem_id="chat-base")
        chat_tuned = gr.Textbox(label=strings.CHAT_TUNED, lines=8, interactive=False, elem_id="chat-tuned")
    timer = gr.Timer(RUNS_TICK_S)
    return ResultsStep(runs, pick, attach, resume, use_settings, message, eval_limit, eval_button, eval_result,
                       chat_prompt, chat_button, chat_base, chat_tuned, export_zip, export_merge, export_result,
                       download_adapter, download_config, timer)


def picked_run(run_id: str | None) -> RunFolder | None:
    """The run named by a run id from the page: a folder directly in the runs folder, never a path."""
    return run_by_id(settings.runs_dir(), run_id) if run_id else None


def _job_text(run: RunFolder, kind: str, running: str, failed: str) -> str | None:
    """What an eval or export job of this run is doing, if it is running or has failed."""
    current = runner.job(run, kind)
    if current is not None and current.running:
        return running
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


def export_text(run: RunFolder) -> str:
    busy = _job_text(run, "export", strings.EXPORT_RUNNING, strings.EXPORT_FAILED)
    if busy:
        return busy
    lines = []
    if run.has_adapter_zip:
        lines.append(strings.EXPORT_DONE.format(zip=run.adapter_zip))
    if run.has_merged_model:
        lines.append(strings.EXPORT_MERGED.format(folder=run.merged_dir))
    return "  \n".join(lines)


def run_details(step: ResultsStep, run_id: str | None) -> dict:
    """Eval, export and download widgets for the picked run."""
    run = picked_run(run_id)
    if run is None:
        return {step.eval_result: strings.EVAL_NONE, step.export_result: "",
                step.download_adapter: gr.update(visible=False), step.download_config: gr.update(visible=False)}
    zip_path = str(run.adapter_zip) if run.has_adapter_zip else None
    return {step.eval_result: eval_text(run), step.export_result: export_text(run),
            step.download_adapter: gr.update(value=zip_path, visible=zip_path is not None),
            step.download_config: gr.update(value=str(run.config_path), visible=True)}


def details_outputs(step: ResultsStep) -> list:
    return [step.eval_result, step.export_result, step.download_adapter, step.download_config]

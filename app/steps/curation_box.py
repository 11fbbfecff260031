"""Curation in the probe box: a button that runs `python -m engine curate` on the form's config (a subprocess, one at
a time, as the probe), the count of questions sampled while it runs, then how many questions are learnable for this
model with a histogram of their pass rates, and a button that makes the curated file the data step's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import gradio as gr

from engine.curation import REPORT_NAME, counts, summary
from engine.problems import ConfigError
from engine.progress_bar import read_count
from engine.runs.progress import clock

from app import machine, runner, strings
from app.form_state import form_to_config, problem_sentence
from app.safe import guarded
from app.steps import data_view
from app.steps.page import CurationBox, Page

# A CPU samples slowly: the tiny model takes seconds for these; SmolLM2-135M (rlvr-math, 4 answers of 64 tokens) took
# 10 minutes for 10 questions on 2 shared cores under a load of 7, so a couple of minutes for 8 on idle ones. As many
# as the probe samples there.
LIMIT_CPU = 8
POLL_S = 1.0
BAR_WIDTH = 20


def limit() -> int | None:
    """How many training questions are sampled at most: all of them on a GPU."""
    return LIMIT_CPU if machine.cpu_demo_mode() else None


def info() -> str:
    return strings.CURATE_INFO + (strings.CURATE_INFO_CPU.format(limit=limit()) if limit() else "")


def build(prefix: str) -> CurationBox:
    button = gr.Button(strings.CURATE_BUTTON, size="sm", elem_id=f"{prefix}-curate-button")
    result = gr.Markdown(info(), elem_id=f"{prefix}-curate-result", padding=True)
    apply = gr.Button(strings.CURATE_APPLY.format(n=0), size="sm", visible=False, elem_id=f"{prefix}-curate-apply")
    return CurationBox(button, result, apply, gr.State(None))


def read_report(job: runner.Job) -> dict | None:
    """The job's curation.json (written last, so present only when it got to the end), or None."""
    try:
        return json.loads((job.output.parent / REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def histogram(report: dict) -> str:
    """The pass rates as a table: how many questions had 0, 1, … of their K answers pass, each with a bar."""
    k = report["samples_per_question"]
    counted = {int(key.split("/")[0]): n for key, n in report["histogram"].items()}
    if not counted:
        return ""
    widest = max(counted.values())
    rows = []
    for passed, n in sorted(counted.items()):
        where = strings.CURATE_TOO_HARD if passed == 0 else strings.CURATE_TOO_EASY if passed == k else ""
        rows.append(f"| {passed}{where} | {n} | {'█' * max(1, round(BAR_WIDTH * n / widest))} |")
    what = strings.CURATE_PASS.get(report["pass"], report["pass"])
    return strings.CURATE_HISTOGRAM.format(what=what, k=k, rows="\n".join(rows))


def result_markdown(report: dict, limited: int | None) -> str:
    headline = (strings.CURATE_LEARNABLE.format(counts=counts(report)) if report["output"]
                else strings.CURATE_NOTHING.format(summary=summary(report)))
    footer = strings.CURATE_FOOTER.format(questions=report["questions"], k=report["samples_per_question"],
                                          model=report["model"], generator=report["generator"],
                                          seconds=report["seconds"])
    if limited and report["questions"] >= limited:
        footer += strings.CURATE_FOOTER_LIMITED.format(limit=limited)
    return "\n\n".join(part for part in (headline, histogram(report), footer) if part)


def wire(page: Page, box: CurationBox) -> None:
    form, data = page.form, page.data
    hidden = gr.update(visible=False)

    @guarded
    def curate(values: dict):
        """Start the curation and say how far it got, until its result is in."""
        try:
            config = form_to_config(form.read(values))
        except ConfigError as error:
            yield {box.result: "✗ " + " ".join(problem_sentence(p) for p in error.problems[:3]), box.apply: hidden}
            return
        limited = limit()
        try:
            job = runner.start_curate(config, config.train.num_generations, limited)
        except runner.RunnerError as error:
            yield {box.result: f"✗ {error}", box.apply: hidden}
            return
        while job.running:
            elapsed, done = clock(time.time() - job.started), read_count(runner.count_path(job.log_path))
            yield {box.result: strings.CURATE_STARTING.format(model=config.model.name, elapsed=elapsed) if done is None
                   else strings.CURATE_RUNNING.format(done=done.done, total=done.total, k=config.train.num_generations,
                                                      model=config.model.name, elapsed=elapsed),
                   box.apply: hidden}
            time.sleep(POLL_S)
        report = read_report(job)
        if report is None:  # it ended before writing its report: the engine's sentence, from its log
            yield {box.result: strings.CURATE_FAILED.format(error=job.last_error()), box.report: None,
                   box.apply: hidden}
            return
        apply = gr.update(value=strings.CURATE_APPLY.format(n=report["learnable"]), visible=True) \
            if report["output"] else hidden
        yield {box.result: result_markdown(report, limited), box.report: report, box.apply: apply}

    box.button.click(curate, inputs=form.value_components(), outputs=[box.result, box.apply, box.report],
                     concurrency_limit=1, concurrency_id="curate", show_progress="minimal")

    @guarded
    def apply(report: dict | None) -> dict:
        """The curated file becomes the data step's. Its columns are the user's file's, so the mapping stays."""
        if not report or not report.get("output"):
            return {box.apply: hidden}
        output, name = report["output"], Path(report["output"]).name
        applied = strings.CURATE_APPLIED.format(file=name, n=report["learnable"])
        return {data.path: output, data.shown_path: output, box.apply: hidden,
                data.message: strings.CURATE_DATA_MESSAGE.format(file=name, n=report["learnable"]),
                box.result: result_markdown(report, limit()) + "\n\n" + applied}

    box.apply.click(apply, inputs=box.report, outputs=[data.path, data.shown_path, data.message, box.apply,
                                                       box.result], show_progress="hidden").then(
        guarded(lambda values: data_view.refresh_updates(page, values)), inputs=data_view.refresh_inputs(page),
        outputs=data_view.refresh_outputs(data), show_progress="hidden")

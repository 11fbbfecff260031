"""The learnability probe as a box the rewards step and the train step each show: a button that runs `python -m
engine probe` on the form's config (a subprocess, like eval and export), its verdict in plain words, and a button
that applies the change it suggests to the form; below it, curation (app/steps/curation_box.py)."""

from __future__ import annotations

import json
import time

import gradio as gr

from engine.problems import ConfigError
from engine.runs.progress import clock

from app import machine, run_view, runner, strings
from app.form_state import SETTINGS, form_to_config, problem_sentence, setting_to_widget
from app.safe import guarded
from app.steps import curation_box
from app.steps.page import Page, ProbeBox

PROMPTS_GPU, PROMPTS_CPU = 16, 8  # a CPU samples slowly: half the questions still show whether any answer varies
POLL_S = 1.0


def prompts() -> int:
    return PROMPTS_CPU if machine.cpu_demo_mode() else PROMPTS_GPU


def build(prefix: str) -> ProbeBox:
    with gr.Group(elem_id=f"{prefix}-probe", elem_classes=["gs-probe"]):
        button = gr.Button(strings.PROBE_BUTTON, size="sm", elem_id=f"{prefix}-probe-button")
        verdict = gr.Markdown(strings.PROBE_INFO.format(prompts=prompts()), elem_id=f"{prefix}-probe-verdict",
                              padding=True)
        apply = gr.Button(strings.PROBE_APPLY, size="sm", visible=False, elem_id=f"{prefix}-probe-apply")
        report = gr.State(None)
        curation = curation_box.build(prefix)
    return ProbeBox(button, verdict, apply, report, curation)


def read_report(job: runner.Job) -> dict | None:
    try:
        return json.loads((job.log_path.parent / "probe.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def wire(page: Page, box: ProbeBox):
    """The probe's events; returns the probe click's, for what follows its verdict (the Train step checks again: the
    probe measured a step, so the run's length is known)."""
    form = page.form

    @guarded
    def probe(values: dict):
        """Start the probe and say what it is doing, for how long, until its verdict is in."""
        try:
            config = form_to_config(form.read(values))
        except ConfigError as error:
            yield {box.verdict: "✗ " + " ".join(problem_sentence(p) for p in error.problems[:3]),
                   box.apply: gr.update(visible=False)}
            return
        try:
            job = runner.start_probe(config, prompts())
        except runner.RunnerError as error:
            yield {box.verdict: f"✗ {error}"}
            return
        running = {"model": config.model.name, "prompts": prompts(), "k": config.train.num_generations}
        while job.running:
            said = strings.PROBE_RUNNING.format(elapsed=clock(time.time() - job.started), **running)
            yield {box.verdict: f"{said} {job.count()}".strip(), box.apply: gr.update(visible=False)}
            time.sleep(POLL_S)
        report = read_report(job) if not job.failed else None
        if report is None:
            yield {box.verdict: strings.PROBE_FAILED.format(error=job.last_error()), box.report: None}
            return
        change = run_view.applicable_change(report, SETTINGS)
        yield {box.verdict: run_view.probe_markdown(report), box.report: report,
               box.apply: gr.update(visible=change is not None)}

    probed = box.button.click(probe, inputs=form.value_components(), outputs=[box.verdict, box.apply, box.report],
                              concurrency_limit=1, concurrency_id="probe", show_progress="minimal")

    @guarded
    def apply(report: dict | None) -> dict:
        change = run_view.applicable_change(report, SETTINGS)
        if change is None:
            return {box.apply: gr.update(visible=False)}
        changes = [change] + change["also"]
        updates = {form.settings[c["key"]]: setting_to_widget(c["key"], c["value"]) for c in changes}
        said = ", ".join(f"{c['key']} = {c['value']}" for c in changes)
        return updates | {box.apply: gr.update(visible=False), box.verdict: run_view.probe_markdown(report) + "\n\n"
                          + strings.PROBE_APPLIED.format(changes=said)}

    box.apply.click(apply, inputs=box.report, outputs=list(form.settings.values()) + [box.apply, box.verdict],
                    show_progress="hidden")
    curation_box.wire(page, box.curation)
    return probed

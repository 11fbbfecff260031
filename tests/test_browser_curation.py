"""Curation in a real browser (issue 22), on a CPU demo page: the banner opens the bundled GPU run; the data step
takes the bundled arithmetic sample; the rewards become one pattern the tiny model's answers match sometimes; the
probe box finds the questions this model can learn from and its button makes them the data step's file; a 2-step
run trains on that file. Waits on what the page shows, as the walkthrough in test_browser does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.steps.curation_box import LIMIT_CPU

from tests.app_server import app_server
from tests.test_browser import (
    TRAIN_WAIT_MS,
    app_env,
    choose,
    chromium_page,
    fill,
    open_tab,
    shot,
    wait_text,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app in CPU demo mode (as on a machine without a GPU), its folders in a temporary folder."""
    root = tmp_path_factory.mktemp("app")
    with app_server(root, app_env(root, GRPO_STUDIO_CPU_DEMO="1")) as server:
        yield server.url + "/", root


@pytest.fixture(scope="module")
def page(app_url):
    with chromium_page() as page:
        yield page


def test_curate_in_the_probe_box_then_train_on_the_learnable_questions(page, app_url):
    url, root = app_url
    page.goto(url)

    # The first page says what a CPU cannot show and opens the run that shows it.
    wait_text(page, "#cpu-demo-banner", "no run will show a model getting better")
    page.locator("#cpu-demo-example").click()
    wait_text(page, "#run-header", "Example run, made on a GPU")
    wait_text(page, "#step-counter", "Step 200/200")

    open_tab(page, "1 · Model")
    fill(page, "#model-name textarea", "builtin:tiny")
    wait_text(page, "#model-summary", "random tiny Qwen2")
    open_tab(page, "2 · Preset")
    page.locator("#preset-pick").get_by_label("reasoning").check()
    page.locator("#advanced-settings").get_by_text("Advanced settings").click()
    for key, value in (("max-steps", "2"), ("num-generations", "4"), ("batch-size", "4"),
                       ("max-completion-length", "8"), ("save-steps", "100"), ("eval-limit", "0")):
        fill(page, f"#setting-train-{key} input", value)
    page.wait_for_function("document.querySelector('#settings-errors .prose').innerText.trim() === ''")

    # The learnable demo task, of the difficulty picked; its held-out file is named.
    open_tab(page, "3 · Data")
    wait_text(page, "#data-arithmetic-difficulty", "medium: one addition or subtraction of numbers up to 50")
    choose(page, "data-arithmetic-difficulty", "medium")
    page.locator("#data-use-arithmetic").click()
    wait_text(page, "#data-summary", "arithmetic-medium-train.jsonl · 2000 rows")
    wait_text(page, "#data-message", "arithmetic-medium-test.jsonl holds 300 held-out questions")

    # One reward the tiny model's 8 random tokens pass sometimes: a capital letter among them.
    open_tab(page, "4 · Rewards")
    for following in ("tag_count", "has_answer"):
        page.locator("#reward-0-remove").click()
        page.wait_for_function(f"document.querySelector('#reward-0-name textarea').value === '{following}'")
    fill(page, "#reward-0-pattern textarea", "[A-Z]")
    page.wait_for_function("document.querySelector('#reward-0-error .prose').innerText.trim() === ''")

    # Curation from the probe box: the count while it samples, then the learnable questions and their histogram.
    open_tab(page, "5 · Train")
    wait_text(page, "#train-summary", "Ready to train")
    page.locator("#train-curate-button").click()
    wait_text(page, "#train-curate-result", "◷ Curating:")
    wait_text(page, "#train-curate-result", "questions are learnable for this model", timeout=TRAIN_WAIT_MS)
    said = page.locator("#train-curate-result").inner_text()
    found = re.search(rf"(\d+) of {LIMIT_CPU} questions are learnable for this model \(too easy: \d+, too hard: \d+\)"
                      r" — train on those", said)
    assert found and int(found[1]) > 0, said
    learnable = int(found[1])
    assert "answers in the format, of 4" in said and f"Only {LIMIT_CPU} of the training questions were sampled" in said
    shot(page, "curation-10-result")
    apply = page.locator("#train-curate-apply")
    assert apply.inner_text().strip() == f"Train on those {learnable} questions"
    apply.click()
    wait_text(page, "#train-curate-result", "The data step now uses arithmetic-medium-train-learnable.jsonl")
    assert not apply.is_visible()

    # The data step shows the curated file, with the columns as they were.
    open_tab(page, "3 · Data")
    wait_text(page, "#data-summary", f"arithmetic-medium-train-learnable.jsonl · {learnable} rows")
    curated = Path(page.locator("#data-path textarea").input_value())
    assert curated.name == "arithmetic-medium-train-learnable.jsonl"
    assert curated.resolve().parent.parent == (root / "uploads" / "curated").resolve()
    assert page.locator("#data-prompt-column input").input_value() == "question"
    wait_text(page, "#data-message", f"the {learnable} questions this model can learn from")
    shot(page, "curation-11-data")

    # A 2-step run on it.
    open_tab(page, "5 · Train")
    wait_text(page, "#train-summary", "Ready to train")
    page.locator("#launch-button").click()
    wait_text(page, "#launch-message", "Launched run")
    wait_text(page, "#run-state", "Completed", timeout=TRAIN_WAIT_MS)
    wait_text(page, "#step-counter", "Step 2/2")
    run_id = page.locator("#run-header strong").first.inner_text().removeprefix("Run ").strip()
    config = yaml.safe_load((root / "runs" / run_id / "config.yaml").read_text())
    assert Path(config["data"]["path"]) == curated
    shot(page, "curation-12-trained")

    log = (root / "app.log").read_text()
    assert "Traceback" not in log, log[-3000:]

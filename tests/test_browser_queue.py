"""The run queue and the results step's housekeeping and downloads in a real browser, across an app restart.

Launch a long run, add a short one to the queue beside it (Launch steps back while a run trains), see delete refuse
the live run, restart the app (the queue lives in the runs folder), stop the long run: the short one starts by
itself and completes. Then the short run's merged model (zip) and GGUF are made and downloaded from the results step
with their sizes shown first, its completions are read step by step, and TensorBoard is started beside the app.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from engine.runs.folder import RunFolder

from tests.app_server import app_server, free_port
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TRAIN_WAIT_MS,
    WAIT_MS,
    choose,
    fill,
    open_tab,
    shot,
    sync_api,
    wait_text,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent


class App:
    """The app as a subprocess that the test can stop and start again on the same folders and port."""

    def __init__(self, root: Path):
        self.root, self.port, self.server = root, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = dict(os.environ, GRPO_STUDIO_RUNS_DIR=str(root / "runs"),
                        GRPO_STUDIO_UPLOADS_DIR=str(root / "uploads"),
                        GRPO_STUDIO_CACHE_DIR=os.environ.get("GRPO_STUDIO_CACHE_DIR") or str(root / "cache"),
                        GRPO_STUDIO_TENSORBOARD_PORT=str(free_port()), GRPO_STUDIO_PASSWORD="")

    def start(self) -> None:
        self.server = app_server(self.root, self.env, port=self.port)
        self.server.__enter__()

    def stop(self) -> None:
        """The app's own process group (its trainers run in sessions of their own and live on)."""
        server, self.server = self.server, None
        if server is not None:
            server.__exit__(None, None, None)

    def runs(self) -> dict[str, RunFolder]:
        return {p.name: RunFolder(p) for p in (self.root / "runs").iterdir() if (p / "config.yaml").is_file()}


@pytest.fixture
def app(tmp_path):
    app = App(tmp_path)
    app.start()
    yield app
    app.stop()
    for run in app.runs().values():  # a failed test must not leave a trainer behind
        trainer = run.trainer()
        if trainer is not None:
            trainer.kill()


@pytest.fixture
def page(app):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
        page.set_default_timeout(WAIT_MS)
        yield page
        browser.close()


def page_says(page, *boxes: str) -> dict:
    """What the results step shows when a wait failed: its message, the given boxes, the pick and every toast (such as
    Gradio's "Connection Lost"), for the failure's own message."""
    said = {box: page.locator(box).inner_text() for box in ("#results-message", *boxes)}
    return said | {"pick": page.locator("#run-pick input").input_value(),
                   "toasts": page.locator("[data-testid=toast-body]").all_inner_texts()}


def export(page, button: str, download: str) -> None:
    """Click an export button, then wait for its download and for the export job to end, as a user sees both: the
    zip lands whole before its process has exited, and a second export clicked meanwhile is refused as busy."""
    page.locator(button).click()
    try:
        page.locator(download).wait_for(state="visible", timeout=TRAIN_WAIT_MS)
        page.wait_for_function("!document.querySelector('#export-result').innerText.includes('Export running')",
                               timeout=TRAIN_WAIT_MS)
    except sync_api.TimeoutError:
        raise AssertionError(f"{button} gave no {download}: {page_says(page, '#export-result')}") from None


def launch(page, max_steps: int, expected: str, queue: bool = False) -> str:
    """Set the run's length in step 2 and launch it in step 5 (beside a live run: add it to the queue, as Launch
    steps back); returns the message under Launch once it says `expected`."""
    open_tab(page, "2 · Preset")
    for key, value in (("max-steps", str(max_steps)), ("num-generations", "4"), ("batch-size", "4"),
                       ("max-completion-length", "8"), ("save-steps", "100"), ("eval-limit", "0")):
        fill(page, f"#setting-train-{key} input", value)
    open_tab(page, "5 · Train")
    if queue:
        wait_text(page, "#train-busy", "Add to the queue")
        assert page.locator("#launch-button").is_disabled()
        page.locator("#queue-button").click()
    else:
        wait_text(page, "#train-summary", "Ready to train")
        page.locator("#launch-button").click()
    wait_text(page, "#launch-message", expected, timeout=TRAIN_WAIT_MS)
    return page.locator("#launch-message").inner_text()


def pick(page, run_id: str) -> None:
    choose(page, "run-pick", run_id)
    page.wait_for_function(f"document.querySelector('#run-pick input').value === {json.dumps(run_id)}")


def download(page, button: str, to: Path) -> Path:
    with page.expect_download() as caught:
        page.locator(button).click()
    caught.value.save_as(to)
    return to


def test_the_queue_survives_a_restart_and_downloads_come_with_their_sizes(app, page, tmp_path):
    page.goto(app.url)
    open_tab(page, "2 · Preset")
    page.locator("#advanced-settings").get_by_text("Advanced settings").click()
    long_message = launch(page, 5000, "Launched run")  # stopped long before its end
    long_id = long_message.split("run ")[-1].split(".")[0].strip()
    queued_message = launch(page, 2, "is queued (position 1)", queue=True)
    short_id = next(run_id for run_id in app.runs() if run_id != long_id)
    assert short_id in queued_message

    open_tab(page, "6 · Results")
    wait_text(page, "#runs-table", "queued #1")
    wait_text(page, "#queue-list", short_id)
    page.wait_for_function(f"document.querySelector('#run-pick input').value === '{short_id}'")  # the newest
    page.locator("#queue-buttons").wait_for(state="visible")  # a queued run can be moved or cancelled
    pick(page, long_id)
    page.locator("#queue-buttons").wait_for(state="hidden")
    # On a busy machine the page may send the pick's change after the delete click (it waits for the previous change's
    # answer first): a pick of the run the confirmation names leaves it open (CI saw it close under the cursor).
    page.locator("#run-delete").click()
    try:
        wait_text(page, "#delete-confirm-text", "This cannot be undone")
    except sync_api.TimeoutError:
        shot(page, "failed-delete-confirmation")
        raise AssertionError(f"the delete confirmation did not open: {page_says(page)}") from None
    page.locator("#delete-yes").click()
    wait_text(page, "#results-message", "is training; stop it first")
    assert app.runs()[long_id].config_path.is_file()
    shot(page, "08-queue")

    app.stop()  # the long run trains on; the queued one waits in the runs folder
    app.start()
    page.goto(app.url, timeout=TRAIN_WAIT_MS)  # a first page load after a start is slow on a busy machine
    # A run trains, so the loaded page opens the Train tab by itself (train_step.on_load); a tab clicked before that
    # answer lands is switched back to Train (CI saw the Results tab hidden again on a busy machine).
    page.wait_for_function("document.querySelector('#tab-train')?.offsetParent !== null", timeout=TRAIN_WAIT_MS)
    open_tab(page, "6 · Results")
    wait_text(page, "#runs-table", "queued #1")
    open_tab(page, "5 · Train")
    wait_text(page, "#run-header", long_id)  # after a restart the Train view shows the live run
    page.locator("#stop-button").click()
    # "Stopping run …" while the step ends, then "Run … stopped after step N" (a CPU step can be shorter than a tick).
    page.locator("#launch-message").filter(has_text=re.compile(f"Stopping run {long_id}|Run {long_id} stopped after")) \
        .first.wait_for(timeout=TRAIN_WAIT_MS)

    open_tab(page, "6 · Results")
    short = app.runs()[short_id]
    deadline = time.time() + TRAIN_WAIT_MS / 1000
    while short.read_status().state != "completed":
        assert short.read_status().state not in ("failed", "stopped"), short.log_tail()
        assert time.time() < deadline, "the queued run did not complete"
        time.sleep(0.5)
    long = app.runs()[long_id].read_status()
    assert long.state == "stopped" and short.read_status().started >= long.finished  # one after the other
    wait_text(page, "#queue-list", "empty")

    # Downloads of the queued run's model: the merged model as a zip and a GGUF, each with its size on its button.
    pick(page, short_id)
    export(page, "#export-merged-zip", "#download-merged")
    label = page.locator("#download-merged").inner_text()
    assert re.search(r"⬇ [0-9.]+ (KB|MB) · merged model zip", label), label
    with zipfile.ZipFile(download(page, "#download-merged", tmp_path / "merged.zip")) as archive:
        assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(archive.namelist())
    export(page, "#export-gguf", "#download-gguf")
    assert f"{short_id}-q8_0.gguf" in page.locator("#download-gguf").inner_text()
    assert download(page, "#download-gguf", tmp_path / "model.gguf").read_bytes()[:4] == b"GGUF"

    # Its completions, step by step; and TensorBoard beside the app (no login on loopback, as the app).
    wait_text(page, "#history-caption", "Step 2: 4 completions (of 2 logged steps, 1 to 2).")
    page.locator("#tensorboard-start").click()
    wait_text(page, "#tensorboard-status", "TensorBoard runs beside the app", timeout=TRAIN_WAIT_MS)
    link = page.locator("#tensorboard-status a").get_attribute("href")
    with urllib.request.urlopen(link + "data/runs", timeout=10) as response:
        assert f"{short_id}/tensorboard" in json.loads(response.read())
    shot(page, "09-results-downloads")

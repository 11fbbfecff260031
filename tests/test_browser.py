"""End to end in a real browser: the app as a subprocess, driven through Debian's chromium by playwright.

Walks the six steps as a user would: model, preset with small advanced settings, a CSV upload whose columns must
be mapped, a reward regex edited (the live score changes) and broken (its error shows next to it), a 3-step run of
builtin:tiny on the CPU watched to the end, the run listed as completed and its adapter downloaded, and the rlvr-code
preset on the bundled HumanEval sample with a program scored in the try-it box. A second walk on the same app and
page checks what a new user met (issue 15): an idle page makes no requests, numbers are refused where typed, a
reload keeps the form, unreadable and nested data files are said, "Ready" is refused for a hub model that cannot be
had offline, the probe's verdict and its change applied, and the bundled GPU run shown. Screenshots of each step go to
test-artifacts/. The walkthrough itself (`walkthrough`) only talks to the page, so the image test (tests/image)
drives the running container through the same steps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.steps.results_step import RUNS_TICK_S
from app.steps.train_step import TICK_S

from tests.app_server import app_server

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = REPO / "test-artifacts"
WAIT_MS = 60_000
TRAIN_WAIT_MS = 180_000
QUIET_S = max(RUNS_TICK_S, TICK_S) + 1.0  # longer than the app's slowest timer tick

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app on a free port, with its runs, uploads and model cache in a temporary folder."""
    root = tmp_path_factory.mktemp("app")
    with app_server(root, app_env(root)) as server:
        yield server.url + "/", root


def app_env(root: Path, **extra: str) -> dict[str, str]:
    """The app's folders in `root` (the built-in models' cache shared with the tests), and no password."""
    return dict(os.environ, GRPO_STUDIO_RUNS_DIR=str(root / "runs"), GRPO_STUDIO_UPLOADS_DIR=str(root / "uploads"),
                GRPO_STUDIO_CACHE_DIR=os.environ.get("GRPO_STUDIO_CACHE_DIR") or str(root / "cache"),
                GRPO_STUDIO_PASSWORD="", **extra)


@contextlib.contextmanager
def chromium_page():
    """One page of Debian's chromium, tall enough for every step: a full-page screenshot then needs no resize, which
    would redraw the plots."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.set_default_timeout(WAIT_MS)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def page(app_url):
    with chromium_page() as page:
        yield page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_tab(page, label: str) -> None:
    page.get_by_role("tab", name=label).click()


def wait_text(page, selector: str, text: str, timeout: int = WAIT_MS) -> None:
    page.locator(selector).filter(has_text=text).first.wait_for(timeout=timeout)


def fill(page, selector: str, value: str) -> None:
    box = page.locator(selector)
    box.fill(value)
    box.blur()


def choose(page, dropdown_id: str, option: str) -> None:
    page.locator(f"#{dropdown_id} input").click()
    page.locator(f"#{dropdown_id}").get_by_role("option", name=option, exact=True).click()


@dataclass
class Walked:
    """What the walkthrough left behind, for the caller to check where the app keeps it."""
    upload_path: Path  # where the app stored the uploaded CSV (a path on the app's machine)
    run_id: str
    adapter_zip: Path  # the adapter zip as the browser downloaded it


def walkthrough(page, url: str, tmp_path: Path) -> Walked:
    """The six steps against the app at `url` (already signed in, if it asks for a login)."""
    page.goto(url)

    # 1 Model: a bad id gets one sentence next to the box; builtin:tiny is accepted.
    fill(page, "#model-name textarea", "not a model id!")
    wait_text(page, "#model-summary", "is neither a hub id like Qwen/Qwen2.5-1.5B-Instruct nor a model folder in the "
                                      "models folder")
    fill(page, "#model-name textarea", "builtin:tiny")
    wait_text(page, "#model-summary", "random tiny Qwen2")
    shot(page, "01-model")

    # 2 Preset: a 3-step run with small generation settings, through the advanced fields.
    open_tab(page, "2 · Preset")
    page.locator("#advanced-settings").get_by_text("Advanced settings").click()
    for key, value in (("max-steps", "3"), ("num-generations", "4"), ("batch-size", "4"),
                       ("max-completion-length", "16")):
        fill(page, f"#setting-train-{key} input", value)
    fill(page, "#setting-train-learning-rate input", "-1")
    wait_text(page, "#settings-errors", "train.learning_rate")
    fill(page, "#setting-train-learning-rate input", "0.000005")
    page.wait_for_function("document.querySelector('#settings-errors .prose').innerText.trim() === ''")
    shot(page, "02-preset")

    # 3 Data: upload a CSV whose columns are not the usual names, then map them.
    csv = tmp_path / "my questions.csv"
    csv.write_text("id,task,result\n" + "".join(f"{i},What is {i} plus {i + 1}?,{2 * i + 1}\n" for i in range(12)))
    open_tab(page, "3 · Data")
    page.locator("#data-upload input[type=file]").set_input_files(str(csv))
    page.wait_for_function("document.querySelector('#data-path textarea').value.includes('my questions.csv')")
    stored = Path(page.locator("#data-path textarea").input_value())
    assert stored.name == "my questions.csv"  # the name as uploaded
    wait_text(page, "#data-error", "needs gold answers")  # the preset checks answers; none mapped yet
    assert "Uploaded" not in page.locator("#data-message").inner_text()  # not beside an error
    choose(page, "data-prompt-column", "task")
    choose(page, "data-answer-column", "result")
    wait_text(page, "#data-summary", "my questions.csv · 12 rows")
    wait_text(page, "#data-preview", "What is 3 plus 4?")
    page.wait_for_function("document.querySelector('#data-error').innerText.trim() === ''")  # its refresh may lag
    shot(page, "03-data")

    # 4 Rewards: the try-it box grades against the first row of the uploaded data, its gold shown beside it. The
    # canned example (answer 12) is wrong there; the right answer to that question scores 1 on strict_format and 2 on
    # correct. An answer pattern it no longer matches scores the penalty, and a broken pattern shows its error next
    # to the row.
    open_tab(page, "4 · Rewards")
    wait_text(page, "#try-question", "What is 0 plus 1?")
    page.wait_for_function("document.querySelector('#try-gold textarea').value === '1'")
    wait_text(page, "#reward-2-score", "-1")
    fill(page, "#try-completion textarea", "<thought>\n0 + 1 = 1\n</thought>\n<answer>1</answer>")
    wait_text(page, "#reward-0-score", "1")
    wait_text(page, "#try-total", "Total: 4")
    original = page.locator("#reward-2-pattern textarea").input_value()
    decimals_only = r"{answer_open}(\d+\.\d+){answer_close}"
    fill(page, "#reward-2-pattern textarea", decimals_only)
    wait_text(page, "#reward-2-score", "-1")
    wait_text(page, "#try-total", "Total: 1")
    wait_text(page, "#try-breakdown", "(no match)")  # what the answer pattern matched: nothing now
    shot(page, "04-rewards-edited")
    fill(page, "#reward-2-pattern textarea", r"{answer_open}(\d+{answer_close}")
    wait_text(page, "#reward-2-error", "does not compile")
    shot(page, "04-rewards-broken")
    fill(page, "#reward-2-pattern textarea", original)
    page.wait_for_function("document.querySelector('#reward-2-error .prose').innerText.trim() === ''")
    wait_text(page, "#try-total", "Total: 4")
    assert "(no match)" not in page.locator("#try-breakdown").inner_text()
    # "Generate one": the tiny model answers one of the uploaded questions, starting inside the thought as the preset
    # prompts it; the box then grades against that question and its gold answer, and scores the new text.
    page.locator("#try-generate").click()
    wait_text(page, "#try-generate-message", "Generated by builtin:tiny in", timeout=TRAIN_WAIT_MS)
    assert page.locator("#try-completion textarea").input_value().startswith("<thought>\n")
    wait_text(page, "#try-question", "the one the model just answered")
    asked = page.locator("#try-question").inner_text()
    numbers = [int(n) for n in re.findall(r"\d+", asked.split("What is", 1)[1])]
    page.wait_for_function(f"document.querySelector('#try-gold textarea').value === '{sum(numbers)}'")
    page.wait_for_function("!document.querySelector('#try-total').innerText.includes('Total: 4')")

    # 5 Train: the summary says ready; launch and watch the run to its end.
    open_tab(page, "5 · Train")
    wait_text(page, "#train-summary", "Ready to train")
    page.locator("#launch-button").click()
    wait_text(page, "#launch-message", "Launched run")
    # No second launch beside a live run: Launch is disabled once the view redraws, until the run ends (a 3-step run
    # may end first on an idle machine; the truth story holds a long run and checks Launch stays disabled beside it).
    page.wait_for_function("document.querySelector('#launch-button').disabled || "
                           "(document.querySelector('#run-state')?.innerText || '').includes('Completed')",
                           timeout=TRAIN_WAIT_MS)
    wait_text(page, "#step-counter", "Step 3/3", timeout=TRAIN_WAIT_MS)
    wait_text(page, "#run-state", "Completed", timeout=TRAIN_WAIT_MS)
    # The bold "Run <id>" only: the header's text can hold Gradio's progress overlay ("1/1") while it updates.
    run_id = page.locator("#run-header strong").first.inner_text().removeprefix("Run ").strip()
    # Done: the launch message has gone stale and is cleared, no ETA is shown, Launch is back.
    page.wait_for_function("document.querySelector('#launch-message .prose').innerText.trim() === ''")
    assert "ETA" not in page.locator("#run-times").inner_text()
    page.locator("#launch-button:not([disabled])").wait_for()
    # Vega draws each curve as a path (a flat line has no height, so "attached" rather than "visible").
    page.locator("#reward-plot svg .mark-line path").first.wait_for(state="attached")
    wait_text(page, "#samples-table", "What is")
    wait_text(page, "#health-hints", "Groups with something to learn from:")  # beside the charts at every step
    shot(page, "05-train")

    # 6 Results: the run is listed as completed; its adapter zip is made and downloaded.
    open_tab(page, "6 · Results")
    wait_text(page, "#runs-table", "completed")
    assert run_id in page.locator("#runs-table").inner_text()
    page.wait_for_function(f"document.querySelector('#run-pick input').value === '{run_id}'")  # the newest run
    page.locator("#export-zip").click()
    wait_text(page, "#export-result", "Adapter (zip)", timeout=TRAIN_WAIT_MS)
    page.locator("#download-adapter").wait_for(state="visible")
    with page.expect_download() as download:
        page.locator("#download-adapter").click()
    adapter_zip = tmp_path / "downloaded-adapter.zip"
    download.value.save_as(adapter_zip)
    shot(page, "06-results")

    # Its settings load back into the form (the uploaded file and the mapped columns included).
    page.locator("#run-use-settings").click()
    wait_text(page, "#results-message", "Loaded the settings")
    open_tab(page, "3 · Data")
    assert page.locator("#data-path textarea").input_value() == str(stored)
    assert page.locator("#data-prompt-column input").input_value() == "task"
    wait_text(page, "#data-summary", "12 rows")

    # The code preset on the bundled HumanEval sample: the try-it box runs a pasted program against the tests of the
    # file's first row, in the sandbox.
    open_tab(page, "2 · Preset")
    page.locator("#preset-pick").get_by_label("rlvr-code").check()
    open_tab(page, "3 · Data")
    page.locator("#data-use-code-sample").click()
    wait_text(page, "#data-summary", "164 rows")
    assert page.locator("#data-prompt-column input").input_value() == "prompt"
    open_tab(page, "4 · Rewards")
    first = json.loads((REPO / "tests" / "data" / "humaneval" / "humaneval.jsonl").read_text().splitlines()[0])
    program = first["prompt"] + first["canonical_solution"]
    fill(page, "#try-completion textarea", f"<thought>\nEvery pair.\n</thought>\n<answer>\n```python\n{program}"
                                           "```\n</answer>")
    wait_text(page, "#reward-2-score", "2")
    wait_text(page, "#try-total", "Total: 4")
    shot(page, "07-code-try-it")
    return Walked(stored, run_id, adapter_zip)


def assert_is_adapter_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        names = {Path(name).name for name in archive.namelist()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= names, names


def test_walkthrough_to_a_completed_run(page, app_url, tmp_path):
    url, root = app_url
    walked = walkthrough(page, url, tmp_path)
    assert walked.upload_path.parent.parent == (root / "uploads").resolve()  # uploads/<hash>/<name>
    assert (root / "runs" / walked.run_id / "adapter").is_dir()
    assert_is_adapter_zip(walked.adapter_zip)


def test_the_page_tells_the_truth(page, app_url, tmp_path):
    """What a new user hit in a real browser walk (issue 15): an idle page that polled, a form lost on reload,
    "Ready" for a model that could not start here, and the truth about learning (the probe, the held-out checks, an
    example of a run that learns)."""
    url, root = app_url
    page.goto(url)
    page.evaluate("() => localStorage.clear()")  # the walkthrough's form, kept in this browser
    page.reload()
    fill(page, "#model-name textarea", "builtin:tiny")
    wait_text(page, "#model-summary", "random tiny Qwen2")

    # The page is idle when nothing runs: no timer polls the server (it made ~70 requests per 20 s before). Calls to
    # the app only (a busy machine may still be fetching the page's lazily loaded assets). The page's own load events
    # end first, late on a busy machine: wait for QUIET_S without a call, which a polling page never has (its timers
    # tick more often), then watch for 5 s more.
    seen: list[tuple[float, str]] = []
    page.on("request", lambda request: seen.append((time.monotonic(), request.url))
            if "/gradio_api/" in request.url else None)
    started = time.monotonic()
    while time.monotonic() - (seen[-1][0] if seen else started) < QUIET_S:
        assert time.monotonic() - started < 60, f"the idle page kept calling the app: {seen[-4:]}"
        page.wait_for_timeout(250)
    calls_before = len(seen)
    page.wait_for_timeout(5000)
    assert seen[calls_before:] == [], seen[calls_before:]

    # Numbers are refused where they are typed: a fraction of a step, a batch that does not hold whole groups.
    open_tab(page, "2 · Preset")
    page.locator("#advanced-settings").get_by_text("Advanced settings").click()
    fill(page, "#setting-train-max-steps input", "2.5")
    wait_text(page, "#settings-errors", "Training steps (train.max_steps) must be a whole number (you entered 2.5)")
    fill(page, "#setting-train-max-steps input", "3")
    fill(page, "#setting-train-num-generations input", "3")
    wait_text(page, "#settings-errors", "3 must divide the generation batch")
    for key, value in (("num-generations", "4"), ("batch-size", "4"), ("max-completion-length", "16")):
        fill(page, f"#setting-train-{key} input", value)
    page.wait_for_function("document.querySelector('#settings-errors .prose').innerText.trim() === ''")

    # A page reload keeps the form.
    page.wait_for_timeout(1500)  # the last change reaches the browser's storage
    page.reload()
    open_tab(page, "2 · Preset")
    page.locator("#advanced-settings").get_by_text("Advanced settings").click()
    # ?.: the accordion's fields may not be drawn yet when the wait starts (a predicate that throws is not retried)
    page.wait_for_function("document.querySelector('#setting-train-max-completion-length input')?.value === '16'")
    assert page.locator("#setting-train-max-steps input").input_value() == "3"  # not the defaults (20, 8, 64)
    assert page.locator("#setting-train-batch-size input").input_value() == "4"

    # Data: a file that cannot be read shows its reason, no "Uploaded", no table; a nested question is flagged.
    open_tab(page, "3 · Data")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "What is 1 plus 1?", "answer": 2}\n{"question": \n')
    page.locator("#data-upload input[type=file]").set_input_files(str(broken))
    wait_text(page, "#data-error", "broken.jsonl line 2 is not valid JSON")
    assert "Uploaded" not in page.locator("#data-message").inner_text()
    assert not page.locator("#data-preview").is_visible()
    nested = tmp_path / "nested.jsonl"
    nested.write_text("".join(json.dumps({"question": {"text": f"What is {i} plus 1?"}, "answer": i + 1}) + "\n"
                              for i in range(6)))
    page.locator("#data-upload").get_by_role("button", name="Clear").click()  # the box holds the broken file
    page.locator("#data-upload input[type=file]").set_input_files(str(nested))
    wait_text(page, "#data-error", "column 'question' holds an object in row 1")
    page.locator("#data-use-sample").click()
    wait_text(page, "#data-summary", "gsm8k_slice.jsonl")

    # "Ready" only when the run can start here: a hub model with the Hub switched off is refused before Launch, and
    # the refused launch says why in its toast.
    open_tab(page, "1 · Model")
    fill(page, "#model-name textarea", "Qwen/Qwen2.5-1.5B-Instruct")
    wait_text(page, "#model-summary", "is not downloaded on this machine")
    open_tab(page, "5 · Train")
    wait_text(page, "#train-summary", "Fix these before launching")
    assert "Ready" not in page.locator("#train-summary").inner_text()
    page.locator("#launch-button").click()
    wait_text(page, "[data-testid=toast-body]", "Not launched: Model (model.name): Qwen/Qwen2.5-1.5B-Instruct is not")
    open_tab(page, "1 · Model")
    fill(page, "#model-name textarea", "builtin:tiny")
    wait_text(page, "#model-summary", "random tiny Qwen2")

    # The probe: will GRPO learn anything here? Its verdict in words, and a button that applies its change.
    open_tab(page, "5 · Train")
    wait_text(page, "#train-summary", "Ready to train")
    page.locator("#train-probe-button").click()
    wait_text(page, "#train-probe-verdict", "Probing: builtin:tiny answers 8 questions × 4 times")
    wait_text(page, "#train-probe-verdict", "Probed 8 questions × 4 answers with builtin:tiny", timeout=TRAIN_WAIT_MS)
    shot(page, "08-probe")
    # Its 16-token answers are the tiny model's noise cut off: the verdict says so and offers twice the length.
    assert page.locator("#train-probe-verdict").inner_text().startswith("⚠ Answers cut off")
    page.locator("#train-probe-apply").click()
    wait_text(page, "#train-probe-verdict", "Applied: train.max_completion_length = 32")
    open_tab(page, "2 · Preset")
    assert page.locator("#setting-train-max-completion-length input").input_value() == "32"

    # What success looks like: the bundled GPU run, in the Train view, with its evaluation in the results step.
    open_tab(page, "6 · Results")
    choose(page, "run-pick", "Example from a GPU: smollm2-reasoning-h100")
    wait_text(page, "#eval-result", "89%")
    page.locator("#run-attach").click()
    wait_text(page, "#run-header", "Example run, made on a GPU")
    wait_text(page, "#step-counter", "Step 200/200")
    page.locator("#reward-plot svg .mark-line path").first.wait_for(state="attached")
    shot(page, "09-example-run")

    # Along the way the app logged no failure (a handler's error, or updates Gradio refused, as a first visit's empty
    # form memory once was).
    log = (root / "app.log").read_text()
    assert "Traceback" not in log, log[-3000:]

"""One run, in one state, per page (issue 25), in a real browser: what a user saw contradict itself. Two parts on
one app and one page (each within the suite's time limit on a loaded machine).

A long run A trains. A reload lands on the Train tab with A. The bundled example, shown in the Train view beside the
live run, stays the example (header, step, samples), while the busy line says A trains and Launch stays disabled. A
short run B waits in the queue; stopping A hands the GPU to B, and the Train view follows B, never "Not now: A still
running" beside an enabled Launch. Resuming A shows A training again (not the "Stopped" of minutes ago). Deleting B
raises no error toast, and the TensorBoard box no longer names it. The app logs no traceback.
"""

from __future__ import annotations

import pytest

from tests.test_browser import (
    TRAIN_WAIT_MS,
    choose,
    chromium_page,
    open_tab,
    shot,
    sync_api,
    wait_text,
)
from tests.test_browser_queue import App, launch, page_says, pick

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """The app and one browser page for the story's two parts (the second goes on from where the first left)."""
    app = App(tmp_path_factory.mktemp("truth"))
    app.start()
    with chromium_page() as page:
        yield app, page, {}
    app.stop()
    for run in app.runs().values():  # a failed test must not leave a trainer behind
        trainer = run.trainer()
        if trainer is not None:
            trainer.kill()

EXAMPLE = "Example from a GPU: smollm2-reasoning-h100"
EXAMPLE_QUESTION = "Five coworkers were talking during the lunch break"  # the example's latest samples


def train_says(page) -> dict:
    """The Train view's boxes, for a failed wait's message."""
    boxes = ("#run-header", "#run-state", "#step-counter", "#train-busy", "#train-summary", "#launch-message")
    said = {box: page.locator(box).inner_text() if page.locator(box).count() else None for box in boxes}
    return said | {"launch enabled": page.locator("#launch-button").is_enabled(),
                   "toasts": page.locator("[data-testid=toast-body]").all_inner_texts()}


def settled(page, condition: str, what: str, timeout: int = TRAIN_WAIT_MS) -> None:
    """Wait until a JavaScript condition holds, failing with what the Train view showed."""
    try:
        page.wait_for_function(condition, timeout=timeout)
    except sync_api.TimeoutError:
        shot(page, "failed-truth")
        raise AssertionError(f"{what}: {train_says(page)}") from None


def text_of(selector: str) -> str:
    """A box's text in JavaScript (it may start with Gradio's progress time, "0.7s", while an update is on its way)."""
    return f"(document.querySelector('{selector}')?.innerText || '')"


def header_names(run_id: str) -> str:
    return f"{text_of('#run-header')}.includes('{run_id}')"


def launch_enabled(enabled: bool) -> str:
    return f"{'!' if enabled else ''}document.querySelector('#launch-button').disabled"


def stays(page, condition: str, what: str, seconds: float = 5.0) -> None:
    """The condition holds now and for `seconds` more (several ticks of the page's timers)."""
    settled(page, condition, what)
    for _ in range(int(seconds * 4)):
        page.wait_for_timeout(250)
        assert page.evaluate(condition), f"{what} no longer held: {train_says(page)}"


def test_one_run_shown_beside_a_live_run_and_through_a_hand_off(story):
    app, page, runs = story
    page.goto(app.url)
    open_tab(page, "2 · Preset")
    page.locator("#advanced-settings").get_by_text("Advanced settings").click()
    long_id = launch(page, 5000, "Launched run").split("run ")[-1].split(".")[0].strip()

    # A reload while A trains lands on the Train tab, showing A.
    page.reload()
    settled(page, "document.querySelector('#tab-train')?.offsetParent !== null", "the Train tab after a reload")
    settled(page, header_names(long_id), "A in the Train view after a reload")

    # The example, shown in the Train view beside the live run: the example's header, steps and samples, and they
    # stay the example's; the busy line names A and Launch stays disabled.
    open_tab(page, "6 · Results")
    choose(page, "run-pick", EXAMPLE)
    page.locator("#run-attach").click()
    example_shown = (f"{text_of('#run-header')}.includes('Example run') && {text_of('#step-counter')}.includes("
                     f"'Step 200/200') && {text_of('#samples-table')}.includes('{EXAMPLE_QUESTION}')")
    stays(page, f"{example_shown} && !{header_names(long_id)}", "the example alone in the Train view")
    stays(page, f"{text_of('#train-busy')}.includes('{long_id}') && {launch_enabled(False)}",
          "the busy line beside a disabled Launch")
    shot(page, "truth-example-beside-a-live-run")

    # B waits in the queue; stopping A hands the GPU to B, and the Train view follows: never "Not now" beside an
    # enabled Launch.
    open_tab(page, "2 · Preset")
    page.locator("#advanced-settings").get_by_text("Advanced settings").click()  # closed again by the reload
    queued = launch(page, 2, "is queued (position 1)", queue=True)
    short_id = next(run_id for run_id in app.runs() if run_id != long_id)
    assert short_id in queued
    settled(page, header_names(long_id), "A in the Train view after B was queued")
    page.locator("#stop-button").dispatch_event("click")  # no wait for navigations (there are none)
    settled(page, header_names(short_id), "B in the Train view once A handed the GPU over")
    settled(page, f"{text_of('#run-state')}.includes('Completed')", "B completed")
    stays(page, f"{launch_enabled(True)} && !{text_of('#train-busy')}.includes('Not now')",
          "Launch enabled with no run training, and no busy line")
    runs.update(long=long_id, short=short_id)


def test_resume_and_delete_leave_no_stale_state(story):
    app, page, runs = story
    if not runs:
        pytest.skip("the first part of the story did not get this far")
    long_id, short_id = runs["long"], runs["short"]

    # Resume A: the Train view shows A training, not the state it left minutes ago; Launch steps back.
    open_tab(page, "6 · Results")
    pick(page, long_id)
    page.locator("#run-resume").click()
    wait_text(page, "#results-message", f"Resuming run {long_id}")
    open_tab(page, "5 · Train")
    settled(page, f"{header_names(long_id)} && {text_of('#run-state')}.includes('Training')", "A training again")
    stays(page, f"{launch_enabled(False)} && {text_of('#train-busy')}.includes('{long_id}')",
          "Launch disabled while A trains again")
    page.locator("#stop-button").dispatch_event("click")  # no wait for navigations (there are none)
    settled(page, f"{header_names(long_id)} && {text_of('#run-state')}.includes('Stopped')", "A stopped again")

    # Delete B: no error toast, and nothing on the page names it any more.
    open_tab(page, "6 · Results")
    pick(page, short_id)
    settled(page, f"{text_of('#tensorboard-logs')}.includes('{short_id}')", "B's TensorBoard logs")
    page.locator("#run-delete").click()
    wait_text(page, "#delete-confirm-text", "This cannot be undone")
    page.locator("#delete-yes").click()
    wait_text(page, "#results-message", f"Deleted run {short_id}")
    named = f"{text_of('#tensorboard-logs')} + {text_of('#tensorboard-status')}"
    settled(page, f"!({named}).includes('{short_id}') && "
                  f"document.querySelector('#run-pick input').value !== '{short_id}'", "B no longer named")
    said = page_says(page, "#tensorboard-logs", "#tensorboard-status")
    assert said["toasts"] == [], said  # no red "not in the list of choices"
    open_tab(page, "5 · Train")
    stays(page, f"!{header_names(short_id)}", "the deleted run gone from the Train view")
    log = (app.root / "app.log").read_text()
    assert "Traceback" not in log and "not in the list of choices" not in log, log[-3000:]

"""The app's shutdown in a container: `docker stop` SIGTERMs the app (tini forwards it), and every process of the
container ends soon after, so the app first stops the running training and waits for it to save. The whole path,
through Docker, is tests/image/test_image.py::test_docker_stop_during_a_run_then_start_and_resume."""

from __future__ import annotations

from app import runner
from app.form_state import form_to_config

from tests.test_app_form import app_dirs, math_form, wait_for  # noqa: F401  (app_dirs is a fixture)


def test_stop_and_wait_returns_when_the_run_has_saved_and_stopped(app_dirs):  # noqa: F811
    form = math_form(**{"train.max_steps": 50, "train.num_generations": 4, "train.batch_size": 4,
                        "train.max_completion_length": 8, "train.save_steps": 100})
    run = runner.launch(form_to_config(form))
    wait_for(lambda: run.read_status().step >= 1 or run.state() == "failed", what="the first step")
    assert runner.active_run().id == run.id
    runner.stop_and_wait(run)
    # No waiting here: when stop_and_wait returns, the trainer has exited after writing its final state.
    assert run.state() == "stopped", run.log_tail()
    assert (run.adapter_dir / "adapter_config.json").is_file() and run.last_checkpoint() is not None
    assert run.read_status().step < 50
    assert runner.active_run() is None

"""train.report_to: a real 3-step CPU run writes TensorBoard event files that TensorBoard's own reader reads back
(the metrics of events.jsonl and the completions of samples.jsonl, step by step); a tracker that cannot work here is
one sentence from `check`; TensorBoard beside the app asks for the app's login."""

import base64
import importlib.util
import urllib.error
import urllib.request

import pytest

from engine import tracking
from engine.config import load_config
from engine.launch_plan import free_port
from engine.runs.folder import RunFolder

from tests.conftest import REPO, run_engine

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def test_a_cpu_run_writes_tensorboard_events_with_metrics_and_completions(tmp_path, runs_dir):
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, TENSORS, EventAccumulator

    run = RunFolder(runs_dir / "tracked")
    result = run_engine("train", QUICKSTART, "--run-dir", run.path, "--set", "train.max_steps=3",
                        "--set", "train.report_to=tensorboard")
    assert result.returncode == 0, result.stdout + result.stderr
    files = list(run.tensorboard_dir.glob("events.out.tfevents.*"))
    assert len(files) == 1

    board = EventAccumulator(str(files[0]), size_guidance={SCALARS: 0, TENSORS: 0})
    board.Reload()
    events = run.read_events()
    assert [(e.step, round(e.value, 5)) for e in board.Scalars("train/reward")] == \
        [(e["step"], round(e["reward"], 5)) for e in events]
    assert [e.step for e in board.Scalars("train/eval/accuracy")] == [e["step"] for e in events
                                                                      if "eval/accuracy" in e]
    texts = {e.step: e.tensor_proto.string_val[0].decode() for e in board.Tensors("completions/text_summary")}
    assert sorted(texts) == [1, 2, 3]
    for sample in run.read_samples():
        shown = texts[sample["step"]]
        assert sample["prompt"] in shown and f"**Gold answer:** {sample['answer']}" in shown
        assert all(f"    {line}" in shown for line in sample["completion"].splitlines()[:3])


class SamplingSettings:  # stands for Unsloth's vLLMSamplingParams: a GRPOConfig value JSON cannot write
    def __repr__(self):
        return "SamplingSettings(temperature=1.0)"


def test_tensorboard_writes_the_arguments_even_with_values_json_cannot_write(tmp_path, runs_dir):
    """Every unsloth + vLLM run once failed at its start: TensorBoard's callback writes the arguments as JSON."""
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator
    from transformers import TrainerControl, TrainerState
    from trl import GRPOConfig

    run = RunFolder(runs_dir / "args")
    config = load_config(QUICKSTART)
    [board_callback] = tracking.callbacks(config, run)
    args = GRPOConfig(output_dir=str(tmp_path), generation_kwargs={"sampling": SamplingSettings()}, report_to="none",
                      bf16=False)
    with pytest.raises(TypeError):
        args.to_json_string()  # what the callback met
    board_callback.on_train_begin(args, TrainerState(), TrainerControl())
    board_callback.tb_writer.flush()
    assert args.generation_kwargs["sampling"].__class__ is SamplingSettings  # the trainer's own arguments untouched
    board = EventAccumulator(str(next(run.tensorboard_dir.glob("events.out.tfevents.*"))), size_guidance={TENSORS: 0})
    board.Reload()
    written = board.Tensors("args/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "SamplingSettings(temperature=1.0)" in written and '"output_dir"' in written


def test_a_tracker_that_is_not_installed_is_one_sentence():
    missing = [t for t in ("wandb", "mlflow", "trackio") if importlib.util.find_spec(t) is None]
    if not missing:
        pytest.skip("every tracker is installed here")
    config = load_config(QUICKSTART)
    for tracker in missing:
        chosen = config.model_copy(update={"train": config.train.model_copy(update={"report_to": tracker})})
        assert [str(p) for p in tracking.tracker_problems(chosen)] == [
            f"train.report_to: {tracker} is not installed here; install it (pip install {tracker}) or choose "
            "tensorboard or none"]
    result = run_engine("check", QUICKSTART, "--set", f"train.report_to={missing[0]}")  # as the CLI says it
    assert result.returncode == 2 and f"{missing[0]} is not installed here" in result.stderr
    assert "Traceback" not in result.stderr


def test_wandb_needs_a_key_from_the_environment_or_netrc(tmp_path, monkeypatch):
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.netrc, where `wandb login` puts the key
    assert not tracking.wandb_can_log()
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password not-a-real-key\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert tracking.wandb_can_log()
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")  # a key for another server does not count
    assert not tracking.wandb_can_log()
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert tracking.wandb_can_log()


def test_tracker_arguments_for_trl():
    config = load_config(QUICKSTART)
    run = RunFolder(REPO / "runs" / "some-run")
    assert config.train.report_to == "tensorboard"  # on by default: TensorBoard is installed with the app
    assert tracking.grpo_arguments(config, run) == {"report_to": "none", "run_name": "some-run"}
    wandb = config.model_copy(update={"train": config.train.model_copy(update={"report_to": "wandb"})})
    assert tracking.grpo_arguments(wandb, run) == {"report_to": ["wandb"], "run_name": "some-run",
                                                   "log_completions": True, "num_completions_to_print": 0}


def test_tensorboard_beside_the_app_asks_for_the_apps_login(runs_dir, monkeypatch):
    from app import tensorboard_server

    monkeypatch.setenv("GRPO_STUDIO_TENSORBOARD_PORT", str(free_port()))
    tensorboard_server.configure("127.0.0.1", ("admin", "pässword-1"))
    try:
        port = tensorboard_server.start(runs_dir)
        assert tensorboard_server.start(runs_dir) == port  # one TensorBoard, started once

        def status(credentials: str | None) -> int:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/data/runs")
            if credentials is not None:
                request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        assert status(None) == 401 and status("admin:wrong") == 401 and status("root:pässword-1") == 401
        assert status("admin:pässword-1") == 200
    finally:
        tensorboard_server.stop()
        tensorboard_server.configure("127.0.0.1", None)
    assert tensorboard_server.link("studio.lan:7860", 6006) == "http://studio.lan:6006/"
    assert tensorboard_server.link("[::1]:7860", 6006) == "http://[::1]:6006/"



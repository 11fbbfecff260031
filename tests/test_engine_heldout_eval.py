"""Held-out eval during training on the built-in tiny model (CPU): eval/* metrics in the step's event, the best
checkpoint kept, marked in best.json and protected from checkpoint rotation, and `engine eval` using it."""

import json
import subprocess
import sys

from engine.best_checkpoint import NoAdapter, adapter_source, read_best
from engine.config import build_config, load_config
from engine.runs.folder import RunFolder
from engine.training_eval import best_metric, eval_every, make_heldout_eval

from tests.conftest import DATA, REPO, run_engine

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def test_eval_during_training_logs_eval_metrics_and_keeps_the_best_checkpoint(runs_dir):
    run = RunFolder(runs_dir / "run")
    result = run_engine("train", QUICKSTART, "--run-dir", run.path, "--set", "train.max_steps=4",
                        "--set", "train.eval_steps=2", "--set", "train.eval_limit=3", "--set", "train.save_steps=100")
    assert result.returncode == 0, result.stdout + result.stderr
    events = run.read_events()
    assert [e["step"] for e in events] == [1, 2, 3, 4]  # one event per step, the eval's figures inside it
    for event in events:
        evaluated = event["step"] in (2, 4)
        assert ("eval/accuracy" in event) == evaluated, event
        if evaluated:
            assert 0.0 <= event["eval/accuracy"] <= 1.0 and 0.0 <= event["eval/format"] <= 1.0
            assert isinstance(event["eval/mean_reward"], float) and event["eval/rows"] == 3
            assert isinstance(event["reward"], float)  # the training metrics are still there
    log = run.log_path.read_text()
    assert "every 2 steps on 3 questions, greedy; the best checkpoint by eval/accuracy is kept" in log
    assert "held-out eval at step 2: accuracy" in log and "held-out eval at step 4: accuracy" in log

    # The random model is never right: the first check stays the best (a tie does not replace it), and its
    # checkpoint was saved although save_steps (100) would not have saved one.
    best = read_best(run)
    assert best["step"] == 2 and best["metric"] == "eval/accuracy" and best["value"] == events[1]["eval/accuracy"]
    assert best["checkpoint"] == "checkpoints/checkpoint-2"
    assert adapter_source(run, "best") == (run.path / "checkpoints" / "checkpoint-2").resolve()
    assert adapter_source(run, "last") == run.adapter_dir
    state = json.loads((run.checkpoints_dir / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["best_global_step"] == 2  # what transformers' rotation protects and a resume restores

    evaluated = run_engine("eval", run.path, "--limit", "2")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "tuned = base + checkpoint-2 (best: eval/accuracy" in evaluated.stdout
    assert json.loads(run.eval_path.read_text())["tuned_adapter"].startswith("checkpoint-2 (best")
    last = run_engine("eval", run.path, "--limit", "2", "--checkpoint", "last")
    assert last.returncode == 0 and "tuned = base + adapter (last)" in last.stdout


ROTATING_RUN = """
import sys
from engine.config import load_config
from engine.runs.folder import RunFolder
from engine.training import train
config = load_config(sys.argv[1], ["train.max_steps=4", "train.eval_steps=1", "train.eval_limit=2",
                                   "train.save_steps=1"])
sys.exit(0 if train(config, RunFolder(__import__("pathlib").Path(sys.argv[2])),
                    grpo_overrides={"save_total_limit": 2}) == "completed" else 1)
"""


def test_rotation_never_deletes_the_best_checkpoint(tmp_path):
    """With transformers keeping two checkpoints, the best (step 1, never beaten by the random model) survives."""
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    result = subprocess.run([sys.executable, "-c", ROTATING_RUN, str(QUICKSTART), str(run.path)], cwd=REPO,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = sorted(p.name for p in run.checkpoints_dir.glob("checkpoint-*"))
    assert kept == ["checkpoint-1", "checkpoint-4"]  # 2 and 3 rotated away; the best and the newest stay
    assert read_best(run)["checkpoint"] == "checkpoints/checkpoint-1"
    assert adapter_source(run) == (run.checkpoints_dir / "checkpoint-1").resolve()


def test_adapter_source_without_an_adapter_or_a_usable_best(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    try:
        adapter_source(run)
        raise AssertionError("expected NoAdapter")
    except NoAdapter as e:
        assert str(e) == ("run run has no adapter yet; it is saved at each checkpoint and when the run completes or "
                          "is stopped")
    (run.adapter_dir).mkdir()
    (run.adapter_dir / "adapter_config.json").write_text("{}")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "adapter_config.json").write_text("{}")
    for pointer in ("../elsewhere", "checkpoints/checkpoint-9", 17):  # outside the run, gone, not a path
        run.best_path.write_text(json.dumps({"step": 9, "metric": "eval/accuracy", "value": 1, "checkpoint": pointer}))
        assert adapter_source(run, "best") == run.adapter_dir
    run.best_path.write_text("{half a file")
    assert adapter_source(run, "best") == run.adapter_dir


def test_eval_schedule_and_when_it_is_off(capsys):
    config = build_config({"preset": "rlvr-math", "data": {"path": str(DATA / "gsm8k_slice.jsonl")},
                           "train": {"max_steps": 200}})
    assert eval_every(config) == 20 and config.train.eval_limit == 32
    assert eval_every(config.model_copy(update={"train": config.train.model_copy(update={"max_steps": 7})})) == 1
    lines = []
    assert make_heldout_eval(config, None, None, [], lines.append) is None
    off = config.model_copy(update={"train": config.train.model_copy(update={"eval_limit": 0})})
    assert make_heldout_eval(off, None, None, [{"prompt": [], "answer": "1"}], lines.append) is None
    assert lines == ["held-out eval during training: off (no rows are held out: set data.eval_fraction above 0)",
                     "held-out eval during training: off (train.eval_limit is 0)"]
    assert load_config(QUICKSTART).train.eval_steps is None


def test_which_metric_picks_the_best_checkpoint():
    math = build_config({"preset": "rlvr-math", "data": {"path": str(DATA / "gsm8k_slice.jsonl")}})
    gold, no_gold = [{"prompt": [], "answer": "4"}], [{"prompt": [], "answer": None}]
    assert best_metric(math, gold) == "eval/accuracy"
    assert best_metric(math, no_gold) == "eval/mean_reward"  # nothing to be right about
    reasoning = build_config({"preset": "reasoning", "data": {"path": str(DATA / "gsm8k_slice.jsonl")}})
    assert best_metric(reasoning, gold) == "eval/mean_reward"  # no correctness reward
    only_python = build_config({"data": {"path": str(DATA / "gsm8k_slice.jsonl")},
                                "rewards": [{"name": "p", "kind": "python", "function": "m:f"}]})
    assert best_metric(only_python, gold) == "eval/mean_reward"  # the checks score python rewards too
    assert best_metric(build_config({"rewards": []}), gold) is None  # nothing to score: no best

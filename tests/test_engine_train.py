"""Real GRPO runs on the built-in tiny model (CPU): the run folder, stop and resume, failures, watch, eval, and a
toy reward that the model learns."""

import json
import shutil
import signal
import subprocess
import sys

import pytest

from engine.config import load_config
from engine.runs.folder import RunFolder

from tests.conftest import REPO, run_engine, wait_for

QUICKSTART = REPO / "examples" / "quickstart.yaml"
TOY = REPO / "tests" / "toy_rewards.py"


def only_run(runs_dir) -> RunFolder:
    folders = [p for p in runs_dir.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return RunFolder(folders[0])


def test_train_writes_every_run_folder_file(runs_dir):
    result = run_engine("train", QUICKSTART, "--set", "train.max_steps=3")
    assert result.returncode == 0, result.stdout + result.stderr
    run = only_run(runs_dir)
    assert run.id.endswith("-rlvr-math")
    status = run.read_status()
    assert status.state == "completed" and status.step == 3 and status.max_steps == 3
    assert status.backend == "hf" and status.pid > 0 and status.started <= status.finished

    events = run.read_events()
    assert [e["step"] for e in events] == [1, 2, 3]
    for key in ("time", "reward", "reward_std", "rewards/strict_format/mean", "rewards/correct/mean", "loss",
                "completion_length", "learning_rate", "entropy", "frac_reward_zero_std"):
        assert all(isinstance(e[key], (int, float)) for e in events), key
    assert all(e["vram_used_mib"] is None and e["vram_total_mib"] is None for e in events)  # no NVIDIA GPU here

    samples = run.read_samples()
    assert {s["step"] for s in samples} == {1, 2, 3}
    assert set(samples[0]) == {"step", "prompt", "completion", "scores", "answer"}
    assert set(samples[0]["scores"]) == {"strict_format", "tag_count", "correct"}
    assert samples[0]["answer"].replace(",", "").isdigit()

    assert (run.checkpoints_dir / "checkpoint-2").is_dir()  # save_steps: 2 in the quickstart
    assert (run.adapter_dir / "adapter_config.json").is_file()
    assert (run.adapter_dir / "tokenizer_config.json").is_file()
    log = run.log_path.read_text()
    assert "step 3/3" in log and "completed at step 3" in log
    assert "step 3/3" in result.stdout  # train prints the same progress line as watch

    resolved = load_config(run.config_path)
    assert resolved.train.max_steps == 3 and resolved.preset == "rlvr-math" and len(resolved.rewards) == 3

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from engine.model_names import resolve_model_path

    base = AutoModelForCausalLM.from_pretrained(resolve_model_path("builtin:tiny"))
    assert PeftModel.from_pretrained(base, str(run.adapter_dir)).peft_config["default"].r == 16

    watched = run_engine("watch", run.path)
    assert watched.returncode == 0 and "step 3/3" in watched.stdout and "completed" in watched.stdout


def start_training(runs_dir, *overrides) -> tuple[subprocess.Popen, RunFolder]:
    run_dir = runs_dir / "long"
    args = [a for o in overrides for a in ("--set", o)]
    process = subprocess.Popen([sys.executable, "-m", "engine", "train", str(QUICKSTART), "--run-dir", str(run_dir),
                                "--set", "train.max_steps=200", "--set", "train.save_steps=1000", *args],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, RunFolder(run_dir)


@pytest.mark.parametrize("how", ["stop_file", "sigterm"])
def test_stop_saves_the_adapter_and_resume_continues(runs_dir, how):
    process, run = start_training(runs_dir)
    wait_for(lambda: run.read_status().step >= 2)
    if how == "stop_file":
        run.request_stop()
    else:
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0
    status = run.read_status()
    assert status.state == "stopped"
    stopped_at = status.step
    assert 2 <= stopped_at < 200
    assert (run.adapter_dir / "adapter_config.json").is_file()
    assert run.last_checkpoint().name == f"checkpoint-{stopped_at}"  # a checkpoint at the stop step
    if how == "sigterm":
        return  # resuming is the same for both; once is enough for the suite's time

    resumed = run_engine("train", run.path, "--resume", "--set", f"train.max_steps={stopped_at + 2}")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming from checkpoint-{stopped_at}" in resumed.stdout
    status = run.read_status()
    assert status.state == "completed" and status.step == stopped_at + 2
    steps = [e["step"] for e in run.read_events()]
    assert steps == list(range(1, stopped_at + 3))  # continued, not restarted
    assert load_config(run.config_path).train.max_steps == stopped_at + 2


def test_resume_after_a_kill_logs_each_step_once(runs_dir):
    """A run killed after its last checkpoint had logged later steps; the resumed run logs them again."""
    assert run_engine("train", QUICKSTART, "--set", "train.max_steps=3").returncode == 0
    run = only_run(runs_dir)
    shutil.rmtree(run.checkpoints_dir / "checkpoint-3")  # as if killed before the step-3 checkpoint was written
    resumed = run_engine("train", run.path, "--resume")
    assert resumed.returncode == 0 and "resuming from checkpoint-2" in resumed.stdout, resumed.stdout
    assert [e["step"] for e in run.read_events()] == [1, 2, 3]
    assert sorted({s["step"] for s in run.read_samples()}) == [1, 2, 3]
    assert len(run.read_samples()) == 3 * len([s for s in run.read_samples() if s["step"] == 1])


def test_a_failing_reward_fails_the_run_with_one_sentence(runs_dir):
    result = run_engine("train", QUICKSTART, "--set", f"rewards=[{{name: b, kind: python, function: '{TOY}:broken'}}]")
    assert result.returncode == 1
    run = only_run(runs_dir)
    status = run.read_status()
    assert status.state == "failed"
    assert status.error == "RuntimeError: this reward is broken on purpose"
    assert "Traceback" in run.log_path.read_text()  # the full story is in the log, not in status
    assert run.config_path.is_file()


def test_train_refuses_an_invalid_config_before_making_a_run_folder(runs_dir):
    result = run_engine("train", QUICKSTART, "--set", "train.num_generations=3")
    assert result.returncode == 2 and "must divide" in result.stderr
    assert not runs_dir.exists() or not [p for p in runs_dir.iterdir() if not p.name.startswith(".")]  # the lock


def test_eval_compares_base_and_tuned_on_the_held_out_rows(runs_dir):
    assert run_engine("train", QUICKSTART, "--set", "train.max_steps=2").returncode == 0
    run = only_run(runs_dir)
    counted = runs_dir / "eval.progress.json"  # where the app asks a job to count (engine/progress_bar.py)
    result = run_engine("eval", run.path, "--limit", "3", env={"GRPO_STUDIO_PROGRESS_FILE": str(counted)})
    assert result.returncode == 0, result.stderr
    assert "base model answering" in result.stderr and "tuned model answering" in result.stderr  # the bars
    assert "3/3" in result.stderr
    assert json.loads(counted.read_text()) == {"what": "tuned model answering", "done": 3, "total": 3,
                                               "unit": "questions"}
    report = json.loads(run.eval_path.read_text())
    assert report["held_out"] == 3 and report["decoding"] == "greedy"
    for name in ("base", "tuned"):
        assert report[name]["n"] == 3
        assert 0.0 <= report[name]["accuracy"] <= 1.0 and 0.0 <= report[name]["format_compliance"] <= 1.0
    assert len(report["examples"]) == 3 and "tuned" in report["examples"][0]
    assert "base   accuracy" in result.stdout and "tuned  accuracy" in result.stdout


def test_start_with_thought_reaches_rollouts_rewards_adapter_and_eval(runs_dir):
    result = run_engine("train", QUICKSTART, "--set", "train.max_steps=2", "--set", "prompt.start_with_thought=true")
    assert result.returncode == 0, result.stdout + result.stderr
    run = only_run(runs_dir)
    samples = run.read_samples()
    assert samples and all(s["completion"].startswith("<thought>\n") for s in samples)
    # The random model never writes the tags itself: the opening tag (one of four) earns tag_count its quarter.
    assert all(s["scores"]["tag_count"] == 0.25 for s in samples), [s["scores"] for s in samples]

    from engine.model_names import load_tokenizer

    saved = load_tokenizer(str(run.adapter_dir))  # what export's merged model and other tools will use
    prompt = saved.apply_chat_template([{"role": "user", "content": "q"}], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("assistant\n<thought>\n")

    assert run_engine("eval", run.path, "--limit", "2").returncode == 0
    examples = json.loads(run.eval_path.read_text())["examples"]
    assert all(e["base"].startswith("<thought>\n") and e["tuned"].startswith("<thought>\n") for e in examples)


TOY_PROMPT = ("You are a careful assistant. First think through the problem step by step between {thought_open} and "
              "{thought_close}. Then give only the final number between {answer_open} and {answer_close}.\nExample:\n"
              "{thought_open}\nThere are 3 boxes with 4 apples each, so 3 * 4 = 12.\n{thought_close}\n"
              "{answer_open}12{answer_close}")


def test_a_toy_reward_rises_over_30_steps(runs_dir):
    """GRPO really optimises: reward the share of digits in the completion; the random tiny model writes more
    digits after 30 steps (fixed seed, so this is repeatable)."""
    result = run_engine(
        "train", QUICKSTART, "--set", f"rewards=[{{name: digits, kind: python, function: '{TOY}:digit_share'}}]",
        "--set", "train.max_steps=30", "--set", "train.num_generations=8", "--set", "train.batch_size=8",
        "--set", "train.max_completion_length=16", "--set", "train.learning_rate=0.01",
        "--set", "train.warmup_ratio=0", "--set", "train.lr_scheduler_type=constant",
        "--set", "train.max_grad_norm=1.0", "--set", "train.save_steps=1000",
        "--set", "prompt.start_with_thought=false",  # score only what the model writes
        # The prompt this test was tuned with, pinned: the random model's 30 steps depend on it, not on the preset's.
        "--set", "prompt.system_prompt=" + json.dumps(TOY_PROMPT))
    assert result.returncode == 0, result.stdout + result.stderr
    rewards = [e["reward"] for e in only_run(runs_dir).read_events()]
    assert len(rewards) == 30
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert last > first + 0.05, (first, last, rewards)


def test_num_iterations_trains_each_generated_batch_twice(runs_dir):
    """TRL's num_iterations and scale_rewards reach its GRPOConfig: with 2 iterations the completions sampled at step
    1 are trained on again at step 2, so steps 1 and 3 generate (rewards logged) and step 2 does not; samples.jsonl
    holds each generated batch once."""
    result = run_engine("train", QUICKSTART, "--set", "train.max_steps=3", "--set", "train.num_iterations=2",
                        "--set", "train.scale_rewards=none")
    assert result.returncode == 0, result.stdout + result.stderr
    run = only_run(runs_dir)
    events = run.read_events()
    assert [e["step"] for e in events] == [1, 2, 3] and all(isinstance(e["loss"], float) for e in events)
    assert [e["step"] for e in events if "reward" in e] == [1, 3]
    assert {s["step"] for s in run.read_samples()} == {1, 3}
    import torch

    args = torch.load(run.checkpoints_dir / "checkpoint-2" / "training_args.bin", weights_only=False)
    assert (args.num_iterations, args.scale_rewards, args.steps_per_generation) == (2, "none", 1)

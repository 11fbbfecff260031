"""GPU paths of the probe and of the held-out checks during training (issue 15), on the random Qwen2 of
tests/test_gpu.py. Skipped without CUDA; on the lent GPU machine:
    source .devsite/env.sh && python -m pytest tests/test_gpu_probe_eval.py -m gpu
"""

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import DATA, REPO
from tests.test_gpu import TEST_VLLM_MEMORY, explain, gpu_env, needs_unsloth, needs_vllm, train_run

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="session")
def random_model():
    """The same random Qwen2 as tests/test_gpu.py's random_model (built once, cached)."""
    from engine import settings

    from bench.random_model import ensure_random_qwen2

    return ensure_random_qwen2("tiny-gpu", settings.cache_dir() / "random-models")


def probe_run(tmp_path, random_model, model: dict) -> tuple[subprocess.CompletedProcess, dict]:
    config = {"preset": "rlvr-math",
              "model": {"name": str(random_model), "lora_rank": 8, "max_seq_length": 512, **model},
              "data": {"path": str(DATA / "gsm8k_slice.jsonl")},
              "train": {"num_generations": 4, "batch_size": 4, "max_completion_length": 32}}
    path, out = tmp_path / "config.yaml", tmp_path / "probe.json"
    path.write_text(yaml.safe_dump(config))
    process = subprocess.run([sys.executable, "-m", "engine", "probe", str(path), "--prompts", "3", "--out", str(out)],
                             cwd=REPO, capture_output=True, text=True, timeout=540, env=gpu_env(tmp_path),
                             check=False)
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-4000:]
    return process, json.loads(out.read_text())


def assert_probe_report(report: dict) -> None:
    assert report["prompts"] == 3 and report["completions"] == 12
    assert all(r["scored"] == 12 for r in report["rewards"])
    assert 0.0 <= report["clipped"] <= 1.0 and report["correctness"]["answers"] == 12
    assert report["verdict"]["code"] in ("ready", "too_easy", "too_hard", "format_never", "clipped", "no_spread")
    assert report["step_estimate"]["generation_seconds"] > 0
    assert all(c["text"].startswith("<thought>\n") for e in report["examples"] for c in e["completions"])


@needs_vllm
def test_probe_samples_with_vllm_where_training_would(tmp_path, random_model):
    _, report = probe_run(tmp_path, random_model, {"backend": "unsloth", "rollout": "vllm",
                                                "gpu_memory_utilization": TEST_VLLM_MEMORY})
    assert report["generator"] == "vLLM" and report["backend"] == "unsloth"
    assert_probe_report(report)
    assert report["step_estimate"]["training_seconds"] is None and "not measured" in report["step_estimate"]["how"]


def test_probe_with_hf_generate_on_the_gpu(tmp_path, random_model):
    _, report = probe_run(tmp_path, random_model, {"backend": "hf", "rollout": "hf"})
    assert report["generator"] == "HF generate"
    assert_probe_report(report)
    assert report["step_estimate"]["training_seconds"] > 0


def assert_checked(process, run, steps: int) -> None:
    assert process.returncode == 0 and run.read_status().state == "completed", explain(process, run)
    events = run.read_events()
    assert [e["step"] for e in events] == list(range(1, steps + 1))
    for event in events:
        assert 0.0 <= event["eval/accuracy"] <= 1.0 and 0.0 <= event["eval/format"] <= 1.0, event
        assert event["eval/rows"] == 2
    best = json.loads(run.best_path.read_text())
    assert best["step"] == 1 and (run.path / best["checkpoint"] / "adapter_config.json").is_file()
    assert f"held-out eval at step {steps}: accuracy" in run.log_path.read_text()


CHECKS = {"max_steps": 2, "eval_steps": 1, "eval_limit": 2, "save_steps": 100}


@needs_vllm
def test_held_out_checks_on_the_vllm_rollout_engine(tmp_path, random_model):
    process, run = train_run(tmp_path, random_model, model={"rollout": "vllm",
                                                         "gpu_memory_utilization": TEST_VLLM_MEMORY}, train=CHECKS)
    assert_checked(process, run, 2)


@needs_vllm
def test_held_out_checks_in_vllm_standby(tmp_path, random_model):
    process, run = train_run(tmp_path, random_model, model={"rollout": "vllm", "vllm_standby": True,
                                                         "gpu_memory_utilization": TEST_VLLM_MEMORY},
                             train=CHECKS, env={"UNSLOTH_VLLM_STANDBY_UTIL_OVERRIDE": "1"})
    assert_checked(process, run, 2)


@needs_unsloth
def test_held_out_checks_with_unsloth_generate(tmp_path, random_model):
    process, run = train_run(tmp_path, random_model, train=CHECKS)
    assert_checked(process, run, 2)


def test_held_out_checks_with_the_hf_backend_and_gradient_checkpointing(tmp_path, random_model):
    process, run = train_run(tmp_path, random_model, model={"backend": "hf", "gradient_checkpointing": True},
                             train=CHECKS)
    assert_checked(process, run, 2)

"""GPU paths on a real NVIDIA GPU: Unsloth and HF backends, 4-bit, 8-bit AdamW, FP8, vLLM rollouts, standby, OOM.

Skipped where there is no CUDA (CI). On the lent GPU machine:
    source .devsite/env.sh && python -m pytest tests/test_gpu.py -m gpu -n 4
Each run is `python -m engine train` in a subprocess, as the app starts it, on a random-init Qwen2 with head_dim 64
(bench/random_model.py, a few MB) so that a test costs the stack's start-up, not the model's size.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("needs an NVIDIA GPU with CUDA", allow_module_level=True)

from engine.runs.folder import RunFolder  # noqa: E402
from engine.training import OOM_ADVICE  # noqa: E402

from bench.random_model import ensure_random_qwen2  # noqa: E402
from tests.conftest import DATA, REPO  # noqa: E402

pytestmark = pytest.mark.gpu

HAS_UNSLOTH = importlib.util.find_spec("unsloth") is not None
HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_unsloth = pytest.mark.skipif(not HAS_UNSLOTH, reason="unsloth is not installed")
VRAM_KEYS = ("vram_used_mib", "vram_total_mib", "vram_process_mib", "torch_peak_allocated_mib")
# Standby raises vLLM's share itself; tests in parallel (pytest -n) share the GPU, so it is held to this.
TEST_VLLM_MEMORY = 0.12


def needs_vllm(test):
    """Unsloth's vLLM rollouts. Marked `vllm`: vLLM's start-up assumes the GPU is its own (its memory profiling fails
    when a neighbour frees memory meanwhile), so bench/gpu_run_device.sh runs these tests one at a time."""
    return pytest.mark.vllm(pytest.mark.skipif(not (HAS_UNSLOTH and HAS_VLLM),
                                               reason="vllm (and unsloth) not importable here")(test))


def needs_trl_vllm(test):
    """TRL's vLLM paths (colocate, server), marked `vllm` like `needs_vllm`."""
    return pytest.mark.vllm(pytest.mark.skipif(not HAS_VLLM, reason="vllm is not importable here")(test))


@pytest.fixture(scope="session")
def model_dir():
    from engine import settings

    return ensure_random_qwen2("tiny-gpu", settings.cache_dir() / "random-models")


def gpu_env(tmp_path) -> dict:
    """The conftest sets TRITON_INTERPRET for CPU runs; on a GPU the kernels must compile. Unsloth's generated
    trainer code goes to a folder of this test's own, so that parallel tests never write the same files."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["UNSLOTH_COMPILE_LOCATION"] = str(tmp_path / "unsloth_compiled_cache")
    env["GRPO_STUDIO_RUNS_DIR"] = str(tmp_path / "runs")  # its own one-run lock: parallel tests do not queue
    return env


def train_run(tmp_path, model_dir, *, model=None, train=None, data=None, rewards=None, env=None, prefix=(),
              timeout=540):
    """Write a config (rlvr-math on the GSM8K slice, tiny completions) and train it; returns (process, run)."""
    config = {
        "preset": "rlvr-math",
        "model": {"name": str(model_dir), "backend": "unsloth", "rollout": "hf", "lora_rank": 8,
                  "max_seq_length": 512, **(model or {})},
        "data": data or {"path": str(DATA / "gsm8k_slice.jsonl")},
        "train": {"max_steps": 2, "num_generations": 4, "batch_size": 4, "max_completion_length": 32,
                  "save_steps": 1, "learning_rate": 1e-5, **(train or {})},
        **({"rewards": rewards} if rewards else {}),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    run = RunFolder(tmp_path / "run")
    command = [*prefix] if prefix else [sys.executable, "-m", "engine"]
    process = subprocess.run([*command, "train", str(path), "--run-dir", str(run.path)], cwd=REPO,
                             capture_output=True, text=True, timeout=timeout, env={**gpu_env(tmp_path), **(env or {})})
    return process, run


def explain(process, run) -> str:
    log = run.log_path.read_text(errors="replace") if run.log_path.exists() else ""
    return f"exit {process.returncode}\n--- stdout\n{process.stdout[-6000:]}\n--- stderr\n{process.stderr[-6000:]}" \
           f"\n--- log.txt\n{log[-6000:]}"


def assert_completed(process, run, backend: str, steps: int):
    status = run.read_status()
    assert process.returncode == 0 and status.state == "completed", explain(process, run)
    assert status.backend == backend and status.step == steps
    events = run.read_events()
    assert [e["step"] for e in events] == list(range(1, steps + 1))
    for event in events:
        for key in VRAM_KEYS:
            assert isinstance(event[key], (int, float)) and event[key] > 0, (key, event)
        assert event["vram_process_mib"] <= event["vram_used_mib"] <= event["vram_total_mib"]
    assert "Unsloth should be imported before" not in run.log_path.read_text(errors="replace")
    return status


def assert_adapter_loads(run, model_dir, rank=8):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert (run.adapter_dir / "adapter_config.json").is_file()
    assert (run.adapter_dir / "adapter_model.safetensors").is_file()
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.bfloat16)
    tuned = PeftModel.from_pretrained(base, str(run.adapter_dir))
    assert tuned.peft_config["default"].r == rank
    with torch.inference_mode():
        tuned(input_ids=torch.tensor([[1, 2, 3]]))  # the adapter's shapes fit the base model


def assert_every_file(run, steps: int):
    for path in (run.config_path, run.status_path, run.events_path, run.samples_path, run.log_path):
        assert path.is_file() and path.stat().st_size > 0, path
    assert (run.checkpoints_dir / f"checkpoint-{steps}").is_dir()
    samples = run.read_samples()
    assert samples and {s["step"] for s in samples} == set(range(1, steps + 1))


def test_random_model_decodes_every_id(model_dir):
    """A random model samples ids anywhere in its vocabulary: the padded tokenizer must decode all of them."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    vocab_size = AutoConfig.from_pretrained(str(model_dir)).vocab_size
    assert len(tokenizer) == vocab_size
    ids = list(range(vocab_size))
    text = tokenizer.decode(ids, skip_special_tokens=True)
    assert "<fill_" in text and tokenizer.convert_ids_to_tokens(vocab_size - 1) == f"<fill_{vocab_size - 1}>"
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "3 * 4 = ?"}], add_generation_prompt=True,
                                           tokenize=True)
    prompt = prompt["input_ids"] if hasattr(prompt, "keys") else prompt  # a BatchEncoding in transformers 5
    assert max(prompt) < 1024  # encoding never produces a filler token


@needs_unsloth
def test_unsloth_short_run(tmp_path, model_dir):
    process, run = train_run(tmp_path, model_dir)
    assert_completed(process, run, "unsloth", 2)
    assert_every_file(run, 2)
    assert_adapter_loads(run, model_dir)
    assert "rollouts: HF generate" in run.log_path.read_text()


def test_hf_short_run(tmp_path, model_dir):
    process, run = train_run(tmp_path, model_dir, model={"backend": "hf"})
    assert_completed(process, run, "hf", 2)
    assert_every_file(run, 2)
    assert_adapter_loads(run, model_dir)


@needs_unsloth
def test_unsloth_4bit_one_step(tmp_path, model_dir):
    process, run = train_run(tmp_path, model_dir, model={"load_in_4bit": True}, train={"max_steps": 1})
    assert_completed(process, run, "unsloth", 1)
    assert_adapter_loads(run, model_dir)


@needs_unsloth
def test_adamw_8bit_one_step(tmp_path, model_dir):
    process, run = train_run(tmp_path, model_dir, train={"max_steps": 1, "optim": "adamw_8bit"})
    assert_completed(process, run, "unsloth", 1)


@needs_unsloth
@pytest.mark.skipif(torch.cuda.get_device_capability() < (8, 9), reason="FP8 needs compute capability 8.9+")
def test_fp8_one_step(tmp_path, model_dir):
    process, run = train_run(tmp_path, model_dir, model={"load_in_fp8": True}, train={"max_steps": 1})
    assert_completed(process, run, "unsloth", 1)
    assert_adapter_loads(run, model_dir)


@needs_vllm
def test_vllm_run(tmp_path, model_dir):
    """Unsloth's vLLM rollouts with vLLM's memory sized to the run (no gpu_memory_utilization given)."""
    process, run = train_run(tmp_path, model_dir, model={"rollout": "vllm"},
                             train={"top_p": 0.9, "min_p": 0.05, "temperature": 0.8})
    assert_completed(process, run, "unsloth", 2)
    assert_every_file(run, 2)
    assert_adapter_loads(run, model_dir)
    log = run.log_path.read_text()
    assert ("rollouts: vLLM; temperature 0.8, top_p 0.9, min_p 0.05, up to 32 tokens, stop at '<|im_end|>'\n"
            "vLLM sized to this run: ") in log
    assert "4 x 512 tokens" in log and "free at load" in log
    events = run.read_events()
    assert all(e["completion_length"] <= 32 for e in events)
    assert all(0 < e["timing/generation_s"] < e["step_time"] for e in events)


@needs_trl_vllm
def test_trl_vllm_colocate_run(tmp_path, model_dir):
    """The hf backend with vLLM rollouts is TRL's own colocate mode (the benchmark's peer), sized to the run."""
    process, run = train_run(tmp_path, model_dir, model={"backend": "hf", "rollout": "vllm"},
                             train={"temperature": 0.8})
    assert_completed(process, run, "hf", 2)
    assert_adapter_loads(run, model_dir)
    log = run.log_path.read_text()
    assert "rollouts: vLLM; temperature 0.8" in log and "of the card" in log
    assert all(e["completion_length"] <= 32 for e in run.read_events())


@needs_vllm
def test_vllm_standby_one_step(tmp_path, model_dir):
    # Standby raises vLLM's share to ~0.88 of the GPU; the override keeps the test's share so that tests in
    # parallel still fit.
    process, run = train_run(tmp_path, model_dir,
                             model={"rollout": "vllm", "vllm_standby": True,
                                    "gpu_memory_utilization": TEST_VLLM_MEMORY},
                             train={"max_steps": 1}, env={"UNSLOTH_VLLM_STANDBY_UTIL_OVERRIDE": "1"})
    assert_completed(process, run, "unsloth", 1)
    assert "vLLM in standby" in run.log_path.read_text()


def test_out_of_memory_fails_with_advice(tmp_path, model_dir):
    """A GPU too small for the model: PyTorch's allocator is capped below the model's weights (as on a small card)."""
    cap = ("import sys, torch; torch.cuda.set_per_process_memory_fraction(1e-5); "
           "from engine.cli import main; sys.exit(main(sys.argv[1:]))")
    process, run = train_run(tmp_path, model_dir, model={"backend": "hf"}, prefix=(sys.executable, "-c", cap))
    status = run.read_status()
    assert process.returncode == 1 and status.state == "failed", explain(process, run)
    assert status.error == OOM_ADVICE
    assert "OutOfMemoryError" in run.log_path.read_text()  # the traceback stays in the log
    assert json.loads(run.status_path.read_text())["finished"] is not None


@needs_unsloth
def test_unsloth_hands_rewards_every_data_column(tmp_path, model_dir):
    """Unsloth patches GRPOTrainer: its reward call must still pass every dataset column (engine.rewards.row), as
    TRL's does on the CPU (tests/test_engine_rewards.py)."""
    from tests.test_engine_rewards import code_data

    rewards = [{"name": "columns", "kind": "python", "function": f"{REPO / 'tests' / 'toy_rewards.py'}:columns_match"},
               {"name": "strict_format", "kind": "format"}]
    process, run = train_run(tmp_path, model_dir, data={"path": str(code_data(tmp_path)), "prompt_column": "prompt"},
                             rewards=rewards, train={"max_steps": 1})
    assert_completed(process, run, "unsloth", 1)
    samples = run.read_samples()
    assert samples and all(s["scores"]["columns"] == 1.0 for s in samples), samples


@needs_unsloth
def test_code_rewards_score_rollouts_in_the_cuda_training_process(tmp_path, model_dir):
    """The code_tests reward (tests/test_code_reward.py on the CPU) inside Unsloth's training process: the sandbox's
    probe and children start from a process that holds CUDA, the log says which isolation holds, and the rows' tests
    reach the reward (the random model writes no code: the penalty, where a row without tests would score None)."""
    rewards = [{"name": "tests", "kind": "code_tests", "reward": 2.0, "penalty": -1.0},
               {"name": "strict_format", "kind": "format"}]
    process, run = train_run(tmp_path, model_dir, model={"max_seq_length": 2048}, rewards=rewards,
                             data={"path": str(DATA / "humaneval" / "humaneval.jsonl")}, train={"max_steps": 1})
    assert_completed(process, run, "unsloth", 1)
    assert "code sandbox: Model-written code runs in a fresh process" in run.log_path.read_text(errors="replace")
    samples = run.read_samples()
    assert samples and all(s["scores"]["tests"] == -1.0 for s in samples), samples

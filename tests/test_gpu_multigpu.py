"""TRL's vLLM server and training on several GPUs, on real GPUs: `engine train` as the app starts it, on the random
tiny Qwen2 of tests/test_gpu.py.

    source .devsite/env.sh && python -m pytest tests/test_gpu_multigpu.py -m gpu      (vLLM for the server tests)

One GPU: the server and the trainer share it (3 steps). Two GPUs (skipped on fewer): 1 server + 1 trainer, and DDP
over two ranks with a stop and a resume on both. Four GPUs: 1 server + 3 DDP ranks. Each checks the run folder, one
event per step with a VRAM reading per GPU, and that no server or rank is left running.
"""

import socket
import subprocess
import sys
import time

import pytest
import yaml

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("needs an NVIDIA GPU with CUDA", allow_module_level=True)

from engine import checkpoints  # noqa: E402
from engine.runs.folder import RunFolder  # noqa: E402

from bench.random_model import ensure_random_qwen2  # noqa: E402
from tests.conftest import DATA, REPO  # noqa: E402
from tests.test_gpu import assert_adapter_loads, explain, gpu_env, needs_trl_vllm  # noqa: E402

pytestmark = pytest.mark.gpu
GPUS = torch.cuda.device_count()
needs_gpus = {n: pytest.mark.skipif(GPUS < n, reason=f"needs {n} GPUs, this machine has {GPUS}") for n in (2, 4)}


@pytest.fixture(scope="session")
def model_dir():
    """The random Qwen2 of tests/test_gpu.py (built once, cached)."""
    from engine import settings

    return ensure_random_qwen2("tiny-gpu", settings.cache_dir() / "random-models")


def write_config(tmp_path, model_dir, model=None, train=None, hardware=None):
    config = {
        "preset": "rlvr-math",
        "model": {"name": str(model_dir), "backend": "hf", "lora_rank": 8, "max_seq_length": 512, **(model or {})},
        "data": {"path": str(DATA / "gsm8k_slice.jsonl")},
        "train": {"max_steps": 3, "num_generations": 4, "batch_size": 4, "max_completion_length": 32,
                  "save_steps": 1, "learning_rate": 1e-5, "eval_limit": 4, **(train or {})},
        "hardware": hardware or {},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train(tmp_path, config_path, *extra, timeout=900):
    run = RunFolder(tmp_path / "run")
    process = subprocess.run([sys.executable, "-m", "engine", "train", str(config_path), "--run-dir", str(run.path),
                              *extra], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                             env=gpu_env(tmp_path))
    return process, run


def server_port(run: RunFolder) -> int | None:
    for line in run.log_path.read_text(errors="replace").splitlines():
        if line.startswith("vLLM server: ready at http://127.0.0.1:"):
            return int(line.split(":")[-1].split()[0])
    return None


def assert_nothing_left(run: RunFolder):
    port = server_port(run)
    if port is not None:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, "the vLLM server still answers"
    found = subprocess.run(["pgrep", "-f", f"{run.path} --worker"], capture_output=True, text=True).stdout.split()
    assert found == [], f"training processes left: {found}"


def assert_trained(process, run, steps: int, gpus: int):
    status = run.read_status()
    assert process.returncode == 0 and status.state == "completed", explain(process, run)
    assert status.backend == "hf" and status.step == steps and len(status.gpus) == gpus
    events = run.read_events()
    assert [e["step"] for e in events] == list(range(1, steps + 1))
    for event in events:
        assert [g["index"] for g in event["gpus"]] == status.gpus
        assert all(g["vram_process_mib"] and g["vram_process_mib"] > 0 for g in event["gpus"]), event["gpus"]
        assert event["vram_process_mib"] > 0  # the single-GPU keys: the first training GPU
    assert_nothing_left(run)


@needs_trl_vllm
def test_server_mode_on_one_gpu_shares_it_with_the_trainer(tmp_path, model_dir):
    config = write_config(tmp_path, model_dir, model={"rollout": "vllm_server"}, hardware={"gpus": [0]})
    process, run = train(tmp_path, config)
    assert_trained(process, run, 3, 1)
    log = run.log_path.read_text()
    assert "sharing it with the vLLM server" in log and "vLLM server: ready at" in log
    assert "rollouts: vLLM server (TRL's server mode)" in log
    assert (run.path / "vllm-server.log").stat().st_size > 0
    assert_adapter_loads(run, model_dir)
    assert all(e["completion_length"] <= 32 for e in run.read_events())


@needs_trl_vllm
@needs_gpus[2]
def test_server_on_one_gpu_trainer_on_another(tmp_path, model_dir):
    config = write_config(tmp_path, model_dir, model={"rollout": "vllm_server"}, hardware={"gpus": [0, 1]})
    process, run = train(tmp_path, config)
    assert_trained(process, run, 3, 2)
    assert "training on GPU 0; vLLM server on GPU 1" in run.log_path.read_text()


@needs_trl_vllm
@needs_gpus[4]
def test_server_on_one_gpu_ddp_on_three(tmp_path, model_dir):
    config = write_config(tmp_path, model_dir, model={"rollout": "vllm_server"}, hardware={"gpus": [0, 1, 2, 3]})
    process, run = train(tmp_path, config)
    assert_trained(process, run, 3, 4)
    assert "training on GPUs 0, 1, 2 (3 processes, DDP); vLLM server on GPU 3" in run.log_path.read_text()


@needs_gpus[2]
def test_two_ranks_stop_together_and_resume_on_two_ranks(tmp_path, model_dir):
    config = write_config(tmp_path, model_dir, model={"rollout": "hf"}, hardware={"gpus": [0, 1]},
                          train={"max_steps": 200, "save_steps": 1000})
    run = RunFolder(tmp_path / "run")
    process = subprocess.Popen([sys.executable, "-m", "engine", "train", str(config), "--run-dir", str(run.path)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=gpu_env(tmp_path))
    deadline = time.monotonic() + 600
    while run.read_status().step < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    run.request_stop()
    output, _ = process.communicate(timeout=300)
    status = run.read_status()
    assert process.returncode == 0 and status.state == "stopped", output + run.log_path.read_text()
    checkpoint = run.last_checkpoint()
    assert checkpoints.step_of(checkpoint) == status.step
    assert {p.name for p in checkpoint.glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}
    resumed = subprocess.run([sys.executable, "-m", "engine", "train", str(run.path), "--resume", "--set",
                              f"train.max_steps={status.step + 2}"], cwd=REPO, capture_output=True, text=True,
                             timeout=600, env=gpu_env(tmp_path))
    assert resumed.returncode == 0, explain(resumed, run)
    assert f"resuming from checkpoint-{status.step}" in run.log_path.read_text()
    assert_trained(resumed, run, status.step + 2, 2)

"""Several GPUs and TRL's vLLM server, as data (no GPU here): the split of `hardware` over machines of 1, 2 and 4
GPUs, what `check` refuses (one sentence each), the per-GPU estimate, and the commands `engine train` would start —
read back by accelerate's and TRL's own argument parsers — for each strategy. The machines are GpuInfo records as
NVML describes an H200 (engine/gpu.py), the model shapes those of bench/random_model.py."""

import json

import pytest
import yaml

from engine import backends
from engine.backends.base import RolloutServerAddress
from engine.checks import gpu_estimate_findings
from engine.cli import main
from engine.config import build_config
from engine.gpu import GpuInfo
from engine.gpu_split import split_gpus, split_problems
from engine.launch_plan import launch_plan
from engine.model_names import installed
from engine.model_shape import ModelShape

from app import run_view

from tests.conftest import REPO, run_engine

QUICKSTART = REPO / "examples" / "quickstart.yaml"
SHAPE_1_5B = ModelShape.from_config({"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                                     "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936})
SHAPE_7B = ModelShape.from_config({"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                                   "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064})


def machine(count: int, total_mib: int = 143_771) -> list[GpuInfo]:
    return [GpuInfo("NVIDIA H200", total_mib, (9, 0), "580.95", index=i) for i in range(count)]


def config(*overrides: str):
    return build_config({"model": {"name": "Qwen/Qwen2.5-1.5B-Instruct", "backend": "hf"}}, list(overrides))


def plan_on(gpus: list[GpuInfo], cfg, shape=SHAPE_1_5B):
    """The plan `check` makes on that machine with vLLM installed (cuda=True)."""
    return backends.plan_for_machine(cfg, True, shape, gpus, gpus[0].total_gib if gpus else None)


@pytest.mark.parametrize("count, overrides, training, rollout", [
    (1, [], [0], []),
    (1, ["model.rollout=vllm_server"], [0], [0]),  # shared
    (2, ["model.rollout=vllm_server"], [0], [1]),  # 1 + 1
    (4, ["model.rollout=vllm_server"], [0, 1, 2], [3]),  # 1 + 3
    (4, ["model.rollout=vllm_server", "hardware.rollout_gpus=2"], [0, 1], [2, 3]),
    (4, [], [0, 1, 2, 3], []),  # DDP over every GPU
    (4, ["hardware.gpus=[3, 1]"], [3, 1], []),
    (4, ["model.backend=unsloth"], [0], []),  # Unsloth left to every GPU trains on the first
])
def test_the_split_over_1_2_and_4_gpus(count, overrides, training, rollout):
    cfg = config(*overrides)
    backend = cfg.model.backend
    split = split_gpus(cfg, machine(count), backend, backends.choose_rollout(cfg.model, True))
    assert [g.index for g in split.training] == training and [g.index for g in split.rollout] == rollout
    # On a machine of several GPUs even one training GPU is a child process that sees only its GPU.
    assert split.launched == (bool(rollout) or count > 1)
    assert split.shared == (count == 1 and bool(rollout))


def sentences(cfg, count, shape=SHAPE_1_5B):
    plan = plan_on(machine(count), cfg, shape)
    return {p.key: p.message for p in split_problems(cfg, machine(count), plan.backend.name, plan.rollout, shape)}


def test_what_cannot_be_split_is_refused_with_one_sentence():
    problems = sentences(config("model.backend=unsloth", "hardware.gpus=0,1"), 2)
    assert problems["model.backend"].startswith("Unsloth trains on one GPU (its multi-GPU GRPO is not dependable)")
    problems = sentences(config("model.rollout=vllm_server", "hardware.rollout_gpus=4"), 4)
    assert problems["hardware.rollout_gpus"] == ("4 GPUs for the vLLM server leave none of this run's 4 to train on; "
                                                 "set it to at most 3")
    problems = sentences(config("model.rollout=vllm_server", "hardware.rollout_gpus=2"), 1)
    assert "set it to 1 to share that GPU" in problems["hardware.rollout_gpus"]
    # Qwen2.5-1.5B: 12 attention heads, 2 KV heads. Five GPUs split neither; 1, 2, 4 and 6 do.
    problems = sentences(config("model.rollout=vllm_server", "hardware.rollout_gpus=5"), 8)
    assert problems["hardware.rollout_gpus"] == ("the model's 12 attention heads (2 KV heads) cannot be split evenly "
                                                 "over 5 GPUs; use 1 or 2 or 4 or 6")
    assert "hardware.rollout_gpus" not in sentences(config("model.rollout=vllm_server", "hardware.rollout_gpus=4"), 8)
    problems = sentences(config("hardware.gpus=0,7"), 2)
    assert problems["hardware.gpus"] == "GPU 7 is not here; this machine shows GPUs 0, 1 (nvidia-smi's numbers)"
    problems = sentences(config("hardware.strategy=fsdp", "model.load_in_4bit=true"), 2)
    assert "4-bit loading trains on several GPUs with ddp, not fsdp" in problems["model.load_in_4bit"]
    problems = sentences(config("hardware.strategy=zero3"), 2)
    assert ("hardware.strategy" in problems) == (not installed("deepspeed"))
    assert sentences(config("hardware.strategy=zero3"), 1) == {}  # one GPU: no strategy to apply
    assert sentences(config(), 4) == {} and sentences(config("model.rollout=vllm_server"), 2) == {}


def test_one_gpu_shared_by_server_and_trainer_is_refused_only_without_room_for_both():
    # The benchmark's workload: 1.5B, 64 completions of up to 1024 tokens; ~25 GiB for server and trainer together.
    cfg = config("model.rollout=vllm_server", "train.batch_size=64", "model.max_seq_length=1536",
                 "train.max_completion_length=1024")
    on_h200 = plan_on(machine(1), cfg)
    line, warnings, problems = gpu_estimate_findings(cfg, SHAPE_1_5B, on_h200)
    assert problems == [] and line.startswith("GPU 0 (training + vLLM server) ~")
    assert "vLLM server sized to this run" in on_h200.describe_vllm() and "the trainer has the rest" in \
        on_h200.describe_vllm()
    on_24gb = plan_on(machine(1, 24_564), cfg)
    _, _, problems = gpu_estimate_findings(cfg, SHAPE_1_5B, on_24gb)
    assert len(problems) == 1 and problems[0].key == "model.rollout"
    assert problems[0].message.startswith("the vLLM server and the trainer need ~")
    assert problems[0].message.endswith("more than GPU 0's 24 GiB; lower train.batch_size or model.max_seq_length, "
                                        "or use model.rollout vllm (TRL's colocate mode)")


def test_the_estimate_per_gpu_follows_the_split():
    cfg = config("model.rollout=vllm_server", "train.batch_size=64")
    line, _, _ = gpu_estimate_findings(cfg, SHAPE_1_5B, plan_on(machine(4), cfg))
    gpus = line.split(", ")
    assert [part.split(" ~")[0] for part in gpus] == ["GPU 0 (training)", "GPU 1 (training)", "GPU 2 (training)",
                                                      "GPU 3 (vLLM server)"]
    # The server is sized for the rollouts of all three training processes: 3 x 64 sequences.
    plan = plan_on(machine(4), cfg)
    assert plan.vllm.sequences == 192 and plan.vllm_share_source == "sized"
    ddp = plan_on(machine(4), config())
    fsdp = plan_on(machine(4), config("hardware.strategy=fsdp"))
    from engine.vram_estimate import estimate_peak_gib

    assert estimate_peak_gib(config("hardware.strategy=fsdp"), SHAPE_7B, fsdp)["weights"] == pytest.approx(
        estimate_peak_gib(config(), SHAPE_7B, ddp)["weights"] / 4)


@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize("strategy", ["ddp", "fsdp", "zero3"])
def test_the_commands_engine_train_starts(tmp_path, count, strategy):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from trl.scripts.vllm_serve import make_parser

    cfg = config("model.rollout=vllm_server", f"hardware.strategy={strategy}")
    plan = plan_on(machine(count), cfg)
    made = launch_plan(cfg, tmp_path, "/models/qwen", plan, resume=True)

    server = made.server.argv
    assert server[1:3] == ("-m", "trl.scripts.vllm_serve")
    arguments, extra = make_parser().parse_args_and_config(list(server[3:]), return_remaining_strings=True)
    assert extra == [] and arguments.model == "/models/qwen" and arguments.host == "127.0.0.1"
    assert arguments.tensor_parallel_size == 1 and arguments.gpu_memory_utilization == plan.vllm_share
    assert arguments.max_model_len == cfg.model.max_seq_length
    assert made.address.base_url == f"http://127.0.0.1:{arguments.port}" and made.address.group_port != arguments.port
    assert made.server_health_url == f"http://127.0.0.1:{arguments.port}/health"
    assert made.server.env["CUDA_VISIBLE_DEVICES"] == str(count - 1)

    trainer = made.trainer.argv
    worker = ["-m", "engine", "train", str(tmp_path), "--worker", "--backend", "hf", "--rollout-server",
              made.address.base_url, "--group-port", str(made.address.group_port), "--resume"]
    training_gpus = max(1, count - 1)
    assert made.trainer.env["CUDA_VISIBLE_DEVICES"] == ",".join(str(i) for i in range(training_gpus))
    assert made.trainer.env["CUDA_DEVICE_ORDER"] == made.server.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    if training_gpus == 1:
        assert list(trainer[1:]) == worker and made.accelerate_config is None
    else:
        assert trainer[1:3] == ("-m", "accelerate.commands.launch") and list(trainer[-len(worker):]) == worker
        (tmp_path / "accelerate.yaml").write_text(yaml.safe_dump(made.accelerate_config))
        args, _, _ = _validate_launch_command(launch_command_parser().parse_args(list(trainer[3:])))
        assert args.num_processes == training_gpus and args.mixed_precision == "bf16" and args.module
        assert (args.multi_gpu, args.use_fsdp, args.use_deepspeed) == (strategy == "ddp", strategy == "fsdp",
                                                                        strategy == "zero3")
        assert args.training_script == "engine" and args.training_script_args == worker[2:]
    shared = {"NCCL_HOSTID", "NCCL_SOCKET_IFNAME"}
    if count == 1:  # server and trainer on one GPU: NCCL sees two hosts, so it lets them both use it
        assert made.server.env["NCCL_HOSTID"] != made.trainer.env["NCCL_HOSTID"]
        assert made.server.env["NCCL_SOCKET_IFNAME"] == made.trainer.env["NCCL_SOCKET_IFNAME"] == "lo"
    else:
        assert not shared & (set(made.server.env) | set(made.trainer.env))


@pytest.mark.parametrize("strategy", ["ddp", "fsdp", "zero3"])
def test_training_on_several_gpus_without_a_server_is_accelerate_alone(tmp_path, strategy):
    cfg = config(f"hardware.strategy={strategy}")
    made = launch_plan(cfg, tmp_path, "/models/qwen", plan_on(machine(2), cfg), resume=False)
    assert made.server is None and made.address is None
    assert made.accelerate_config["num_processes"] == 2
    assert made.accelerate_config["distributed_type"] == {"ddp": "MULTI_GPU", "fsdp": "FSDP",
                                                          "zero3": "DEEPSPEED"}[strategy]
    assert "--rollout-server" not in made.trainer.argv and "--resume" not in made.trainer.argv
    assert made.trainer.env["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_the_hf_backend_asks_trl_for_server_mode_at_the_address_given():
    from trl import GRPOConfig

    arguments = backends.BACKENDS["hf"].grpo_arguments(config("model.rollout=vllm_server"), None, "vllm_server", 0.05,
                                                       False, RolloutServerAddress("http://127.0.0.1:8123", 51300))
    grpo = GRPOConfig(output_dir="unused", report_to="none", bf16=False, **arguments)
    assert (grpo.use_vllm, grpo.vllm_mode, grpo.vllm_server_base_url, grpo.vllm_group_port) == (
        True, "server", "http://127.0.0.1:8123", 51300)


def test_check_refuses_what_cannot_work_here_with_one_sentence_and_exit_2(capsys):
    result = run_engine("check", QUICKSTART, "--set", "model.rollout=vllm_server", "--set", "model.backend=unsloth")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("model.rollout: vllm_server is TRL's server mode, which runs on the hf backend (Unsloth's multi-GPU GRPO "
            "is not dependable); set model.backend to hf or auto") in result.stderr
    # The rest through the same CLI entry point in this process (no second interpreter start).
    assert main(["check", str(QUICKSTART), "--set", "hardware.gpus=0"]) == 2
    err = capsys.readouterr().err
    assert "hardware.gpus: names GPUs, but there is no NVIDIA GPU here; leave it empty" in err
    assert main(["check", str(QUICKSTART), "--set", "hardware.gpus=0,0"]) == 2
    err = capsys.readouterr().err
    assert "hardware.gpus: GPU 0 is listed twice; list each GPU once" in err and "Traceback" not in err


def test_one_vram_bar_per_gpu_and_hostile_event_lists_fall_back():
    event = {"vram_used_mib": 1024, "vram_total_mib": 8192, "vram_process_mib": 512,
             "gpus": [{"index": 0, "vram_used_mib": 1024, "vram_total_mib": 8192, "vram_process_mib": 512},
                      {"index": 3, "vram_used_mib": 4096, "vram_total_mib": 8192, "vram_process_mib": None}]}
    bars = run_view.vram_bars_html(run_view.gpu_readings_from(event))
    assert bars.count('class="gs-bar ') == 2 and 'id="vram-bar-0"' in bars and 'id="vram-bar-3"' in bars
    assert "GPU 3: VRAM 4.0 / 8 GiB" in bars
    live = [{"index": 1, "vram_used_mib": 2048, "vram_total_mib": 8192, "vram_process_mib": None}]
    assert "VRAM 2.0 / 8 GiB" in run_view.vram_bars_html(run_view.gpu_readings_from(event, live))
    for hostile in ("not a list", [None, "x", {"vram_total_mib": "8192"}], [{"index": True, "vram_total_mib": 0}]):
        one = run_view.vram_bars_html(run_view.gpu_readings_from({**event, "gpus": hostile}))
        assert one.count('class="gs-bar ') == 1 and 'id="vram-bar"' in one and "VRAM 1.0 / 8 GiB" in one
    assert "CPU mode" in run_view.vram_bars_html(run_view.gpu_readings_from(None))


def test_one_gpu_chosen_among_several_trains_in_a_child_that_sees_only_it(tmp_path):
    cfg = config("hardware.gpus=[1]", "model.rollout=hf")
    plan = plan_on(machine(2), cfg)
    assert plan.split.launched and plan.split.processes == 1 and not plan.split.rollout
    made = launch_plan(cfg, tmp_path, "/models/qwen", plan, resume=False)
    assert made.server is None and made.accelerate_config is None
    assert list(made.trainer.argv[1:]) == ["-m", "engine", "train", str(tmp_path), "--worker", "--backend", "hf"]
    assert made.trainer.env == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "1"}
    assert not plan_on(machine(1), config("model.rollout=hf")).split.launched  # one GPU, as always: in-process


def test_the_model_step_lists_every_gpu_and_the_estimate_on_each(monkeypatch, tmp_path):
    """The app's model step on a machine of four H200s (the GPU list is this test's input, as NVML would give it), for
    a 7B model in the models folder (a hub id would need the Hub, which tests are kept off)."""
    from app import machine as app_machine
    from app.steps import model_step, model_view

    gpus = tuple(machine(4))
    monkeypatch.setattr(app_machine, "visible_gpus", lambda: gpus)
    monkeypatch.setattr(app_machine, "gpu_info", lambda: gpus[0])
    assert model_step.machine_text().splitlines() == ["**GPUs:**"] + [f"- GPU {i}: NVIDIA H200, 140 GiB"
                                                                      for i in range(4)]
    monkeypatch.setenv("GRPO_STUDIO_MODELS_DIR", str(tmp_path))  # the folder the web page may name models in
    folder = tmp_path / "qwen2.5-7b"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({  # Qwen2.5-7B-Instruct's shape
        "model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
        "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064, "tie_word_embeddings": False}))
    text = model_view.model_summary(str(folder), config("model.rollout=vllm_server"))
    assert "**On this machine's GPUs:** training on GPUs 0, 1, 2 (3 processes, DDP); vLLM server on GPU 3" in text
    rows = [line for line in text.splitlines() if line.startswith("- GPU ")]
    assert [row.split(":")[0] for row in rows] == ["- GPU 0 (training)", "- GPU 1 (training)", "- GPU 2 (training)",
                                                   "- GPU 3 (vLLM server)"]
    assert all(row.endswith("of 140 GiB") for row in rows)

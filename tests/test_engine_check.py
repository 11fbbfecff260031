"""`engine check`: exit 0 with a summary for a good config, exit 2 with one sentence per problem otherwise."""

import pytest

from tests.conftest import REPO, run_check, run_engine

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def test_a_good_config_prints_what_will_happen():
    result = run_engine("check", QUICKSTART)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "backend         hf" in out
    assert "data            64 rows, 58 for training, 6 held out" in out
    assert "4 completions per step = 1 prompts x 4 generations" in out
    assert "strict_format (format" in out and "VRAM estimate" in out
    assert "models under 1.5B" in out  # the tiny model gets the small-model warning
    assert out.rstrip().endswith("ok: ready to train")


BAD_INPUTS = [
    (["train.num_generations=3"], "train.num_generations: 3 must divide the generation batch"),
    (["train.batch_size=2", "train.gradient_accumulation_steps=2", "train.steps_per_generation=1"],
     "train.num_generations: 4 must divide the generation batch (batch_size 2 x steps_per_generation 1 = 2)"),
    (["train.num_iterations=0"], "train.num_iterations: Input should be greater than or equal to 1"),
    (["train.steps_per_generation=0"], "train.steps_per_generation: Input should be greater than or equal to 1"),
    (["train.scale_rewards=std"], "train.scale_rewards: Input should be 'group', 'batch' or 'none'"),
    (["train.max_completion_length=2048"], "train.max_completion_length: 2048 leaves no room for the prompt"),
    (["data.prompt_column=question_text"], "data.prompt_column: column 'question_text' is not in gsm8k_slice.jsonl"),
    (["data.answer_column=gold"], "data.answer_column: column 'gold' is not in gsm8k_slice.jsonl"),
    (["rewards=[{name: f, kind: regex_match, pattern: '(oops'}]"], "rewards[0] (f).pattern: the regex does not"),
    (["train.learning_rate=5"], "train.learning_rate: Input should be less than or equal to 1"),
    (["train.temperature=0"], "train.temperature: Input should be greater than 0"),
    (["model.lora_rank=0"], "model.lora_rank: Input should be greater than or equal to 1"),
    (["model.name=not a model"], "model.name: 'not a model' is neither a local model folder nor a hub id"),
    (["model.name=./no/such/folder"], "model.name: folder ./no/such/folder has no config.json"),
    (["model.name=builtin:huge"], "model.name: there is no built-in model 'builtin:huge'"),
    (["data.path=tests/data/nope.jsonl"], "data.path: file tests/data/nope.jsonl does not exist"),
    (["preset=fp8-fast"], "model.load_in_fp8: FP8 needs an NVIDIA GPU with compute capability 8.9"),
    (["model.backend=unsloth"], "model.backend: the unsloth backend needs an NVIDIA GPU"),
    (["model.rollout=vllm"], "model.rollout: vLLM rollouts need an NVIDIA GPU"),
    (["train.optim=adamw_8bit"], "train.optim: adamw_8bit (bitsandbytes) needs an NVIDIA GPU"),
    (["model.load_in_4bit=true"], "model.load_in_4bit: 4-bit loading needs an NVIDIA GPU"),
    (["rewards=[]"], "rewards: there are no rewards"),
    (["train.max_step=3"], "train.max_step: unknown key"),
    (["model.max_seq_length=200", "train.max_completion_length=100"],
     "model.max_seq_length: every prompt is longer than the 100 tokens left"),
]


@pytest.mark.parametrize("overrides, sentence", BAD_INPUTS, ids=[o[0] for o, _ in BAD_INPUTS])
def test_each_bad_input_gets_exit_2_and_its_sentence(overrides, sentence, capsys, monkeypatch):
    """In this process: a subprocess each would re-import torch and transformers twenty times (the tests around this
    one cross the process boundary)."""
    monkeypatch.chdir(REPO)  # the sentences name relative paths as given
    code, err = run_check(QUICKSTART, overrides, capsys)
    assert code == 2, err
    assert sentence in err
    assert "Traceback" not in err


def test_several_problems_are_all_reported_at_once():
    result = run_engine("check", QUICKSTART, "--set", "train.num_generations=3", "--set", "model.name=x y",
                        "--set", "data.prompt_column=nope")
    assert result.returncode == 2
    assert result.stderr.startswith("3 problems:")


def test_missing_config_file_is_one_sentence():
    result = run_engine("check", "nowhere.yaml")
    assert result.returncode == 2 and "config file nowhere.yaml does not exist" in result.stderr


def test_vram_estimate_is_near_the_h100_measurements():
    """The estimate against what plain TRL measured on an H100 for a 1.5B model, 8 generations, LoRA r16
    (bench/RESULTS.md: 5.56 GiB torch / 6.93 GiB NVML at 1024 tokens; DESIGN.md: 11.3 GiB at 4096)."""
    from engine.backends import BACKENDS, plan_run
    from engine.config import build_config
    from engine.model_shape import ModelShape, size_from_name
    from engine.vram_estimate import estimate_peak_gib

    assert size_from_name("Qwen/Qwen2.5-1.5B-Instruct") == 1.5 and size_from_name("SmolLM2-135M") == 0.135
    shape = ModelShape.from_size(1.5)
    for length, measured in ((1024, 6.2), (4096, 11.3)):
        config = build_config({"preset": "reasoning", "model": {"max_seq_length": 2 * length, "backend": "hf",
                                                                "rollout": "hf"},
                               "train": {"max_completion_length": length, "batch_size": 8}})
        plan = plan_run(config, BACKENDS["hf"], True, shape, 79.0, 79.6)
        assert abs(estimate_peak_gib(config, shape, plan)["total"] - measured) / measured < 0.2, length


def test_vram_estimate_counts_the_vllm_pool_as_measured():
    """With vLLM rollouts the peak is vLLM's up-front share of the GPU plus training's activations: the bench's NVML
    peaks on an H100 (bench/RESULTS.md; 1.5B, 8 generations, Unsloth + vLLM). 23.5 GiB is the '24 GB card' run."""
    from engine.backends import BACKENDS, plan_run
    from engine.config import build_config
    from engine.model_shape import ModelShape
    from engine.vram_estimate import estimate_peak_gib

    shape = ModelShape.from_size(1.5)
    for length, share, gpu_gib, measured in ((1024, 0.3, 79.6, 26.26), (4096, 0.3, 79.6, 29.87),
                                             (12288, 0.12, 79.6, 25.06), (12288, 0.29, 23.5, 22.33)):
        config = build_config({"preset": "reasoning", "model": {
            "backend": "unsloth", "rollout": "vllm", "gpu_memory_utilization": share,
            "max_seq_length": length + 512}, "train": {"max_completion_length": length, "batch_size": 8}})
        plan = plan_run(config, BACKENDS["unsloth"], True, shape, gpu_gib, gpu_gib)
        estimate = estimate_peak_gib(config, shape, plan)
        assert estimate["vllm_pool"] == pytest.approx(share * gpu_gib) and "weights" not in estimate
        assert abs(estimate["total"] - measured) / measured < 0.1, (length, estimate["total"])
    # Standby: Unsloth sizes vLLM to the card and frees its KV cache while training; the training side is the need.
    config.model.vllm_standby = True
    standby = estimate_peak_gib(config, shape, plan_run(config, BACKENDS["unsloth"], True, shape, 23.5, 23.5))
    assert "vllm_pool" not in standby and "kv_cache" not in standby and standby["weights"] > 2.5


def test_vllm_memory_is_sized_to_the_run_not_the_card():
    """Unset, vLLM's share is what the run needs: the generation batch's KV cache at max_seq_length plus the weights
    and a fixed overhead, as a share of the memory free at load (Unsloth) or of the card (vLLM). A 135M model with
    8 x 1024-token sequences needs a few GiB, not the 0.6 x 139 GiB = 83 GiB a fixed share gave it on an H200."""
    from engine.backends import BACKENDS, plan_run
    from engine.config import build_config
    from engine.model_shape import ModelShape

    small = ModelShape(parameters=135e6, hidden=576, layers=30, vocab=49152, kv_dim=192)
    config = build_config({"preset": "reasoning", "model": {"name": "x/y", "backend": "unsloth", "rollout": "vllm",
                                                            "max_seq_length": 1024}, "train": {"batch_size": 8}})
    plan = plan_run(config, BACKENDS["unsloth"], True, small, 139.0, 140.0)
    # KV: 8 sequences x 1024 tokens x (2 x 30 layers x 192 x 2 bytes) x 1.25 headroom = 0.22 GiB.
    assert plan.vllm.kv_cache_gib == pytest.approx(8 * 1024 * 2 * 30 * 192 * 2 * 1.25 / 2**30)
    # vLLM gets at least its need (a small floor keeps tiny models from a share that rounds to nothing), not 83 GiB.
    assert plan.vllm_share_source == "sized" and plan.vllm.total_gib <= plan.vllm_share * 139.0 < 3
    assert "sized to this run" in plan.describe_vllm()
    # 64 sequences of 16k tokens on a 1.5B model need far more, and the hf backend's share is of the whole card.
    big = ModelShape.from_size(1.5)
    config = build_config({"preset": "reasoning", "model": {"name": "x/y", "backend": "hf", "rollout": "vllm",
                                                            "max_seq_length": 16384}, "train": {"batch_size": 64}})
    plan = plan_run(config, BACKENDS["hf"], True, big, 100.0, 140.0)
    assert plan.vllm.kv_cache_gib > 20 and plan.vllm_share == pytest.approx(plan.vllm.total_gib / 140.0, abs=1e-4)
    # Set by hand, the user's share wins and says so; an unknown shape falls back to a fixed share, and says why.
    config.model.gpu_memory_utilization = 0.4
    assert plan_run(config, BACKENDS["hf"], True, big, 100.0, 140.0).vllm_share == 0.4
    config.model.gpu_memory_utilization = None
    unknown = plan_run(config, BACKENDS["hf"], True, None, 100.0, 140.0)
    assert unknown.vllm_share_source == "fallback" and "could not be sized" in unknown.describe_vllm()


def test_trl_colocate_never_gets_a_max_model_len_shorter_than_vllms_warm_up_requests():
    """TRL's colocate mode starts vLLM with max_num_batched_tokens=4096 and max_num_seqs = the generation batch. vLLM's
    warm-up splits those 4096 tokens over that many dummy requests; one longer than max_model_len overruns its block
    table, and flash-attention 3 died with an illegal memory access on the H200 (4 sequences of 512 tokens). So the
    hf backend asks vLLM for a max_model_len of at least 4096 / the generation batch, and sizes the KV cache for it."""
    import inspect

    import trl.generation.vllm_generation as trl_vllm

    from engine.backends import BACKENDS, plan_run
    from engine.backends.vllm_memory import TRL_COLOCATE_BATCHED_TOKENS
    from engine.config import build_config
    from engine.model_shape import ModelShape

    # The number is TRL's own: an upgrade that changes it must change ours.
    assert f"max_num_batched_tokens={TRL_COLOCATE_BATCHED_TOKENS}," in inspect.getsource(trl_vllm)
    tiny = ModelShape(parameters=2e6, hidden=256, layers=4, vocab=4096, kv_dim=128)
    for batch, length, expected in ((4, 512, 1024), (2, 512, 2048), (8, 1536, 1536), (64, 1536, 1536)):
        config = build_config({"preset": "rlvr-math", "model": {"name": "x/y", "backend": "hf", "rollout": "vllm",
                                                                "max_seq_length": length},
                               "train": {"batch_size": batch, "num_generations": min(batch, 4)}})
        arguments = BACKENDS["hf"].grpo_arguments(config, None, "vllm", 0.1, True)
        assert arguments["vllm_max_model_length"] == expected, (batch, length)
        assert batch * arguments["vllm_max_model_length"] >= TRL_COLOCATE_BATCHED_TOKENS
        # vLLM refuses a max_model_len its KV cache cannot hold: the sized budget holds at least one such request.
        plan = plan_run(config, BACKENDS["hf"], True, tiny, 139.0, 140.0)
        kv_tokens = plan.vllm.kv_cache_gib * 2**30 / (2 * tiny.layers * tiny.kv_dim * 2)
        assert kv_tokens >= arguments["vllm_max_model_length"], (batch, length)


def test_old_run_configs_with_fast_inference_still_load():
    """Run folders written before model.rollout existed say model.fast_inference; resuming them must still work."""
    from engine.config import build_config

    assert build_config({"model": {"fast_inference": True}}).model.rollout == "vllm"
    assert build_config({"model": {"fast_inference": False}}).model.rollout == "hf"
    assert build_config({"model": {"fast_inference": None}}).model.rollout == "auto"


def test_auto_takes_unsloth_where_it_can(monkeypatch):
    """Where Unsloth is there (pretended here: this machine has none), auto takes it on a GPU; without a GPU, or
    with the backend named, it is what is asked for."""
    from engine import backends
    from engine.config import build_config

    monkeypatch.setattr(backends.unsloth.UnslothBackend, "usable", lambda self, cuda: cuda)

    def chosen(cuda: bool, **model) -> str:
        return backends.backend_for(build_config({"preset": "reasoning", "model": model}), cuda).name

    assert chosen(True) == "unsloth" and chosen(False) == "hf"
    assert chosen(True, backend="hf") == "hf" and chosen(False, backend="unsloth") == "unsloth"


# ---------------------------------------------------------------------------------------------------------------
# "Ready" only when the run can start here: the hub model can be had, the model fits a CPU-only machine

class _FakeHub:
    """A local HTTP server answering the HEAD request huggingface_hub makes for a model's config.json: the models
    in `present` exist, `gated` need a licence, any other is unknown (the Hub's own status codes and error header)."""

    def __init__(self, present=(), gated=()):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                repo = "/".join(self.path.strip("/").split("/")[:2])
                if repo in present:
                    self.send_response(200)
                    self.send_header("ETag", '"abc"')
                    self.send_header("X-Repo-Commit", "0" * 40)
                    self.send_header("Content-Length", "100")
                elif repo in gated:
                    self.send_response(401)
                    self.send_header("X-Error-Code", "GatedRepo")
                    self.send_header("X-Error-Message", "Access to model is restricted.")
                else:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RepoNotFound")
                    self.send_header("X-Error-Message", "Repository not found")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_hub_model_that_cannot_be_had_here_is_a_problem(monkeypatch, tmp_path):
    import socket

    from engine import hub_access

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing was downloaded here
    monkeypatch.setattr(hub_access, "_answers", {})
    name = "Qwen/Qwen2.5-1.5B-Instruct"
    assert hub_access.hub_problem("builtin:tiny") is None and hub_access.hub_problem(str(tmp_path)) is None
    assert "downloads from the Hugging Face Hub are switched off" in hub_access.hub_problem(name)  # conftest: offline
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)  # read once, at its import
    with socket.socket() as closed:  # a port nothing listens on: the Hub cannot be reached
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed.getsockname()[1]}")
    assert "cannot be reached from here" in hub_access.hub_problem(name)
    hub = _FakeHub(present={name}, gated={"meta-llama/Llama-3.1-8B-Instruct"})
    try:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert hub_access.hub_problem(name) is None
        assert "there is no model Qwen/Nope" in hub_access.hub_problem("Qwen/Nope")
        assert "is gated" in hub_access.hub_problem("meta-llama/Llama-3.1-8B-Instruct")
    finally:
        hub.close()


def test_check_refuses_an_offline_hub_model_and_a_large_model_on_a_cpu(tmp_path):
    result = run_engine("check", QUICKSTART, "--set", "model.name=Qwen/Qwen2.5-1.5B-Instruct",
                        env={"HF_HOME": str(tmp_path / "hf")})
    assert result.returncode == 2 and "model.name: Qwen/Qwen2.5-1.5B-Instruct is not downloaded" in result.stderr
    big = tmp_path / "big-model"  # a model folder whose config.json describes 7B parameters (no weights needed)
    big.mkdir()
    (big / "config.json").write_text('{"model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28, '
                                     '"num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064, '
                                     '"intermediate_size": 18944}')
    result = run_engine("check", QUICKSTART, "--set", f"model.name={big}")
    assert result.returncode == 2 and "too many to train without an NVIDIA GPU" in result.stderr, result.stderr


def test_fewer_questions_than_one_step_takes_is_a_problem_not_a_run_that_stops_at_step_0(tmp_path, capsys):
    # Seen on an H100: a curated file of 7 rows with 8 questions a step; TRL's sampler gave no batch and the run
    # 'stopped at step 0' without a word.
    data = tmp_path / "few.jsonl"
    data.write_text("".join(f'{{"question": "q{i}", "answer": "{i}"}}\n' for i in range(4)))
    code, err = run_check(QUICKSTART, [f"data.path={data}", "data.eval_fraction=0.25", "train.num_generations=4",
                                       "train.batch_size=16"], capsys)
    assert code == 2 and "only 3 questions are left for training but each step takes 4" in err
    code, err = run_check(QUICKSTART, [f"data.path={data}", "data.eval_fraction=0.25", "train.num_generations=4",
                                       "train.batch_size=12"], capsys)
    assert code == 0, err


# ---------------------------------------------------------------------------------------------------------------
# How long the run will take (engine/run_length.py): measured by a probe or an earlier run, never guessed

def check_lines(config, capsys, *overrides) -> tuple[int, str]:
    from engine.cli import main

    code = main(["check", str(config)] + [arg for override in overrides for arg in ("--set", override)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def probe_report_for(config_path, step_seconds: float, **train) -> dict:
    """What `engine probe` writes, cut to what the length needs: the probed config and its step estimate."""
    from engine.config import load_config

    config = load_config(config_path, [f"train.{key}={value}" for key, value in train.items()])
    return {"config": config.model_dump(mode="json"), "step_estimate": {"seconds": step_seconds}}


def test_a_million_steps_unmeasured_is_not_just_ready(tmp_path, capsys, runs_dir):
    config = tmp_path / "mine.yaml"
    config.write_text(QUICKSTART.read_text().replace("tests/data/", f"{REPO}/tests/data/"))
    code, out = check_lines(config, capsys, "train.max_steps=1000000", "train.max_completion_length=40")
    assert code == 0, out
    assert "duration        1,000,000 steps; how long a step takes on this machine is not measured yet" in out
    assert ("warning: 1,000,000 training steps is far more than GRPO runs usually take (a few hundred to a few "
            "thousand); check the number of training steps (train.max_steps)") in out


def test_the_probe_beside_the_config_gives_the_length_and_a_day_is_a_warning(tmp_path, capsys, runs_dir):
    import json

    config = tmp_path / "mine.yaml"
    config.write_text(QUICKSTART.read_text().replace("tests/data/", f"{REPO}/tests/data/"))
    (tmp_path / "probe.json").write_text(json.dumps(probe_report_for(config, 9.0, max_steps=1000)))
    code, out = check_lines(config, capsys, "train.max_steps=1000")
    assert code == 0, out
    assert "duration        about 2 h 30 min (1,000 steps × 9.0 s a step, from the probe of " in out
    assert "more than a day" not in out
    code, out = check_lines(config, capsys, "train.max_steps=1000000")
    assert "about 104 days 4 h (1,000,000 steps × 9.0 s a step" in out
    assert "warning: this run would take about 104 days 4 h, more than a day: lower the number of training steps " \
           "(train.max_steps) unless you mean to wait that long" in out
    # a probe of another step shape (longer answers) says nothing about this one
    code, out = check_lines(config, capsys, "train.max_completion_length=48")
    assert "not measured yet" in out


def test_an_earlier_run_of_the_same_shape_gives_its_measured_pace(tmp_path, capsys, runs_dir):
    from engine.config import load_config
    from engine.runs.folder import RunFolder

    config = tmp_path / "mine.yaml"
    config.write_text(QUICKSTART.read_text().replace("tests/data/", f"{REPO}/tests/data/").replace(
        "max_completion_length: 32", "max_completion_length: 24"))
    earlier = RunFolder(runs_dir / "20260101-000000-rlvr-math")
    earlier.path.mkdir(parents=True)
    load_config(config).save(earlier.config_path)
    earlier.write_status(state="completed", step=3, max_steps=3)
    # the first step carries the warm-up (60 s); the pace is taken from it on: 2 steps in 10 s
    for step, at in ((1, 1000.0), (2, 1005.0), (3, 1010.0)):
        earlier.append_event({"step": step, "time": at, "step_time": 60.0 if step == 1 else 5.0})
    code, out = check_lines(config, capsys, "train.max_steps=120")
    assert code == 0, out
    assert f"about 10 min (120 steps × 5.0 s a step, from the measured steps of run {earlier.id})" in out


def test_lengths_in_words_and_a_runs_pace():
    from engine.run_length import duration, run_pace

    assert [duration(s) for s in (0, 45, 90, 3600, 9000, 86400, 90000, 2 * 86400)] == [
        "0 s", "45 s", "2 min", "1 h", "2 h 30 min", "1 day", "1 day 1 h", "2 days"]
    assert run_pace([]) is None
    assert run_pace([{"step": 1, "time": 5.0, "step_time": 49.0}]) == 49.0  # one step: that step, warm-up included
    assert run_pace([{"step": 1, "time": 5.0}, {"step": 3, "time": 9.0}]) == 2.0
    assert run_pace([{"step": "x", "time": None}]) is None  # a corrupt line is no measurement

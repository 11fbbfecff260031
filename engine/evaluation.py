"""`engine eval`: accuracy and format compliance on the held-out split, base model vs trained adapter.

One greedy completion per held-out prompt, scored by the run's own reward functions:
- accuracy: share of completions whose correctness reward (answer_match) is at its maximum;
- format compliance: share whose format rewards (regex_match and tag_count) are all at their maximum.
Greedy decoding makes the figures repeatable; HF generate keeps it to one code path on CPU and GPU.
"""

from __future__ import annotations

import json
import time

from engine import model_loading
from engine.config import RunConfig
from engine.data import prepare_data, start_answers_with_prefix
from engine.rewards import RewardFunction, RegexTimeout
from engine.run_folder import RunFolder

FORMAT_KINDS = ("regex_match", "tag_count")


def _at_max(function: RewardFunction, score) -> bool:
    return score is not None and score >= function.spec.reward - 1e-9


def score_completions(config: RunConfig, completions: list[str], answers: list) -> dict:
    functions = [RewardFunction(spec, config.prompt) for spec in config.rewards if spec.kind != "python"]
    correctness = [f for f in functions if f.spec.kind == "answer_match"]
    formats = [f for f in functions if f.spec.kind in FORMAT_KINDS]
    correct = formatted = 0
    totals = []
    for text, gold in zip(completions, answers):
        scores = {}
        for f in functions:
            try:
                scores[f.spec.name] = f.score(text, gold)
            except RegexTimeout:
                scores[f.spec.name] = None
        correct += bool(correctness) and all(_at_max(f, scores[f.spec.name]) for f in correctness)
        formatted += bool(formats) and all(_at_max(f, scores[f.spec.name]) for f in formats)
        totals.append(sum(f.spec.weight * s for f in functions if (s := scores[f.spec.name]) is not None))
    n = max(1, len(completions))
    return {"accuracy": correct / n if correctness else None, "format_compliance": formatted / n if formats else None,
            "mean_reward": sum(totals) / n, "n": len(completions)}


def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 16,
             answer_prefix: str = "", sampling: dict | None = None) -> list[str]:
    """Greedy answers, or sampled with `sampling` (generate's temperature/top_p/min_p); each starts with
    `answer_prefix`, the text the chat template put after the assistant header (see data.start_answers_with_prefix),
    so that they read and score like the answers seen in training."""
    import torch

    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    outputs = []
    for start in range(0, len(prompts), batch_size):
        texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
                 for p in prompts[start:start + batch_size]]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            generated = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=sampling is not None,
                                       **(sampling or {}), pad_token_id=tokenizer.pad_token_id,
                                       eos_token_id=tokenizer.eos_token_id)
        new_tokens = generated[:, batch["input_ids"].shape[1]:]
        outputs += [answer_prefix + text for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return outputs


def load_for_eval(config: RunConfig, adapter_dir=None):
    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    path = model_loading.resolve_model_path(config.model.name)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if cuda else torch.float32)
    if cuda:
        model.to("cuda")
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir))
    model.eval()
    tokenizer = model_loading.load_tokenizer(path)
    start_answers_with_prefix(tokenizer, config.prompt)
    return model, tokenizer


def eval_rows(config: RunConfig, tokenizer, data_path: str | None) -> list[dict]:
    """The run's held-out split; or, with `data_path`, every row of that file (e.g. a test split), shuffled by
    the data seed so that `--limit N` is a fixed, repeatable slice."""
    if data_path is None:
        return prepare_data(config, tokenizer).eval
    other = config.model_copy(update={"data": config.data.model_copy(update={"path": data_path, "eval_fraction": 0.0,
                                                                              "max_rows": None})})
    return prepare_data(other, tokenizer).train


def evaluate(config: RunConfig, run: RunFolder | None, limit: int | None, data_path: str | None = None,
             batch_size: int | None = None) -> dict:
    """Base (and, for a run with an adapter, tuned) metrics on held-out rows; written to run/eval.json."""
    started = time.time()
    base_model, tokenizer = load_for_eval(config)
    # HF generate is latency-bound on a GPU: a wide batch costs little more per step than a narrow one.
    batch_size = batch_size or (64 if base_model.device.type == "cuda" else 16)
    rows = eval_rows(config, tokenizer, data_path)
    rows = rows[:limit] if limit else rows
    if not rows:
        raise ValueError("the held-out split is empty; set data.eval_fraction above 0 or pass --data")
    prompts, answers = [r["prompt"] for r in rows], [r["answer"] for r in rows]
    max_new = config.train.max_completion_length
    result = {"model": config.model.name, "data": data_path or config.data.path, "held_out": len(rows),
              "max_new_tokens": max_new, "decoding": "greedy"}
    prefix = config.prompt.answer_prefix()
    base_completions = generate(base_model, tokenizer, prompts, max_new, batch_size, prefix)
    result["base"] = score_completions(config, base_completions, answers)
    del base_model
    examples = [{"prompt": p[-1]["content"], "answer": a, "base": c}
                for p, a, c in zip(prompts[:5], answers[:5], base_completions[:5])]
    if run is not None and run.has_adapter:
        tuned_model, _ = load_for_eval(config, run.adapter_dir)
        tuned_completions = generate(tuned_model, tokenizer, prompts, max_new, batch_size, prefix)
        result["tuned"] = score_completions(config, tuned_completions, answers)
        for example, completion in zip(examples, tuned_completions):
            example["tuned"] = completion
    result["examples"] = examples
    result["seconds"] = round(time.time() - started, 1)
    if run is not None:
        run.eval_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result

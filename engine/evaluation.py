"""`engine eval`: accuracy and format compliance on the held-out split, base model vs trained adapter.

One greedy completion per held-out prompt, scored by the run's own reward functions:
- accuracy: share of completions whose correctness rewards are all at their maximum (for code rewards that is
  pass@1, and eval.json's `accuracy_metric` says so);
- format compliance: share whose format rewards are all at their maximum.
Which reward is which comes from the reward registry (each kind's category, engine.rewards.registry) through
`reward_category`, which the probe, the eval during training and the app's health hints ask too. Greedy decoding makes
the figures repeatable; HF generate keeps it to one code path on CPU and GPU.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine import model_names
from engine.config import RewardConfig, RunConfig
from engine.data import prepare_data, start_answers_with_prefix
from engine.progress_bar import progress_bar
from engine.rewards import RewardFunction, Row, kind_of
from engine.runs.folder import RunFolder


def reward_category(spec: RewardConfig) -> str:
    """'correctness' (compares the answer with the gold one), 'format' (checks the answer's shape) or 'shaping'."""
    return kind_of(spec).category


def accuracy_metric(config: RunConfig) -> str:
    """What eval's accuracy is: 'pass@1' when the correctness rewards run the model's program against tests (a greedy
    completion whose program passes every test), else 'accuracy'."""
    correctness = [spec for spec in config.rewards if reward_category(spec) == "correctness"]
    return "pass@1" if correctness and all(kind_of(spec).runs_model_code for spec in correctness) else "accuracy"


def reward_maximum(spec: RewardConfig) -> float | None:
    """The best score the reward can give; None where it cannot be known beforehand (a python function)."""
    return max(spec.reward, spec.penalty) if kind_of(spec).bounded else None


def _at_max(function: RewardFunction, score) -> bool:
    maximum = reward_maximum(function.spec)
    return score is not None and maximum is not None and score >= maximum - 1e-9


def score_completions(config: RunConfig, completions: list[str], examples: list[dict]) -> dict:
    """Accuracy, format compliance and mean reward of full answer texts for their data examples (engine.data)."""
    functions = [RewardFunction(spec, config.prompt) for spec in config.rewards]
    rows = [Row.from_example(example) for example in examples]
    scores = {f.spec.name: f.score_rows(completions, rows) for f in functions}  # a timed-out pattern: None
    correctness = [f for f in functions if reward_category(f.spec) == "correctness"]
    formats = [f for f in functions if reward_category(f.spec) == "format"]
    correct = formatted = correct_in_format = 0
    totals = []
    for i in range(len(completions)):
        right = bool(correctness) and all(_at_max(f, scores[f.spec.name][i]) for f in correctness)
        in_format = bool(formats) and all(_at_max(f, scores[f.spec.name][i]) for f in formats)
        correct, formatted, correct_in_format = correct + right, formatted + in_format, correct_in_format + (
            right and in_format)
        totals.append(sum(f.spec.weight * s for f in functions if (s := scores[f.spec.name][i]) is not None))
    n = max(1, len(completions))
    # Accuracy among the answers in the format: a rise in accuracy that only follows the format's rise (a right
    # number now between the tags where it was not) leaves this flat; a rise here is the skill.
    return {"accuracy": correct / n if correctness else None, "format_compliance": formatted / n if formats else None,
            "accuracy_in_format": correct_in_format / formatted if correctness and formatted else None,
            "mean_reward": sum(totals) / n, "n": len(completions)}


@dataclass(frozen=True)
class Completion:
    text: str  # the answer as the rewards score it: the answer prefix, then what the model wrote
    clipped: bool  # cut at max_new_tokens before the end-of-sequence token


def rollout_sampling(config: RunConfig) -> dict:
    """generate()'s sampling arguments for the run's rollouts, as TRL's GRPOTrainer sets them for HF generate
    (top_k 0: TRL turns top-k off, where a model's generation_config often turns it on)."""
    t = config.train
    return {"temperature": t.temperature, "top_p": t.top_p, "top_k": 0, **({"min_p": t.min_p} if t.min_p else {})}


def generate_completions(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 16,
                         answer_prefix: str = "", sampling: dict | None = None,
                         progress: Callable[[int, int], None] | None = None) -> list[Completion]:
    """Greedy answers, or sampled with `sampling` (generate's temperature/top_p/top_k/min_p); each starts with
    `answer_prefix`, the text the chat template put after the assistant header (see data.start_answers_with_prefix),
    so that they read and score like the answers seen in training. `progress(done, total)` is told after each batch
    (engine/progress_bar.py)."""
    import torch

    padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"  # continue from the right edge
    outputs = []
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
                     for p in prompts[start:start + batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.inference_mode():
                # use_cache: gradient checkpointing turns the model config's cache off while training.
                generated = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=sampling is not None,
                                           **(sampling or {}), pad_token_id=tokenizer.pad_token_id,
                                           eos_token_id=tokenizer.eos_token_id, use_cache=True)
            new_tokens = generated[:, batch["input_ids"].shape[1]:]
            ended = (new_tokens == tokenizer.eos_token_id).any(dim=1).tolist()
            decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            outputs += [Completion(answer_prefix + text, clipped=not done and new_tokens.shape[1] >= max_new_tokens)
                        for text, done in zip(decoded, ended)]
            if progress is not None:
                progress(len(outputs), len(prompts))
    finally:
        tokenizer.padding_side = padding_side
    return outputs


def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 16,
             answer_prefix: str = "", sampling: dict | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[str]:
    """The texts of generate_completions."""
    return [c.text for c in generate_completions(model, tokenizer, prompts, max_new_tokens, batch_size,
                                                 answer_prefix, sampling, progress)]


def load_for_eval(config: RunConfig, adapter_dir=None):
    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    path = model_names.resolve_model_path(config.model.name)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if cuda else torch.float32)
    if cuda:
        model.to("cuda")
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir))
    model.eval()
    tokenizer = model_names.load_tokenizer(path)
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
             batch_size: int | None = None, checkpoint: str = "best") -> dict:
    """Base (and, for a run with an adapter, tuned) metrics on held-out rows; written to run/eval.json. The tuned
    model is the run's best checkpoint by held-out eval, or with checkpoint="last" its last adapter
    (best_checkpoint.adapter_source)."""
    from engine.best_checkpoint import NoAdapter, adapter_source, describe_source

    started = time.time()
    adapter = None
    if run is not None:
        try:
            adapter = adapter_source(run, checkpoint)
        except NoAdapter:
            pass  # base only
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
              "max_new_tokens": max_new, "decoding": "greedy", "accuracy_metric": accuracy_metric(config)}
    prefix = config.prompt.answer_prefix()
    with progress_bar("base model answering", "questions") as progress:
        base_completions = generate(base_model, tokenizer, prompts, max_new, batch_size, prefix, progress=progress)
    result["base"] = score_completions(config, base_completions, rows)
    del base_model
    examples = [{"prompt": p[-1]["content"], "answer": a, "base": c}
                for p, a, c in zip(prompts[:5], answers[:5], base_completions[:5])]
    if adapter is not None:
        result["tuned_adapter"] = describe_source(run, adapter)
        tuned_model, _ = load_for_eval(config, adapter)
        with progress_bar("tuned model answering", "questions") as progress:
            tuned_completions = generate(tuned_model, tokenizer, prompts, max_new, batch_size, prefix,
                                         progress=progress)
        result["tuned"] = score_completions(config, tuned_completions, rows)
        for example, completion in zip(examples, tuned_completions):
            example["tuned"] = completion
    result["examples"] = examples
    result["seconds"] = round(time.time() - started, 1)
    if run is not None:
        run.eval_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result

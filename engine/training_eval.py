"""Held-out eval during training, and the best checkpoint.

Every `train.eval_steps` steps (default: ten checks over the run) the model being trained answers the first
`train.eval_limit` held-out questions greedily, one answer each; `engine eval`'s scoring turns the answers into
eval/accuracy, eval/format and eval/mean_reward, which go into that step's event in events.jsonl (the step is logged
even when logging_steps would skip it). When the run's metric (accuracy, or mean reward when there is no correctness
reward or no gold answer) beats every earlier check, the trainer saves a checkpoint at that step, transformers'
rotation protects it (state.best_global_step -> best_model_checkpoint), and best.json marks it.

Why a callback and not TRL's own eval loop (GRPOTrainer with eval_strategy and eval_dataset, TRL 1.15): TRL
evaluates with the training sampler (one GenerationConfig or vLLM SamplingParams, do_sample at the training
temperature), so it cannot be greedy; it computes the GRPO loss on every eval batch, a forward pass this needs
nothing of; and it logs means of each reward (eval_reward, eval_rewards/<name>/mean), not the share of answers
whose correctness rewards are all at their maximum. The callback uses the trainer's own model: HF generate (which
Unsloth's patched generate switches to inference and back), or, when Unsloth rollouts run on vLLM, the same vLLM
engine with the live LoRA weights, as Unsloth's GRPO trainer does for its rollouts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from engine import ranks
from engine.best_checkpoint import write_best
from engine.config import RunConfig
from engine.evaluation import generate, reward_category, score_completions
from engine.rewards import kind_of
from engine.runs.folder import RunFolder

EVAL_KEYS = ("eval/accuracy", "eval/format", "eval/mean_reward")
EVAL_LORA_NAME = "grpo_studio_eval_lora"


def eval_every(config: RunConfig) -> int:
    return config.train.eval_steps or max(1, config.train.max_steps // 10)


def best_metric(config: RunConfig, rows: list[dict]) -> str | None:
    """Accuracy where there is something to be right about (a correctness reward with the gold answers it needs, or
    one that needs none, such as code tests), else the mean reward; None without rewards."""
    has_gold = any(row["answer"] not in (None, "") for row in rows)
    if any(reward_category(spec) == "correctness" and (has_gold or not kind_of(spec).needs_gold)
           for spec in config.rewards):
        return "eval/accuracy"
    return "eval/mean_reward" if config.rewards else None


def greedy_answers(model, tokenizer, config: RunConfig, prompts: list[list[dict]]) -> list[str]:
    """One greedy answer per prompt from the model being trained, left in training mode afterwards."""
    engine = getattr(model, "vllm_engine", None)
    if engine is not None and hasattr(model, "load_lora"):
        return _greedy_vllm(model, engine, tokenizer, config, prompts)
    was_training = model.training
    model.eval()
    try:
        # As many at once as a rollout generates: the checks then never need more memory than the run already does.
        batch_size = config.train.generation_batch
        return generate(model, tokenizer, prompts, config.train.max_completion_length, batch_size,
                        config.prompt.answer_prefix())
    finally:
        if was_training:
            model.train()


def _greedy_vllm(model, engine, tokenizer, config: RunConfig, prompts: list[list[dict]]) -> list[str]:
    """The Unsloth vLLM engine, with the live LoRA weights passed as a LoRA request (the engine shares the base
    weights with training). In standby the engine sleeps between rollouts: wake it and put it back, as Unsloth's
    patched trainer does around its own generate."""
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=config.train.max_completion_length,
                            stop_token_ids=[tokenizer.eos_token_id])
    requests = [{"prompt_token_ids": tokenizer(tokenizer.apply_chat_template(p, add_generation_prompt=True,
                                                                             tokenize=False),
                                               add_special_tokens=False)["input_ids"]} for p in prompts]
    model_config = getattr(getattr(getattr(engine, "llm_engine", None), "vllm_config", None), "model_config", None)
    sleeps = bool(getattr(model_config, "enable_sleep_mode", False))
    if sleeps:
        engine.wake_up()
    try:
        outputs = engine.generate(requests, sampling_params=params, use_tqdm=False,
                                  lora_request=model.load_lora(EVAL_LORA_NAME, load_tensors=True))
    finally:
        if sleeps:
            engine.sleep(int(os.environ.get("VLLM_SLEEP_MODE", "1")))
    prefix = config.prompt.answer_prefix()
    return [prefix + output.outputs[0].text for output in outputs]


def eval_line(step: int, metrics: dict, rows: int, seconds: float) -> str:
    parts = [f"{key.split('/')[1].replace('_', ' ')} {value:.1%}" if key != "eval/mean_reward"
             else f"mean reward {value:.3f}" for key in EVAL_KEYS if (value := metrics.get(key)) is not None]
    return f"held-out eval at step {step}: {', '.join(parts)} ({rows} questions, {seconds:.1f} s)"


def make_heldout_eval(config: RunConfig, run: RunFolder, tokenizer, held_out: list[dict], print_line=print):
    """The TrainerCallback, or None when there is nothing to evaluate (eval_limit 0, no held-out rows). Register it
    before the run monitor: it adds its metrics to the step's logs, which the monitor writes to events.jsonl."""
    rows = held_out[:config.train.eval_limit]
    if not rows:
        reason = ("train.eval_limit is 0" if config.train.eval_limit == 0
                  else "no rows are held out: set data.eval_fraction above 0")
        print_line(f"held-out eval during training: off ({reason})")
        return None

    from transformers import TrainerCallback

    every, metric = eval_every(config), best_metric(config, rows)
    prompts = [r["prompt"] for r in rows]
    kept = f"the best checkpoint by {metric} is kept" if metric else "no checkpoint is called best (no rewards)"
    print_line(f"held-out eval during training: every {every} steps on {len(rows)} questions, greedy; {kept}")

    class HeldOutEval(TrainerCallback):
        def __init__(self):
            self.pending: dict = {}  # this step's metrics, until the step is logged
            self.best: float | None = None
            self.to_mark: tuple[int, float] | None = None  # a new best, until its checkpoint is saved

        def on_train_begin(self, args, state, control, **kwargs):
            # A resumed run continues from the best its checkpoint's trainer_state.json recorded.
            self.best = state.best_metric if state.best_global_step else None

        def on_step_end(self, args, state, control, model=None, **kwargs):
            step = state.global_step
            if step % every and step != state.max_steps:
                return control
            started = time.time()
            texts = greedy_answers(model, tokenizer, config, prompts)
            scores = score_completions(config, texts, rows)
            # On several GPUs every rank answers (a sharded model generates only with all of them); rank 0's scores
            # decide for all, so that they save the same checkpoints.
            self.pending = ranks.from_main({"eval/accuracy": scores["accuracy"],
                                            "eval/format": scores["format_compliance"],
                                            "eval/mean_reward": scores["mean_reward"], "eval/rows": len(rows),
                                            "eval/seconds": round(time.time() - started, 2)})
            control.should_log = True
            value = self.pending[metric] if metric else None
            if value is not None and (self.best is None or value > self.best):
                self.best, self.to_mark = value, (step, value)
                state.best_metric, state.best_global_step = value, step
                control.should_save = True
            print_line(eval_line(step, self.pending, len(rows), self.pending["eval/seconds"]))
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            # The logs dict is the one every callback receives in turn: the monitor, registered after this
            # callback, writes it to events.jsonl with these keys in it, so each step stays one event.
            if self.pending and logs is not None and "train_runtime" not in logs:
                logs.update(self.pending)
                self.pending = {}

        def on_save(self, args, state, control, **kwargs):
            if self.to_mark is not None and self.to_mark[0] == state.global_step:
                checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if ranks.is_main():
                    write_best(run, state.global_step, metric, self.to_mark[1], checkpoint)
                self.to_mark = None

    return HeldOutEval()

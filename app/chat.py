"""Chat with a run's base and tuned model side by side, in the app process (transformers + peft, never trl).

The run's base model is loaded with its adapter attached, into the app's one model slot; the base answer is
generated with the adapter switched off, so one copy of the weights serves both.
"""

from __future__ import annotations

from engine.config import load_config
from engine.data import make_prompt
from engine.run_folder import RunFolder

from app import model_slot, strings


def _adapter_stamp(run: RunFolder) -> float | None:
    try:
        return (run.adapter_dir / "adapter_config.json").stat().st_mtime if run.has_adapter else None
    except OSError:  # replaced while we looked (a resumed run saving a new adapter)
        return None


def _load(run: RunFolder, with_adapter: bool):
    from engine.evaluation import load_for_eval

    config = load_config(run.config_path)
    model, tokenizer = load_for_eval(config, run.adapter_dir if with_adapter else None)
    return model, tokenizer, config


def answer_both(run: RunFolder, question: str) -> tuple[str, str]:
    """(base answer, tuned answer) to one question, greedy, with the run's system prompt and length limit."""
    from engine.evaluation import generate

    stamp = _adapter_stamp(run)  # a new adapter (the run went on) means a fresh load
    with model_slot.holding(("chat", run.id, stamp), lambda: _load(run, stamp is not None)) as loaded:
        model, tokenizer, config = loaded
        prompt = [make_prompt(config, question)]
        limit, prefix = config.train.max_completion_length, config.prompt.answer_prefix()
        if not hasattr(model, "disable_adapter"):
            return generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0], strings.CHAT_NO_ADAPTER
        with model.disable_adapter():
            base = generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0]
        tuned = generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0]
    return base, tuned

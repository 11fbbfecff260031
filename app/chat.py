"""Chat with a run's base and tuned model side by side, in the app process (transformers + peft, never trl).

The run's base model is loaded with its adapter attached (the best checkpoint by held-out eval, else the last
adapter, or the last one when asked: engine/best_checkpoint.py), into the app's one model slot; the base answer is
generated with the adapter switched off, so one copy of the weights serves both.
"""

from __future__ import annotations

from pathlib import Path

from engine.best_checkpoint import NoAdapter, adapter_source
from engine.config import load_config
from engine.data import make_prompt
from engine.runs.folder import RunFolder

from app import model_slot, strings


def _adapter(run: RunFolder, which: str) -> tuple[Path | None, float | None]:
    """The adapter to chat with and its config's mtime (a new best or a new adapter means a fresh load)."""
    try:
        folder = adapter_source(run, which)
    except NoAdapter:
        return None, None
    return folder, (folder / "adapter_config.json").stat().st_mtime


def _load(run: RunFolder, adapter: Path | None):
    from engine.evaluation import load_for_eval

    config = load_config(run.config_path)
    model, tokenizer = load_for_eval(config, adapter)
    return model, tokenizer, config


def answer_both(run: RunFolder, question: str, which: str = "best") -> tuple[str, str]:
    """(base answer, tuned answer) to one question, greedy, with the run's system prompt and length limit; the tuned
    model is the best checkpoint by held-out eval, or the last adapter (`which`)."""
    from engine.evaluation import generate

    adapter, stamp = _adapter(run, which)
    with model_slot.holding(("chat", run.id, str(adapter), stamp), lambda: _load(run, adapter)) as loaded:
        model, tokenizer, config = loaded
        prompt = [make_prompt(config, question)]
        limit, prefix = config.train.max_completion_length, config.prompt.answer_prefix()
        if not hasattr(model, "disable_adapter"):
            return generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0], strings.CHAT_NO_ADAPTER
        with model.disable_adapter():
            base = generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0]
        tuned = generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0]
    return base, tuned

"""Chat with a run's base and tuned model side by side, in the app process (transformers + peft, never trl).

The model of the last run asked is kept loaded: the base model with the run's adapter attached; the base answer
is generated with the adapter switched off, so one copy of the weights serves both. Loading is lazy (the first
question) and behind a lock, so two questions at once do not load it twice.
"""

from __future__ import annotations

import threading

from engine.config import load_config
from engine.data import make_prompt
from engine.run_folder import RunFolder

from app import strings

_lock = threading.Lock()
_loaded: dict = {}  # {"key": (run id, adapter mtime), "model": ..., "tokenizer": ..., "config": ...}


def _adapter_stamp(run: RunFolder) -> float | None:
    adapter_config = run.adapter_dir / "adapter_config.json"
    return adapter_config.stat().st_mtime if adapter_config.is_file() else None


def _load(run: RunFolder):
    from engine.evaluation import load_for_eval

    key = (run.id, _adapter_stamp(run))
    if _loaded.get("key") != key:
        _loaded.clear()  # one run's model at a time: free the previous one first
        config = load_config(run.config_path)
        model, tokenizer = load_for_eval(config, run.adapter_dir if key[1] is not None else None)
        _loaded.update(key=key, model=model, tokenizer=tokenizer, config=config)
    return _loaded["model"], _loaded["tokenizer"], _loaded["config"]


def answer_both(run: RunFolder, question: str) -> tuple[str, str]:
    """(base answer, tuned answer) to one question, greedy, with the run's system prompt and length limit."""
    from engine.evaluation import generate

    with _lock:
        model, tokenizer, config = _load(run)
        prompt = [make_prompt(config, question)]
        limit, prefix = config.train.max_completion_length, config.prompt.answer_prefix()
        if not hasattr(model, "disable_adapter"):
            return generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0], strings.CHAT_NO_ADAPTER
        with model.disable_adapter():
            base = generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0]
        tuned = generate(model, tokenizer, prompt, limit, answer_prefix=prefix)[0]
    return base, tuned

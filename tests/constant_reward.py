"""A `kind: python` reward that gives every completion the same score, whatever it says: GRPO can learn nothing
from it, and the probe must say so (tests/test_engine_probe.py)."""


def constant(prompts, completions, completion_ids=None, **columns):
    return [0.5 for _ in completions]

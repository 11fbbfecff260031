"""A toy reward the random tiny model can learn in ~30 CPU steps (tests/test_engine_train.py): the share of digit
characters in the completion. Also an example of a `kind: python` reward: a TRL-style reward function."""


def digit_share(prompts, completions, completion_ids=None, **columns):
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    return [sum(ch.isdigit() for ch in text) / max(1, len(text)) for text in texts]


def broken(prompts, completions, completion_ids=None, **columns):
    raise RuntimeError("this reward is broken on purpose")

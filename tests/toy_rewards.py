"""A toy reward the random tiny model can learn in ~30 CPU steps (tests/test_engine_train.py): the share of digit
characters in the completion. Also an example of a `kind: python` reward: a TRL-style reward function."""


def digit_share(prompts, completions, completion_ids=None, **columns):
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    return [sum(ch.isdigit() for ch in text) / max(1, len(text)) for text in texts]


def broken(prompts, completions, completion_ids=None, **columns):
    raise RuntimeError("this reward is broken on purpose")


def columns_match(prompts, completions, completion_ids=None, answer=None, test=None, entry_point=None,
                  data_prompt=None, **columns):
    """1.0 for each completion whose data columns are its own row's (tests/test_engine_rewards.py builds the data so
    that every column names the same function); anything else fails the run loudly."""
    scores = []
    for gold, test_code, entry, prompt_text in zip(answer, test, entry_point, data_prompt, strict=True):
        if (test_code, prompt_text, gold) != (f"assert {entry}()", f"Write {entry}.", entry[1:]):
            raise AssertionError(f"columns do not belong together: {gold!r} {test_code!r} {entry!r} {prompt_text!r}")
        scores.append(1.0)
    return scores

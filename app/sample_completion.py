"""The try-it box's "Generate one": the form's model answers a question from the form's data, prompted and sampled
as a run's rollouts are (system prompt, start_with_thought, temperature, top_p, min_p, max_completion_length), so
that the rewards can be tried on what this model really writes before a run is launched.

The base model is loaded into the app's one model slot (app/model_slot.py) and kept while the model and its prompt
prefix stay the same.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from engine.config import RunConfig
from engine.data import prepare_data
from engine.rewards import Row

from app import model_slot


class ModelLoadError(Exception):
    pass


@dataclass
class Sample:
    question: str
    completion: str
    gold: str | None
    columns: dict  # the row's data columns by their own names (the try-it box scores code rewards against its tests)


def _load(config: RunConfig):
    from engine.evaluation import load_for_eval

    try:
        return load_for_eval(config)
    except Exception as e:  # not downloaded while offline, a typo in a hub id, a folder without weights
        raise ModelLoadError(f"model.name: {config.model.name} could not be loaded ({type(e).__name__}: "
                             f"{str(e)[:200]}).") from e


def generate_sample(config: RunConfig) -> Sample:
    """One sampled answer to a random training question of the config's data. Raises ConfigError for data
    problems and ModelLoadError for a model that cannot be loaded."""
    from engine.evaluation import generate, rollout_sampling

    t = config.train
    key = ("base", config.model.name, config.prompt.answer_prefix())
    with model_slot.holding(key, lambda: _load(config)) as (model, tokenizer):
        row = random.choice(prepare_data(config, tokenizer).train)
        completion = generate(model, tokenizer, [row["prompt"]], t.max_completion_length, batch_size=1,
                              answer_prefix=config.prompt.answer_prefix(), sampling=rollout_sampling(config))[0]
    return Sample(question=row["prompt"][-1]["content"], completion=completion, gold=row["answer"],
                  columns=Row.from_example(row).columns)

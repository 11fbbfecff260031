"""A run's health in plain words: hints read from its events.jsonl metrics and samples.jsonl completions, each one
sentence that says what is wrong and what to try, and the share of question groups GRPO could learn from.

The app's Train view shows them beside the charts and `engine watch` prints them, so both say the same thing. Pure
functions of the files' contents; each hint needs enough logged steps or answers before it speaks.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from engine.config import RunConfig
from engine.evaluation import accuracy_metric, reward_category, reward_maximum
from engine.rewards.text import Tags, after_thought, last_answer_block

RECENT_STEPS = 5  # logged steps a recent share is averaged over
NO_SIGNAL_SHARE = 0.5  # groups without spread, of all groups, worth a word
LOW_TEMPERATURE = 0.7  # at or below it, a lower temperature is no advice for answers that are never right
FORMAT_STUCK_STEPS = 10
CLIPPED_STEPS = 3
CLIPPED_SHARE = 0.25  # a quarter of the answers cut off
HELDOUT_CHECKS = 3  # held-out checks before "did not rise" means anything
FLAT = 0.02  # a held-out accuracy gain smaller than this is flat
SATURATED = 0.95  # share of a reward's range (penalty to reward) that counts as at its maximum
HARDLY = 0.05  # ... and as at its minimum
RISING_WINDOW = 5  # logged steps averaged at each end of the run to tell a rise from noise
RISE_OF_RANGE = 0.05  # a rise smaller than this share of the total reward's range is noise
RISE_MIN = 0.05
SHRINK_WINDOW = 3
SHRINK_FRACTION = 0.25  # completions at a quarter of their starting length
SHRUNK_TOKENS = 24  # ... and this short (about a bare answer block) have shrunk to almost nothing
COLLAPSE_ANSWERS = 24  # the latest answers looked at (samples.jsonl keeps train.samples_per_step per step)
COLLAPSE_MIN_ANSWERS = 12
COLLAPSE_SHARE = 0.5
COLLAPSE_QUESTIONS = 3  # the same answer to one question asked again says nothing
SHOWN_CHARS = 40

CURATE = "training only on the questions it sometimes gets right (the probe's learnable subset: engine curate)"
BEST_CHECKPOINT = "keep the best checkpoint rather than the last"


@dataclass(frozen=True)
class Hint:
    code: str  # which problem: `engine watch` prints a hint when its code starts to fire
    text: str


def _number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _values(events: list[dict], key: str) -> list[float]:
    return [v for e in events if (v := _number(e.get(key))) is not None]


def _tail(events: list[dict], key: str, count: int) -> list[float] | None:
    """The last `count` values of `key`, or None if fewer were logged."""
    values = _values(events, key)
    return values[-count:] if len(values) >= count else None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _range(spec) -> tuple[float, float] | None:
    """A bounded reward's (lowest, highest) score; None for one whose scores cannot be known (a python function)."""
    top = reward_maximum(spec)
    low = min(spec.reward, spec.penalty)
    return (low, top) if top is not None and top > low else None


def _share_of_range(events: list[dict], spec, count: int) -> list[float] | None:
    """The reward's last `count` logged means, each as a share of its range (0: always its penalty, 1: always full)."""
    bounds, values = _range(spec), _tail(events, f"rewards/{spec.name}/mean", count)
    if bounds is None or values is None:
        return None
    low, top = bounds
    return [(v - low) / (top - low) for v in values]


def _shown(value: str) -> str:
    return value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS - 1] + "…"


# ---------------------------------------------------------------------------------------------------------------
# Groups with and without spread (TRL's frac_reward_zero_std)

def _groups_measured(config: RunConfig | None) -> bool:
    """TRL counts groups without spread except with scale_rewards batch, where its frac_reward_zero_std is the whole
    batch's spread (0 or 1). A group whose answers tie teaches nothing under every scaling all the same."""
    return config is None or config.train.scale_rewards != "batch"


def learnable_line(events: list[dict], config: RunConfig | None) -> str | None:
    """'Groups with something to learn from: 62% (last 5 steps).', shown beside the charts at every step; None
    before TRL logged it."""
    shares = _values(events, "frac_reward_zero_std")[-RECENT_STEPS:]
    if not shares:
        return None
    if not _groups_measured(config):
        return ("Groups with something to learn from: not counted (with scale_rewards batch, TRL measures the spread "
                "of the whole batch, not of each group).")
    steps = "last step" if len(shares) == 1 else f"last {len(shares)} steps"
    return f"Groups with something to learn from: {1 - _mean(shares):.0%} ({steps})."


def _correctness_level(events: list[dict], config: RunConfig) -> str | None:
    """'wrong' when hardly any recent answer is right, 'right' when almost every one is, else None."""
    shares = [s for spec in config.rewards if reward_category(spec) == "correctness"
              and (s := _share_of_range(events, spec, RECENT_STEPS)) is not None]
    if not shares:
        return None
    if all(max(s) <= HARDLY for s in shares):
        return "wrong"
    if all(min(s) >= SATURATED for s in shares):
        return "right"
    return None


def no_signal_hint(events: list[dict], config: RunConfig | None) -> str | None:
    """Most recent groups had no reward spread: every answer to a question scored the same, so its advantages are 0
    and GRPO learns nothing from it."""
    shares = _tail(events, "frac_reward_zero_std", RECENT_STEPS)
    if shares is None or _mean(shares) < NO_SIGNAL_SHARE or not _groups_measured(config):
        return None
    share = _mean(shares)
    tenths = min(9, max(1, round(share * 10)))
    said = ("In every recent question group every answer got the same score" if share >= 0.995 else
            f"In {tenths} of every 10 recent question groups every answer got the same score")
    t = config.train if config else None
    generations = f"train.num_generations, now {t.num_generations}" if t else "train.num_generations"
    level = _correctness_level(events, config) if config else None
    if level == "right":
        advice = ("Almost every answer is right: use harder questions, or train only on the questions it sometimes "
                  "gets wrong (the probe's learnable subset: engine curate).")
    elif level == "wrong":
        lower = (f"a lower temperature (train.temperature, now {t.temperature}), as greedy answers are often right "
                 "where sampled ones are not; " if t.temperature > LOW_TEMPERATURE else "")
        advice = (f"Hardly any answer is right: try {lower}more completions per question ({generations}); {CURATE}; "
                  "or an easier task.")
    else:
        advice = (f"Try more completions per question ({generations}), {CURATE}, or rewards that give partial "
                  "credit.")
    return f"{said}, so training had nothing to learn from them. {advice}"


# ---------------------------------------------------------------------------------------------------------------
# Collapse: one answer for every question, answers shrinking to nothing, rewards up while held-out accuracy is not

def _answer_blocks(text: str, tags: Tags) -> list[str]:
    """The inside of every complete answer block of a text (a system prompt's examples)."""
    blocks = []
    for part in text.split(tags.answer_open)[1:]:
        inside, closed, _ = part.partition(tags.answer_close)
        if closed:
            blocks.append(" ".join(inside.split()))
    return blocks


def answer_collapse_hint(samples: list[dict], config: RunConfig | None) -> str | None:
    """At least half of the latest answers (the text between the run's answer tags, after the thinking) are one
    value, given to several different questions, and it is not their gold answer: the model repeats a value instead
    of solving. A value that is right (a yes/no task) or one question asked again is no collapse."""
    if config is None:
        return None
    tags = Tags.of(config.prompt)
    recent = []  # (answer, question, gold), newest first
    for sample in reversed(samples):
        completion = sample.get("completion")
        answer = last_answer_block(after_thought(completion, tags), tags) if isinstance(completion, str) else None
        if answer is not None and answer.strip():
            gold = sample.get("answer")
            recent.append((" ".join(answer.split()), str(sample.get("prompt")),
                           None if gold is None else " ".join(str(gold).split())))
            if len(recent) == COLLAPSE_ANSWERS:
                break
    if len(recent) < COLLAPSE_MIN_ANSWERS:
        return None
    value, count = Counter(answer for answer, _, _ in recent).most_common(1)[0]
    given = [(question, gold) for answer, question, gold in recent if answer == value]
    questions = {question for question, _ in given}
    right = sum(gold == value for _, gold in given)
    if count < COLLAPSE_SHARE * len(recent) or len(questions) < COLLAPSE_QUESTIONS or right >= count / 2:
        return None
    example = value in _answer_blocks(config.prompt.fill(config.prompt.system_prompt), tags)
    shape = f"{tags.answer_open}…{tags.answer_close}"
    return (f"Most recent answers are the same value ('{_shown(value)}'): {count} of the last {len(recent)}, to "
            f"{len(questions)} different questions" + (", the answer of the system prompt's example" if example
                                                       else "")
            + f". The model may be copying an example instead of solving: show no concrete answer in the system "
              f"prompt or the data's examples (show the shape, e.g. {shape}), give correctness more weight, and "
              f"{BEST_CHECKPOINT}.")


def shrinking_hint(events: list[dict]) -> str | None:
    """The mean completion length fell to a small fraction of where it started, and to a few tokens: a model that
    learned to stop rambling (a run's first answers are often cut off at the limit) still writes a few sentences."""
    lengths = _values(events, "completions/mean_length")
    if len(lengths) < 2 * SHRINK_WINDOW:
        return None
    start, now = _mean(lengths[:SHRINK_WINDOW]), _mean(lengths[-SHRINK_WINDOW:])
    if start <= 0 or now > SHRINK_FRACTION * start or now > SHRUNK_TOKENS:
        return None
    return (f"Completions have shrunk from about {start:.0f} tokens to {now:.0f}: the model may be escaping the "
            "rewards by saying almost nothing. Check that a short or empty answer cannot score well, give "
            f"correctness more weight, or lower the learning rate (train.learning_rate); {BEST_CHECKPOINT}.")


def reward_rise(events: list[dict], config: RunConfig | None) -> tuple[float, float] | None:
    """(first, last): the total training reward averaged over the first and the last few logged steps, when it rose
    by more than noise (a share of the rewards' whole range where that is known)."""
    rewards = _values(events, "reward")
    if len(rewards) < 2 * RISING_WINDOW:
        return None
    first, last = _mean(rewards[:RISING_WINDOW]), _mean(rewards[-RISING_WINDOW:])
    spans = [abs(spec.weight) * (top - low) for spec in (config.rewards if config else [])
             if (bounds := _range(spec)) is not None for low, top in [bounds]]
    return (first, last) if last - first > max(RISE_MIN, RISE_OF_RANGE * sum(spans)) else None


def _saturated_formats(events: list[dict], config: RunConfig) -> list[str]:
    return [spec.name for spec in config.rewards if reward_category(spec) == "format"
            and (shares := _share_of_range(events, spec, RECENT_STEPS)) is not None and min(shares) >= SATURATED]


def heldout_hint(events: list[dict], config: RunConfig | None) -> str | None:
    """Held-out accuracy flat or falling over the checks while the training reward rose, or while the format
    rewards sit at their maximum: the model is getting better at the rewards, not at the task."""
    accuracy = _values(events, "eval/accuracy")
    if config is None or len(accuracy) < HELDOUT_CHECKS or accuracy[-1] > accuracy[0] + FLAT:
        return None
    metric = accuracy_metric(config)
    checks = f"{accuracy[0]:.0%} → {accuracy[-1]:.0%} over {len(accuracy)} checks"
    rise, saturated = reward_rise(events, config), _saturated_formats(events, config)
    if rise is not None:
        said = (f"The training reward rose ({rise[0]:.2f} → {rise[1]:.2f}) but held-out {metric} did not ({checks}): "
                "the model is getting better at the rewards, not at the task.")
    elif saturated:
        names = ", ".join(f"'{name}'" for name in saturated)
        which = (f"format rewards {names} are at their maximum" if len(saturated) > 1
                 else f"format reward {names} is at its maximum")
        said = f"The {which} but held-out {metric} did not rise ({checks}): the model may be gaming the rewards."
    else:
        return None
    return (f"{said} Give correctness more weight or make the format rewards stricter, train only on the questions "
            f"it sometimes gets right (engine curate), and {BEST_CHECKPOINT}.")


# ---------------------------------------------------------------------------------------------------------------
# Format, length, patterns, loss

def clipped_hint(events: list[dict], config: RunConfig | None) -> str | None:
    """Completions cut at max_completion_length, on average over the last few steps."""
    clipped = _tail(events, "completions/clipped_ratio", CLIPPED_STEPS)
    if clipped is None or _mean(clipped) < CLIPPED_SHARE:
        return None
    length = config.train.max_completion_length if config else "?"
    return (f"{_mean(clipped):.0%} of the answers reach the longest answer allowed ({length} tokens) and are cut off "
            "before they end: raise the longest answer (train.max_completion_length).")


def _format_stuck(events: list[dict], config: RunConfig | None) -> list[Hint]:
    stuck = []
    for spec in config.rewards if config else []:
        values = _tail(events, f"rewards/{spec.name}/mean", FORMAT_STUCK_STEPS)
        if reward_category(spec) == "format" and values is not None and max(values) <= min(spec.penalty,
                                                                                            spec.reward) + 1e-9:
            stuck.append(Hint(f"format_stuck/{spec.name}", (
                f"The format reward '{spec.name}' has stayed at {values[-1]:g} for {len(values)} steps: the model "
                "never writes the format. Show the format's shape in the system prompt, begin answers inside the "
                "thought (prompt.start_with_thought), loosen the pattern, or pick a larger model.")))
    return stuck


def _regex_timeouts(events: list[dict]) -> list[Hint]:
    timeouts: dict[str, int] = {}
    for event in events:
        counts = event.get("regex_timeouts")
        for name, count in (counts.items() if isinstance(counts, dict) else ()):
            if (number := _number(count)) is not None:
                timeouts[name] = timeouts.get(name, 0) + int(number)
    return [Hint(f"regex_timeout/{name}", f"The pattern of '{name}' timed out on {count} answers (catastrophic "
                                          "backtracking), and those were not scored. Simplify nested repeats like "
                                          "(a+)+ in that reward's pattern.") for name, count in timeouts.items()]


def _loss_is_nan(events: list[dict]) -> bool:
    return any(isinstance(v, float) and math.isnan(v) for e in events[-3:] if (v := e.get("loss")) is not None)


def health_hints(events: list[dict], samples: list[dict], config: RunConfig | None) -> list[Hint]:
    """Every hint that fires now, the problems first; an empty list when nothing stands out."""
    hints = [Hint(code, text) for code, text in (
        ("no_signal", no_signal_hint(events, config)),
        ("answer_collapse", answer_collapse_hint(samples, config)),
        ("shrinking", shrinking_hint(events)),
        ("heldout_flat", heldout_hint(events, config)),
        ("clipped", clipped_hint(events, config))) if text]
    hints += _format_stuck(events, config) + _regex_timeouts(events)
    if _loss_is_nan(events):
        hints.append(Hint("nan", "The loss became NaN (not a number). Lower the learning rate (train.learning_rate) "
                                 "or the gradient clipping (train.max_grad_norm), then start a new run."))
    rise = reward_rise(events, config)
    if rise is not None and not any(hint.code == "heldout_flat" for hint in hints):
        hints.append(Hint("rising", f"↗ The reward is rising: {rise[0]:.2f} → {rise[1]:.2f} (average of the first "
                                    "and last few steps)."))
    return hints

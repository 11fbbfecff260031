"""The health hints (engine/runs/health.py): each fires on crafted events or samples that show its problem and stays
quiet on healthy ones. Pure functions over lists, plus `engine watch` printing them from a run folder."""

import io
import threading
import time

from engine.config import build_config
from engine.runs import health as run_health
from engine.runs import trainer_process
from engine.runs.folder import RunFolder
from engine.runs.progress import watch

from tests.conftest import DATA, run_engine

CONFIG = build_config({"preset": "rlvr-math", "model": {"name": "builtin:tiny"},
                       "data": {"path": str(DATA / "gsm8k_slice.jsonl")}})


def hint_texts(events_list, samples_list, config):
    return [hint.text for hint in run_health.health_hints(events_list, samples_list, config)]


def with_train(**train):
    return CONFIG.model_copy(update={"train": CONFIG.train.model_copy(update=train)})


def events(steps=10, strict=1.0, tags=1.0, correct=0.5, accuracy=(0.30, 0.30, 0.28), zero_std=0.1, clipped=0.0,
           std=0.5, reward=lambda s: 1.0, length=lambda s: 120.0):
    """`steps` logged steps as TRL logs them, with a held-out check every few steps."""
    checks = {round((i + 1) * steps / len(accuracy)): a for i, a in enumerate(accuracy)}
    return [{"step": s, "reward": reward(s), "reward_std": std, "rewards/strict_format/mean": strict,
             "rewards/tag_count/mean": tags, "rewards/correct/mean": correct, "frac_reward_zero_std": zero_std,
             "completions/clipped_ratio": clipped, "completions/mean_length": length(s),
             **({"eval/accuracy": checks[s]} if s in checks else {})}
            for s in range(1, steps + 1)]


def sample(step, question, answer, gold, thought="Let me add.", tags=("<answer>", "</answer>")):
    return {"step": step, "prompt": question, "answer": gold,
            "completion": f"<thought>\n{thought}\n</thought>\n{tags[0]}{answer}{tags[1]}", "scores": {}}


def samples_of(answers_by_step, golds=lambda step: str(step + 40), **kwargs):
    """Four samples per logged step, one question per step (rlvr-math's batch: 8 completions of one question)."""
    return [sample(step, f"What is {step} + 40?", answer, golds(step), **kwargs)
            for step, answers in enumerate(answers_by_step, 1) for answer in answers]


# ---------------------------------------------------------------------------------------------------------------
# Answer collapse

COLLAPSED = [["12", "12", "12", str(step + 40)] for step in range(1, 7)]  # 18 of 24 say 12, to 6 questions


def test_most_recent_answers_one_value_is_collapse():
    hint = run_health.answer_collapse_hint(samples_of(COLLAPSED), CONFIG)
    assert hint.startswith("Most recent answers are the same value ('12'): 18 of the last 24, to 6 different "
                           "questions")
    assert "copying an example instead of solving" in hint and "best checkpoint" in hint
    assert hint in hint_texts([], samples_of(COLLAPSED), CONFIG)


def test_collapse_names_the_system_prompt_example_it_copies():
    # rlvr-math's example ends in <answer>12</answer> (until the presets drop concrete answers): say it is that one.
    prompt = CONFIG.prompt.model_copy(update={"system_prompt": "Think, then answer.\nExample:\n<thought>3*4=12"
                                                                "</thought>\n{answer_open}12{answer_close}"})
    leaky = CONFIG.model_copy(update={"prompt": prompt})
    assert "the answer of the system prompt's example" in run_health.answer_collapse_hint(samples_of(COLLAPSED),
                                                                                         leaky)
    shaped = CONFIG.model_copy(update={"prompt": prompt.model_copy(update={"system_prompt": "Answer in tags."})})
    assert "system prompt's example" not in run_health.answer_collapse_hint(samples_of(COLLAPSED), shaped)


def test_collapse_stays_quiet_on_healthy_answers():
    varied = [[str(step + 40), str(step + 41), str(step + 40), str(step * 3)] for step in range(1, 7)]
    assert run_health.answer_collapse_hint(samples_of(varied), CONFIG) is None
    # The same right answer to many questions whose gold it is (a yes/no task) is no collapse.
    right = [["yes", "yes", "yes", "no"] for _ in range(6)]
    assert run_health.answer_collapse_hint(samples_of(right, golds=lambda step: "yes"), CONFIG) is None
    # One question asked again and again: the same answer to it says nothing.
    same_question = [dict(s, prompt="What is 3 * 4?") for s in samples_of(COLLAPSED)]
    assert run_health.answer_collapse_hint(same_question, CONFIG) is None
    # Too few answers to say so (two logged steps).
    assert run_health.answer_collapse_hint(samples_of(COLLAPSED[:2]), CONFIG) is None
    # Answers that are not there (no answer block) are a format problem, not a collapse.
    no_block = [dict(s, completion="<thought>\n12 12 12") for s in samples_of(COLLAPSED)]
    assert run_health.answer_collapse_hint(no_block, CONFIG) is None
    assert run_health.answer_collapse_hint(samples_of(COLLAPSED), None) is None
    assert run_health.answer_collapse_hint([], CONFIG) is None


def test_collapse_reads_the_runs_own_answer_tags_after_the_thinking():
    tags = ("[ANS]", "[/ANS]")
    custom = CONFIG.model_copy(update={"prompt": CONFIG.prompt.model_copy(update={"answer_tags": tags})})
    collapsed = samples_of(COLLAPSED, tags=tags)
    assert "('12')" in run_health.answer_collapse_hint(collapsed, custom)
    assert run_health.answer_collapse_hint(collapsed, CONFIG) is None  # <answer> tags: none written
    # An answer tag mentioned while thinking is not the answer.
    thinking = [dict(s, completion=f"<thought>\nnot <answer>12</answer> but\n</thought>\n<answer>{s['answer']}"
                                   "</answer>") for s in samples_of(COLLAPSED)]
    assert run_health.answer_collapse_hint(thinking, CONFIG) is None


def test_collapse_looks_at_recent_answers_only():
    recovered = COLLAPSED + [[str(step + 40), str(step + 41), str(step), "7"] for step in range(7, 13)]
    assert run_health.answer_collapse_hint(samples_of(recovered), CONFIG) is None


# ---------------------------------------------------------------------------------------------------------------
# Completions shrinking to nothing

def test_completions_shrinking_to_nothing():
    shrinking = events(steps=12, length=lambda s: max(6.0, 200.0 - 20 * s))
    hint = run_health.shrinking_hint(shrinking)
    assert hint.startswith("Completions have shrunk from about 160 tokens to 6")
    assert "learning rate (train.learning_rate)" in hint
    assert hint in hint_texts(shrinking, [], CONFIG)
    assert run_health.shrinking_hint(events(steps=12)) is None  # steady
    assert run_health.shrinking_hint(events(steps=12, length=lambda s: 200.0 - 6 * s)) is None  # shorter, not gone
    # Rambling cut off at the limit at first, a few sentences later (the bundled reasoning run: ~200 -> ~40 tokens).
    assert run_health.shrinking_hint(events(steps=12, length=lambda s: 200.0 if s < 4 else 41.0)) is None
    assert run_health.shrinking_hint(events(steps=4, length=lambda s: 200.0 / s ** 3)) is None  # too early


# ---------------------------------------------------------------------------------------------------------------
# Training reward rising while held-out accuracy does not

def test_reward_rising_while_held_out_accuracy_does_not():
    rising = events(steps=12, reward=lambda s: 0.2 + 0.15 * s, strict=0.5, tags=0.6)
    hint = run_health.heldout_hint(rising, CONFIG)
    assert hint.startswith("The training reward rose (0.65 → 1.70) but held-out accuracy did not (30% → 28% over "
                           "3 checks)")
    assert "best checkpoint" in hint and "engine curate" in hint
    hints = hint_texts(rising, [], CONFIG)
    assert hint in hints and not any("is rising" in h for h in hints)  # no "↗ rising" beside it
    learning = events(steps=12, reward=lambda s: 0.2 + 0.15 * s, strict=0.5, tags=0.6, accuracy=(0.3, 0.38, 0.45))
    assert run_health.heldout_hint(learning, CONFIG) is None
    assert any("is rising" in h for h in hint_texts(learning, [], CONFIG))
    assert run_health.heldout_hint(events(steps=12, strict=0.5, tags=0.6), CONFIG) is None  # reward flat too
    too_few = events(steps=12, reward=lambda s: 0.2 + 0.15 * s, strict=0.5, tags=0.6, accuracy=(0.3, 0.3))
    assert run_health.heldout_hint(too_few, CONFIG) is None


def test_format_saturated_while_held_out_accuracy_is_flat_may_be_gaming():
    hint = run_health.heldout_hint(events(), CONFIG)
    assert hint.startswith("The format rewards 'strict_format', 'tag_count' are at their maximum but held-out "
                           "accuracy did not rise (30% → 28% over 3 checks): the model may be gaming the rewards")
    only_tags = run_health.heldout_hint(events(strict=0.2), CONFIG)
    assert "format reward 'tag_count' is at its maximum" in only_tags and "strict_format" not in only_tags
    assert run_health.heldout_hint(events(accuracy=(0.30, 0.35, 0.45)), CONFIG) is None  # accuracy rises: fine
    assert run_health.heldout_hint(events(accuracy=(0.3, 0.3)), CONFIG) is None  # too few checks to tell
    assert run_health.heldout_hint(events(strict=0.6, tags=0.8), CONFIG) is None  # not saturated, reward flat
    assert run_health.heldout_hint(events(), None) is None


# ---------------------------------------------------------------------------------------------------------------
# No signal: groups whose answers all scored the same

def test_no_signal_in_plain_words_with_what_to_try():
    hint = run_health.no_signal_hint(events(zero_std=0.9), CONFIG)
    assert hint.startswith("In 9 of every 10 recent question groups every answer got the same score, so training had "
                           "nothing to learn from them.")
    assert "more completions per question (train.num_generations, now 8)" in hint and "engine curate" in hint
    assert hint in hint_texts(events(zero_std=0.9), [], CONFIG)
    assert run_health.no_signal_hint(events(zero_std=0.2), CONFIG) is None
    assert run_health.no_signal_hint(events(steps=3, zero_std=0.9), CONFIG) is None  # too early
    every = run_health.no_signal_hint(events(zero_std=1.0, std=0.0), CONFIG)
    assert every.startswith("In every recent question group every answer got the same score")


def test_no_signal_advice_follows_the_cause():
    wrong = run_health.no_signal_hint(events(zero_std=0.9, correct=-1.0), CONFIG)
    assert "Hardly any answer is right" in wrong and "lower temperature (train.temperature, now 1.0)" in wrong
    assert "an easier task" in wrong
    cool = run_health.no_signal_hint(events(zero_std=0.9, correct=-1.0), with_train(temperature=0.5))
    assert "Hardly any answer is right: try more completions per question" in cool and "temperature" not in cool
    right = run_health.no_signal_hint(events(zero_std=0.9, correct=2.0), CONFIG)
    assert "Almost every answer is right" in right and "harder questions" in right
    assert "temperature" not in right
    mixed = run_health.no_signal_hint(events(zero_std=0.9, correct=0.5), CONFIG)
    assert "Hardly any answer is right" not in mixed and "Almost every answer" not in mixed


def test_no_signal_is_not_claimed_where_trl_measures_the_batch():
    # With scale_rewards batch, TRL's frac_reward_zero_std is the whole batch's spread (0 or 1), not each group's.
    batch = with_train(scale_rewards="batch")
    assert run_health.no_signal_hint(events(zero_std=1.0, std=0.0), batch) is None
    assert run_health.learnable_line(events(zero_std=0.0), batch) == (
        "Groups with something to learn from: not counted (with scale_rewards batch, TRL measures the spread of the "
        "whole batch, not of each group).")


def test_share_of_groups_with_something_to_learn_from_every_time():
    assert run_health.learnable_line(events(zero_std=0.38), CONFIG) == (
        "Groups with something to learn from: 62% (last 5 steps).")
    assert run_health.learnable_line(events(steps=2, zero_std=0.0), CONFIG) == (
        "Groups with something to learn from: 100% (last 2 steps).")
    assert run_health.learnable_line([{"step": 1, "reward": 0.0}], CONFIG) is None  # not logged
    assert run_health.learnable_line([], None) is None


# ---------------------------------------------------------------------------------------------------------------
# The hints that were there before

def test_clipped_completions_with_their_share():
    hint = run_health.clipped_hint(events(clipped=0.4), CONFIG)
    assert hint.startswith("40% of the answers reach the longest answer allowed (512 tokens)")
    assert "raise the longest answer (train.max_completion_length" in hint
    assert run_health.clipped_hint(events(clipped=0.1), CONFIG) is None
    assert run_health.clipped_hint(events(steps=2, clipped=1.0), CONFIG) is None


def test_healthy_run_has_no_warnings():
    healthy = events(steps=12, reward=lambda s: 0.2 + 0.15 * s, strict=0.5, tags=0.6, accuracy=(0.3, 0.38, 0.45),
                     zero_std=0.25)
    varied = [[str(step + 40), str(step + 41), str(step + 40), str(step * 3)] for step in range(1, 13)]
    assert hint_texts(healthy, samples_of(varied), CONFIG) == [
        "↗ The reward is rising: 0.65 → 1.70 (average of the first and last few steps)."]
    assert hint_texts([], [], CONFIG) == []


# ---------------------------------------------------------------------------------------------------------------
# engine watch prints them

def crafted_run(root, events_list, samples_list, state="completed", **status) -> RunFolder:
    run = RunFolder(root / "20260101-000000-rlvr-math")
    run.path.mkdir(parents=True)
    CONFIG.save(run.config_path)
    run.write_status(state=state, step=events_list[-1]["step"], max_steps=20, started=1000.0, **status)
    for event in events_list:
        run.append_event(event)
    run.append_samples(samples_list)
    return run


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_watch_prints_a_hint_as_a_plain_line_when_it_starts_to_fire(tmp_path):
    """A live run (this process stands in for its trainer): each hint is printed when it starts to fire, not again
    at every redraw nor when only its numbers change."""
    run = crafted_run(tmp_path, events(zero_std=0.9), samples_of(COLLAPSED), state="running",
                      **trainer_process.own_identity())
    stream = io.StringIO()

    def one_more_step():
        wait_for(lambda: "hint: In 9 of every 10" in stream.getvalue())
        run.append_event({**events(zero_std=0.8)[-1], "step": 11})
        run.write_status(step=11)
        wait_for(lambda: "step 11/20" in stream.getvalue())
        run.write_status(state="completed", finished=1100.0)

    helper = threading.Thread(target=one_more_step)
    helper.start()
    assert watch(run, interval=0.01, stream=stream) == "completed"
    helper.join()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("step 10/20")
    assert sum(line.startswith("hint: In ") for line in lines) == 1, lines
    assert sum(line.startswith("hint: Most recent answers are the same value ('12')") for line in lines) == 1
    assert lines[-1].startswith("step 11/20") and lines[-1].endswith("completed")


def test_engine_watch_on_a_healthy_run_prints_no_hint(tmp_path):
    varied = [[str(step + 40), str(step + 41), str(step + 40), str(step * 3)] for step in range(1, 7)]
    run = crafted_run(tmp_path, events(strict=0.5, tags=0.6, accuracy=(0.3, 0.38, 0.45)), samples_of(varied))
    result = run_engine("watch", run.path, timeout=120)
    assert result.returncode == 0, result
    assert "step 10/20" in result.stdout and "hint:" not in result.stdout


def test_odd_lines_are_skipped_not_raised():
    """A hand-edited or half-written events.jsonl / samples.jsonl: wrong types are skipped, never a traceback."""
    odd_events = [{"step": s, "frac_reward_zero_std": value, "reward": value, "completions/mean_length": value,
                   "eval/accuracy": value, "loss": value, "regex_timeouts": value}
                  for s, value in enumerate(["abc", None, True, float("nan"), [1], {"a": "x"}, float("inf")], 1)]
    odd_samples = [{"completion": value, "prompt": value, "answer": value}
                   for value in (None, 12, ["<answer>1</answer>"], {"x": "<answer>1</answer>"}, "<answer>", "")]
    assert hint_texts(odd_events, odd_samples, CONFIG) == []
    assert run_health.learnable_line(odd_events, CONFIG) is None

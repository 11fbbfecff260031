"""The health hints issue 15 adds, as pure functions of a run's events: reward gaming (format saturated while
held-out accuracy is flat or falling), many equal-reward groups, and clipped completions."""

from engine.config import build_config

from app import run_view

from tests.conftest import DATA

CONFIG = build_config({"preset": "rlvr-math", "model": {"name": "builtin:tiny"},
                       "data": {"path": str(DATA / "gsm8k_slice.jsonl")}})


def events(steps=10, strict=1.0, tags=1.0, accuracy=(0.30, 0.30, 0.28), zero_std=0.1, clipped=0.0, std=0.5):
    """`steps` logged steps with the format rewards at the given means and a held-out check every few steps."""
    checks = {round((i + 1) * steps / len(accuracy)): a for i, a in enumerate(accuracy)}
    return [{"step": s, "reward": 1.0, "reward_std": std, "rewards/strict_format/mean": strict,
             "rewards/tag_count/mean": tags, "rewards/correct/mean": -0.4, "frac_reward_zero_std": zero_std,
             "completions/clipped_ratio": clipped, **({"eval/accuracy": checks[s]} if s in checks else {})}
            for s in range(1, steps + 1)]


def test_format_saturated_while_held_out_accuracy_is_flat_or_falling_may_be_gaming():
    hint = run_view.gaming_hint(events(), CONFIG)
    assert hint.startswith("The model may be gaming the rewards") and "'strict_format', 'tag_count'" in hint
    assert "from 30% to 28% over 3 checks" in hint
    assert hint in run_view.health_hints(events(), CONFIG)
    assert run_view.gaming_hint(events(accuracy=(0.30, 0.35, 0.45)), CONFIG) is None  # accuracy rises: fine
    assert run_view.gaming_hint(events(accuracy=(0.3, 0.3)), CONFIG) is None  # too few checks to tell
    assert run_view.gaming_hint(events(strict=0.6, tags=0.8), CONFIG) is None  # the format is not saturated
    only_tags = run_view.gaming_hint(events(strict=0.2), CONFIG)
    assert "'tag_count'" in only_tags and "strict_format" not in only_tags
    assert run_view.gaming_hint(events(), None) is None


def test_many_equal_reward_groups():
    hint = run_view.equal_groups_hint(events(zero_std=0.75))
    assert "for 75% of the questions every answer scored the same" in hint and "train.num_generations" in hint
    assert run_view.equal_groups_hint(events(zero_std=0.2)) is None
    assert run_view.equal_groups_hint(events(steps=3, zero_std=0.9)) is None  # too early
    # Every group tied: the no-spread hint says so, not this one.
    assert run_view.equal_groups_hint(events(zero_std=1.0, std=0.0)) is None


def test_clipped_completions_with_their_share():
    hint = run_view.clipped_hint(events(clipped=0.4), CONFIG)
    assert hint.startswith("40% of the answers reach the longest answer allowed (512 tokens)")
    assert "Raise the longest answer (train.max_completion_length" in hint
    assert run_view.clipped_hint(events(clipped=0.1), CONFIG) is None
    assert run_view.clipped_hint(events(steps=2, clipped=1.0), CONFIG) is None

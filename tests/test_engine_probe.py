"""The learnability probe on the built-in tiny model: real sampling and the real reward functions, then the verdict.

Rewards with a known outcome pin the verdict down: a constant reward ties every group (all groups equal), a
pattern every answer matches is always at its maximum (too easy), and the tiny random model never writes the
format or a right answer and runs past short limits (completions clipped). The verdict's choice among findings is a
pure function, tested on its own below.
"""

import json

import pytest

from engine.cli import main
from engine.config import build_config
from engine.probe import choose_verdict, findings, pass_at_k, probe, report_lines
from engine.rewards import Row
from engine.rewards.verifier_audit import verifier_audit

from tests.conftest import DATA, REPO, run_engine

QUICKSTART = REPO / "examples" / "quickstart.yaml"
CONSTANT = REPO / "tests" / "constant_reward.py"


def tiny_config(rewards=None, **train):
    raw = {"preset": "rlvr-math", "model": {"name": "builtin:tiny"}, "data": {"path": str(DATA / "gsm8k_slice.jsonl")},
           "train": {"num_generations": 4, "batch_size": 4, "max_completion_length": 8, **train}}
    if rewards is not None:
        raw["rewards"] = rewards
    return build_config(raw)


def test_probe_cli_on_the_quickstart_reports_every_figure_and_the_verdict(tmp_path):
    out = tmp_path / "probe.json"
    result = run_engine("probe", QUICKSTART, "--prompts", "3", "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["prompts"] == 3 and report["generations_per_prompt"] == 4 and report["completions"] == 12
    assert report["generator"] == "HF generate" and report["start_with_thought"] is True
    assert [r["name"] for r in report["rewards"]] == ["strict_format", "tag_count", "correct"]
    assert [r["category"] for r in report["rewards"]] == ["format", "format", "correctness"]
    for r in report["rewards"]:
        assert r["scored"] == 12 and r["max_known"] and 0.0 <= r["share_at_max"] <= 1.0 and r["spread"] >= 0.0
    tag_count = report["rewards"][1]
    assert tag_count["mean"] == 0.25 and tag_count["spread"] == 0.0  # the prefix's opening tag: one of four
    correctness = report["correctness"]
    assert correctness["k"] == 4 and correctness["rows"] == 3 and correctness["answers"] == 12
    assert correctness["pass@1"] == correctness["pass@4"] == 0.0  # a random model is never right
    assert report["clipped"] >= 0.5  # it rarely writes the end token within 32 tokens
    assert report["verdict"]["code"] == "clipped"
    assert report["verdict"]["change"]["key"] == "train.max_completion_length"
    assert report["verdict"]["change"]["value"] == 64
    assert {"format_never", "too_hard"} <= {f["code"] for f in report["findings"]}
    estimate = report["step_estimate"]
    assert estimate["seconds"] > 0 and estimate["generation_seconds"] > 0 and estimate["training_seconds"] > 0
    assert "TRL's fused log-probability head" in estimate["how"]
    assert report["seconds"] > 0 and len(report["examples"]) == 2
    assert all(c["text"].startswith("<thought>\n") for e in report["examples"] for c in e["completions"])
    assert "verdict: Answers cut off" in result.stdout and f"written to {out}" in result.stdout
    assert "  the whole run: about " in result.stdout and "(3 steps), plus loading the model" in result.stdout
    assert "the model answering" in result.stderr and "3/3" in result.stderr  # its progress bar
    audit = report["verifier_audit"]  # the random model writes no answer block: nothing to compare, said so
    assert audit["rewards"] == ["correct"] and audit["disagreements"] == 0
    assert "verifier audit: numeric and math-verify" in result.stdout


def test_the_verifier_audit_lists_answers_numeric_and_math_verify_judge_differently():
    """Issue 26: before training, which answers would the reward pay wrongly? The two comparisons side by side."""
    config = build_config({"preset": "rlvr-math"})
    answered = [("3/4", "0.75"), ("3/4", "0.75"), ("\\frac{1}{2}", "0.5"), ("7 apples.", "7"), ("12", "12"),
                ("12 or 13", "13"), ("x", None), ("5 million", "5000000")]
    texts = [f"<thought>\nok\n</thought>\n<answer>{answer}</answer>" for answer, _ in answered]
    texts.append("no answer block")
    rows = [Row(gold=gold) for _, gold in answered] + [Row(gold="1")]
    audit = verifier_audit(config, texts, rows)
    assert audit["rewards"] == ["correct"] and audit["answers"] == 7  # no gold, no answer block: not compared
    assert audit["disagreements"] == 3
    assert audit["cases"] == [
        {"reward": "correct", "compare": "numeric", "answer": "3/4", "gold": "0.75", "numeric": False, "math": True,
         "scored_right": False, "count": 2},
        {"reward": "correct", "compare": "numeric", "answer": "\\frac{1}{2}", "gold": "0.5", "numeric": False,
         "math": True, "scored_right": False, "count": 1}]
    assert audit["skipped"] == 0
    lines = report_lines_of_audit(audit)
    assert lines[0] == "verifier audit: numeric and math-verify disagree on 3 of 7 answers:"
    assert lines[1] == "  '3/4' (gold '0.75') x2: numeric says wrong, math-verify says right; 'correct' (numeric) " \
                       "scores it wrong"
    assert verifier_audit(build_config({"rewards": [{"name": "f", "kind": "format"}]}), texts, rows) is None


def report_lines_of_audit(audit: dict) -> list[str]:
    """The audit's lines in the CLI's report (report_lines prints them after the figures)."""
    report = {"prompts": 1, "generations_per_prompt": 1, "generator": "g", "model": "m", "seconds": 1.0,
              "rewards": [], "correctness": None, "groups_all_equal": 0.0, "clipped": 0.0,
              "step_estimate": {"seconds": 1.0, "how": "h"},
              "verdict": {"code": "ready", "text": "Ready", "change": None}, "findings": [],
              "verifier_audit": audit}
    lines = report_lines(report)
    start = next(i for i, line in enumerate(lines) if line.startswith("verifier audit"))
    return lines[start:]


def test_a_constant_reward_ties_every_group():
    config = tiny_config([{"name": "same", "kind": "python", "function": f"{CONSTANT}:constant"}])
    report = probe(config, prompts=2)
    same = report["rewards"][0]
    assert same["mean"] == 0.5 and same["spread"] == 0.0 and not same["max_known"]
    assert report["groups_all_equal"] == 1.0 and report["correctness"] is None
    verdict = report["verdict"]
    assert verdict["code"] == "no_spread" and "every answer got the same total reward" in verdict["text"]
    assert verdict["change"]["key"] == "rewards" and verdict["change"]["value"] is None


def test_a_reward_every_answer_earns_is_too_easy():
    config = tiny_config([{"name": "anything", "kind": "regex_match", "pattern": "thought", "reward": 1.0}])
    report = probe(config, prompts=2)
    assert report["rewards"][0]["share_at_max"] == 1.0  # the answer prefix holds the word
    assert report["verdict"]["code"] == "too_easy" and report["findings"] == [report["verdict"]]
    assert report["verdict"]["change"]["key"] == "rewards"


@pytest.mark.parametrize("n, c, k, expected", [(4, 0, 4, 0.0), (4, 4, 1, 1.0), (4, 1, 1, 0.25), (4, 1, 4, 1.0),
                                               (8, 2, 2, 1 - 15 / 28)])
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def stats(rewards, clipped=0.0, groups_all_equal=0.0, correctness=None, prompts=16):
    return {"prompts": prompts, "completions": prompts * 4, "rewards": rewards, "clipped": clipped,
            "groups_all_equal": groups_all_equal, "correctness": correctness}


def reward(name, category, share_at_max, spread=0.5):
    return {"name": name, "category": category, "max_known": True, "scored": 64, "share_at_max": share_at_max,
            "spread": spread}


def verdict_of(config, s, longest=100):
    return choose_verdict(findings(config, s, longest), s)


def test_verdicts_and_the_setting_each_one_changes():
    config = tiny_config(temperature=0.7)
    config.prompt.start_with_thought = False
    fine = stats([reward("strict_format", "format", 0.3), reward("correct", "correctness", 0.2)],
                 groups_all_equal=0.4, correctness={"answers": 64, "right": 13, "rows": 16, "k": 4})
    ready = verdict_of(config, fine)
    assert ready["code"] == "ready" and ready["change"] is None and "10 of 16 questions" in ready["text"]

    no_format = stats([reward("strict_format", "format", 0.0), reward("correct", "correctness", 0.0)],
                      correctness={"answers": 64, "right": 0, "rows": 16, "k": 4})
    verdict = verdict_of(config, no_format)
    assert verdict["code"] == "format_never"
    assert (verdict["change"]["key"], verdict["change"]["value"]) == ("prompt.start_with_thought", True)
    config.prompt.start_with_thought = True
    assert verdict_of(config, no_format)["change"]["key"] == "model.name"  # already on: a larger model

    hard = stats([reward("strict_format", "format", 0.5), reward("correct", "correctness", 0.0)],
                 correctness={"answers": 64, "right": 0, "rows": 16, "k": 4})
    assert verdict_of(config, hard)["change"] == {"key": "train.temperature", "value": 1.0, "also": [],
                                                  "sentence": verdict_of(config, hard)["change"]["sentence"]}
    config.train.temperature = 1.0
    change = verdict_of(config, hard)["change"]
    assert (change["key"], change["value"]) == ("train.num_generations", 16)
    assert change["also"][0]["key"] == "train.batch_size" and change["also"][0]["value"] == 16  # whole groups

    clipped = stats([reward("strict_format", "format", 0.0)], clipped=0.9)
    verdict = verdict_of(config, clipped, longest=1000)
    assert verdict["code"] == "clipped" and verdict["change"]["value"] == 16  # twice max_completion_length
    assert verdict_of(config, clipped, longest=1020)["change"]["also"][0]["key"] == "model.max_seq_length"

    easy = stats([reward("correct", "correctness", 1.0, spread=0.0)],
                 correctness={"answers": 64, "right": 64, "rows": 16, "k": 4}, groups_all_equal=1.0)
    verdict = verdict_of(config, easy)
    assert verdict["code"] == "too_easy" and verdict["change"]["key"] == "data.path"
    right_but_unformatted = stats([reward("strict_format", "format", 0.5), reward("correct", "correctness", 1.0)],
                                  correctness={"answers": 64, "right": 64, "rows": 16, "k": 4}, groups_all_equal=0.3)
    assert verdict_of(config, right_but_unformatted)["code"] == "ready"  # the format is still there to learn

    ties = stats([reward("correct", "correctness", 0.5)], groups_all_equal=0.95,
                 correctness={"answers": 64, "right": 32, "rows": 16, "k": 4})
    change = verdict_of(config, ties)["change"]
    assert verdict_of(config, ties)["code"] == "no_spread" and change["key"] == "train.num_generations"


def cli(capsys, *args) -> tuple[int, str]:
    """The CLI in this process (what `python -m engine` runs, without a second interpreter's start-up)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse's refusals
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_probe_refuses_what_the_user_must_fix_in_one_sentence(tmp_path, capsys):
    code, output = cli(capsys, "probe", QUICKSTART, "--prompts", "0")
    assert code == 2 and "give a whole number from 1 to 1024, not '0'" in output
    code, output = cli(capsys, "probe", QUICKSTART, "--out", tmp_path / "missing" / "probe.json")
    assert code == 2 and "does not exist; create it or choose another" in output
    code, output = cli(capsys, "probe", QUICKSTART, "--set", "train.num_generations=3")
    assert code == 2 and "must divide" in output
    broken = f"rewards=[{{name: b, kind: python, function: '{REPO / 'tests' / 'toy_rewards.py'}:broken'}}]"
    code, output = cli(capsys, "probe", QUICKSTART, "--prompts", "1", "--set", broken, "--out", tmp_path / "p.json")
    assert code == 2 and "Traceback" not in output
    assert "rewards[0] (b): the reward raised RuntimeError: this reward is broken on purpose" in output
    assert not (tmp_path / "p.json").exists()


def test_probe_of_a_bundled_example_writes_to_the_cache_and_of_a_users_config_beside_it(tmp_path, capsys):
    """examples/ is the product's folder, not the user's (read-only in the image): its report goes to the cache."""
    from engine import settings

    examples_before = sorted(path.name for path in (REPO / "examples").iterdir())
    code, output = cli(capsys, "probe", QUICKSTART, "--prompts", "1", "--set",
                       "train.max_completion_length=8")
    written = settings.cache_dir() / "probes" / "quickstart.probe.json"
    assert code == 0, output
    assert f"written to {written}" in output and json.loads(written.read_text())["prompts"] == 1
    assert sorted(path.name for path in (REPO / "examples").iterdir()) == examples_before
    mine = tmp_path / "mine.yaml"
    mine.write_text(QUICKSTART.read_text().replace("tests/data/", f"{DATA}/"))
    code, output = cli(capsys, "probe", mine, "--prompts", "1", "--set", "train.max_completion_length=8")
    assert code == 0, output
    assert f"written to {tmp_path / 'probe.json'}" in output and (tmp_path / "probe.json").is_file()


def test_probe_of_a_run_folder_writes_into_it(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    tiny_config(max_completion_length=8).save(run / "config.yaml")
    code, output = cli(capsys, "probe", run, "--prompts", "1")
    assert code == 0, output
    assert json.loads((run / "probe.json").read_text())["prompts"] == 1

"""Curation (`engine curate`) and the bundled learnable task (`engine arithmetic`), on the real sampler and rewards.

The tiny random model writes noise, so rewards with a known outcome pin the curation down: a pattern every answer
matches makes every question too easy, one no answer matches makes every question too hard; a pattern that some
answers match gives a mix, whose kept rows must be exactly those strictly inside the band.
"""

import json
import re

import pytest
import yaml

from engine.arithmetic_task import DIFFICULTIES, make_rows, make_split
from engine.cli import main
from engine.curation import parse_band

from tests.conftest import run_engine


def story_value(question: str) -> int:
    """The answer to an easy or medium problem, read back from its words (independently of the generator)."""
    value = int(re.search(r"has (\d+) ", question)[1])
    for words, n in re.findall(r"(gets|finds|gives \w+|loses|uses) (\d+)", question):
        value += int(n) if words in ("gets", "finds") or words.startswith("gives") and words != "gives away" else 0
        value -= int(n) if words in ("loses", "uses", "gives away") else 0
    return value


def test_arithmetic_answers_are_right_and_the_test_split_is_never_trained_on():
    for difficulty in ("easy", "medium"):
        train, test = make_split(difficulty, 500, 200)
        assert len(train) == 500 and len(test) == 200
        assert not {r["question"] for r in train} & {r["question"] for r in test}
        assert len({r["question"] for r in train}) == 500
        for row in train + test:
            assert int(row["answer"]) == story_value(row["question"]), row
            assert int(row["answer"]) >= 0
    assert make_split("hard", 50, 20) == make_split("hard", 50, 20)  # the same seed, the same task
    assert make_rows("easy", 5, 0) != make_rows("easy", 5, 1)
    assert all(int(r["answer"]) >= 0 for r in make_rows("hard", 300, 3))
    assert set(DIFFICULTIES) == {"easy", "medium", "hard"}


def test_the_arithmetic_command_writes_both_files(tmp_path):
    result = run_engine("arithmetic", "--difficulty", "medium", "--rows", "40", "--test-rows", "10",
                        "--out-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    train = [json.loads(line) for line in (tmp_path / "arithmetic-medium-train.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (tmp_path / "arithmetic-medium-test.jsonl").read_text().splitlines()]
    assert len(train) == 40 and len(test) == 10 and set(train[0]) == {"question", "answer"}
    assert "held-out" in result.stdout


def curate_config(tmp_path, pattern: str) -> str:
    data = tmp_path / "task.jsonl"
    data.write_text("".join(json.dumps({**row, "topic": f"t{i}"}) + "\n"
                            for i, row in enumerate(make_rows("easy", 10, 0))))
    config = {"preset": "reasoning", "model": {"name": "builtin:tiny"},
              "data": {"path": str(data), "eval_fraction": 0.2},
              "rewards": [{"name": "marker", "kind": "regex_match", "pattern": pattern}],
              "train": {"num_generations": 4, "batch_size": 4, "max_completion_length": 8}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_curate_keeps_exactly_the_questions_inside_the_band(tmp_path):
    out = tmp_path / "curated" / "learnable.jsonl"
    # Eight random tokens from the tiny model's byte-level vocabulary: some hold a capital letter, some do not.
    result = run_engine("curate", curate_config(tmp_path, "[A-Z]"), "--samples", "4", "--out", out)
    report = json.loads((out.parent / "curation.json").read_text())
    assert report["questions"] == 8  # the training rows only: 2 of 10 are held out and never sampled
    assert report["samples_per_question"] == 4 and report["band"] == [0.0, 1.0] and report["pass"] == "in format"
    rates = [q["pass_rate"] for q in report["questions_and_pass_rates"]]
    assert all(r in (0.0, 0.25, 0.5, 0.75, 1.0) for r in rates)
    learnable = [q for q in report["questions_and_pass_rates"] if 0.0 < q["pass_rate"] < 1.0]
    assert report["learnable"] == len(learnable)
    assert report["too_easy"] == rates.count(1.0) and report["too_hard"] == rates.count(0.0)
    assert sum(report["histogram"].values()) == 8
    if learnable:
        assert result.returncode == 0, result.stderr
        kept = [json.loads(line) for line in out.read_text().splitlines()]
        # Every column as the user's file has it, for exactly the learnable questions.
        assert sorted(r["question"] for r in kept) == sorted(q["question"] for q in learnable)
        assert all(set(r) == {"question", "answer", "topic"} for r in kept)
        assert f"{len(learnable)} of 8 questions are learnable" in result.stdout
    else:
        assert result.returncode == 1 and not out.exists()


@pytest.mark.parametrize("pattern, verdict", [(".", "too_easy"), ("QQQQQQQQQQ", "too_hard")])
def test_questions_always_or_never_passed_are_not_kept(tmp_path, pattern, verdict):
    out = tmp_path / "learnable.jsonl"
    result = run_engine("curate", curate_config(tmp_path, pattern), "--samples", "2", "--out", out)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "curation.json").read_text())
    assert report[verdict] == 8 and report["learnable"] == 0 and report["output"] is None
    assert not out.exists()
    assert "0 of 8 questions are learnable" in result.stdout and "none to train on" in result.stdout


def test_bad_curate_arguments_are_one_sentence(tmp_path, capsys):
    config = curate_config(tmp_path, ".")
    assert main(["curate", config, "--samples", "1"]) == 2
    assert "from 2 to 64 completions per question" in capsys.readouterr().err
    assert main(["curate", config, "--out", str(tmp_path / "learnable.csv")]) == 2
    assert "must end in .jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["curate", config, "--band", "0.9,0.1"])
    assert exit_.value.code == 2 and "0 <= LOW < HIGH <= 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="two numbers"):
        parse_band("half")
    assert parse_band("0.1,0.9") == (0.1, 0.9)

"""The code_tests reward end to end: the kind on hand-written completions (hostile ones included), the canonical
HumanEval solutions through the rlvr-code preset's rewards called as TRL calls them, the preset itself, `check`'s
isolation line, a real 3-step run with eval's pass@1, and the rewards step's try-it scoring a code row.

The sandbox's own hostile suite (every attack, every limit) is tests/test_sandbox.py; here each program goes through
the reward, to show that the reward runs nothing outside the sandbox and scores what the sandbox finds."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from engine import settings
from engine.config import build_config, load_config
from engine.data import prepare_data
from engine.rewards import RewardFunction, Row, build_reward_functions, sandbox_report
from engine.rewards.code_tests import extract_program, last_fenced_block
from engine.rewards.text import Tags
from engine.runs.folder import RunFolder
from engine.sandbox import isolation
from engine.sandbox.layers import from_probe

from app import data_tables
from app.form_state import config_to_form, form_to_config, preset_form, row_to_raw
from app.reward_preview import preview, try_row
from app.steps import data_view

from tests.conftest import REPO, run_engine

EXAMPLE = REPO / "examples" / "rlvr-code.yaml"  # rlvr-code on builtin:tiny and the HumanEval sample, 3 small steps
HUMANEVAL = settings.code_sample_data_path()
PROBLEMS = [json.loads(line) for line in HUMANEVAL.read_text(encoding="utf-8").splitlines()]
TAGS = Tags("<thought>", "</thought>", "<answer>", "</answer>")
ADD_TESTS = ("def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
             "    assert candidate(0, 0) == 0\n    assert candidate(10, 5) == 15\n")
ADD_ROW = Row(columns={"test": ADD_TESTS, "entry_point": "add"})
ADD = "def add(a, b):\n    return a + b\n"


def answered(program: str, fence: str = "```python") -> str:
    return f"<thought>\nAdd the two numbers.\n</thought>\n<answer>\n{fence}\n{program}```\n</answer>"


def code_reward(**fields) -> RewardFunction:
    config = build_config({"rewards": [{"name": "tests", "kind": "code_tests", "reward": 2.0, "penalty": -1.0,
                                        **fields}]})
    return RewardFunction(config.rewards[0], config.prompt)


def humaneval_config():
    return build_config({"preset": "rlvr-code", "model": {"name": "builtin:tiny"}, "data": {"path": str(HUMANEVAL)}})


# ---------------------------------------------------------------------------------------------------------------
# Where the program is

@pytest.mark.parametrize("text, extract, program", [
    (answered(ADD), "fenced", ADD),
    (answered(ADD, fence="```"), "fenced", ADD),  # a fence without a language
    (answered(ADD, fence="```py"), "fenced", ADD),
    ("<thought>t</thought><answer>```python\nx = 1\n```\n```python\ny = 2\n```</answer>", "fenced", "y = 2\n"),
    ("<thought>t</thought>```python\na = 1\n```\nthen\n```python\nb = 2", "fenced", "a = 1\n"),  # last fence unclosed
    ("<thought>t</thought><answer>```x = 1```</answer>", "fenced", None),  # no line break: not a block
    ("<thought>t</thought><answer>```python\n  \n```</answer>", "fenced", None),  # an empty block
    (f"<thought>\n```python\n{ADD}```\n</thought><answer>no code</answer>", "fenced", None),  # code only in thought
    ("<thought>\n```python\nx = 1\n```\n", "fenced", None),  # the thinking never ends
    (f"<thought>t</thought><answer>\n{ADD}</answer>", "fenced", None),  # unfenced: not for `fenced`
    (f"<thought>t</thought><answer>\n{ADD}</answer>", "answer", f"\n{ADD}"),
    (answered(ADD), "answer", ADD),  # the fenced block inside the answer
    (f"<thought>I'll put it in <answer> tags</thought><answer>{ADD}</answer>", "answer", ADD),
    ("<thought>t</thought><answer>  </answer>", "answer", None),
    (f"<thought>t</thought>{ADD}", "answer", None),  # no answer block
])
def test_the_program_is_the_last_fenced_block_or_the_answer_after_the_thinking(text, extract, program):
    assert extract_program(text, TAGS, extract) == program


def test_fenced_blocks_are_the_closed_ones():
    assert last_fenced_block("```python\nx = 1\n```") == "x = 1\n"
    assert last_fenced_block("no fence at all") is None
    assert last_fenced_block("``` only an opening\nx = 1") is None


# ---------------------------------------------------------------------------------------------------------------
# Scores

def test_scores_all_or_share_no_code_and_rows_without_tests(tmp_path):
    cases = [  # (completion, row, score: all, score: share)
        (answered(ADD), ADD_ROW, 2.0, 2.0),
        (answered(ADD, fence="```"), ADD_ROW, 2.0, 2.0),
        (answered("def add(a, b):\n    return a - b\n"), ADD_ROW, -1.0, -0.25),  # only 0 - 0 == 0: 1 of 4
        (answered("def add(a, b):\n    raise ValueError\n"), ADD_ROW, -1.0, -1.0),
        ("<thought>\nHmm.\n</thought>\n<answer>5</answer>", ADD_ROW, -1.0, -1.0),  # no code: the penalty
        (f"<thought>t</thought><answer>\n{ADD}</answer>", ADD_ROW, -1.0, -1.0),  # unfenced, extract: fenced
        (answered(ADD), Row(columns={}), None, None),  # a row without tests is not scored
        (answered(ADD), Row(columns={"test": "def check(candidate):\n    pass\n", "entry_point": "add"}), None, None),
        # a plain assert script: the row names no entry point, the tests call the program's functions by name
        (answered(ADD), Row(columns={"test": "assert add(1, 2) == 3\nassert add(0, 0) == 0\n"}), 2.0, 2.0),
    ]
    texts, rows = [case[0] for case in cases], [case[1] for case in cases]
    assert code_reward().score_rows(texts, rows) == [case[2] for case in cases]
    assert code_reward(score="share").score_rows(texts, rows) == [case[3] for case in cases]
    assert code_reward(extract="answer").score_rows([f"<thought>t</thought><answer>\n{ADD}</answer>"],
                                                    [ADD_ROW]) == [2.0]


def test_hostile_programs_score_the_penalty_through_the_reward(tmp_path):
    """What a model learning to pass tests would try, scored by the reward: each must score the penalty."""
    hostile = [
        "import sys\nsys.exit(0)\n" + ADD,  # leave before the asserts run
        "import os\nos._exit(0)\n" + ADD,
        "def check(candidate):\n    pass\n\ndef add(a, b):\n    return 0\n",  # redefine the tests' check
        "class Yes:\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Yes()\n",
        "print('4 of 4 tests passed')\nraise SystemExit(0)\n",  # lie on stdout
        "while True:\n    pass\n",  # never finish loading (the time limit ends it)
    ]
    scores = code_reward(time_limit=1).score_rows([answered(program) for program in hostile], [ADD_ROW] * 6)
    assert scores == [-1.0] * len(hostile)


def test_a_program_that_deletes_files_leaves_them_intact(tmp_path):
    if "landlock" not in isolation().layers:
        pytest.skip(f"Landlock is not active here: {dict(isolation().missing).get('landlock')}")
    victim = tmp_path / "runs" / "run-1" / "config.yaml"
    victim.parent.mkdir(parents=True)
    victim.write_text("model: x\n")
    program = f"import shutil\nshutil.rmtree({str(tmp_path / 'runs')!r}, ignore_errors=True)\n" + ADD
    code_reward().score_rows([answered(program)], [ADD_ROW])
    assert victim.read_text() == "model: x\n"


def trl_call(function: RewardFunction, completions: list[str], examples: list[dict]) -> list:
    """The reward called as TRL's GRPOTrainer calls it: each dataset column but the prompt as a keyword list."""
    columns = {key: [example[key] for example in examples] for key in examples[0] if key != "prompt"}
    return function(prompts=[example["prompt"] for example in examples],
                    completions=[[{"role": "assistant", "content": text}] for text in completions], **columns)


def test_humaneval_canonical_solutions_score_full_marks_and_wrong_ones_the_penalty():
    """A slice of the 164 (the sandbox tests run all of them), through the rlvr-code preset's rewards on examples
    as training builds them (HumanEval's `prompt` column arrives as data_prompt)."""
    config = humaneval_config()
    examples = {e["task_id"]: e for e in prepare_data(config.model_copy(update={
        "data": config.data.model_copy(update={"eval_fraction": 0.0})})).train}
    problems = PROBLEMS[::8] + [p for p in PROBLEMS if p["task_id"] == "HumanEval/32"]
    rows = [examples[p["task_id"]] for p in problems]
    strict_format, tag_count, tests = build_reward_functions(config)
    # prompt.start_with_thought: TRL's completions start after "<thought>\n", which the reward puts back.
    canonical = [f"Complete it.\n</thought>\n<answer>\n```python\n{p['prompt'] + p['canonical_solution']}```\n"
                 "</answer>" for p in problems]
    assert trl_call(tests, canonical, rows) == [2.0] * len(problems)
    assert trl_call(strict_format, canonical, rows) == [1.0] * len(problems)  # the format takes code answers
    assert trl_call(tag_count, canonical, rows) == [1.0] * len(problems)

    def wrong(p: dict) -> list[str]:
        bodies = ["    pass\n", "    raise NotImplementedError\n"]
        if p["task_id"] == "HumanEval/32":  # redefine the helper the tests check with: the tests keep their own
            bodies.append("    return 0.0\n\ndef poly(xs, x):\n    return 0.0\n")
        return [f"Hmm.\n</thought>\n<answer>\n```python\n{p['prompt'] + body}```\n</answer>" for body in bodies]

    wrongs = [(text, row) for p, row in zip(problems, rows) for text in wrong(p)]
    wrongs += [("Hmm.\n</thought>\n<answer>\n```python\n```\n</answer>", row) for row in rows[:3]]  # empty
    assert trl_call(tests, [text for text, _ in wrongs], [row for _, row in wrongs]) == [-1.0] * len(wrongs)


# ---------------------------------------------------------------------------------------------------------------
# The preset, check and a real run

def test_the_rlvr_code_preset_maps_humaneval_without_user_action():
    config = humaneval_config()
    prepared = prepare_data(config)
    assert (prepared.columns.prompt, prepared.columns.answer) == ("prompt", None)
    assert prepared.total_rows == 164
    assert [(r.name, r.kind) for r in config.rewards] == [("strict_format", "format"), ("tag_count", "tag_count"),
                                                           ("tests", "code_tests")]
    tests = config.rewards[2]
    assert (tests.reward, tests.penalty, tests.score, tests.extract) == (2.0, -1.0, "all", "fenced")
    # The system prompt's reply shape is itself an answer the rewards take: the format is met and the program is
    # found where the model's own code will be (the shape holds a placeholder, never a program: issue 22).
    shape = config.prompt.fill(config.prompt.system_prompt).split("in place of the words in brackets:\n", 1)[1]
    strict_format = build_reward_functions(config)[0]
    assert strict_format.score(shape) == 1.0
    assert extract_program(shape, TAGS, "fenced").strip() == "[the whole function, with its imports]"


def test_check_says_which_isolation_holds():
    result = run_engine("check", EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"code sandbox    {isolation().describe()}" in result.stdout


def test_a_missing_layer_is_a_warning_that_names_it(monkeypatch):
    from engine.checks import check_config

    without_landlock = from_probe({"seccomp": "", "landlock": "the kernel has no Landlock"})
    monkeypatch.setattr("engine.sandbox.layers.isolation", lambda: without_landlock)
    fact, warnings = sandbox_report(humaneval_config().rewards)
    assert "landlock is unavailable (the kernel has no Landlock)" in fact
    assert warnings == ["the code sandbox runs without landlock (the kernel has no Landlock), so the program can read "
                        "and change every file this user can"]
    report = check_config(humaneval_config())
    assert report.ok and report.facts["code sandbox"] == fact and warnings[0] in report.warnings
    assert sandbox_report(build_config({"preset": "rlvr-math"}).rewards) is None


def test_a_3_step_rlvr_code_run_and_its_pass_at_1(runs_dir):
    """Real `engine train` on builtin:tiny (CPU), the code reward on every rollout, then `engine eval`."""
    result = run_engine("train", EXAMPLE, "--set", "train.max_steps=3")
    assert result.returncode == 0, result.stdout + result.stderr
    [folder] = [p for p in runs_dir.iterdir() if p.is_dir()]
    run = RunFolder(folder)
    assert run.read_status().state == "completed" and run.id.endswith("-rlvr-code")
    assert f"code sandbox: {isolation().describe()}" in run.log_path.read_text()
    # The random model writes no code: the penalty, which it only gets when the row's tests reached the reward (a
    # row without them is not scored at all).
    samples = run.read_samples()
    assert samples and all(s["scores"]["tests"] == -1.0 for s in samples)
    events = run.read_events()
    assert [e["rewards/tests/mean"] for e in events] == [-1.0] * 3
    assert [e["eval/accuracy"] for e in events if "eval/accuracy" in e] == [0.0] * 3  # the held-out checks too
    assert "the best checkpoint by eval/accuracy is kept" in run.log_path.read_text()  # pass@1: no gold needed
    assert load_config(run.config_path).rewards[2].kind == "code_tests"

    evaluated = run_engine("eval", run.path, "--limit", "2")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "base   pass@1    0.0%" in evaluated.stdout and "tuned  pass@1" in evaluated.stdout
    report = json.loads(run.eval_path.read_text())
    assert report["accuracy_metric"] == "pass@1" and report["base"]["accuracy"] == 0.0


# ---------------------------------------------------------------------------------------------------------------
# The app: the data step's sample, the form, the try-it box

def test_the_data_step_offers_the_humaneval_sample():
    form = preset_form("rlvr-code", "builtin:tiny")
    form.data_path = data_tables.code_sample_path()
    columns = list(data_tables.read_table(form.data_path).column_names)
    form.prompt_column, form.answer_column = data_tables.guess_columns(columns)
    assert (form.prompt_column, form.answer_column) == ("prompt", None)
    shown = data_view.preview_data(form)
    assert not shown.error and "164 rows" in shown.summary
    assert form_to_config(form).data.path == str(HUMANEVAL)


def test_an_emptied_entry_point_column_in_the_form_means_plain_assert_scripts():
    form = preset_form("rlvr-code", "builtin:tiny")
    row = form.rewards[2]
    assert row.values["entry_point_column"] == "entry_point" and row.values["helpers_column"] == "prompt"
    row.values["entry_point_column"] = "  "
    assert row_to_raw(row)["entry_point_column"] is None
    config = build_config({"rewards": [row_to_raw(row)]})
    assert config.rewards[0].entry_point_column is None
    assert config_to_form(config).rewards[0].values["entry_point_column"] == ""  # and back: still none


def test_try_it_scores_a_pasted_program_against_a_data_row():
    form = preset_form("rlvr-code", "builtin:tiny")
    prompt = form_to_config(form).prompt
    first, other = PROBLEMS[0], PROBLEMS[2]
    path = data_tables.code_sample_path()
    solution = f"<thought>\nCompare every pair.\n</thought>\n<answer>\n```python\n{first['prompt']}" \
               f"{first['canonical_solution']}```\n</answer>"
    data = replace(form, data_path=path)
    columns = try_row(data, None).columns  # no generated question yet: the file's first row
    assert columns["task_id"] == first["task_id"]
    result = preview(form.rewards, prompt, solution, None, columns)
    assert [r.score for r in result.rows] == [1.0, 1.0, 2.0] and result.total == 4.0
    # After "Generate one" answered another problem, its tests judge the pasted program (which solves the first).
    assert try_row(data, (path, other)).columns["task_id"] == other["task_id"]
    assert preview(form.rewards, prompt, solution, None, try_row(data, (path, other)).columns).rows[2].score == -1.0
    # ... until the data file changes; a file that cannot be read gives no columns (the data step says why).
    assert try_row(data, (data_tables.sample_path(), other)).columns["task_id"] == first["task_id"]
    assert try_row(replace(form, data_path="/nonexistent.jsonl"), None).columns == {}
    assert preview(form.rewards, prompt, solution, None, {}).rows[2].score is None

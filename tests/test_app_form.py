"""The app's logic without a browser: form ⇄ config, upload names, the one-run-at-a-time rule (with real
subprocesses), reading run folders into plots, tables and hints, and the rewards "try it" preview."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from engine import settings
from engine.config import build_config
from engine.problems import ConfigError
from engine.rewards import web_kinds
from engine.runs import lock as run_lock
from engine.runs.folder import RunFolder

from app import chat, data_tables, model_slot, run_view, runner, runs_list, sample_completion, strings
from app.__main__ import parse_arguments
from app.form_state import (
    CPU_DEMO_SETTINGS,
    SETTINGS,
    FormValues,
    RewardRow,
    add_row,
    config_to_form,
    field_choices,
    field_widget,
    form_to_config,
    kind_help,
    move_row,
    preset_form,
    problem_sentence,
    remove_row,
    row_fields,
    row_from_config,
    row_to_raw,
    setting_from_widget,
    setting_label,
    setting_to_widget,
    starter_for_kind,
    with_preset,
)
from app.login import resolve_login
from app.reward_preview import preview
from app.steps import data_step, data_view, preset_step, results_step, rewards_step, run_housekeeping, train_step
from app.uploads import UploadError, safe_upload_name, store_upload

from tests.conftest import REPO, run_engine, started_identity, wait_for

SAMPLE = str(settings.sample_data_path())
EXAMPLE = strings.TRY_EXAMPLE_COMPLETION


@pytest.fixture
def app_dirs(tmp_path, monkeypatch):
    """Runs, uploads and the model cache in tmp_path, the way the app and its subprocesses see them."""
    monkeypatch.setenv("GRPO_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("GRPO_STUDIO_UPLOADS_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("GRPO_STUDIO_CACHE_DIR", os.environ.get("GRPO_STUDIO_CACHE_DIR") or str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def math_form(**settings_) -> FormValues:
    form = preset_form("rlvr-math", "builtin:tiny")
    form.data_path, form.prompt_column, form.answer_column = SAMPLE, "question", "answer"
    form.settings.update(settings_)
    return form


def problem_keys(form: FormValues) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        form_to_config(form)
    return [p.key for p in caught.value.problems]


# ---------------------------------------------------------------------------------------------------------------
# Form <-> config

def test_preset_form_builds_the_preset_config_and_round_trips():
    form = math_form()
    config = form_to_config(form)
    assert config.preset == "rlvr-math" and config.model.name == "builtin:tiny"
    assert [r.name for r in config.rewards] == ["strict_format", "tag_count", "correct"]
    assert config.data.answer_pattern == build_config({"preset": "rlvr-math"}).data.answer_pattern
    assert config_to_form(config) == form
    assert form_to_config(config_to_form(config)) == config


def test_widget_values_override_the_preset():
    assert math_form().settings["prompt.start_with_thought"] is True  # the preset's, shown beside the tags
    form = math_form(**{"train.max_steps": 3, "train.learning_rate": 1e-5, "model.lora_alpha": "32",
                        "model.rollout": "hf", "model.gpu_memory_utilization": "0.25", "data.max_rows": "",
                        "prompt.start_with_thought": False, "prompt.instructions_in": "user"})
    form.rewards = form.rewards[:1]
    form.system_prompt = "Think in {thought_open} tags."
    config = form_to_config(form)
    assert config.train.max_steps == 3 and config.train.learning_rate == 1e-5
    assert config.model.lora_alpha == 32 and config.model.rollout == "hf" and config.data.max_rows is None
    assert config.model.gpu_memory_utilization == 0.25
    assert [r.name for r in config.rewards] == ["strict_format"]  # the form's list replaces the preset's
    assert config.prompt.system_prompt == "Think in {thought_open} tags."
    assert config.prompt.start_with_thought is False and config.prompt.instructions_in == "user"


def test_setting_widget_conversions():
    assert setting_to_widget("model.gpu_memory_utilization", None) == ""  # empty: sized to the run
    assert setting_from_widget("model.gpu_memory_utilization", "0.3") == 0.3
    assert setting_to_widget("model.lora_alpha", None) == "" and setting_to_widget("data.max_rows", 50) == "50"
    assert setting_from_widget("data.max_rows", " 50 ") == 50
    steps = setting_from_widget("train.max_steps", 3.0)
    assert steps == 3 and isinstance(steps, int)


def test_bad_numbers_and_rows_are_problems_with_keys():
    form = math_form(**{"train.learning_rate": -1, "train.max_steps": None, "model.lora_alpha": "many"})
    form.rewards[2].values["pattern"] = "({answer_open}"
    form.rewards[1].name = "strict_format"
    keys = problem_keys(form)
    assert "train.learning_rate" in keys and "train.max_steps" in keys and "model.lora_alpha" in keys
    assert "rewards[2] (correct)" in keys and "rewards[1] (strict_format)" in keys
    with pytest.raises(ConfigError) as caught:
        form_to_config(form)
    messages = " ".join(p.message for p in caught.value.problems)
    assert "does not compile" in messages and "used by another reward" in messages and "enter a number" in messages


def test_fractions_are_refused_not_rounded_and_problems_read_as_sentences():
    form = math_form(**{"train.max_steps": 2.5, "train.learning_rate": -1, "data.max_rows": "7.5"})
    form.rewards[0].kind, form.rewards[0].values = "length", {"target": 300.5}
    with pytest.raises(ConfigError) as caught:
        form_to_config(form)
    said = " ".join(problem_sentence(p) for p in caught.value.problems)
    assert "Training steps (train.max_steps) must be a whole number (you entered 2.5)." in said
    assert "Learning rate (train.learning_rate) must be more than 0 (you entered -1)." in said
    assert "Use at most (rows) (data.max_rows) must be a whole number (you entered 7.5)." in said
    assert "Reward 1 (strict_format): target must be a whole number (you entered 300.5)." in said
    assert "Input should" not in said
    assert setting_from_widget("train.max_steps", 3.0) == 3  # a whole number typed as 3.0 is fine


def test_every_setting_has_plain_words_and_a_mismatched_batch_is_said_on_the_preset_step():
    from engine.checks import batch_problems

    for key in SETTINGS:
        assert key in strings.KEY_WORDS, key
    assert setting_label("train.num_generations") == "Completions per question (num_generations)"
    config = form_to_config(math_form(**{"train.num_generations": 3, "train.batch_size": 8}))
    said = preset_step.settings_problems(batch_problems(config))
    assert said.startswith("✗ Completions per question (train.num_generations): 3 must divide the generation batch")


def test_reward_rows_keep_only_their_kinds_fields():
    row = RewardRow(name="len", kind="length", reward=1, penalty=0,
                    values={"pattern": "leftover", "tags": "a, b", "target": 300.0})
    assert row_to_raw(row) == {"name": "len", "kind": "length", "weight": 1.0, "reward": 1, "penalty": 0,
                               "target": 300}
    tags = RewardRow(name="t", kind="tag_count", values={"tags": " <a>, </a> ,"})
    assert row_to_raw(tags)["tags"] == ["<a>", "</a>"]
    config = build_config({"rewards": [row_to_raw(row), row_to_raw(tags)]})
    assert [row_from_config(spec) for spec in config.rewards] == [
        RewardRow(name="len", kind="length", reward=1.0, penalty=0.0, values={"target": 300}),
        RewardRow(name="t", kind="tag_count", values={"tags": "<a>, </a>"})]


def test_reward_widgets_come_from_the_registry():
    fields = {f.name: f for f in row_fields()}
    assert "function" not in fields  # python rewards have no widget at all
    assert {name: f.widget for name, f in fields.items()} == {
        "nothing_after": "checkbox", "trailing_penalty": "number", "tags": "list", "pattern": "text",
        "match": "dropdown", "after_thought": "checkbox", "compare": "dropdown", "tolerance": "number",
        "extract": "dropdown", "score": "dropdown", "tests_column": "text", "entry_point_column": "text",
        "helpers_column": "text", "time_limit": "number", "target": "integer"}
    assert fields["compare"].choices == ("numeric", "math", "exact", "casefold")
    # Where a regex must match is a visible choice in words; the config keeps the short names
    assert field_choices(fields["match"]) == [("anywhere (search)", "search"), ("from the start (start)", "start"),
                                              ("the whole completion (full)", "full")]
    assert field_choices(fields["compare"])[0] == ("numeric", "numeric")
    for kind in web_kinds():  # one widget per field name: every kind that has the name agrees on its type
        for name in kind.fields():
            annotation = kind.spec.model_fields[name].annotation
            assert field_widget(annotation) == fields[name].widget, (kind.name, name)
    assert "Correctness" in kind_help("answer_match") and "gold answer" in kind_help("answer_match")


def test_reward_list_editing():
    rows = math_form().rewards
    names = [r.name for r in rows]
    assert [r.name for r in move_row(rows, 0, +1)] == [names[1], names[0], names[2]]
    assert move_row(rows, 0, -1) == rows  # the first row cannot move up
    assert [r.name for r in remove_row(rows, 1)] == [names[0], names[2]]
    added = add_row(rows, limit=8)
    assert len(added) == 4 and added[-1].name == "reward_4" and added[-1].values["pattern"]
    assert add_row(added, limit=4) == added
    switched = starter_for_kind(RewardRow(name="x", kind="length", values={"target": 0}))
    assert switched.values == {"target": 400}
    # Switching a row's kind keeps what the new kind shares and starts the rest from starters and defaults.
    answer = starter_for_kind(replace(added[-1], kind="answer_match"))
    assert answer.values == {"pattern": added[-1].values["pattern"], "after_thought": True, "compare": "numeric",
                             "tolerance": 1e-6}
    assert starter_for_kind(RewardRow(kind="format")).values == {"nothing_after": True, "trailing_penalty": 0.0}


def test_changing_preset_keeps_model_and_data_and_cpu_demo_sizes():
    form = math_form()
    form.answer_column = None
    switched = with_preset(form, "reasoning", cpu_demo=True)
    assert switched.preset == "reasoning" and switched.model_name == "builtin:tiny"
    assert (switched.data_path, switched.prompt_column, switched.answer_column) == (SAMPLE, "question", None)
    assert not any(r.kind == "answer_match" for r in switched.rewards) and switched.answer_pattern == ""
    assert all(switched.settings[k] == v for k, v in CPU_DEMO_SETTINGS.items())


def test_check_form_reports_problems_by_step_without_raising(app_dirs):
    form = math_form(**{"train.num_generations": 3})
    config, summary = train_step.check_form(form)
    assert config is None and "train.num_generations" in summary.verdict
    # the problem in plain words first, then where it is fixed
    assert "- Completions per question (train.num_generations): 3 must divide" in summary.verdict
    assert summary.verdict.splitlines()[1].endswith("*(Preset tab → Advanced settings)*")
    form = math_form(**{"train.num_generations": 4, "train.batch_size": 4})
    config, summary = train_step.check_form(form)
    assert config is not None and strings.TRAIN_READY in summary.verdict and "builtin:tiny" in summary.facts


def test_the_train_step_says_how_long_the_run_takes_beside_launch(app_dirs):
    """Measured by the probe of the form's settings (the app keeps its reports in the cache); unmeasured, a million
    steps is a warning, not just "Ready to train"."""
    form = math_form(**{"train.num_generations": 4, "train.batch_size": 4, "train.max_completion_length": 40,
                        "train.max_steps": 1_000_000})
    config, summary = train_step.check_form(form)
    assert config is not None and strings.TRAIN_READY in summary.verdict
    assert "**How long:** 1,000,000 steps; how long a step takes on this machine is not measured yet" in summary.verdict
    assert "⚠ 1,000,000 training steps is far more than GRPO runs usually take" in summary.verdict
    job = settings.probe_reports_dir() / f"test-{os.getpid()}-{time.time_ns()}"  # as runner.start_probe lays it out
    job.mkdir(parents=True)
    try:
        report = {"config": form_to_config(form).model_dump(mode="json"), "step_estimate": {"seconds": 2.0}}
        (job / "probe.json").write_text(json.dumps(report))
        config, summary = train_step.check_form(form)
        assert "**How long:** about 23 days 3 h (1,000,000 steps × 2.0 s a step, from the probe of " in summary.verdict
        assert "⚠ This run would take about 23 days 3 h, more than a day" in summary.verdict
    finally:
        shutil.rmtree(job)


def test_the_probe_verdict_ends_with_the_step_and_the_whole_runs_length():
    report = {"verdict": {"code": "ready", "title": "Ready", "text": "Ready: 3 of 4 questions got answers with "
                          "different rewards."}, "findings": [], "prompts": 4, "generations_per_prompt": 4,
              "model": "builtin:tiny", "seconds": 12.0, "step_estimate": {"seconds": 9.0, "run_seconds": 1800.0},
              "config": {"train": {"max_steps": 200}}}
    assert run_view.probe_markdown(report).endswith(
        "One training step here takes about 9.0 s, so the run's 200 steps take about 30 min.*")


def test_every_glyph_the_page_shows_is_in_the_fonts_here():
    """A symbol the fonts lack renders as an empty box (⏸ and ⏳ did, on Debian's chromium): every character of the
    page's strings and style is in DejaVu Sans, the font Debian's browsers fall back to (matplotlib ships a copy)."""
    import matplotlib
    from fontTools.ttLib import TTFont

    font = TTFont(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    covered = font.getBestCmap()
    app = REPO / "app"
    shown = (app / "strings.py").read_text(encoding="utf-8") + (app / "style.css").read_text(encoding="utf-8")
    missing = sorted({c for c in shown if ord(c) > 127 and ord(c) not in covered})
    assert missing == [], f"glyphs the fonts here lack: {missing}"


# ---------------------------------------------------------------------------------------------------------------
# Uploads

@pytest.mark.parametrize("original, expected", [
    ("questions.csv", "questions.csv"),
    ("my questions (v2).csv", "my questions (v2).csv"),  # the name as uploaded: the page shows it
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\My Data (1).JSONL", "My Data (1).JSONL"),
    ("..hidden.parquet", "hidden.parquet"),
    ("Fragen für Klasse 5.jsonl", "Fragen für Klasse 5.jsonl"),
    ("a\x00b\nc;rm -rf.csv", "a_b_c_rm -rf.csv"),
    ("€€€.csv", "_.csv"),
    ("", "data"),
])
def test_upload_names_are_sanitised(original, expected):
    assert safe_upload_name(original) == expected


def test_store_upload_copies_into_the_uploads_folder_only(tmp_path, monkeypatch):
    source = tmp_path / "incoming" / "weird name?.csv"
    source.parent.mkdir()
    source.write_text("question,answer\n1+1?,2\n")
    folder = tmp_path / "uploads"
    stored = store_upload(source, "../../weird name?.csv", folder)
    assert stored.parent.parent == folder.resolve() and stored.name == "weird name_.csv"
    assert stored.read_text() == source.read_text()
    other = tmp_path / "other.csv"
    other.write_text("question,answer\n2+2?,4\n")
    assert store_upload(other, "weird name?.csv", folder).parent != stored.parent  # same name, other content
    with pytest.raises(UploadError, match="page.html is not a data file"):
        store_upload(source, "page.html", folder)  # served back from the app's origin: data files only
    monkeypatch.setattr("app.uploads.MAX_UPLOAD_BYTES", 10)
    with pytest.raises(UploadError, match="the limit is 200 MB"):
        store_upload(source, "big.csv", folder)


def test_the_upload_event_takes_only_files_gradio_received(app_dirs):
    """An event's input can name any path on the server; only one in Gradio's upload folder is copied in."""
    from gradio.utils import get_upload_folder

    foreign = app_dirs / "foreign.csv"
    foreign.write_text("question,answer\nsecret,1\n")
    for path in (str(foreign), "/etc/passwd", str(Path(get_upload_folder()) / ".." / "x.csv")):
        stored, message = data_step.stored_upload(path)
        assert stored is None and "did not come through the upload box" in message
    received = Path(get_upload_folder()) / "test-upload" / "mine.csv"
    received.parent.mkdir(parents=True, exist_ok=True)
    received.write_text("question,answer\n1+1?,2\n")
    stored, message = data_step.stored_upload(str(received))
    assert Path(stored).parent.parent == (app_dirs / "uploads").resolve() and message == "Uploaded mine.csv."


def test_data_preview_maps_columns_and_reports_problems(app_dirs):
    data = app_dirs / "uploads" / "q.csv"
    data.parent.mkdir()
    data.write_text("id,task,result\n1,What is 1 plus 2?,#### 3\n2,What is 2 plus 3?,#### 5\n")
    form = math_form()
    form.data_path, form.prompt_column, form.answer_column = str(data), "id", None
    shown = data_view.preview_data(form)
    assert shown.columns == ["id", "task", "result"] and "needs gold answers" in shown.error
    form.prompt_column, form.answer_column = "task", "result"
    shown = data_view.preview_data(form)
    assert shown.error == "" and "2 rows" in shown.summary
    assert list(shown.frame[strings.DATA_GOLD_COLUMN]) == ["3", "5"]
    form.answer_pattern = "####(("
    assert "does not compile" in data_view.preview_data(form).pattern_error
    form.data_path = str(app_dirs / "uploads" / "missing.jsonl")
    assert "does not exist" in data_view.preview_data(form).error
    form.data_path = "q.csv"  # a name in the uploads folder
    assert "2 rows" in data_view.preview_data(form).summary
    form.data_path = str(app_dirs / "elsewhere.csv")  # anywhere else: refused, even if it exists
    (app_dirs / "elsewhere.csv").write_text(data.read_text())
    assert "is not a file uploaded here" in data_view.preview_data(form).error


def test_the_data_step_says_what_train_says_of_a_code_reward_on_math_data(app_dirs):
    """rlvr-code's tests reward on GSM8K (no tests column): the data step names the missing column, as Train does,
    instead of counting the rows; a broken row before it does not shift which row it names."""
    form = preset_form("rlvr-code", "builtin:tiny")
    form.data_path, form.prompt_column, form.answer_column = SAMPLE, "question", "answer"
    said = ("Reward 3 (tests): reads the column 'test', which gsm8k_slice.jsonl does not have (columns: question, "
            "answer).")
    shown = data_view.preview_data(form)
    assert shown.error == said and shown.summary == ""
    config, summary = train_step.check_form(form)
    assert config is None and said in summary.verdict
    form.rewards[0] = replace(form.rewards[0], name="")  # the rewards step's business; row 3 is still row 3
    assert data_view.preview_data(form).error == said
    form.data_path = data_tables.code_sample_path()
    form.prompt_column, form.answer_column = "prompt", None
    assert data_view.preview_data(form).error == "" and "164 rows" in data_view.preview_data(form).summary


def test_data_counts_agree_with_the_train_check_and_nested_cells_are_flagged(app_dirs):
    """Prompts too long for max_seq_length are counted at upload as the train check counts them; an unreadable file
    shows no table; a question that is an object is flagged; a file's name is kept as uploaded."""
    from engine.checks import check_config

    data = app_dirs / "uploads" / "abcd1234" / "long questions.csv"
    data.parent.mkdir(parents=True)
    long_question = "How many apples are there? " * 200
    data.write_text("question,answer\n" + "".join(f"What is {i} plus 1?,{i + 1}\n" for i in range(8))
                    + "".join(f"{long_question},{i}\n" for i in range(3)))
    form = math_form(**{"train.num_generations": 4, "train.batch_size": 4})
    form.data_path = str(data)
    shown = data_view.preview_data(form)
    facts = check_config(form_to_config(form)).facts["data"]
    assert "3 dropped (prompt too long)" in facts and facts in shown.summary
    assert shown.summary.startswith("✓ **long questions.csv**")
    data.write_text("not,a\n\"broken")
    data_tables._TABLES.clear()
    broken = data_view.preview_data(form)
    assert broken.error.startswith("long questions.csv cannot be read") and broken.frame.empty  # name as written
    assert data_view.preview_update(broken.frame)["visible"] is False
    nested = app_dirs / "uploads" / "nested.jsonl"
    nested.write_text("".join(json.dumps({"question": {"text": f"{i}+1?"}, "answer": i + 1}) + "\n"
                              for i in range(4)))
    form.data_path = str(nested)
    said = data_view.preview_data(form).error
    assert "Question column (data.prompt_column): column 'question' holds an object in row 1" in said


# ---------------------------------------------------------------------------------------------------------------
# Rewards preview

def test_try_it_scores_every_row_and_flags_the_broken_one():
    form = math_form()
    prompt = build_config({"preset": "rlvr-math"}).prompt
    result = preview(form.rewards, prompt, EXAMPLE, "12")
    assert [r.score for r in result.rows] == [1.0, 1.0, 2.0] and result.total == 4.0
    assert preview(form.rewards, prompt, EXAMPLE, "13").total == 1.0 + 1.0 - 1.0
    form.rewards[2].values["pattern"] = "{answer_open}(\\d+{answer_close}"
    broken = preview(form.rewards, prompt, EXAMPLE, "12")
    assert broken.rows[2].score is None and "does not compile" in broken.rows[2].error
    assert broken.rows[0].score == 1.0 and broken.total == 2.0
    no_gold = preview(math_form().rewards, prompt, EXAMPLE, "")
    assert no_gold.rows[2].score is None and no_gold.rows[2].error is None


def test_try_it_grades_against_the_gold_answer_of_the_data_row_it_shows(app_dirs):
    """The first row of the user's data (GSM8K's: Ahito ran 16 miles), its gold as the rewards see it; the right
    answer to that question scores right, whatever the canned example said."""
    from app.reward_preview import NO_ROW, try_row
    from app.steps.rewards_step import row_markdown

    form = math_form()
    prompt = form_to_config(form).prompt
    row = try_row(form, None)
    assert row.number == 1 and row.question.startswith("Amber, Micah, and Ahito ran 52 miles") and row.gold == "16"
    assert row_markdown(row, form.data_path).startswith("**Question (row 1 of gsm8k_slice.jsonl):** Amber, Micah")
    right = "<thought>\n52 - 8 - 28 = 16\n</thought>\n<answer>16</answer>"
    assert [r.score for r in preview(form.rewards, prompt, right, row.gold, row.columns).rows] == [1.0, 1.0, 2.0]
    assert preview(form.rewards, prompt, right.replace("16<", "12<"), row.gold, row.columns).rows[2].score == -1.0
    # The gold follows the form: another regex, no answer column, another file, a file that cannot be read.
    form.answer_pattern = ""
    assert try_row(form, None).gold.endswith("#### 16")
    form.answer_column = None
    assert try_row(form, None).gold is None
    uploaded = app_dirs / "uploads" / "mine.csv"
    uploaded.parent.mkdir(parents=True)
    uploaded.write_text("task,result\nWhat is 2 plus 3?,5\n")
    mine = replace(form, data_path=str(uploaded), prompt_column="task", answer_column="result")
    assert (try_row(mine, None).question, try_row(mine, None).gold) == ("What is 2 plus 3?", "5")
    # The question "Generate one" answered, while the file is the same; then the file's first row again.
    generated = (str(uploaded), {"task": "What is 7 plus 1?", "result": "8"})
    assert try_row(mine, generated).gold == "8" and try_row(mine, generated).number is None
    assert try_row(form, generated).number == 1
    assert try_row(replace(form, data_path="/etc/passwd"), None) is NO_ROW
    assert row_markdown(NO_ROW, "") == strings.TRY_NO_ROW
def test_try_it_shows_what_each_pattern_matched():
    form = math_form()
    form.rewards.append(RewardRow(name="starts", kind="regex_match", reward=1.0, penalty=0.0,
                                  values={"pattern": "{thought_open}\\n(.*)", "match": "start"}))
    prompt = build_config({"preset": "rlvr-math"}).prompt
    result = preview(form.rewards, prompt, EXAMPLE, "12")
    assert [r.matched for r in result.rows] == [None, None, "12", "<thought>\nThere are 3 boxes with 4 apples each, "
                                                                  "so 3 * 4 = 12."]
    assert [r.shows_match for r in result.rows] == [False, False, True, True]
    _badges, _errors, _total, table = rewards_step.preview_outputs(form.rewards, result)
    assert list(table.columns) == strings.TRY_TOTAL_HEADERS and strings.TRY_TOTAL_HEADERS[-1] == "Matched"
    assert list(table["Matched"]) == ["", "", "12", "<thought>⏎There are 3 boxes with 4 apples each, so 3 * 4 = 12."]
    missed = preview(form.rewards, prompt, "Sure! " + EXAMPLE, "12")
    assert missed.rows[3].score == 0.0 and missed.rows[3].matched is None
    assert list(rewards_step.preview_outputs(form.rewards, missed)[3]["Matched"])[3] == strings.TRY_NO_MATCH


def test_the_probe_box_lists_where_the_two_verifiers_disagree():
    report = {"verdict": {"code": "ready", "title": "Ready", "text": "Ready: 3 of 4 questions ...", "change": None},
              "findings": [], "prompts": 4, "generations_per_prompt": 2, "model": "m", "seconds": 3.0,
              "step_estimate": {"seconds": 1.0},
              "verifier_audit": {"rewards": ["correct"], "answers": 6, "disagreements": 2, "cases": [
                  {"reward": "correct", "compare": "numeric", "answer": "3/4", "gold": "0.75", "numeric": False,
                   "math": True, "scored_right": False, "count": 2}]}}
    shown = run_view.probe_markdown(report)
    assert "Verifier audit: numeric and math-verify disagree on 2 of 6 answers" in shown
    assert "`3/4` (gold `0.75`) x2: numeric says wrong, math-verify says right; 'correct' (numeric) scores it wrong" \
        in shown
    report["verifier_audit"] = {"rewards": ["correct"], "answers": 6, "disagreements": 0, "cases": []}
    assert "Verifier audit: numeric and math-verify agree on all 6 answers" in run_view.probe_markdown(report)
    report["verifier_audit"] = None
    assert "Verifier audit" not in run_view.probe_markdown(report)


def evil_module(tmp_path: Path) -> tuple[Path, Path]:
    """A reward file whose import leaves a marker: proof that it ran."""
    marker = tmp_path / "python-ran"
    module = tmp_path / "evil.py"
    module.write_text(f"open({str(marker)!r}, 'w').write('ran')\ndef reward(**kw): return [9.0]\n")
    return module, marker


def test_the_form_refuses_python_rewards_on_the_server_side(tmp_path):
    """A Gradio API call can send any row; the form never builds, validates or imports a python reward."""
    module, marker = evil_module(tmp_path)
    form = math_form()
    form.rewards.append(RewardRow(name="evil", kind="python", values={"function": f"{module}:reward"}))
    with pytest.raises(ConfigError) as caught:
        form_to_config(form)
    [problem] = caught.value.problems
    assert problem.key == "rewards[3] (evil)" and "the web app never does" in problem.message
    assert "python -m engine train" in problem.message
    result = preview(form.rewards, build_config({"preset": "rlvr-math"}).prompt, EXAMPLE, "12")
    assert result.rows[3].score is None and "never does" in result.rows[3].error and result.total == 4.0
    unknown = RewardRow(name="x", kind="os.system", values={"function": "rm -rf /"})
    assert "'os.system' is not a reward kind" in preview([unknown], build_config({}).prompt, EXAMPLE, "").rows[0].error
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------------
# Run folders -> views

def write_run(root: Path, events: list[dict], state: str = "running", run_id: str = "20260101-000000-rlvr-math",
              **status) -> RunFolder:
    run = RunFolder(root / run_id)
    run.path.mkdir(parents=True)
    config = build_config({"preset": "rlvr-math", "model": {"name": "builtin:tiny"}, "data": {"path": SAMPLE}})
    config.save(run.config_path)
    run.write_status(state=state, step=events[-1]["step"] if events else 0, max_steps=20, model="builtin:tiny",
                     preset="rlvr-math", backend="hf", started=1000.0, session_started=1000.0,
                     session_start_step=0, **status)
    for event in events:
        run.append_event(event)
    run.append_samples([{"step": 1, "prompt": "What is 2+2? " * 30, "completion": "<answer>4</answer>",
                         "scores": {"strict_format": 0.0, "tag_count": 0.5, "correct": 2.0}, "answer": "4"}])
    return run


def flat_events(steps: int) -> list[dict]:
    return [{"step": s, "time": 1000.0 + 2 * s, "loss": 0.0, "reward": -1.0, "reward_std": 0.0,
             "rewards/strict_format/mean": 0.0, "rewards/tag_count/mean": 0.0, "rewards/correct/mean": -1.0,
             "frac_reward_zero_std": 1.0, "completion_length": 64.0, "completions/mean_length": 64.0,
             "completions/max_length": 64.0, "completions/clipped_ratio": 1.0,
             **({"regex_timeouts": {"strict_format": 2}} if s == 3 else {})} for s in range(1, steps + 1)]


def test_the_train_view_draws_one_run_from_the_run_folders(app_dirs):
    """view_updates is the one writer of the Train view: which run (the watched one while it exists, else the one
    that trains, else the newest), and every part of it from that run's folder; the busy line and the buttons from
    the runs folder. (A live run beside it, a hand-off and a resume: tests/test_browser_truth.py.)"""
    import gradio as gr

    from engine.config import load_config
    from engine.runs import queue as run_queue

    from app import example_runs

    with gr.Blocks():
        step = train_step.build()
    older = write_run(settings.runs_dir(), flat_events(3), state="completed")
    newer = write_run(settings.runs_dir(), flat_events(5), state="stopped", run_id="20260102-000000-rlvr-math")
    newer.write_status(started=2000.0)

    def shown(watched, last=None) -> dict:
        return train_step.view_updates(step, watched, last)

    follow = shown(None)
    assert newer.id in follow[step.header] and follow[step.step] == "Step 5/20"
    assert follow[step.reward_plot]["value"]["step"].max() == 5 and follow[step.busy] == ""
    assert follow[step.launch]["interactive"] and not follow[step.queue]["visible"]
    assert not follow[step.stop]["interactive"] and not follow[step.timer].active  # nothing trains: quiet
    # The bundled example, watched after another run: its header, steps, curves and samples together, all its own.
    example = example_runs.example_ids()[0]
    watched = shown(example, follow[step.signature])
    assert watched[step.header].startswith(strings.EXAMPLE_HEADER) and newer.id not in watched[step.header]
    assert watched[step.step] == "Step 200/200"
    for plot in (step.reward_plot, step.spread_plot, step.length_plot, step.loss_plot):
        assert watched[plot]["value"]["step"].max() == 200 and watched[plot]["x_lim"] == [0, 200], plot
    table = watched[step.samples]["value"]
    assert len(table) and all(table["question"].str.len() > 0) and all(table["completion"].str.len() > 0)
    # Its golds are whole worked solutions: cut to their end, where the answer stands, so that no row grows so tall
    # that the table draws its question and completion cells empty (seen in a browser).
    assert all(len(gold) <= run_view.GOLD_CHARS for gold in table["gold"])
    assert table["gold"].iloc[0].startswith("…") and "#### " in table["gold"].iloc[0]
    assert not watched[step.stop]["interactive"]  # read-only
    # The older run, watched; then deleted: the view falls back to the newest run left, never the deleted one.
    watched = shown(older.id, watched[step.signature])
    assert older.id in watched[step.header] and watched[step.reward_plot]["value"]["step"].max() == 3
    # Following again (a launch or resume clears the choice), with nothing training: the run last shown stays in
    # view, also through a redraw request (which keeps only its name), rather than jumping to the newest.
    assert older.id in shown(None, watched[step.signature])[step.header]
    assert older.id in shown(None, watched[step.signature][:1])[step.header]
    # Unless a run began after it ended: the queue's next run, handed the GPU, which can train and end between two
    # ticks of a busy page (CI saw the view stay on the run that had handed over).
    older.write_status(finished=1500.0)
    assert newer.id in shown(None, watched[step.signature])[step.header]
    older.write_status(finished=2500.0)  # it ended after the newer one began (a resumed run stopped again): it stays
    assert older.id in shown(None, watched[step.signature])[step.header]
    shutil.rmtree(older.path)
    gone = shown(older.id, watched[step.signature])
    assert newer.id in gone[step.header] and older.id not in gone[step.header]
    assert gone[step.reward_plot]["value"]["step"].max() == 5  # redrawn: another run's files
    # A run waiting in the queue: the view keeps ticking, to follow the hand-off when it starts.
    queued = run_queue.add(settings.runs_dir(), load_config(newer.config_path))
    assert shown(None, gone[step.signature])[step.timer].active
    runner.cancel_queued(queued)
    shutil.rmtree(newer.path)
    empty = shown(None)
    assert empty[step.no_run]["visible"] and not empty[step.live]["visible"] and empty[step.launch]["interactive"]


def test_generate_one_samples_the_forms_model_on_its_data(app_dirs, tmp_path):
    config = form_to_config(math_form(**{"train.max_completion_length": 8}))
    sample = sample_completion.generate_sample(config)
    questions = [json.loads(line)["question"] for line in Path(SAMPLE).read_text().splitlines()]
    assert any(q in sample.question for q in questions)  # a real question of the data, in its prompt
    assert sample.completion.startswith("<thought>\n") and len(sample.completion) > len("<thought>\n")
    assert sample.gold and sample.gold.replace(",", "").isdigit()  # GSM8K's number after '####'
    assert sample.columns["question"] in sample.question  # the row's own columns, for the try-it's code rewards

    missing = config.model_copy(update={"model": config.model.model_copy(update={"name": str(tmp_path / "none")})})
    with pytest.raises(sample_completion.ModelLoadError, match=r"^model\.name: .* could not be loaded"):
        sample_completion.generate_sample(missing)


def test_chat_answers_with_base_and_tuned_and_shares_the_model_slot(app_dirs):
    """The results step's chat on a real 2-step run; then "Generate one" takes the app's one model slot over."""
    quickstart = REPO / "examples" / "quickstart.yaml"
    run_dir = app_dirs / "runs" / "chat"
    assert run_engine("train", quickstart, "--run-dir", run_dir, "--set", "train.max_steps=2").returncode == 0
    base, tuned = chat.answer_both(RunFolder(run_dir), "What is 2 plus 3?")
    assert base.startswith("<thought>\n") and tuned.startswith("<thought>\n")  # the preset starts inside the thought
    assert model_slot._slot["key"][0] == "chat"
    sample_completion.generate_sample(form_to_config(math_form(**{"train.max_completion_length": 8})))
    assert model_slot._slot["key"][0] == "base"  # one model at a time


def test_plot_frames_from_events(tmp_path):
    run = write_run(tmp_path, flat_events(4))
    frame = run_view.reward_frame(run.read_events())
    assert set(frame["series"]) == {"total", "strict_format", "tag_count", "correct"}
    assert len(frame) == 16 and frame["step"].max() == 4
    assert list(run_view.length_frame(run.read_events())["series"].unique()) == ["mean", "longest"]
    assert run_view.reward_frame([]).empty


def test_samples_table_has_scores_and_weighted_total(tmp_path):
    run = write_run(tmp_path, flat_events(1))
    table = run_view.samples_frame(run.read_samples(), {"strict_format": 1.0, "tag_count": 1.0, "correct": 2.0})
    assert list(table.columns) == strings.SAMPLES_HEADERS_FIXED + ["strict_format", "tag_count", "correct",
                                                                    strings.SAMPLES_TOTAL]
    assert table.iloc[0][strings.SAMPLES_TOTAL] == "4.50" and table.iloc[0]["question"].endswith("…")


def test_health_hints_say_what_to_change(tmp_path):
    """The Train view's health box: the share of groups to learn from at every step, then the engine's hints."""
    run = write_run(tmp_path, flat_events(12))
    config = build_config({"preset": "rlvr-math", "data": {"path": SAMPLE}})
    shown = run_view.hints_markdown(run.read_events(), run.read_samples(), config)
    assert shown.startswith("**Health:** Groups with something to learn from: 0% (last 5 steps).")
    assert "- In every recent question group every answer got the same score" in shown
    assert "'strict_format' has stayed at 0" in shown and "'tag_count' has stayed at 0" in shown
    assert "raise the longest answer (train.max_completion_length" in shown and "timed out on 2 answers" in shown
    early = run_view.hints_markdown(flat_events(2), [], config)
    assert "got the same score" not in early and "has stayed at" not in early  # too early to say
    assert early.endswith("(last 2 steps). Nothing unusual so far.")
    rising = [{"step": s, "reward": s / 10, "reward_std": 0.5, "frac_reward_zero_std": 0.25} for s in range(1, 11)]
    assert "- ↗ The reward is rising" in run_view.hints_markdown(rising, [], config)


def test_run_status_of_a_crashed_run_shows_its_error_line_not_a_traceback(tmp_path):
    run = write_run(tmp_path, flat_events(2), state="failed", error="the GPU ran out of memory; lower it",
                    finished=1010.0)
    run.log_path.write_text("Traceback (most recent call last):\n  File x\nRuntimeError: boom\n")
    status = run_view.run_status(run)
    assert status.state == "failed" and "the GPU ran out of memory" in status.error_text
    assert str(run.log_path) in status.error_text and "Traceback" not in status.error_text
    assert status.step_text == "Step 2/20" and status.times_text == "00:10 in all"  # no ETA once ended


def test_run_status_of_a_dead_running_process_is_failed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = write_run(tmp_path, flat_events(1), pid=dead.pid)
    assert run_view.run_status(run).state == "failed" and not runner.is_active(run)


def test_vram_and_runs_and_eval_views(tmp_path):
    assert "CPU mode" in run_view.vram_html({})
    bar = run_view.vram_html({"vram_used_mib": 4096, "vram_total_mib": 8192, "vram_process_mib": 2048})
    assert "4.0 / 8 GiB" in bar and "2.0 GiB by this run" in bar and "width:50.0%" in bar
    run = write_run(tmp_path, flat_events(3), state="completed")
    frame = run_view.runs_frame([run.summary()])
    assert frame.iloc[0]["state"] == "completed" and frame.iloc[0]["step"] == "3/20"
    table = run_view.eval_markdown({"data": SAMPLE, "max_new_tokens": 64, "seconds": 3.0,
                                    "base": {"accuracy": 0.25, "format_compliance": 0.0, "mean_reward": -0.5, "n": 4},
                                    "tuned": {"accuracy": 0.5, "format_compliance": 1.0, "mean_reward": 1.5, "n": 4}})
    assert "| **base** | 25% | 0% | -0.500 | 4 |" in table and "| **tuned** | 50% | 100% |" in table


# ---------------------------------------------------------------------------------------------------------------
# Runner: one training run at a time, with real processes

def test_a_launch_while_a_run_is_live_is_queued_not_started(app_dirs):
    root = settings.runs_dir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = write_run(root, flat_events(1), state="running", **started_identity(sleeper))
        assert runner.active_run(root).id == busy.id
        first, second = (runner.launch(form_to_config(math_form())) for _ in range(2))
        assert (runner.queue_position(first), runner.queue_position(second)) == (1, 2)
        assert first.config_path.is_file() and not first.status_path.exists()  # waiting: nothing started
        runner.start_next_queued(root)  # a run is live: the queue waits for it
        assert runner.active_run(root).id == busy.id and not first.status_path.exists()
        assert runner.move_queued(second, -1) == 1 and runner.queue_position(first) == 2
        frame, _ = runs_list.runs_overview()
        assert dict(zip(frame["run"], frame["state"]))[second.id] == "queued #1"
        with pytest.raises(runner.RunnerError, match="training; stop it first"):
            runner.delete(busy)  # never the active run
        runner.cancel_queued(second)
        assert not second.path.exists() and runner.queue_position(first) == 1
        runner.delete(first)  # a queued run leaves the queue with its folder
        assert not first.path.exists() and runner.queue_position(first) is None
        with pytest.raises(runner.RunnerError, match="not in the queue"):
            runner.cancel_queued(first)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert runner.active_run(root) is None  # its process is gone: it no longer blocks
    runner.delete(busy)  # no longer live: it can go
    assert not busy.path.exists()


def test_a_resume_waits_for_the_trainer_that_just_ended_to_exit(app_dirs, monkeypatch):
    """A trainer writes its final state, then tidies up and exits still holding the GPU's lock (seconds; longer with
    vLLM's shutdown). A resume clicked in that gap waits for the exit; it is refused only if the exit never comes."""
    root = settings.runs_dir()
    run = write_run(root, flat_events(1), state="stopped")
    form_to_config(math_form(**{"train.max_steps": 1, "train.num_generations": 2, "train.batch_size": 2,
                                "train.max_completion_length": 8})).save(run.config_path)
    holder_path = root / run_lock.HOLDER_NAME

    def ending_trainer(seconds: float) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
        identity = started_identity(process)  # a trainer writes it into both as it starts
        holder_path.write_text(json.dumps({"run": run.id, **identity}))
        run.write_status(**identity)
        return process

    stuck = ending_trainer(60)
    try:
        monkeypatch.setattr(runner, "ENDING_TRAINER_WAIT_S", 0.5)
        with pytest.raises(runner.RunnerError) as refused:
            runner.resume(run)
        assert str(refused.value) == (f"Run {run.id} has stopped, but its trainer (pid {stuck.pid}) is still "
                                      "exiting; try again in a minute.")
    finally:
        stuck.kill()
        stuck.wait()
    monkeypatch.setattr(runner, "ENDING_TRAINER_WAIT_S", 60.0)
    exiting = ending_trainer(1.5)
    try:
        assert runner.resume(run) == strings.RESUME_NO_CHECKPOINT.format(id=run.id)
        assert exiting.poll() is not None  # it waited for the exit, then started
        wait_for(lambda: run.state() in ("completed", "failed"), what="the resumed run")
        assert run.state() == "completed", run.log_tail()
    finally:
        exiting.kill()
        exiting.wait()


def test_launch_stop_resume_a_real_tiny_run(app_dirs):
    form = math_form(**{"train.max_steps": 6, "train.num_generations": 4, "train.batch_size": 4,
                        "train.max_completion_length": 8, "train.save_steps": 100})
    run = runner.launch(form_to_config(form))
    assert run.config_path.is_file() and run.is_active  # launch returns once the trainer wrote its status
    runner.cancel_queued(runner.launch(form_to_config(form)))  # a second launch waits in the queue; not this time
    wait_for(lambda: run.read_status().step >= 1 or run.state() == "failed", what="the first step")
    runner.stop(run)
    wait_for(lambda: run.state() in ("stopped", "completed", "failed"), what="the stop")
    assert run.state() == "stopped", run.log_tail()
    assert (run.adapter_dir / "adapter_config.json").is_file() and run.last_checkpoint() is not None
    stopped_at = run.read_status().step
    with pytest.raises(runner.RunnerError, match="nothing to stop"):
        runner.stop(run)
    assert runner.resume(run) == f"It continues from checkpoint-{stopped_at}, its newest complete checkpoint."
    wait_for(lambda: run.state() in ("completed", "failed"), what="the resumed run")
    assert run.state() == "completed" and run.read_status().step == 6 > stopped_at, run.log_tail()
    log = run.log_path.read_text()
    assert log.count("run folder:") == 2 and "resuming from checkpoint" in log  # one log, appended to
    with pytest.raises(runner.RunnerError, match="only a stopped or failed run"):
        runner.resume(run)
    exporting = runner.start_export(run)  # a second click while the first export still runs: one sentence
    with pytest.raises(runner.RunnerError, match=f"^An export of run {run.id} is already running; wait for it"):
        runner.start_export(run, gguf="q8_0")
    wait_for(lambda: not exporting.running, what="the export")
    assert not exporting.failed and run.adapter_zip.is_file(), exporting.log_path.read_text()


# ---------------------------------------------------------------------------------------------------------------
# Launching the app

def test_host_port_and_login_from_flags_and_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRPO_STUDIO_HOST", "0.0.0.0")
    monkeypatch.setenv("GRPO_STUDIO_PORT", "9000")
    assert (parse_arguments([]).host, parse_arguments([]).port) == ("0.0.0.0", 9000)
    assert parse_arguments(["--port", "7001", "--host", "127.0.0.1"]).port == 7001
    monkeypatch.delenv("GRPO_STUDIO_PASSWORD", raising=False)
    monkeypatch.delenv("GRPO_STUDIO_USER", raising=False)
    monkeypatch.setenv("GRPO_STUDIO_PASSWORD_FILE", str(tmp_path / "state" / "login-password"))
    said = []

    def say(text, **_):
        said.append(text)
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.1.1"):
        assert resolve_login(loopback, say) is None  # the local user's own machine stays open
    assert not said and not (tmp_path / "state").exists()
    # Beyond loopback with no password: one is made, saved for the owner only, printed with the user name.
    user, password = resolve_login("0.0.0.0", say)
    saved = tmp_path / "state" / "login-password"
    assert user == "admin" and len(password) >= 20 and saved.read_text().strip() == password
    assert saved.stat().st_mode & 0o777 == 0o600
    assert f"sign in as admin with password {password}" in said[0] and str(saved) in said[0]
    assert resolve_login("192.168.1.20", say) == ("admin", password)  # the next start reuses it and says it again
    assert password in said[1] and str(saved) in said[1]
    monkeypatch.setenv("GRPO_STUDIO_PASSWORD", "secret")
    assert resolve_login("0.0.0.0", say) == ("admin", "secret") == resolve_login("127.0.0.1", say)
    monkeypatch.setenv("GRPO_STUDIO_USER", "teacher")
    assert resolve_login("my-host", say) == ("teacher", "secret")


def test_cpu_demo_hides_the_gpu_and_says_why(monkeypatch):
    from app import machine

    monkeypatch.setenv("GRPO_STUDIO_CPU_DEMO", "1")
    monkeypatch.setenv("GRPO_STUDIO_CPU_DEMO_REASON", "the NVIDIA driver is 535; CUDA 13 needs 580 or newer")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    machine.gpu_info.cache_clear()
    try:
        machine.hide_gpu_in_cpu_demo()
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"
        assert machine.cpu_demo_mode() and not machine.has_gpu()
        assert "driver is 535" in machine.cpu_demo_reason()
    finally:
        machine.gpu_info.cache_clear()


def test_a_failed_job_reports_its_exception_line(tmp_path):
    log = tmp_path / "eval.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-c", "raise OSError('cannot reach the hub\\nsecond line')"],
                                   stdout=out, stderr=subprocess.STDOUT)
        process.wait()
    job = runner.Job("eval", "run", process, log)
    assert job.failed and not job.running
    assert job.last_error() == "OSError: cannot reach the hub"


def test_a_jobs_running_count_in_words(tmp_path):
    """What the page adds to "running for 01:10": the count the job writes (engine/progress_bar.py)."""
    from engine.progress_bar import Count, _write

    log = tmp_path / "export.log"
    job = runner.Job("export", "run", subprocess.Popen([sys.executable, "-c", "pass"]), log)
    job.process.wait()
    assert job.count() == ""  # nothing counted yet
    _write(runner.count_path(log), Count("tuned model answering", 1200, 3400, "questions"))
    assert job.count() == "So far: tuned model answering, 1,200 of 3,400 questions."
    _write(runner.count_path(log), Count("zipping run-merged.zip", 2**30, 3 * 2**30, "bytes"))
    assert job.count() == "So far: zipping run-merged.zip, 1.0 GB of 3.0 GB."


def test_the_ui_builds_with_its_stable_element_ids(app_dirs):
    from app.ui import build_ui

    demo = build_ui()
    ids = {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    assert {"model-name", "preset-pick", "data-upload", "reward-0-pattern", "try-total", "launch-button",
            "step-counter", "reward-plot", "runs-table"} <= ids


def element(demo, elem_id: str):
    """The page's component with this elem_id."""
    return next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == elem_id)


def test_the_delete_confirmation_events_run_one_at_a_time_on_a_state_the_server_holds(app_dirs):
    """A pick of another run closes an open confirmation; a delete click opens one; Yes deletes the run it names.
    Each reads the confirmation state the one before it left: they share a concurrency group of limit 1 (first come,
    first served), and that state is a gr.State, which the server reads when the event runs (not a value the page
    sent earlier). The order itself, as a busy machine delivers it, is tested over HTTP in test_hostile_http."""
    import gradio as gr

    from app.ui import build_ui

    demo = build_ui()
    confirm = element(demo, "delete-confirm")
    writers = [fn for fn in demo.fns.values() if any(output is confirm for output in fn.outputs)]
    assert {event for fn in writers for _, event in fn.targets} == {"change", "click"} and len(writers) == 4
    assert {(fn.concurrency_id, fn.concurrency_limit) for fn in writers} == {("delete-confirmation", 1)}
    states = {id(output): output for fn in writers for output in fn.outputs if isinstance(output, gr.State)}
    assert len(states) == 1
    (state,) = states.values()
    assert all(any(output is state for output in fn.outputs) for fn in writers)
    readers = [fn for fn in writers if any(given is state for given in fn.inputs)]
    assert sorted(event for fn in readers for _, event in fn.targets) == ["change", "click"]  # the pick, and Yes


def test_the_pick_is_replaced_only_when_its_run_is_gone(app_dirs):
    """The pick a refresh carries is the one the page had when the event was sent; on a busy machine a tick sent
    before the user picked a run lands after it (CI: the pick jumped back, and the jump closed the user's delete
    confirmation). Only a gone run is replaced by a tick; opening the tab moves the first page's example default to
    the newest run; a delete picks the newest run left, or an example (a walk saw an empty pick beside the deleted
    run's completions)."""
    from app.example_runs import example_ids
    from app.ui import build_ui

    old = write_run(settings.runs_dir(), flat_events(2), state="completed")
    new = write_run(settings.runs_dir(), flat_events(2), state="completed", run_id="20260102-000000-rlvr-math")
    demo = build_ui()
    pick = element(demo, "run-pick")

    def refresh(event: str):
        return next(fn.fn for fn in demo.fns.values() if event in {e for _, e in fn.targets}
                    and pick in fn.outputs and pick in fn.inputs and len(fn.outputs) > 4)

    tick, opened = refresh("tick"), refresh("select")
    example, ids = example_ids()[0], [new.id, old.id]
    stale = tick(example, None)  # sent before the first refresh landed: the page's example, no runs known yet
    assert stale[pick].get("value", "unset") == "unset" and stale[pick]["choices"][:2] == [(new.id, new.id),
                                                                                         (old.id, old.id)]
    assert pick not in tick(old.id, ids)  # nothing changed: the pick is not touched
    assert opened(example, None)[pick]["value"] == new.id  # the first visit shows the newest run
    assert pick not in opened(example, ids)  # an example the user picked again stays picked
    assert tick("20250101-000000-gone", ids)[pick]["value"] == new.id  # deleted elsewhere: the newest left

    # Deleting through the confirmation: the newest run left, then, with none left, the example (never an empty pick
    # beside the deleted run's boxes).
    yes_button = element(demo, "delete-yes")
    yes = next(fn.fn for fn in demo.fns.values() if any(demo.blocks.get(i) is yes_button for i, _ in fn.targets))
    assert yes(new.id, new.id)[pick] == {"__type__": "update", "value": old.id,
                                         "choices": [(old.id, old.id)] + stale[pick]["choices"][2:]}
    assert yes(old.id, old.id)[pick]["value"] == example and not (settings.runs_dir() / old.id).exists()


# ---------------------------------------------------------------------------------------------------------------
# Results step: downloads with their sizes first, completions of any logged step, disk use and free space

def test_results_step_downloads_history_and_housekeeping(app_dirs):
    import gradio as gr

    from engine.config import load_config
    from engine.runs import queue as run_queue

    from app.steps import sample_history

    run = write_run(settings.runs_dir(), flat_events(3), state="completed")
    run.append_samples([{"step": s, "prompt": f"Question {s}?", "completion": f"<answer>{s}</answer>",
                         "scores": {"correct": 2.0}, "answer": str(s)} for s in (3, 3)])
    run.adapter_zip.write_bytes(b"z" * 1000)
    (run.path / f"{run.id}-merged.zip").write_bytes(b"m" * 2_621_440)
    gguf = run.path / "gguf-q8_0" / f"{run.id}-q8_0.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + bytes(3 * 1024))
    with gr.Blocks():
        step = results_step.build()

    shown = results_step.run_details(step, run.id)
    merged, made_gguf = shown[step.download_merged], shown[step.download_gguf]
    assert merged["visible"] and merged["label"] == "⬇ 2.5 MB · merged model zip"  # the size first
    assert merged["value"] == str(run.path / f"{run.id}-merged.zip")
    assert made_gguf["visible"] and made_gguf["label"] == f"⬇ 3.0 KB · {gguf.name}" and made_gguf["value"] == str(gguf)
    assert shown[step.download_adapter]["label"].startswith("⬇ 1000 bytes")
    nothing = results_step.run_details(step, None)
    assert not any(nothing[button]["visible"] for button in (step.download_merged, step.download_gguf))

    history = step.history
    newest = sample_history.view(history, run, None)  # the newest logged step, followed
    assert newest[history.caption] == "Step 3: 2 completions (of 2 logged steps, 1 to 3)."
    assert newest[history.shown]["follow"] and newest[history.step]["maximum"] == 3
    earlier = sample_history.view(history, run, 2)  # no step 2 logged: the one before it
    assert earlier[history.caption].startswith("Step 1: 1 completion (") and not earlier[history.shown]["follow"]
    assert "What is 2+2?" in earlier[history.table]["value"].to_string()

    frame, ids = runs_list.runs_overview()
    disk = dict(zip(frame[strings.RUNS_HEADERS[0]], frame[strings.RUNS_HEADERS[-1]]))[run.id]
    assert ids == [run.id] and disk.endswith("MB") and float(disk.split()[0]) >= 2.5  # the zips are in the folder
    house = step.housekeeping
    status = run_housekeeping.status_updates(house, run)
    assert status[house.free_space].startswith("**Free space:**") and " of " in status[house.free_space]
    assert status[house.queue] == strings.QUEUE_EMPTY and not status[house.queue_buttons]["visible"]
    queued = run_queue.add(settings.runs_dir(), load_config(run.config_path))  # waits: nothing starts it here
    status = run_housekeeping.status_updates(house, queued)
    assert status[house.queue_buttons]["visible"] and f"1. `{queued.id}`" in status[house.queue]
    runner.cancel_queued(queued)
    assert not queued.path.exists() and runs_list.runs_overview()[1] == [run.id]


# ---------------------------------------------------------------------------------------------------------------
# Curation from the probe box (the real handlers, the real `engine curate` subprocess on the tiny model), the
# bundled arithmetic sample of the data step, and the CPU demo's way to the bundled GPU run

def page_values(page, form: FormValues, columns: list[str]) -> dict:
    """What the page's form widgets hold when they show `form`, as the browser sends them to a handler."""
    written = page.form.write(form, columns)
    values = {}
    for component in page.form.value_components():
        shown = written.get(component, component.value)
        values[component] = shown.get("value", component.value) if isinstance(shown, dict) else shown
    return values


def handler(page, button, output):
    """The function a click of `button` runs whose updates include `output`."""
    return next(fn.fn for fn in page.demo.fns.values() if output in fn.outputs
                and any(page.demo.blocks.get(block) is button for block, _ in fn.targets))


def capitals_form(data_path: str, pattern: str = "[A-Z]") -> FormValues:
    """The reasoning preset with one format reward: a pattern some of the tiny model's 8-token answers match (a
    capital letter among random tokens), so questions get pass rates between 0 and 1 (tests/test_engine_curation)."""
    form = preset_form("reasoning", "builtin:tiny")
    form.rewards = [replace(row, values={**row.values, "pattern": pattern}) for row in form.rewards
                    if row.kind == "regex_match"]
    form.data_path, form.prompt_column, form.answer_column = data_path, "question", "answer"
    form.settings.update({"train.num_generations": 4, "train.batch_size": 4, "train.max_completion_length": 8,
                          "data.eval_fraction": 0.2})
    return form


def uploaded_task(folder: Path) -> str:
    from engine.arithmetic_task import make_rows

    path = folder / "task.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({**row, "topic": f"t{i}"}) + "\n"
                            for i, row in enumerate(make_rows("easy", 10, 0))))
    return str(path)


def test_curation_in_the_probe_box_trains_on_the_learnable_questions(app_dirs):
    from engine.progress_bar import read_count

    from app.ui import build_page

    page = build_page()
    box, data = page.train.probe.curation, page.data
    form = capitals_form(uploaded_task(settings.uploads_dir()))
    values = page_values(page, form, ["question", "answer", "topic"])
    curate = handler(page, box.button, box.result)
    updates = curate(values)
    first = next(updates)  # the job is running: a second curation or a probe waits for it
    assert first[box.result].startswith("◷ Curating:") and "builtin:tiny" in first[box.result]
    with pytest.raises(runner.RunnerError, match="A curation is already running"):
        runner.start_curate(form_to_config(form), 4)
    with pytest.raises(runner.RunnerError, match="A curation is already running"):
        runner.start_probe(form_to_config(form), 2)
    *_, last = updates
    job = runner.curate_job()
    count = read_count(runner.count_path(job.log_path))  # what "sampled N of M" reads
    assert (count.done, count.total, count.unit) == (8, 8, "questions")
    report = last[box.report]
    n = report["learnable"]
    assert report["questions"] == 8 and report["pass"] == "in format" and n >= 1, last[box.result]
    shown = last[box.result]
    assert shown.startswith(f"✓ {n} of 8 questions are learnable for this model (too easy: {report['too_easy']}, "
                            f"too hard: {report['too_hard']}) — train on those.")
    assert "| answers in the format, of 4 | questions |" in shown  # the histogram, one row per pass count
    assert sum(int(line.split("|")[2]) for line in shown.splitlines() if line.startswith("| ") and
               line.split("|")[1].strip()[0].isdigit()) == 8
    assert last[box.apply] == {"__type__": "update", "value": f"Train on those {n} questions", "visible": True}

    # "Train on those N questions": the data step takes the curated file (in the uploads folder, so the page may use
    # it), the columns the user mapped stay, and the preview shows the curated rows.
    applied = handler(page, box.apply, data.path)(report)
    curated = Path(applied[data.path])
    assert curated == Path(report["output"]) and curated.is_relative_to(settings.uploads_dir() / "curated")
    assert applied[data.shown_path] == str(curated) and not applied[box.apply]["visible"]
    assert f"The data step now uses {curated.name}: the {n} learnable questions" in applied[box.result]
    assert applied[data.message].startswith(f"Using {curated.name}: the {n} questions this model can learn from")
    rows = [json.loads(line) for line in curated.read_text().splitlines()]
    assert len(rows) == n and all(set(row) == {"question", "answer", "topic"} for row in rows)
    values |= {data.path: str(curated), data.shown_path: str(curated)}
    view = data_view.refresh_updates(page, values)
    assert view[data.summary].startswith(f"✓ **{curated.name}** · {n} rows") and view[data.error] == ""
    assert form_to_config(replace(form, data_path=str(curated))).data.path == str(curated)  # ready to launch


def test_curation_with_nothing_to_learn_says_what_to_try_and_offers_no_button(app_dirs):
    from app.ui import build_page

    page = build_page()
    box = page.rewards.probe.curation
    curate = handler(page, box.button, box.result)
    task = uploaded_task(settings.uploads_dir())
    *_, last = curate(page_values(page, capitals_form(task, pattern="."), ["question", "answer", "topic"]))
    assert last[box.result].startswith("⚠ 0 of 8 questions are learnable for this model (too easy: 8, too hard: 0); "
                                       "none to train on: try harder questions or a higher temperature.")
    assert last[box.apply] == {"__type__": "update", "visible": False} and last[box.report]["output"] is None

    # A form the engine cannot curate (no reward says what a pass is): the engine's one sentence, in the box.
    no_pass = capitals_form(task)
    no_pass.rewards = [starter_for_kind(RewardRow(name="short", kind="length"))]
    *_, failed = curate(page_values(page, no_pass, ["question", "answer", "topic"]))
    assert failed[box.result].startswith("✗ The curation could not run: ") and "add one to curate" in \
        failed[box.result]
    assert not failed[box.apply]["visible"] and failed[box.report] is None
    # A form with a problem never starts a job: the problem, in the box.
    (refused,) = curate(page_values(page, capitals_form("/etc/passwd"), ["question", "answer", "topic"]))
    assert refused[box.result].startswith("✗ ") and "'/etc/passwd' is not a file uploaded here" in refused[box.result]


def test_the_arithmetic_sample_is_written_once_and_its_held_out_file_named(app_dirs):
    from app.web_paths import web_data_path

    path, message = data_step.arithmetic_sample("medium")
    train = Path(path)
    assert train == settings.arithmetic_samples_dir() / "arithmetic-medium-train.jsonl"
    assert len(train.read_text().splitlines()) == 2000 and train.with_name("arithmetic-medium-test.jsonl").is_file()
    assert "arithmetic-medium-test.jsonl holds 300 held-out questions" in message and "engine eval" in message
    assert web_data_path(path) == str(train.resolve())  # the page may use it
    assert data_step.arithmetic_sample("medium")[0] == path  # written on first use only
    assert data_step.arithmetic_sample("impossible") == (None, "✗ Pick a difficulty: easy, medium, hard.")


def test_the_cpu_demo_banner_opens_the_bundled_gpu_run(app_dirs, monkeypatch):
    from app import machine
    from app.example_runs import example_ids
    from app.ui import build_page

    monkeypatch.setenv("GRPO_STUDIO_CPU_DEMO", "1")
    machine.gpu_info.cache_clear()
    try:
        page = build_page()
    finally:
        machine.gpu_info.cache_clear()
    button = element(page.demo, "cpu-demo-example")
    opened = handler(page, button, page.watched_run)()
    assert opened[page.watched_run] == example_ids()[0] and opened[page.tabs].selected == "train"
    banner = element(page.demo, "cpu-demo-banner").children[0].value
    assert "no run will show a model getting better" in banner

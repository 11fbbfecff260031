"""Data files through `datasets`: every format, column mapping, GSM8K gold extraction, and bad files."""

import json

import pandas as pd
import pytest

from engine.config import build_config
from engine.data import load_table, prepare_data, start_answers_with_prefix
from engine.model_names import load_tokenizer, resolve_model_path
from engine.problems import ConfigError

from tests.conftest import DATA

ROWS = [{"problem": f"What is {i} + {i}?", "solution": f"Double it. #### {2 * i}", "id": i} for i in range(1, 11)]


def config_for(path, **data):
    return build_config({"preset": "rlvr-math", "data": {"path": str(path), **data}})


def write(tmp_path, name, rows=ROWS):
    path = tmp_path / name
    frame = pd.DataFrame(rows)
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif name.endswith(".json"):
        path.write_text(json.dumps(rows))
    elif name.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("name", ["data.jsonl", "data.json", "data.csv", "data.parquet"])
def test_each_format_loads_and_maps_columns(tmp_path, name):
    data = prepare_data(config_for(write(tmp_path, name), eval_fraction=0.2))
    assert (data.columns.prompt, data.columns.answer) == ("problem", "solution")
    assert data.total_rows == 10 and len(data.train) == 8 and len(data.eval) == 2
    example = data.train[0]
    assert [m["role"] for m in example["prompt"]] == ["system", "user"]
    assert "<thought>" in example["prompt"][0]["content"]  # tag placeholders filled in the system prompt
    assert example["answer"].isdigit()  # "#### 14" -> "14" by the preset's answer_pattern


def test_gsm8k_slice_gold_answers_are_the_number_after_the_marker():
    data = prepare_data(config_for(DATA / "gsm8k_slice.jsonl", eval_fraction=0.0))
    source = [json.loads(line) for line in (DATA / "gsm8k_slice.jsonl").read_text().splitlines()]
    gold_by_question = {r["question"]: r["answer"].split("####")[-1].strip() for r in source}
    assert len(data.train) == len(source) == 64
    for row in data.train:
        assert row["answer"] == gold_by_question[row["prompt"][-1]["content"]]
    assert all(r["answer"].replace(",", "").lstrip("-").isdigit() for r in data.train)


def test_columns_can_be_chosen_and_answers_without_marker_are_used_whole(tmp_path):
    rows = [{"q": "Capital of France?", "gold": "Paris"}, {"q": "2+2?", "gold": "4"}]
    data = prepare_data(config_for(write(tmp_path, "d.csv", rows), prompt_column="q", answer_column="gold",
                                   eval_fraction=0.0))
    assert sorted(r["answer"] for r in data.train) == ["4", "Paris"]


def test_too_long_prompts_are_dropped_and_counted(tmp_path):
    rows = ROWS[:4] + [{"problem": "word " * 900, "solution": "1"}]
    config = build_config({"preset": "rlvr-math", "data": {"path": str(write(tmp_path, "d.jsonl", rows)),
                                                           "eval_fraction": 0.0},
                           "model": {"max_seq_length": 1024}, "train": {"max_completion_length": 256}})
    tokenizer = load_tokenizer(resolve_model_path("builtin:tiny"))
    data = prepare_data(config, tokenizer)
    assert data.dropped_too_long == 1 and len(data.train) == 4
    assert "1 dropped (prompt too long)" in data.describe()


def problem_for(path, **data) -> str:
    with pytest.raises(ConfigError) as caught:
        prepare_data(config_for(path, **data))
    assert len(caught.value.problems) == 1
    return str(caught.value.problems[0])


def test_bad_files_get_one_sentence_naming_file_and_line(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("problem,solution\nCaf\xe9?,1\n".encode("latin-1"))
    assert problem_for(latin) == ("data.path: latin.csv is not UTF-8 text (line 2); save it as UTF-8 and "
                                  "upload again")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"problem": "a", "solution": "1"}\n{"problem": "b", "solution": }\n')
    assert problem_for(broken).startswith("data.path: broken.jsonl line 2 is not valid JSON")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert problem_for(empty) == "data.path: empty.jsonl is empty"
    assert problem_for(tmp_path / "missing.csv") == f"data.path: file {tmp_path / 'missing.csv'} does not exist"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "not a supported file" in problem_for(text)
    parquet = tmp_path / "fake.parquet"
    parquet.write_text("not parquet at all")
    assert problem_for(parquet).startswith("data.path: fake.parquet cannot be read as PARQUET")


def test_missing_and_empty_columns(tmp_path):
    path = write(tmp_path, "d.csv")
    assert problem_for(path, prompt_column="question") == (
        "data.prompt_column: column 'question' is not in d.csv; its columns are: problem, solution, id")
    assert "column 'gold' is not in d.csv" in problem_for(path, answer_column="gold")
    no_prompt = write(tmp_path, "odd.csv", [{"text": "a", "solution": "1"}])
    assert "no prompt column found in odd.csv" in problem_for(no_prompt)
    blank = write(tmp_path, "blank.jsonl", [{"problem": "", "solution": "1"}, {"problem": None, "solution": "2"}])
    assert "every row of blank.jsonl has an empty 'problem'" in problem_for(blank)


def test_answer_match_needs_an_answer_column(tmp_path):
    path = write(tmp_path, "d.csv", [{"problem": "a"}, {"problem": "b"}])
    assert "needs gold answers" in problem_for(path)
    reasoning = build_config({"preset": "reasoning", "data": {"path": str(path)}})  # format-only: fine
    assert prepare_data(reasoning).columns.answer is None


def test_load_table_reads_through_datasets(tmp_path):
    table = load_table(str(write(tmp_path, "d.parquet")))
    assert type(table).__module__.startswith("datasets") and len(table) == 10
    with pytest.raises(ConfigError, match="cannot load hub dataset 'nobody/nothing'"):
        load_table("hf:nobody/nothing")  # offline here: a sentence, not a traceback


def test_instructions_can_go_in_the_user_turn(tmp_path):
    path = write(tmp_path, "d.jsonl")
    as_system = prepare_data(config_for(path)).train[0]["prompt"]
    config = build_config({"preset": "rlvr-math", "data": {"path": str(path)}, "prompt": {"instructions_in": "user"}})
    as_user = prepare_data(config).train[0]["prompt"]
    assert [m["role"] for m in as_user] == ["user"]
    assert as_user[0]["content"] == as_system[0]["content"] + "\n\n" + as_system[1]["content"]


def test_start_with_thought_ends_the_generation_prompt_with_the_thought_tag():
    config = build_config({"preset": "reasoning", "prompt": {"start_with_thought": True}})
    tokenizer = load_tokenizer(resolve_model_path("builtin:tiny"))
    question = [{"role": "user", "content": "2 + 2?"}]
    before = tokenizer.apply_chat_template(question, add_generation_prompt=True, tokenize=False)
    start_answers_with_prefix(tokenizer, config.prompt)
    start_answers_with_prefix(tokenizer, config.prompt)  # twice: still one tag
    after = tokenizer.apply_chat_template(question, add_generation_prompt=True, tokenize=False)
    assert after == before + "<thought>\n"
    finished = question + [{"role": "assistant", "content": "4"}]  # a whole conversation is rendered as before
    assert tokenizer.apply_chat_template(finished, tokenize=False).endswith("assistant\n4<|im_end|>\n")
    off = build_config({"preset": "reasoning", "prompt": {"start_with_thought": False}})
    plain = load_tokenizer(resolve_model_path("builtin:tiny"))
    start_answers_with_prefix(plain, off.prompt)
    assert plain.apply_chat_template(question, add_generation_prompt=True, tokenize=False) == before


@pytest.mark.parametrize("name", ["data.jsonl", "data.parquet"])
def test_a_question_or_answer_that_is_an_object_or_a_list_is_refused(tmp_path, name):
    """A nested cell would reach the model as its Python repr ("{'text': ...}"): refused, with the row."""
    rows = [dict(r, problem={"text": r["problem"], "lang": "en"}) for r in ROWS]  # parquet: one type per column
    with pytest.raises(ConfigError) as caught:
        prepare_data(config_for(write(tmp_path, name, rows)))
    [problem] = caught.value.problems
    assert problem.key == "data.prompt_column" and "holds an object in row 1" in problem.message
    rows = [dict(r, solution=["#### 2", "two"]) for r in ROWS]
    with pytest.raises(ConfigError, match="column 'solution' holds a list in row 1"):
        prepare_data(config_for(write(tmp_path, name, rows)))

"""A hostile corpus for `engine check`: files that are folders, devices, pipes, huge, sparse or binary; names
outside presets/; absurd numbers (5000 digits, NaN, infinity, true for a count); 100k-character strings; regexes
that do not compile or backtrack catastrophically. Each gets exit 2 and one short sentence, never a traceback.

The CLI's own `main` runs in-process (the same code path as `python -m engine check`, minus the interpreter start);
two cases also run as real processes to show the exit status and stderr of the command itself.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import REPO, run_check, run_engine

QUICKSTART = REPO / "examples" / "quickstart.yaml"
DIGITS = "9" * 5000
LONG = "x" * 100_000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Hostile files, made once: sparse ones take no disk space."""
    root = tmp_path_factory.mktemp("hostile")
    made = {"folder": root / "folder", "folder.jsonl": root / "folder.jsonl", "fifo.jsonl": root / "fifo.jsonl",
            "zero.jsonl": root / "zero.jsonl", "huge.csv": root / "huge.csv", "zeros.csv": root / "zeros.csv",
            "long-line.jsonl": root / "long-line.jsonl", "latin1.jsonl": root / "latin1.jsonl",
            "list-line.jsonl": root / "list-line.jsonl", "deep.jsonl": root / "deep.jsonl",
            "catastrophic.jsonl": root / "catastrophic.jsonl", "config-folder": root / "config-folder",
            "config-fifo.yaml": root / "config-fifo.yaml", "config-huge.yaml": root / "config-huge.yaml",
            "config-latin1.yaml": root / "config-latin1.yaml", "config-deep.yaml": root / "config-deep.yaml",
            "config-digits.yaml": root / "config-digits.yaml", "config-nul.yaml": root / "config-nul.yaml",
            "config-aliases.yaml": root / "config-aliases.yaml", "config-zero.yaml": root / "config-zero.yaml"}
    made["folder"].mkdir()
    made["folder.jsonl"].mkdir()
    os.mkfifo(made["fifo.jsonl"])
    os.symlink("/dev/zero", made["zero.jsonl"])
    with open(made["huge.csv"], "wb") as f:
        f.truncate(3 * 2**30)  # sparse: 3 GiB of nothing
    with open(made["zeros.csv"], "wb") as f:
        f.truncate(8 * 2**20)  # sparse NUL bytes
    made["long-line.jsonl"].write_bytes(b'{"question": "' + b"a" * (17 * 2**20) + b'"}\n')
    made["latin1.jsonl"].write_bytes('{"question": "ok", "answer": "1"}\n{"question": "caf\xe9"}\n'.encode("latin-1"))
    made["list-line.jsonl"].write_text('[1, 2, 3]\n')
    made["deep.jsonl"].write_text("[" * 100_000 + "]" * 100_000 + "\n")
    made["catastrophic.jsonl"].write_text("".join(json.dumps({"question": f"q{i}", "answer": "a" * 40 + "!"}) + "\n"
                                                  for i in range(8)))
    made["config-folder"].mkdir()
    os.mkfifo(made["config-fifo.yaml"])
    with open(made["config-huge.yaml"], "wb") as f:
        f.truncate(50 * 2**20)
    made["config-latin1.yaml"].write_bytes("model: {name: caf\xe9}\n".encode("latin-1"))
    made["config-deep.yaml"].write_text("model: " + "[" * 20_000 + "]" * 20_000 + "\n")
    made["config-digits.yaml"].write_text(f"preset: rlvr-math\ntrain: {{max_steps: {DIGITS}}}\n")
    made["config-nul.yaml"].write_text('preset: rlvr-math\ndata: {path: "tests/data/gsm8k_slice\\0.jsonl"}\n')
    made["config-aliases.yaml"].write_text(  # "billion laughs": aliases that expand to 10^9 items if copied out
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\npreset: rlvr-math\nrewards: *i\n")
    os.symlink("/dev/zero", made["config-zero.yaml"])
    return made


# (case id, config file or None for the quickstart, --set overrides, what the one sentence says)
CASES = [
    # data files
    ("data-folder", None, ["data.path={folder}"], "is a folder, not a file"),
    ("data-folder-named-jsonl", None, ["data.path={folder.jsonl}"], "is a folder, not a file"),
    ("data-fifo", None, ["data.path={fifo.jsonl}"], "is not a regular file but a device, pipe or socket"),
    ("data-dev-zero-link", None, ["data.path={zero.jsonl}"], "is not a regular file but a device, pipe or socket"),
    ("data-dev-zero", None, ["data.path=/dev/zero"], "is not a regular file but a device, pipe or socket"),
    ("data-huge-sparse", None, ["data.path={huge.csv}"], "huge.csv is 3.0 GiB; data files may be at most 1 GiB"),
    ("data-sparse-nul", None, ["data.path={zeros.csv}"], "zeros.csv contains NUL bytes (line 1)"),
    ("data-long-line", None, ["data.path={long-line.jsonl}"], "line 1 is longer than 16 MiB"),
    ("data-not-utf8", None, ["data.path={latin1.jsonl}"], "latin1.jsonl is not UTF-8 text (line 2)"),
    ("data-list-line", None, ["data.path={list-line.jsonl}"], "line 1 is not a JSON object"),
    ("data-deep-json", None, ["data.path={deep.jsonl}"], "line 1 is not valid JSON (nested too deeply)"),
    ("data-path-100k", None, [f"data.path={LONG}"], "data.path: String should have at most 4096 characters"),
    ("data-path-name-too-long", None, [f"data.path=/tmp/{'n' * 300}.jsonl"], "cannot be read (File name too long)"),
    ("data-path-nul", "config-nul.yaml", [], "data.path: contains a NUL character"),
    ("answer-pattern-invalid", None, ["data.answer_pattern=(("], "data.answer_pattern: the regex does not compile"),
    ("answer-pattern-catastrophic", None, ["data.path={catastrophic.jsonl}", "data.answer_pattern=(a|aa)+$"],
     "data.answer_pattern: the regex took longer than 0.5 s"),
    ("answer-pattern-100k", None, [f"data.answer_pattern={LONG}"], "at most 2000 characters"),
    # repeat counts that `regex` expands when it compiles (10^9 took the app to 16 GB and the OOM killer)
    ("answer-pattern-huge-repeat", None, ["data.answer_pattern=x{1000000000}"],
     "data.answer_pattern: the regex is too large to compile"),
    ("answer-pattern-nested-repeats", None, ["data.answer_pattern=((x{1000}){1000}){1000}"],
     "data.answer_pattern: the regex is too large to compile"),
    ("reward-pattern-huge-repeat", None, ['rewards=[{name: big, kind: regex_match, pattern: "(ab){1000000000}"}]'],
     "rewards[0] (big).pattern: the regex is too large to compile"),
    ("answer-match-pattern-huge-repeat", None,
     ['rewards=[{name: right, kind: answer_match, pattern: "{answer_open}(.{1000000000}){answer_close}"}]'],
     "rewards[0] (right).pattern: the regex is too large to compile"),
    # presets
    ("preset-traversal", None, ["preset=../../etc/passwd"], "preset: there is no preset '../../etc/passwd'"),
    ("preset-absolute", None, ["preset=/etc/hostname"], "preset: there is no preset '/etc/hostname'"),
    ("preset-dots", None, ["preset=.."], "preset: there is no preset '..'"),
    ("preset-list", None, ["preset=[rlvr-math]"], "preset: must be the name of a preset"),
    ("preset-digits", None, [f"preset={DIGITS}"], "preset: the value cannot be read (Exceeds the limit"),
    # numbers
    ("bool-for-int", None, ["train.max_steps=true"], "train.max_steps: must be a whole number, not true"),
    ("bool-for-float", None, ["train.learning_rate=false"], "train.learning_rate: must be a number, not false"),
    ("digits-5000", None, [f"train.max_steps={DIGITS}"], "train.max_steps: the value cannot be read"),
    ("digits-4000-seed", None, ["train.seed=" + "9" * 4000],
     "train.seed: Input should be less than or equal to 4294967295 (got 99999999999"),
    ("nan", None, ["train.learning_rate=.nan"], "train.learning_rate: must be a finite number"),
    ("infinity", None, ["train.temperature=.inf"], "train.temperature: must be a finite number"),
    ("negative-infinity", None, ["model.gpu_memory_utilization=-.inf"], "must be a finite number"),
    ("float-for-int", None, ["train.batch_size=4.5"], "train.batch_size: Input should be a valid integer"),
    ("huge-float-for-int", None, ["data.max_rows=1e400"], "data.max_rows: Input should be a valid integer"),
    ("seed-negative", None, ["data.seed=-1"], "data.seed: Input should be greater than or equal to 0"),
    # strings
    ("model-name-100k", None, [f"model.name={LONG}"], "model.name: String should have at most 4096 characters"),
    ("model-name-long-component", None, ["model.name=" + "m" * 300],
     "model.name: 'mmmmmmmmmmmmmmmm"),
    ("system-prompt-100k", None, [f"prompt.system_prompt={LONG}"], "at most 50000 characters"),
    ("column-100k", None, [f"data.prompt_column={LONG}"], "at most 256 characters"),
    ("bool-for-text", None, ["model.name=true"], "model.name: must be text, not true"),
    ("section-as-text", None, ["model=just text"], "model: Input should be a valid dictionary"),
    ("rewards-as-text", None, ["rewards=not a list"], "rewards: Input should be a valid list"),
    ("override-without-equals", None, ["train.max_steps"], "--set: 'train.max_steps' is not key=value"),
    ("override-bad-yaml", None, ["train.max_steps=[1"], "train.max_steps: the value is not valid YAML"),
    # config files
    ("config-missing", "does-not-exist.yaml", [], "config file does-not-exist.yaml does not exist"),
    ("config-folder", "config-folder", [], "config-folder/config.yaml does not exist"),  # taken for a run folder
    ("config-fifo", "config-fifo.yaml", [], "is not a regular file but a device, pipe or socket"),
    ("config-dev-zero", "config-zero.yaml", [], "is not a regular file but a device, pipe or socket"),
    ("config-huge-sparse", "config-huge.yaml", [], "config-huge.yaml is 50.0 MiB; a config file may be at most 1 MiB"),
    ("config-not-utf8", "config-latin1.yaml", [], "config-latin1.yaml is not UTF-8 text (byte 17)"),
    ("config-deep", "config-deep.yaml", [], "cannot be read as a config"),
    ("config-digits", "config-digits.yaml", [], "cannot be read as a config (Exceeds the limit (4300 digits)"),
    ("config-billion-laughs", "config-aliases.yaml", [], "rewards.0: Input should be a valid dictionary"),
]


def test_the_first_check_on_a_fresh_machine_prints_only_its_problems(files, capsys, monkeypatch, tmp_path):
    """The first check builds the built-in model into an empty cache: transformers' "Writing model shards" bar must not
    land in stderr before the problems (the app and scripts read those lines; a fresh clone's test order showed it)."""
    monkeypatch.setenv("GRPO_STUDIO_CACHE_DIR", str(tmp_path / "empty-cache"))
    code, err = run_check(QUICKSTART, [f"data.path={files['folder']}"], capsys)
    assert code == 2 and err.splitlines()[0] == "1 problem:", err[:2000]
    assert (tmp_path / "empty-cache").is_dir()  # the model was built there


@pytest.mark.parametrize("case, config, overrides, sentence", CASES, ids=[c[0] for c in CASES])
def test_each_hostile_input_is_exit_2_and_one_short_sentence(case, config, overrides, sentence, files, capsys):
    config_path = QUICKSTART if config is None else files.get(config, config)
    for name, path in files.items():
        overrides = [o.replace("{" + name + "}", str(path)) for o in overrides]
    code, err = run_check(config_path, overrides, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    problems = [line for line in lines[1:] if line.startswith("  - ")]
    assert lines[0].endswith(("problem:", "problems:")) and len(problems) == len(lines) - 1, err[:2000]
    assert any(sentence in line for line in problems), err[:2000]
    # One sentence each: short, whatever the size of the input (100k characters, 5000 digits, a 10^9-item alias).
    assert all(len(line) < 400 for line in problems), max(map(len, problems))
    assert len(problems) <= 11  # ten, then "... and N more"


def test_the_cli_itself_exits_2_with_the_sentence(files):
    """Two cases as real `python -m engine check` processes: the exit status and stderr of the command."""
    for config, sentence in ((files["config-fifo.yaml"], "is not a regular file but a device, pipe or socket"),
                             (files["config-digits.yaml"], "Exceeds the limit (4300 digits)")):
        result = run_engine("check", config, timeout=120)
        assert result.returncode == 2 and sentence in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 2


def test_a_huge_repeat_count_is_exit_2_in_seconds_from_the_cli_itself():
    """`engine check --set "data.answer_pattern=x{10000000}"` ran for more than 120 s (compiling had no bound)."""
    started = time.monotonic()
    result = run_engine("check", QUICKSTART, "--set", "data.answer_pattern=x{10000000}", timeout=120)
    assert result.returncode == 2 and "data.answer_pattern: the regex is too large to compile" in result.stderr, \
        result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 2
    assert time.monotonic() - started < 60  # the interpreter, torch and the tokenizer; the trial itself ~0.2 s


def test_a_pattern_is_compiled_within_bounds_once_and_then_from_the_cache():
    from engine.rewards.safe_regex import PatternRefused, compile_bounded

    started = time.monotonic()
    with pytest.raises(PatternRefused):
        compile_bounded("(x{1000}){1000000}", 0)
    assert time.monotonic() - started < 10
    sane = compile_bounded(r"####\s*(\d{1,6})", 0)
    assert sane.search("so #### 42").group(1) == "42"
    assert compile_bounded(r"####\s*(\d{1,6})", 0) is sane  # no second trial process


def test_check_says_what_happens_to_rows_with_very_long_prompts_and_null_cells(tmp_path, capsys):
    """Check said "Ready to train" for a file of very long prompts and a file of null cells, without a word about
    those rows."""
    from engine.cli import main

    long = tmp_path / "long.jsonl"
    long.write_text("".join(json.dumps({"question": "word " * (3000 if i < 15 else 5) + f"q{i}", "answer": str(i)})
                            + "\n" for i in range(20)))
    nulls = tmp_path / "nulls.jsonl"
    nulls.write_text("".join(json.dumps({"question": None if i < 10 else f"what is {i}?",
                                         "answer": None if i in (12, 15) else ("" if i == 18 else str(i))}) + "\n"
                             for i in range(20)))
    assert main(["check", str(QUICKSTART), "--set", f"data.path={long}"]) == 0
    out = capsys.readouterr().out
    assert ("warning: 15 of 20 rows have a prompt longer than the 992 tokens that model.max_seq_length 1024 leaves "
            "after train.max_completion_length 32: they are left out of training; raise model.max_seq_length or "
            "shorten those prompts") in out, out
    assert main(["check", str(QUICKSTART), "--set", f"data.path={nulls}"]) == 0
    out = capsys.readouterr().out
    assert ("warning: 10 of 20 rows have an empty or null 'question' cell: they are left out of training") in out, out
    assert ("warning: 3 of the 10 rows used have an empty or null 'answer' cell: the correct reward does not score "
            "them (the others do), so they teach the format but not the answers") in out, out

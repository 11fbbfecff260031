"""Data: a file (JSONL, JSON, CSV, Parquet) or a hub dataset -> GRPO prompts with gold answers.

load_table    reads the file through `datasets`, after checking it ourselves so that a bad file gets one sentence
              naming the file, the line and what is wrong (datasets' own errors are pages of pyarrow).
map_columns   picks the prompt and answer columns: the config's, or guessed from common names.
build_examples turns rows into {"prompt": [system, user messages], "answer": gold, every column of the row} and
              drops empty prompts.
split_examples drops prompts too long for max_seq_length (with the model's chat template) and holds out the
              eval share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import regex

from engine.config import RunConfig
from engine.problems import ConfigError, Problem, file_problem, short_repr
from engine.prompt_config import PromptConfig
from engine.rewards import kind_of
from engine.rewards.row import column_key

FILE_KINDS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
# Files are read lazily (line by line for the checks, then memory-mapped Arrow through `datasets`), but a data file
# beyond this is a mistake more often than a dataset for one GPU; the message says the limit.
MAX_DATA_BYTES = 2**30
MAX_LINE_BYTES = 16 * 2**20  # one question and answer per line; a longer line is not a row
JSON_PRECHECK_BYTES = 64 * 2**20  # a whole-document .json is parsed up front only below this (better messages)
ANSWER_PATTERN_TIMEOUT_S = 0.5
PROMPT_NAMES = ("question", "problem", "prompt", "input", "query", "instruction")
ANSWER_NAMES = ("answer", "solution", "output", "label", "target", "response")


def _error(key: str, message: str) -> ConfigError:
    return ConfigError([Problem(key, message)])


# ---------------------------------------------------------------------------------------------------------------
# Reading

def load_table(path: str):
    """A `datasets.Dataset` with every row of the file (or hub dataset). Raises ConfigError with one sentence."""
    import datasets

    datasets.disable_progress_bars()
    if not path:
        raise _error("data.path", "no data file given; upload a file or set data.path")
    if path.startswith("hf:"):
        return _load_hub_dataset(path)
    file = Path(path).expanduser()
    problem = file_problem(file, "file")
    if problem:
        raise _error("data.path", problem)
    kind = FILE_KINDS.get(file.suffix.lower())
    if kind is None:
        raise _error("data.path", f"{short_repr(file.name, 80)[1:-1]} is not a supported file; use .jsonl, .json, "
                                  ".csv or .parquet")
    size = file.stat().st_size
    if size == 0:
        raise _error("data.path", f"{file.name} is empty")
    if size > MAX_DATA_BYTES:
        raise _error("data.path", f"{file.name} is {size / 2**30:.1f} GiB; data files may be at most "
                                  f"{MAX_DATA_BYTES / 2**30:.0f} GiB: use a slice of it (data.max_rows only limits "
                                  "what is used after reading)")
    if kind != "parquet":
        _check_text_file(file)
    try:
        table = datasets.load_dataset(kind, data_files=str(file), split="train")
    except Exception as e:  # pyarrow and pandas raise many types; all mean "this file cannot be read as <kind>"
        raise _error("data.path", f"{file.name} cannot be read as {kind.upper()}: {_first_line(e)}") from None
    if len(table) == 0:
        raise _error("data.path", f"{file.name} has no rows")
    return table


def _check_text_file(file: Path) -> None:
    """UTF-8 text without NUL bytes, and for .jsonl one JSON object per line: read line by line, so a large file
    is never held in memory whole."""
    jsonl = file.suffix.lower() == ".jsonl"
    seen_text = False
    with open(file, "rb") as f:
        number = 0
        while line := f.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES:
                raise _error("data.path", f"{file.name} line {number} is longer than {MAX_LINE_BYTES // 2**20} MiB; "
                                          "one row per line is expected")
            if b"\0" in line:
                raise _error("data.path", f"{file.name} contains NUL bytes (line {number}): it is a binary file, "
                                          "not text; save it as UTF-8 text")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise _error("data.path", f"{file.name} is not UTF-8 text (line {number}); save it as UTF-8 and "
                                          "upload again") from None
            if not text.strip():
                continue
            seen_text = True
            if jsonl:
                try:
                    record = json.loads(text)
                except (json.JSONDecodeError, RecursionError) as e:
                    raise _error("data.path", f"{file.name} line {number} is not valid JSON "
                                              f"({getattr(e, 'msg', 'nested too deeply')}); fix or remove that "
                                              "line") from None
                if not isinstance(record, dict):
                    raise _error("data.path", f"{file.name} line {number} is not a JSON object with named columns")
    if not seen_text:
        raise _error("data.path", f"{file.name} is empty")
    if file.suffix.lower() == ".json" and file.stat().st_size <= JSON_PRECHECK_BYTES:
        text = file.read_text(encoding="utf-8")
        try:
            json.loads(text)
        except RecursionError:
            raise _error("data.path", f"{file.name} is nested too deeply to be a table") from None
        except json.JSONDecodeError as e:
            # A .json file may be JSON Lines too; datasets reads both, so only reject what is neither.
            if not all(_is_json(line) for line in text.splitlines() if line.strip()):
                raise _error("data.path", f"{file.name} is not valid JSON (line {e.lineno}: {e.msg})") from None


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except (json.JSONDecodeError, RecursionError):
        return False


def _load_hub_dataset(path: str):
    import datasets

    parts = path[3:].split(":")
    name, subset, split = parts[0], (parts[1] if len(parts) > 1 and parts[1] else None), \
        (parts[2] if len(parts) > 2 and parts[2] else "train")
    try:
        return datasets.load_dataset(name, subset, split=split)
    except Exception as e:  # offline, unknown id, gated, bad split: all one sentence for the user
        raise _error("data.path", f"cannot load hub dataset '{name}'"
                                  f"{f' ({subset})' if subset else ''} split '{split}': {_first_line(e)}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


# ---------------------------------------------------------------------------------------------------------------
# Columns and examples

@dataclass(frozen=True)
class ColumnMap:
    prompt: str
    answer: str | None


def guess_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def map_columns(config: RunConfig, columns: list[str], file_name: str) -> ColumnMap:
    listed = ", ".join(columns)
    prompt = config.data.prompt_column or guess_column(columns, PROMPT_NAMES)
    if prompt is None:
        raise _error("data.prompt_column", f"no prompt column found in {file_name} (columns: {listed}); "
                                           "choose which column holds the question")
    if prompt not in columns:
        raise _error("data.prompt_column", f"column '{prompt}' is not in {file_name}; its columns are: {listed}")
    answer = config.data.answer_column or guess_column(columns, ANSWER_NAMES)
    if answer is not None and answer not in columns:
        raise _error("data.answer_column", f"column '{answer}' is not in {file_name}; its columns are: {listed}")
    for index, spec in enumerate(config.rewards):
        if answer is None and kind_of(spec).needs_gold:
            raise _error("data.answer_column", f"the {spec.kind} reward '{spec.name}' needs gold answers, but "
                                               f"{file_name} has no answer column (columns: {listed}); choose one")
        missing = [c for c in kind_of(spec).columns(spec) if c not in columns]
        if missing:
            raise _error(f"rewards[{index}] ({spec.name})", f"reads the column '{missing[0]}', which {file_name} "
                                                            f"does not have (columns: {listed})")
    return ColumnMap(prompt, answer)


def gold_pattern(text: str | None) -> regex.Pattern | None:
    """data.answer_pattern compiled as extract_gold uses it (MULTILINE: GSM8K's marker ends the last line).
    ConfigError (data.answer_pattern) when it does not compile."""
    if not text or not text.strip():
        return None
    try:
        return regex.compile(text, regex.MULTILINE)
    except (regex.error, ValueError, OverflowError, RecursionError) as e:
        raise _error("data.answer_pattern", f"the regex does not compile: {e}; fix the pattern or leave it "
                                            "empty") from None


def extract_gold(value, pattern: regex.Pattern | None) -> str | None:
    """The gold answer from an answer cell: the pattern's group 1 where it matches, else the whole cell. Every
    search runs under a timeout: ConfigError (data.answer_pattern) for a pattern that backtracks catastrophically."""
    if value is None:
        return None
    text = str(value).strip()
    if pattern is not None:
        try:
            found = pattern.search(text, timeout=ANSWER_PATTERN_TIMEOUT_S)
        except TimeoutError:
            raise _error("data.answer_pattern", f"the regex took longer than {ANSWER_PATTERN_TIMEOUT_S:g} s on the "
                                                f"answer {short_repr(text, 50)} (catastrophic backtracking); "
                                                "simplify nested repeats like (a+)+") from None
        if found:
            return (found.group(1) if pattern.groups else found.group(0)).strip()
    return text


def system_prompt(config: RunConfig) -> str:
    return config.prompt.fill(config.prompt.system_prompt)


def make_prompt(config: RunConfig, question: str) -> list[dict]:
    instructions = system_prompt(config).strip()
    if not instructions:
        return [{"role": "user", "content": question}]
    if config.prompt.instructions_in == "user":
        return [{"role": "user", "content": f"{instructions}\n\n{question}"}]
    return [{"role": "system", "content": instructions}, {"role": "user", "content": question}]


def start_answers_with_prefix(tokenizer, prompt: PromptConfig) -> None:
    """With prompt.start_with_thought, make the chat template's generation prompt end with the thought tag (as
    DeepSeek-R1's ends with '<think>\\n'). One change in the tokenizer reaches every place that renders a prompt:
    TRL's rollouts (HF or vLLM), eval, the app's chat, and the tokenizer saved beside the adapter and the merged
    model. A template that already ends so is left alone, so calling this twice is harmless."""
    prefix = prompt.answer_prefix()
    if not prefix:
        return
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "?"}], add_generation_prompt=True,
                                             tokenize=False)
    if rendered.endswith(prefix):
        return
    # Appended after the whole template, guarded by add_generation_prompt: it lands right after the assistant header.
    # json.dumps gives a Jinja string literal with the newline escaped.
    tokenizer.chat_template += "{% if add_generation_prompt %}{{ " + json.dumps(prefix) + " }}{% endif %}"


@dataclass
class Examples:
    rows: list[dict]  # {"prompt": messages, "answer": gold or None, every column of the file by column_key}
    columns: ColumnMap
    total_rows: int
    empty_prompts: int


def build_examples(config: RunConfig, table, file_name: str) -> Examples:
    columns = map_columns(config, list(table.column_names), file_name)
    pattern = gold_pattern(config.data.answer_pattern)
    rows, empty = [], 0
    for number, record in enumerate(table, start=1):
        example = _example(config, columns, pattern, record, number)
        if example is None:
            empty += 1
        else:
            rows.append(example)
    if not rows:
        raise _error("data.prompt_column", f"every row of {file_name} has an empty '{columns.prompt}'; "
                                           "choose the column that holds the questions")
    return Examples(rows, columns, len(table), empty)


def example_of(config: RunConfig, record: dict, source: str) -> dict:
    """One row of data as training sees it (one of build_examples' examples), e.g. for `engine score --row`.
    ConfigError for what build_examples refuses: a column a reward reads that the row lacks, an empty question."""
    columns = map_columns(config, list(record), source)
    example = _example(config, columns, gold_pattern(config.data.answer_pattern), record, 1)
    if example is None:
        raise _error("data.prompt_column", f"the question ('{columns.prompt}') of {source} is empty")
    return example


def _example(config: RunConfig, columns: ColumnMap, pattern: regex.Pattern | None, record: dict,
             number: int) -> dict | None:
    """A row as an example, or None when its question is empty."""
    question = record.get(columns.prompt)
    _refuse_nested(columns.prompt, question, number, "data.prompt_column", "the question")
    if columns.answer:
        _refuse_nested(columns.answer, record.get(columns.answer), number, "data.answer_column", "the answer")
    if question is None or str(question).strip() == "":
        return None
    gold = extract_gold(record.get(columns.answer), pattern) if columns.answer else None
    # Every column rides along (TRL hands extra columns to the reward functions), under a key of its own where
    # its name is one of TRL's or ours (engine.rewards.row).
    return {**{column_key(name): value for name, value in record.items()},
            "prompt": make_prompt(config, str(question)), "answer": gold}


def _refuse_nested(column: str, value, number: int, key: str, what: str) -> None:
    """A list or an object where text belongs (a JSON cell like {"text": ...}) would reach the model as its Python
    repr: refused, naming the row."""
    if isinstance(value, (dict, list, tuple)):
        kind = "an object" if isinstance(value, dict) else "a list"
        raise _error(key, f"column '{column}' holds {kind} in row {number} ({short_repr(value, 50)}), not text; "
                          f"choose a column that holds {what} as plain text, or flatten the file")


@dataclass
class PreparedData:
    train: list[dict]
    eval: list[dict]
    columns: ColumnMap
    total_rows: int
    dropped_empty: int
    dropped_too_long: int
    longest_prompt_tokens: int | None

    def describe(self) -> str:
        parts = [f"{self.total_rows} rows", f"{len(self.train)} for training", f"{len(self.eval)} held out"]
        if self.dropped_empty:
            parts.append(f"{self.dropped_empty} dropped (empty prompt)")
        if self.dropped_too_long:
            parts.append(f"{self.dropped_too_long} dropped (prompt too long)")
        return ", ".join(parts)


def prompt_token_count(tokenizer, messages: list[dict]) -> int:
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # some tokenizers return a BatchEncoding
        ids = ids["input_ids"]
    return len(ids)


def prepare_data(config: RunConfig, tokenizer=None) -> PreparedData:
    """Everything from the file to train/eval examples. With a tokenizer, prompts that leave no room for
    max_completion_length within max_seq_length are dropped (TRL 1.x no longer truncates prompts)."""
    table = load_table(config.data.path)
    file_name = Path(config.data.path).name if not config.data.path.startswith("hf:") else config.data.path
    examples = build_examples(config, table, file_name)
    rows = examples.rows
    too_long, longest = 0, None
    if tokenizer is not None:
        budget = config.model.max_seq_length - config.train.max_completion_length
        lengths = [prompt_token_count(tokenizer, r["prompt"]) for r in rows]
        longest = max(lengths)
        kept = [r for r, n in zip(rows, lengths) if n <= budget]
        too_long = len(rows) - len(kept)
        if not kept:
            raise _error("model.max_seq_length", f"every prompt is longer than the {budget} tokens left after "
                                                 f"max_completion_length (longest {longest}); raise "
                                                 "model.max_seq_length or lower train.max_completion_length")
        rows = kept
    train, held_out = split_rows(rows, config.data.eval_fraction, config.data.seed, config.data.max_rows)
    return PreparedData(train, held_out, examples.columns, examples.total_rows, examples.empty_prompts, too_long,
                        longest)


def split_rows(rows: list[dict], eval_fraction: float, seed: int, max_rows: int | None):
    """Shuffle with the seed, cap at max_rows, hold out eval_fraction (at least one row when asked and possible)."""
    import random

    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    if max_rows:
        shuffled = shuffled[:max_rows]
    n_eval = round(len(shuffled) * eval_fraction)
    if eval_fraction > 0 and n_eval == 0 and len(shuffled) > 1:
        n_eval = 1
    return shuffled[n_eval:], shuffled[:n_eval]

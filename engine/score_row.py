"""The data row `engine score` scores a completion against: `--row JSON`, or row `--index N` of `--data FILE` (the
config's data file without --data), read exactly as training reads a row (engine.data.example_of).

A reward that reads something the command was not given is one sentence (exit 2), never a silent null: a column a
code reward runs (its tests), an empty cell of one, or the gold answer of an answer reward when there is neither
--answer nor a row that holds it.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.config import RunConfig
from engine.data import example_of, load_table, map_columns
from engine.problems import ConfigError, Problem
from engine.rewards import Row, kind_of


def _refused(key: str, message: str) -> ConfigError:
    return ConfigError([Problem(key, message)])


def _row_from_json(text: str) -> dict:
    try:
        record = json.loads(text)
    except ValueError as e:
        raise _refused("--row", f"not a JSON object ({e}); write it as '{{\"column\": \"value\", ...}}'") from None
    if not isinstance(record, dict):
        raise _refused("--row", "not a JSON object; write it as '{\"column\": \"value\", ...}'")
    return record


def _row_from_file(path: str, index: int, from_option: bool) -> tuple[dict, str]:
    try:
        table = load_table(path)
    except ConfigError as error:  # data.path's sentence, said of the option the user typed
        if not from_option:
            raise
        raise ConfigError([Problem("--data", p.message) for p in error.problems]) from None
    name = Path(path).name
    if index < 0:
        raise _refused("--index", f"{index} is not a row number; rows count from 0")
    if index >= len(table):
        raise _refused("--index", f"{index} is past the last row of {name} (rows 0 to {len(table) - 1})")
    return dict(table[index]), f"row {index} of {name}"


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def scoring_row(config: RunConfig, row_json: str | None, data: str | None, index: int | None,
                answer: str | None) -> Row | None:
    """The row to score against (None: no row given), or ConfigError with one sentence per thing missing."""
    if row_json is not None and (index is not None or data is not None):
        raise _refused("--row", "give either --row or --index, not both")
    if data is not None and index is None:
        raise _refused("--data", "give the row's number with --index N (rows count from 0)")
    if row_json is None and index is None:
        _refuse_what_needs_a_row(config, answer)
        return None
    record, source = (_row_from_json(row_json), "--row") if row_json is not None else \
        _row_from_file(data or config.data.path, index, data is not None)
    row = Row.from_example(example_of(config, record, source))
    problems = []
    for i, spec in enumerate(config.rewards):
        where, kind = f"rewards[{i}] ({spec.name})", kind_of(spec)
        problems += [Problem(where, f"the row's '{column}' is empty; choose a row that has it")
                     for column in kind.columns(spec) if _blank(row.columns.get(column))]
        if kind.needs_gold and answer is None and _blank(row.gold):
            column = map_columns(config, list(record), source).answer
            problems.append(Problem(where, f"the row's '{column}' is empty, so there is no gold answer to compare "
                                           "with; give one with --answer GOLD"))
    if problems:
        raise ConfigError(problems)
    return row


def _refuse_what_needs_a_row(config: RunConfig, answer: str | None) -> None:
    problems = []
    for i, spec in enumerate(config.rewards):
        where, kind = f"rewards[{i}] ({spec.name})", kind_of(spec)
        for column in kind.columns(spec)[:1]:  # the first names the row; the others come with it
            problems.append(Problem(where, f"reads the column '{column}' of a data row; give the row with --row "
                                           "JSON or --data FILE --index N"))
        if kind.needs_gold and answer is None:
            problems.append(Problem(where, "compares with a gold answer; give it with --answer GOLD, or the data "
                                           "row with --row JSON or --data FILE --index N"))
    if problems:
        raise ConfigError(problems)

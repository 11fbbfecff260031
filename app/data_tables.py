"""The data files the page reads, as tables: engine.data.load_table, cached by path, modification time and size
(editing a column does not read the file again); the bundled samples; the columns guessed for a question and an
answer."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from engine import settings
from engine.data import ANSWER_NAMES, PROMPT_NAMES, guess_column, load_table

_TABLES: OrderedDict = OrderedDict()  # a few recently read files, so editing a column does not re-read the file
_TABLES_LOCK = threading.Lock()
TABLES_KEPT = 4


def sample_path() -> str:
    return str(settings.sample_data_path())


def code_sample_path() -> str:
    return str(settings.code_sample_data_path())


def _table_key(path: str) -> tuple:
    file = Path(path).expanduser()
    if path.startswith("hf:") or not file.is_file():
        return (path,)
    stat = file.stat()
    return (str(file.resolve()), stat.st_mtime_ns, stat.st_size)


def read_table(path: str):
    """engine.data.load_table, cached by path, modification time and size. Raises ConfigError."""
    key = _table_key(path)
    with _TABLES_LOCK:
        if key in _TABLES:
            _TABLES.move_to_end(key)
            return _TABLES[key]
    table = load_table(path)
    with _TABLES_LOCK:
        _TABLES[key] = table
        while len(_TABLES) > TABLES_KEPT:
            _TABLES.popitem(last=False)
    return table


def guess_columns(columns: list[str]) -> tuple[str | None, str | None]:
    """The question column (guessed, else the first) and the answer column (guessed, else none)."""
    prompt = guess_column(columns, PROMPT_NAMES) or (columns[0] if columns else None)
    answer = guess_column(columns, ANSWER_NAMES)
    return prompt, (answer if answer != prompt else None)

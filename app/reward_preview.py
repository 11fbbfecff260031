"""The rewards step's "try it" box: every reward row's score on one completion, and what its pattern matched (a
regex's match, the answer an answer reward extracted), live as anything is edited.

The completion is graded against one row of the user's data, shown with it: the row "Generate one" answered, else the
data's first row. Its gold answer is the answer column's cell as the rewards see it (after the answer-extraction
regex), so typing the right answer to the question shown scores as right.

Each row is scored on its own (the same engine code path as training: engine.rewards.score_completion), so a
broken row shows its sentence next to it while the other rows still score.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import ConfigError, RunConfig, build_config
from engine.data import extract_gold, gold_pattern
from engine.prompt_config import PromptConfig
from engine.rewards import Row, score_completion

from app.data_tables import guess_columns, read_table
from app.form_state import FormValues, RewardRow, reward_row_problems, row_to_raw, sentence
from app.web_paths import web_data_path


@dataclass(frozen=True)
class TryRow:
    """The data row the box grades against."""
    number: int | None  # its row number in the file (1 = the first); None for the question "Generate one" answered
    question: str
    gold: str | None  # as the rewards see it; None without an answer column (or with a pattern that fails)
    columns: dict  # every column of the row by its own name (a code reward runs the program against its tests)


NO_ROW = TryRow(None, "", None, {})


def try_row(form: FormValues, generated: tuple[str, dict] | None) -> TryRow:
    """The row "Generate one" answered while the data file is still the same, else the file's first row; NO_ROW when
    the file cannot be read (the data step says why). Question and gold come from the form's column choices and
    answer-extraction regex, so they change when those do."""
    if generated is not None and generated[0] == form.data_path:
        number, columns = None, generated[1]
    else:
        try:
            table = read_table(web_data_path(form.data_path))  # the web reads only its uploads and bundled samples
        except ConfigError:  # PathRefused included
            return NO_ROW
        if not len(table):
            return NO_ROW
        number, columns = 1, dict(table[0])
    guessed_prompt, _ = guess_columns(list(columns))
    prompt_column = form.prompt_column if form.prompt_column in columns else guessed_prompt
    question = "" if prompt_column is None or columns.get(prompt_column) is None else str(columns[prompt_column])
    gold = None
    if form.answer_column in columns:
        try:
            gold = extract_gold(columns[form.answer_column], gold_pattern(form.answer_pattern))
        except ConfigError:  # the data step shows the regex's problem; nothing to grade against meanwhile
            gold = None
    return TryRow(number, question, gold, columns)


@dataclass
class RowScore:
    score: float | None
    error: str | None
    weight: float
    matched: str | None = None  # what the pattern matched; None: no match, or a kind that matches nothing
    shows_match: bool = False  # the kind reads a part of the text (regex_match, answer_match)


@dataclass
class Preview:
    rows: list[RowScore]
    total: float


def preview(rows: list[RewardRow], prompt: PromptConfig, completion: str, gold: str | None,
            columns: dict | None = None) -> Preview:
    """Each row's score on `completion` (`columns`: a data row, for rewards that read other columns). A row of a kind
    the web may not use (python) is refused by reward_row_problems before anything of it is built."""
    problems = {int(p.key.split("]")[0].removeprefix("rewards[")): p.message
                for p in reward_row_problems(rows, prompt)}
    results = []
    for index, row in enumerate(rows):
        if index in problems:
            results.append(RowScore(None, sentence(problems[index]), row.weight or 0.0))
            continue
        spec = build_config({"rewards": [row_to_raw(row)]}).rewards[0]
        scored = score_completion(RunConfig(prompt=prompt, rewards=[spec]), completion or "",
                                  gold if gold not in (None, "") else None, Row(columns=columns or {}))
        error = scored["errors"].get(spec.name)
        results.append(RowScore(scored["scores"][spec.name], sentence(error) if error else None, spec.weight,
                                scored["matched"].get(spec.name), spec.name in scored["matched"]))
    total = sum(r.weight * r.score for r in results if r.score is not None)
    return Preview(results, total)

"""The rewards step's "try it" box: every reward row's score on one completion, and what its pattern matched (a
regex's match, the answer an answer reward extracted), live as anything is edited.

Each row is scored on its own (the same engine code path as training: engine.rewards.score_completion), so a
broken row shows its sentence next to it while the other rows still score.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import PromptConfig, RunConfig, build_config
from engine.rewards import Row, score_completion

from app.form_state import RewardRow, reward_row_problems, row_to_raw, sentence


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

"""The bundled learnable task: short arithmetic word problems with numeric answers, made in code.

Why it exists: GRPO learns only from questions the model sometimes gets right (0 < pass rate < 1). GSM8K is out of
reach for a 135M model (0.5% right), so a newcomer's first run taught the tags and nothing else. These problems come
in difficulties a small model can partly solve, so a run on them shows the skill rising, not only the format.

Each row is {"question": "...", "answer": "<number>"}: the columns the data step guesses, and an answer column with
no `####` marker (the rlvr-math preset's answer pattern then takes it whole). `make_split` draws the training rows and
a held-out test set with no question in common, from one seed, so a result on the test set is a result on questions
never trained on.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

NAMES = ("Mia", "Tom", "Ana", "Ben", "Lea", "Sam", "Ivy", "Max", "Zoe", "Leo", "Eva", "Raj", "Kim", "Omar", "Nina")
THINGS = ("apples", "marbles", "books", "stickers", "coins", "pencils", "cookies", "shells", "cards", "stamps")


@dataclass(frozen=True)
class Difficulty:
    help: str
    largest: int  # numbers drawn from 1..largest
    steps: int  # operations applied one after another
    operations: tuple[str, ...]  # "+", "-", "*"


DIFFICULTIES = {
    "easy": Difficulty("one addition or subtraction of numbers up to 10", 10, 1, ("+", "-")),
    "medium": Difficulty("one addition or subtraction of numbers up to 50", 50, 1, ("+", "-")),
    "hard": Difficulty("two steps of addition, subtraction or multiplication, numbers up to 20", 20, 2,
                       ("+", "-", "*")),
}
DEFAULT_DIFFICULTY = "easy"
SAMPLE_TRAIN_ROWS, SAMPLE_TEST_ROWS = 2000, 300

# One sentence per operation: the story says what happens, never the operator, so the model has to read it.
PHRASES = {
    "+": ("{name} gets {n} more.", "Then {name} finds {n} more.", "A friend gives {name} {n} more."),
    "-": ("{name} gives away {n}.", "Then {name} loses {n}.", "{name} uses {n} of them."),
    "*": ("Then the number of {thing} {name} has becomes {n} times as many.",),
}


def _problem(rng: random.Random, level: Difficulty) -> tuple[str, int]:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    value = rng.randint(1, level.largest)
    sentences = [f"{name} has {value} {thing}."]
    for _ in range(level.steps):
        operation = rng.choice(level.operations)
        if operation == "-" and value < 1:
            operation = "+"
        n = rng.randint(1, value) if operation == "-" else rng.randint(2, 4) if operation == "*" else \
            rng.randint(1, level.largest)
        value = value + n if operation == "+" else value - n if operation == "-" else value * n
        sentences.append(rng.choice(PHRASES[operation]).format(name=name, n=n, thing=thing))
    sentences.append(f"How many {thing} does {name} have now?")
    return " ".join(sentences), value


def make_rows(difficulty: str, count: int, seed: int, exclude: frozenset[str] = frozenset()) -> list[dict]:
    """`count` distinct problems of a difficulty, none of whose questions is in `exclude`."""
    level = DIFFICULTIES[difficulty]
    rng = random.Random(f"{difficulty}:{seed}")
    rows, seen = [], set(exclude)
    for _ in range(count * 50):  # the easy level has a few thousand distinct problems; stop well before a loop
        if len(rows) == count:
            break
        question, answer = _problem(rng, level)
        if question not in seen:
            seen.add(question)
            rows.append({"question": question, "answer": str(answer)})
    return rows


def make_split(difficulty: str, train_rows: int, test_rows: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Training rows and held-out test rows with no question in common."""
    test = make_rows(difficulty, test_rows, seed + 1_000_003)
    train = make_rows(difficulty, train_rows, seed, frozenset(row["question"] for row in test))
    return train, test


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    partial.replace(path)  # whole or absent: a reader never sees half a file
    return path


def write_split(folder: Path, difficulty: str, train_rows: int, test_rows: int, seed: int = 0) -> tuple[Path, Path]:
    """arithmetic-<difficulty>-train.jsonl and -test.jsonl in `folder`."""
    train, test = make_split(difficulty, train_rows, test_rows, seed)
    stem = f"arithmetic-{difficulty}"
    return write_jsonl(train, folder / f"{stem}-train.jsonl"), write_jsonl(test, folder / f"{stem}-test.jsonl")


def bundled_sample(difficulty: str, folder: Path) -> Path:
    """The app's arithmetic sample of a difficulty (2000 training and 300 held-out questions, seed 0) in `folder`,
    written on first use; the training file's path."""
    train = folder / f"arithmetic-{difficulty}-train.jsonl"
    if not (train.is_file() and train.with_name(f"arithmetic-{difficulty}-test.jsonl").is_file()):
        write_split(folder, difficulty, SAMPLE_TRAIN_ROWS, SAMPLE_TEST_ROWS)
    return train

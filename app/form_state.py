"""Widget values ⇄ RunConfig, as pure functions (no Gradio here, so they are unit-tested directly).

The form holds every value a run needs: the model, the preset, the settings (model.*, train.*, data.* fields,
by dotted key), the data columns, the prompt and a list of reward rows. `form_to_config` turns it into a validated
RunConfig (raising ConfigError with one sentence per problem) and `config_to_form` is its inverse, used to load a
preset or an earlier run's settings back into the widgets.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig, build_config
from engine.problems import ConfigError, Problem
from engine.prompt_config import PromptConfig
from engine.rewards import KINDS, RewardSpec, web_kinds

# The settings shown as widgets, by dotted key. model.name, data.path and the columns have widgets of their own.
MODEL_SETTINGS = [f"model.{name}" for name in ModelConfig.model_fields if name != "name"]
TRAIN_SETTINGS = [f"train.{name}" for name in TrainConfig.model_fields]
DATA_SETTINGS = ["data.eval_fraction", "data.max_rows", "data.seed"]
PROMPT_SETTINGS = ["prompt.start_with_thought", "prompt.instructions_in"]  # shown beside the tags, on the rewards step
SETTINGS = MODEL_SETTINGS + TRAIN_SETTINGS + DATA_SETTINGS + PROMPT_SETTINGS

# CPU demo mode starts from sizes that finish in seconds on a CPU (the preset's sizes are for GPUs).
CPU_DEMO_SETTINGS = {"train.max_steps": 20, "train.num_generations": 4, "train.batch_size": 8,
                     "train.max_completion_length": 64, "train.save_steps": 10}


@dataclass
class RewardRow:
    """One reward as the form shows it: the fields every reward has, and its kind's own fields (engine.rewards) as
    their widgets hold them (a list as one comma-separated string)."""
    name: str = ""
    kind: str = "regex_match"
    weight: float | None = 1.0
    reward: float | None = 1.0
    penalty: float | None = 0.0
    values: dict[str, Any] = field(default_factory=dict)


COMMON_ROW_FIELDS = ["name", "kind", "weight", "reward", "penalty"]
MAX_REWARDS = 8  # the form's reward slots


@dataclass
class FormValues:
    model_name: str = "builtin:tiny"
    preset: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    data_path: str = ""
    prompt_column: str | None = None
    answer_column: str | None = None
    answer_pattern: str = ""
    system_prompt: str = ""
    thought_tags: tuple[str, str] = ("<thought>", "</thought>")
    answer_tags: tuple[str, str] = ("<answer>", "</answer>")
    rewards: list[RewardRow] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------------
# Settings: which widget each field gets, and converting values to and from it.

def _field(key: str):
    section, name = key.split(".", 1)
    model = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig, "prompt": PromptConfig}[section]
    return model.model_fields[name]


def setting_choices(key: str) -> list[str] | None:
    """The allowed values of a Literal field (a dropdown), else None."""
    annotation = _field(key).annotation
    if typing.get_origin(annotation) is Literal:
        return [str(v) for v in typing.get_args(annotation)]
    return None


def setting_widget(key: str) -> str:
    """'checkbox', 'dropdown', 'int', 'float', with '?' appended when empty is allowed."""
    annotation = _field(key).annotation
    args = set(typing.get_args(annotation)) if isinstance(annotation, types.UnionType) else {annotation}
    optional = type(None) in args
    args.discard(type(None))
    base = next(iter(args)) if len(args) == 1 else annotation
    if base is bool:
        return "checkbox"
    if setting_choices(key) is not None:
        return "dropdown"
    kind = "int" if base is int else "float"
    return kind + ("?" if optional else "")


def setting_to_widget(key: str, value: Any) -> Any:
    """The value as its widget holds it. Optional numbers are text boxes: Gradio's number box cannot be empty."""
    widget = setting_widget(key)
    if widget.endswith("?"):
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return value


def setting_from_widget(key: str, value: Any) -> Any:
    widget = setting_widget(key)
    if widget.startswith(("int", "float")):
        if value is None or str(value).strip() == "":
            return None
        if isinstance(value, str):  # an optional number's text box; what does not parse is left to pydantic
            try:
                value = float(value.strip())
            except ValueError:
                return value.strip()
        if widget.startswith("int") and isinstance(value, float) and value.is_integer():
            return int(value)
    return value


# ---------------------------------------------------------------------------------------------------------------
# Form -> config

def _blank_to_none(text: str | None) -> str | None:
    return text if text is not None and str(text).strip() != "" else None


def parse_tags(text: str) -> list[str]:
    return [tag.strip() for tag in (text or "").split(",") if tag.strip()]


def row_to_raw(row: RewardRow) -> dict:
    """A reward row as a config dict with only the fields its kind has (the YAML stays readable)."""
    raw: dict[str, Any] = {"name": (row.name or "").strip(), "kind": row.kind}
    for name in ("weight", "reward", "penalty"):
        if getattr(row, name) is not None:
            raw[name] = getattr(row, name)
    kind = KINDS.get(row.kind)
    for name in kind.fields() if kind else []:
        annotation = kind.spec.model_fields[name].annotation
        value = value_from_widget(field_widget(annotation), row.values.get(name))
        # An emptied field that may be None means none (code_tests' entry_point_column: plain assert scripts);
        # any other emptied field is left out, so a required one is reported missing.
        if value is not None or _allows_none(annotation):
            raw[name] = value
    return raw


def _allows_none(annotation) -> bool:
    return isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)


def form_to_raw(form: FormValues) -> dict:
    raw: dict[str, Any] = {
        "preset": form.preset or None,
        "model": {"name": (form.model_name or "").strip()},
        "prompt": {"system_prompt": form.system_prompt or "", "thought_tags": list(form.thought_tags),
                   "answer_tags": list(form.answer_tags)},
        "data": {"path": (form.data_path or "").strip(), "prompt_column": _blank_to_none(form.prompt_column),
                 "answer_column": _blank_to_none(form.answer_column),
                 "answer_pattern": _blank_to_none(form.answer_pattern)},
        "rewards": [row_to_raw(row) for row in form.rewards],
        "train": {},
    }
    for key, value in form.settings.items():
        section, name = key.split(".", 1)
        value = setting_from_widget(key, value)
        if value is None and not setting_widget(key).endswith("?"):
            continue  # an emptied required number: left out here, reported by empty_setting_problems
        raw[section][name] = value
    return raw


def empty_setting_problems(form: FormValues) -> list[Problem]:
    return [Problem(key, "is empty; enter a number") for key, value in form.settings.items()
            if setting_from_widget(key, value) is None and setting_widget(key) in ("int", "float")]


def form_to_config(form: FormValues) -> RunConfig:
    """The validated RunConfig of the form; ConfigError lists every problem (one sentence each) otherwise."""
    from app.web_paths import ModelRefused, PathRefused, web_data_path, web_model_name

    row_problems = reward_row_problems(form.rewards, prompt_config(form))
    problems = empty_setting_problems(form) + row_problems
    raw = form_to_raw(form)
    try:
        raw["data"]["path"] = web_data_path(form.data_path)  # the web reads only its uploads and the sample
    except PathRefused as refused:
        problems += refused.problems
    try:
        raw["model"]["name"] = web_model_name(form.model_name)  # hub ids, built-ins and the models folder only
    except ModelRefused as refused:
        problems += refused.problems
        raw["model"]["name"] = "builtin:tiny"  # a stand-in, so that the engine's checks of the rest still run
    try:
        config = build_config(raw)
    except ConfigError as error:
        # The rows were checked one by one above, with the row's number and name; skip the engine's copies.
        engine_problems = [p for p in error.problems
                           if not (row_problems and (p.key.startswith("rewards") or "reward names" in p.message))]
        raise ConfigError(problems + engine_problems) from None
    if problems:
        raise ConfigError(problems)
    return config


# ---------------------------------------------------------------------------------------------------------------
# The form as the browser keeps it (a page reload restores it): plain JSON, read back defensively

SAVED_VERSION = 1
SAVED_MAX_CHARS = 1_000_000


def saved_form(form: FormValues) -> dict:
    return {"version": SAVED_VERSION, **asdict(form)}


def form_from_saved(saved) -> FormValues | None:
    """The form a browser kept, or None for anything else (another version, a hand-edited or oversized value). Only
    its shape is checked here: every value is validated as if typed, when the form is next read."""
    if not isinstance(saved, dict) or saved.get("version") != SAVED_VERSION:
        return None
    try:
        if len(json.dumps(saved)) > SAVED_MAX_CHARS:
            return None
        text = {name: saved.get(name) for name in ("model_name", "data_path", "answer_pattern", "system_prompt")}
        optional = {name: saved.get(name) for name in ("preset", "prompt_column", "answer_column")}
        if not all(isinstance(v, str) for v in text.values()) or \
                not all(v is None or isinstance(v, str) for v in optional.values()):
            return None
        settings = {key: value for key, value in dict(saved.get("settings") or {}).items()
                    if key in SETTINGS and (value is None or isinstance(value, (str, int, float, bool)))}
        tags = [tuple(str(t) for t in saved[name]) for name in ("thought_tags", "answer_tags")]
        rows = []
        for row in list(saved.get("rewards") or [])[:MAX_REWARDS]:
            common = {name: row.get(name) for name in COMMON_ROW_FIELDS}
            if not isinstance(common["name"], str) or not isinstance(common["kind"], str):
                return None
            rows.append(RewardRow(**common, values=dict(row.get("values") or {})))
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    if any(len(pair) != 2 for pair in tags):
        return None
    return FormValues(**text, **optional, settings=settings, thought_tags=tags[0], answer_tags=tags[1], rewards=rows)


# ---------------------------------------------------------------------------------------------------------------
# Config -> form

def row_from_config(spec: RewardSpec) -> RewardRow:
    kind = KINDS[spec.kind]
    values = {name: value_to_widget(field_widget(kind.spec.model_fields[name].annotation), getattr(spec, name))
              for name in kind.fields()}
    return RewardRow(name=spec.name, kind=spec.kind, weight=spec.weight, reward=spec.reward, penalty=spec.penalty,
                     values=values)


def config_to_form(config: RunConfig) -> FormValues:
    dumped = config.model_dump()
    settings = {}
    for key in SETTINGS:
        section, name = key.split(".", 1)
        settings[key] = setting_to_widget(key, dumped[section][name])
    return FormValues(model_name=config.model.name, preset=config.preset, settings=settings,
                      data_path=config.data.path, prompt_column=config.data.prompt_column,
                      answer_column=config.data.answer_column, answer_pattern=config.data.answer_pattern or "",
                      system_prompt=config.prompt.system_prompt, thought_tags=tuple(config.prompt.thought_tags),
                      answer_tags=tuple(config.prompt.answer_tags),
                      rewards=[row_from_config(spec) for spec in config.rewards])


def preset_form(preset: str, model_name: str, cpu_demo: bool = False) -> FormValues:
    """The form a preset starts from, for this model (and at demo sizes on a CPU)."""
    form = config_to_form(build_config({"preset": preset, "model": {"name": model_name}}))
    if cpu_demo:
        form.settings.update(CPU_DEMO_SETTINGS)
    return form


def with_preset(current: FormValues, preset: str, cpu_demo: bool = False) -> FormValues:
    """Switching preset: settings, prompt, rewards and the answer pattern come from the preset; the model and the
    data choices stay."""
    fresh = preset_form(preset, current.model_name, cpu_demo)
    return replace(fresh, data_path=current.data_path, prompt_column=current.prompt_column,
                   answer_column=current.answer_column)


# ---------------------------------------------------------------------------------------------------------------
# Reward rows on their own (the rewards step shows each row's problem next to it)

def reward_row_problem(row: RewardRow, prompt: PromptConfig | None = None) -> str | None:
    """The first problem of one row as a sentence (a kind the web may not use, a missing field, a bad name, a pattern
    that does not compile), or None."""
    from engine.rewards import reward_problems

    refused = web_kind_problem(row.kind)
    if refused:
        return refused  # before anything else looks at the row: nothing of a refused kind is built or loaded
    try:
        config = build_config({"rewards": [row_to_raw(row)], "prompt": (prompt or PromptConfig()).model_dump()})
    except ConfigError as error:
        first = error.problems[0]
        key = first.key.removeprefix("rewards.0").lstrip(".")
        message = plain_message(first.message)
        if not key:
            return message
        return f"{key} {message}" if message.startswith(("must ", "is ")) else f"{key}: {message}"
    problems = reward_problems(config)
    return problems[0].message if problems else None


def web_kind_problem(kind: str) -> str | None:
    """The web app builds only the kinds the registry lets it offer, whatever a request sends (a Gradio API call can
    send any value): user Python never runs from the web."""
    from app import strings

    if isinstance(kind, str) and kind in {k.name for k in web_kinds()}:
        return None
    if isinstance(kind, str) and kind in KINDS:
        return strings.REWARD_NOT_FROM_WEB.format(kind=kind)
    return strings.REWARD_UNKNOWN_KIND.format(kind=str(kind)[:40])


def reward_row_problems(rows: list[RewardRow], prompt: PromptConfig | None = None) -> list[Problem]:
    """One Problem per broken row (keyed rewards[i]) and per duplicated name."""
    from app import strings

    problems, seen = [], set()
    for index, row in enumerate(rows):
        label = f"rewards[{index}] ({row.name or 'unnamed'})"
        message = reward_row_problem(row, prompt)
        if message:
            problems.append(Problem(label, message))
        elif row.name.strip() in seen:
            problems.append(Problem(label, strings.REWARD_DUPLICATE.format(name=row.name.strip())))
        seen.add(row.name.strip())
    return problems


def new_row(existing: list[RewardRow], kind: str = "regex_match") -> RewardRow:
    """A fresh row with a name not used yet and a starter for its kind."""
    names = {row.name for row in existing}
    number = len(existing) + 1
    while f"reward_{number}" in names:
        number += 1
    return starter_for_kind(RewardRow(name=f"reward_{number}", kind=kind))


def starter_for_kind(row: RewardRow) -> RewardRow:
    """The row with exactly its kind's fields: what it holds of them, the empty ones filled with the kind's starter,
    else the field's default."""
    kind = KINDS.get(row.kind)
    if kind is None:
        return row
    values = {name: row.values[name] for name in kind.fields() if name in row.values}  # another kind's: dropped
    for name in kind.fields():
        info = kind.spec.model_fields[name]
        widget = field_widget(info.annotation)
        current = values.get(name)
        if current not in (None, "") and not (widget in NUMBER_WIDGETS and current == 0 and name in kind.starters):
            continue  # (a number box shows empty as 0)
        if name in kind.starters:
            values[name] = value_to_widget(widget, kind.starters[name])
        elif not info.is_required():
            values[name] = value_to_widget(widget, info.default)
    return replace(row, values=values)


# ---------------------------------------------------------------------------------------------------------------
# Reward fields -> widgets: one widget per field type, derived from the registry's field annotations.

NUMBER_WIDGETS = ("number", "integer")


def field_widget(annotation) -> str:
    """'checkbox' (bool), 'dropdown' (Literal), 'integer', 'number', 'list' (comma-separated) or 'text'."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] \
        if isinstance(annotation, types.UnionType) else [annotation]
    base = args[0] if len(args) == 1 else annotation
    if base is bool:
        return "checkbox"
    if typing.get_origin(base) is Literal:
        return "dropdown"
    if base is int:
        return "integer"
    if base is float:
        return "number"
    if typing.get_origin(base) is list:
        return "list"
    return "text"


@dataclass(frozen=True)
class RowField:
    """One field widget of a reward slot, shared by every web kind that has a field of that name."""
    name: str
    widget: str
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        label = self.name.replace("_", " ").capitalize()
        return f"{label} (comma-separated)" if self.widget == "list" else label


def row_fields() -> list[RowField]:
    """The union of the web kinds' own fields, in registry order. A name means one widget: two kinds that give one
    field name different types are a registry error (tests/test_engine_rewards.py checks it)."""
    found: dict[str, RowField] = {}
    for kind in web_kinds():
        for name in kind.fields():
            annotation = kind.spec.model_fields[name].annotation
            widget = field_widget(annotation)
            choices = tuple(str(c) for c in typing.get_args(annotation)) if widget == "dropdown" else ()
            found.setdefault(name, RowField(name, widget, choices))
    return list(found.values())


def field_choices(field: RowField) -> list[tuple[str, str]]:
    """A dropdown field's (label, value) choices: its values in words where strings has them, else as they are."""
    from app import strings

    labels = strings.REWARD_CHOICE_LABELS.get(field.name, {})
    return [(labels.get(value, value), value) for value in field.choices]


def reward_field_help(kind: str, name: str) -> str:
    spec = KINDS[kind].spec if kind in KINDS else None
    return (spec.model_fields[name].description or "") if spec and name in spec.model_fields else ""


def kind_help(kind: str) -> str:
    """The row's help line: the kind's category and what it scores."""
    from app import strings

    found = KINDS.get(kind)
    if found is None:
        return ""
    return strings.REWARD_KIND_HELP.format(category=strings.REWARD_CATEGORY[found.category], help=found.help)


def value_to_widget(widget: str, value: Any) -> Any:
    if widget == "list":
        return ", ".join(value or [])
    if widget == "text":
        return value or ""
    return value


def value_from_widget(widget: str, value: Any) -> Any:
    """The config value of a widget's value; None when empty (row_to_raw says what None means for the field)."""
    if widget == "list":
        return parse_tags(value) or None
    if widget == "text":
        return value if value is not None and str(value).strip() != "" else None
    if widget == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def prompt_config(form: FormValues) -> PromptConfig:
    """The prompt section alone (tags for placeholders); blank tags fall back to the defaults."""
    thought = tuple(t if t and t.strip() else d for t, d in zip(form.thought_tags, ("<thought>", "</thought>")))
    answer = tuple(t if t and t.strip() else d for t, d in zip(form.answer_tags, ("<answer>", "</answer>")))
    return PromptConfig(system_prompt=form.system_prompt or "", thought_tags=thought, answer_tags=answer)


def sentence(text: str, names: tuple[str, ...] = ()) -> str:
    """'the pattern does not compile' -> 'The pattern does not compile.' A sentence that starts with a name keeps
    it as written: one of `names` (a data file 'my questions.csv'), or a word that is not plain letters (a key
    'train.max_steps', a model 'builtin:tiny', a file 'q.csv')."""
    text = str(text).strip()
    if not text:
        return text
    first = text.split(maxsplit=1)[0]
    if first.isalpha() and not any(name and text.startswith(name) for name in names):
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def key_words(key: str) -> str:
    """A config key in plain words with the key after them: 'completions per question (train.num_generations)';
    a reward row's key 'rewards[2] (correct)' is 'reward 3 (correct)'."""
    from app import strings

    row = re.fullmatch(r"rewards\[(\d+)\] \((.*)\)", key)
    if row:
        return strings.REWARD_ROW_WORDS.format(number=int(row.group(1)) + 1, name=row.group(2))
    words = strings.KEY_WORDS.get(key)
    return f"{words} ({key})" if words else key


def setting_label(key: str) -> str:
    """A setting widget's label: the plain words first, the key's own name after them."""
    from app import strings

    words = strings.KEY_WORDS.get(key)
    name = key.split(".", 1)[1]
    return f"{words[0].upper()}{words[1:]} ({name})" if words else name


def plain_message(message: str) -> str:
    """A validator's wording ('Input should be greater than 0 (got -1)') as plain words ('must be more than 0 (you
    entered -1)'); the engine's own sentences pass unchanged."""
    from app import strings

    for pattern, replacement in strings.VALIDATOR_WORDS:
        message = re.sub(pattern, replacement, message)
    return " ".join(message.split())


def problem_sentence(problem: Problem, names: tuple[str, ...] = ()) -> str:
    """'Learning rate (train.learning_rate) must be more than 0 (you entered -1).': the key in plain words, then the
    problem as a sentence."""
    message = plain_message(problem.message)
    if not problem.key:
        return sentence(message, names)
    subject = key_words(problem.key)
    subject = subject[0].upper() + subject[1:]
    if message.startswith(("must ", "is ", "contains ")):
        return sentence(f"{subject} {message}", names)
    return sentence(f"{subject}: {message}", names)  # after the colon, the message goes on as written


# ---------------------------------------------------------------------------------------------------------------
# Editing the reward list: the rewards step's add / move / remove buttons

def add_row(rows: list[RewardRow], limit: int) -> list[RewardRow]:
    return rows + [new_row(rows)] if len(rows) < limit else rows


def move_row(rows: list[RewardRow], index: int, offset: int) -> list[RewardRow]:
    target = index + offset
    if not (0 <= index < len(rows) and 0 <= target < len(rows)):
        return rows
    moved = list(rows)
    moved[index], moved[target] = moved[target], moved[index]
    return moved


def remove_row(rows: list[RewardRow], index: int) -> list[RewardRow]:
    return [row for i, row in enumerate(rows) if i != index]

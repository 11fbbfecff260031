"""What every section of the config shares: unknown keys refused, no NaN, no true/false for a number and no NUL
character in text, each said in one sentence."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Section(BaseModel):
    # Unknown keys are a typo far more often than intent: reject them so `lora_rnak: 8` is not silently ignored.
    # NaN and infinity are never a setting.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers_no_nul(cls, value, info: ValidationInfo):
        """pydantic takes `max_steps: true` as 1; YAML's true/false is never meant as a number. A NUL character
        is never part of a name, a path or a pattern (and breaks every file call)."""
        if isinstance(value, bool) and not _takes_bool(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"must be {_expected(cls.model_fields[info.field_name].annotation)}, not "
                             f"{str(value).lower()}")
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character; remove it")
        return value


def _takes_bool(annotation) -> bool:
    return annotation is bool or bool in get_args(annotation) or annotation is Any


def _expected(annotation) -> str:
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(annotation))
    kinds = {annotation} | set(get_args(annotation))
    if int in kinds:
        return "a whole number"
    if float in kinds:
        return "a number"
    if str in kinds:
        return "text"
    return "a value of its kind"

"""How values cross between the tests' process and the program's process: JSON lines with tagged containers.

The tests never hold an object the program made. Whatever the program returns is rebuilt on the tests' side from
plain data as exact builtin types (None, bool, int, float, complex, str, bytes, list, tuple, set, frozenset,
dict; numpy values arrive as their .tolist()), so an object whose __eq__ always says True, an int subclass, or a
list that lies about its length cannot reach an assert: the program's side cannot encode it, and nothing the
tests' side decodes can be anything else.
Arguments are passed by value, so a test that relies on the function mutating its argument cannot see it.
"""

from __future__ import annotations

import json
import os

MAX_DEPTH = 64
MAX_LINE_BYTES = 16 * 1024 * 1024  # one answer; a program returning more gets an error for that call

_SCALARS = (bool, int, float, str)


class WireError(ValueError):
    """A line or value that is not what `line` or `encode` make."""


class UnsupportedValue(TypeError):
    """A value that is not plain data (its name is what a test that got one reports as its failure)."""


def encode(value, depth: int = 0):
    if depth > MAX_DEPTH:
        raise UnsupportedValue(f"a value nested deeper than {MAX_DEPTH} levels cannot pass between tests and program")
    kind = type(value)
    if value is None or kind in _SCALARS:
        return value
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        return {kind.__name__: [encode(item, depth + 1) for item in value]}
    if kind is dict:
        return {"dict": [[encode(key, depth + 1), encode(item, depth + 1)] for key, item in value.items()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind is complex:
        return {"complex": [value.real, value.imag]}
    if kind.__module__ == "numpy" and hasattr(value, "tolist"):  # numpy scalars and arrays, as Python data
        return encode(value.tolist(), depth + 1)
    raise UnsupportedValue(f"a {kind.__name__} cannot pass between tests and program (only plain data can)")


def decode(data):
    """The value `encode` made, as exact builtin types; WireError for anything else (an unhashable key too)."""
    try:
        return _decode(data, 0)
    except (TypeError, ValueError, RecursionError) as error:
        raise WireError("malformed value") from error


def _decode(data, depth: int):
    if depth > MAX_DEPTH + 1:
        raise WireError("a value is nested too deeply")
    kind = type(data)
    if data is None or kind in _SCALARS:
        return data
    if kind is not dict or len(data) != 1:
        raise WireError("malformed value")
    ((tag, payload),) = data.items()
    if tag == "complex" and type(payload) is list and len(payload) == 2 and all(type(p) is float for p in payload):
        return complex(*payload)
    if tag == "bytes" and type(payload) is str:
        return bytes.fromhex(payload)
    if type(payload) is not list:
        raise WireError("malformed value")
    if tag == "dict":
        if not all(type(pair) is list and len(pair) == 2 for pair in payload):
            raise WireError("malformed value")
        return {_decode(key, depth + 1): _decode(item, depth + 1) for key, item in payload}
    container = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}.get(tag)
    if container is None:
        raise WireError("malformed value")
    return container(_decode(item, depth + 1) for item in payload)


def line(message: dict) -> bytes:
    return (json.dumps(message, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def parse(raw: bytes) -> dict:
    """One line back into a message; WireError for anything that is not one."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise WireError("malformed message") from error
    if type(message) is not dict:
        raise WireError("malformed message")
    return message


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

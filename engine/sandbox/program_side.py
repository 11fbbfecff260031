"""The program's process: load the model-written program, then answer the judge's calls with plain data.

Nothing here is trusted after the program's first line runs: the program may replace builtins, this module, or
write anything on its pipes. That costs the verdict nothing, because the verdict is made in the judge's process
(judge_side.py), which only ever receives plain data from here (wire.py). This side only has to be right for
honest programs.

Messages to the judge, one JSON line each: first a manifest, {"loaded": true, "callables": [...], "data": {...},
"modules": {...}} or {"loaded": false, "error": <exception name>, "line": <line>}; then one answer per call,
{"id": n, "ok": true, "value": <encoded>} or {"id": n, "ok": false, "error": <name>, "message": <text>}.
"""

from __future__ import annotations

import os
import sys
import types

from engine.sandbox import wire

PROGRAM_FILENAME = "<program>"
PROGRAM_MODULE = "__program__"
MAX_DATA_BYTES = 1024 * 1024  # module-level constants offered to the tests (a plain script may assert on them)


def serve(job: dict) -> None:
    requests = os.fdopen(job["request_fd"], "rb")
    answer_fd = job["answer_fd"]

    def send(message: dict) -> None:
        data = wire.line(message)
        if len(data) > wire.MAX_LINE_BYTES:
            data = wire.line({"id": message.get("id"), "ok": False, "error": "ValueError",
                              "message": f"the answer is larger than {wire.MAX_LINE_BYTES // 2**20} MiB"})
        wire.write_all(answer_fd, data)

    # A registered module (dataclasses, pickle and typing look their class's module up in sys.modules), not
    # __main__: a model's `if __name__ == "__main__":` demo (often input() or prints) does not run, as in
    # HumanEval's own harness.
    module = types.ModuleType(PROGRAM_MODULE)
    sys.modules[PROGRAM_MODULE] = module
    namespace = module.__dict__
    try:
        code = compile(job["program"], PROGRAM_FILENAME, "exec")
        exec(code, namespace)
    except BaseException as error:  # SystemExit from sys.exit() too: a program that exits has not been tested
        send({"loaded": False, "error": _name(error), "line": _line(error)})
        return
    send(_manifest(namespace))
    while raw := requests.readline(wire.MAX_LINE_BYTES):
        send(_answer(namespace, raw))


def _manifest(namespace: dict) -> dict:
    callables, data, modules, size = [], {}, {}, 0
    for name, value in list(namespace.items()):
        if type(name) is not str or name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            modules[name] = getattr(value, "__name__", "")
        elif callable(value):
            callables.append(name)
        else:
            try:
                encoded = wire.encode(value)
                size += len(wire.line({name: encoded}))
            except Exception:
                continue
            if size <= MAX_DATA_BYTES:
                data[name] = encoded
    return {"loaded": True, "callables": callables, "data": data, "modules": modules}


def _answer(namespace: dict, raw: bytes) -> dict:
    try:
        request = wire.parse(raw)
        call_id, name = request["id"], request["name"]
        args, kwargs = wire.decode(request["args"]), wire.decode(request["kwargs"])
    except Exception as error:
        return {"id": None, "ok": False, "error": "ValueError", "message": f"unreadable call ({error})"}
    function = namespace.get(name)
    if not callable(function):
        return {"id": call_id, "ok": False, "error": "NameError", "message": f"the program has no function {name}"}
    try:
        return {"id": call_id, "ok": True, "value": wire.encode(function(*args, **kwargs))}
    except BaseException as error:
        return {"id": call_id, "ok": False, "error": _name(error), "message": _message(error)}


def _name(error: BaseException) -> str:
    try:
        return str(type(error).__name__)
    except Exception:
        return "Exception"


def _message(error: BaseException) -> str:
    try:
        return str(error)[:300]
    except Exception:
        return ""


def _line(error: BaseException) -> int:
    """The program's line where the error arose (the deepest frame in the program), or 0."""
    if isinstance(error, SyntaxError) and error.filename == PROGRAM_FILENAME:
        return error.lineno or 0
    line, trace = 0, error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == PROGRAM_FILENAME:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line

"""The judge's process: run the tests against the program, which lives in another process, and report each test.

Why two processes: inside one interpreter the program can reach everything the harness holds (frames, gc,
builtins, ctypes), so no in-process check of its results can be trusted. Here the program's functions are
proxies: a call sends its arguments to the program's process and returns the plain data that comes back
(wire.py); the asserts, `check`, AssertionError and the builtins they use all belong to this process, which the
program can neither write to (its own Landlock domain, seccomp: no ptrace, no signals beyond itself, not dumpable)
nor imitate on the runner's verdict pipe, which only this process holds (and whose every line starts with a
per-job nonce that only the runner and this process know).

Names the tests use but do not define come from the program: its functions as proxies, its plain-data constants
as copies, and its standard-library modules imported here afresh. Never a builtin's name (a program's own `abs`
or `AssertionError` cannot stand in for the real one) and never a name the tests define (their `check` wins).

The verdict pipe carries lines "<nonce> program loaded|missing|exited|garbled|error <Name> <line>",
"<nonce> test <index> pass|fail <Name>", "<nonce> setup <Name>" (a setup statement failed) and "<nonce> end".
"""

from __future__ import annotations

import builtins
import importlib
import os
import sys
import types

from engine.sandbox import asserts, wire

RESERVED = frozenset(dir(builtins))
TESTS_MODULE = "__tests__"
CONTROL_FLOW = (StopIteration, StopAsyncIteration)


class ProgramError(Exception):
    """The program raised something that is not a builtin exception, or its process is gone or garbled."""

    def __init__(self, name: str, message: str = ""):
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name


def word(text) -> str:
    """A token safe for the verdict line (names arrive from the program's side)."""
    cleaned = "".join(c for c in str(text) if c.isascii() and (c.isalnum() or c in "_."))[:60]
    return cleaned or "Exception"


class Program:
    """The program's process, seen from the tests."""

    def __init__(self, request_fd: int, answer_fd: int):
        self.request_fd = request_fd
        self.answers = os.fdopen(answer_fd, "rb")
        self.calls = 0
        self.gone = ""  # why calls can no longer be made

    def receive(self) -> dict | None:
        raw = self.answers.readline(wire.MAX_LINE_BYTES + 1)
        if not raw.endswith(b"\n"):  # EOF (the process ended) or an over-long line: the stream cannot be trusted
            self.gone = "ProgramStopped" if len(raw) <= wire.MAX_LINE_BYTES else "AnswerTooLarge"
            return None
        try:
            return wire.parse(raw)
        except wire.WireError:
            self.gone = "GarbledAnswer"
            return None

    def call(self, name: str, args: tuple, kwargs: dict):
        if self.gone:
            raise ProgramError(self.gone)
        try:
            request = wire.line({"id": self.calls + 1, "name": name, "args": wire.encode(list(args)),
                                 "kwargs": wire.encode(dict(kwargs))})
        except wire.UnsupportedValue as error:
            raise TypeError(str(error)) from None
        self.calls += 1
        try:
            wire.write_all(self.request_fd, request)
        except OSError:
            self.gone = "ProgramStopped"
            raise ProgramError(self.gone) from None
        answer = self.receive()
        if answer is None:
            raise ProgramError(self.gone)
        if answer.get("id") != self.calls:
            self.gone = "GarbledAnswer"
            raise ProgramError(self.gone)
        if answer.get("ok") is True:
            try:
                return wire.decode(answer.get("value"))
            except wire.WireError:
                raise ProgramError("GarbledAnswer") from None
        raise _exception(answer.get("error"), answer.get("message"))

    def proxy(self, name: str):
        def call(*args, **kwargs):
            return self.call(name, args, kwargs)

        call.__name__ = call.__qualname__ = name
        return call


def _exception(name, message) -> Exception:
    """The program's exception as the builtin type of that name (so `except ValueError:` in a test works), or a
    ProgramError; never a BaseException that would stop the judge, nor one that steers control flow."""
    name = word(name)
    message = message[:300] if isinstance(message, str) else ""
    kind = getattr(builtins, name, None)
    # StopIteration would end the iteration around the call (list(map(candidate, xs)) == []), not fail it.
    if isinstance(kind, type) and issubclass(kind, Exception) and not issubclass(kind, CONTROL_FLOW):
        try:
            return kind(message)
        except Exception:
            pass
    return ProgramError(name, message)


def _names(callables) -> list:
    return callables if isinstance(callables, list) else []


def _offer_program_names(namespace: dict, manifest: dict, program: Program) -> None:
    def allowed(name) -> bool:
        return isinstance(name, str) and name.isidentifier() and name not in RESERVED and not name.startswith("__")

    for name in _names(manifest.get("callables")):
        if allowed(name):
            namespace[name] = program.proxy(name)
    data = manifest.get("data")
    for name, encoded in data.items() if isinstance(data, dict) else ():
        if allowed(name):
            try:
                namespace[name] = wire.decode(encoded)
            except wire.WireError:
                pass
    modules = manifest.get("modules")
    for name, module in modules.items() if isinstance(modules, dict) else ():
        if allowed(name) and isinstance(module, str) and module.split(".")[0] in sys.stdlib_module_names:
            try:
                namespace[name] = importlib.import_module(module)
            except Exception:
                pass


def _failure(error: BaseException) -> str:
    return error.name if isinstance(error, ProgramError) else type(error).__name__


def judge(job: dict) -> None:
    nonce, verdict_fd, entry_point = job["nonce"], job["verdict_fd"], job["entry_point"]

    def report(*words) -> None:
        wire.write_all(verdict_fd, (" ".join([nonce, *map(str, words)]) + "\n").encode("ascii"))

    program = Program(job["request_fd"], job["answer_fd"])
    manifest = program.receive()
    module = types.ModuleType(TESTS_MODULE)  # registered, as the program's is (program_side.py says why)
    sys.modules[TESTS_MODULE] = module
    namespace = module.__dict__
    if manifest is None:
        report("program", "garbled" if program.gone == "GarbledAnswer" else "exited")
    elif manifest.get("loaded") is not True:
        line = manifest.get("line")
        report("program", "error", word(manifest.get("error")), line if type(line) is int and line >= 0 else 0)
    elif entry_point is not None and entry_point not in _names(manifest.get("callables")):
        report("program", "missing")
    else:
        report("program", "loaded")
        _offer_program_names(namespace, manifest, program)
        _run_tests(asserts.plan(job["tests"], entry_point), namespace, program.proxy(entry_point or ""), report)
    report("end")


def _run_tests(plan: asserts.Plan, namespace: dict, entry, report) -> None:
    index, bound = 0, False
    for step in plan.steps:
        if step.in_check and not bound and plan.check_parameter:
            namespace[plan.check_parameter] = entry
            bound = True
        failure = None
        try:
            exec(asserts.compile_step(step), namespace)
        except BaseException as error:  # a test's SystemExit or SyntaxError is that test's failure, not the judge's
            failure = _failure(error)
        if step.is_test:
            report("test", index, "pass" if failure is None else "fail", word(failure) if failure else "")
            index += 1
        elif failure:
            report("setup", word(failure))

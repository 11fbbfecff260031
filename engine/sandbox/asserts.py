"""Which statements of a test source are tests: the runner counts them (the total), the judge runs them one by one.

Two formats:
- HumanEval's: `def check(candidate): assert ...` plus an entry point; the statements of check's body run in
  order with `candidate` bound to the program's entry-point function.
- A plain assert script (no entry point): the module's own statements run in order and call the program's
  functions by name.
The module's top-level statements always run first (imports, helpers, constants; HumanEval's METADATA).

A test is a top-level statement (of the module or of check's body) that holds an assert whose condition names
something: `assert candidate(2) == 4`, or a `for` loop of such asserts (one test). A failing test does not stop
the ones after it. `assert True, "..."` (HumanEval has 48 of them) names nothing, tests nothing and is not
counted, so a program that does nothing scores 0, not a share of free passes. Every other statement is setup.
"""

from __future__ import annotations

import ast
import threading
from collections import namedtuple

CHECK_FUNCTION = "check"
# One parse at a time: CPython 3.11's AST construction keeps recursion-depth bookkeeping that threads share
# (CPython gh-106905), and the runner plans a batch's tests in a thread pool; two parses at once raised
# "SystemError: AST constructor recursion depth mismatch" on a 2-core machine.
_PARSE_LOCK = threading.Lock()


def _parse(source: str, filename: str = "<unknown>") -> ast.Module:
    with _PARSE_LOCK:
        return ast.parse(source, filename)

# Not dataclasses: the judge imports this module at every start, and dataclasses would cost a third of it.
# in_check: a statement of check's body, run with check's parameter bound to the entry point.
Step = namedtuple("Step", "statement is_test in_check")


class Plan:
    def __init__(self, steps: tuple[Step, ...], check_parameter: str | None):
        self.steps = steps
        self.check_parameter = check_parameter  # the name check(...) gives the entry point, usually "candidate"

    @property
    def total(self) -> int:
        return sum(step.is_test for step in self.steps)


def plan(tests: str, entry_point: str | None) -> Plan:
    """Raises SyntaxError (and ValueError for null bytes, RecursionError for absurd nesting) on a bad source."""
    module = _parse(tests, "<tests>")
    steps = [Step(statement, _is_test(statement), False) for statement in module.body]
    parameter = None
    if entry_point is not None:
        checks = [s for s in module.body if isinstance(s, ast.FunctionDef) and s.name == CHECK_FUNCTION]
        if checks:
            check = checks[-1]  # as in Python: the last definition wins
            positional = check.args.posonlyargs + check.args.args
            parameter = positional[0].arg if positional else None
            steps += [Step(statement, _is_test(statement), True) for statement in check.body]
    return Plan(tuple(steps), parameter)


def _is_test(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False  # a helper that asserts is not a test until something calls it
    return any(isinstance(node, ast.Assert) and _names_something(node.test) for node in ast.walk(statement))


def _names_something(expression: ast.expr) -> bool:
    return any(isinstance(node, ast.Name) for node in ast.walk(expression))


def prompt_helpers(prompt: str, entry_point: str) -> str:
    """What a HumanEval-style prompt defines besides the entry point (imports, helper functions such as
    HumanEval/32's `poly` or /38's `encode_cyclic`, constants), as source to put in front of the tests.

    The tests call these helpers to check the answer, and names the tests define are never taken from the
    program, so a program that redefines `poly` to return 0 no longer passes every find_zero test. "" when the
    prompt does not parse or defines nothing else."""
    try:
        module = _parse(prompt)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    helpers = [statement for statement in module.body
               if not (isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and statement.name == entry_point)
               and not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))]
    return ast.unparse(ast.Module(body=helpers, type_ignores=[])) + "\n" if helpers else ""


def compile_step(step: Step):
    """A statement as a code object of its own (a `return` in check's body cannot run outside a function: the
    SyntaxError is that test's failure)."""
    return compile(ast.Module(body=[step.statement], type_ignores=[]), "<tests>", "exec")

"""`python -m engine sandbox`: say which isolation holds here, then show it working on two programs."""

from __future__ import annotations

from dataclasses import dataclass

from engine.sandbox.layers import isolation
from engine.sandbox.limits import Limits
from engine.sandbox.runner import TestOutcome, run_tests

TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
CORRECT = "def add(a, b):\n    return a + b\n"
# Tries what a reward-hacking model would: read secrets, reach the network, lie on stdout, then leave before any
# test runs. Each attempt must fail and the exit must score zero.
HOSTILE = """import os, socket, sys
try:
    print(open("/proc/1/environ", "rb").read()[:40])
except OSError as error:
    print("environ:", error)
try:
    socket.create_connection(("127.0.0.1", 7860), timeout=1)
except OSError as error:
    print("network:", error)
print("2 of 2 tests passed")
sys.exit(0)

def add(a, b):
    return a + b
"""


@dataclass(frozen=True)
class SelfTestCase:
    name: str
    outcome: TestOutcome
    expected: str  # what this case must show

    @property
    def ok(self) -> bool:
        return self.outcome.status == "passed" if self.expected == "passed" else self.outcome.passed == 0


def self_test(limits: Limits = Limits(wall_seconds=20)) -> list[SelfTestCase]:
    return [SelfTestCase("a correct program", run_tests(CORRECT, TESTS, "add", limits), "passed"),
            SelfTestCase("a hostile program", run_tests(HOSTILE, TESTS, "add", limits), "scores zero")]


def report() -> tuple[list[str], bool]:
    """The lines `python -m engine sandbox` prints, and whether everything behaved."""
    layers = isolation()
    lines = [layers.describe(), f"layers: {', '.join(layers.layers)}"]
    cases = self_test()
    for case in cases:
        verdict = "ok" if case.ok else "WRONG"
        lines.append(f"{verdict}: {case.name} {case.expected}: {case.outcome.status}, {case.outcome.passed} of "
                     f"{case.outcome.total} ({case.outcome.detail})")
    return lines, all(case.ok for case in cases)

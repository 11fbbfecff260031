"""The code sandbox: run model-written Python against tests and get a score the program cannot forge.

    from engine.sandbox import run_tests, run_many, isolation, Limits, TestOutcome
    outcome = run_tests(program, tests, entry_point=None, limits=Limits())   # -> TestOutcome
    outcomes = run_many([(program, tests, entry_point), ...], limits=Limits(), workers=None)
    isolation().describe()   # one sentence: which layers hold here, which do not and why
    prompt_helpers(prompt, entry_point)   # a HumanEval prompt's helpers, to put in front of its tests

Modules: limits (the limits and the child's rlimits), spawn (how a child starts), child (what it does first),
program_side / judge_side (the two processes of a job), wire (plain data between them), asserts (which
statements are tests), seccomp / landlock / kernel (the kernel layers), layers (which of them hold here), runner
(jobs, the worker pool, outcomes), selftest (`python -m engine sandbox`).
"""

# Resolved on first use (PEP 562): every sandbox child imports this package, and should not pay for the runner's
# imports (threads, selectors, tempfile) at each start.
_EXPORTS = {"Isolation": "layers", "isolation": "layers", "Limits": "limits", "STATUSES": "runner",
            "TestOutcome": "runner", "run_many": "runner", "run_tests": "runner", "prompt_helpers": "asserts"}
__all__ = ["STATUSES", "Isolation", "Limits", "TestOutcome", "isolation", "prompt_helpers", "run_many", "run_tests"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine.sandbox' has no attribute {name!r}")
    return getattr(__import__(f"engine.sandbox.{_EXPORTS[name]}", fromlist=[name]), name)

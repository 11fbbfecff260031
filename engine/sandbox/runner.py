"""run_tests and run_many: score model-written Python against tests, in the sandbox, with a verdict the program
cannot forge.

One job = two children (spawn.py, child.py): the program's process loads the program and answers calls; the
judge's process runs the tests, calling the program through proxies, and writes one line per test to a verdict
pipe that only it holds, each line led by a random per-job nonce. This runner starts both, feeds them their jobs,
watches the wall clock, the output caps and the throw-away folder's size, kills both process groups at the end,
and turns the verdict (never the program's output) into a TestOutcome.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import selectors
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from engine.sandbox import asserts
from engine.sandbox.child import SETUP_FAILED_EXIT, SETUP_FAILED_PREFIX
from engine.sandbox.layers import Isolation, isolation
from engine.sandbox.limits import Limits
from engine.sandbox.rlimits import MIB
from engine.sandbox.spawn import send_job, spawn

STATUSES = ("passed", "failed", "error", "timeout", "killed", "no_tests")
READ_CHUNK = 65536
OUTPUT_HEAD_BYTES = 1024  # of each child's output, kept only to explain a sandbox that could not be set up
MAX_VERDICT_BYTES = 1024 * 1024
DISK_CHECK_S = 0.25
MAX_FILES = 10000


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # a result, not a pytest test class

    passed: int
    total: int
    status: str  # one of STATUSES
    detail: str  # one short sentence for the UI and the log; never the program's output

    @property
    def score(self) -> float:
        """The share of tests passed (0.0 when there are none)."""
        return self.passed / self.total if self.total else 0.0


def run_tests(program: str, tests: str, entry_point: str | None = None, limits: Limits = Limits()) -> TestOutcome:
    """Run `program`, then `tests` against it (HumanEval's `check(candidate)` with `entry_point`, or a plain
    assert script with None). Tests the program must not be able to change, such as helper functions the tests
    call, belong in `tests`: names the tests define are never taken from the program."""
    if not isinstance(program, str) or not isinstance(tests, str):
        raise TypeError("run_tests takes the program and the tests as strings")
    if entry_point is not None and (not isinstance(entry_point, str) or not entry_point.isidentifier()):
        return TestOutcome(0, 0, "error", f"The entry point {entry_point!r} is not a Python function name.")
    try:
        total = asserts.plan(tests, entry_point).total
    except SyntaxError as error:
        return TestOutcome(0, 0, "error", f"The tests have a syntax error on line {error.lineno or 0}.")
    except (ValueError, RecursionError, MemoryError):
        return TestOutcome(0, 0, "error", "The tests cannot be parsed as Python.")
    if total == 0:
        return TestOutcome(0, 0, "no_tests", "The tests contain no assert that checks anything.")
    try:
        return _Job(program, tests, entry_point, limits, isolation(), total).run()
    except OSError as error:  # the machine's trouble (no processes or pipes left), not the program's
        return TestOutcome(0, total, "error", f"The sandbox could not run the program ({error}).")


def run_many(jobs: list[tuple[str, str, str | None]], limits: Limits = Limits(),
             workers: int | None = None) -> list[TestOutcome]:
    """run_tests for each (program, tests, entry_point), on a pool no larger than the cores and `workers`; the
    outcomes come back in the jobs' order."""
    jobs = list(jobs)
    if not jobs:
        return []
    with ThreadPoolExecutor(pool_size(len(jobs), workers), thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda job: run_tests(*job, limits=limits), jobs))


def pool_size(jobs: int, workers: int | None) -> int:
    """Threads for run_many: each runs one job (two processes that take turns), so one per usable core at most."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, workers or cores, jobs))


@dataclass
class _Watched:
    """What the runner saw while the children ran."""
    verdict: bytearray = field(default_factory=bytearray)
    output_bytes: dict = field(default_factory=lambda: {"program": 0, "judge": 0})
    output_head: dict = field(default_factory=lambda: {"program": b"", "judge": b""})
    too_much_output: set = field(default_factory=set)
    timed_out: bool = False
    too_much_disk: bool = False
    exit_codes: dict = field(default_factory=dict)
    cpu_seconds: dict = field(default_factory=dict)


@dataclass
class _Verdict:
    """The judge's lines, checked."""
    program: str = ""  # loaded | missing | exited | garbled | error
    program_error: tuple[str, int] = ("", 0)
    results: dict = field(default_factory=dict)  # test index -> failure name ("" = passed)
    setup_failure: str = ""  # the first failure of a statement of the tests that is not a test
    ended: bool = False
    tampered: bool = False


class _Job:
    def __init__(self, program: str, tests: str, entry_point: str | None, limits: Limits, layers: Isolation,
                 total: int):
        self.program, self.tests, self.entry_point = program, tests, entry_point
        self.limits, self.layers, self.total = limits, layers, total
        self.nonce = secrets.token_hex(16)

    def run(self) -> TestOutcome:
        with tempfile.TemporaryDirectory(prefix="grpo-sandbox-", ignore_cleanup_errors=True) as root:
            folders = {role: os.path.join(root, role) for role in ("program", "judge")}
            for folder in folders.values():
                os.mkdir(folder, 0o700)
            request_r, request_w = os.pipe()  # judge -> program: calls
            answer_r, answer_w = os.pipe()  # program -> judge: answers
            verdict_r, verdict_w = os.pipe()  # judge -> runner
            children = {}
            try:
                children["program"] = spawn("program", folders["program"], (request_r, answer_w))
                children["judge"] = spawn("judge", folders["judge"], (request_w, answer_r, verdict_w))
            except OSError:
                self._stop(children, _Watched())
                os.close(verdict_r)
                raise
            finally:
                for fd in (request_r, request_w, answer_r, answer_w, verdict_w):
                    os.close(fd)
            common = {"limits": self.limits.as_dict(), "layers": list(self.layers.layers),
                      "landlock_abi": self.layers.landlock_abi}
            send_job(children["program"], {**common, "program": self.program, "request_fd": request_r,
                                           "answer_fd": answer_w})
            send_job(children["judge"], {**common, "tests": self.tests, "entry_point": self.entry_point,
                                         "nonce": self.nonce, "request_fd": request_w, "answer_fd": answer_r,
                                         "verdict_fd": verdict_w})
            watched = _Watched()
            try:
                self._watch(children, verdict_r, root, watched)
            finally:
                os.close(verdict_r)
                self._stop(children, watched)
        return self._outcome(watched, self._parse(bytes(watched.verdict)))

    def _watch(self, children: dict, verdict_r: int, root: str, watched: _Watched) -> None:
        selector = selectors.DefaultSelector()
        for role, child in children.items():
            selector.register(child.stdout, selectors.EVENT_READ, role)
        selector.register(verdict_r, selectors.EVENT_READ, "verdict")
        deadline = time.monotonic() + self.limits.wall_seconds
        next_disk_check = time.monotonic() + DISK_CHECK_S
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    watched.timed_out = True
                    return
                if now >= next_disk_check:
                    if _too_much_disk(root, self.limits.disk_mb * MIB):
                        watched.too_much_disk = True
                        return
                    next_disk_check = now + DISK_CHECK_S
                for key, _ in selector.select(min(deadline, next_disk_check) - now):
                    data = os.read(key.fd, READ_CHUNK)
                    role = key.data
                    if role == "verdict":
                        if not data:
                            return  # the judge is done (or dead)
                        watched.verdict += data
                        if len(watched.verdict) > MAX_VERDICT_BYTES:
                            return
                    elif not data:
                        selector.unregister(key.fileobj)
                    else:
                        watched.output_bytes[role] += len(data)
                        head = watched.output_head[role]
                        watched.output_head[role] = head + data[:max(0, OUTPUT_HEAD_BYTES - len(head))]
                        if watched.output_bytes[role] > self.limits.output_kb * 1024:
                            watched.too_much_output.add(role)
                            _kill_group(children[role])
                            selector.unregister(key.fileobj)
        finally:
            selector.close()

    @staticmethod
    def _stop(children: dict, watched: _Watched) -> None:
        """Kill each child's whole process group, then reap it (a child is never reaped before its group is
        killed, so its pid, which names the group, cannot have been reused)."""
        for role, child in children.items():
            _kill_group(child)
            try:
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = os.waitstatus_to_exitcode(status)
                watched.exit_codes[role] = child.returncode
                watched.cpu_seconds[role] = usage.ru_utime + usage.ru_stime
            except ChildProcessError:  # SIGCHLD is ignored in this process (some libraries do that): already reaped
                pass
            missing = OUTPUT_HEAD_BYTES - len(watched.output_head[role])
            if missing > 0 and child.stdout is not None:  # what it wrote just before it ended
                os.set_blocking(child.stdout.fileno(), False)
                with contextlib.suppress(BlockingIOError):
                    watched.output_head[role] += os.read(child.stdout.fileno(), missing)
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()

    def _parse(self, raw: bytes) -> _Verdict:
        verdict = _Verdict()
        lines = raw.split(b"\n")[:-1]  # a last line without its newline was cut off by a kill: not a verdict
        if len(raw) > MAX_VERDICT_BYTES:
            verdict.tampered = True
        nonce = self.nonce.encode()
        for line in lines:
            words = line.split()
            if len(words) < 2 or not secrets.compare_digest(words[0], nonce):
                verdict.tampered = True
                continue
            kind, rest = words[1].decode(errors="replace"), [word.decode(errors="replace") for word in words[2:]]
            if kind == "program" and rest and not verdict.program:
                verdict.program = rest[0]
                if rest[0] == "error" and len(rest) >= 3:
                    verdict.program_error = (rest[1], int(rest[2]) if rest[2].isdigit() else 0)
            elif kind == "test" and len(rest) >= 2 and rest[0].isdigit() and rest[1] in ("pass", "fail"):
                index = int(rest[0])
                if index >= self.total or index in verdict.results:
                    verdict.tampered = True
                verdict.results[index] = "" if rest[1] == "pass" else (rest[2] if len(rest) > 2 else "Exception")
            elif kind == "end":
                verdict.ended = True
            elif kind == "setup" and rest:
                verdict.setup_failure = verdict.setup_failure or rest[0]
            else:
                verdict.tampered = True
        return verdict

    def _outcome(self, watched: _Watched, verdict: _Verdict) -> TestOutcome:
        limits, total = self.limits, self.total
        loaded = verdict.program == "loaded"
        passed = sum(1 for failure in verdict.results.values() if not failure) if loaded else 0

        def outcome(status: str, detail: str, score: int | None = None) -> TestOutcome:
            return TestOutcome(passed if score is None else score, total, status, detail)

        for role in ("program", "judge"):
            head = watched.output_head[role].decode(errors="replace")
            if watched.exit_codes.get(role) == SETUP_FAILED_EXIT and SETUP_FAILED_PREFIX in head:
                reason = head.split(SETUP_FAILED_PREFIX, 1)[1].strip().splitlines()[0].rstrip(".")
                return outcome("error", f"The sandbox could not be set up ({reason}).", 0)
        if verdict.tampered:
            return outcome("error", "The test results were tampered with, so none count.", 0)
        if loaded and passed == total:
            return outcome("passed", "The test passed." if total == 1 else f"All {total} tests passed.")
        tally = f"{passed} of {total} test{'s' if total != 1 else ''} passed"
        if watched.timed_out:
            return outcome("timeout", f"The program ran past the {limits.wall_seconds:g} s time limit; {tally}.")
        if watched.too_much_disk:
            return outcome("killed", f"The program wrote more than {limits.disk_mb} MiB or {MAX_FILES} files.")
        if "program" in watched.too_much_output:
            return outcome("killed", f"The program printed more than {limits.output_kb} KiB.")
        stopped = verdict.program == "exited" or "ProgramStopped" in verdict.results.values()
        if stopped:
            died = self._death(watched.exit_codes.get("program"), watched.cpu_seconds.get("program", 0.0))
            if died:
                return outcome("killed", f"{died}; {tally}.")
        if verdict.program == "exited":
            return outcome("error", "The program exited before its functions could be tested.")
        if verdict.program == "garbled":
            return outcome("error", "The program wrote garbage where its answers go, so it could not be tested.")
        if verdict.program == "error":
            name, line = verdict.program_error
            where = f" on line {line}" if line else ""
            if name == "MemoryError":
                return outcome("killed", f"The program ran out of memory{where} (limit {limits.memory_mb} MiB).")
            if name == "SyntaxError":
                return outcome("error", f"The program has a syntax error{where}.")
            if name == "SystemExit":
                return outcome("error", f"The program called exit(){where} before its tests could run.")
            return outcome("error", f"The program raised {name}{where} when it was loaded.")
        if verdict.program == "missing":
            return outcome("error", f"The program defines no function named {self.entry_point}.")
        if "judge" in watched.too_much_output:
            return outcome("error", f"The tests printed more than {limits.output_kb} KiB; {tally}.")
        if not verdict.ended:
            return outcome("error", f"The tests stopped early (exit code {watched.exit_codes.get('judge')}); {tally}.")
        if stopped:
            return outcome("error", f"The program exited while its tests ran; {tally}.")
        failures = sorted((index, name) for index, name in verdict.results.items() if name)
        first = f"; the first failure was test {failures[0][0] + 1} ({failures[0][1]})" if failures else ""
        setup = f"; the tests' own setup raised {verdict.setup_failure}" if verdict.setup_failure else ""
        return outcome("failed", f"{tally}{first}{setup}.")

    def _death(self, code: int | None, cpu_seconds: float) -> str:
        """Why the program's process died on its own, or "" if it exited normally."""
        if code is None or code >= 0:
            return ""
        number = -code
        if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_seconds >= self.limits.cpu_seconds):
            return f"The program used more than {self.limits.cpu_seconds:g} s of CPU time"
        if number == signal.SIGXFSZ:
            return f"The program wrote a file larger than {self.limits.file_size_mb} MiB"
        if number == signal.SIGSYS:
            return "The program made a forbidden system call"
        return f"The program crashed ({signal.Signals(number).name})" if number in signal.valid_signals() \
            else "The program crashed"


def _kill_group(child) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _too_much_disk(root: str, limit_bytes: int) -> bool:
    """Whether the job's folder holds more than `limit_bytes` (allocated blocks: a sparse file counts as what it
    uses) or more than MAX_FILES entries."""
    used, entries, folders = 0, 0, [root]
    while folders:
        try:
            with os.scandir(folders.pop()) as listing:
                for entry in listing:
                    entries += 1
                    if entries > MAX_FILES:
                        return True
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    else:
                        used += entry.stat(follow_symlinks=False).st_blocks * 512
        except OSError:
            continue
    return used > limit_bytes

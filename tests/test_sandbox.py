"""The code sandbox against hostile programs, and its scores on honest ones (engine/sandbox/).

Each hostile program is written so that the test it is scored with passes only if the attack worked: a sandbox
that let it through would hand out a reward. Every one must score 0 and leave the protected folders (a fake run
folder, uploads, a home with a token, another run's secret) exactly as they were. An attack that only a kernel
layer stops is skipped, with the reason, where that layer is unavailable.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import DATA, REPO, run_engine

from engine.sandbox import STATUSES, Limits, isolation, prompt_helpers, run_many, run_tests
from engine.sandbox.asserts import plan
from engine.sandbox.layers import from_probe
from engine.sandbox.runner import pool_size
from engine.sandbox.wire import UnsupportedValue, WireError, decode, encode

LIMITS = Limits(wall_seconds=6, cpu_seconds=3, memory_mb=512, output_kb=64)
ATTACK_TESTS = "def check(candidate):\n    assert candidate() is True\n"  # passes only if the attack worked
MARK = f"987.{os.getpid()}"  # in the command line of any process an attack leaves behind


def layer_missing(layer: str) -> str:
    """Why `layer` is not active here ("" when it is)."""
    if layer in isolation().layers:
        return ""
    return dict(isolation().missing).get(layer, f"{layer} is not active here")


# ---------------------------------------------------------------------------------------------------------------
# What the attacks aim at

@pytest.fixture(scope="module")
def protected(tmp_path_factory):
    """Folders the sandboxed program must neither read nor change: a run, uploads, a home, another run."""
    root = tmp_path_factory.mktemp("protected")
    files = {
        "runs/run-1/config.yaml": "model: x\n", "runs/run-1/status.json": '{"state": "running"}',
        "runs/run-1/checkpoints/checkpoint-3/adapter.bin": "weights", "uploads/data.jsonl": '{"q": 1}\n',
        "home/.cache/huggingface/token": "hf_not_for_the_model", "runs/run-2/secret.txt": "secret-value",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def snapshot(root: Path) -> dict:
    return {str(path.relative_to(root)): (path.stat().st_mode, path.read_bytes() if path.is_file() else None)
            for path in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def assert_nobody_connected(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()[0].close()


def leftover_processes() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and MARK.encode() in (entry / "cmdline").read_bytes():
                found.append(entry.name)
        except OSError:
            continue
    return found


# name: (program, tests (None: ATTACK_TESTS), statuses it may end with, the layer it relies on)
ATTACKS = {
    "rm -rf the run folder": ("""
        import os, shutil
        def attack():
            shutil.rmtree("{root}/runs/run-1")
            return not os.path.exists("{root}/runs/run-1")
        """, None, {"failed"}, "landlock"),
    "rm -rf uploads and home through the shell": ("""
        import os
        def attack():
            os.system("rm -rf {root}/uploads {root}/home")
            return not os.path.exists("{root}/uploads")
        """, None, {"failed"}, "landlock"),
    "delete a file": ("""
        import os
        def attack():
            os.remove("{root}/home/.cache/huggingface/token")
            return True
        """, None, {"failed"}, "landlock"),
    "overwrite the run's status": ("""
        def attack():
            open("{root}/runs/run-1/status.json", "w").write("{{}}")
            return True
        """, None, {"failed"}, "landlock"),
    "rename the run folder": ("""
        import os
        def attack():
            os.rename("{root}/runs/run-1", "{root}/runs/gone")
            return True
        """, None, {"failed"}, "landlock"),
    "chmod the run folder": ("""
        import os
        def attack():
            os.chmod("{root}/runs/run-1", 0)
            return True
        """, None, {"failed"}, "seccomp"),
    "hard-link a run file into the work folder and write through it": ("""
        import os
        def attack():
            os.link("{root}/runs/run-1/status.json", "mine")
            open("mine", "w").write("{{}}")
            return True
        """, None, {"failed"}, "landlock"),
    "symlink to the run folder and delete through it": ("""
        import os, shutil
        def attack():
            os.symlink("{root}/runs/run-1", "run")
            shutil.rmtree("run/checkpoints")
            return True
        """, None, {"failed"}, "landlock"),
    "truncate the run's config": ("""
        import os
        def attack():
            os.truncate("{root}/runs/run-1/config.yaml", 0)
            return True
        """, None, {"failed"}, "landlock"),
    "read another run's files": ("""
        def attack():
            return open("{root}/runs/run-2/secret.txt").read() == "secret-value"
        """, None, {"failed"}, "landlock"),
    "read the home folder's token": ("""
        def attack():
            return open("{root}/home/.cache/huggingface/token").read().startswith("hf_")
        """, None, {"failed"}, "landlock"),
    "read /proc/1/environ": ("""
        def attack():
            open("/proc/1/environ", "rb").read()
            return True
        """, None, {"failed"}, "landlock"),
    "read the runner's environment": ("""
        import os
        def attack():
            return b"HOME" in open(f"/proc/{{os.getppid()}}/environ", "rb").read()
        """, None, {"failed"}, "landlock"),
    "list the tests' folder": ("""
        import os
        def attack():
            os.listdir("../judge")
            return True
        """, None, {"failed"}, "landlock"),
    "write outside the work folder": ("""
        import tempfile
        def attack():
            open("{root}/escaped.txt", "w").write("x")
            return True
        """, None, {"failed"}, "landlock"),
    "connect to a local server": ("""
        import socket
        def attack():
            socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"hello")
            return True
        """, None, {"failed"}, "seccomp"),
    "send UDP": ("""
        import socket
        def attack():
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {port}))
            return True
        """, None, {"failed"}, "seccomp"),
    "fork bomb": ("""
        import os
        while True:
            os.fork()
        def attack():
            return True
        """, None, {"error"}, "seccomp"),
    "leave background processes behind": (f"""
        import os, subprocess
        def attack():
            started = 0
            for start in (lambda: subprocess.Popen(["sleep", "{MARK}"]).pid > 0,
                          lambda: os.system("sleep {MARK} &") == 0,  # -1 when it cannot fork
                          lambda: os.posix_spawn("/bin/sleep", ["sleep", "{MARK}"], dict()) > 0):
                try:
                    started += start()
                except OSError:
                    pass
            return started > 0
        """, None, {"failed"}, "seccomp"),
    "start a thread that outlives the test": ("""
        import threading, time
        def attack():
            threading.Thread(target=time.sleep, args=(60,)).start()
            return True
        """, None, {"failed"}, "seccomp"),
    "memory bomb": ("""
        hoard = [bytearray(64 * 1024 * 1024) for _ in range(64)]
        def attack():
            return True
        """, None, {"killed"}, None),
    "infinite loop": ("""
        def attack():
            while True:
                pass
        """, None, {"killed", "timeout"}, None),
    "sleep forever": ("""
        import time
        def attack():
            time.sleep(3600)
        """, None, {"timeout"}, None),
    "huge output": ("""
        import sys
        def attack():
            while True:
                sys.stdout.write("x" * 65536)
        """, None, {"killed"}, None),
    "fill the disk": ("""
        def attack():
            n = 0
            while True:
                with open(f"junk{{n}}", "wb") as f:
                    f.write(b"0" * (8 * 1024 * 1024))
                n += 1
        """, None, {"killed"}, None),
    "sys.exit(0) before the asserts": ("""
        import sys
        def attack():
            return True
        sys.exit(0)
        """, None, {"error"}, None),
    "raise SystemExit before the asserts": ("""
        def attack():
            return True
        raise SystemExit(0)
        """, None, {"error"}, None),
    "os._exit(0) before the asserts": ("""
        import os
        def attack():
            return True
        os._exit(0)
        """, None, {"error"}, None),
    "os._exit(0) in the function": ("""
        import os
        def attack():
            os._exit(0)
        """, None, {"error"}, None),
    "raise StopIteration to cut a map short": ("""
        def attack(x):
            raise StopIteration
        """, "def check(candidate):\n    assert list(map(candidate, [1, 2, 3])) == []\n", {"failed"}, None),
    "redefine check": ("""
        def check(candidate):
            pass
        def attack():
            return False
        """, None, {"failed"}, None),
    "replace builtins and assert helpers": ("""
        import builtins
        class Quiet(Exception):
            pass
        builtins.AssertionError = Quiet
        builtins.abs = lambda x: 0
        abs = lambda x: 0
        AssertionError = Quiet
        def isclose(a, b):
            return True
        def attack():
            return 100.0
        """, "def check(candidate):\n    assert abs(candidate() - 1.5) < 1e-9\n", {"failed"}, None),
    "always-equal object": ("""
        class Anything:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def attack():
            return Anything()
        """, "def check(candidate):\n    assert candidate() == 42\n", {"failed"}, None),
    "int subclass that equals everything": ("""
        class Int(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def attack():
            return Int(0)
        """, "def check(candidate):\n    assert candidate() == 42\n", {"failed"}, None),
    "print fake results on every descriptor": ("""
        import os
        fake = b"All tests passed\\n2 of 2 tests passed\\n" + b"0" * 32 + b" test 0 pass\\n"
        print(fake.decode())
        for fd in range(256):
            try:
                os.write(fd, fake)
            except OSError:
                pass
        def attack():
            return False
        """, None, {"failed", "error"}, None),
    "read the parent's token from the environment": ("""
        import os
        def attack():
            return "HF_TOKEN" in os.environ or any(k.startswith("GRPO_STUDIO") for k in os.environ)
        """, None, {"failed"}, None),
}


@pytest.fixture(scope="module")
def attack_outcomes(protected, listener):
    os.environ["HF_TOKEN"] = "hf_secret_of_the_parent"  # what a careless spawn would hand down
    try:
        runnable = {name: spec for name, spec in ATTACKS.items() if not (spec[3] and layer_missing(spec[3]))}
        jobs = [(textwrap.dedent(program).format(root=protected, port=listener.getsockname()[1]),
                 tests or ATTACK_TESTS, "attack") for program, tests, _, _ in runnable.values()]
        before = snapshot(protected)
        outcomes = dict(zip(runnable, run_many(jobs, LIMITS)))
        return {"outcomes": outcomes, "before": before}
    finally:
        del os.environ["HF_TOKEN"]


@pytest.mark.parametrize("name", ATTACKS)
def test_hostile_program_scores_zero_and_leaves_every_file_intact(name, attack_outcomes, protected, listener):
    _, _, statuses, layer = ATTACKS[name]
    if layer and layer_missing(layer):
        pytest.skip(f"{layer} is unavailable here: {layer_missing(layer)}")
    outcome = attack_outcomes["outcomes"][name]
    assert outcome.passed == 0 and outcome.score == 0.0, outcome
    assert outcome.status in statuses, outcome
    assert snapshot(protected) == attack_outcomes["before"]
    assert not (protected / "escaped.txt").exists()
    assert_nobody_connected(listener)
    assert leftover_processes() == []


def test_limit_outcomes_say_which_limit(attack_outcomes):
    outcomes = attack_outcomes["outcomes"]
    assert "memory" in outcomes["memory bomb"].detail
    assert "printed more than 64 KiB" in outcomes["huge output"].detail
    assert "time limit" in outcomes["sleep forever"].detail
    assert "MiB or" in outcomes["fill the disk"].detail
    assert "exit()" in outcomes["sys.exit(0) before the asserts"].detail


def test_a_cpu_bound_program_is_killed_by_its_cpu_limit():
    outcome = run_tests("def spin():\n    while True:\n        pass\n", "assert spin() is None\n", None,
                        Limits(wall_seconds=60, cpu_seconds=1))
    assert (outcome.status, outcome.passed) == ("killed", 0)
    assert "CPU time" in outcome.detail


def test_killing_the_parent_or_everyone_fails(tmp_path):
    """The runner lives in a victim process of its own: if a kill got through, the victim would die, not pytest."""
    if layer_missing("seccomp") and layer_missing("landlock-signals"):
        pytest.skip("neither seccomp nor Landlock's signal scope is active here, and kill(-1) would be real")
    refused = run_tests("import os\ndef attack():\n    os.kill(-1, 0)\n    return True\n", ATTACK_TESTS, "attack")
    assert refused.detail.endswith("(PermissionError)."), refused  # signal 0 only asks; now the real thing
    program = textwrap.dedent("""
        import os, signal
        def attack():
            hits = 0
            for target in (os.getppid(), -os.getpgid(os.getppid()), -1):
                try:
                    os.kill(target, signal.SIGKILL)
                    hits += 1
                except OSError:
                    pass
            return hits > 0
        """)
    victim = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.sandbox import run_tests
        outcome = run_tests({program!r}, {ATTACK_TESTS!r}, "attack")
        print(json.dumps([outcome.passed, outcome.status]))
        """)
    done = subprocess.run([sys.executable, "-c", victim], check=False, capture_output=True, text=True, timeout=120,
                          start_new_session=True, cwd=tmp_path)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, "failed"]


def test_a_layer_that_cannot_be_applied_stops_the_job_instead_of_running_unprotected():
    if layer_missing("landlock"):
        pytest.skip(f"landlock is unavailable here: {layer_missing('landlock')}")
    # One open file: the child's Landlock rules need to open the paths they allow, so Landlock cannot be set up.
    outcome = run_tests("print('ran')\ndef f():\n    return 1\n", "assert f() == 1\n", None, Limits(open_files=1))
    assert (outcome.status, outcome.passed) == ("error", 0)
    assert outcome.detail.startswith("The sandbox could not be set up (landlock_"), outcome


def test_the_throwaway_folder_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    program = "import os\nos.makedirs('a/b/c')\nopen('a/b/c/f', 'w').write('x')\ndef f():\n    return 1\n"
    assert run_tests(program, "assert f() == 1\n").status == "passed"
    assert list(tmp_path.iterdir()) == []


def test_the_program_sees_a_clean_environment_and_its_own_folder():
    program = textwrap.dedent("""
        import os
        def seen():
            return sorted(os.environ), os.environ["HOME"] == os.getcwd() == os.environ["TMPDIR"]
        """)
    tests = "names, home_is_work_folder = seen()\nassert home_is_work_folder\nassert set(names) <= ALLOWED\n"
    allowed = "ALLOWED = {'PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', " \
              "'MKL_NUM_THREADS', 'LC_CTYPE'}\n"
    outcome = run_tests(program, allowed + tests)
    assert outcome.status == "passed", outcome


# ---------------------------------------------------------------------------------------------------------------
# Honest programs

ADD_TESTS = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n" \
            "    assert True, 'a constant assert tests nothing and is not counted'\n" \
            "    assert candidate(-2, -2) == -4\n    assert candidate(0, 0) == 0\n"


@pytest.mark.parametrize("program, passed, status", [
    ("def add(a, b):\n    return a + b\n", 4, "passed"),
    ("def add(a, b):\n    return a - b\n", 1, "failed"),  # only 0 - 0 == 0
    ("def add(a, b):\n    return abs(a) + abs(b)\n", 2, "failed"),  # one failure does not hide the others
    ("def add(a, b):\n    raise NotImplementedError\n", 0, "failed"),
    ("def plus(a, b):\n    return a + b\n", 0, "error"),
    ("def add(a, b)\n    return a + b\n", 0, "error"),
    ("", 0, "error"),
])
def test_scores_are_the_share_of_asserts_passed(program, passed, status):
    outcome = run_tests(program, ADD_TESTS, "add")
    assert (outcome.passed, outcome.total, outcome.status) == (passed, 4, status), outcome
    assert outcome.score == passed / 4
    assert outcome.detail.endswith(".") and "\n" not in outcome.detail


def test_outcome_details_are_one_sentence_each():
    assert run_tests("def add(a, b)\n    return a + b\n", ADD_TESTS, "add").detail == \
        "The program has a syntax error on line 1."
    assert run_tests("def plus(a, b):\n    return 0\n", ADD_TESTS, "add").detail == \
        "The program defines no function named add."
    assert run_tests("x = 1 / 0\n", ADD_TESTS, "add").detail == \
        "The program raised ZeroDivisionError on line 1 when it was loaded."
    assert run_tests("def add(a, b):\n    return a - b\n", ADD_TESTS, "add").detail == \
        "1 of 4 tests passed; the first failure was test 1 (AssertionError)."


def test_plain_assert_scripts_call_the_program_by_name():
    program = "def add(a, b):\n    return a + b\n\nLIMIT = 10\n"
    tests = "assert add(1, 2) == 3\nassert add(2, 2) == 5\nfor n in range(3):\n    assert add(n, n) == 2 * n\n" \
            "assert LIMIT == 10\n"
    outcome = run_tests(program, tests)
    assert (outcome.passed, outcome.total, outcome.status) == (3, 4, "failed"), outcome


def test_values_cross_as_exact_builtin_types():
    program = textwrap.dedent("""
        def values():
            return [1, 2.5, float("inf"), -0.0, "é\\u2212", b"\\x00\\xff", (1, 2), {1, 2}, frozenset({3}),
                    {"a": [1, {2: (3,)}]}, None, True, 3 + 4j, 10 ** 30, float("nan")]
        def echo(*args, **kwargs):
            return args, kwargs
        """)
    tests = textwrap.dedent("""
        import math
        def check(candidate):
            assert candidate()[:-1] == [1, 2.5, float("inf"), -0.0, "é\\u2212", b"\\x00\\xff", (1, 2), {1, 2},
                                        frozenset({3}), {"a": [1, {2: (3,)}]}, None, True, 3 + 4j, 10 ** 30]
            assert [type(v) for v in candidate()[:3]] == [int, float, float]
            assert type(candidate()[6]) is tuple and candidate()[11] is True
            assert math.isnan(candidate()[-1])
            assert echo(1, (2,), key={3}) == ((1, (2,)), {"key": {3}})
        """)
    assert run_tests(program, tests, "values").status == "passed"


def test_programs_may_use_numpy_and_dataclasses():
    pytest.importorskip("numpy")
    program = textwrap.dedent("""
        from __future__ import annotations
        from dataclasses import dataclass
        import numpy as np
        @dataclass
        class Point:
            x: int
        def f():
            return np.int64(Point(3).x), np.arange(3), np.float32(0.5)
        """)
    assert run_tests(program, "assert f() == (3, [0, 1, 2], 0.5)\n").status == "passed"


def test_a_failing_setup_statement_of_the_tests_is_named():
    outcome = run_tests("def f():\n    return 2\n", "import not_a_module\nassert f() == 2\nassert not_a_module.x\n")
    assert outcome.detail == ("1 of 2 tests passed; the first failure was test 2 (NameError); the tests' own setup "
                              "raised ModuleNotFoundError.")


def test_program_exceptions_arrive_as_their_builtin_type():
    program = "class Custom(Exception):\n    pass\ndef f(x):\n    if x:\n        raise ValueError('no')\n" \
              "    raise Custom('mine')\n"
    tests = textwrap.dedent("""
        def raised(call, *args):
            try:
                call(*args)
            except ValueError:
                return "ValueError"
            except Exception as error:
                return "other"
        def check(candidate):
            assert raised(candidate, 1) == "ValueError"
            assert raised(candidate, 0) == "other"
        """)
    assert run_tests(program, tests, "f").status == "passed"


def test_names_the_tests_define_are_never_taken_from_the_program():
    program = "def poly(x):\n    return 0\ndef find_zero():\n    return 5.0\n"
    tests = "def poly(x):\n    return x - 3\n\ndef check(candidate):\n    assert abs(poly(candidate())) < 1e-9\n"
    assert run_tests(program, tests, "find_zero").passed == 0
    assert run_tests(program.replace("5.0", "3.0"), tests, "find_zero").status == "passed"


def test_a_hang_keeps_the_tests_that_passed_before_it():
    program = "import time\ndef f(x):\n    if x == 3:\n        time.sleep(3600)\n    return x\n"
    tests = "def check(candidate):\n" + "".join(f"    assert candidate({n}) == {n}\n" for n in (1, 2, 3, 4))
    outcome = run_tests(program, tests, "f", Limits(wall_seconds=3))
    assert (outcome.passed, outcome.total, outcome.status) == (2, 4, "timeout"), outcome


@pytest.mark.parametrize("tests, entry_point, status, detail", [
    ("def check(candidate):\n    assert True\n", "f", "no_tests", "The tests contain no assert that checks anything."),
    ("def check(candidate)\n    assert candidate()\n", "f", "error", "The tests have a syntax error on line 1."),
    ("assert f() == 1\n", "not a name", "error", "The entry point 'not a name' is not a Python function name."),
    ("assert f() == 1\x00\n", None, "error", None),  # Python 3.11 says ValueError, 3.12 SyntaxError
])
def test_bad_tests_and_entry_points_are_one_sentence_errors(tests, entry_point, status, detail):
    outcome = run_tests("def f():\n    return 1\n", tests, entry_point)
    assert (outcome.status, outcome.passed) == (status, 0)
    assert outcome.detail == detail if detail else outcome.detail.startswith("The tests ")
    assert outcome.status in STATUSES


def test_test_plans_count_asserts_that_check_something():
    tests = "META = 1\nassert META == 1\ndef check(candidate):\n    import math\n    assert True\n" \
            "    for x in range(3):\n        assert candidate(x) == x\n    assert candidate(1) == 1, 'msg'\n"
    assert plan(tests, "f").total == 3  # the module's assert, the loop, the last assert
    assert plan(tests, None).total == 1  # without an entry point check is just a helper
    assert plan(tests, "f").check_parameter == "candidate"


def test_limits_refuse_nonsense():
    for wrong in ({"wall_seconds": 0}, {"memory_mb": -1}, {"output_kb": True}, {"cpu_seconds": "10"}):
        with pytest.raises(ValueError, match=r"^Limits\.\w+ must be a positive number, not .+\.$"):
            Limits(**wrong)


def test_wire_refuses_what_is_not_plain_data():
    class Lying(int):
        pass

    for value in (Lying(1), object(), [1, lambda: 0], {"k": {1: object()}}):
        with pytest.raises(UnsupportedValue):
            encode(value)
    for malformed in ([1, 2], {"list": [1], "tuple": [2]}, {"set": [{"list": []}]}, {"object": []}):
        with pytest.raises(WireError):
            decode(malformed)
    value = {"a": (1, frozenset({2.5})), (1, "b"): [None, b"x", 1j]}
    assert decode(json.loads(json.dumps(encode(value)))) == value


# ---------------------------------------------------------------------------------------------------------------
# The pool, the layers, the CLI

def test_run_many_keeps_the_order_and_pools_no_more_than_the_cores():
    jobs = [(f"def f():\n    return {n}\n", f"assert f() == {n if n % 2 else -1}\n", None) for n in range(5)]
    outcomes = run_many(jobs, workers=2)
    assert [outcome.passed for outcome in outcomes] == [0, 1, 0, 1, 0]
    assert run_many([]) == []
    cores = len(os.sched_getaffinity(0))
    assert pool_size(100, None) == cores and pool_size(100, 1) == 1 and pool_size(100, 10 * cores) == cores
    assert pool_size(1, None) == 1


def test_isolation_reports_what_holds_here():
    layers = isolation()
    assert "process" in layers.layers
    sentence = layers.describe()
    assert sentence.endswith(".") and "\n" not in sentence
    for layer, words in (("seccomp", "seccomp blocks network"), ("landlock", "Landlock (ABI")):
        assert (words in sentence) == (layer in layers.layers)
    if os.geteuid() == 0:
        assert "no-capabilities" in layers.layers


def test_a_missing_layer_is_named_with_its_reason():
    found = {"root": False, "landlock_abi": 0, "seccomp": "",
             "landlock": "the kernel has no Landlock (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK is needed)"}
    layers = from_probe(found)
    assert layers.layers == ("process", "seccomp")
    assert "landlock is unavailable (the kernel has no Landlock" in layers.describe()
    assert "can read and change every file this user can" in layers.describe()


def test_the_cli_self_test_passes():
    done = run_engine("sandbox", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert isolation().describe() in done.stdout
    assert "ok: a correct program passed" in done.stdout and "ok: a hostile program scores zero" in done.stdout


# ---------------------------------------------------------------------------------------------------------------
# HumanEval, as the product bundles it

def humaneval() -> list[dict]:
    with open(DATA / "humaneval" / "humaneval.jsonl") as rows:
        return [json.loads(row) for row in rows]


def test_humaneval_canonical_solutions_score_full_marks():
    rows = humaneval()
    assert len(rows) == 164
    start = time.monotonic()
    outcomes = run_many([(row["prompt"] + row["canonical_solution"], row["test"], row["entry_point"])
                         for row in rows])
    failed = [(row["task_id"], outcome) for row, outcome in zip(rows, outcomes) if outcome.status != "passed"]
    assert failed == []
    assert sum(outcome.total for outcome in outcomes) > 1000
    print(f"164 HumanEval problems in {time.monotonic() - start:.1f} s")


def test_humaneval_empty_and_wrong_solutions_score_zero():
    rows = humaneval()[::8]  # a fixed slice; bench/reward_speed.py runs all 164
    jobs = [("", row["test"], row["entry_point"]) for row in rows]
    jobs += [(row["prompt"] + "    raise NotImplementedError\n", row["test"], row["entry_point"]) for row in rows]
    outcomes = run_many(jobs)
    assert [outcome.passed for outcome in outcomes] == [0] * len(jobs)
    assert {outcome.status for outcome in outcomes[:len(rows)]} == {"error"}


def test_signal_names_in_crash_details():
    outcome = run_tests("import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
                        "assert f() is None\n")
    assert (outcome.status, outcome.detail) == ("killed", "The program crashed (SIGSEGV); 0 of 1 test passed.")


def test_where_a_seccomp_profile_refuses_landlock_the_probe_says_so_and_jobs_still_run(tmp_path):
    """As in a Docker engine older than moby PR 43199: the container's profile answers Landlock calls with EPERM."""
    if layer_missing("seccomp"):
        pytest.skip(f"seccomp is unavailable here: {layer_missing('seccomp')}")
    victim = textwrap.dedent(f"""
        import ctypes, errno, json, sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.sandbox import seccomp
        from engine.sandbox.kernel import PR_SET_SECCOMP, prctl, set_no_new_privs
        from engine.sandbox.seccomp import AUDIT_ARCH, JEQ_K, LD_W_ABS, OFFSET_ARCH, OFFSET_NR, RET_K, \\
            RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, SECCOMP_MODE_FILTER, _instruction, _SockFprog
        code = [_instruction(LD_W_ABS, 0, 0, OFFSET_ARCH),
                _instruction(JEQ_K, 1, 0, AUDIT_ARCH[seccomp.architecture()]),
                _instruction(RET_K, 0, 0, RET_KILL_PROCESS), _instruction(LD_W_ABS, 0, 0, OFFSET_NR)]
        for number in (444, 445, 446):  # landlock_create_ruleset, _add_rule, _restrict_self
            code += [_instruction(JEQ_K, 0, 1, number), _instruction(RET_K, 0, 0, RET_ERRNO | errno.EPERM)]
        code = b"".join(code + [_instruction(RET_K, 0, 0, RET_ALLOW)])
        buffer = ctypes.create_string_buffer(code, len(code))
        set_no_new_privs()
        assert prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                     ctypes.byref(_SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p)))) == 0
        from engine.sandbox import isolation, run_tests
        good = run_tests("def f():\\n    return 1\\n", "assert f() == 1\\n")
        hostile = run_tests("import socket\\ndef f():\\n    return socket.socket() is not None\\n", "assert f()\\n")
        print(json.dumps([isolation().layers, isolation().describe(), good.status, hostile.passed]))
        """)
    done = subprocess.run([sys.executable, "-c", victim], check=False, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    layers, sentence, good, hostile_passed = json.loads(done.stdout.strip().splitlines()[-1])
    assert "landlock" not in layers and "seccomp" in layers
    assert "landlock is unavailable (a seccomp profile around this process" in sentence
    assert (good, hostile_passed) == ("passed", 0)


def test_humaneval_helpers_belong_to_the_tests_so_redefining_them_does_not_pay():
    """HumanEval/32, 38 and 50 check the answer with a helper from the prompt (poly, encode_cyclic, encode_shift);
    a program that redefines the helper would pass with a wrong answer unless the tests own the helper."""
    rows = {row["task_id"]: row for row in humaneval()}
    hacks = {"HumanEval/32": "    return 0.0\n\ndef poly(xs, x):\n    return 0.0\n",
             "HumanEval/38": "    return s\n\ndef encode_cyclic(s):\n    return s\n",
             "HumanEval/50": "    return s\n\ndef encode_shift(s):\n    return s\n"}
    with_helpers = [row for row in rows.values() if prompt_helpers(row["prompt"], row["entry_point"])]
    assert {row["task_id"] for row in with_helpers} >= set(hacks) | {"HumanEval/10"}
    jobs = [(row["prompt"] + row["canonical_solution"], prompt_helpers(row["prompt"], row["entry_point"]) + row["test"],
             row["entry_point"]) for row in with_helpers]
    jobs += [(rows[task]["prompt"] + hack, prompt_helpers(rows[task]["prompt"], rows[task]["entry_point"])
              + rows[task]["test"], rows[task]["entry_point"]) for task, hack in hacks.items()]
    outcomes = run_many(jobs)
    assert [outcome.status for outcome in outcomes[:len(with_helpers)]] == ["passed"] * len(with_helpers)
    assert [outcome.passed for outcome in outcomes[len(with_helpers):]] == [0] * len(hacks)

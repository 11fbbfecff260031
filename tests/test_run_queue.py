"""The run queue and run housekeeping, engine side, with real processes: queued runs train one after another, each
started by the one before it; three starters at once start one run; reorder, cancel and delete; the queue file and
the disk use read defensively."""

import json
import os
import subprocess
import sys

import pytest

from engine.config import load_config
from engine.disk_space import folder_usage
from engine.runs import queue as run_queue
from engine.runs.delete import RunDeleteRefused, delete_run
from engine.runs.folder import RunFolder

from tests.conftest import REPO, run_engine, started_identity, wait_for

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def tiny(steps: int, seed: int = 0):
    return load_config(QUICKSTART, [f"train.max_steps={steps}", f"train.seed={seed}", "train.eval_limit=0",
                                    "train.report_to=none"])


def test_queued_runs_train_in_order_and_three_starters_start_one(runs_dir):
    first, dropped, broken, last = (run_queue.add(runs_dir, tiny(2, seed)) for seed in range(4))
    assert run_queue.queued_ids(runs_dir) == [first.id, dropped.id, broken.id, last.id]
    assert run_queue.move(runs_dir, last.id, -1) == 3 and run_queue.move(runs_dir, last.id, -5) == 1
    assert run_queue.move(runs_dir, last.id, 2) == 3  # back behind `first` and `dropped`
    run_queue.cancel(runs_dir, dropped.id)
    assert not dropped.path.exists() and run_queue.queued_ids(runs_dir) == [first.id, last.id, broken.id]
    assert run_queue.move(runs_dir, broken.id, -1) == 2  # first, broken, last
    broken.config_path.write_text("train: {max_steps: -3}\n")  # edited by hand while it waited

    # Three starters at the same moment: the one-run lock lets one of them train; the others leave the queue alone.
    env = {**os.environ, "GRPO_STUDIO_RUNS_DIR": str(runs_dir)}
    starters = [subprocess.Popen([sys.executable, "-m", "engine", "queue", "next"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=300)[0] for process in starters]
    # Each starter trained a run (its words go to that run's log) or found the lock held or the queue empty.
    assert all(out.strip() == "" or "not started" in out or "queue is empty" in out for out in outputs), outputs
    assert first.read_status().state == "completed", first.log_tail()
    # The run that ended started the next one by itself (no starter was left to do it): the broken one fails with
    # its sentence, and the queue goes on to the last.
    wait_for(lambda: last.read_status().state in ("completed", "failed"), what="the last queued run")
    assert last.read_status().state == "completed", last.log_tail()
    status = broken.read_status()
    assert status.state == "failed" and "train.max_steps" in status.error and "train.max_steps" in broken.log_tail()
    assert first.read_status().finished <= status.finished <= last.read_status().started  # one after the other
    assert run_queue.queued_ids(runs_dir) == []
    for run in (first, last):
        log = run.log_path.read_text()
        assert log.count("starting (first in the queue)") == 1 and "completed at step 2" in log


def test_the_queue_file_and_its_runs_are_read_defensively(runs_dir):
    run = run_queue.add(runs_dir, tiny(2))
    queue_file = runs_dir / run_queue.QUEUE_NAME
    for damaged in (b"\xff\xfe", b"[1, 2]", b'{"runs": "all"}', b'{"runs": [1, {"a": 2}, "../etc", null]}'):
        queue_file.write_bytes(damaged)
        assert run_queue.queued_ids(runs_dir) == []  # nothing to start, nothing raised
    queue_file.write_text(json.dumps({"runs": [run.id, run.id, "gone-run"]}))
    assert run_queue.queued_ids(runs_dir) == [run.id]  # a duplicate and a folder that is gone are passed over
    run.write_status(state="failed", error="x")  # it started since: no longer waiting
    assert run_queue.queued_ids(runs_dir) == [] and run_queue.take_next(runs_dir) is None
    with pytest.raises(run_queue.QueueError, match="not in the queue"):
        run_queue.move(runs_dir, run.id, 1)


def test_delete_refuses_the_active_run_and_frees_the_rest(runs_dir, tmp_path):

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        active = RunFolder(runs_dir / "active-run")
        active.path.mkdir(parents=True)
        tiny(2).save(active.config_path)
        active.write_status(state="running", **started_identity(sleeper))
        with pytest.raises(RunDeleteRefused, match="run active-run is training; stop it first"):
            delete_run(active)
        result = run_engine("delete", active.path, "--yes", env={"GRPO_STUDIO_RUNS_DIR": str(runs_dir)})
        assert result.returncode == 2 and "is training" in result.stderr and active.config_path.is_file()
    finally:
        sleeper.kill()
        sleeper.wait()

    done = RunFolder(runs_dir / "done-run")
    (done.path / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    tiny(2).save(done.config_path)
    (done.path / "checkpoints" / "checkpoint-1" / "weights").write_bytes(os.urandom(300_000))
    os.link(done.path / "checkpoints" / "checkpoint-1" / "weights", done.path / "hard-link")  # counted once
    (done.path / "outside").symlink_to(tmp_path)  # not followed
    du = subprocess.run(["du", "-s", "-B1", str(done.path)], capture_output=True, text=True).stdout.split()[0]
    assert folder_usage(done.path) == int(du)
    result = run_engine("delete", done.path, env={"GRPO_STUDIO_RUNS_DIR": str(runs_dir)})
    assert result.returncode == 2 and "add --yes" in result.stderr and done.path.is_dir()
    result = run_engine("delete", done.path, "--yes", env={"GRPO_STUDIO_RUNS_DIR": str(runs_dir)})
    assert result.returncode == 0 and "freed" in result.stdout
    assert not done.path.exists() and tmp_path.is_dir() and not list(runs_dir.glob(".deleting-*"))

"""Damaged run folders for the hostile suites: each variant the issue found breaking the runs list, Launch or the
app's start-up, and a few more. `make_run_folders(root)` writes them all; the fault suite reads them directly and the
HTTP suite starts the real app on top of them."""

from __future__ import annotations

import json
import time
from pathlib import Path

from engine import settings
from engine.config import build_config

# run id -> (file, content, what the run's status error must start with)
UNREADABLE = {
    "bad-status-not-utf8": ("status.json", b'{"state": "completed", "model": "\xff\xfe"}',
                            "unreadable: status.json: not UTF-8 text"),
    "bad-status-list": ("status.json", b"[]", "unreadable: status.json: a JSON list, not an object"),
    "bad-status-pid-abc": ("status.json", b'{"state": "running", "pid": "abc"}',
                           "unreadable: status.json: pid: input should be a valid integer"),
    "bad-status-nan": ("status.json", b'{"state": "completed", "step": 3, "started": NaN}',
                       "unreadable: status.json: started: input should be a finite number"),
    "bad-status-empty": ("status.json", b"", "unreadable: status.json: empty"),
    "bad-status-truncated": ("status.json", b'{"state": "runn', "unreadable: status.json: not valid JSON"),
    "bad-status-bool-step": ("status.json", b'{"state": "completed", "step": true}',
                             "unreadable: status.json: step: input should be a valid integer"),
    "bad-status-state": ("status.json", b'{"state": "exploded"}', "unreadable: status.json: state:"),
    "bad-status-huge": ("status.json", b"{" + b" " * (2 << 20) + b"}", "unreadable: status.json: 2097154 bytes"),
    "bad-status-folder": ("status.json", None, "unreadable: status.json: not a regular file"),
    "bad-events-not-utf8": ("events.jsonl", b'{"step": 1, "reward": 0.5}\n\xff\xfe\n',
                            "unreadable: events.jsonl: not UTF-8 text"),
}

# run id -> (file, content): odd lines and values that are skipped, leaving a readable, completed run
ODD_BUT_READABLE = {
    "odd-events": ("events.jsonl", (b'[1, 2]\n"text"\n5\nnull\n'
                                    b'{"step": "abc", "reward": "x", "time": "y", "regex_timeouts": [1, 2]}\n'
                                    b'{"step": 1, "reward": 0.5, "time": 1000.0, "regex_timeouts": {"f": "x"}}\n'
                                    b'{"step": 2, "reward": NaN, "time": 1001.0}\n{"step": 3, "rew')),
    "odd-samples": ("samples.jsonl", (b'{"step": 1, "prompt": {"a": 1}, "completion": 5, "scores": [1, 2]}\n'
                                      b'{"step": "x", "scores": {"f": "y"}}\n[]\n')),
    "odd-eval": ("eval.json", b'[{"base": 1}]'),
    "odd-eval-fields": ("eval.json", b'{"base": {"accuracy": "high", "n": "many"}, "seconds": "x"}'),
}
GOOD_STATUS = {"state": "completed", "step": 3, "max_steps": 3, "backend": "hf", "model": "builtin:tiny",
               "preset": "rlvr-math", "started": 1000.0, "finished": 1010.0}


def write_config(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    build_config({"preset": "rlvr-math", "model": {"name": "builtin:tiny"},
                  "data": {"path": str(settings.sample_data_path())}}).save(folder / "config.yaml")


def make_run_folders(root: Path) -> None:
    """Every variant above, each in its own run folder under root (with a valid config.yaml, so it is listed)."""
    for run_id, (name, content, _) in UNREADABLE.items():
        folder = root / run_id
        write_config(folder)
        if name != "status.json":
            (folder / "status.json").write_text(json.dumps(GOOD_STATUS))
        if content is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(content)
    for run_id, (name, content) in ODD_BUT_READABLE.items():
        folder = root / run_id
        write_config(folder)
        (folder / "status.json").write_text(json.dumps(GOOD_STATUS | {"started": 1e300 if run_id == "odd-eval" else
                                                                      time.time()}))
        (folder / name).write_bytes(content)
    # A run folder whose config.yaml is not UTF-8: listed, unreadable settings are a sentence when loaded.
    folder = root / "bad-config"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_bytes(b"model: {name: \xff}\n")
    (folder / "status.json").write_text(json.dumps(GOOD_STATUS))

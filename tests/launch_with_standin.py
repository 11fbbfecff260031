"""`engine train`'s launcher (engine/launcher.py) on a CPU, with tests/vllm_standin.py in place of `trl vllm-serve`:

    python tests/launch_with_standin.py RUN_DIR BEHAVIOUR

What `engine train` does for a run with a vLLM server, after its checks (which refuse server mode without a GPU):
the one-run lock, the starting status, the launch plan, then the launcher: the server started and health-checked,
the trainer started as `engine train RUN --worker` (real GRPO on the tiny model, generating with HF on the CPU as no
vLLM can run here), the run watched and everything stopped with it. Only the server's command is the stand-in's.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from engine import backends, launch_plan, launcher, model_names, settings, training
from engine.config import load_config
from engine.runs.folder import RunFolder
from engine.runs.lock import RunLock

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "examples" / "quickstart.yaml"


def main(run_dir: str, behaviour: str, *overrides: str) -> int:
    config = load_config(QUICKSTART, ["train.max_steps=200", "train.save_steps=1000", "train.eval_limit=0",
                                      *overrides])
    run = RunFolder(Path(run_dir))
    lock = RunLock(settings.runs_dir())
    lock.acquire(run.id)
    run.path.mkdir(parents=True, exist_ok=True)
    stop = training.begin(config, run)
    plan = backends.plan_for_machine(config, False, None, [], None)
    path = model_names.resolve_model_path(config.model.name)
    made = launch_plan.launch_plan(config, run.path, path, plan, resume=False)
    port = launch_plan.free_port()
    standin = (sys.executable, str(REPO / "tests" / "vllm_standin.py"), "--host", launch_plan.SERVER_HOST, "--port",
               str(port), "--behaviour", behaviour, "--pid-file", str(run.path.parent / "standin.pid"))
    made = replace(made, server=launch_plan.ChildCommand(standin, {"CUDA_VISIBLE_DEVICES": ""}),
                   address=training.RolloutServerAddress(f"http://{launch_plan.SERVER_HOST}:{port}",
                                                         launch_plan.free_port()))
    state = launcher.train_launched(config, run, plan, path, False, stop, made)
    return 0 if state in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""python -m engine <command>: everything the app can do, from a terminal, with the same YAML.

  presets                               list the presets
  check CONFIG [--set k=v ...]          validate and say what will happen (exit 2 on problems)
  train CONFIG|RUN_DIR [--set k=v ...] [--run-dir DIR] [--resume]
  score CONFIG --completion TEXT [--answer GOLD]
  eval RUN_DIR|CONFIG [--limit N] [--data FILE]
  watch RUN_DIR                         follow a run until it ends
  export RUN_DIR [--merge]              zip the adapter; --merge also saves base+adapter as one 16-bit model
  reference                             the config keys with their help (Markdown)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from engine import settings
from engine.config import ConfigError, RunConfig, error_sentence, field_reference, load_config
from engine.run_folder import RunFolder

EXIT_PROBLEMS = 2


def _config_source(argument: str) -> tuple[Path, RunFolder | None]:
    """A config file, or a run folder (its config.yaml)."""
    path = Path(argument)
    if path.is_dir():
        return path / "config.yaml", RunFolder(path)
    if path.name == "config.yaml" and (path.parent / "status.json").is_file():
        return path, RunFolder(path.parent)
    return path, None


def _load(argument: str, overrides: list[str]) -> tuple[RunConfig, RunFolder | None]:
    config_path, run = _config_source(argument)
    return load_config(config_path, overrides), run


MAX_PROBLEMS_SHOWN = 10  # a config of a thousand broken rows needs the first few, not a thousand lines


def _print_problems(error: ConfigError) -> int:
    problems = error.problems
    print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}:", file=sys.stderr)
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        print(f"  - {problem}", file=sys.stderr)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(f"  - ... and {len(problems) - MAX_PROBLEMS_SHOWN} more; fix these first", file=sys.stderr)
    return EXIT_PROBLEMS


def cmd_presets(args) -> int:
    from engine.presets import list_presets

    for preset in list_presets():
        print(f"{preset.name:12} {preset.description}")
    return 0


def cmd_check(args) -> int:
    from engine.checks import check_config

    config, _ = _load(args.config, args.set)
    report = check_config(config)
    for key, value in report.facts.items():
        print(f"{key:15} {value}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    if not report.ok:
        return _print_problems(ConfigError(report.problems))
    print("ok: ready to train")
    return 0


def cmd_train(args) -> int:
    """Load the config, take the one-run lock, write the first status (all light), then the heavy checks and the
    training itself. The lock is held until the process ends; the OS drops it if the process dies."""
    from engine import training
    from engine.run_folder import new_run_folder
    from engine.run_lock import RunLock, RunLockBusy

    config, run = _load(args.config, args.set)
    if args.run_dir:
        run = RunFolder(Path(args.run_dir))
    elif not args.resume:
        run = None  # a new folder, made once the checks pass
    lock = RunLock(settings.runs_dir())
    try:
        lock.acquire(run.id if run else None)
    except RunLockBusy as error:
        print(error, file=sys.stderr)
        return EXIT_PROBLEMS
    try:
        if run is not None:
            run.path.mkdir(parents=True, exist_ok=True)
        stop = training.begin(config, run, args.resume) if run is not None else None
        training.use_triton_interpreter_without_gpu()
        training.import_backend_first(config)  # Unsloth must come before transformers, which check_config imports
        from engine.checks import check_config

        report = check_config(config)
        for warning in report.warnings:
            print(f"warning: {warning}")
        if not report.ok:
            if run is not None:
                run.write_status(state="failed", error=str(report.problems[0]), finished=time.time())
            return _print_problems(ConfigError(report.problems))
        if run is None:
            run = new_run_folder(config.preset, settings.runs_dir())
            lock.name_run(run.id)
        state = training.train(config, run, resume=args.resume, stop=stop)
        return 0 if state in ("completed", "stopped") else 1
    except BaseException as error:  # the run folder must say what happened, whatever happened
        if run is None or not run.path.is_dir():
            raise
        training.fail(run, error)
        return 1
    finally:
        lock.release()


def cmd_score(args) -> int:
    from engine.rewards import reward_problems, score_completion

    config, _ = _load(args.config, args.set)
    problems = reward_problems(config)
    if problems:
        return _print_problems(ConfigError(problems))
    print(json.dumps(score_completion(config, args.completion, args.answer), indent=2))
    return 0


def cmd_eval(args) -> int:
    from engine.evaluation import evaluate

    config, run = _load(args.target, args.set)
    result = evaluate(config, run, args.limit, args.data, args.batch_size)
    for name in ("base", "tuned"):
        if name in result:
            r = result[name]
            accuracy = "n/a" if r["accuracy"] is None else f"{r['accuracy']:.1%}"
            formatting = "n/a" if r["format_compliance"] is None else f"{r['format_compliance']:.1%}"
            print(f"{name:6} accuracy {accuracy:>7}  format {formatting:>7}  mean reward {r['mean_reward']:.3f}"
                  f"  (n={r['n']})")
    if run is not None:
        print(f"written to {run.eval_path}")
    else:
        print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=2))
    return 0


def cmd_watch(args) -> int:
    from engine.progress import watch

    run = RunFolder(Path(args.run_dir))
    if not run.status_path.is_file():
        print(f"{args.run_dir} is not a run folder (no status.json)", file=sys.stderr)
        return EXIT_PROBLEMS
    state = watch(run, args.interval)
    if state == "unreadable":
        return EXIT_PROBLEMS
    return 0 if state in ("completed", "stopped") else 1


def cmd_export(args) -> int:
    from engine.export import ExportError, adapter_zip, merge_and_save

    run = RunFolder(Path(args.run_dir))
    try:
        print(f"adapter: {adapter_zip(run)}")
        if args.merge:
            print(f"merged model: {merge_and_save(run)}")
    except ExportError as error:
        print(str(error), file=sys.stderr)
        return EXIT_PROBLEMS
    return 0


def cmd_reference(args) -> int:
    print("| key | type | default | what it does |\n|---|---|---|---|")
    for key, kind, default, help_text in field_reference():
        cells = [f"`{key}`", kind, default, help_text]
        print("| " + " | ".join(cell.replace("|", "or") for cell in cells) + " |")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="GRPO Studio's headless engine.")
    sub = parser.add_subparsers(dest="command", required=True)
    overrides = dict(action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key; the value is YAML (repeatable)")

    sub.add_parser("presets", help="list the presets").set_defaults(run=cmd_presets)

    p = sub.add_parser("check", help="validate a config and say what will happen")
    p.add_argument("config")
    p.add_argument("--set", **overrides)
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("train", help="run GRPO and write a run folder")
    p.add_argument("config", help="a config YAML, or a run folder to --resume")
    p.add_argument("--set", **overrides)
    p.add_argument("--run-dir", help="the run folder (default: runs/<timestamp>-<preset>)")
    p.add_argument("--resume", action="store_true", help="continue a stopped run from its last checkpoint")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("score", help="score one completion with the config's rewards (JSON)")
    p.add_argument("config")
    p.add_argument("--set", **overrides)
    p.add_argument("--completion", required=True)
    p.add_argument("--answer", default=None, help="the gold answer, for answer_match rewards")
    p.set_defaults(run=cmd_score)

    p = sub.add_parser("eval", help="accuracy and format compliance, base vs tuned")
    p.add_argument("target", metavar="RUN_DIR_OR_CONFIG")
    p.add_argument("--set", **overrides)
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N prompts")
    p.add_argument("--data", default=None, help="evaluate on every row of this file instead of the held-out split")
    p.add_argument("--batch-size", type=int, default=None,
                   help="prompts generated together (default 64 on a GPU, 16 on CPU); more is faster if memory allows")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("watch", help="follow a run (also one started by the app) until it ends")
    p.add_argument("run_dir")
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(run=cmd_watch)

    p = sub.add_parser("export", help="zip the adapter, optionally merge it into the base model")
    p.add_argument("run_dir")
    p.add_argument("--merge", action="store_true", help="also save base + adapter merged, in 16-bit")
    p.set_defaults(run=cmd_export)

    sub.add_parser("reference", help="the config keys (Markdown)").set_defaults(run=cmd_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as error:
        return _print_problems(error)
    except Exception as error:  # eval/export/watch: the traceback for engineers, then one line the app shows
        traceback.print_exc()
        print(f"failed: {error_sentence(error)}", file=sys.stderr)
        return 1

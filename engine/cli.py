"""python -m engine <command>: everything the app can do, from a terminal, with the same YAML.

  presets                               list the presets
  check CONFIG [--set k=v ...]          validate and say what will happen (exit 2 on problems)
  train CONFIG|RUN_DIR [--set k=v ...] [--run-dir DIR] [--resume]
  score CONFIG --completion TEXT [--answer GOLD] [--row JSON | [--data FILE] --index N]
  probe CONFIG|RUN_DIR [--set k=v ...] [--prompts N] [--out FILE]   will GRPO learn? (probe.json)
  curate CONFIG|RUN_DIR [--samples K] [--band LOW,HIGH] [--out FILE] [--limit N]
                                        keep the questions this model can learn from (curation.json + a data file)
  arithmetic [--difficulty easy|medium|hard] [--rows N] [--test-rows N] [--out-dir DIR]
                                        write the bundled learnable task: word problems, train and held-out test
  eval RUN_DIR|CONFIG [--limit N] [--data FILE] [--checkpoint best|last]
  watch RUN_DIR                         follow a run until it ends
  queue list|add CONFIG|cancel ID|move ID up|down|next
                                        runs waiting to train; each starts when the one before it ends
  export RUN_DIR [--merge] [--merged-zip] [--gguf f16|q8_0|q4_k_m] [--checkpoint last|best]
         [--push ORG/NAME [--what adapter|merged|gguf] [--private] [--dry-run]]
                                        zip the adapter; merge; GGUF + Ollama Modelfile; push with a model card
  delete RUN_DIR --yes                  delete a run folder of the runs folder (never the run that is training)
  reference [--kinds]                   the config keys with their help; --kinds: the reward kinds (Markdown)
  sandbox                               which isolation the code sandbox has here, and a self-test (exit 0/1)
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path

from engine import settings
from engine.config import RunConfig, field_reference, load_config
from engine.problems import ConfigError, Problem, error_sentence
from engine.runs.folder import RunFolder

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

    presets = list_presets()
    width = max((len(preset.name) for preset in presets), default=0)
    for preset in presets:
        print(f"{preset.name:{width}} {preset.description}")
    return 0


def cmd_check(args) -> int:
    from engine.checks import check_config

    config, run = _load(args.config, args.set)
    report = check_config(config, [default_probe_path(args.config, run)])
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
    training itself. The lock is held until the process ends; the OS drops it if the process dies. Once it is
    released, the next queued run (if any) is started."""
    from engine.runs.lock import RunLock, RunLockBusy

    # A segfault in a native library (CUDA kernels, vLLM) leaves no Python to write status.json: faulthandler prints
    # "Fatal Python error: ..." and the stacks to the log, where RunFolder.native_crash_line finds it.
    with contextlib.suppress(io.UnsupportedOperation, ValueError):  # stderr without a file (called in-process)
        faulthandler.enable()
    config, run = _load(args.config, args.set)
    if args.worker:
        return _train_worker(args, config, run)
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
        return _train_holding_lock(lock, config, run, args.resume)
    finally:
        lock.release()
        _start_next_queued()


def _train_holding_lock(lock, config: RunConfig, run: RunFolder | None, resume: bool) -> int:
    from engine import training
    from engine.runs.folder import new_run_folder

    try:
        if run is not None:
            run.path.mkdir(parents=True, exist_ok=True)
        stop = training.begin(config, run, resume) if run is not None else None
        training.use_triton_interpreter_without_gpu()
        training.prepare_process(config)  # Unsloth must come before transformers, which check_config imports
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
        if report.plan is not None and report.plan.split.launched:  # a vLLM server, or several GPUs
            from engine import launcher, model_names

            stop = stop or training.begin(config, run, resume)
            state = launcher.train_launched(config, run, report.plan, model_names.resolve_model_path(
                config.model.name), resume, stop)
        else:
            state = training.train(config, run, resume=resume, stop=stop)
        return 0 if state in ("completed", "stopped") else 1
    except BaseException as error:  # the run folder must say what happened, whatever happened
        if run is None or not run.path.is_dir():
            raise
        training.fail(run, error)
        return 1


def _start_next_queued() -> None:
    """The run that ended hands the GPU to the next queued run; a trainer's exit is never spoiled by it."""
    from engine.runs import queue as run_queue

    try:
        run_queue.start_next(settings.runs_dir())
    except Exception as error:  # a full disk, a runs folder gone: the app's queue check starts it later
        print(f"the next queued run was not started ({error_sentence(error)})", file=sys.stderr)


def cmd_queue(args) -> int:
    from engine.runs import queue as run_queue

    root = settings.runs_dir()
    if args.action == "next":
        return _train_next_queued(root)
    try:
        if args.action == "add":
            config, _ = _load(args.config, args.set)
            run = run_queue.add(root, config)
            print(f"queued {run.id} (position {run_queue.position(root, run.id)})")
            run_queue.start_next(root)
        elif args.action == "cancel":
            run_queue.cancel(root, args.run_id)
            print(f"cancelled {args.run_id}")
        elif args.action == "move":
            moved = run_queue.move(root, args.run_id, -1 if args.direction == "up" else 1)
            print(f"{args.run_id} is now at position {moved}")
    except run_queue.QueueError as error:
        print(error, file=sys.stderr)
        return EXIT_PROBLEMS
    for number, run_id in enumerate(run_queue.queued_ids(root), 1):
        print(f"{number:3}. {run_id}")
    if not run_queue.queued_ids(root):
        print("the queue is empty")
    note = run_queue.damage_note(root)
    if note:
        print(note, file=sys.stderr)
    return 0


def _train_next_queued(root: Path) -> int:
    """`queue next`: take the one-run lock, then the first queued run, and train it. With the lock held elsewhere,
    nothing is touched: the run training now starts the queue when it ends."""
    from engine.runs import queue as run_queue
    from engine.runs.lock import RunLock, RunLockBusy

    lock = RunLock(root)
    try:
        lock.acquire(None)
    except RunLockBusy as error:
        print(f"not started: {error}")
        return 0
    try:
        run = run_queue.take_next(root)
        if run is None:
            print("the queue is empty")
            return 0
        lock.name_run(run.id)
        if not sys.stdout.isatty():  # started by a starter: from now on this process writes the run's own log
            with open(run.log_path, "a", encoding="utf-8") as log:
                sys.stdout.flush(), sys.stderr.flush()
                os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        print(f"queued run {run.id}: starting (first in the queue)", flush=True)
        try:
            config = load_config(run.config_path)
        except ConfigError as error:  # e.g. its data file was deleted while it waited
            run.write_status(state="failed", error=str(error.problems[0]), finished=time.time())
            return _print_problems(error)
        return _train_holding_lock(lock, config, run, resume=False)
    finally:
        lock.release()
        _start_next_queued()


def _train_worker(args, config: RunConfig, run: RunFolder | None) -> int:
    """A training process that `engine train` launched (engine/launcher.py): the run folder exists and `engine
    train` holds the lock, ran the checks and wrote the starting status; only the main rank writes from here."""
    import psutil

    from engine import training
    from engine.backends.base import RolloutServerAddress
    from engine.runs.lock import active_holder

    # Only under the `engine train` that holds the one-run lock: a --worker started by hand would train unlocked.
    holder = active_holder(settings.runs_dir()) or {}
    launched_by_holder = holder.get("pid") in {parent.pid for parent in psutil.Process().parents()}
    if run is None or args.backend is None or not launched_by_holder:
        print("--worker is for the processes engine train starts; run engine train CONFIG instead", file=sys.stderr)
        return EXIT_PROBLEMS
    server = RolloutServerAddress(args.rollout_server, args.group_port) if args.rollout_server else None
    training.use_triton_interpreter_without_gpu()
    training.prepare_process(config, args.backend)
    overrides = json.loads(args.grpo_json) if args.grpo_json else None
    state = training.train(config, run, resume=args.resume, grpo_overrides=overrides,
                           launch=training.Launched(args.backend, server))
    return 0 if state in ("completed", "stopped") else 1


def cmd_score(args) -> int:
    from engine.rewards import reward_problems, score_completion
    from engine.score_row import scoring_row

    config, _ = _load(args.config, args.set)
    problems = reward_problems(config)
    if problems:
        return _print_problems(ConfigError(problems))
    row = scoring_row(config, args.row, args.data, args.index, args.answer)
    print(json.dumps(score_completion(config, args.completion, args.answer, row), indent=2))
    return 0


def default_probe_path(argument: str, run: RunFolder | None) -> Path:
    """Where `engine probe CONFIG|RUN_DIR` writes its report, and where `engine check` looks for it: the run folder's
    probe.json, else probe.json next to the user's config; an example config shipped with GRPO Studio sits in the
    product's folder, not the user's, so its report goes to the cache."""
    config = Path(argument)
    if run is not None:
        return run.probe_path
    if config.resolve().is_relative_to(settings.examples_dir().resolve()):
        return settings.probe_reports_dir() / f"{config.stem}.probe.json"
    return config.parent / "probe.json"


def _probe_output(argument: str, out: str | None, run: RunFolder | None) -> Path:
    """--out, else the default place (default_probe_path). Its folder must exist (the cache's is made)."""
    path = Path(out) if out else default_probe_path(argument, run)
    if path.parent == settings.probe_reports_dir():
        with contextlib.suppress(OSError):  # an unwritable cache is reported below, in one sentence
            path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise ConfigError([Problem("--out", f"{path} is a folder; give a file name such as {path / 'probe.json'}")])
    if not path.parent.is_dir():
        raise ConfigError([Problem("--out", f"folder {path.parent} does not exist; create it or choose another")])
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError([Problem("--out", f"{path} cannot be written here; choose another file with --out")])
    return path


def cmd_probe(args) -> int:
    from engine.training import use_triton_interpreter_without_gpu

    use_triton_interpreter_without_gpu()  # the step estimate runs TRL's log-prob kernel, as training does
    from engine.checks import check_config
    from engine.probe import probe, report_lines
    from engine.progress_bar import progress_bar

    config, run = _load(args.config, args.set)
    output = _probe_output(args.config, args.out, run)
    report = check_config(config)
    for warning in report.warnings:
        print(f"warning: {warning}")
    if not report.ok:
        return _print_problems(ConfigError(report.problems))
    with progress_bar("the model answering", unit="questions") as progress:
        result = probe(config, args.prompts, progress)
    output.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print("\n".join(report_lines(result)))
    print(f"written to {output}")
    return 0


def _prompt_count(text: str) -> int:
    from engine.probe import MAX_PROMPTS

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PROMPTS:
        raise argparse.ArgumentTypeError(f"give a whole number from 1 to {MAX_PROMPTS}, not '{text}'")
    return value


def cmd_curate(args) -> int:
    from engine.training import use_triton_interpreter_without_gpu

    use_triton_interpreter_without_gpu()
    from engine.checks import check_config
    from engine.curation import curate, summary
    from engine.progress_bar import progress_bar

    config, _ = _load(args.config, args.set)
    report = check_config(config)
    if not report.ok:
        return _print_problems(ConfigError(report.problems))
    with progress_bar("sampling questions", unit="questions") as progress:
        result = curate(config, args.samples, args.band, Path(args.out) if args.out else None, args.limit, progress)
    print(summary(result))
    print(f"questions by how many of {result['samples_per_question']} answers passed ({result['pass']}): "
          + ", ".join(f"{k}: {n}" for k, n in result["histogram"].items()))
    folder = Path(result["output"]).parent if result["output"] else Path(args.out or ".").parent
    print(f"report written to {folder / 'curation.json'}")
    return 0 if result["output"] else 1


def _band(text: str) -> tuple[float, float]:
    from engine.curation import parse_band

    try:
        return parse_band(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_arithmetic(args) -> int:
    from engine.arithmetic_task import write_split

    train, test = write_split(Path(args.out_dir), args.difficulty, args.rows, args.test_rows, args.seed)
    print(f"{args.rows} training questions in {train}\n{args.test_rows} held-out questions (none of them in the "
          f"training file) in {test}")
    return 0


def cmd_eval(args) -> int:
    from engine.evaluation import evaluate

    config, run = _load(args.target, args.set)
    result = evaluate(config, run, args.limit, args.data, args.batch_size, args.checkpoint)
    for name in ("base", "tuned"):
        if name in result:
            r = result[name]
            accuracy = "n/a" if r["accuracy"] is None else f"{r['accuracy']:.1%}"
            formatting = "n/a" if r["format_compliance"] is None else f"{r['format_compliance']:.1%}"
            in_format = "" if r.get("accuracy_in_format") is None else \
                f"  {result['accuracy_metric']} of those in format {r['accuracy_in_format']:.1%}"
            print(f"{name:6} {result['accuracy_metric']} {accuracy:>7}  format {formatting:>7}{in_format}  mean "
                  f"reward {r['mean_reward']:.3f}  (n={r['n']})")
    if "tuned_adapter" in result:
        print(f"tuned = base + {result['tuned_adapter']}")
    if run is not None:
        print(f"written to {run.eval_path}")
    else:
        print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=2))
    return 0


def cmd_watch(args) -> int:
    from engine.runs.progress import watch

    run = RunFolder(Path(args.run_dir))
    if not run.status_path.is_file():
        print(f"{args.run_dir} is not a run folder (no status.json)", file=sys.stderr)
        return EXIT_PROBLEMS
    state = watch(run, args.interval)
    if state == "unreadable":
        return EXIT_PROBLEMS
    return 0 if state in ("completed", "stopped") else 1


def cmd_export(args) -> int:
    from engine import export
    from engine.export.gguf import outtype_problem

    run = RunFolder(Path(args.run_dir))
    try:
        export.check_run(run)
        if args.push is None and (args.private or args.what or args.dry_run):
            raise export.ExportError("--private, --what and --dry-run go with --push ORG/NAME")
        if args.push is not None:
            export.check_push(args.push, args.what or "adapter", args.dry_run)
        if args.gguf and outtype_problem(args.gguf):
            raise export.ExportError(outtype_problem(args.gguf))
        archive = export.adapter_zip(run, args.checkpoint)
        print(f"adapter zip: {archive} ({export.human_size(archive.stat().st_size)})")
        if args.merge:
            merged = export.merge_and_save(run, args.checkpoint)
            print(f"merged model: {merged} ({export.human_size(export.folder_size(merged))})")
        if args.merged_zip:
            download = export.merged_download(run, args.checkpoint)
            print(f"merged model zip: {download.path} ({download.human_size})")
        if args.gguf:
            made = export.export_gguf(run, args.gguf, args.checkpoint)
            print(f"gguf: {made.gguf} ({export.human_size(made.gguf.stat().st_size)})")
            print(f"ollama: {made.modelfile}  (cd {made.modelfile.parent} && ollama create NAME -f Modelfile)")
            if made.note:
                print(f"note: {made.note}")
        if args.push is not None:
            where = export.push(run, args.push, args.what or "adapter", args.private, args.gguf or "q8_0",
                                args.checkpoint, args.dry_run)
            if args.dry_run:
                staged = Path(where)
                size = export.human_size(export.folder_size(staged))
                print(f"dry run: would upload {staged} ({size}) to {args.push}")
                for file in sorted(p for p in staged.rglob("*") if p.is_file()):
                    print(f"  {file.relative_to(staged)} ({export.human_size(file.stat().st_size)})")
            else:
                print(f"pushed: {where}")
    except export.ExportError as error:
        print(str(error), file=sys.stderr)
        return EXIT_PROBLEMS
    return 0


def cmd_delete(args) -> int:
    from engine.disk_space import folder_usage
    from engine.export import human_size
    from engine.runs.delete import RunDeleteRefused, delete_run, run_to_delete

    try:
        run = run_to_delete(Path(args.run_dir))
    except RunDeleteRefused as error:
        print(error, file=sys.stderr)
        return EXIT_PROBLEMS
    size = human_size(folder_usage(run.path))
    if not args.yes:
        print(f"run {run.id} ({size}) is not deleted: add --yes to delete it and everything in it", file=sys.stderr)
        return EXIT_PROBLEMS
    try:
        delete_run(run)
    except RunDeleteRefused as error:
        print(error, file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"deleted {run.id} ({size} freed)")
    return 0


def cmd_reference(args) -> int:
    if args.kinds:
        return _print_reward_kinds()
    print("| key | type | default | what it does |\n|---|---|---|---|")
    for key, kind, default, help_text in field_reference():
        cells = [f"`{key}`", kind, default, help_text]
        print("| " + " | ".join(cell.replace("|", "or") for cell in cells) + " |")
    return 0


def cmd_sandbox(args) -> int:
    from engine.sandbox.selftest import report

    lines, ok = report()
    print("\n".join(lines))
    return 0 if ok else 1


def _print_reward_kinds() -> int:
    from engine.rewards import KINDS

    print("| kind | category | in the web app | scores | its own keys |\n|---|---|---|---|---|")
    for kind in KINDS.values():
        keys = ", ".join(f"`{name}`" for name in kind.fields())
        cells = [f"`{kind.name}`", kind.category, "yes" if kind.web else "no (YAML and CLI)", kind.help, keys]
        print("| " + " | ".join(cell.replace("|", "or") for cell in cells) + " |")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from engine.export import CHECKPOINT_CHOICES, PUSH_WHAT
    from engine.export.gguf import OUTTYPES

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
    # The processes engine train launches itself (a rank of several GPUs, or the trainer beside a vLLM server).
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--backend", choices=("hf", "unsloth"), help=argparse.SUPPRESS)
    p.add_argument("--rollout-server", help=argparse.SUPPRESS)
    p.add_argument("--group-port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--grpo-json", help=argparse.SUPPRESS)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("queue", help="runs waiting to train: list, add, cancel, move, or start the next one")
    queue = p.add_subparsers(dest="action", required=True)
    queue.add_parser("list", help="the queued runs, first to start first")
    q = queue.add_parser("add", help="queue a run (it starts now if nothing is training)")
    q.add_argument("config")
    q.add_argument("--set", **overrides)
    q = queue.add_parser("cancel", help="take a queued run off the queue and delete its folder")
    q.add_argument("run_id")
    q = queue.add_parser("move", help="move a queued run earlier (up) or later (down)")
    q.add_argument("run_id")
    q.add_argument("direction", choices=("up", "down"))
    queue.add_parser("next", help="train the first queued run now, unless a run is training")
    p.set_defaults(run=cmd_queue)

    p = sub.add_parser("score", help="score one completion with the config's rewards (JSON)")
    p.add_argument("config")
    p.add_argument("--set", **overrides)
    p.add_argument("--completion", required=True)
    p.add_argument("--answer", default=None, help="the gold answer, for answer_match rewards (overrides the row's)")
    p.add_argument("--row", default=None, metavar="JSON",
                   help="the data row to score against, as a JSON object of its columns (code tests, the gold answer)")
    p.add_argument("--data", default=None, metavar="FILE", help="with --index: the data file (default: the config's)")
    p.add_argument("--index", type=int, default=None, metavar="N",
                   help="score against row N of the data file (counting from 0)")
    p.set_defaults(run=cmd_score)

    p = sub.add_parser("probe", help="sample and score a few prompts: will GRPO learn anything? (probe.json)")
    p.add_argument("config", help="a config YAML, or a run folder (the report goes into it)")
    p.add_argument("--set", **overrides)
    p.add_argument("--prompts", type=_prompt_count, default=16, help="training prompts to sample (default 16)")
    p.add_argument("--out", default=None, help="where to write the report (default: probe.json next to the config; "
                   "for a bundled example, <cache dir>/probes/<name>.probe.json)")
    p.set_defaults(run=cmd_probe)

    p = sub.add_parser("curate", help="sample every training question: keep those the model sometimes gets right")
    p.add_argument("config", help="a config YAML, or a run folder")
    p.add_argument("--set", **overrides)
    p.add_argument("--samples", type=int, default=None,
                   help="completions per question (default: the config's train.num_generations)")
    p.add_argument("--band", type=_band, default=(0.0, 1.0), metavar="LOW,HIGH",
                   help="keep questions whose pass rate is strictly between LOW and HIGH (default 0,1)")
    p.add_argument("--out", default=None, help="the curated data file, .jsonl; curation.json goes beside it "
                                               "(default: a new folder under uploads/curated/)")
    p.add_argument("--limit", type=int, default=None, help="sample at most N training questions")
    p.set_defaults(run=cmd_curate)

    p = sub.add_parser("arithmetic", help="write the bundled learnable task (word problems with numeric answers)")
    p.add_argument("--difficulty", choices=("easy", "medium", "hard"), default="easy")
    p.add_argument("--rows", type=int, default=2000, help="training questions (default 2000)")
    p.add_argument("--test-rows", type=int, default=300, help="held-out questions, never in the training file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=".", help="folder for arithmetic-<difficulty>-{train,test}.jsonl")
    p.set_defaults(run=cmd_arithmetic)

    p = sub.add_parser("eval", help="accuracy and format compliance, base vs tuned")
    p.add_argument("target", metavar="RUN_DIR_OR_CONFIG")
    p.add_argument("--set", **overrides)
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N prompts")
    p.add_argument("--data", default=None, help="evaluate on every row of this file instead of the held-out split")
    p.add_argument("--batch-size", type=int, default=None,
                   help="prompts generated together (default 64 on a GPU, 16 on CPU); more is faster if memory allows")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="the tuned model: the best checkpoint by held-out eval during training (default; the last "
                        "when there is none) or the last adapter")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("watch", help="follow a run (also one started by the app) until it ends")
    p.add_argument("run_dir")
    p.add_argument("--interval", type=float, default=1.0)
    p.set_defaults(run=cmd_watch)

    p = sub.add_parser("export", help="zip the adapter; merge, GGUF + Ollama Modelfile, push to the Hub")
    p.add_argument("run_dir")
    p.add_argument("--merge", action="store_true", help="also save base + adapter merged, in 16-bit")
    p.add_argument("--merged-zip", action="store_true",
                   help="also zip the merged model into one file to download (merging first if needed)")
    p.add_argument("--gguf", choices=OUTTYPES, help="also write a GGUF of the merged model and an Ollama Modelfile")
    p.add_argument("--checkpoint", choices=CHECKPOINT_CHOICES, default="best",
                   help="best: the checkpoint with the best held-out eval (best.json; the last adapter where there "
                        "is none); last: the final adapter")
    p.add_argument("--push", metavar="ORG/NAME", help="upload to the Hugging Face Hub with a model card (HF_TOKEN)")
    p.add_argument("--what", choices=PUSH_WHAT, help="what --push uploads (default: adapter; gguf uses --gguf, q8_0)")
    p.add_argument("--private", action="store_true", help="--push: make a new repo private")
    p.add_argument("--dry-run", action="store_true", help="--push: stage the upload in the run folder, send nothing")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("delete", help="delete a run folder of the runs folder (never the run that is training)")
    p.add_argument("run_dir")
    p.add_argument("--yes", action="store_true", help="really delete it (without it, only say its size)")
    p.set_defaults(run=cmd_delete)

    p = sub.add_parser("reference", help="the config keys (Markdown)")
    p.add_argument("--kinds", action="store_true", help="the reward kinds instead (Markdown)")
    p.set_defaults(run=cmd_reference)
    sub.add_parser("sandbox", help="the code sandbox's isolation here, and a self-test").set_defaults(run=cmd_sandbox)
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

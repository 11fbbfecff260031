"""Export a run: the LoRA adapter as a zip, the base model with the adapter merged in (a folder, or a zip to
download), a GGUF with an Ollama Modelfile, and a push of any of them to the Hugging Face Hub with a model card.

What lands in the run folder (each written whole: into a temporary name, then renamed):
    <id>-adapter.zip            adapter/ zipped
    merged/                     base + adapter, 16-bit (merged-checkpoint-N/ for --checkpoint best)
    <id>-merged.zip             merged/ zipped, for download
    gguf-<type>/                <id>-<type>.gguf and its Modelfile (gguf-<type>-checkpoint-N/ for best)
    model-card/                 README.md + reward_curve.png, as pushed
    hub-<what>/                 the staged upload (hard links), as pushed
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.config import load_config
from engine.disk_space import human_size
from engine.progress_bar import progress_bar
from engine.runs.folder import RunFolder

CHECKPOINT_CHOICES = ("best", "last")
PUSH_WHAT = ("adapter", "merged", "gguf")
MERGE_MARKER = "grpo_studio_merge.json"
PICKLES = (".bin", ".pt", ".pth", ".pkl", ".pickle")


class ExportError(Exception):
    pass


@dataclass(frozen=True)
class Download:
    """A file the results step can offer, with its size shown first."""
    label: str
    path: Path
    size: int

    @property
    def human_size(self) -> str:
        return human_size(self.size)

    def __str__(self) -> str:
        return f"{self.label}: {self.path} ({self.human_size})"


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def check_run(run: RunFolder) -> None:
    if not run.config_path.is_file():
        raise ExportError(f"{run.path} is not a run folder (it has no config.yaml)")


# ---------------------------------------------------------------------------------------------------------------
# Which adapter: the best checkpoint by held-out eval, or the last one (engine.best_checkpoint decides)

def _has_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file() and any(folder.glob("adapter_model.*"))


def adapter_source(run: RunFolder, checkpoint: str = "best") -> Path:
    """The folder holding the adapter to export (engine.best_checkpoint.adapter_source, as eval and the chat use it),
    said once on the console."""
    from engine import best_checkpoint

    if checkpoint not in CHECKPOINT_CHOICES:
        raise ExportError(f"--checkpoint must be one of {', '.join(CHECKPOINT_CHOICES)}, not '{checkpoint}'")
    try:
        source = best_checkpoint.adapter_source(run, checkpoint)
    except best_checkpoint.NoAdapter as error:
        raise ExportError(str(error)) from None
    print(f"adapter: {best_checkpoint.describe_source(run, source)}")
    return source


def _suffix(run: RunFolder, source: Path) -> str:
    return "" if source == run.adapter_dir else f"-{source.name}"


# ---------------------------------------------------------------------------------------------------------------
# Adapter and merged model

ZIP_CHUNK = 8 * 2**20


def _zip(folder: Path, archive: Path) -> Path:
    """archive (a .zip) of folder's contents, written whole: a reader never sees half a zip. A merged model is
    gigabytes: the bytes written are counted (engine/progress_bar.py)."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    total, done = sum(path.stat().st_size for path in files), 0
    made = archive.with_name(f".{archive.stem}.tmp{os.getpid()}.zip")
    try:
        with progress_bar(f"zipping {archive.name}", "bytes") as progress, \
                zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in files:
                with open(path, "rb") as source, bundle.open(path.relative_to(folder).as_posix(), "w",
                                                             force_zip64=True) as target:
                    while chunk := source.read(ZIP_CHUNK):
                        target.write(chunk)
                        done += len(chunk)
                        progress(done, total)
        os.replace(made, archive)
    finally:
        made.unlink(missing_ok=True)
    return archive


def adapter_zip(run: RunFolder, checkpoint: str = "best") -> Path:
    """runs/<id>/<id>-adapter.zip (RunFolder.adapter_zip): the chosen adapter (the best checkpoint by default), its
    config and the tokenizer. One name whichever was chosen, so that the app always finds the latest export."""
    return _zip(adapter_source(run, checkpoint), run.adapter_zip)


def _merge_stamp(source: Path) -> dict:
    weights = next(source.glob("adapter_model.*"))
    stat = weights.stat()
    return {"adapter": source.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _merged_from(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MERGE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def merge_and_save(run: RunFolder, checkpoint: str = "best") -> Path:
    """runs/<id>/merged/: a plain model folder (bf16 on GPU, fp32 on CPU) that any transformers/vLLM loads. Kept
    and reused while the adapter it was merged from is unchanged."""
    check_run(run)
    source = adapter_source(run, checkpoint)
    target = run.path / f"merged{_suffix(run, source)}"
    stamp = _merge_stamp(source)
    if _merged_from(target) == stamp:
        return target

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from engine.model_names import load_tokenizer, resolve_model_path

    config = load_config(run.config_path)
    if config.model.load_in_4bit or config.model.load_in_fp8:
        # The adapter was trained against quantized weights; merging needs the 16-bit base, loaded fresh below.
        print("note: merging into the 16-bit base model (training used a quantized load)")
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(resolve_model_path(config.model.name), dtype=dtype)
    merged = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
    tmp = run.path / f".{target.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        merged.save_pretrained(tmp)
        # The run's tokenizer carries its chat template (with the answer prefix, see data.start_answers_with_prefix).
        tokenizer_source = source if (source / "tokenizer_config.json").is_file() else run.adapter_dir
        load_tokenizer(str(tokenizer_source)).save_pretrained(tmp)
        (tmp / MERGE_MARKER).write_text(json.dumps(stamp), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another export of this run renamed its merge into place first: keep it if it is ours
            if _merged_from(target) != stamp:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def merged_download(run: RunFolder, checkpoint: str = "best") -> Download:
    """The merged model as one zip (merging first if needed), for a browser download."""
    folder = merge_and_save(run, checkpoint)
    archive = run.path / f"{run.id}-{folder.name}.zip"
    stamp = folder / MERGE_MARKER
    if not archive.is_file() or archive.stat().st_mtime_ns < stamp.stat().st_mtime_ns:
        _zip(folder, archive)
    return Download("merged model (zip)", archive, archive.stat().st_size)


# ---------------------------------------------------------------------------------------------------------------
# GGUF + Ollama

@dataclass(frozen=True)
class GgufExport:
    gguf: Path
    modelfile: Path
    note: str | None


def gguf_folder(run: RunFolder, outtype: str, source: Path) -> Path:
    return run.path / f"gguf-{outtype}{_suffix(run, source)}"


def export_gguf(run: RunFolder, outtype: str, checkpoint: str = "best") -> GgufExport:
    """runs/<id>/gguf-<type>/<id>-<type>.gguf of the merged model, and a Modelfile beside it."""
    from engine.export.gguf import GgufError, convert, outtype_problem
    from engine.export.ollama_modelfile import ModelfileError, write_modelfile
    from engine.model_names import load_tokenizer

    check_run(run)
    problem = outtype_problem(outtype)
    if problem:  # before merging: a refusal should cost nothing
        raise ExportError(problem)
    source = adapter_source(run, checkpoint)
    merged = merge_and_save(run, checkpoint)
    folder = gguf_folder(run, outtype, source)
    name = f"{run.id}-{outtype}.gguf"
    path = folder / name
    try:
        # Converted again only when the merge is newer than the file (e.g. `--gguf q8_0 --push ... --what gguf`).
        if not path.is_file() or path.stat().st_mtime_ns < (merged / MERGE_MARKER).stat().st_mtime_ns:
            convert(merged, path, outtype, run.id)
        modelfile, note = write_modelfile(folder, name, load_tokenizer(str(merged)), load_config(run.config_path))
    except (GgufError, ModelfileError) as error:
        raise ExportError(str(error)) from None
    return GgufExport(path, modelfile, note)


def gguf_download(path: Path) -> Download:
    return Download(f"GGUF {path.stem.rsplit('-', 1)[-1]}", path, path.stat().st_size)


def available_downloads(run: RunFolder) -> list[Download]:
    """What is already exported and can be downloaded now (nothing is made here): the adapter zip, merged zips,
    and every GGUF, with sizes."""
    found = []
    if run.adapter_zip.is_file():
        found.append(Download("adapter (zip)", run.adapter_zip, run.adapter_zip.stat().st_size))
    for archive in sorted(run.path.glob(f"{run.id}-merged*.zip")):
        found.append(Download("merged model (zip)", archive, archive.stat().st_size))
    for gguf in sorted(run.path.glob("gguf-*/*.gguf")):
        found.append(gguf_download(gguf))
    return found


# ---------------------------------------------------------------------------------------------------------------
# Push to the Hub

def _publishable(folder: Path) -> list[tuple[Path, str]]:
    """The files of an adapter or merged folder that belong on the Hub: not the trainer's pickled arguments
    (training_args.bin holds local paths, and the Hub flags pickles), not our merge marker, not a stale card."""
    return [(p, p.name) for p in sorted(folder.iterdir()) if p.is_file() and p.suffix not in PICKLES
            and p.name not in ("README.md", MERGE_MARKER)]


def check_push(repo_id: str, what: str = "adapter", dry_run: bool = False) -> None:
    """The push's own inputs (repo id, what, token), before any slow work."""
    from engine.export import hub_push

    if what not in PUSH_WHAT:
        raise ExportError(f"--what must be one of {', '.join(PUSH_WHAT)}, not '{what}'")
    problem = hub_push.repo_id_problem(repo_id) or (None if dry_run else hub_push.token_problem())
    if problem:
        raise ExportError(problem)


def push(run: RunFolder, repo_id: str, what: str = "adapter", private: bool = False, outtype: str = "q8_0",
         checkpoint: str = "best", dry_run: bool = False) -> str:
    """Push the adapter, the merged model or a GGUF (+ Modelfile) with a model card; returns the repo URL, or the
    staged folder's path for a dry run. Problems a user can fix are checked before any slow work."""
    from engine.export import hub_push
    from engine.export.model_card import write_card

    check_run(run)
    check_push(repo_id, what, dry_run)
    source = adapter_source(run, checkpoint)
    gguf_name = None
    if what == "adapter":
        files = _publishable(source)
    elif what == "merged":
        files = _publishable(merge_and_save(run, checkpoint))
    else:
        made = export_gguf(run, outtype, checkpoint)
        gguf_name = made.gguf.name
        files = [(made.gguf, made.gguf.name), (made.modelfile, made.modelfile.name)]
    card = run.path / "model-card"
    shutil.rmtree(card, ignore_errors=True)
    write_card(run, card, what, repo_id, gguf_name)
    staged = hub_push.stage(run.path / f"hub-{what}", files, card)
    if dry_run:
        return str(staged)
    try:
        return hub_push.push_folder(staged, repo_id, private, f"GRPO Studio: {what} of run {run.id}")
    except hub_push.PushError as error:
        raise ExportError(str(error)) from None

"""Storing uploaded data files: copied into the uploads folder under a safe name, never anywhere else."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from engine import settings
from engine.disk_space import human_size

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_UPLOAD_TEXT = "200 MB"  # also Gradio's max_file_size, so the browser refuses larger files before sending them
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(Exception):
    pass


def safe_upload_name(original: str, content_hash: str) -> str:
    """'../../etc/my data (1).CSV' -> '<hash8>-my_data_1_.CSV': directories stripped (either slash), only
    [A-Za-z0-9._-] kept, no leading dots, at most ~100 characters, prefixed with a short content hash so two
    different files of the same name never collide."""
    base = re.split(r"[\\/]", original or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip("._-")[:80] or "data"
    suffix = _UNSAFE.sub("", suffix)[:10]
    return f"{content_hash[:8]}-{stem}" + (f".{suffix}" if suffix else "")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_upload(temporary: str | Path, original_name: str | None = None, folder: Path | None = None) -> Path:
    """Copy an uploaded file into the uploads folder; returns the stored path. UploadError says what is wrong."""
    from app import strings
    from engine.data import FILE_KINDS

    source = Path(temporary)
    name = original_name or source.name
    if Path(safe_upload_name(name, "")).suffix.lower() not in FILE_KINDS:  # served back from our origin: data only
        raise UploadError(strings.DATA_UPLOAD_WRONG_KIND.format(name=name))
    size = source.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(strings.DATA_UPLOAD_TOO_BIG.format(name=name, size=human_size(size),
                                                             limit=MAX_UPLOAD_TEXT))
    folder = (folder or settings.uploads_dir()).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / safe_upload_name(name, file_hash(source))).resolve()
    if target.parent != folder:  # cannot happen with the name above; a guard against future edits
        raise UploadError(f"refusing to store {name} outside the uploads folder")
    if not target.exists():
        shutil.copyfile(source, target)
    return target

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
HASH_CHARS = 8
# What a file name keeps of the name it was uploaded with: letters of any script, digits, spaces and common
# punctuation. Path separators, control characters and the rest become "_".
_UNSAFE = re.compile(r"[^\w .()\[\]+,@&'-]+")


class UploadError(Exception):
    pass


def safe_upload_name(original: str) -> str:
    """'../../etc/my data (1).CSV' -> 'my data (1).CSV': the name as uploaded, with directories stripped (either
    slash), unsafe characters replaced, no leading dots or spaces, at most ~100 characters."""
    base = re.split(r"[\\/]", original or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = " ".join(_UNSAFE.sub("_", stem).split()).strip(". ")[:80].strip(". ") or "data"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix)[:10]
    return stem + (f".{suffix}" if suffix else "")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_upload(temporary: str | Path, original_name: str | None = None, folder: Path | None = None) -> Path:
    """Copy an uploaded file into the uploads folder, as <content hash>/<name as uploaded> (two files of one name
    never collide, and the page shows the name the user knows); returns the stored path. UploadError says what is
    wrong."""
    from engine.data import FILE_KINDS

    from app import strings

    source = Path(temporary)
    name = original_name or source.name
    safe = safe_upload_name(name)
    if Path(safe).suffix.lower() not in FILE_KINDS:  # served back from our origin: data only
        raise UploadError(strings.DATA_UPLOAD_WRONG_KIND.format(name=name))
    size = source.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(strings.DATA_UPLOAD_TOO_BIG.format(name=name, size=human_size(size),
                                                             limit=MAX_UPLOAD_TEXT))
    folder = (folder or settings.uploads_dir()).resolve()
    target = (folder / file_hash(source)[:HASH_CHARS] / safe).resolve()
    if target.parent.parent != folder:  # cannot happen with the names above; a guard against future edits
        raise UploadError(f"refusing to store {name} outside the uploads folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(source, target)
    return target

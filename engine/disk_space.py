"""Disk space: what a run folder takes, what is free, and a full disk that ends a run with one sentence, not with a
run folder that still says `running`.

The trainer keeps a small reserve file in its run folder. When a write fails for lack of space it removes its
temporary files and the reserve, and then has room to write the final status and the last lines of the log.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

RESERVE_NAME = ".disk-reserve"
RESERVE_BYTES = 256 << 10  # a final status and a few log lines need a few KiB, in blocks of up to 64 KiB
LOW_SPACE_MIB = 64
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_TEXTS = ("no space left on device", "disk quota exceeded")
# torch.save reports a failed write without the errno ("PytorchStreamWriter failed writing file ...").
_WRITE_FAILED_TEXTS = ("failed writing file", "file write failed", "unexpected pos")


def human_size(size: int) -> str:
    """1536 -> '1.5 KB': sizes as the app and `engine export` show them."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"


def free_mib(path: Path) -> int:
    try:
        return int(shutil.disk_usage(path).free // 2**20)
    except OSError:
        return 0


def free_and_total(path: Path) -> tuple[int, int] | None:
    """(free, total) bytes of the disk holding `path`; None when it cannot be read."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return usage.free, usage.total


def folder_usage(folder: Path) -> int:
    """The bytes a folder takes on disk, as `du` counts them: allocated blocks, each file once however many hard
    links name it (a Hub upload is staged as hard links), symbolic links not followed."""
    try:
        top = os.lstat(folder)
    except OSError:
        return 0
    seen = {(top.st_dev, top.st_ino)}
    total = top.st_blocks * 512
    for parent, folders, files in os.walk(folder, onerror=lambda error: None):
        for name in folders + files:
            try:
                info = os.lstat(os.path.join(parent, name))
            except OSError:  # removed while we walk (a checkpoint rotated away)
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_disk_full(error: BaseException, path: Path) -> bool:
    for link in _chain(error):
        if isinstance(link, OSError) and link.errno in _FULL_ERRNOS:
            return True
        text = str(link).lower()
        if any(t in text for t in _FULL_TEXTS):
            return True
        if any(t in text for t in _WRITE_FAILED_TEXTS) and free_mib(path) < LOW_SPACE_MIB:
            return True
    return False


def full_disk_sentence(path: Path, then: str = "resume the run") -> str:
    return (f"the disk is full ({free_mib(path)} MiB free at {path}); free some space (old runs' checkpoints are "
            f"the largest files), then {then}")


def reserve(folder: Path) -> None:
    """Set aside RESERVE_BYTES of real blocks (not a sparse file) in `folder`; a full disk here is left to fail
    the first real write instead."""
    path = Path(folder) / RESERVE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return
    try:
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError as error:
            if error.errno in _FULL_ERRNOS:
                raise
            os.write(fd, b"\0" * RESERVE_BYTES)  # a filesystem without fallocate
    except OSError:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def release(folder: Path) -> None:
    (Path(folder) / RESERVE_NAME).unlink(missing_ok=True)

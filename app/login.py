"""Who may sign in. Listening beyond loopback with no password set is never open: like Jupyter's token, a random
password is made once and saved (mode 0600) to settings.password_file(); later starts reuse it. Every start prints it
with the user name and where it is kept, as long as it is the generated one: a re-created container (an update, an
.env change, `down`/`up`) has a fresh log, and the log is where the README sends the user to find it. On loopback with
no password the app stays open: it is the local user's own machine.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from engine import settings

DEFAULT_USER = "admin"


class LoginError(Exception):
    """The saved password cannot be read or written; the message is one sentence."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything, so it is not loopback
        return False


def _read_saved(path: Path) -> str | None:
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise LoginError(f"the saved login password {path} cannot be read ({reason}); fix or delete it, or set "
                         "GRPO_STUDIO_PASSWORD") from None
    return password or None


def _create(path: Path) -> str | None:
    """A new password in a new file readable by its owner only; None if another process made the file first."""
    password = secrets.token_urlsafe(18)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    except OSError as error:
        raise LoginError(f"the login password cannot be saved to {path} ({error.strerror or error}); set "
                         "GRPO_STUDIO_PASSWORD, or GRPO_STUDIO_PASSWORD_FILE to a writable place") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
    return password


def resolve_login(host: str, say=print) -> tuple[str, str] | None:
    """(user, password) for Gradio's auth, or None for an open app (loopback, no password set)."""
    user = os.environ.get("GRPO_STUDIO_USER") or DEFAULT_USER
    password = os.environ.get("GRPO_STUDIO_PASSWORD")
    if password:
        return user, password
    if is_loopback(host):
        return None
    path = settings.password_file()
    saved = _read_saved(path)
    if saved is None:
        if path.is_file():  # empty: a start that died between creating and writing it
            path.unlink()
        saved = _create(path)
        if saved is None:  # another start made it a moment ago
            saved = _read_saved(path)
        if saved is None:
            raise LoginError(f"the login password file {path} is empty; delete it or set GRPO_STUDIO_PASSWORD")
    say(f"GRPO Studio login: sign in as {user} with password {saved} (made on the first start because the app "
        f"listens on {host} and GRPO_STUDIO_PASSWORD is not set; kept in {path} and printed on every start; to choose "
        "your own, set GRPO_STUDIO_PASSWORD)", flush=True)
    return user, saved

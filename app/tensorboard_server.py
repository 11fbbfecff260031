"""TensorBoard beside the app: its own port, the app's login rule.

TensorBoard has no login of its own, so the app starts it (`python -m app.tensorboard_server`, a child process that
ends with the app) on GRPO_STUDIO_TENSORBOARD_PORT (default 6006), listening where the app listens, over the whole
runs folder (each run's tensorboard/ folder is one TensorBoard run). When the app asks for a login, TensorBoard asks
for the same user and password: HTTP Basic auth, checked by a WSGI wrapper around TensorBoard's own web server
(tensorboard.program's server_class hook), wrong guesses limited per client as the app's login is. The credentials
reach the child on its stdin, never on its command line (which every local user can read) nor in its environment.
"""

from __future__ import annotations

import argparse
import atexit
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from engine import settings

from app.login_limit import LoginLimiter, wait_sentence

DEFAULT_PORT = 6006  # TensorBoard's own default
START_TIMEOUT_S = 90.0  # importing TensorBoard on a busy 2-core machine takes seconds
REALM = "GRPO Studio TensorBoard"


class TensorBoardError(Exception):
    """TensorBoard could not be started; the message is one sentence."""


@dataclass
class Listening:
    host: str = "127.0.0.1"
    auth: tuple[str, str] | None = None


_listening = Listening()  # where the app listens and who may sign in (app/__main__.py sets it)
_process: subprocess.Popen | None = None
_lock = threading.Lock()


def configure(host: str, auth: tuple[str, str] | None) -> None:
    """The app's own host and login: TensorBoard listens on the same host, behind the same login."""
    _listening.host, _listening.auth = host, auth


def port() -> int:
    try:
        value = int(os.environ.get("GRPO_STUDIO_TENSORBOARD_PORT") or DEFAULT_PORT)
    except ValueError:
        return DEFAULT_PORT
    return value if 0 < value < 65536 else DEFAULT_PORT


def needs_login() -> bool:
    return _listening.auth is not None


def running() -> bool:
    return _process is not None and _process.poll() is None


def start(logdir: Path) -> int:
    """Start TensorBoard over `logdir` unless it runs already; returns its port once it answers."""
    global _process
    with _lock:
        if running():
            return port()
        chosen = port()
        output = settings.cache_dir() / "tensorboard.log"
        output.parent.mkdir(parents=True, exist_ok=True)
        Path(logdir).mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.tensorboard_server", "--logdir", str(Path(logdir).resolve()),
                 "--host", _listening.host, "--port", str(chosen)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=os.getcwd())
        process.stdin.write(json.dumps(list(_listening.auth) if _listening.auth else None))
        process.stdin.close()
        deadline = time.time() + START_TIMEOUT_S
        while not _answers(chosen):
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                process.wait()
                raise TensorBoardError(_failure(output, chosen))
            time.sleep(0.3)
        _process = process
        atexit.register(stop)
        return chosen


def stop() -> None:
    global _process
    if _process is not None and _process.poll() is None:
        _process.terminate()
        try:
            _process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _process.kill()
    _process = None


def _answers(chosen: int) -> bool:
    host = "127.0.0.1" if _listening.host in ("0.0.0.0", "::", "") else _listening.host
    try:
        with socket.create_connection((host, chosen), timeout=1):
            return True
    except OSError:
        return False


def _failure(output: Path, chosen: int) -> str:
    try:
        text = output.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    if "already in use" in text:
        return f"port {chosen} is taken; set GRPO_STUDIO_TENSORBOARD_PORT to a free port and restart the app"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1][:300] if lines else "it did not answer in time") + f" (log: {output})"


def link(request_host: str | None, chosen: int) -> str:
    """The address a browser reaches TensorBoard at: the host name the page was loaded from, TensorBoard's port."""
    host = (request_host or "localhost").strip()
    if host.startswith("["):  # [::1]:7860
        name = host[: host.index("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return f"http://{name or 'localhost'}:{chosen}/"


# ---------------------------------------------------------------------------------------------------------------
# The child process

def basic_auth(wsgi_app, user: str, password: str, limiter: LoginLimiter | None = None):
    """`wsgi_app` behind HTTP Basic auth with one user and password (compared in constant time), wrong guesses
    limited per client address as the app's own login is (app/login_limit.py)."""
    from werkzeug.wrappers import Request, Response

    limiter = limiter or LoginLimiter()
    expected = (user.encode("utf-8"), password.encode("utf-8"))
    refusal = Response("Sign in with GRPO Studio's user and password.", 401,
                       {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})

    def guarded(environ, start_response):
        given = Request(environ).authorization
        if given is None or given.type != "basic":  # a browser's first request, before it asks for the password
            return refusal(environ, start_response)
        client = environ.get("REMOTE_ADDR") or "unknown"
        wait = limiter.wait_s(client)
        if wait:
            return Response(wait_sentence(wait), 429, {"Retry-After": str(wait)})(environ, start_response)
        user_ok = hmac.compare_digest((given.username or "").encode("utf-8"), expected[0])
        password_ok = hmac.compare_digest((given.password or "").encode("utf-8"), expected[1])
        if user_ok and password_ok:
            limiter.succeeded(client)
            return wsgi_app(environ, start_response)
        limiter.failed(client)
        return refusal(environ, start_response)

    return guarded


def _exit_with_parent() -> None:
    """A TensorBoard whose app is gone (killed with -9) must not listen on alone."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(2)
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.tensorboard_server")
    parser.add_argument("--logdir", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    auth = json.loads(sys.stdin.read() or "null")
    threading.Thread(target=_exit_with_parent, daemon=True).start()

    from tensorboard import program

    class GuardedServer(program.WerkzeugServer):
        def __init__(self, wsgi_app, flags):
            super().__init__(basic_auth(wsgi_app, *auth) if auth else wsgi_app, flags)

    board = program.TensorBoard(server_class=GuardedServer)
    board.configure(logdir=arguments.logdir, host=arguments.host, port=arguments.port, reload_interval=5)
    return board.main()


if __name__ == "__main__":
    sys.exit(main())

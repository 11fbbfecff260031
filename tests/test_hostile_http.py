"""The real app over HTTP, as an attacker on the LAN and as a careless logged-in user would use it.

One app process (`python -m app --host 0.0.0.0`, no password set, so it makes one) serves every test here, on top of
a runs folder holding every damaged run-folder variant, a good run, and a "running" run whose pid now belongs to a
foreign process. Events are called the way the page calls them (Gradio's queue: POST /gradio_api/queue/join, then
the event stream), with every input the page would send and one of them replaced by the hostile value.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from engine import settings

from app import strings

from tests.app_server import app_server
from tests.conftest import REPO, started_identity, wait_for
from tests.hostile_corpus import GOOD_STATUS, UNREADABLE, make_run_folders, write_config

MARKER = f"FOREIGN-SECRET-{uuid.uuid4().hex}"
RUN_MARKER = f"RUN-SAMPLES-{uuid.uuid4().hex}"
START_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    runs, uploads = root / "runs", root / "uploads"
    foreign = root / "foreign"
    foreign.mkdir()
    (foreign / "secret.jsonl").write_text(json.dumps({"question": MARKER, "answer": MARKER}) + "\n")
    (foreign / "page.html").write_text(f"<script>alert('{MARKER}')</script>")
    make_run_folders(runs)
    good = runs / "good-run"
    write_config(good)
    (good / "status.json").write_text(json.dumps(GOOD_STATUS))
    (good / "samples.jsonl").write_text(json.dumps({"step": 1, "prompt": RUN_MARKER, "completion": "x",
                                                    "scores": {}, "answer": "1"}) + "\n")
    (good / "log.txt").write_text("the good run's log\n")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    reused = runs / "reused-pid"
    write_config(reused)
    (reused / "status.json").write_text(json.dumps({**GOOD_STATUS, "state": "running",
                                                    **started_identity(sleeper),
                                                    "pid_command": "0123456789abcdef"}))
    uploads.mkdir()
    os.symlink(foreign / "secret.jsonl", uploads / "linked.jsonl")  # a link planted in uploads points outside
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPO_STUDIO_PASSWORD")}
    env.update(GRPO_STUDIO_RUNS_DIR=str(runs), GRPO_STUDIO_UPLOADS_DIR=str(uploads),
               GRPO_STUDIO_PASSWORD_FILE=str(root / "state" / "login-password"))
    try:
        with app_server(root, env, host="0.0.0.0", start_timeout_s=START_TIMEOUT_S,
                        failure="the app did not start on damaged run folders") as server:
            found = re.search(r"sign in as (\S+) with password (\S+) ", server.log.read_text())
            assert found, server.log.read_text()
            yield {"url": server.url, "root": root, "runs": runs, "uploads": uploads, "foreign": foreign,
                   "log": server.log, "user": found.group(1), "password": found.group(2), "sleeper": sleeper,
                   "process": server.process}
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.fixture(scope="module")
def client(app):
    """A logged-in session and the page's config (components and events)."""
    http = httpx.Client(base_url=app["url"], timeout=120)
    response = http.post("/login", data={"username": app["user"], "password": app["password"]})
    assert response.status_code == 200, response.text
    config = http.get("/config").json()
    yield Page(http, config)
    http.close()


class Page:
    """Calls an event as the browser does: every input with its value on the page, some replaced."""

    def __init__(self, http: httpx.Client, config: dict):
        self.http, self.config = http, config
        self.components = {c["id"]: c for c in config["components"]}
        self.session = uuid.uuid4().hex
        self.shown: dict[int, object] = {}  # component id → the value an event last put there

    def elem(self, component_id: int) -> str | None:
        """The component's elem_id, or its type for those without one (the session's gr.State)."""
        component = self.components.get(component_id, {})
        return component.get("props", {}).get("elem_id") or component.get("type")

    def event(self, elem_id: str, trigger: str, output: str | None = None) -> int:
        return next(i for i, dep in enumerate(self.config["dependencies"])
                    if any(self.elem(target) == elem_id and name == trigger for target, name in dep["targets"])
                    and (output is None or output in [self.elem(o) for o in dep["outputs"]]))

    def _remember(self, component_ids, outputs) -> None:
        """What the page now shows, as a browser would send it back next time: Gradio checks a dropdown's value
        against the choices an event last gave it in this session."""
        for component_id, value in zip(component_ids, outputs):
            if isinstance(value, dict) and value.get("__type__") == "update":
                if "value" in value:
                    self.shown[component_id] = value["value"]
            else:
                self.shown[component_id] = value

    def call(self, elem_id: str, trigger: str, output: str | None = None, **values) -> dict:
        """{output elem_id or index: value}, or {"error": message} when the event failed. `output` picks, among the
        events of that trigger, the one that updates that element."""
        index = self.event(elem_id, trigger, output)
        dep = self.config["dependencies"][index]
        data = []
        for component_id in dep["inputs"]:
            name = self.elem(component_id)
            default = self.shown.get(component_id, self.components[component_id].get("props", {}).get("value"))
            data.append(values.get(name, default))
        trigger_id = next(target for target, name in dep["targets"] if self.elem(target) == elem_id)
        joined = self.http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": index, "session_hash": self.session, "event_data": None,
            "trigger_id": trigger_id})
        assert joined.status_code == 200, joined.text
        event_id = joined.json()["event_id"]
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != event_id or message.get("msg") != "process_completed":
                    continue
                if not message.get("success"):
                    return {"error": json.dumps(message.get("output"))}
                outputs = message["output"]["data"]
                self._remember(dep["outputs"], outputs)
                return {self.elem(cid) or i: value for i, (cid, value) in enumerate(zip(dep["outputs"], outputs))}
        raise AssertionError("the event stream ended without a result")


def text_of(result: dict) -> str:
    return json.dumps(result)


# ---------------------------------------------------------------------------------------------------------------
# No open door, and nothing shown before signing in

def test_listening_beyond_loopback_makes_a_password_and_requires_it(app):
    saved = Path(app["root"] / "state" / "login-password")
    assert saved.read_text().strip() == app["password"] and len(app["password"]) >= 20
    assert saved.stat().st_mode & 0o777 == 0o600
    assert app["log"].read_text().count("sign in as admin with password") == 1
    anonymous = httpx.Client(base_url=app["url"], timeout=60)
    assert anonymous.get("/config").status_code == 401
    assert anonymous.post("/login", data={"username": "admin", "password": "wrong"}).status_code != 200
    assert anonymous.get("/config").status_code == 401


UNAUTHENTICATED = ["/", "/?page=", "/gradio_api/runs", "/config", "/gradio_api/info", "/gradio_api/openapi.json",
                   "/openapi.json", "/docs", "/redoc", "/theme.css", "/manifest.json", "/robots.txt",
                   "/gradio_api/startup-events", "/gradio_api/app_id", "/monitoring", "/gradio_api/mcp/schema",
                   "/gradio_api/file=/etc/passwd", "/gradio_api/queue/data?session_hash=x"]


def test_nothing_unauthenticated_shows_server_paths_or_run_ids(app, client):
    anonymous = httpx.Client(base_url=app["url"], timeout=60)
    run_ids = [p.name for p in app["runs"].iterdir() if not p.name.startswith(".")]
    secrets = [str(app["root"]), str(REPO), "gsm8k_slice", MARKER, RUN_MARKER] + run_ids
    bodies = [anonymous.get(path).text for path in UNAUTHENTICATED]
    bodies.append(anonymous.post("/gradio_api/upload", files={"files": ("a.csv", b"q,a\n1,2\n")}).text)
    bodies.append(anonymous.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0,
                                                                 "session_hash": "x"}).text)
    for path, body in zip(UNAUTHENTICATED + ["upload", "queue/join"], bodies):
        leaked = [s for s in secrets if s in body]
        assert not leaked, (path, leaked)
    assert len(bodies[0]) < 20_000  # the login page, not the app (2.2 MB with every default value)
    # The control: signed in, the page does show the runs and the sample's path.
    signed_in = json.dumps(client.config)
    assert "good-run" in signed_in and "gsm8k_slice" in signed_in


# Every route the app registers, walked: none answers without the login, whatever the client's address. Gradio
# checks its login route by route, and in 6.31 its run-history routes (which used the server's HF_TOKEN for a
# request from 127.0.0.1), heartbeat, cancel and reset had no check.
# What the login page itself needs (seen in a browser): the page, its scripts, styles and fonts, and the login form.
PUBLIC = {("GET", "/"), ("HEAD", "/"), ("POST", "/login"), ("POST", "/login/"), ("GET", "/assets/{path:path}"),
          ("GET", "/static/{path:path}"), ("GET", "/theme.css"), ("GET", "/favicon.ico")}


def registered_routes(routes, prefix: str = ""):
    """(method, path) of every HTTP route under `routes`: mounted apps and included routers walked too (FastAPI
    0.16x keeps an included router as one lazy entry)."""
    from starlette.routing import Mount

    for route in routes:
        if isinstance(route, Mount):
            yield from registered_routes(route.routes, prefix + route.path)
        elif hasattr(route, "original_router"):
            yield from registered_routes(route.original_router.routes, prefix + route.include_context.prefix)
        else:
            for method in sorted(getattr(route, "methods", None) or ["WEBSOCKET"]):
                yield method, prefix + route.path


@pytest.fixture(scope="module")
def routes(app):
    """The routes of the app as `python -m app` builds it, with the same folders and a login."""
    from app.__main__ import build_server

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRPO_STUDIO_RUNS_DIR", str(app["runs"]))
        patch.setenv("GRPO_STUDIO_UPLOADS_DIR", str(app["uploads"]))
        return sorted(set(registered_routes(build_server(("admin", "x")).routes)))


def test_every_route_asks_for_the_login_whatever_the_clients_address(app, routes):
    paths = {path for _, path in routes}
    assert len(routes) > 60 and {"/gradio_api/queue/join", "/gradio_api/heartbeat/{session_hash}",
                                 "/gradio_api/cancel", "/gradio_api/reset", "/config"} <= paths, routes
    assert not [path for path in paths if "run-history" in path]  # a Gradio feature the product does not use: off
    anonymous = httpx.Client(base_url=app["url"], timeout=30, headers={"Host": "127.0.0.1"})  # as nginx forwards it
    answered = {}
    for method, path in routes:
        if (method, path) in PUBLIC or method == "WEBSOCKET":
            continue
        url = re.sub(r"\{[^}]+\}", "x", path)
        with anonymous.stream(method, url, json={} if method in ("POST", "PUT", "PATCH") else None) as response:
            answered[f"{method} {path}"] = response.status_code  # the status only: a stream stays open
    assert answered and all(code == 401 for code in answered.values()), \
        {route: code for route, code in answered.items() if code != 401}
    # The issue's own call: Gradio's run-history with the server's token, from 127.0.0.1, without signing in.
    connect = anonymous.post("/gradio_api/run-history/connect", json={"bucket_id": "x/y"})
    assert connect.status_code == 401, connect.text


def test_the_login_page_and_its_files_are_all_that_answers_before_signing_in(app):
    anonymous = httpx.Client(base_url=app["url"], timeout=30)
    page = anonymous.get("/")
    assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
    script = re.search(r'src="\./(assets/[^"]+\.js)"', page.text)
    assert script and anonymous.get("/" + script.group(1)).status_code == 200
    assert anonymous.get("/theme.css").status_code == 200


def test_login_attempts_are_limited_per_client_with_a_sentence_that_says_when_to_retry(app):
    from app.login_limit import ATTEMPTS

    def sign_in(password: str) -> httpx.Response:  # each from a new client: no session cookie kept
        return httpx.post(app["url"] + "/login", data={"username": app["user"], "password": password}, timeout=30)

    assert sign_in(app["password"]).status_code == 200  # a sign-in clears what earlier tests' wrong ones counted
    # ATTEMPTS wrong ones, then one more each REFILL_S seconds (the time the attempts themselves take adds a few).
    wrong = 0
    while (refused := sign_in(f"wrong-{wrong}")).status_code == 400 and wrong < 3 * ATTEMPTS:
        wrong += 1
    assert ATTEMPTS <= wrong < 2 * ATTEMPTS, wrong
    found = re.fullmatch(r"Too many wrong sign-ins from this address; try again in (\d+) seconds?\.",
                         refused.json()["detail"])
    assert refused.status_code == 429 and found, refused.text
    assert int(refused.headers["Retry-After"]) == int(found.group(1))
    page = httpx.get(app["url"] + "/", timeout=30)  # the login form shows nothing for a 429; a reload says it
    assert page.status_code == 429 and "try again in" in page.text
    time.sleep(int(found.group(1)) + 0.5)
    assert sign_in(app["password"]).status_code == 200  # after the wait a real sign-in works
    assert sign_in("wrong-after").status_code == 400  # and it cleared the count



def test_tensorboards_login_is_limited_per_client_too():
    """TensorBoard's HTTP Basic guard (app/tensorboard_server.py), around a stand-in for TensorBoard's WSGI app, with
    the limiter's clock moved by hand instead of waiting."""
    import base64

    from werkzeug.test import Client

    from app.login_limit import ATTEMPTS, LoginLimiter
    from app.tensorboard_server import basic_auth

    def tensorboard(environ, start_response):
        start_response("200 OK", [])
        return [b"tensorboard"]

    now = [1000.0]
    board = basic_auth(tensorboard, "admin", "pässword-1", LoginLimiter(clock=lambda: now[0]))

    def get(credentials: str | None, address: str = "192.0.2.7"):
        headers = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()} if credentials else {}
        return Client(board).get("/data/runs", headers=headers, environ_overrides={"REMOTE_ADDR": address})

    assert get(None).status_code == 401  # the browser's first request, before it asks for the password: not counted
    assert all(get(f"admin:wrong-{i}").status_code == 401 for i in range(ATTEMPTS))
    refused = get("admin:pässword-1")  # the right one is not even tried while the client waits
    wait = re.fullmatch(r"Too many wrong sign-ins from this address; try again in (\d+) seconds?\.",
                        refused.get_data(as_text=True))
    assert refused.status_code == 429 and wait and refused.headers["Retry-After"] == wait.group(1)
    assert get("admin:pässword-1", address="192.0.2.8").status_code == 200  # another client is not held up
    now[0] += int(wait.group(1))
    assert get("admin:pässword-1").status_code == 200  # after the wait a real sign-in works
    assert all(get(f"admin:wrong-{i}").status_code == 401 for i in range(ATTEMPTS))  # and it cleared the count


# ---------------------------------------------------------------------------------------------------------------
# File routes: the runs and uploads folders and Gradio's own uploads, nothing else

def test_file_routes_serve_no_foreign_file(app, client):
    secret = app["foreign"] / "secret.jsonl"
    asks = [f"/gradio_api/file={secret}", f"/file={secret}", f"/gradio_api/file={app['runs']}/../foreign/secret.jsonl",
            f"/gradio_api/file={app['runs']}/%2e%2e/foreign/secret.jsonl", "/gradio_api/file=/etc/passwd",
            f"/gradio_api/file={app['uploads']}/linked.jsonl", f"/gradio_api/file={app['foreign']}/page.html",
            f"/gradio_api/file={REPO}/pyproject.toml", "/gradio_api/file=/proc/self/environ"]
    for ask in asks:
        response = client.http.get(ask)
        assert response.status_code in (403, 404) and MARKER not in response.text, (ask, response.status_code)
    # The control: a file of a listed run is served to the signed-in user.
    response = client.http.get(f"/gradio_api/file={app['runs']}/good-run/log.txt")
    assert response.status_code == 200 and "the good run's log" in response.text


def test_the_upload_event_copies_only_what_came_through_the_upload_box(app, client):
    before = sorted(p.name for p in app["uploads"].iterdir())
    secret = str(app["foreign"] / "secret.jsonl")
    other_run = str(app["runs"] / "good-run" / "samples.jsonl")
    for path in (secret, other_run, "/etc/passwd"):
        for file_data in ({"path": path, "meta": {"_type": "gradio.FileData"}}, {"path": path}, path):
            result = client.call("data-upload", "upload", **{"data-upload": file_data})
            assert MARKER not in text_of(result) and RUN_MARKER not in text_of(result)
            assert "error" in result or "did not come through the upload box" in result["data-message"], result
    # The upload route itself keeps a hostile file name inside Gradio's upload folder.
    response = client.http.post("/gradio_api/upload", files={"files": ("../../../../tmp/evil.html", b"<b>x</b>")})
    assert response.status_code == 200
    (uploaded_html,) = response.json()
    assert "/../" not in uploaded_html and not Path("/tmp/evil.html").exists()
    for file_data in ({"path": uploaded_html, "meta": {"_type": "gradio.FileData"}}, {"path": uploaded_html}):
        result = client.call("data-upload", "upload", **{"data-upload": file_data})
        assert "error" in result or "is not a data file" in result["data-message"], result  # Gradio's or ours
    assert sorted(p.name for p in app["uploads"].iterdir()) == before  # nothing was copied in
    # The control: a real upload through the route is stored.
    response = client.http.post("/gradio_api/upload", files={"files": ("mine.csv", b"question,answer\n1+1?,2\n")})
    (uploaded,) = response.json()
    result = client.call("data-upload", "upload", **{"data-upload": {"path": uploaded, "orig_name": "mine.csv",
                                                                     "meta": {"_type": "gradio.FileData"}}})
    assert "Uploaded" in result["data-message"] and result["data-path"].startswith(str(app["uploads"].resolve()))


# ---------------------------------------------------------------------------------------------------------------
# Data paths typed into the page, and launches with them

FOREIGN_PATHS = ["{foreign}/secret.jsonl", "{runs}/good-run/samples.jsonl", "../foreign/secret.jsonl",
                 "linked.jsonl", "/etc/passwd", "/dev/zero", "hf:/etc", "hf:../../foreign", "hf:foo/../../x"]


def foreign_paths(app) -> list[str]:
    return [p.format(foreign=app["foreign"], runs=app["runs"]) for p in FOREIGN_PATHS]


def test_the_data_path_box_previews_only_uploads_and_the_sample(app, client):
    for path in foreign_paths(app):
        result = client.call("data-path", "submit", **{"data-path": path})
        shown = text_of(result)
        assert MARKER not in shown and RUN_MARKER not in shown, path
        assert ("is not a file uploaded here" in result["data-error"]
                or "is not a hub dataset id" in result["data-error"]), (path, result["data-error"])
    # The controls: the bundled sample, and an uploaded file by its name.
    result = client.call("data-path", "submit", **{"data-path": str(settings.sample_data_path())})
    assert "64 rows" in result["data-summary"] and result["data-error"] == ""


def test_check_and_launch_refuse_a_foreign_data_path(app, client):
    runs_before = sorted(p.name for p in app["runs"].iterdir())
    for path in foreign_paths(app)[:3]:
        for button in ("check-button", "launch-button"):
            result = client.call(button, "click", **{"data-path": path})
            shown = text_of(result)
            assert "is not a file uploaded here" in result["train-summary"], (button, path, result)
            assert MARKER not in shown and RUN_MARKER not in shown
    assert sorted(p.name for p in app["runs"].iterdir()) == runs_before  # no run was made


def test_model_names_reach_no_folder_outside_the_models_folder(app, client):
    """A model folder is files the server reads (config.json for the model step's estimate) and weights it loads
    ("Generate one", training): from the page only hub ids, built-ins and the models folder are named."""
    folder = app["root"] / "foreign-model"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": MARKER, "num_hidden_layers": 2}))
    runs_before = sorted(p.name for p in app["runs"].iterdir())
    for name in (str(folder), "../foreign-model", "/etc", "~"):
        result = client.call("model-name", "change", "model-summary", **{"model-name": name})
        assert "models folder" in result["model-summary"] and MARKER not in result["model-summary"], result
        for button in ("check-button", "launch-button"):
            result = client.call(button, "click", **{"model-name": name})
            assert "models folder" in result["train-summary"] and MARKER not in text_of(result), (button, result)
    assert sorted(p.name for p in app["runs"].iterdir()) == runs_before  # no run was made


def test_a_huge_repeat_count_in_a_regex_field_is_a_sentence_next_to_it_and_the_app_stays_up(app, client):
    """`x{1000000000}` as the answer-extraction regex, then Check: the app grew to 16 GB and the OOM killer ended
    it. The same in a reward's pattern."""
    huge = "x{1000000000}"
    shown = client.call("data-answer-pattern", "change", **{"data-answer-pattern": huge})
    assert "regex is too large to compile" in shown["data-pattern-error"], shown
    checked = client.call("check-button", "click", **{"data-answer-pattern": huge})
    assert "regex is too large to compile" in checked["train-summary"], checked
    checked = client.call("check-button", "click", **{"reward-2-pattern": "{answer_open}(.{1000000000})"})
    assert "regex is too large to compile" in checked["train-summary"], checked
    assert app["process"].poll() is None  # the app is up
    with open(f"/proc/{app['process'].pid}/status") as status:  # and small: the pattern never compiled here
        resident_mib = int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) // 1024
    assert resident_mib < 2000, resident_mib


# ---------------------------------------------------------------------------------------------------------------
# Run ids from the page are names, not paths; damaged runs and a reused pid leave the app working

def test_run_ids_from_the_page_name_runs_only(app, client, monkeypatch):
    (app["root"] / "foreign" / "config.yaml").write_text("preset: rlvr-math\n")
    for run_id in ("../foreign", "good-run/../../foreign", "/etc", str(app["foreign"]), ".", ""):
        for button in ("run-attach", "run-resume", "export-zip", "run-use-settings"):
            result = client.call(button, "click", **{"run-pick": run_id})
            assert "error" in result or "no longer in the runs folder" in result["results-message"] \
                or "Pick a run first" in result["results-message"], (button, run_id, result)
    assert sorted(p.name for p in app["foreign"].iterdir()) == ["config.yaml", "page.html", "secret.jsonl"]
    # The pick takes any text (an event sent while its run was deleted still names it); the app's own lookup takes
    # names only.
    from app.runs_list import picked_run

    monkeypatch.setenv("GRPO_STUDIO_RUNS_DIR", str(app["runs"]))
    for run_id in ("../foreign", "good-run/../../foreign", str(app["foreign"]), ".", "..", "good-run/"):
        assert picked_run(run_id) is None, run_id
    assert picked_run("good-run").path == app["runs"] / "good-run"


def test_a_delete_confirmation_closes_only_for_another_run_and_a_late_yes_deletes_nothing(app, client):
    """Events in the server's order, as a busy machine delivers them: the page sends a pick's change only after the
    previous change was answered, so the user's pick can come after their Delete click. It must leave the
    confirmation of that same run open; a pick of another run closes it, and a Yes sent before that close landed
    deletes nothing (it used to delete whatever was picked)."""
    def confirm_shown(result: dict):
        return result["delete-confirm"].get("visible")

    assert confirm_shown(client.call("run-pick", "change", output="delete-confirm", **{"run-pick": "good-run"})) \
        is False
    asked = client.call("run-delete", "click", **{"run-pick": "good-run"})
    assert confirm_shown(asked) is True and "good-run" in asked["delete-confirm-text"], asked
    late_pick = client.call("run-pick", "change", output="delete-confirm", **{"run-pick": "good-run"})
    assert confirm_shown(late_pick) is None, late_pick  # untouched: still open
    assert confirm_shown(client.call("run-pick", "change", output="delete-confirm", **{"run-pick": "reused-pid"})) \
        is False
    late_yes = client.call("delete-yes", "click", **{"run-pick": "reused-pid"})
    assert late_yes["results-message"] == strings.DELETE_NOT_CONFIRMED, late_yes
    assert (app["runs"] / "good-run").is_dir() and (app["runs"] / "reused-pid").is_dir()


def test_an_event_stream_of_an_unknown_session_is_one_log_line_not_a_traceback(app, client):
    """Gradio answers the event stream of a session it no longer knows (a page reloaded while a second stream of it
    was open, or any stale or made-up session) with a 'session not found' message, then raises a 404 inside the
    stream it already started; uvicorn logged that as two tracebacks (a browser test's log check saw them after a
    reload). The app logs one line, and only for that exact case."""
    before = app["log"].read_text()
    for _ in range(3):
        with client.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": uuid.uuid4().hex}) as stream:
            assert any('"session_not_found":true' in line.replace(" ", "") for line in stream.iter_lines())

    def logged() -> str | None:  # the app logs each once the stream has ended
        added = app["log"].read_text()[len(before):]
        return added if added.count(strings.STREAM_OF_GONE_SESSION) + added.count("Exception in ASGI") >= 3 else None

    added = wait_for(logged, timeout=30, what="the app's log of the three streams")
    assert "Traceback" not in added and added.count(strings.STREAM_OF_GONE_SESSION) == 3, added


def test_a_stale_pick_is_one_line_in_the_apps_log_not_a_traceback(app, client):
    """A dropdown value that is not among its choices (a page left open, a made-up request): Gradio refuses the event,
    which is right, and printed a 25-line traceback to app.log each time. The run picker is the exception: it takes
    any text (an event sent while a run was deleted carries its id), and the handlers say the run is gone."""
    gone = client.call("run-attach", "click", **{"run-pick": "a-run-deleted-meanwhile"})
    assert gone["results-message"] == "Run a-run-deleted-meanwhile is no longer in the runs folder.", gone
    assert "error" not in gone

    before = app["log"].read_text()
    for _ in range(2):
        result = client.call("export-gguf", "click", **{"gguf-type": "q9_evil"})
        assert "error" in result, result

    def logged() -> str | None:
        added = app["log"].read_text()[len(before):]
        return added if added.count("is not among its choices") >= 2 else None

    added = wait_for(logged, timeout=30, what="the app's log of the two refusals")
    assert "Traceback" not in added and "is not in the list of choices" not in added, added  # Gradio's own words
    assert added.count("A page sent 'q9_evil' for gguf-type, which is not among its choices") == 2


def test_damaged_runs_are_listed_as_unreadable_and_a_reused_pid_is_not_stopped(app, client):
    result = client.call("tab-results", "select")
    table = {row[0]: row[1] for row in result["runs-table"]["data"]}
    assert all(table[run_id] == "unreadable" for run_id in UNREADABLE), table
    assert table["good-run"] == "completed" and table["reused-pid"] == "failed"
    attached = client.call("run-attach", "click", **{"run-pick": "bad-status-pid-abc"})
    assert attached.get("results-message") == "", attached
    view = client.call("timer", "tick", output="run-header")
    assert "damaged" in text_of(view) and "unreadable: status.json: pid" in text_of(view)
    client.call("run-attach", "click", **{"run-pick": "reused-pid"})
    stopped = client.call("stop-button", "click")
    assert "nothing to stop" in stopped["launch-message"], stopped
    time.sleep(0.5)
    assert app["sleeper"].poll() is None  # the foreign process was not signalled
    assert app["process"].poll() is None  # and the app is still up



def test_the_results_of_a_damaged_run_say_what_is_wrong(app, client):
    """The completions and TensorBoard panels of a damaged run said "No completions logged yet." and "This run keeps
    no TensorBoard logs (train.report_to: tensorboard); runs made with report_to tensorboard do."."""
    bad_samples = app["runs"] / "bad-samples-not-utf8"
    write_config(bad_samples)
    (bad_samples / "status.json").write_text(json.dumps(GOOD_STATUS))
    (bad_samples / "samples.jsonl").write_bytes(b'{"step": 1}\n\xff\xfe\n')
    client.call("tab-results", "select")  # the pick's choices now list it

    def panels(run_id: str) -> tuple[str, str]:
        logs = client.call("run-pick", "change", output="tensorboard-logs", **{"run-pick": run_id})
        history = client.call("run-pick", "change", output="history-caption", **{"run-pick": run_id})
        return logs["tensorboard-logs"], history["history-caption"]

    for run_id, (_, _, error) in UNREADABLE.items():
        logs, caption = panels(run_id)
        assert "damaged" in logs and error in logs and "keeps no TensorBoard logs" not in logs, (run_id, logs)
        assert "damaged" in caption and error in caption, (run_id, caption)
    logs, caption = panels("bad-samples-not-utf8")
    assert "samples.jsonl cannot be read (not UTF-8 text (byte 12))" in caption, caption
    assert logs == strings.TENSORBOARD_NOT_WRITTEN.format(id="bad-samples-not-utf8"), logs
    logs, caption = panels("bad-config")
    assert "config.yaml cannot be read" in logs and "keeps no TensorBoard logs" not in logs, logs
    # The Train view of a run whose events cannot be read says so in its header, and nothing fails.
    assert client.call("run-attach", "click", **{"run-pick": "bad-events-not-utf8"}).get("results-message") == ""
    view = client.call("timer", "tick", output="run-header")
    assert "unreadable: events.jsonl: not UTF-8 text" in text_of(view) and "error" not in view, view

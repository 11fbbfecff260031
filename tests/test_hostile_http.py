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

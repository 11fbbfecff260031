"""Issue 11, item 1: a web user cannot run Python on the host. The real app over HTTP, with a password: a .py file
goes up through Gradio's upload route, then the try-it and launch endpoints are called with a python reward row
naming it. Its import would leave a marker file; the marker never appears, no run is created, and each call gets a
one-sentence refusal. (Gradio refuses a kind outside the dropdown's choices before any handler runs; the handlers'
own refusal behind it, for any row that gets through, is tested in test_app_form.py.)"""

from __future__ import annotations

import json
import os

import httpx
import pytest

from tests.app_server import app_server

USER, PASSWORD = "admin", "hostile-test-password"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    env = dict(os.environ, GRPO_STUDIO_RUNS_DIR=str(root / "runs"), GRPO_STUDIO_UPLOADS_DIR=str(root / "uploads"),
               GRPO_STUDIO_USER=USER, GRPO_STUDIO_PASSWORD=PASSWORD)
    with app_server(root, env) as server:
        client = httpx.Client(base_url=server.url, timeout=60)
        assert client.post("/login", data={"username": USER, "password": PASSWORD}).status_code < 400
        yield client, root
        client.close()


def call(client: httpx.Client, api_name: str, overrides: dict[str, object]) -> tuple[str, str]:
    """Call an endpoint as the Gradio API allows anyone to: every input from the page's config, with `overrides` by
    elem_id. Returns (event, data) of the stream's last event."""
    config = client.get("/config").json()
    components = {c["id"]: c for c in config["components"]}
    dependency = next(d for d in config["dependencies"] if d.get("api_name") == api_name)
    data = []
    for input_id in dependency["inputs"]:
        props = components[input_id].get("props", {})
        data.append(overrides.get(props.get("elem_id"), props.get("value")))
    started = client.post(f"/gradio_api/call/{api_name}", json={"data": data})
    assert started.status_code == 200, started.text
    stream = client.get(f"/gradio_api/call/{api_name}/{started.json()['event_id']}").text
    events = [line.removeprefix("event: ").strip() for line in stream.splitlines() if line.startswith("event: ")]
    payloads = [line.removeprefix("data: ") for line in stream.splitlines() if line.startswith("data: ")]
    return events[-1], payloads[-1]


def test_an_uploaded_python_file_never_runs_from_try_it_or_launch(app, tmp_path):
    client, root = app
    marker = tmp_path / "python-ran"
    source = f"open({str(marker)!r}, 'w').write('ran')\ndef reward(**columns):\n    return [9.0]\n"
    uploaded = client.post("/gradio_api/upload", files={"files": ("evil.py", source.encode(), "text/x-python")})
    assert uploaded.status_code == 200, uploaded.text
    path = uploaded.json()[0]
    assert path.endswith(".py")
    reference = f"{path}:reward"
    # A python row, naming the file wherever a row can carry text.
    row = {"reward-0-kind": "python", "reward-0-name": "evil", "reward-0-pattern": reference,
           "reward-0-tags": reference, "reward-0-function": reference}
    for api_name in ("try_it", "launch"):
        event, data = call(client, api_name, row)
        assert event == "error", (api_name, event, data)
        text = json.loads(data)["error"]  # Gradio refuses a kind outside the dropdown's choices before our handler
        assert "python" in text and "\n" not in text.strip(), (api_name, text)
    assert not marker.exists()
    assert not (root / "runs").exists() or not any((root / "runs").iterdir())
    # The app is still up and scores a normal completion: the right answer to the data's first row (gold 16).
    right = "<thought>\nThe question's own numbers give 16.\n</thought>\n<answer>16</answer>"
    event, data = call(client, "try_it", {"try-completion": right})
    assert event == "complete" and "Total: 4" in data, data

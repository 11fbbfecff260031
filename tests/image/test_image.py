"""The built image, running: what a user gets from `docker compose up`, driven from outside the container.

Run by `make test-image` (docker/test_image.sh builds the image from the unmodified Dockerfile first and passes its
name in GRPO_STUDIO_TEST_IMAGE); `make test` does not collect this folder (pyproject's norecursedirs). The tests share
one container on one named volume, in file order: health and identity, the browser walkthrough of tests/test_browser.py,
`docker stop` during a run and `docker start`, the login; then containers of their own for the generated password and
for Compose.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.runs import queue as run_queue

IMAGE = os.environ.get("GRPO_STUDIO_TEST_IMAGE")
if not IMAGE:
    pytest.skip("the image tests run through `make test-image`, which builds the image first", allow_module_level=True)

from tests.test_browser import (  # noqa: E402 (after the skip: no playwright import without the image)
    CHROMIUM,
    CHROMIUM_ARGS,
    TRAIN_WAIT_MS,
    WAIT_MS,
    assert_is_adapter_zip,
    open_tab,
    sync_api,
    wait_text,
    walkthrough,
)

pytestmark = [pytest.mark.image, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
DOCKER = os.environ.get("DOCKER", "docker")
PREFIX = "grpo-studio-imagetest"  # every container, volume and Compose project this module makes
PASSWORD = "imagetest-password-1"
HEALTHY_WAIT_S = 240  # the HEALTHCHECK probes every 30 s after a 90 s start period
EXCLUDED = {line.strip().lower() for line in (REPO / "requirements" / "excluded.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def docker(*arguments: str, check: bool = True, timeout: float = 300, env: dict | None = None) -> str:
    done = subprocess.run([DOCKER, *arguments], check=False, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=REPO)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(arguments)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout + (done.stderr if not check else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, every: float = 1.0):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Container:
    name: str
    volume: str
    env: dict[str, str]

    def run(self) -> None:
        docker("rm", "-f", self.name, check=False)
        flags = [item for key, value in self.env.items() for item in ("-e", f"{key}={value}")]
        docker("run", "-d", "--name", self.name, "-p", "127.0.0.1::7860", "-v", f"{self.volume}:/data", *flags, IMAGE)

    @property
    def url(self) -> str:
        host_port = docker("port", self.name, "7860/tcp").split()[0]  # 127.0.0.1:49153
        return f"http://{host_port}/"

    def inspect(self, template: str) -> str:
        return docker("inspect", "-f", template, self.name).strip()

    def wait_healthy(self) -> None:
        def healthy():
            status = self.inspect("{{.State.Status}} {{.State.Health.Status}}")
            assert not status.startswith(("exited", "dead")), f"the container ended:\n{self.logs()[-3000:]}"
            return status == "running healthy"
        wait_until(healthy, HEALTHY_WAIT_S, f"{self.name} to turn healthy", every=2)

    def exec(self, *command: str, timeout: float = 120) -> str:
        return docker("exec", self.name, *command, timeout=timeout)

    def python(self, code: str) -> str:
        return self.exec("python", "-c", code)

    def logs(self) -> str:
        return docker("logs", self.name, check=False)

    def volume_files(self) -> dict[str, str]:
        """sha256 of every file in the volume, read by a throwaway container (works while this one is stopped)."""
        listing = docker("run", "--rm", "--entrypoint", "sh", "-v", f"{self.volume}:/data", IMAGE, "-c",
                         "cd /data && find . -type f -exec sha256sum {} +")
        return {path: digest for digest, path in (line.split(None, 1) for line in listing.splitlines())}

    def read_volume_json(self, path: str) -> dict:
        return json.loads(docker("run", "--rm", "--entrypoint", "cat", "-v", f"{self.volume}:/data", IMAGE, path))

    def run_ids(self) -> set[str]:
        return set(self.exec("ls", "/data/runs").split())

    def run_status(self, run_id: str) -> dict:
        """The run's status.json as the engine wrote it ({} before it exists)."""
        return json.loads(self.exec("sh", "-c", f"cat /data/runs/{run_id}/status.json 2>/dev/null || echo {{}}"))

    def run_log(self, run_id: str) -> str:
        return self.exec("cat", f"/data/runs/{run_id}/log.txt")

    def run_ended(self, run_id: str) -> bool:
        """Its state is final, or its trainer process is gone (a trainer that died before saying so)."""
        status = self.run_status(run_id)
        if status.get("state") in ("completed", "stopped", "failed"):
            return True
        pid = status.get("pid")
        return bool(pid) and not self.exec("sh", "-c", f"test -d /proc/{int(pid)} && echo alive").strip()

    def remove(self) -> None:
        docker("rm", "-f", "-v", self.name, check=False)
        docker("volume", "rm", "-f", self.volume, check=False)


@pytest.fixture(scope="module")
def studio():
    """The container as docker-compose.yml runs it (named volume on /data, a password), on a free loopback port."""
    container = Container(f"{PREFIX}-studio", f"{PREFIX}-data", {"GRPO_STUDIO_PASSWORD": PASSWORD})
    container.remove()
    container.run()
    container.wait_healthy()
    yield container
    container.remove()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser profile per test: no login cookie carries over."""
    context = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def login_form_shown(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name="Login").wait_for()
    assert page.locator("#model-name").count() == 0  # none of the app is on the page


def sign_in(page, url: str, password: str, user: str = "admin") -> None:
    login_form_shown(page, url)
    page.locator("input[data-testid=textbox]").fill(user)
    page.locator("input[data-testid=password]").fill(password)
    page.get_by_role("button", name="Login").click()
    page.locator("#model-name").wait_for()


# --- the container as it starts -----------------------------------------------------------------------------------


def test_container_is_healthy_runs_as_uid_1000_with_data_on_the_named_volume(studio):
    assert studio.inspect("{{.State.Health.Status}}") == "healthy"
    assert studio.inspect("{{.Config.User}}") == "1000:1000"
    processes = json.loads(studio.python(
        "import json, psutil; print(json.dumps([[p.info['uids'].real, p.info['cmdline']] "
        "for p in psutil.process_iter(['uids', 'cmdline'])]))"))
    app = [uid for uid, cmdline in processes if cmdline[:1] == ["python"] and cmdline[-2:] == ["-m", "app"]]
    assert app == [1000], processes
    assert {uid for uid, _ in processes} == {1000}, processes  # tini included: nothing runs as root
    mounts = json.loads(studio.inspect("{{json .Mounts}}"))
    assert [(m["Type"], m["Name"], m["Destination"], m["RW"]) for m in mounts] == [
        ("volume", studio.volume, "/data", True)]
    # No GPU here: the preflight says so in the log and the app runs in CPU demo mode.
    assert "No NVIDIA GPU is visible inside the container" in " ".join(studio.logs().split())


def test_image_holds_exactly_the_lock(studio):
    lock = {}
    for line in (REPO / "requirements" / "gpu.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if match:
            lock[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    installed = json.loads(studio.python(
        "import json, re, importlib.metadata as m; print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()"
        ": d.version for d in m.distributions()}))"))
    assert {name: installed.get(name) for name in lock if installed.get(name) != lock[name]} == {}
    # pip check: the only unmet requirements are the packages left out on purpose (requirements/excluded.txt).
    said = docker("exec", studio.name, "pip", "check", check=False).splitlines()
    unexpected = [line for line in said if line != "No broken requirements found." and not (
        (missing := re.fullmatch(r"\S+ \S+ requires (\S+), which is not installed\.", line))
        and missing[1].lower() in EXCLUDED)]
    assert unexpected == []


def test_the_stack_imports_on_the_cpu(studio):
    said = studio.python("import torch, trl, transformers, peft, datasets, vllm, flashinfer, xgrammar, gradio, "
                         "math_verify; print('torch', torch.__version__, 'vllm', vllm.__version__, "
                         "'cuda', torch.version.cuda)")
    assert "torch 2.11.0" in said and "vllm 0.25.1" in said and "cuda 13.0" in said, said


# --- a user's session ---------------------------------------------------------------------------------------------


def test_browser_walkthrough_against_the_container(studio, page, tmp_path):
    sign_in(page, studio.url, PASSWORD)
    walked = walkthrough(page, studio.url, tmp_path)
    assert walked.upload_path.parent.parent == Path("/data/uploads")  # uploads/<hash>/<name as uploaded>
    studio.exec("test", "-f", f"/data/runs/{walked.run_id}/adapter/adapter_config.json")
    assert_is_adapter_zip(walked.adapter_zip)


def test_docker_stop_during_a_run_then_start_and_resume(studio, page):
    # A run from the CLI inside the container (the app lists every run of the volume), long enough to be mid-way.
    # The data path is absolute: the app resumes runs from its own working folder.
    before = studio.run_ids()
    docker("exec", "-d", "-w", "/opt/grpo-studio", studio.name, "python", "-m", "engine", "train",
           "examples/quickstart.yaml", "--set", "train.max_steps=12",
           "--set", "data.path=/opt/grpo-studio/tests/data/gsm8k_slice.jsonl")
    run_id = wait_until(lambda: sorted(studio.run_ids() - before), 60, "the run folder")[0]
    wait_until(lambda: studio.run_status(run_id).get("step", 0) >= 2, 300, "two training steps")

    docker("stop", "--time", "120", studio.name, timeout=180)  # tini forwards SIGTERM to the app
    status = studio.read_volume_json(f"/data/runs/{run_id}/status.json")
    assert status["state"] == "stopped" and 2 <= status["step"] < 12, status
    assert "shutting down: run " + run_id in " ".join(studio.logs().split())
    stopped_files = studio.volume_files()
    assert f"./runs/{run_id}/adapter/adapter_config.json" in stopped_files
    # The stopping app held the run queue (a queued run started now would die with the container); the next start
    # lifts the hold. Every other file is the user's.
    assert stopped_files.pop(f"./runs/{run_queue.HOLD_NAME}", None) is not None

    docker("start", studio.name)
    studio.wait_healthy()
    after_start = studio.volume_files()
    # The volume kept every file, unchanged (the app only reads run folders until a run is resumed).
    assert {path: after_start.get(path) for path in stopped_files} == stopped_files
    assert f"./runs/{run_queue.HOLD_NAME}" not in after_start

    sign_in(page, studio.url, PASSWORD)
    open_tab(page, "6 · Results")
    wait_text(page, "#runs-table", run_id)
    page.locator("#run-pick input").click()
    page.locator("#run-pick").get_by_role("option", name=run_id, exact=True).click()
    page.locator("#run-resume").click()
    wait_text(page, "#results-message", f"Resuming run {run_id}")
    wait_until(lambda: studio.run_ended(run_id), 2 * TRAIN_WAIT_MS / 1000, "the resumed run to end", every=2)
    status = studio.run_status(run_id)
    assert status["state"] == "completed" and status["step"] == 12, (status, studio.run_log(run_id)[-2000:])


def test_with_a_password_set_the_page_asks_for_it(studio, page):
    login_form_shown(page, studio.url)
    page.locator("input[data-testid=textbox]").fill("admin")
    page.locator("input[data-testid=password]").fill("not-the-password")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Incorrect Credentials").wait_for()
    assert page.locator("#model-name").count() == 0
    sign_in(page, studio.url, PASSWORD)


# --- containers of their own --------------------------------------------------------------------------------------


def test_bound_to_all_interfaces_without_a_password_it_is_never_open(page):
    """No GRPO_STUDIO_PASSWORD on 0.0.0.0 (the image's default): the app makes a password, keeps it in the volume,
    keeps it across restarts and prints it on every start, also in the fresh log of a re-created container."""
    container = Container(f"{PREFIX}-nopassword", f"{PREFIX}-nopassword-data", {})
    container.remove()
    try:
        container.run()
        container.wait_healthy()
        login_form_shown(page, container.url)
        said = re.findall(r"sign in as (\S+) with password (\S+)", container.logs())
        assert len(said) == 1, container.logs()[-3000:]
        user, password = said[0]
        assert container.exec("cat", "/data/cache/login-password").strip() == password
        sign_in(page, container.url, password, user)

        docker("restart", "--time", "60", container.name)
        container.wait_healthy()
        assert container.exec("cat", "/data/cache/login-password").strip() == password  # reused, not made anew
        page.context.clear_cookies()
        sign_in(page, container.url, password, user)

        container.run()  # re-created on the same volume (an update, an .env change, down/up): a fresh log
        container.wait_healthy()
        assert re.findall(r"sign in as (\S+) with password (\S+)", container.logs()) == [(user, password)]
        assert "GRPO Studio on http://localhost:7860" in container.logs()
    finally:
        container.remove()


def compose(*arguments: str, env: dict | None = None, check: bool = True) -> str:
    return docker("compose", "--project-name", PREFIX, "-f", "docker-compose.yml", "-f", "docker-compose.cpu.yml",
                  *arguments, env=env, check=check, timeout=300)


def test_compose_config_and_up_with_the_cpu_override():
    port = free_port()
    env = {"GRPO_STUDIO_HOST_PORT": str(port), "GRPO_STUDIO_PASSWORD": PASSWORD}
    gpu = ["compose", "--project-name", f"{PREFIX}-gpu", "-f", "docker-compose.yml"]
    plain = json.loads(docker(*gpu, "config", "--format", "json", env=env))
    assert plain["services"]["studio"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    cpu = json.loads(compose("config", "--format", "json", env=env))
    assert "devices" not in cpu["services"]["studio"].get("deploy", {}).get("resources", {}).get("reservations", {})
    assert cpu["services"]["studio"]["ports"][0]["published"] == str(port)
    # Why the override exists: on a machine without the NVIDIA runtime the GPU reservation cannot be met.
    try:
        refused = docker(*gpu, "up", "-d", env=env, check=False, timeout=300)
        assert "nvidia" in refused and "could not select device driver" in refused, refused
    finally:
        docker(*gpu, "down", "--volumes", env=env, check=False)
    try:
        compose("up", "-d", env=env)
        name = compose("ps", "--quiet", "studio", env=env).strip()
        assert name
        wait_until(lambda: docker("inspect", "-f", "{{.State.Health.Status}}", name).strip() == "healthy",
                   HEALTHY_WAIT_S, "the Compose service to turn healthy", every=2)
        assert docker("port", name, "7860/tcp").split()[0].endswith(f":{port}")
        mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", name))
        assert [(m["Name"], m["Destination"]) for m in mounts] == [(f"{PREFIX}_grpo-data", "/data")]
    finally:
        compose("down", "--volumes", "--timeout", "60", env=env, check=False)

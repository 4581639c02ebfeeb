# Two commands for everything: `make book` and `make test`. Both set themselves up:
# a project virtual environment (.venv), the requirements, course_pkg (editable), the web
# assets the offline book serves (_vendor/, from the npm registry) and, for the tests, Chromium.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.course-installed
ASSETS_STAMP := _vendor/.fetched
# Everything Jupyter, IPython and matplotlib write goes under _build/, never into $HOME.
RUNTIME := $(CURDIR)/_build/.runtime
export MPLCONFIGDIR := $(RUNTIME)/matplotlib
export IPYTHONDIR := $(RUNTIME)/ipython
export JUPYTER_CONFIG_DIR := $(RUNTIME)/jupyter-config
export JUPYTER_DATA_DIR := $(RUNTIME)/jupyter-data
export JUPYTER_RUNTIME_DIR := $(RUNTIME)/jupyter-runtime
export PYTHONHASHSEED := 0
# torch's idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning threads
# slowed chapters tenfold (measured); results do not change.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: book test setup assets browser unit clean help

help:
	@echo "make book   build the executed HTML book into _build/html/"
	@echo "make test   run the whole test suite (builds the book first)"

setup: $(SETUP_STAMP)

$(SETUP_STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

assets: $(ASSETS_STAMP)

$(ASSETS_STAMP): scripts/fetch_web_assets.sh
	bash scripts/fetch_web_assets.sh _vendor

book: $(SETUP_STAMP) $(ASSETS_STAMP)
	mkdir -p $(MPLCONFIGDIR) $(IPYTHONDIR) $(JUPYTER_CONFIG_DIR) $(JUPYTER_DATA_DIR) $(JUPYTER_RUNTIME_DIR)
	# One OpenMP thread: the chapters' models are tiny, and two threads on two cores shared with
	# Sphinx and the kernel slowed chapter 4 from 16 s to over 3 minutes (measured).
	OMP_NUM_THREADS=1 $(VENV)/bin/jupyter-book build -W -n --keep-going .

# Headless Chromium for the browser test (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: book browser
	$(PY) -m pytest

# Unit tests only (no book build, no browser): the quick loop while developing.
unit: $(SETUP_STAMP)
	$(PY) -m pytest -m "not book and not browser and not pipeline"

clean:
	rm -rf _build

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

.PHONY: book test setup assets browser jail-tools postgres hub-tools notebooks unit lab clean help

help:
	@echo "make book   build the executed HTML book into _build/html/"
	@echo "make test   run the whole test suite (builds the book first)"
	@echo "make lab    work in the book: JupyterLab on 127.0.0.1, chapters as notebooks, live widgets"

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
	# Sphinx and the kernel slowed chapter 4 from 16 s to over 3 minutes (measured). Instead, the
	# chapters execute into the build's cache one per core first; the build then finds them there.
	OMP_NUM_THREADS=1 COURSE_WIDGETS=static $(VENV)/bin/python scripts/execute_chapters.py
	OMP_NUM_THREADS=1 COURSE_WIDGETS=static $(VENV)/bin/jupyter-book build -W -n --keep-going .

# Work in the book: JupyterLab on 127.0.0.1 opening book/, chapters open as notebooks (jupytext),
# their MyST rendered (jupyterlab-myst), widgets live (they call course_pkg in the kernel).
# Settings: scripts/jupyter/ (Lab's default viewer for .md is jupytext's notebook).
lab: $(SETUP_STAMP)
	mkdir -p $(MPLCONFIGDIR) $(IPYTHONDIR) $(JUPYTER_CONFIG_DIR) $(JUPYTER_DATA_DIR) $(JUPYTER_RUNTIME_DIR)
	JUPYTER_CONFIG_PATH=$(CURDIR)/scripts/jupyter \
	JUPYTERLAB_SETTINGS_DIR=$(RUNTIME)/lab-settings JUPYTERLAB_WORKSPACES_DIR=$(RUNTIME)/lab-workspaces \
	  $(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=$(CURDIR) \
	  --LabApp.default_url=/lab/tree/book/index.md $$( [ "$$(id -u)" = 0 ] && echo --allow-root || true )

# Headless Chromium for the browser test (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# bubblewrap (Debian's package): the jail in which the course's autograde runs student code
# (course_pkg.grading.instructor.jail); setpriv comes with util-linux, which every Debian system has.
jail-tools:
	@command -v bwrap >/dev/null || { \
	  echo "installing Debian's bubblewrap for the grading jail"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq bubblewrap >/dev/null; }

# PostgreSQL (Debian's package): the gradebook tests start a throwaway cluster from its binaries
# (tests/postgres_cluster.py: initdb and pg_ctl as an unprivileged user, a unix socket, no TCP).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the gradebook tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# The course hub's test (tests/test_hub.py, deploy/hub/): configurable-http-proxy from npm into
# _build/node/ (Debian's nodejs and npm if there is no npm), and Debian's acl (setfacl: the test
# lets its own users traverse /root, where this venv's interpreter lives, for its duration).
CHP := _build/node/node_modules/.bin/configurable-http-proxy
hub-tools: $(CHP)
	@command -v setfacl >/dev/null || { \
	  echo "installing Debian's acl for the hub test"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq acl >/dev/null; }

$(CHP):
	@command -v npm >/dev/null || { \
	  echo "installing Debian's nodejs and npm for configurable-http-proxy"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	mkdir -p _build/node
	npm install --prefix _build/node --no-fund --no-audit --silent configurable-http-proxy@5
	test -x $@

# Every test runs: a test that would skip (not root, a tool missing) fails instead
# (tests/forbid_skips.py), so no requirement goes unexercised while the run still passes.
test: book browser jail-tools postgres hub-tools
	COURSE_FORBID_SKIPS=1 $(PY) -m pytest

# Unit tests only (no book build, no browser): the quick loop while developing.
# Every chapter executed (cut to what its widgets need) with live widgets, every widget moved
# (make test drives all but the chapters whose widgets need long training: OPT_IN in
# tests/test_widgets_live_chapters.py).
notebooks: book
	COURSE_LIVE_CHAPTERS=all $(PY) -m pytest -m notebooks

unit: $(SETUP_STAMP)
	$(PY) -m pytest -m "not book and not browser and not pipeline and not lab and not notebooks and not hub"

clean:
	rm -rf _build

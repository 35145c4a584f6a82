# Relais developer tasks. `make help` lists them; docs/development.md explains them.
#
# Everything lives in the repository: the virtual environment in .venv/, the front-end
# packages in node_modules/. Stamp files in .venv/ are keyed on the lock files, so a second
# `make install` with nothing changed does nothing and takes well under a second.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
RELAIS := $(VENV)/bin/relais
STAMP := $(VENV)/.stamp
VENDOR := relais/web/static/vendor
CHROMIUM := /usr/bin/chromium
# Fonts, so that screenshots show the accents, Hebrew and emoji that the tests post.
BROWSER_FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0

# The test databases: SQLite in a temporary file (pytest-django makes it), then PostgreSQL.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=
PYTEST := $(PY) -m pytest -q -rfEs $(PYTEST_ARGS)
# Tests never see the developer's own database or Redis, only what the target sets.
TEST_ENV := env -u DATABASE_URL -u REDIS_URL RELAIS_TEST_REDIS_URL=$(TEST_REDIS_URL)

PO_FILES := $(wildcard relais/locale/*/LC_MESSAGES/*.po)

# Real local peers for connector tests (mk/*.mk append their install targets to PEERS).
PEERS :=
-include mk/*.mk

.PHONY: help install demo run test peers lint format typecheck test-sqlite test-postgres test-browser \
        bench chromium clean distclean

help:
	@echo "make install    .venv from requirements.lock, htmx from package-lock.json, translations"
	@echo "make demo       the demo organisation, live scenario S1, on http://127.0.0.1:8000/"
	@echo "make run        production-like: needs DATABASE_URL and REDIS_URL"
	@echo "make test       lint, types, tests on SQLite then PostgreSQL, browser tests"
	@echo "make lint       ruff check, ruff format --check, mypy"
	@echo "make format     ruff format and ruff check --fix"
	@echo "make bench      bench/ingest.py"
	@echo "make clean      generated files and caches (distclean: .venv too)"

# --- install ------------------------------------------------------------------------------

install: $(STAMP)-python $(STAMP)-editable $(VENDOR)/htmx.min.js $(VENDOR)/uPlot.iife.min.js $(STAMP)-locale

$(PY):
	$(PYTHON) -m venv $(VENV)

$(UV): | $(PY)
	$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade
	$(PY) -m pip install --quiet --disable-pip-version-check uv

$(STAMP)-python: requirements.lock | $(UV)
	$(UV) pip sync --python $(PY) requirements.lock
	@touch $@

$(STAMP)-editable: pyproject.toml $(STAMP)-python
	$(UV) pip install --python $(PY) --no-deps -e .
	@touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENDOR)/htmx.min.js: node_modules/.stamp
	@mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $@

# uPlot draws the listening charts (volume, bursts).
$(VENDOR)/uPlot.iife.min.js: node_modules/.stamp
	@mkdir -p $(VENDOR)
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css $(VENDOR)/

# compilemessages runs from relais/ so that it finds relais/locale and nothing in .venv.
$(STAMP)-locale: $(PO_FILES) | $(STAMP)-python
ifneq ($(PO_FILES),)
	@command -v msgfmt >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install --no-install-recommends gettext; }
	cd relais && ../$(VENV)/bin/django-admin compilemessages
endif
	@touch $@

# --- run ----------------------------------------------------------------------------------

demo: install
	$(RELAIS) demo $(DEMO_ARGS)

run: install
	@test -n "$${DATABASE_URL:-}" || { echo "make run: set DATABASE_URL (e.g. postgres://relais@db/relais)" >&2; exit 2; }
	@test -n "$${REDIS_URL:-}" || { echo "make run: set REDIS_URL (e.g. redis://127.0.0.1:6379/0)" >&2; exit 2; }
	$(RELAIS) migrate
	$(RELAIS) run --web-processes 2 --worker-processes 2

bench: install
	$(PY) bench/ingest.py
	$(PY) bench/triage_speed.py
	@if [ -d ../shared/data ]; then $(PY) bench/triage_quality.py --data ../shared/data; \
	 else echo "bench/triage_quality.py needs ../shared/data (the labelled public sets): skipped"; fi

# --- checks -------------------------------------------------------------------------------

# Debian's Chromium, never a browser that a test tool downloads; only when missing.
$(CHROMIUM) $(BROWSER_FONTS) &:
	$(APT_GET) update -qq
	$(APT_GET) install --no-install-recommends chromium fonts-dejavu-core fonts-noto-color-emoji

chromium: $(CHROMIUM) $(BROWSER_FONTS)

# Each check runs even when an earlier one failed, so one run shows every problem.
lint: install
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/mypy relais config || status=1; \
	exit $$status

typecheck: install
	$(VENV)/bin/mypy relais config

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Browser tests run once, in their own pass: they start the real product on its own SQLite.
test-sqlite: install peers
	$(TEST_ENV) $(PYTEST) -m "not browser"

test-postgres: install peers
	$(TEST_ENV) DATABASE_URL=$(TEST_POSTGRES_URL) $(PYTEST) -m "not browser"

test-browser: install chromium
	$(TEST_ENV) $(PYTEST) -m browser tests/browser

# Every stage runs; the target fails at the end, naming the stages that failed.
peers: install $(PEERS)

test: install chromium peers
	@failed=""; \
	for stage in lint test-sqlite test-postgres test-browser; do \
	  start=$$(date +%s); echo "== make $$stage"; \
	  $(MAKE) $$stage || failed="$$failed $$stage"; \
	  echo "== make $$stage: $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: all stages passed"

# --- clean --------------------------------------------------------------------------------

clean:
	rm -rf node_modules $(VENDOR) $(VENV)/.stamp-* .pytest_cache .mypy_cache .ruff_cache test-results
	find relais -name '*.mo' -path '*/locale/*' -delete
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info

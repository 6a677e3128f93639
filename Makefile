# The one entry point: `make run` serves the portal, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# A stamp per lock file's content: editing a lock file reinstalls, nothing else does.
RUNTIME_STAMP := $(VENV)/.installed-runtime-$(shell cksum < requirements.txt | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cksum < requirements-dev.txt | cut -d' ' -f1)
# Lock files name every package with its hashes; pip refuses anything else.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --require-hashes --no-input
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: run dev serve test lint format bench bench-queries translations extract install install-dev lock \
	lock-upgrade

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime only (`make serve` on a production host); the dev lock is a superset of it.
$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements.txt
	rm -f $(VENV)/.installed-runtime-*
	touch $@

$(DEV_STAMP): requirements-dev.txt | $(BIN)/python
	$(PIP_INSTALL) -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

translations: $(RUNTIME_STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d translations

# The embedded default: SQLite (WAL) in instance/, gunicorn as one process with threads,
# in-process rate-limit storage (exact, because only one process counts).
run: translations
	$(BIN)/flask --app wsgi setup --if-needed --generate-password
	PORTAL_BIND=127.0.0.1:$(PORT) PORTAL_WORKERS=1 $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# Flask's development server: reloads on edits, shows tracebacks in the browser.
dev: translations
	$(BIN)/flask --app wsgi setup --if-needed --generate-password
	$(BIN)/flask --app wsgi run --debug --host 127.0.0.1 --port $(PORT)

# The production profile from the environment (docs/deploy.md): PORTAL_BIND, PORTAL_WORKERS,
# PORTAL_THREADS, PORTAL_TIMEOUT, DATABASE_URL, RATELIMIT_STORAGE_URI, SECRET_KEY ...
# The instance must have been set up (`flask --app wsgi setup`).
serve: translations
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(DEV_STAMP) translations
	$(BIN)/python -m pytest

# Load every public endpoint and its floor with wrk on a throw-away database of a million
# reports, served by gunicorn as in production; one table, also in bench/results.json
# (~10 min; REPORTS=200000 for less; DB=postgres WORKERS=2 for the busier host of
# docs/deploy.md: PostgreSQL, limits in Redis, two processes). docs/performance.md.
REPORTS ?= 1000000
DB ?= sqlite
WORKERS ?= 1
bench: $(DEV_STAMP) translations
	$(BIN)/python bench/run.py --reports $(REPORTS) --db $(DB) --workers $(WORKERS)

# The queue's and the statistics' queries timed and explained, one by one (~8 min).
bench-queries: $(DEV_STAMP) translations
	$(BIN)/python bench/bench_queue.py
	$(BIN)/python bench/bench_stats.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Lock requirements*.in into requirements*.txt: every package pinned, with hashes. Keeps the
# versions already locked; `make lock-upgrade` moves every unpinned package to its newest.
lock: $(BIN)/pip-compile
	$(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) $(LOCK_ARGS) --output-file requirements-dev.txt requirements-dev.in

lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

# pip-tools at the version requirements-dev.in names, without the lock files, so that
# `make lock` still works when a lock file is stale or half-merged.
$(BIN)/pip-compile: requirements-dev.in | $(BIN)/python
	$(BIN)/python -m pip install --quiet "$$(grep -i '^pip-tools==' requirements-dev.in)"
	touch $@

# Refresh the message catalogue after changing user-facing text.
extract: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update -N -i translations/messages.pot -d translations

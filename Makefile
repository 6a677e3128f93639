# The one entry point: `make run` serves the portal, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint format bench translations extract

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d translations

run: translations
	$(BIN)/flask --app wsgi setup --if-needed --generate-password
	$(BIN)/flask --app wsgi run --host 127.0.0.1 --port $(PORT)

test: translations
	$(BIN)/python -m pytest

# Time the triage queue on a throw-away SQLite database of a million reports (~2 min).
# Then the transparency statistics (dashboard, /api/v1/stats) on another (~6 min).
bench: translations
	$(BIN)/python bench/bench_queue.py
	$(BIN)/python bench/bench_stats.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Refresh the message catalogue after changing user-facing text.
extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update -N -i translations/messages.pot -d translations

# Yiting — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test test-slow setup lint format bench clean translations

# Two workers (one per core); a test file stays on one worker.
PYTEST_WORKERS ?= -n 2 --dist loadfile

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --silent
	touch $@

translations: $(BIN)/.installed
	$(BIN)/pybabel compile -d consult/translations -f

setup: $(BIN)/.installed node_modules/.installed translations

run: setup
	$(BIN)/flask db upgrade
	$(BIN)/flask demo --if-empty
	$(BIN)/python app.py

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

# The long variants (full reconnect storm, …): .ci/run runs them after `make test`.
test-slow: setup
	$(BIN)/python -m pytest $(PYTEST_WORKERS) -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules data .pytest_cache

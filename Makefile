# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow test-load lint fmt bench tools clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## Start the gateway on the embedded local store (no mana-sync or mana-auth needed).
run: $(STAMP)
	@$(BIN)/mana-mcp serve

## Run every test of the default suite (unit + integration).
test: $(STAMP)
	@$(BIN)/python -m pytest -q

## Long suites (load, soak) that stay out of the default run.
test-slow: $(STAMP)
	@$(BIN)/python -m pytest -q -m slow

## The load test alone (50 clients of 10 users for 60 s), printing its numbers (LOAD_SECONDS=… to shorten).
test-load: $(STAMP)
	@$(BIN)/python -m pytest -q -s -m slow tests/load

lint: $(STAMP)
	@$(BIN)/ruff check src tests bench
	@$(BIN)/ruff format --check src tests bench
	@$(BIN)/mypy

fmt: $(STAMP)
	@$(BIN)/ruff format src tests bench
	@$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	@$(BIN)/python -m bench

tools: $(STAMP)
	@$(BIN)/mana-mcp tools

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

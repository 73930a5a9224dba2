# The front door. Every target bootstraps .venv on a fresh machine (Python 3.11 + pip only).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv tools test lint typecheck pytest demo demo-mcp serve bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: venv
	$(BIN)/mypy --strict src

tools:
	sh scripts/install-test-tools.sh

# The suite runs in $(PYTEST_WORKERS) processes (its tests mostly wait on real servers); the fault
# suite (marker faults) runs afterwards on its own, so its timings are not those of a busy machine.
PYTEST_WORKERS ?= 4

pytest: venv tools
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -m 'not faults'
	$(BIN)/pytest -m faults

test: lint typecheck pytest

demo: venv
	$(BIN)/python -m tessera._demo

demo-mcp: venv  # only the MCP act of `make demo`
	$(BIN)/python -m tessera._demo --mcp

serve: venv
	$(BIN)/python -m tessera._demo --serve

bench: venv
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

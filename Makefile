# make demo: set up everything, then convert the bundled default model and report.
# make test: set up everything, then run the whole test suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: setup toolchains demo test lint bench clean

setup: $(STAMP) toolchains

$(STAMP): pyproject.toml
	@echo "== creating $(VENV) and installing edgeinfer with its test dependencies"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,onnx,torch,targets]'
	touch $(STAMP)

toolchains:
	@bash scripts/install-toolchains.sh

demo: setup
	$(PY) -m edgeinfer.demo --out demo_out

test: setup
	$(PY) -m pytest -q -n 2 tests

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) demo_out .pytest_cache

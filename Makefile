# make demo: set up .venv and run genomix on the demo world (truth variants, trained demo model).
# make test: set up .venv (with test extras) and run the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU build of torch; a GPU user sets TORCH_SPEC (see the README).
TORCH_SPEC ?= torch==2.13.0

$(BIN)/genomix: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/genomix

setup: $(BIN)/genomix

demo: setup
	$(BIN)/genomix demo --out genomix-demo-out

test: setup
	$(BIN)/python -m pytest -q

.PHONY: setup demo test

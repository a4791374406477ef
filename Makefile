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
	# SpliceAI's weights for the spliceai tests; --no-deps, since its TensorFlow is not used.
	$(BIN)/pip install --quiet --no-deps spliceai h5py
	# Evo 2's package and vortex, --no-deps so that torch stays; on a CPU the evo2 tests skip with vortex's own error.
	$(BIN)/pip install --quiet --no-deps vtx evo2 einops
	touch $(BIN)/genomix

setup: $(BIN)/genomix

demo: setup
	$(BIN)/genomix demo --out genomix-demo-out

# bcftools (Debian) runs +split-vep on explain's VCF in the tests; chromium and chromium-driver open the
# explain report in a browser test. Installed when this is root with apt, otherwise those tests are skipped.
tools:
	@command -v bcftools >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
		|| apt-get install -y -q bcftools >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bcftools >/dev/null 2>&1) \
		|| echo "bcftools could not be installed; the split-vep test will be skipped"
	@command -v chromedriver >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
		|| apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1) \
		|| echo "chromium could not be installed; the report's browser test will be skipped"

test: setup tools
	$(BIN)/python -m pytest -q --durations=15

# ruff keeps the code's shape: lint and format, 120 columns (pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: setup demo test tools lint

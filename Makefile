# The two commands of the README:  make demo  (generate a course offline)  and  make test.
# Both set up everything a fresh machine needs: a virtualenv with the project and its tools.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: install demo test unit lint build serve openapi fault-matrix load bench calibrate clean

$(STAMP): pyproject.toml shared/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/coursegen books import data/books/sample_library.jsonl
	$(BIN)/coursegen generate "Learn DCF valuation" --hours 2

test: install
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

serve: install
	$(BIN)/coursegen serve --port 8080

# The committed OpenAPI document, regenerated from the API's resolver (a test keeps them equal).
openapi: install
	$(BIN)/python -c "from coursegen.api import openapi_document; open('openapi.json', 'w').write(openapi_document())"

# docs/fault-matrix.md, written from a run of the fault matrix (CI runs the same test).
fault-matrix: install
	FAULT_MATRIX_OUT=docs/fault-matrix.md $(BIN)/pytest -q tests/workflow/test_fault_matrix.py -k "not committed"

# 50 courses at once against coursegen serve, with a simulated model latency; prints the figures.
load: install
	$(BIN)/python -m coursegen_local.load --courses 50

# The benchmarks: results/report.md and PNG plots (about fifteen minutes on 2 cores).
bench: install
	$(BIN)/python -m bench

# docs/grounding-calibration.md: on- and off-topic queries against the sample library, and the
# SEARCH_MIN_SIMILARITY they support (a test keeps the document equal to a fresh measurement).
calibrate: install
	$(BIN)/python -m bench.calibrate_grounding

lint: install
	$(BIN)/sam validate --lint --region us-east-1

# Builds the deployable application with this machine's Python (Lambda itself runs python3.13).
build: install
	$(BIN)/sam build --parameter-overrides PythonRuntime=python$$($(BIN)/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .hypothesis

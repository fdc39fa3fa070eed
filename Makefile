# Two entry points, both self-contained on a fresh machine:
#   make run   - set up .venv if missing, run the quickstart experiment, print its table
#   make test  - same set-up, run the test suite
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Offline mirror beside the checkout, unless the caller says otherwise.
IMBLLM_DATA_DIR ?= $(if $(wildcard ../shared/datasets/SHA256SUMS),$(abspath ../shared/datasets),)
export IMBLLM_DATA_DIR

.PHONY: setup run test lint tables report clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	# CPU build of PyTorch first, so the llm extra does not pull a CUDA build.
	# GPU machines: see README ("GPU install").
	$(BIN)/pip install -q "torch==$${IMBLLM_TORCH_VERSION:-2.13.0}"
	$(BIN)/pip install -q -e ".[all,dev]"
	touch $(STAMP)

run: setup
	$(BIN)/imbllm-bench experiment=quickstart -m
	$(BIN)/python scripts/make_tables.py --experiment quickstart --print

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check imbllm baselines scripts tests

tables: setup
	$(BIN)/python scripts/make_tables.py

report: setup
	$(BIN)/python scripts/make_report.py

clean:
	rm -rf $(VENV) results/cache

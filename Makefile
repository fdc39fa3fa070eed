# Two entry points, both self-contained on a fresh machine:
#   make run   - set up .venv if missing, run the quickstart experiment, print its table
#   make test  - same set-up, run the test suite
# Scale-out services (README, "Scale out"): make tracking-server, make slurm-local, *-stop.
# Browse the runs: make ui (README, "Tracking").
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Offline mirror beside the checkout, unless the caller says otherwise.
IMBLLM_DATA_DIR ?= $(if $(wildcard ../shared/datasets/SHA256SUMS),$(abspath ../shared/datasets),)
export IMBLLM_DATA_DIR

# Where the loopback services keep their data, logs and pid files.
SERVICES_DIR ?= /tmp/imbllm-services

.PHONY: setup run test lint tables report clean test-services ui \
	tracking-server tracking-server-stop slurm-local slurm-local-stop

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

# A worker per core (pytest-xdist), each test module on one worker, in the order that
# tests/conftest.py gives them.
test: setup
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check imbllm baselines scripts tests

# `mlflow ui` on loopback over results/mlruns.db (or $MLFLOW_TRACKING_URI); prints the address
# of each experiment's runs table. UI_PORT=5001 for another port.
UI_PORT ?= 5000
ui: setup
	$(BIN)/python scripts/mlflow_ui.py --port $(UI_PORT)

tables: setup
	$(BIN)/python scripts/make_tables.py

report: setup
	$(BIN)/python scripts/make_report.py

# Only the tests that start PostgreSQL, an MLflow server and a local SLURM; a missing tool fails.
test-services: setup
	IMBLLM_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -q -m services -rs

# PostgreSQL + `mlflow server` on loopback; prints the variables that point runs at them.
tracking-server: setup
	@uri=$$(PYTHON=$(abspath $(BIN))/python scripts/services/mlflow_server.sh start $(SERVICES_DIR)) && \
	echo "export MLFLOW_TRACKING_URI=$$uri IMBLLM_CLAIMS_URI=$$(scripts/services/postgres.sh url $(SERVICES_DIR))"

tracking-server-stop:
	scripts/services/mlflow_server.sh stop $(SERVICES_DIR)
	scripts/services/postgres.sh stop $(SERVICES_DIR)

# A one-node SLURM cluster on localhost (root); prints `export SLURM_CONF=...`.
slurm-local:
	@scripts/services/slurm.sh start $(SERVICES_DIR)

slurm-local-stop:
	scripts/services/slurm.sh stop $(SERVICES_DIR)

clean:
	rm -rf $(VENV) results/cache

#!/usr/bin/env bash
# The 82M backbone's speed on a lent GPU machine (CUDA bf16 and its CPU): one JSON.
#
#   scripts/gpu_check.sh [--out gpu_check.json]     # about 5 minutes on one H100
#   scripts/gpu_check.sh --dry-run --out x.json     # a tiny model on the CPU, seconds
#
# Runs from a copy of the working tree: builds the 82M folder there with
# scripts/make_local_backbone.py (BACKBONE=<folder> reuses one), then scripts/gpu_check.py,
# which calls the engine directly (no tracking store, classifier or command line). Wheels
# the GPU image lacks travel in .whl/ at the tree's root (ignored by git, so name it in the
# device tool's carry: [".whl"]; about 15 MB), fetched beforehand where the index answers:
#   pip download --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
#       -d .whl imbalanced-learn scikit-learn
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -d .whl ] && ! "$PY" -c "import imblearn, sklearn" 2>/dev/null; then
  "$PY" -m pip install --quiet --no-index --find-links .whl imbalanced-learn scikit-learn
fi
export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
args=("$@")
if [[ " $* " != *" --dry-run "* ]]; then
  folder=${BACKBONE:-${TMPDIR:-/tmp}/imbllm-distilgpt2-local}
  [ -f "$folder/model.safetensors" ] || "$PY" scripts/make_local_backbone.py "$folder"
  args+=(--backbone "$folder")
fi
# Under the 8 minutes a lent machine gives one command, whatever the machine.
exec timeout 470 "$PY" scripts/gpu_check.py "${args[@]}"

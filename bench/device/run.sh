#!/usr/bin/env bash
# On the lent H200 (bench/device/prepare.py made .whl/): install the carried wheels, then run the
# GPU check; its results land in $OUT (gpu-check.json, gpu-check.md), written after every mode.
set -uo pipefail
cd "$(dirname "$0")/../.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || { echo "wheel install failed"; exit 3; }
export PYTHONPATH="$PWD/src:$PWD/bench:/tmp/site" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
OUT="${OUT:-/tmp/gpu-check}"
mkdir -p "$OUT"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
python3 bench/device/gpu_check.py --out "$OUT" --data-dir .whl/data --budget-s "${BUDGET_S:-540}" 2>&1 | tee "$OUT/log.txt"

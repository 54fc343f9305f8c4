#!/usr/bin/env bash
# v0.5 driver: download CIFAR-10, write the EEMBC perf samples, train ResNet-8, test it.
# Environment: DATA_DIR (where cifar-10-batches-py/ lives or goes, default data), OUT_DIR (run folder,
# default trained_models), EPOCHS (default 500), PYTHON (default python).
set -euo pipefail
DATA_DIR=${DATA_DIR:-data}
OUT_DIR=${OUT_DIR:-trained_models}
EPOCHS=${EPOCHS:-500}
PYTHON=${PYTHON:-python}
CIFAR_DIR="$DATA_DIR/cifar-10-batches-py"

[ -f "$CIFAR_DIR/batches.meta" ] || "$PYTHON" -m mlperf_tiny.download cifar10 --data_dir "$DATA_DIR"
"$PYTHON" -m mlperf_tiny.image_classification.perf_samples_loader --data_dir "$CIFAR_DIR" --out_dir "$OUT_DIR/perf_samples"
"$PYTHON" -m mlperf_tiny.image_classification.train --data_dir "$CIFAR_DIR" --out_dir "$OUT_DIR" --epochs "$EPOCHS"
"$PYTHON" -m mlperf_tiny.image_classification.test --data_dir "$CIFAR_DIR" --model_path "$OUT_DIR/trainedResnet.h5"

#!/usr/bin/env bash
# v0.5 driver: convert the trained ResNet-8 to float and int8 TFLite, then evaluate both.
# Environment: DATA_DIR (default data), OUT_DIR (the run folder holding trainedResnet.h5, default
# trained_models), PYTHON (default python). CALIBRATION_IDXS: the reference's calibration_samples_idxs.npy.
set -euo pipefail
DATA_DIR=${DATA_DIR:-data}
OUT_DIR=${OUT_DIR:-trained_models}
PYTHON=${PYTHON:-python}
CIFAR_DIR="$DATA_DIR/cifar-10-batches-py"
CALIBRATION_ARGS=()
[ -n "${CALIBRATION_IDXS:-}" ] && CALIBRATION_ARGS=(--calibration_idxs "$CALIBRATION_IDXS")

"$PYTHON" -m mlperf_tiny.image_classification.model_converter --data_dir "$CIFAR_DIR" \
  --model_path "$OUT_DIR/trainedResnet.h5" "${CALIBRATION_ARGS[@]}"
"$PYTHON" -m mlperf_tiny.image_classification.tflite_test --data_dir "$CIFAR_DIR" --model_path "$OUT_DIR/trainedResnet.h5"

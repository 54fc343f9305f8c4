#!/usr/bin/env bash
# v0.5 driver: download the Silicon Labs VWW images (vw_coco2014_96), train MobileNetV1-0.25, convert it to
# float/int8 TFLite, evaluate all three on the validation split. Like v0.5 it does not rebuild the dataset from
# COCO (its parse_coco line is commented out).
# Environment: DATA_DIR (default data), OUT_DIR (default trained_models), EPOCHS_PER_STAGE (default "20 10 20"),
# PYTHON (default python).
set -euo pipefail
DATA_DIR=${DATA_DIR:-data}
OUT_DIR=${OUT_DIR:-trained_models}
EPOCHS_PER_STAGE=${EPOCHS_PER_STAGE:-20 10 20}
PYTHON=${PYTHON:-python}
VWW_DIR="$DATA_DIR/vw_coco2014_96"

[ -d "$VWW_DIR/person" ] || "$PYTHON" -m mlperf_tiny.download vww --data_dir "$DATA_DIR"
# shellcheck disable=SC2086  # EPOCHS_PER_STAGE is a list of numbers
"$PYTHON" -m mlperf_tiny.visual_wake_words.train_vww --data_dir "$VWW_DIR" --out_dir "$OUT_DIR" --epochs_per_stage $EPOCHS_PER_STAGE
"$PYTHON" -m mlperf_tiny.visual_wake_words.convert_vww "$OUT_DIR/vww_96.h5" --data_dir "$VWW_DIR"
"$PYTHON" -m mlperf_tiny.visual_wake_words.test_vww "$OUT_DIR/vww_96.h5" --data_dir "$VWW_DIR"

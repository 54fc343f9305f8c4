#!/usr/bin/env bash
# Original train_vww.sh: T-RECX and noEV MobileNetV1-0.25 (+ the plain MLPerf MobileNet as the reference point)
# on vw_coco2014_96, then test_mobnet (Fig4c). EPOCHS_PER_STAGE: the three Adam stages (reference 20 10 20).
set -euo pipefail
DATA_DIR=${DATA_DIR:-data/vw_coco2014_96}
OUT_DIR=${OUT_DIR:-runs/trecx/vww}
EPOCHS_PER_STAGE=${EPOCHS_PER_STAGE:-20 10 20}
PY=${PY:-.venv/bin/python}
# shellcheck disable=SC2086  # EPOCHS_PER_STAGE is a list of numbers
train() { "$PY" -m trecx.visual_wake_words.train_mobnet "$@" --data_dir "$DATA_DIR" --out_dir "$OUT_DIR" --epochs_per_stage $EPOCHS_PER_STAGE; }
train model_with_ev_assist mobnet_ev
train model_without_ev_assist mobnet_noev
train vww_96 mobilenet_v1
"$PY" -m trecx.visual_wake_words.test_mobnet --data_dir "$DATA_DIR" --out_dir "$OUT_DIR" --tflite

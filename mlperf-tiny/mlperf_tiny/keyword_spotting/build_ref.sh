#!/usr/bin/env bash
# v0.5 build_ref.sh: train the reference DS-CNN, quantize it to int8 and measure the int8 model on the test set.
# DATA_DIR: tfds data_dir or the extracted Speech Commands tarballs; OUT_DIR: where the models go; EPOCHS: 30.
set -euo pipefail
DATA_DIR=${DATA_DIR:-$HOME/data}
OUT_DIR=${OUT_DIR:-trained_models}
EPOCHS=${EPOCHS:-30}
PY=${PY:-python}
ARGS=(--data_dir "$DATA_DIR" --saved_model_path "$OUT_DIR/kws_ref_model.h5" --tfl_file_name "$OUT_DIR/kws_ref_model.tflite")
"$PY" -m mlperf_tiny.keyword_spotting.train "${ARGS[@]}" --epochs "$EPOCHS" "$@"
"$PY" -m mlperf_tiny.keyword_spotting.quantize "${ARGS[@]}"
"$PY" -m mlperf_tiny.keyword_spotting.eval_quantized_model "${ARGS[@]}" --target_set test

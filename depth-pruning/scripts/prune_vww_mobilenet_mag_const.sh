#!/usr/bin/env bash
# The tfmot magnitude-pruning baseline on VWW (original prune_vww_mobilenet_mag_const.sh): ConstantSparsity at
# 0.10, 0.15, ..., 0.95, each fine-tuned with the VWW recipe, then int8 quantize + evaluate, then magnitude.csv.
# Env: DATA_DIR (vw_coco2014_96), OUT_DIR, BASE_MODEL (trained MobileNetV1-0.25 .h5), SPARSITIES,
# SCHEME (constant | polynomial), SEEDS (0), EPOCHS_PER_STAGE ("20 10 20"), EXTRA (more prune flags), PY.
# A run whose result.json (and int8 metrics) exist is skipped, so an interrupted sweep resumes; a run older
# than BASE_MODEL is redone.
set -euo pipefail
PY=${PY:-python}
DATA_DIR=${DATA_DIR:?set DATA_DIR to the vw_coco2014_96 folder}
OUT_DIR=${OUT_DIR:-runs/depth-pruning/vww_mag}
BASE_MODEL=${BASE_MODEL:?set BASE_MODEL to the trained base model (.h5)}
SPARSITIES=${SPARSITIES:-0.10 0.15 0.20 0.25 0.30 0.35 0.40 0.45 0.50 0.55 0.60 0.65 0.70 0.75 0.80 0.85 0.90 0.95}
SCHEME=${SCHEME:-constant}
SEEDS=${SEEDS:-0}
EPOCHS_PER_STAGE=${EPOCHS_PER_STAGE:-20 10 20}
EXTRA=${EXTRA:-}

for seed in $SEEDS; do
  for sparsity in $SPARSITIES; do
    name="mag_${SCHEME}_$(awk -v s="$sparsity" 'BEGIN { printf "%02d", s * 100 + 0.5 }')_seed${seed}"
    run="$OUT_DIR/$name"
    if [ -f "$run/args.json" ] && [ "$BASE_MODEL" -nt "$run/args.json" ]; then
      echo "$run was trained from an older $BASE_MODEL: redoing it"; rm -rf "$run"
    fi
    if [ ! -f "$run/result.json" ]; then
      # shellcheck disable=SC2086
      $PY -m depth_pruning.vww.prune_vww_mag --base_model_path "$BASE_MODEL" --data_dir "$DATA_DIR" \
        --train_dir "$OUT_DIR" --ckpt_name "$name" --pruning_scheme "$SCHEME" --end_sparsity "$sparsity" \
        --seed "$seed" --epochs_per_stage $EPOCHS_PER_STAGE --skip_image_check $EXTRA
    fi
    if ! grep -q acc_int8 "$run/result.json"; then
      $PY -m depth_pruning.vww.tflite_convert_quantize "$run" --data_dir "$DATA_DIR"
      $PY -m depth_pruning.vww.tflite_evaluate "$run" --data_dir "$DATA_DIR" --no_progress
    fi
  done
done
$PY -m depth_pruning.sweep --sweep_dir "$OUT_DIR" --task vww --magnitude

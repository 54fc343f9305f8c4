#!/usr/bin/env bash
# The tfmot magnitude-pruning baseline on KWS (original prune_kws_mag_constant.sh): ConstantSparsity at
# 0.10 .. 0.95, 30 epochs with the MLPerf step LR each, then int8 quantize + evaluate (test set), magnitude.csv.
# Env: DATA_DIR (Speech Commands root), OUT_DIR, BASE_MODEL (trained DS-CNN .h5), SPARSITIES, SCHEME,
# SEEDS (0), EPOCHS (30), EXTRA (more flags for every step, e.g. "--mini"), PY.
set -euo pipefail
PY=${PY:-python}
DATA_DIR=${DATA_DIR:?set DATA_DIR to the Speech Commands data dir}
OUT_DIR=${OUT_DIR:-runs/depth-pruning/kws_mag}
BASE_MODEL=${BASE_MODEL:?set BASE_MODEL to the trained base model (.h5)}
SPARSITIES=${SPARSITIES:-0.10 0.15 0.20 0.25 0.30 0.35 0.40 0.45 0.50 0.55 0.60 0.65 0.70 0.75 0.80 0.85 0.90 0.95}
SCHEME=${SCHEME:-constant}
SEEDS=${SEEDS:-0}
EPOCHS=${EPOCHS:-30}
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
      $PY -m depth_pruning.kws.prune_kws_mag --base_model_path "$BASE_MODEL" --data_dir "$DATA_DIR" \
        --train_dir "$OUT_DIR" --ckpt_name "$name" --pruning_scheme "$SCHEME" --end_sparsity "$sparsity" \
        --seed "$seed" --epochs "$EPOCHS" --verbose 0 $EXTRA
    fi
    if ! grep -q acc_int8 "$run/result.json"; then
      # shellcheck disable=SC2086
      $PY -m depth_pruning.kws.quantize --run_dir "$run" --data_dir "$DATA_DIR" $EXTRA
      # shellcheck disable=SC2086
      $PY -m depth_pruning.kws.eval_quantized_model --run_dir "$run" --data_dir "$DATA_DIR" --no_progress $EXTRA
    fi
  done
done
$PY -m depth_pruning.sweep --sweep_dir "$OUT_DIR" --task kws --magnitude

#!/usr/bin/env bash
# Sweep the VWW cut points with an aux head: prune -> int8 quantize -> evaluate per cut, then sweep.csv + plots.
# Env: DATA_DIR (vw_coco2014_96), OUT_DIR, BASE_MODEL (trained MobileNetV1-0.25 .h5), AUX_ARCH (dscnn32_16),
# CUTS (all 14), TAILS ("True False": frozen and unfrozen tail), SEEDS (0), EPOCHS_PER_STAGE ("20 10 20"),
# SCRIPT (prune_vww_aux | prune_vww_aux_gray), COLOR_MODE (rgb), EXTRA (more prune flags), PY (python),
# BASE_TFLITE (the base's int8 .tflite: its TFLite Micro arena and flash go beside each cut's in sweep.csv).
# A cut whose result.json (and int8 metrics) exist is skipped, so an interrupted sweep resumes.
set -euo pipefail
PY=${PY:-python}
DATA_DIR=${DATA_DIR:?set DATA_DIR to the vw_coco2014_96 folder}
OUT_DIR=${OUT_DIR:-runs/depth-pruning/vww}
BASE_MODEL=${BASE_MODEL:?set BASE_MODEL to the trained base model (.h5)}
AUX_ARCH=${AUX_ARCH:-dscnn32_16}
CUTS=${CUTS:-conv1 block1 block2 block3 block4 block5 block6 block7 block8 block9 block10 block11 block12 block13}
TAILS=${TAILS:-True False}
SEEDS=${SEEDS:-0}
EPOCHS_PER_STAGE=${EPOCHS_PER_STAGE:-20 10 20}
SCRIPT=${SCRIPT:-prune_vww_aux}
COLOR_MODE=${COLOR_MODE:-rgb}
EXTRA=${EXTRA:-}
TASK=${TASK:-vww}
QUANTIZE=${QUANTIZE:-1}  # 0: no int8 conversion/evaluation (the multi-seed report only needs accuracies)

for seed in $SEEDS; do
  for cut in $CUTS; do
    for frozen in $TAILS; do
      name="${cut}_${AUX_ARCH}$([ "$frozen" = True ] || echo _unfrozen)_seed${seed}"
      run="$OUT_DIR/$name"
      if [ -f "$run/args.json" ] && [ "$BASE_MODEL" -nt "$run/args.json" ]; then
        echo "$run was trained from an older $BASE_MODEL: redoing it"; rm -rf "$run"
      fi
      if [ ! -f "$run/result.json" ]; then
        # shellcheck disable=SC2086
        $PY -m depth_pruning.vww.$SCRIPT --base_model_path "$BASE_MODEL" --attach_tensor_name "$cut" \
          --aux_arch "$AUX_ARCH" --data_dir "$DATA_DIR" --train_dir "$OUT_DIR" --ckpt_name "$name" \
          --frozen_head "$frozen" --seed "$seed" --epochs_per_stage $EPOCHS_PER_STAGE --skip_image_check $EXTRA
      fi
      if [ "$QUANTIZE" = 1 ] && [ "$frozen" = True ] && ! grep -q acc_int8 "$run/result.json"; then
        $PY -m depth_pruning.vww.tflite_convert_quantize "$run" --data_dir "$DATA_DIR" --color_mode "$COLOR_MODE"
        $PY -m depth_pruning.vww.tflite_evaluate "$run" --data_dir "$DATA_DIR" --color_mode "$COLOR_MODE" --no_progress
      fi
    done
  done
done
$PY -m depth_pruning.sweep --sweep_dir "$OUT_DIR" --task "$TASK" ${BASE_METRICS:+--base_metrics "$BASE_METRICS"} \
  ${BASE_TFLITE:+--base_tflite "$BASE_TFLITE"}

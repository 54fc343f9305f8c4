#!/usr/bin/env bash
# Sweep the KWS cut points with an aux head: prune -> int8 quantize -> evaluate (test set) per cut, then plots.
# Env: DATA_DIR (Speech Commands root, as mlperf_tiny KWS --data_dir), OUT_DIR, BASE_MODEL (trained DS-CNN .h5),
# AUX_ARCH (dscnn32_16), CUTS (conv1 block1..block4), TAILS ("True False"), SEEDS (0), EPOCHS (30),
# QUANTIZE (1), EXTRA (KWS data/feature flags for every step, e.g. "--mini" or "--feature_type lfbe"),
# PRUNE_EXTRA (flags of prune_kws_aux only, e.g. "--aux_bn_momentum 0.9"), TASK (kws), PY, BASE_TFLITE
# (the base's int8 .tflite: its TFLite Micro arena and flash go beside each cut's in sweep.csv).
set -euo pipefail
PY=${PY:-python}
DATA_DIR=${DATA_DIR:?set DATA_DIR to the Speech Commands data dir}
OUT_DIR=${OUT_DIR:-runs/depth-pruning/kws}
BASE_MODEL=${BASE_MODEL:?set BASE_MODEL to the trained base model (.h5)}
AUX_ARCH=${AUX_ARCH:-dscnn32_16}
CUTS=${CUTS:-conv1 block1 block2 block3 block4}
TAILS=${TAILS:-True False}
SEEDS=${SEEDS:-0}
EPOCHS=${EPOCHS:-30}
EXTRA=${EXTRA:-}
PRUNE_EXTRA=${PRUNE_EXTRA:-}
TASK=${TASK:-kws}
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
        $PY -m depth_pruning.kws.prune_kws_aux --base_model_path "$BASE_MODEL" --attach_tensor_name "$cut" \
          --aux_arch "$AUX_ARCH" --data_dir "$DATA_DIR" --train_dir "$OUT_DIR" --ckpt_name "$name" \
          --frozen_head "$frozen" --seed "$seed" --epochs "$EPOCHS" --verbose 0 $EXTRA $PRUNE_EXTRA
      fi
      if [ "$QUANTIZE" = 1 ] && [ "$frozen" = True ] && ! grep -q acc_int8 "$run/result.json"; then
        # shellcheck disable=SC2086
        $PY -m depth_pruning.kws.quantize --run_dir "$run" --data_dir "$DATA_DIR" $EXTRA
        # shellcheck disable=SC2086
        $PY -m depth_pruning.kws.eval_quantized_model --run_dir "$run" --data_dir "$DATA_DIR" --no_progress $EXTRA
      fi
    done
  done
done
$PY -m depth_pruning.sweep --sweep_dir "$OUT_DIR" --task "$TASK" ${BASE_METRICS:+--base_metrics "$BASE_METRICS"} \
  ${BASE_TFLITE:+--base_tflite "$BASE_TFLITE"}

#!/usr/bin/env bash
# The paper's evaluation sweep: eval_lossless and eval_lossy for n = 1, 3, 5 in every lr phase.
# A CSV that already exists is kept, so an interrupted sweep resumes where it stopped.
# Env: PATH_PT (checkpoints {epoch}_{lr}.pt), OUT_DIR, PHASES ("lr:first:last ..."), DNN (resnet or yolo),
# DATA_DIR (ImageFolder for top-1 / COCO root for mAP of the decoded models; empty to skip), IMAGE_SIZE,
# DATASET_LABEL, LOSSLESS_METHODS, LOSSY_METHODS, NS, LOSSLESS_ACCURACY (1: score the lossless decodes too).
set -euo pipefail
PY=${PY:-.venv/bin/python}
PATH_PT=${PATH_PT:?set PATH_PT to the folder of the EPOCH_LR.pt checkpoints}
OUT_DIR=${OUT_DIR:-$PATH_PT/eval}
PHASES=${PHASES:-"0.01:31:60 0.001:61:90"}
DATA_DIR=${DATA_DIR:-}
IMAGE_SIZE=${IMAGE_SIZE:-224}
DATASET_LABEL=${DATASET_LABEL:-imagenet}
LOSSLESS_METHODS=${LOSSLESS_METHODS:-"ResEntropy ResPlaneANS ResIntDiffANS"}
LOSSY_METHODS=${LOSSY_METHODS:-"Float16 ResidualFloat16 ResEntropy16bits Res16bitsJointANS ResRoundANS"}
NS=${NS:-"1 3 5"}
DNN=${DNN:-resnet}
LOSSLESS_ACCURACY=${LOSSLESS_ACCURACY:-0}
mkdir -p "$OUT_DIR"
for phase in $PHASES; do
  IFS=: read -r lr first last <<<"$phase"
  for n in $NS; do
    common=(--learning-rate "$lr" --epoch-interval "$n" --epoch-first "$first" --epoch-last "$last"
            --dnn "$DNN" --path-pt "$PATH_PT" --output-dir "$OUT_DIR" --dataset-label "$DATASET_LABEL")
    acc=()
    if [ -n "$DATA_DIR" ]; then acc=(--data-path "$DATA_DIR" --image-size "$IMAGE_SIZE"); fi
    lossless_acc=()
    if [ "$LOSSLESS_ACCURACY" = 1 ]; then lossless_acc=("${acc[@]}"); fi
    if [ ! -f "$OUT_DIR/lossless_lr${lr}_n${n}.csv" ]; then
      # shellcheck disable=SC2086
      "$PY" -m dnn_param_encode.eval_lossless "${common[@]}" --method $LOSSLESS_METHODS "${lossless_acc[@]}"
    fi
    if [ ! -f "$OUT_DIR/lossy_lr${lr}_n${n}_metrics.json" ]; then
      # shellcheck disable=SC2086
      "$PY" -m dnn_param_encode.eval_lossy "${common[@]}" --method $LOSSY_METHODS "${acc[@]}"
    fi
  done
done

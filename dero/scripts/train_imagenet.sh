#!/usr/bin/env bash
# The paper's ImageNet runs (README of EMCLab-Sinica/DERO): 8 GPUs, -b 64 per GPU, 90 epochs, AMP.
#   MODEL=resnet50dero DATA_DIR=data/imagenet OUT_DIR=runs/dero NPROC=8 dero/scripts/train_imagenet.sh
# then evaluate: python -m dero.train --model $MODEL --data-path $DATA_DIR -b 64 --test-only --weights $OUT_DIR/$MODEL/model_best.pth
set -euo pipefail
MODEL=${MODEL:-resnet50dero}
DATA_DIR=${DATA_DIR:-data/imagenet}
OUT_DIR=${OUT_DIR:-runs/dero}
NPROC=${NPROC:-8}
EPOCHS=${EPOCHS:-90}
PY=${PY:-.venv/bin/python}
run_dir="$OUT_DIR/$MODEL"
resume=()
if [[ -f "$run_dir/checkpoint.pth" ]]; then resume=(--resume "$run_dir/checkpoint.pth"); fi
"$PY" -m torch.distributed.run --nproc_per_node="$NPROC" -m dero.train --model "$MODEL" --data-path "$DATA_DIR" \
  --amp --output-dir "$run_dir" -b 64 --epochs "$EPOCHS" --wd 0.00004 --random-erase 0.1 --label-smoothing 0.1 \
  --mixup-alpha 0.2 --cutmix-alpha 1.0 "${resume[@]}" "$@"

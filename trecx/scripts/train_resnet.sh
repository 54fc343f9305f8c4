#!/usr/bin/env bash
# Original train_resnet.sh: T-RECX, noEV, SDN and BranchyNet ResNet-8 (+ the plain baseline) on CIFAR-10.
set -euo pipefail
DATA_DIR=${DATA_DIR:-data/cifar-10-batches-py}
OUT_DIR=${OUT_DIR:-runs/trecx/ic}
EPOCHS=${EPOCHS:-500}
PY=${PY:-.venv/bin/python}
train() { "$PY" -m trecx.image_classification.train_resnet --data_dir "$DATA_DIR" --out_dir "$OUT_DIR" --epochs "$EPOCHS" "$@"; }
train --model_architecture resnet_ev --isEV True --isTrecx True --W_aux 0.5 --model_save_name model_with_ev_assist
train --model_architecture resnet_noev --isTrecx True --W_aux 0.5 --model_save_name model_without_ev_assist
train --model_architecture resnet_sdn --model_save_name model_sdn
train --model_architecture resnet_branchynet --model_save_name model_branchynet
train --model_architecture resnet_v1_eembc --model_save_name trainedResnet
"$PY" -m trecx.image_classification.test_resnet --data_dir "$DATA_DIR" --out_dir "$OUT_DIR" --tflite

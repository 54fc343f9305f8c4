#!/usr/bin/env bash
# Original download_speech_cmd_train.sh: T-RECX, noEV, EE-fmaps concat, SDN and BranchyNet DS-CNN (+ the plain
# MLPerf DS-CNN as the reference point) on Speech Commands v0.02, then test_dscnn (Fig4b, Fig6, Fig7b).
set -euo pipefail
DATA_DIR=${DATA_DIR:-data}
OUT_DIR=${OUT_DIR:-runs/trecx/kws}
EPOCHS=${EPOCHS:-36}
PY=${PY:-.venv/bin/python}
train() { "$PY" -m trecx.keyword_spotting.train_dscnn --data_dir "$DATA_DIR" --out_dir "$OUT_DIR" --epochs "$EPOCHS" "$@"; }
train --model_architecture ds_cnn_ev --isTrecx --isEV --model_save_name model_with_ev_assist
train --model_architecture ds_cnn_noev --isTrecx --model_save_name model_without_ev_assist
train --model_architecture ds_cnn_eefmaps_concat --model_save_name model_eefmaps_concat
train --model_architecture ds_cnn_sdn --model_save_name model_sdn
train --model_architecture ds_cnn_branchynet --model_save_name model_branchynet
train --model_architecture ds_cnn --model_save_name kws_ref_model
"$PY" -m trecx.keyword_spotting.test_dscnn --data_dir "$DATA_DIR" --out_dir "$OUT_DIR" --tflite

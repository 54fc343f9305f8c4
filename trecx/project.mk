# trecx: T-RECX early exit (CF'23) on ResNet-8 / CIFAR-10 (IC), DS-CNN / Speech Commands (KWS) and
##@ trecx (T-RECX early exit, CF 2023)
# MobileNetV1-0.25 / VWW. Stages are files: <run>/model.weights.h5 (written last; training resumes from
# last.weights.h5) -> results/metrics.json (+ traces, Fig*.png, two-part int8 TFLite run, TFLite Micro arenas).
# MINI=1 has two schedules (MINI_PROFILE, root Makefile). full (`make demo-full`): the schedules below, T-RECX and
# its plain baseline trained here from scratch. quick (`make demo`): T-RECX alone, its backbone and final classifier
# started from the base model mlperf-tiny's pipeline trains ($(RUN_ROOT)/mlperf/{ic,kws,vww}/*.h5, --init_from_base:
# a demo shortcut, not the paper's recipe), then 1-2 epochs of the joint loss, and tested against that same base
# (--baseline_model), so no base model is trained twice.
TRECX_QUICK := $(and $(filter 1,$(MINI)),$(filter quick,$(MINI_PROFILE)))

# ---- IC: ResNet-8 on CIFAR-10
TRECX_IC_DATA := $(if $(filter 1,$(MINI)),$(MINI_DATA)/cifar-10-batches-py,$(DATA)/cifar-10-batches-py)
TRECX_IC_RUNS := $(RUN_ROOT)/trecx/ic
# MINI=1: the mini CIFAR-10 is 5,000 digit images; with the paper's schedule (lr 1e-3 * 0.99^epoch, hflip) ResNet-8
# needs ~35 epochs (mlperf-ic MINI) to pass 80%. Here: no hflip (flipped digits are other shapes), lr 3e-3 * 0.8^epoch,
# 8 epochs (~84% float, about 2-3.5 min per model on 2 shared cores). Full: the paper's 500 epochs.
# quick: from mlperf-tiny's ResNet-8, 1 epoch at lr 1e-3 (63% final exit; 2 epochs: 63.6%, +58 s CPU; from scratch,
# 3 epochs stayed at chance).
TRECX_IC_EPOCHS := $(if $(TRECX_QUICK),1,$(if $(filter 1,$(MINI)),8,500))
TRECX_IC_EXTRA := $(if $(filter 1,$(MINI)),--learning_rate $(if $(TRECX_QUICK),1e-3,3e-3) --lr_decay 0.8 --no-horizontal_flip,)
TRECX_IC_TRAIN = $(PY) -m trecx.image_classification.train_resnet --data_dir $(TRECX_IC_DATA) --out_dir $(TRECX_IC_RUNS) \
	--epochs $(TRECX_IC_EPOCHS) --seed $(SEED) --verbose 0 $(TRECX_IC_EXTRA)

$(TRECX_IC_RUNS)/model_with_ev_assist/model.weights.h5: $(if $(TRECX_QUICK),$(RUN_ROOT)/mlperf/ic/trainedResnet.h5)
	$(TRECX_IC_TRAIN) --model_architecture resnet_ev --isEV --isTrecx --W_aux 0.5 --model_save_name model_with_ev_assist \
	  $(if $(TRECX_QUICK),--init_from_base $(RUN_ROOT)/mlperf/ic/trainedResnet.h5)
$(TRECX_IC_RUNS)/trainedResnet/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_v1_eembc --model_save_name trainedResnet
$(TRECX_IC_RUNS)/model_without_ev_assist/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_noev --isTrecx --W_aux 0.5 --model_save_name model_without_ev_assist
$(TRECX_IC_RUNS)/model_sdn/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_sdn --model_save_name model_sdn
$(TRECX_IC_RUNS)/model_branchynet/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_branchynet --model_save_name model_branchynet

TRECX_IC_BASE := $(if $(TRECX_QUICK),$(RUN_ROOT)/mlperf/ic/trainedResnet.h5,$(TRECX_IC_RUNS)/trainedResnet/model.weights.h5)
TRECX_IC_CORE := $(TRECX_IC_RUNS)/model_with_ev_assist/model.weights.h5 $(TRECX_IC_BASE)
# The demo trains T-RECX and the plain baseline only; `trecx-ic-train-all` adds the Fig. 4a/7a ablations.
TRECX_IC_ALL := $(TRECX_IC_CORE) $(TRECX_IC_RUNS)/model_without_ev_assist/model.weights.h5 \
	$(TRECX_IC_RUNS)/model_sdn/model.weights.h5 $(TRECX_IC_RUNS)/model_branchynet/model.weights.h5

# ---- KWS: DS-CNN on Speech Commands v0.02 (mlperf_tiny's data pipeline)
TRECX_KWS_DATA := $(if $(filter 1,$(MINI)),$(MINI_DATA),$(DATA))
TRECX_KWS_RUNS := $(RUN_ROOT)/trecx/kws
# MINI=1: 8 epochs at batch 16 (mlperf-kws MINI uses batch 16 so BatchNorm's moving statistics get enough updates
# on the ~1,800 mini clips); full: the paper's 36 epochs at batch 100.
TRECX_KWS_EPOCHS := $(if $(TRECX_QUICK),2,$(if $(filter 1,$(MINI)),8,36))
TRECX_KWS_EXTRA := $(if $(filter 1,$(MINI)),--mini --batch_size 16,)
TRECX_KWS_TRAIN = $(PY) -m trecx.keyword_spotting.train_dscnn --data_dir $(TRECX_KWS_DATA) --out_dir $(TRECX_KWS_RUNS) \
	--epochs $(TRECX_KWS_EPOCHS) --seed $(SEED) --verbose 0 $(TRECX_KWS_EXTRA)

$(TRECX_KWS_RUNS)/model_with_ev_assist/model.weights.h5: $(if $(TRECX_QUICK),$(RUN_ROOT)/mlperf/kws/kws_ref_model.h5)
	$(TRECX_KWS_TRAIN) --model_architecture ds_cnn_ev --isTrecx --isEV --model_save_name model_with_ev_assist \
	  $(if $(TRECX_QUICK),--init_from_base $(RUN_ROOT)/mlperf/kws/kws_ref_model.h5)
$(TRECX_KWS_RUNS)/kws_ref_model/model.weights.h5:
	$(TRECX_KWS_TRAIN) --model_architecture ds_cnn --model_save_name kws_ref_model
$(TRECX_KWS_RUNS)/model_without_ev_assist/model.weights.h5:
	$(TRECX_KWS_TRAIN) --model_architecture ds_cnn_noev --isTrecx --model_save_name model_without_ev_assist
$(TRECX_KWS_RUNS)/model_eefmaps_concat/model.weights.h5:
	$(TRECX_KWS_TRAIN) --model_architecture ds_cnn_eefmaps_concat --model_save_name model_eefmaps_concat
$(TRECX_KWS_RUNS)/model_sdn/model.weights.h5:
	$(TRECX_KWS_TRAIN) --model_architecture ds_cnn_sdn --model_save_name model_sdn
$(TRECX_KWS_RUNS)/model_branchynet/model.weights.h5:
	$(TRECX_KWS_TRAIN) --model_architecture ds_cnn_branchynet --model_save_name model_branchynet

TRECX_KWS_BASE := $(if $(TRECX_QUICK),$(RUN_ROOT)/mlperf/kws/kws_ref_model.h5,$(TRECX_KWS_RUNS)/kws_ref_model/model.weights.h5)
TRECX_KWS_CORE := $(TRECX_KWS_RUNS)/model_with_ev_assist/model.weights.h5 $(TRECX_KWS_BASE)
TRECX_KWS_ALL := $(TRECX_KWS_CORE) $(foreach m,model_without_ev_assist model_eefmaps_concat model_sdn model_branchynet,\
	$(TRECX_KWS_RUNS)/$(m)/model.weights.h5)

# ---- VWW: MobileNetV1-0.25 on vw_coco2014_96 (mlperf_tiny's generators)
TRECX_VWW_DATA := $(if $(filter 1,$(MINI)),$(MINI_DATA)/vw_coco2014_96,$(DATA)/vw_coco2014_96)
TRECX_VWW_RUNS := $(RUN_ROOT)/trecx/vww
# MINI=1: batch 8 and 4+2+2 epochs, as mlperf-vww MINI (batch 8, 6+3+3): at batch 32 the 900 mini training images
# give only 29 steps per epoch, too few for BatchNorm's moving statistics (momentum 0.99) to settle, and the
# inference-mode model predicts one class (50%). Full: the paper's 20+10+20 at batch 32.
# quick: from mlperf-tiny's MobileNet, one stage of 2 epochs at the last stage's lr 2.5e-4.
TRECX_VWW_STAGES := $(if $(TRECX_QUICK),2 --learning_rates 2.5e-4,$(if $(filter 1,$(MINI)),4 2 2,20 10 20))
TRECX_VWW_EXTRA := $(if $(filter 1,$(MINI)),--batch_size 8,)
TRECX_VWW_TRAIN = $(PY) -m trecx.visual_wake_words.train_mobnet --data_dir $(TRECX_VWW_DATA) --out_dir $(TRECX_VWW_RUNS) \
	--epochs_per_stage $(TRECX_VWW_STAGES) --seed $(SEED) --verbose 0 $(TRECX_VWW_EXTRA)

$(TRECX_VWW_RUNS)/model_with_ev_assist/model.weights.h5: $(if $(TRECX_QUICK),$(RUN_ROOT)/mlperf/vww/vww_96.h5)
	$(TRECX_VWW_TRAIN) model_with_ev_assist mobnet_ev $(if $(TRECX_QUICK),--init_from_base $(RUN_ROOT)/mlperf/vww/vww_96.h5)
$(TRECX_VWW_RUNS)/vww_96/model.weights.h5:
	$(TRECX_VWW_TRAIN) vww_96 mobilenet_v1
$(TRECX_VWW_RUNS)/model_without_ev_assist/model.weights.h5:
	$(TRECX_VWW_TRAIN) model_without_ev_assist mobnet_noev

TRECX_VWW_BASE := $(if $(TRECX_QUICK),$(RUN_ROOT)/mlperf/vww/vww_96.h5,$(TRECX_VWW_RUNS)/vww_96/model.weights.h5)
TRECX_VWW_CORE := $(TRECX_VWW_RUNS)/model_with_ev_assist/model.weights.h5 $(TRECX_VWW_BASE)
TRECX_VWW_ALL := $(TRECX_VWW_CORE) $(TRECX_VWW_RUNS)/model_without_ev_assist/model.weights.h5

.PHONY: trecx-ic-train trecx-ic-train-all trecx-ic-test trecx-kws-train trecx-kws-train-all trecx-kws-test \
	trecx-vww-train trecx-vww-train-all trecx-vww-test trecx-train trecx-test trecx-curves-golden
trecx-ic-train: $(TRECX_IC_CORE) ## T-RECX ResNet-8 + plain baseline on CIFAR-10 (MINI=1: mini data, 8 epochs)
trecx-ic-train-all: $(TRECX_IC_ALL) ## ...plus noEV, SDN and BranchyNet (Fig. 4a / 7a)
trecx-ic-test: $(TRECX_IC_RUNS)/results/metrics.json ## IC: evaluate, traces, curves, trade-offs, Fig4a/Fig7a PNGs, int8 two-part TFLite run + TFLite Micro arenas
$(TRECX_IC_RUNS)/results/metrics.json: $(TRECX_IC_CORE)
	$(PY) -m trecx.image_classification.test_resnet --data_dir $(TRECX_IC_DATA) --out_dir $(TRECX_IC_RUNS) --tflite \
	  $(if $(TRECX_QUICK),--baseline_model $(TRECX_IC_BASE),)
trecx-kws-train: $(TRECX_KWS_CORE) ## T-RECX DS-CNN + plain DS-CNN on Speech Commands (MINI=1: mini data, 8 epochs)
trecx-kws-train-all: $(TRECX_KWS_ALL) ## ...plus noEV, EE-fmaps concat, SDN and BranchyNet (Fig. 4b / 6 / 7b)
trecx-kws-test: $(TRECX_KWS_RUNS)/results/metrics.json ## KWS: evaluate, traces, curves, trade-offs, Fig4b/Fig6/Fig7b PNGs, int8 two-part TFLite run + TFLite Micro arenas
$(TRECX_KWS_RUNS)/results/metrics.json: $(TRECX_KWS_CORE)
	$(PY) -m trecx.keyword_spotting.test_dscnn --data_dir $(TRECX_KWS_DATA) --out_dir $(TRECX_KWS_RUNS) --tflite \
	  $(if $(filter 1,$(MINI)),--mini,) $(if $(TRECX_QUICK),--baseline_model $(TRECX_KWS_BASE),)
trecx-vww-train: $(TRECX_VWW_CORE) ## T-RECX MobileNetV1-0.25 + plain MobileNet on VWW (MINI=1: mini data, batch 8, 4+2+2 epochs)
trecx-vww-train-all: $(TRECX_VWW_ALL) ## ...plus noEV (Fig. 4c)
trecx-vww-test: $(TRECX_VWW_RUNS)/results/metrics.json ## VWW: evaluate, traces, curves, trade-offs, Fig4c PNG, int8 two-part TFLite run + TFLite Micro arenas
$(TRECX_VWW_RUNS)/results/metrics.json: $(TRECX_VWW_CORE)
	$(PY) -m trecx.visual_wake_words.test_mobnet --data_dir $(TRECX_VWW_DATA) --split validation --out_dir $(TRECX_VWW_RUNS) \
	  --tflite $(if $(TRECX_QUICK),--baseline_model $(TRECX_VWW_BASE),)
trecx-train: trecx-ic-train trecx-kws-train trecx-vww-train ## Train T-RECX + baseline of every task
trecx-test: trecx-ic-test trecx-kws-test trecx-vww-test ## Test every task (traces, curves, figures, TFLite)
trecx-curves-golden: ## Benefit curve of the original repo's ResNet-8 traces (../shared/golden/trecx_traces)
	$(PY) -m trecx.curves --traces ../shared/golden/trecx_traces --name with_ev_assist --macs-ee 5723136 \
	  --macs-final 13070976 --baseline-accuracy 87.2 --baseline-macs 12501632 \
	  --json $(RUN_ROOT)/trecx/golden/curve.json --plot $(RUN_ROOT)/trecx/golden/curve.png

DEMO_TARGETS += trecx-test
# In `make demo`, after the mlperf-tiny targets that train its quick starting points.
DEMO_AFTER_trecx-test := mlperf-ic mlperf-kws mlperf-vww

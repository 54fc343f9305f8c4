# trecx: T-RECX early exit (CF'23). IC (ResNet-8 / CIFAR-10) pipeline; KWS/VWW models are built, scripts pending.
TRECX_IC_DATA := $(if $(filter 1,$(MINI)),$(MINI_DATA)/cifar-10-batches-py,$(DATA)/cifar-10-batches-py)
TRECX_IC_RUNS := $(RUN_ROOT)/trecx/ic
# MINI=1: 6 epochs on the 5,000 mini images (about 2.5 min per model on 2 cores); full: the paper's 500.
TRECX_IC_EPOCHS := $(if $(filter 1,$(MINI)),6,500)
TRECX_IC_TRAIN = $(PY) -m trecx.image_classification.train_resnet --data_dir $(TRECX_IC_DATA) --out_dir $(TRECX_IC_RUNS) \
	--epochs $(TRECX_IC_EPOCHS) --seed $(SEED) --verbose 0

$(TRECX_IC_RUNS)/model_with_ev_assist/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_ev --isEV --isTrecx --W_aux 0.5 --model_save_name model_with_ev_assist
$(TRECX_IC_RUNS)/trainedResnet/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_v1_eembc --model_save_name trainedResnet
$(TRECX_IC_RUNS)/model_without_ev_assist/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_noev --isTrecx --W_aux 0.5 --model_save_name model_without_ev_assist
$(TRECX_IC_RUNS)/model_sdn/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_sdn --model_save_name model_sdn
$(TRECX_IC_RUNS)/model_branchynet/model.weights.h5:
	$(TRECX_IC_TRAIN) --model_architecture resnet_branchynet --model_save_name model_branchynet

TRECX_IC_CORE := $(TRECX_IC_RUNS)/model_with_ev_assist/model.weights.h5 $(TRECX_IC_RUNS)/trainedResnet/model.weights.h5
# The demo trains T-RECX and the plain baseline only; `trecx-ic-train-all` adds the Fig. 4a/7a ablations.
TRECX_IC_ALL := $(TRECX_IC_CORE) $(TRECX_IC_RUNS)/model_without_ev_assist/model.weights.h5 \
	$(TRECX_IC_RUNS)/model_sdn/model.weights.h5 $(TRECX_IC_RUNS)/model_branchynet/model.weights.h5

.PHONY: trecx-ic-train trecx-ic-train-all trecx-ic-test trecx-train trecx-test trecx-curves-golden
trecx-ic-train: $(TRECX_IC_CORE) ## T-RECX ResNet-8 + plain baseline on CIFAR-10 (MINI=1: mini data, 6 epochs)
trecx-ic-train-all: $(TRECX_IC_ALL) ## ...plus noEV, SDN and BranchyNet (Fig. 4a / 7a)
trecx-ic-test: trecx-ic-train ## Evaluate, write traces, curves, trade-offs, Fig4a/Fig7a PNGs and the int8 two-part TFLite run
	$(PY) -m trecx.image_classification.test_resnet --data_dir $(TRECX_IC_DATA) --out_dir $(TRECX_IC_RUNS) --tflite
trecx-train: trecx-ic-train ## Train every trecx task (IC only so far)
trecx-test: trecx-ic-test ## Test every trecx task (IC only so far)
trecx-curves-golden: ## Benefit curve of the original repo's ResNet-8 traces (../shared/golden/trecx_traces)
	$(PY) -m trecx.curves --traces ../shared/golden/trecx_traces --name with_ev_assist --macs-ee 5723136 \
	  --macs-final 13070976 --baseline-accuracy 87.2 --baseline-macs 12501632 \
	  --json $(RUN_ROOT)/trecx/golden/curve.json --plot $(RUN_ROOT)/trecx/golden/curve.png

DEMO_TARGETS += trecx-ic-test

# dero: DERO (Deep Reorganization, DAC 2024). Included by the root Makefile.
#   make dero-resnet34 [BASELINE=1 | PLAIN=1] [MINI=1] [NPROC=8]   train -> evaluate -> plot
#   make dero-peak-memory                                            params + peak memory table
# Stages are files: <run>/train.done (training finished; an interrupted run resumes from checkpoint.pth),
# <run>/eval.json (top-1/top-5 of model_best.pth), $(DERO_RUNS)/plots/<family>.png/.md.

DERO_RUNS := $(RUN_ROOT)/dero
# The paper's recipe (README): the torchvision defaults plus these flags, -b 64 per GPU on 8 GPUs, AMP.
DERO_RECIPE := --wd 0.00004 --random-erase 0.1 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0
ifeq ($(MINI),1)
DERO_DATA := $(MINI_DATA)/imagenet
DERO_DATA_READY := $(MINI_DATA)/.complete
DERO_EPOCHS ?= 4
# 64x64 mini images: train/eval at 64; cosine schedule so a few epochs still anneal; no AMP on CPU.
DERO_SIZE_ARGS := --train-crop-size 64 --val-resize-size 64 --val-crop-size 64
DERO_TRAIN_ARGS := -b 32 --lr 0.05 --lr-scheduler cosineannealinglr -j 2 --print-freq 20 --dataset-name mini \
	$(DERO_RECIPE) $(DERO_SIZE_ARGS)
DERO_EVAL_ARGS := -b 64 -j 2 --dataset-name mini $(DERO_SIZE_ARGS)
else
DERO_DATA := $(DATA)/imagenet
DERO_DATA_READY := $(RUNS)/dero/.imagenet-checked
DERO_EPOCHS ?= 90
DERO_TRAIN_ARGS := -b 64 --amp $(DERO_RECIPE)
DERO_EVAL_ARGS := -b 64
endif
ifeq ($(NPROC),1)
DERO_LAUNCH := $(PY)
else
DERO_LAUNCH := $(VENV)/bin/torchrun --nproc_per_node=$(NPROC)
endif

# Variant picked by BASELINE=1 (original) / PLAIN=1 (residuals removed); DERO otherwise.
dero_pick = $(if $(filter 1,$(BASELINE)),$(1),$(if $(filter 1,$(PLAIN)),$(2),$(3)))
DERO_MODEL_resnet34 := $(call dero_pick,resnet34,resnet34plain,resnet34dero)
DERO_MODEL_resnet50 := $(call dero_pick,resnet50,resnet50plain,resnet50dero)
DERO_MODEL_mcunet := $(call dero_pick,mcunet_v4,mcunet_plain_v4,mcunet_dero_v4)
DERO_MODEL_densenet121 := $(call dero_pick,densenet121,densenet121_plain,densenet121_dero)
DERO_MODEL_resnet18 := $(call dero_pick,resnet18,resnet18plain,resnet18dero)

##@ dero (DERO, DAC 2024)
.PHONY: dero-resnet34 dero-resnet50 dero-mcunet dero-densenet121 dero-resnet18 dero-peak-memory dero-imagenet \
	dero-compare-mini dero-test
dero-resnet34: $(DERO_RUNS)/$(DERO_MODEL_resnet34)/eval.json ## DERO ResNet-34: train, eval, plot (BASELINE=1/PLAIN=1 for the others)
	$(PY) -m dero.plot --family resnet34 --runs-root $(DERO_RUNS) --output-dir $(DERO_RUNS)/plots
dero-resnet50: $(DERO_RUNS)/$(DERO_MODEL_resnet50)/eval.json ## DERO ResNet-50: train, eval, plot
	$(PY) -m dero.plot --family resnet50 --runs-root $(DERO_RUNS) --output-dir $(DERO_RUNS)/plots
dero-mcunet: $(DERO_RUNS)/$(DERO_MODEL_mcunet)/eval.json ## DERO MCUNet (mcunet_dero_v4): train, eval, plot
	$(PY) -m dero.plot --family mcunet --runs-root $(DERO_RUNS) --output-dir $(DERO_RUNS)/plots
dero-densenet121: $(DERO_RUNS)/$(DERO_MODEL_densenet121)/eval.json ## DERO DenseNet-121: train, eval, plot
	$(PY) -m dero.plot --family densenet121 --runs-root $(DERO_RUNS) --output-dir $(DERO_RUNS)/plots
dero-resnet18: $(DERO_RUNS)/$(DERO_MODEL_resnet18)/eval.json ## DERO ResNet-18 (not in the paper; quick check)
	$(PY) -m dero.plot --family resnet18 --runs-root $(DERO_RUNS) --output-dir $(DERO_RUNS)/plots

dero-peak-memory: ## Params + peak memory (int8 KB) of original/plain/DERO, MCUNet @176, ResNets/DenseNet @112,224
	$(PY) -m dero.plot --peak-memory-table --output-dir $(DERO_RUNS)/plots

dero-imagenet: $(RUNS)/dero/.imagenet-checked ## Check $(DATA)/imagenet (ImageFolder) and explain how to get it

dero-compare-mini: ## Mini data: original vs plain vs DERO ResNet-18, fixed seeds (report in dero/README.md)
	$(MAKE) --no-print-directory MINI=1 DERO_EPOCHS=$(or $(COMPARE_EPOCHS),6) dero-resnet18 BASELINE=1
	$(MAKE) --no-print-directory MINI=1 DERO_EPOCHS=$(or $(COMPARE_EPOCHS),6) dero-resnet18 PLAIN=1
	$(MAKE) --no-print-directory MINI=1 DERO_EPOCHS=$(or $(COMPARE_EPOCHS),6) dero-resnet18

dero-test: ## dero's fast test suite
	$(PY) -m pytest dero/tests $(PYTEST_ARGS)

$(RUNS)/dero/.imagenet-checked:
	$(PY) -m dero.prepare_imagenet --data-path $(DATA)/imagenet
	@mkdir -p $(@D) && touch $@

# Keep the stage markers: make would delete them as intermediates of the eval.json pattern rule.
.PRECIOUS: $(DERO_RUNS)/%/train.done
$(DERO_RUNS)/%/train.done: | $(DERO_DATA_READY)
	$(DERO_LAUNCH) -m dero.train --model $* --data-path $(DERO_DATA) --output-dir $(@D) --epochs $(DERO_EPOCHS) \
		--seed $(SEED) $(DERO_TRAIN_ARGS) $(if $(wildcard $(@D)/checkpoint.pth),--resume $(@D)/checkpoint.pth)
	touch $@

$(DERO_RUNS)/%/eval.json: $(DERO_RUNS)/%/train.done
	$(PY) -m dero.train --model $* --data-path $(DERO_DATA) --test-only --weights $(@D)/model_best.pth \
		--output-dir $(@D) $(DERO_EVAL_ARGS)

DEMO_TARGETS += dero-mcunet dero-resnet34 dero-peak-memory
BENCH_TARGETS += dero-peak-memory

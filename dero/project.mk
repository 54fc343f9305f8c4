# dero: DERO (Deep Reorganization, DAC 2024). Included by the root Makefile.
#   make dero-resnet34 [BASELINE=1 | PLAIN=1] [MINI=1] [NPROC=8]   train -> evaluate -> plot
#   make dero-peak-memory                                            params + peak memory table (both schedules)
#   make dero-yolov5n [BASELINE=1 | PLAIN=1] [MINI=1] [NPROC=8]      COCO: train -> mAP (pycocotools) -> plot
# Stages are files: <run>/train.done (training finished; an interrupted run resumes from checkpoint.pth),
# <run>/eval.json (top-1/top-5 of model_best.pth), $(DERO_RUNS)/plots/<family>.png (+ .md/.json; redrawn only
# when an eval.json of the family changed), $(DERO_RUNS)/plots/peak_memory.md.
# MINI=1 has two schedules (MINI_PROFILE, root Makefile): quick (`make demo`, runs/mini) and full
# (`make demo-full`, runs/mini-full).

DERO_RUNS := $(RUN_ROOT)/dero
# The paper's recipe (README): the torchvision defaults plus these flags, -b 64 per GPU on 8 GPUs, AMP.
DERO_RECIPE := --wd 0.00004 --random-erase 0.1 --label-smoothing 0.1 --mixup-alpha 0.2 --cutmix-alpha 1.0
ifeq ($(MINI),1)
DERO_DATA := $(MINI_DATA)/imagenet
DERO_DATA_READY := $(MINI_DATA)/.complete
ifeq ($(MINI_PROFILE),quick)
DERO_EPOCHS ?= 2
else
DERO_EPOCHS ?= 4
endif
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

# Each family's (original, plain, DERO) registry names, as dero.plot's FAMILIES; the variant trained is picked by
# BASELINE=1 (original) / PLAIN=1 (residuals removed), DERO otherwise.
DERO_FAMILY_resnet18 := resnet18 resnet18plain resnet18dero
DERO_FAMILY_resnet34 := resnet34 resnet34plain resnet34dero
DERO_FAMILY_resnet50 := resnet50 resnet50plain resnet50dero
DERO_FAMILY_mcunet := mcunet_v4 mcunet_plain_v4 mcunet_dero_v4
DERO_FAMILY_densenet121 := densenet121 densenet121_plain densenet121_dero
DERO_FAMILY_yolov5n := yolov5n yolov5n_plain yolov5n_dero
dero_pick = $(word $(if $(filter 1,$(BASELINE)),1,$(if $(filter 1,$(PLAIN)),2,3)),$(DERO_FAMILY_$(1)))
$(foreach f,resnet18 resnet34 resnet50 mcunet densenet121 yolov5n,$(eval DERO_MODEL_$(f) := $(call dero_pick,$(f))))

# YOLOv5n on COCO 2017 (yolov5 7.0.x recipe). The optional YOLO packages (yolov5, AGPL-3.0) install on demand.
DERO_YOLO_STAMP := $(VENV)/.stamp-dero-yolo
DERO_YOLO_RUNS := $(DERO_RUNS)/yolo
ifeq ($(MINI),1)
DERO_COCO := $(MINI_DATA)/coco
DERO_COCO_READY := $(MINI_DATA)/coco/.complete
# quick: 8 epochs (only param-encode-yolov5n trains it in `make demo`: a pipeline check, the model barely detects);
# full: 40 epochs, where it learns to detect.
ifeq ($(MINI_PROFILE),quick)
DERO_YOLO_EPOCHS ?= 8
else
DERO_YOLO_EPOCHS ?= 40
endif
# The mini recipe (both profiles; README): 160 px mini images at 128, batch 16 and one optimizer step per batch
# (4 per epoch), AdamW lr 0.002, 4 warmup steps, no mosaic (dero/yolo/hyp.mini.yaml); every epoch kept for the
# parameter coder, exact resume.
DERO_YOLO_ARGS := --imgsz 128 --batch-size 16 --nominal-batch-size 16 --warmup-min-iters 0 --optimizer AdamW \
	--hyp mini --workers 0 --dataset-name mini --print-freq 100
DERO_YOLO_EVAL_ARGS := --imgsz 128 --batch-size 16 --workers 0 --dataset-name mini
else
DERO_COCO := $(DATA)/coco
DERO_COCO_READY := $(RUNS)/dero/.coco-checked
DERO_YOLO_EPOCHS ?= 300
DERO_YOLO_ARGS := --imgsz 640 --batch-size 64
DERO_YOLO_EVAL_ARGS := --imgsz 640 --batch-size 32
endif

##@ dero (DERO, DAC 2024)
DERO_PLOTS := $(DERO_RUNS)/plots
.PHONY: dero-resnet34 dero-resnet50 dero-mcunet dero-densenet121 dero-resnet18 dero-peak-memory dero-imagenet \
	dero-compare-mini dero-test dero-yolov5n dero-yolo-env dero-coco dero-coco-mini
dero-resnet34: $(DERO_PLOTS)/resnet34.png ## DERO ResNet-34: train, eval, plot (BASELINE=1/PLAIN=1 for the others)
dero-resnet50: $(DERO_PLOTS)/resnet50.png ## DERO ResNet-50: train, eval, plot
dero-mcunet: $(DERO_PLOTS)/mcunet.png ## DERO MCUNet (mcunet_dero_v4): train, eval, plot
dero-densenet121: $(DERO_PLOTS)/densenet121.png ## DERO DenseNet-121: train, eval, plot
dero-resnet18: $(DERO_PLOTS)/resnet18.png ## DERO ResNet-18 (not in the paper; quick check)
dero-yolov5n: $(DERO_PLOTS)/yolov5n.png ## YOLOv5n-DERO on COCO: train, mAP (pycocotools), plot (BASELINE=1 yolov5n, PLAIN=1)

# A family's plot (.png written last, after .md/.json) needs the picked variant's eval.json and is redrawn when
# any of the family's eval.json files is newer.
dero_family_runs = $(if $(filter yolov5n,$(1)),$(DERO_YOLO_RUNS),$(DERO_RUNS))
define dero_plot_rule
$(DERO_PLOTS)/$(1).png: $(call dero_family_runs,$(1))/$(DERO_MODEL_$(1))/eval.json \
		$(wildcard $(foreach m,$(DERO_FAMILY_$(1)),$(call dero_family_runs,$(1))/$(m)/eval.json))
	$(PY) -m dero.plot --family $(1) --runs-root $(call dero_family_runs,$(1)) --output-dir $(DERO_PLOTS)
endef
$(foreach f,resnet18 resnet34 resnet50 mcunet densenet121 yolov5n,$(eval $(call dero_plot_rule,$(f))))

dero-peak-memory: $(DERO_PLOTS)/peak_memory.md ## Params + peak memory (int8 KB), faithful and memory-aware schedules, every family
	@cat $<

$(DERO_PLOTS)/peak_memory.md: | $(DERO_YOLO_STAMP)
	$(PY) -m dero.plot --peak-memory-table --output-dir $(DERO_PLOTS) > /dev/null

dero-yolo-env: $(DERO_YOLO_STAMP) ## Install dero's optional YOLO packages (yolov5 7.0.14 + ultralytics, AGPL-3.0; --no-deps)

# `make demo` installs the extra with the rest of its setup (two demo targets use it, and may run at once).
demo: $(DERO_YOLO_STAMP)

# Lead: the root Makefile's `make test` should run dero's YOLO tests too, so it installs the extra.
test: $(DERO_YOLO_STAMP)

$(DERO_YOLO_STAMP): dero/requirements-yolo.txt dero/requirements-yolo-nodeps.txt constraints.txt | $(ENV_STAMP)
	$(PIP) install -r dero/requirements-yolo.txt
	$(PIP) install --no-deps -r dero/requirements-yolo-nodeps.txt
	touch $@

dero-coco: $(RUNS)/dero/.coco-checked ## Download COCO 2017 (md5-checked, ~19 GB) into $(DATA)/coco in yolov5's layout

dero-coco-mini: $(MINI_DATA)/coco/.complete ## Generate the offline mini COCO set (skimage photos + shapes) in $(DATA)/mini/coco

$(RUNS)/dero/.coco-checked: | $(DERO_YOLO_STAMP)
	$(PY) -m dero.yolo.coco --data-path $(DATA)/coco $(if $(wildcard $(DATA)/coco/val2017.txt),,--download)
	@mkdir -p $(@D) && touch $@

# Generating the mini COCO set needs dero (numpy, PIL, scikit-image), not the YOLO packages; `make mini-data`
# builds it with the other mini sets.
$(MINI_DATA)/coco/.complete: | $(if $(wildcard $(MINI_DATA)/coco/.complete),,$(VENV)/.stamp-pkg-dero)
	$(PY) -m dero.yolo.coco --mini --data-path $(MINI_DATA)/coco --seed $(SEED)
MINI_DATA_TARGETS += $(MINI_DATA)/coco/.complete

# Shortest stem wins: yolo/<model> runs use these rules, not the classification ones below.
.PRECIOUS: $(DERO_YOLO_RUNS)/%/train.done
$(DERO_YOLO_RUNS)/%/train.done: | $(DERO_COCO_READY) $(DERO_YOLO_STAMP)
	$(DERO_LAUNCH) -m dero.yolo.train --model $* --data-path $(DERO_COCO) --output-dir $(@D) \
		--epochs $(DERO_YOLO_EPOCHS) --seed $(SEED) --save-period 1 $(DERO_YOLO_ARGS)
	touch $@

$(DERO_YOLO_RUNS)/%/eval.json: $(DERO_YOLO_RUNS)/%/train.done
	$(PY) -m dero.yolo.val --weights $(@D)/best.pt --data-path $(DERO_COCO) --output-dir $(@D) $(DERO_YOLO_EVAL_ARGS)

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

# quick (`make demo`): one DERO model through train -> evaluate -> plot, and the peak-memory table; full
# (`make demo-full`): ResNet-34-DERO and YOLOv5n-DERO too.
ifeq ($(MINI_PROFILE),quick)
DEMO_TARGETS += dero-mcunet dero-peak-memory
else
DEMO_TARGETS += dero-mcunet dero-resnet34 dero-peak-memory dero-yolov5n
endif
BENCH_TARGETS += dero-peak-memory

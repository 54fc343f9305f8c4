# MLPerf Tiny v0.5 visual wake words: MobileNetV1-0.25 on 96x96 person/non-person images.
# Stages are files in $(VWW_RUN): vww_96.h5 -> vww_96_int8.tflite -> tflite_int8_metrics.json (Keras float,
# TFLite float and int8 on the validation split); an interrupted `make mlperf-vww` resumes at the first missing one.
VWW_RUN := $(RUN_ROOT)/mlperf/vww
ifeq ($(MINI),1)
VWW_DATA := $(MINI_DATA)/vw_coco2014_96
VWW_DATA_STAMP := $(MINI_DATA)/.complete
# Reduced three-stage schedule for the mini data (reference: 20 10 20 epochs at 1e-3, 5e-4, 2.5e-4, batch 32).
# Batch 8: the 900 mini training images give only 29 steps per epoch at batch 32, too few for the BN moving
# averages (momentum 0.99) to forget their initial values, and the inference-mode model then outputs a constant.
# MINI_PROFILE=quick (`make demo`): 5+2+1 epochs, just past the epoch where the moving statistics settle (the
# validation accuracy leaves 50% after ~6 epochs).
ifeq ($(MINI_PROFILE),quick)
VWW_EPOCHS_PER_STAGE ?= 5 2 1
else
VWW_EPOCHS_PER_STAGE ?= 6 3 3
endif
VWW_MINI_ARGS := --batch_size 8
else
VWW_DATA := $(DATA)/vw_coco2014_96
VWW_DATA_STAMP := $(DATA)/.complete-vww
VWW_EPOCHS_PER_STAGE ?= 20 10 20
VWW_MINI_ARGS :=
endif
VWW_ARGS ?=

.PHONY: mlperf-vww mlperf-vww-data
mlperf-vww: $(VWW_RUN)/tflite_int8_metrics.json ## MLPerf Tiny VWW: MobileNetV1-0.25, train -> int8 TFLite -> EEMBC eval -> plots
	@$(PY) -c "import json; m = json.load(open('$(VWW_RUN)/metrics.json')); print('mlperf-vww ($(VWW_RUN)):', ', '.join(f'{k} {m[k][\"accuracy\"]:.2f}% (AUC {m[k][\"auc\"]:.3f})' for k in ('keras_float', 'tflite_float', 'tflite_int8')))"

mlperf-vww-data: $(VWW_DATA_STAMP) ## Download the MLPerf VWW images (Silicon Labs vw_coco2014_96.tar.gz) into $(DATA)

$(DATA)/.complete-vww:
	$(PY) -m mlperf_tiny.download vww --data_dir $(DATA)

$(VWW_RUN)/vww_96.h5: | $(VWW_DATA_STAMP)
	$(PY) -m mlperf_tiny.visual_wake_words.train_vww --data_dir $(VWW_DATA) --out_dir $(VWW_RUN) --epochs_per_stage $(VWW_EPOCHS_PER_STAGE) --seed $(SEED) $(VWW_MINI_ARGS) $(VWW_ARGS)

$(VWW_RUN)/vww_96_int8.tflite: $(VWW_RUN)/vww_96.h5
	$(PY) -m mlperf_tiny.visual_wake_words.convert_vww $< --data_dir $(VWW_DATA)

$(VWW_RUN)/tflite_int8_metrics.json: $(VWW_RUN)/vww_96_int8.tflite
	$(PY) -m mlperf_tiny.visual_wake_words.test_vww $(VWW_RUN)/vww_96.h5 --data_dir $(VWW_DATA) --out_dir $(VWW_RUN) --no_progress

DEMO_TARGETS += mlperf-vww

# Keyword spotting (MLPerf Tiny v0.5 KWS): DS-CNN on Speech Commands v0.02.
# Stages are files: model.h5 -> int8 .tflite -> float/int8 test metrics (+ PNGs); an interrupted run resumes.
KWS_DIR := $(RUN_ROOT)/mlperf/kws
ifeq ($(MINI),1)
KWS_DATA := $(MINI_DATA)
KWS_DATA_STAMP := $(MINI_DATA)/.complete
# The mini set is ~50x smaller than Speech Commands: 12 epochs (the first LR step) and batch 16 instead of 100,
# so BatchNorm's moving statistics (momentum 0.99) see ~1,300 updates; with batch 100 they stay near their
# initial values and inference-mode accuracy collapses.
# MINI_PROFILE=quick (`make demo`): 8 epochs; the moving statistics have settled by then (validation accuracy
# reaches ~0.9 from epoch 6 on).
ifeq ($(MINI_PROFILE),quick)
KWS_EPOCHS ?= 8
else
KWS_EPOCHS ?= 12
endif
KWS_EXTRA := --mini --batch_size 16
else
KWS_DATA := $(DATA)
KWS_DATA_STAMP := $(DATA)/.complete-speech_commands
KWS_EPOCHS ?= 30
KWS_EXTRA :=
endif
KWS_ARGS = --data_dir $(KWS_DATA) --saved_model_path $(KWS_DIR)/kws_ref_model.h5 \
	--tfl_file_name $(KWS_DIR)/kws_ref_model.tflite --seed $(SEED) $(KWS_EXTRA)

.PHONY: mlperf-kws mlperf-kws-data
mlperf-kws: $(KWS_DIR)/float_test_metrics.json $(KWS_DIR)/int8_test_metrics.json ## MLPerf Tiny KWS: train DS-CNN, int8-quantize, evaluate float+int8 (MINI=1: mini data)
	@$(PY) -c "import json; m = json.load(open('$(KWS_DIR)/metrics.json')); print('KWS test accuracy: float %.2f%%, int8 %.2f%% ($(KWS_DIR))' % (m['float_test']['accuracy'], m['int8_test']['accuracy']))"

mlperf-kws-data: $(DATA)/.complete-speech_commands ## Download + extract Speech Commands v0.02 and its test set (2.5 GB)

$(DATA)/.complete-speech_commands:
	$(PY) -m mlperf_tiny.download speech_commands --data_dir $(DATA)

$(KWS_DIR)/kws_ref_model.h5: | $(KWS_DATA_STAMP)
	$(PY) -m mlperf_tiny.keyword_spotting.train $(KWS_ARGS) --epochs $(KWS_EPOCHS)

$(KWS_DIR)/kws_ref_model.tflite: $(KWS_DIR)/kws_ref_model.h5
	$(PY) -m mlperf_tiny.keyword_spotting.quantize $(KWS_ARGS)

# Order-only on the float stage: both merge into metrics.json (read-modify-write), so never run them in parallel (-j).
$(KWS_DIR)/int8_test_metrics.json: $(KWS_DIR)/kws_ref_model.tflite | $(KWS_DIR)/float_test_metrics.json
	$(PY) -m mlperf_tiny.keyword_spotting.eval_quantized_model $(KWS_ARGS) --target_set test --out_dir $(KWS_DIR)

$(KWS_DIR)/float_test_metrics.json: $(KWS_DIR)/kws_ref_model.h5
	$(PY) -m mlperf_tiny.keyword_spotting.evaluate $(KWS_ARGS) --target_set test --out_dir $(KWS_DIR)

DEMO_TARGETS += mlperf-kws

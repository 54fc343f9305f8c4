# Keyword spotting (MLPerf Tiny v0.5 KWS): DS-CNN on Speech Commands v0.02.
# Stages are files: model.h5 -> int8 .tflite -> float/int8 test metrics (+ PNGs); an interrupted run resumes.
KWS_DIR := $(RUN_ROOT)/mlperf/kws
ifeq ($(MINI),1)
KWS_DATA := $(MINI_DATA)
KWS_DATA_STAMP := $(MINI_DATA)/.complete
# The mini set is ~100x smaller than Speech Commands: more epochs at the first LR step of the schedule.
KWS_EPOCHS ?= 12
KWS_EXTRA := --mini
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

$(KWS_DIR)/int8_test_metrics.json: $(KWS_DIR)/kws_ref_model.tflite
	$(PY) -m mlperf_tiny.keyword_spotting.eval_quantized_model $(KWS_ARGS) --target_set test

$(KWS_DIR)/float_test_metrics.json: $(KWS_DIR)/kws_ref_model.h5
	$(PY) -m mlperf_tiny.keyword_spotting.evaluate $(KWS_ARGS) --target_set test

DEMO_TARGETS += mlperf-kws

# MLPerf Tiny v0.5 image classification: ResNet-8 on CIFAR-10.
# Stages are files in $(IC_RUN): trainedResnet.h5 -> keras_float_metrics.json, trainedResnet_quant.tflite
# -> tflite_int8_metrics.json (+ perf samples); an interrupted `make mlperf-ic` resumes at the first missing one
# (training itself resumes from last.weights.h5).
IC_RUN := $(RUN_ROOT)/mlperf/ic
ifeq ($(MINI),1)
IC_DATA := $(MINI_DATA)/cifar-10-batches-py
IC_DATA_STAMP := $(MINI_DATA)/.complete
# Reduced schedule for the mini data (same recipe, lr decay per epoch unchanged).
# MINI_PROFILE=quick (`make demo`): 8 epochs (every stage runs; the accuracy is far below the 35-epoch figure, and no
# other pipeline starts from this model).
ifeq ($(MINI_PROFILE),quick)
IC_EPOCHS ?= 8
else
IC_EPOCHS ?= 35
endif
else
IC_DATA := $(DATA)/cifar-10-batches-py
IC_DATA_STAMP := $(DATA)/.complete-cifar10
IC_EPOCHS ?= 500
endif
IC_ARGS ?=

.PHONY: mlperf-ic mlperf-ic-data
mlperf-ic: $(IC_RUN)/keras_float_metrics.json $(IC_RUN)/tflite_int8_metrics.json $(IC_RUN)/y_labels.csv ## MLPerf Tiny IC: ResNet-8 on CIFAR-10, train -> int8 TFLite -> EEMBC eval -> plots
	@$(PY) -c "import json; m = json.load(open('$(IC_RUN)/metrics.json')); print('mlperf-ic ($(IC_RUN)):', ', '.join(f'{k} {m[k][\"accuracy\"]:.2f}% (AUC {m[k][\"auc\"]:.3f})' for k in ('keras_float', 'tflite_float', 'tflite_int8')))"

mlperf-ic-data: $(IC_DATA_STAMP) ## Download CIFAR-10 (python pickles, md5-checked) into $(DATA)

$(DATA)/.complete-cifar10:
	$(PY) -m mlperf_tiny.download cifar10 --data_dir $(DATA)

$(IC_RUN)/trainedResnet.h5: | $(IC_DATA_STAMP)
	$(PY) -m mlperf_tiny.image_classification.train --data_dir $(IC_DATA) --out_dir $(IC_RUN) --epochs $(IC_EPOCHS) --seed $(SEED) $(IC_ARGS)

$(IC_RUN)/keras_float_metrics.json: $(IC_RUN)/trainedResnet.h5
	$(PY) -m mlperf_tiny.image_classification.test --model_path $< --data_dir $(IC_DATA) --out_dir $(IC_RUN)

$(IC_RUN)/trainedResnet_quant.tflite: $(IC_RUN)/trainedResnet.h5
	$(PY) -m mlperf_tiny.image_classification.model_converter --model_path $< --data_dir $(IC_DATA)

$(IC_RUN)/tflite_int8_metrics.json: $(IC_RUN)/trainedResnet_quant.tflite
	$(PY) -m mlperf_tiny.image_classification.tflite_test --model_path $(IC_RUN)/trainedResnet.h5 --data_dir $(IC_DATA) --out_dir $(IC_RUN) --no_progress

$(IC_RUN)/y_labels.csv: | $(IC_DATA_STAMP)
	$(PY) -m mlperf_tiny.image_classification.perf_samples_loader --data_dir $(IC_DATA) --out_dir $(IC_RUN)/perf_samples

DEMO_TARGETS += mlperf-ic

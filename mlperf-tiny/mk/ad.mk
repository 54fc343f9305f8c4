# Anomaly detection (MLPerf Tiny v0.5 AD): FC autoencoder on ToyADMOS ToyCar (DCASE 2020 Task 2).
# Stages are files: model_ToyCar.hdf5 -> .tflite (float, int8) -> float/int8 metrics JSON + ROC PNGs.
AD_DIR := $(RUN_ROOT)/mlperf/ad
ifeq ($(MINI),1)
AD_DEV := $(MINI_DATA)
AD_DATA_STAMP := $(MINI_DATA)/.complete
# MINI_PROFILE=quick (`make demo`): 20 epochs and int8 calibration on every 25th training vector (784 of the
# 19,600 mini vectors; v0.5's every 5th is the default and the full profile).
ifeq ($(MINI_PROFILE),quick)
AD_EPOCHS ?= 20
AD_CONVERT_ARGS ?= --calibration_stride 25
else
AD_EPOCHS ?= 30
endif
AD_EXTRA := --mini
else
AD_DEV := $(DATA)/dev_data
AD_DATA_STAMP := $(DATA)/.complete-toycar
AD_EPOCHS ?= 100
AD_EXTRA :=
endif
AD_ARGS = --dev --dev_directory $(AD_DEV) --model_directory $(AD_DIR) --result_directory $(AD_DIR) \
	--machine_type ToyCar --seed $(SEED) $(AD_EXTRA)

.PHONY: mlperf-ad mlperf-ad-data
mlperf-ad: $(AD_DIR)/float_ToyCar_metrics.json $(AD_DIR)/int8_ToyCar_metrics.json ## MLPerf Tiny AD: train the autoencoder, convert to int8, per-id AUC/pAUC float+int8 (MINI=1: mini data)
	@$(PY) -c "import json; m = json.load(open('$(AD_DIR)/metrics.json')); print('AD ToyCar mean AUC: float %.4f, int8 %.4f ($(AD_DIR))' % (m['float_ToyCar']['average']['auc'], m['int8_ToyCar']['average']['auc']))"

mlperf-ad-data: $(DATA)/.complete-toycar ## Download + unzip ToyCar dev and extra train data (zenodo)

$(DATA)/.complete-toycar:
	$(PY) -m mlperf_tiny.download toycar --data_dir $(DATA)

$(AD_DIR)/model_ToyCar.hdf5: | $(AD_DATA_STAMP)
	$(PY) -m mlperf_tiny.anomaly_detection.00_train $(AD_ARGS) --epochs $(AD_EPOCHS)

$(AD_DIR)/float_ToyCar_metrics.json: $(AD_DIR)/model_ToyCar.hdf5
	$(PY) -m mlperf_tiny.anomaly_detection.01_test $(AD_ARGS)

$(AD_DIR)/model_ToyCar_quant_fullint_micro_intio.tflite: $(AD_DIR)/model_ToyCar.hdf5
	$(PY) -m mlperf_tiny.anomaly_detection.02_convert $(AD_ARGS) $(AD_CONVERT_ARGS)

# Order-only on the float stage: 01_test and 03_tflite_test both merge into metrics.json; never in parallel (-j).
$(AD_DIR)/int8_ToyCar_metrics.json: $(AD_DIR)/model_ToyCar_quant_fullint_micro_intio.tflite | $(AD_DIR)/float_ToyCar_metrics.json
	$(PY) -m mlperf_tiny.anomaly_detection.03_tflite_test $(AD_ARGS)

DEMO_TARGETS += mlperf-ad

# depth-pruning: depth pruning with auxiliary networks (De Leon & Atienza, ICASSP 2022).
##@ depth-pruning (depth pruning with auxiliary networks, ICASSP 2022)
# Pipeline per task: base model (the mlperf-tiny target's output; trained by its rule when missing) ->
# sweep over cuts (prune -> int8 quantize -> evaluate; resumable per cut) -> sweep.csv/json + plots.
# MINI=1: mini data, a subset of cuts, reduced epochs, aux BN momentum 0.9 (see README).
DP_RUN := $(RUN_ROOT)/depth-pruning
DP_SCRIPTS := depth-pruning/scripts
ifeq ($(MINI),1)
DP_VWW_DATA := $(MINI_DATA)/vw_coco2014_96
DP_KWS_DATA := $(MINI_DATA)
DP_DATA_STAMP := $(MINI_DATA)/.complete
DP_TAILS ?= True
ifeq ($(MINI_PROFILE),quick)
# make demo (<= 2 min for both sweeps on 2 cores, from the mlperf-tiny bases): the paper's headline cut per task,
# the aux head alone (no depth-dense baseline), one short stage. VWW batch 8: 113 steps in the epoch, enough for
# the head's BN statistics (batch 32: 28 steps, constant output).
DP_VWW_CUTS ?= block5
DP_KWS_CUTS ?= block2
DP_DENSE ?= 0
DP_VWW_EPOCHS ?= 1
DP_VWW_EXTRA ?= --learning_rates 1e-3 --batch_size 8
DP_KWS_EPOCHS ?= 2
else
DP_VWW_CUTS ?= conv1 block5
DP_KWS_CUTS ?= conv1 block2
DP_VWW_EPOCHS ?= 2 1 1
DP_KWS_EPOCHS ?= 8
endif
DP_KWS_BASE_EPOCHS ?= 12
DP_EXTRA ?= --aux_bn_momentum 0.9
DP_KWS_EXTRA ?= --mini
# KWS heads on mini data: batch 16 as the mlperf-tiny mini base (batch 100 gives 18 steps per epoch: the heads
# stay at 15-60% accuracy after 8 epochs)
DP_KWS_PRUNE_EXTRA ?= --batch_size 16
# the mlperf-tiny mini KWS recipe's batch size (BN statistics need the updates; see mlperf-tiny/mk/kws.mk)
DP_KWS_BASE_EXTRA ?= --mini --batch_size 16
else
DP_VWW_DATA := $(DATA)/vw_coco2014_96
DP_KWS_DATA := $(DATA)
DP_DATA_STAMP :=
DP_VWW_CUTS ?= conv1 block1 block2 block3 block4 block5 block6 block7 block8 block9 block10 block11 block12 block13
DP_KWS_CUTS ?= conv1 block1 block2 block3 block4
DP_TAILS ?= True False
DP_VWW_EPOCHS ?= 20 10 20
DP_KWS_EPOCHS ?= 30
DP_KWS_BASE_EPOCHS ?= 30
DP_EXTRA ?=
DP_KWS_EXTRA ?=
DP_KWS_BASE_EXTRA ?=
DP_KWS_PRUNE_EXTRA ?=
endif
DP_SEEDS ?= $(SEED)
DP_ENV = PY=$(PY) SEEDS="$(DP_SEEDS)" TAILS="$(DP_TAILS)"
# DP_DENSE=0: the sweeps leave out the depth-dense baseline head
DP_DENSE ?= 1
DP_VWW_EXTRA ?=

.PHONY: depth-pruning-vww depth-pruning-vww-gray depth-pruning-kws depth-pruning-kws-hw depth-pruning-count depth-pruning-report \
	depth-pruning-report-kws depth-pruning-report-vww depth-pruning-vww-mag depth-pruning-kws-mag

depth-pruning-count: ## Depth pruning: params/MACs/FLOPs/int8 size per cut (VWW and KWS; no data needed)
	$(PY) -m depth_pruning.count --task vww --tflite
	$(PY) -m depth_pruning.count --task kws --tflite

# Base models: the mlperf-tiny pipelines' own outputs (rules in mlperf-tiny/mk/vww.mk and mk/kws.mk: VWW_RUN =
# $(RUN_ROOT)/mlperf/vww, KWS_DIR = $(RUN_ROOT)/mlperf/kws). Written out because those fragments are included
# after this one; make trains them with the mlperf recipe when missing and reuses them otherwise.
DP_VWW_BASE := $(RUN_ROOT)/mlperf/vww/vww_96.h5
DP_VWW_BASE_METRICS := $(RUN_ROOT)/mlperf/vww/metrics.json
# KWS MFCC mel bins: 40 (MLPerf's) reuses mlperf-tiny's KWS base; the paper's 10 (DP_KWS_MEL_BINS=10) needs a
# base trained on those features: trained here with mlperf_tiny's recipe and --num_mel_bins.
DP_KWS_MEL_BINS ?= 40
ifeq ($(DP_KWS_MEL_BINS),40)
DP_KWS_BASE := $(RUN_ROOT)/mlperf/kws/kws_ref_model.h5
DP_KWS_BASE_METRICS := $(RUN_ROOT)/mlperf/kws/metrics.json
DP_KWS_BASE_TFLITE := $(RUN_ROOT)/mlperf/kws/kws_ref_model.tflite
else
DP_KWS_BASE := $(DP_RUN)/base/kws_mel$(DP_KWS_MEL_BINS)/kws_ref_model.h5
DP_KWS_BASE_METRICS := $(DP_RUN)/base/kws_mel$(DP_KWS_MEL_BINS)/metrics.json
DP_KWS_BASE_TFLITE :=
$(DP_KWS_BASE): | $(DP_DATA_STAMP)
	$(PY) -m mlperf_tiny.keyword_spotting.train --data_dir $(DP_KWS_DATA) --saved_model_path $@ \
	  --tfl_file_name $(@D)/kws_ref_model.tflite --epochs $(DP_KWS_BASE_EPOCHS) --seed $(SEED) \
	  --num_mel_bins $(DP_KWS_MEL_BINS) $(DP_KWS_BASE_EXTRA)
endif
DP_KWS_EXTRA += --num_mel_bins $(DP_KWS_MEL_BINS)
DP_KWS_SWEEP := $(DP_RUN)/kws$(if $(filter-out 40,$(DP_KWS_MEL_BINS)),_mel$(DP_KWS_MEL_BINS))

# The sweep's TFLite Micro column: each cut's int8 model beside the base's (mlperf-tiny's int8 file).
DP_VWW_BASE_TFLITE := $(RUN_ROOT)/mlperf/vww/vww_96_int8.tflite
$(DP_RUN)/vww/sweep.json: $(DP_VWW_BASE) $(DP_VWW_BASE_TFLITE)
	$(DP_ENV) DATA_DIR=$(DP_VWW_DATA) OUT_DIR=$(@D) BASE_MODEL=$< BASE_METRICS=$(DP_VWW_BASE_METRICS) CUTS="$(DP_VWW_CUTS)" \
	  BASE_TFLITE=$(DP_VWW_BASE_TFLITE) EPOCHS_PER_STAGE="$(DP_VWW_EPOCHS)" EXTRA="$(DP_EXTRA) $(DP_VWW_EXTRA)" \
	  $(DP_SCRIPTS)/prune_vww_mobilenet_aux.sh
	$(if $(filter 1,$(DP_DENSE)),$(DP_ENV) DATA_DIR=$(DP_VWW_DATA) OUT_DIR=$(@D) BASE_MODEL=$< BASE_METRICS=$(DP_VWW_BASE_METRICS) \
	  CUTS="$(DP_VWW_CUTS)" BASE_TFLITE=$(DP_VWW_BASE_TFLITE) EPOCHS_PER_STAGE="$(DP_VWW_EPOCHS)" \
	  EXTRA="$(DP_EXTRA) $(DP_VWW_EXTRA)" $(DP_SCRIPTS)/prune_vww_mobilenet_dense.sh)

depth-pruning-vww: $(DP_RUN)/vww/sweep.json ## Depth pruning VWW: sweep cuts of MobileNetV1-0.25 (aux + dense heads), int8, plots
	@echo "depth-pruning-vww: $(DP_RUN)/vww/{sweep.csv,vww.png,vww_size.png}"

# Grayscale VWW (Pico4ML) base: a 96x96x1 MobileNetV1-0.25 trained, converted to int8 and evaluated with the
# mlperf-tiny VWW recipe (mk/vww.mk's epochs and MINI batch size; those variables are expanded when the recipe
# runs) plus `--color_mode grayscale`, in $(DP_RUN)/base/vww_gray. DP_VWW_GRAY_BASE=<96x96x1 .h5> overrides it
# (then nothing is trained and no base metrics are passed).
DP_VWW_GRAY_DIR := $(DP_RUN)/base/vww_gray
DP_VWW_DATA_STAMP := $(if $(filter 1,$(MINI)),$(MINI_DATA)/.complete,$(DATA)/.complete-vww)
DP_VWW_GRAY_BASE_EXTRA ?=
ifeq ($(origin DP_VWW_GRAY_BASE),undefined)
DP_VWW_GRAY_BASE := $(DP_VWW_GRAY_DIR)/vww_96.h5
DP_VWW_GRAY_DEPS := $(DP_VWW_GRAY_DIR)/tflite_int8_metrics.json
DP_VWW_GRAY_BASE_METRICS := $(DP_VWW_GRAY_DIR)/metrics.json
else
DP_VWW_GRAY_DEPS :=
DP_VWW_GRAY_BASE_METRICS :=
endif

$(DP_VWW_GRAY_DIR)/vww_96.h5: | $(DP_VWW_DATA_STAMP)
	$(PY) -m mlperf_tiny.visual_wake_words.train_vww --color_mode grayscale --data_dir $(DP_VWW_DATA) --out_dir $(@D) \
	  --epochs_per_stage $(VWW_EPOCHS_PER_STAGE) --seed $(SEED) $(VWW_MINI_ARGS) $(DP_VWW_GRAY_BASE_EXTRA)

$(DP_VWW_GRAY_DIR)/vww_96_int8.tflite: $(DP_VWW_GRAY_DIR)/vww_96.h5
	$(PY) -m mlperf_tiny.visual_wake_words.convert_vww $< --data_dir $(DP_VWW_DATA)

$(DP_VWW_GRAY_DIR)/tflite_int8_metrics.json: $(DP_VWW_GRAY_DIR)/vww_96_int8.tflite
	$(PY) -m mlperf_tiny.visual_wake_words.test_vww $(DP_VWW_GRAY_DIR)/vww_96.h5 --data_dir $(DP_VWW_DATA) --no_progress

depth-pruning-vww-gray: $(DP_VWW_GRAY_DEPS) ## Depth pruning VWW grayscale (Pico4ML): trains a 96x96x1 base (or DP_VWW_GRAY_BASE=<.h5>)
	@test -f $(DP_VWW_GRAY_BASE) || { echo "no grayscale base at $(DP_VWW_GRAY_BASE): pass DP_VWW_GRAY_BASE=<96x96x1 MobileNetV1-0.25 .h5>, or leave it unset to train one"; exit 2; }
	$(DP_ENV) DATA_DIR=$(DP_VWW_DATA) OUT_DIR=$(DP_RUN)/vww_gray BASE_MODEL=$(DP_VWW_GRAY_BASE) BASE_METRICS=$(DP_VWW_GRAY_BASE_METRICS) \
	  CUTS="$(DP_VWW_CUTS)" EPOCHS_PER_STAGE="$(DP_VWW_EPOCHS)" EXTRA="$(DP_EXTRA)" $(DP_SCRIPTS)/prune_vww_mobilenet_aux_gray.sh
	@echo "depth-pruning-vww-gray: $(DP_RUN)/vww_gray/{sweep.csv,vww_gray.png}"

$(DP_KWS_SWEEP)/sweep.json: $(DP_KWS_BASE) $(DP_KWS_BASE_TFLITE)
	$(DP_ENV) DATA_DIR=$(DP_KWS_DATA) OUT_DIR=$(@D) BASE_MODEL=$< BASE_METRICS=$(DP_KWS_BASE_METRICS) CUTS="$(DP_KWS_CUTS)" \
	  BASE_TFLITE=$(DP_KWS_BASE_TFLITE) EPOCHS=$(DP_KWS_EPOCHS) EXTRA="$(DP_KWS_EXTRA)" \
	  PRUNE_EXTRA="$(DP_EXTRA) $(DP_KWS_PRUNE_EXTRA)" $(DP_SCRIPTS)/prune_kws_aux_dscnn.sh
	$(if $(filter 1,$(DP_DENSE)),$(DP_ENV) DATA_DIR=$(DP_KWS_DATA) OUT_DIR=$(@D) BASE_MODEL=$< BASE_METRICS=$(DP_KWS_BASE_METRICS) \
	  CUTS="$(DP_KWS_CUTS)" BASE_TFLITE=$(DP_KWS_BASE_TFLITE) EPOCHS=$(DP_KWS_EPOCHS) EXTRA="$(DP_KWS_EXTRA)" \
	  PRUNE_EXTRA="$(DP_EXTRA) $(DP_KWS_PRUNE_EXTRA)" $(DP_SCRIPTS)/prune_kws_aux_dense.sh)

depth-pruning-kws: $(DP_KWS_SWEEP)/sweep.json ## Depth pruning KWS: sweep cuts of DS-CNN (aux + dense heads), int8, plots
	@echo "depth-pruning-kws: $(DP_KWS_SWEEP)/{sweep.csv,kws.png,kws_size.png}"

# Multi-seed report (aux vs dense head, mean and std over seeds) in the demo sweep folders, so the demo's seed-0
# runs are reused; report.md/json beside sweep.csv.
DP_REPORT_SEEDS ?= 0 1 2
DP_KWS_REPORT_CUTS ?= conv1 block2 block4
# MINI=1: the demo's cuts, so its seed-0 runs are reused
DP_VWW_REPORT_CUTS ?= $(if $(filter 1,$(MINI)),$(DP_VWW_CUTS),conv1 block2 block5)
$(DP_KWS_SWEEP)/report.json: $(DP_KWS_BASE) $(DP_KWS_BASE_TFLITE)
	$(DP_ENV) SEEDS="$(DP_REPORT_SEEDS)" QUANTIZE=0 DATA_DIR=$(DP_KWS_DATA) OUT_DIR=$(@D) BASE_MODEL=$< CUTS="$(DP_KWS_REPORT_CUTS)" \
	  EPOCHS=$(DP_KWS_EPOCHS) EXTRA="$(DP_KWS_EXTRA)" PRUNE_EXTRA="$(DP_EXTRA) $(DP_KWS_PRUNE_EXTRA)" $(DP_SCRIPTS)/prune_kws_aux_dscnn.sh
	$(DP_ENV) SEEDS="$(DP_REPORT_SEEDS)" QUANTIZE=0 DATA_DIR=$(DP_KWS_DATA) OUT_DIR=$(@D) BASE_MODEL=$< CUTS="$(DP_KWS_REPORT_CUTS)" \
	  EPOCHS=$(DP_KWS_EPOCHS) EXTRA="$(DP_KWS_EXTRA)" PRUNE_EXTRA="$(DP_EXTRA) $(DP_KWS_PRUNE_EXTRA)" $(DP_SCRIPTS)/prune_kws_aux_dense.sh
	$(PY) -m depth_pruning.report --sweep_dir $(@D) --task kws --base_metrics $(DP_KWS_BASE_METRICS) \
	  $(if $(DP_KWS_BASE_TFLITE),--base_tflite $(DP_KWS_BASE_TFLITE))

$(DP_RUN)/vww/report.json: $(DP_VWW_BASE) $(DP_VWW_BASE_TFLITE)
	$(DP_ENV) SEEDS="$(DP_REPORT_SEEDS)" QUANTIZE=0 DATA_DIR=$(DP_VWW_DATA) OUT_DIR=$(@D) BASE_MODEL=$< CUTS="$(DP_VWW_REPORT_CUTS)" \
	  EPOCHS_PER_STAGE="$(DP_VWW_EPOCHS)" EXTRA="$(DP_EXTRA)" $(DP_SCRIPTS)/prune_vww_mobilenet_aux.sh
	$(DP_ENV) SEEDS="$(DP_REPORT_SEEDS)" QUANTIZE=0 DATA_DIR=$(DP_VWW_DATA) OUT_DIR=$(@D) BASE_MODEL=$< CUTS="$(DP_VWW_REPORT_CUTS)" \
	  EPOCHS_PER_STAGE="$(DP_VWW_EPOCHS)" EXTRA="$(DP_EXTRA)" $(DP_SCRIPTS)/prune_vww_mobilenet_dense.sh
	$(PY) -m depth_pruning.report --sweep_dir $(@D) --task vww --base_metrics $(DP_VWW_BASE_METRICS) \
	  --base_tflite $(DP_VWW_BASE_TFLITE)

depth-pruning-report-kws: $(DP_KWS_SWEEP)/report.json ## Depth pruning: 3-seed aux-vs-dense report on KWS (report.md)
depth-pruning-report-vww: $(DP_RUN)/vww/report.json ## Depth pruning: 3-seed aux-vs-dense report on VWW (report.md)
depth-pruning-report: depth-pruning-report-kws depth-pruning-report-vww ## Depth pruning: both 3-seed reports

# Magnitude-pruning baseline (tfmot ConstantSparsity sweep; MINI=1: three sparsities).
ifeq ($(MINI),1)
DP_MAG_SPARSITIES ?= 0.25 0.5 0.75
else
DP_MAG_SPARSITIES ?= 0.10 0.15 0.20 0.25 0.30 0.35 0.40 0.45 0.50 0.55 0.60 0.65 0.70 0.75 0.80 0.85 0.90 0.95
endif
depth-pruning-vww-mag: $(DP_VWW_BASE) ## Depth pruning baseline: tfmot magnitude pruning of the VWW base (magnitude.csv)
	$(DP_ENV) DATA_DIR=$(DP_VWW_DATA) OUT_DIR=$(DP_RUN)/vww_mag BASE_MODEL=$< SPARSITIES="$(DP_MAG_SPARSITIES)" \
	  EPOCHS_PER_STAGE="$(DP_VWW_EPOCHS)" $(DP_SCRIPTS)/prune_vww_mobilenet_mag_const.sh

depth-pruning-kws-mag: $(DP_KWS_BASE) ## Depth pruning baseline: tfmot magnitude pruning of the KWS base (magnitude.csv)
	$(DP_ENV) DATA_DIR=$(DP_KWS_DATA) OUT_DIR=$(DP_KWS_SWEEP)_mag BASE_MODEL=$< SPARSITIES="$(DP_MAG_SPARSITIES)" \
	  EPOCHS=$(DP_KWS_EPOCHS) EXTRA="$(DP_KWS_EXTRA) $(DP_KWS_PRUNE_EXTRA)" $(DP_SCRIPTS)/prune_kws_mag_constant.sh

DP_KWS_HW_BASE ?= $(DP_RUN)/base/kws_hw/kws_hw_model.h5
$(DP_RUN)/base/kws_hw/kws_hw_model.h5: | $(DP_DATA_STAMP)
	@mkdir -p $(@D)
	$(PY) -m mlperf_tiny.keyword_spotting.train --data_dir $(DP_KWS_DATA) --saved_model_path $@ \
	  --model_architecture ds_cnn_flat --feature_type lfbe --epochs $(DP_KWS_BASE_EPOCHS) --seed $(SEED) $(DP_KWS_BASE_EXTRA)

depth-pruning-kws-hw: $(DP_KWS_HW_BASE) ## Depth pruning KWS "hardware" variant: LFBE features, flat-input DS-CNN
	$(DP_ENV) DATA_DIR=$(DP_KWS_DATA) OUT_DIR=$(DP_RUN)/kws_hw BASE_MODEL=$< BASE_METRICS=$(DP_KWS_BASE_METRICS) CUTS="$(DP_KWS_CUTS)" \
	  EPOCHS=$(DP_KWS_EPOCHS) EXTRA="$(DP_KWS_EXTRA)" PRUNE_EXTRA="$(DP_EXTRA) $(DP_KWS_PRUNE_EXTRA)" $(DP_SCRIPTS)/prune_kws_aux_dscnn_hw.sh

BENCH_TARGETS += depth-pruning-count
DEMO_TARGETS += depth-pruning-vww depth-pruning-kws
# In `make demo`, after the mlperf-tiny targets that train the base models.
DEMO_AFTER_depth-pruning-vww := mlperf-vww
DEMO_AFTER_depth-pruning-kws := mlperf-kws

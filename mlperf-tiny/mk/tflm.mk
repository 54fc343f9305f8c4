# TFLite Micro as the judge (mlperf_tiny.tflm): arena (the smallest that works, by bisection), flash and quality of
# every int8 .tflite the pipelines wrote under $(RUN_ROOT) -> $(RUN_ROOT)/tflm/{table.csv,tflm.json,
# arena_vs_accuracy.png,arena_vs_accuracy.html}. File-based: the scan reruns only when an int8 file or the quality JSON
# beside it is newer than $(TFLM_DIR)/tflm.json, or when the set of .tflite files changed ($(TFLM_DIR)/models.txt,
# rewritten only when it differs); otherwise `make tflm` does nothing.
TFLM_DIR := $(RUN_ROOT)/tflm
# A full run's table leaves the mini runs (both MINI_PROFILEs: $(RUNS)/mini, $(RUNS)/mini-full) out.
TFLM_EXCLUDE := $(if $(filter 1,$(MINI)),,--exclude $(RUNS)/mini --exclude $(RUNS)/mini-full)
FIDELITY ?= ../shared/fidelity
TFLM_KIT := $(FIDELITY)/models/mlperf
# The reference int8 models of the fidelity kit and their EEMBC folders (model:folder), when the kit is there.
TFLM_KIT_PAIRS := keyword_spotting/kws_ref_model.tflite:kws01 image_classification/pretrainedResnet_quant.tflite:ic01 \
	visual_wake_words/vww_96_int8.tflite:vww01 anomaly_detection/ad01_int8.tflite:ad01
TFLM_KIT_MODELS = $(wildcard $(foreach p,$(TFLM_KIT_PAIRS),$(TFLM_KIT)/$(firstword $(subst :, ,$(p)))))

.PHONY: tflm tflm-reference bench-tflm
tflm: $(TFLM_DIR)/tflm.json ## TFLite Micro arena/flash/accuracy of every int8 .tflite under $(RUN_ROOT) -> $(RUN_ROOT)/tflm/table.csv + plot (MINI=1: runs/mini)

# The models and quality files are listed only when tflm is asked for (a find over the runs on every make call would
# slow every other target down). tflm.json is the scan's last file.
TFLM_LIST := $(TFLM_DIR)/models.txt
ifneq ($(filter tflm,$(MAKECMDGOALS)),)
TFLM_PRUNE := $(TFLM_DIR) $(if $(filter 1,$(MINI)),,$(RUNS)/mini $(RUNS)/mini-full)
TFLM_MODELS := $(shell [ -d $(RUN_ROOT) ] && find $(RUN_ROOT) \( $(foreach p,$(TFLM_PRUNE),-path $(p) -o) -false \) -prune \
	-o -name '*.tflite' -print | LC_ALL=C sort)
TFLM_MODEL_DIRS := $(sort $(dir $(TFLM_MODELS)))
# mlperf_tiny.tflm.QUALITY_FILES in a model's folder and the one above it (reds keeps its table there).
TFLM_QUALITY := $(wildcard $(foreach d,$(TFLM_MODEL_DIRS) $(dir $(TFLM_MODEL_DIRS:/=)),$(addprefix $(d),metrics.json result.json results.json)))
# Not prerequisites (make would then remake a pipeline's stale stage): compared by date here instead.
TFLM_STALE := $(if $(wildcard $(TFLM_DIR)/tflm.json),$(if $(TFLM_MODELS),$(shell find $(TFLM_MODELS) $(TFLM_QUALITY) \
	-newer $(TFLM_DIR)/tflm.json -print -quit)),missing)
endif

$(TFLM_DIR)/tflm.json: $(TFLM_LIST) $(if $(TFLM_STALE),tflm-model-list)
	$(PY) -m mlperf_tiny.tflm --scan $(RUN_ROOT) --table_dir $(TFLM_DIR) $(TFLM_EXCLUDE) --no_progress

# Rewritten (atomically) only when the set of models differs, so its date marks the last change of that set.
$(TFLM_LIST): tflm-model-list
	@mkdir -p $(@D); printf '%s\n' $(TFLM_MODELS) > $@.tmp; if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

.PHONY: tflm-model-list

tflm-reference: ## TFLite Micro figures of the kit's MLPerf Tiny int8 models and their agreement with LiteRT on the EEMBC stimuli
	@test -n "$(TFLM_KIT_MODELS)" || { echo "no fidelity kit at $(TFLM_KIT) (pass FIDELITY=<kit folder>)"; exit 2; }
	$(PY) -m mlperf_tiny.tflm $(TFLM_KIT_MODELS) --explain --json $(RUNS)/tflm-reference/reference.json
	@for pair in $(TFLM_KIT_PAIRS); do \
	  echo "$(PY) -m mlperf_tiny.tflm $(TFLM_KIT)/$${pair%%:*} --inputs $(FIDELITY)/eembc/$${pair##*:} --litert"; \
	  $(PY) -m mlperf_tiny.tflm $(TFLM_KIT)/$${pair%%:*} --inputs $(FIDELITY)/eembc/$${pair##*:} --litert \
	    --json $(RUNS)/tflm-reference/$${pair##*:}.json || exit $$?; \
	done

bench-tflm: ## Analytic peak counter (DERO's definition) vs TFLite Micro arena: kit reference models + int8 files under $(RUN_ROOT)
	$(if $(TFLM_KIT_MODELS),$(PY) -m mlperf_tiny.tflm $(TFLM_KIT_MODELS) --explain,@echo "no fidelity kit at $(TFLM_KIT)")
	@if [ -d $(RUN_ROOT) ]; then \
	  $(PY) -m mlperf_tiny.tflm --scan $(RUN_ROOT) --table_dir $(TFLM_DIR) $(TFLM_EXCLUDE) --explain --no_progress; \
	else echo "no runs under $(RUN_ROOT): run the pipelines first (e.g. make MINI=1 mlperf-kws)"; fi

BENCH_TARGETS += bench-tflm
# make demo: the table reads what every other demo target wrote, so it runs after all of them (the root Makefile's
# demo loop goes over $(DEMO_TARGETS) $(DEMO_FINAL_TARGETS)); the results page includes runs/mini/tflm/table.csv.
DEMO_FINAL_TARGETS += tflm

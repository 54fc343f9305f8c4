# compare-kws: REDS, depth pruning, T-RECX and magnitude pruning from ONE trained MLPerf Tiny KWS DS-CNN.
##@ compare-kws (four methods from one KWS DS-CNN, measured the same way)
# The base is the mlperf-kws target's output (rule in mlperf-tiny/mk/kws.mk, included after this file, so the path is
# written out): make trains it once when missing and reuses it. Stages inside the command are resumable per point.
# Not part of `make demo`: even its quick profile needs more than the 3 minutes a demo target gets on 2 cores.
COMPARE_KWS_DIR := $(RUN_ROOT)/compare/kws
COMPARE_KWS_BASE := $(RUN_ROOT)/mlperf/kws/kws_ref_model.h5
# The real-data panel (kit model on the kit's EEMBC stimuli, training-free points) is real data whatever MINI says.
COMPARE_KWS_REAL_DIR := $(RUNS)/compare/kws_real
COMPARE_KWS_KIT ?= ../shared/fidelity
COMPARE_KWS_KIT_MODEL := $(COMPARE_KWS_KIT)/models/mlperf/keyword_spotting
COMPARE_KWS_KIT_STIMULI := $(COMPARE_KWS_KIT)/eembc/kws01
COMPARE_KWS_EXTRA ?=
ifeq ($(MINI),1)
COMPARE_KWS_DATA := $(MINI_DATA)
COMPARE_KWS_DATA_STAMP := $(MINI_DATA)/.complete
ifeq ($(MINI_PROFILE),quick)
# Quick profile (runs/mini): every method at every operating point, one epoch each on 480 clips, 50 timed rounds.
# Still not a demo target: its CPU time alone is over the 3-minute quick budget on 2 cores (README, "Timing").
COMPARE_KWS_REDS_MINI := --epochs 1 --finetune_head_epochs 1 --finetune_batch_norm_epochs 1 --minibatch_number 2 \
	--batch_size 32 --learning_rate 0.0003 --consistent_permutation --channel_aware_flatten_slice
COMPARE_KWS_ARGS := --finetune_epochs 1 --batch_size 16 --num_train_samples 480 --latency_runs 50 \
	--latency_warmup 5 --depth_args "--aux_bn_momentum 0.9" --reds_args "$(COMPARE_KWS_REDS_MINI)"
else
# Full mini profile (runs/mini-full): 8 epochs at batch 16 (mlperf-kws MINI's batch: BN statistics need the updates),
# depth pruning's aux BN momentum 0.9 and REDS's MINI=1 DS-CNN recipe (reds/project.mk) minus what the base replaces
# (pretraining).
COMPARE_KWS_REDS_MINI := --epochs 6 --finetune_head_epochs 2 --finetune_batch_norm_epochs 1 --minibatch_number 5 \
	--batch_size 32 --learning_rate 0.0003 --consistent_permutation --channel_aware_flatten_slice
COMPARE_KWS_ARGS := --finetune_epochs 8 --batch_size 16 --depth_args "--aux_bn_momentum 0.9" \
	--reds_args "$(COMPARE_KWS_REDS_MINI)"
endif
else
COMPARE_KWS_DATA := $(DATA)
COMPARE_KWS_DATA_STAMP := $(DATA)/.complete-speech_commands
COMPARE_KWS_ARGS :=
endif
COMPARE_KWS_REAL := $(if $(wildcard $(COMPARE_KWS_KIT_MODEL)/kws_ref_model/saved_model.pb),$(COMPARE_KWS_REAL_DIR)/points.csv)

.PHONY: compare-kws compare-kws-real
compare-kws: $(COMPARE_KWS_DIR)/points.csv $(COMPARE_KWS_REAL) ## REDS, depth pruning, T-RECX, magnitude pruning from the mlperf-kws base (+ real-data panel); MINI=1: mini data
	@echo "compare-kws: $(COMPARE_KWS_DIR)/{points.csv,pareto_*.png,pareto.html}"
	@if [ -n "$(COMPARE_KWS_REAL)" ]; then echo "real-data panel: $(COMPARE_KWS_REAL_DIR)/{points.csv,pareto_*.png}"; \
	else echo "real-data panel skipped: no fidelity kit at $(COMPARE_KWS_KIT)"; fi

compare-kws-real: $(COMPARE_KWS_REAL_DIR)/points.csv ## Real-data panel only: the kit's kws_ref_model and magnitude pruning without fine-tuning on the kit's kws01 stimuli

$(COMPARE_KWS_DIR)/points.csv: $(COMPARE_KWS_BASE) | $(COMPARE_KWS_DATA_STAMP)
	$(PY) -m compare_kws.compare --base $< --data_dir $(COMPARE_KWS_DATA) --out_dir $(@D) --seed $(SEED) \
		$(COMPARE_KWS_ARGS) $(COMPARE_KWS_EXTRA)

$(COMPARE_KWS_REAL_DIR)/points.csv:
	$(PY) -m compare_kws.compare --base $(COMPARE_KWS_KIT_MODEL)/kws_ref_model --data_dir $(COMPARE_KWS_KIT_STIMULI) \
		--reference_int8 $(COMPARE_KWS_KIT_MODEL)/kws_ref_model.tflite --out_dir $(@D) --seed $(SEED)

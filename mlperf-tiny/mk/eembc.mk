# Evaluate any model file on an EEMBC energyrunner folder (y_labels.csv + one .bin per stimulus):
#   make eembc TASK=kws MODEL=path/to/kws_ref_model.tflite [EEMBC=path/to/kws01]
# TASK: kws, ic, vww or ad. MODEL: Keras .h5/.keras, SavedModel folder or .tflite (float or int8). EEMBC defaults to
# the fidelity kit's subset of the official set. The result JSON goes under $(RUN_ROOT)/eembc/$(TASK)/.
FIDELITY ?= ../shared/fidelity
EEMBC_SETS := kws=kws01 ic=ic01 vww=vww01 ad=ad01
EEMBC ?= $(FIDELITY)/eembc/$(patsubst $(TASK)=%,%,$(filter $(TASK)=%,$(EEMBC_SETS)))

.PHONY: eembc
eembc: ## Evaluate MODEL on an EEMBC folder: make eembc TASK={kws,ic,vww,ad} MODEL=... [EEMBC=dir] (JSON in $(RUN_ROOT)/eembc)
	@test -n "$(TASK)" -a -n "$(MODEL)" || { echo "usage: make eembc TASK={kws,ic,vww,ad} MODEL=path [EEMBC=dir]"; exit 2; }
	$(PY) -m mlperf_tiny.eembc --task $(TASK) --model $(MODEL) --data $(EEMBC) \
		--json $(RUN_ROOT)/eembc/$(TASK)/$(notdir $(patsubst %/,%,$(MODEL)))__$(notdir $(patsubst %/,%,$(EEMBC))).json

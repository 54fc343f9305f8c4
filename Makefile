# tinyml-repro: one Makefile for every paper's pipeline. `make help` lists the targets.
#   make demo   set everything up and run every pipeline on the offline mini datasets
#   make test   set everything up and run the fast test suite (one pytest process per subproject)
# Each subproject adds its own targets in <folder>/project.mk (included below).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DATA ?= data
RUNS ?= runs
# MINI=1: mini datasets under $(DATA)/mini and each pipeline's reduced epochs; results go to $(RUNS)/mini.
MINI ?= 0
# Schedules on the mini data: quick (what `make demo` runs: every pipeline in about 30 minutes on 2 cores, results in
# $(RUNS)/mini) or full (`make demo-full`: the longer mini schedules, results in $(RUNS)/mini-full). Each project.mk
# reads it inside its MINI=1 block.
MINI_PROFILE ?= quick
# Processes for distributed runs (torchrun --nproc_per_node / tf.distribute workers).
NPROC ?= 1
SEED ?= 0

MINI_DATA := $(DATA)/mini
MINI_RUN_ROOT := $(RUNS)/mini$(if $(filter full,$(MINI_PROFILE)),-full)
ifeq ($(MINI),1)
RUN_ROOT := $(MINI_RUN_ROOT)
else
RUN_ROOT := $(RUNS)
endif

# Keras 2 semantics for the MLPerf Tiny reference models; set before TF is imported anywhere.
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export TINYML_MINI_DATA := $(abspath $(MINI_DATA))
export PYTHONUNBUFFERED := 1

# Subprojects in install order: run-contract (the command contract, standard library only) first, every command
# uses it; then mlperf-tiny, which the TF projects import; compare-kws (imports reds, depth-pruning, trecx) last.
PROJECTS := run-contract mlperf-tiny dero dnn-param-encode trecx depth-pruning reds compare-kws
# Those that already have a package (pyproject.toml) are installed with `pip install -e`.
PACKAGES := $(foreach p,$(PROJECTS),$(if $(wildcard $(p)/pyproject.toml),$(p)))
# Pipelines `make demo` runs (each project.mk appends its targets).
DEMO_TARGETS :=
# ...and what reads their results, after all of them (TFLite Micro table).
DEMO_FINAL_TARGETS :=
BENCH_TARGETS :=

ENV_STAMP := $(VENV)/.stamp-requirements
PKG_STAMPS := $(foreach p,$(PACKAGES),$(VENV)/.stamp-pkg-$(p))

##@ Setup
.PHONY: env
env: $(ENV_STAMP) $(PKG_STAMPS) apt ## Create .venv (Python 3.11) and install pinned packages + every subproject (-e)

.PHONY: apt apt-test
apt: ## Install the Debian packages the mini datasets need (espeak-ng, sox) when missing
	@tools/ensure_apt.sh espeak-ng sox

apt-test: ## Install what only the tests need: chromium (the results page's headless-browser check)
	@tools/ensure_apt.sh chromium

$(ENV_STAMP): requirements.txt requirements-nodeps.txt constraints.txt $(wildcard */requirements.txt)
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or pass PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel -c constraints.txt setuptools
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.stamp-pkg-%: $(ENV_STAMP) %/pyproject.toml
	$(PIP) install -q --no-deps --no-build-isolation -e $*
	touch $@

##@ Data
# Subprojects append to MINI_DATA_TARGETS the stamps of mini datasets they generate themselves (dero's mini COCO);
# mini-data depends on them once every project.mk is included (end of this file).
MINI_DATA_TARGETS := $(MINI_DATA)/.complete
.PHONY: mini-data
mini-data: $(MINI_DATA)/.complete ## Generate the offline mini datasets (real on-disk formats) into $(DATA)/mini

# Generating the data needs the venv; once the data exists, pipelines that need it must not re-sync the venv
# (`make env`, `make test` and `make demo` still do).
$(MINI_DATA)/.complete: | $(if $(wildcard $(MINI_DATA)/.complete),,env)
	$(PY) -m mlperf_tiny.mini_data --out $(MINI_DATA) --seed $(SEED)

##@ Pipelines
# `make demo` runs each target of DEMO_TARGETS in its own sub-make with MINI=1 (its stages one after the other),
# DEMO_JOBS targets at once: most stages keep one core busy (TF start-up, conversion, small-batch steps), so two
# at a time fill the 2 cores. A target starts after the demo targets it reads from (DEMO_AFTER_<target>, set
# beside it in its project.mk: T-RECX and depth pruning start from mlperf-tiny's base models). Make's shell is
# tools/demo_stage.sh, which prints one line per stage with its elapsed time and logs it to $(DEMO_TIMES); a
# failing target does not stop the others (the demo exits 1 at the end, naming them). Then the results page
# gathers every target.
DEMO_ROOT := $(MINI_RUN_ROOT)
DEMO_TIMES := $(DEMO_ROOT)/demo_times.jsonl
DEMO_FAILED := $(DEMO_ROOT)/.demo-failed
DEMO_JOBS ?= 2
.PHONY: demo demo-full summary
demo: env mini-data ## Run every paper's pipeline end to end on the mini datasets (MINI=1), then the results page
	@mkdir -p $(DEMO_ROOT); rm -rf $(DEMO_FAILED); export DEMO_START=$$(date +%s) DEMO_TIMES=$(abspath $(DEMO_TIMES)); \
	echo "[demo] $(words $(DEMO_TARGETS) $(DEMO_FINAL_TARGETS)) targets, $(DEMO_JOBS) at a time"; \
	$(MAKE) --no-print-directory -j$(DEMO_JOBS) MINI_PROFILE=$(MINI_PROFILE) \
	  $(addprefix demo-run/,$(DEMO_TARGETS) $(DEMO_FINAL_TARGETS)); \
	failed="$$(ls $(DEMO_FAILED) 2>/dev/null | tr '\n' ' ')"; \
	$(MAKE) --no-print-directory MINI=1 MINI_PROFILE=$(MINI_PROFILE) summary || failed="$$failed summary"; \
	elapsed=$$(( $$(date +%s) - DEMO_START )); \
	echo "demo finished in $$((elapsed / 60)) min $$((elapsed % 60)) s: results under $(DEMO_ROOT)"; \
	echo "results page: $(DEMO_ROOT)/SUMMARY.md and $(DEMO_ROOT)/summary.html (open it in a browser)"; \
	if [ -n "$$failed" ]; then echo "demo: these targets failed: $$failed" >&2; exit 1; fi

# One demo target: its own make, one stage at a time (-j1, out of the demo's job pool), stages timed by
# tools/demo_stage.sh; a failure is recorded in $(DEMO_FAILED) and the demo goes on.
demo-run/%:
	@echo "[demo] $* started"; \
	DEMO_TARGET=$* MAKEFLAGS='$(filter-out --jobserver% -j%,$(MAKEFLAGS))' $(MAKE) --no-print-directory -j1 MINI=1 MINI_PROFILE=$(MINI_PROFILE) \
	  SHELL=$(CURDIR)/tools/demo_stage.sh $* || { mkdir -p $(DEMO_FAILED); touch $(DEMO_FAILED)/$*; }; \
	echo "[demo] $* finished"

# Names of the demo's pipelines for the profile given (MINI_PROFILE=quick|full); the results page's test checks each
# has a [[target]] in a demo.toml.
.PHONY: demo-targets
demo-targets:
	@echo $(DEMO_TARGETS)

demo-full: ## The demo with the longer mini schedules (MINI_PROFILE=full; results in $(RUNS)/mini-full)
	$(MAKE) --no-print-directory demo MINI_PROFILE=full

summary: ## Results page of the demo: $(RUNS)/mini/SUMMARY.md and summary.html from the metrics files
	$(PY) tools/results_page.py --runs $(DEMO_ROOT) --out $(DEMO_ROOT)/SUMMARY.md --html $(DEMO_ROOT)/summary.html \
	  --fidelity $(RUNS)/fidelity/table.csv --tflm $(DEMO_ROOT)/tflm/table.csv \
	  $(if $(filter 1,$(MINI)),--targets "$(DEMO_TARGETS)")

##@ Tests
# One pytest process per subproject (TF and torchvision never share a process), TEST_JOBS of them at once, the
# longest first so the two lanes end together; each one's output is printed whole when it ends.
TEST_JOBS ?= 2
TEST_ORDER := mlperf-tiny reds trecx depth-pruning compare-kws dero dnn-param-encode run-contract
TEST_DIRS := $(filter $(PACKAGES),$(TEST_ORDER)) $(filter-out $(TEST_ORDER),$(PACKAGES)) tools
TEST_REPORTS := $(RUNS)/test-reports
.PHONY: test
test: env mini-data apt-test ## Run the fast test suite, one pytest process per subproject (and tools/), TEST_JOBS at once
	@rm -rf $(TEST_REPORTS); mkdir -p $(TEST_REPORTS); \
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target $(addprefix test-run/,$(TEST_DIRS)); \
	failed=0; [ -z "$$(ls $(TEST_REPORTS)/*.failed 2>/dev/null)" ] || failed=1; \
	$(PY) tools/test_summary.py $(TEST_REPORTS) || failed=1; \
	exit $$failed

# One subproject's tests; exit 5 (nothing collected there) is not a failure, the summary checks the totals.
test-run/%:
	@[ -d $*/tests ] || exit 0; echo "=== $*"; \
	$(PY) -m pytest -c pyproject.toml --rootdir . $*/tests --junitxml=$(TEST_REPORTS)/$*.xml $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then echo "=== $*: pytest exit $$rc"; touch $(TEST_REPORTS)/$*.failed; fi

.PHONY: test-slow
test-slow: env mini-data ## Run the whole suite including tests marked slow
	$(MAKE) --no-print-directory test PYTEST_ARGS="--runslow $(PYTEST_ARGS)"

.PHONY: lint
lint: env ## ruff over the whole tree
	$(VENV)/bin/ruff check .

.PHONY: bench
bench: env mini-data ## Run every benchmark (prints tables)
	$(MAKE) --no-print-directory $(BENCH_TARGETS)

.PHONY: clean-runs
clean-runs: ## Remove $(RUNS) (trained models, metrics, plots)
	rm -rf $(RUNS)

.PHONY: help
help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_%.-]+:.*## / {printf "  %-28s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo ""
	@echo "Variables: DATA=$(DATA) RUNS=$(RUNS) MINI=$(MINI) MINI_PROFILE=$(MINI_PROFILE) NPROC=$(NPROC) SEED=$(SEED) DEMO_JOBS=$(DEMO_JOBS) TEST_JOBS=$(TEST_JOBS)"

# In PROJECTS order, so the demo trains mlperf-tiny's base models first (the pipelines that start from them follow).
include $(wildcard $(addsuffix /project.mk,$(PROJECTS)))

mini-data: $(MINI_DATA_TARGETS)

# Each demo target after the demo targets it reads from (those in this profile's list), the final ones after all.
$(foreach t,$(DEMO_TARGETS),$(eval demo-run/$(t): $(addprefix demo-run/,$(filter $(DEMO_TARGETS),$(DEMO_AFTER_$(t))))))
$(foreach t,$(DEMO_FINAL_TARGETS),$(eval demo-run/$(t): $(addprefix demo-run/,$(DEMO_TARGETS))))

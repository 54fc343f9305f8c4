# make fidelity: every fidelity test (pytest marker `fidelity`, in any subproject's tests/) against the real artifacts
# of $(FIDELITY) (../shared/fidelity), one pytest process per subproject as `make test`, then ONE table of the rows
# the tests reported (tools/fidelity_table.py): artifact, params ours/original, max output diff, accuracy on the kit
# subset (our CLI / a plain reference loop). Tables: $(RUNS)/fidelity/table.{md,csv,json}.
FIDELITY_OUT := $(RUNS)/fidelity

.PHONY: fidelity
fidelity: env ## Check every port against the original models and EEMBC stimuli in ../shared/fidelity; prints one table
	@rm -rf $(FIDELITY_OUT)/rows $(FIDELITY_OUT)/reports; mkdir -p $(FIDELITY_OUT)/rows $(FIDELITY_OUT)/reports; \
	for p in $(PACKAGES); do \
	  [ -d $$p/tests ] || continue; \
	  echo "=== $$p (fidelity)"; \
	  TINYML_FIDELITY_KIT=$(abspath $(FIDELITY)) TINYML_FIDELITY_ROWS=$(abspath $(FIDELITY_OUT)/rows) \
	    $(PY) -m pytest -c pyproject.toml --rootdir . $$p/tests -m fidelity -q \
	    --junitxml=$(FIDELITY_OUT)/reports/$$p.xml $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then echo "fidelity tests of $$p failed (exit $$rc)"; fi; \
	done; \
	$(PY) tools/fidelity_table.py $(FIDELITY_OUT)/rows --out $(FIDELITY_OUT) --reports $(FIDELITY_OUT)/reports

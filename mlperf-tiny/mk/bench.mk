.PHONY: bench-mlperf
bench-mlperf: | $(MINI_DATA)/.complete ## Training samples/s of the MLPerf Tiny models + KWS epoch time, cached vs per-epoch MFCC
	$(PY) -m mlperf_tiny.benchmark --kws_data_dir $(MINI_DATA)

BENCH_TARGETS += bench-mlperf

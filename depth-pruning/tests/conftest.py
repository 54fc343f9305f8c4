import mlperf_tiny  # noqa: F401  (Keras 2 before TF, for every test module)

"""MLPerf Tiny v0.5 training reference, ported to TF 2.21 + tf-keras; the shared TF base of tinyml-repro.

Importing this package selects Keras 2 semantics (``TF_USE_LEGACY_KERAS=1``) before TensorFlow is imported:
the v0.5 models rely on them (ignored depthwise regularizers, h5 layouts) and tfmot works only on tf-keras
models. Import ``mlperf_tiny`` (or any submodule) before ``tensorflow``.
"""

import os
import sys

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    # tf.keras is bound lazily, so this still works unless tf.keras was already touched.
    import warnings

    warnings.warn(
        "tensorflow was imported before mlperf_tiny without TF_USE_LEGACY_KERAS=1; "
        "import mlperf_tiny first so tf.keras is Keras 2 (tf-keras).",
        stacklevel=2,
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.5.0"

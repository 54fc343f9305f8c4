"""Depth pruning with auxiliary networks (De Leon & Atienza, ICASSP 2022) on the mlperf_tiny base models.

A trained MobileNetV1-0.25 (VWW) or DS-CNN (KWS) is cut right after one block's pointwise ReLU, everything
after the cut is dropped, and a tiny auxiliary head (``aux_models``) is trained on the cut's features.
"""

import mlperf_tiny  # noqa: F401  (selects Keras 2 before TensorFlow is imported)

__version__ = "0.1.0"

"""T-RECX: early exit + early-view assisted final classifier for tiny CNNs (ResNet-8, DS-CNN, MobileNetV1-0.25)."""

import mlperf_tiny  # noqa: F401  (selects Keras 2 / tf-keras before anything imports tensorflow)

__version__ = "0.1.0"

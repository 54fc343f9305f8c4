"""Base (unpruned) models of each task variant: the mlperf_tiny builders (and ds_cnn_flat for KWS hardware).

The builders are imported from their modules rather than through ``mlperf_tiny.registry.get_model``, which
loads every package's registry entry point: a half-installed sibling project must not break depth pruning.
"""

import importlib

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

VWW_IMAGE_SIZE = 96
# variant -> (builder "module:function", input shape, number of classes)
BASE_MODELS = {
    "vww": ("mlperf_tiny.visual_wake_words.vww_model:mobilenet_v1", (VWW_IMAGE_SIZE, VWW_IMAGE_SIZE, 3), 2),
    "vww_gray": ("mlperf_tiny.visual_wake_words.vww_model:mobilenet_v1", (VWW_IMAGE_SIZE, VWW_IMAGE_SIZE, 1), 2),
    "kws": ("mlperf_tiny.keyword_spotting.keras_model:ds_cnn", (49, 10, 1), 12),
    "kws_hw": ("depth_pruning.kws.keras_model:ds_cnn_flat", (490,), 12),
}


def build_base_model(variant):
    """A freshly initialised base model of ``variant`` (vww, vww_gray, kws, kws_hw)."""
    if variant not in BASE_MODELS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(BASE_MODELS)}")
    builder, input_shape, num_classes = BASE_MODELS[variant]
    module, function = builder.split(":")
    return getattr(importlib.import_module(module), function)(input_shape=input_shape, num_classes=num_classes)


def num_classes_of(variant):
    return BASE_MODELS[variant][2]

"""Entry point of the ``mlperf_tiny.models`` group: importing it registers every T-RECX model."""

from trecx.image_classification import keras_model as _ic  # noqa: F401
from trecx.keyword_spotting import keras_model as _kws  # noqa: F401
from trecx.visual_wake_words import vww_model as _vww  # noqa: F401

"""Model registry with, per family, the original, ``*dero`` and ``*plain`` variants
(the detection models ``yolov5n*`` need the optional yolov5 package, imported only when one is built).

``get_model('resnet50dero', num_classes=10)``; ``list_models('mcunet*')``. Importing this package registers
the builders (that is its only effect).
"""

from . import (
               densenet,
               densenet_dero,
               densenet_plain,
               mcunet,
               mcunet_dero,
               mcunet_plain,
               mobilenetv2,
               mobilenetv2_dero,
               mobilenetv2_plain,
               resnet,
               resnet_dero,
               resnet_plain,
               yolo,
)
from ._api import BUILTIN_MODELS, UnknownModelError, get_model, get_model_builder, list_models, register_model
from .srconv import SRConv, match_channels, merge, sum_pool
from .yolo import DETECTION_MODELS, YoloUnavailableError

__all__ = ["BUILTIN_MODELS", "UnknownModelError", "get_model", "get_model_builder", "list_models", "register_model",
           "SRConv", "match_channels", "merge", "sum_pool", "densenet", "densenet_dero", "densenet_plain", "mcunet",
           "mcunet_dero", "mcunet_plain", "mobilenetv2", "mobilenetv2_dero", "mobilenetv2_plain", "resnet",
           "resnet_dero", "resnet_plain", "yolo", "DETECTION_MODELS", "YoloUnavailableError"]

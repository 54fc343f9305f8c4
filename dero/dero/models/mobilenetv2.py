"""MobileNetV2: torchvision's original plus plain and DERO variants built from the same rows (k = 3).

The plain/DERO variants keep MobileNetV2's final 1x1 conv to 1280 channels and dropout 0.2 [inferred: the
original repo registers these builders but reports no number for them].
"""

import torchvision.models as tvm

from ._api import register_model
from .mcunet import McuNet
from .mcunet_dero import McuNetDero

MOBILENET_V2_INIT_CHANNELS = 32
MOBILENET_V2_LAST_CHANNEL = 1280
MOBILENET_V2_DROPOUT = 0.2
# torchvision's [t, c, n, s] rows with the depthwise kernel (3) appended.
MOBILENET_V2_ROWS = [[1, 16, 1, 1, 3], [6, 24, 2, 2, 3], [6, 32, 3, 2, 3], [6, 64, 4, 2, 3], [6, 96, 3, 1, 3],
                     [6, 160, 3, 2, 3], [6, 320, 1, 1, 3]]


@register_model()
def mobilenet_v2(*, weights=None, progress: bool = True, **kwargs):
    return tvm.mobilenet_v2(weights=weights, progress=progress, **kwargs)


@register_model()
def mobilenet_v2_plain(*, num_classes: int = 1000, **kwargs) -> McuNet:
    return McuNet(MOBILENET_V2_INIT_CHANNELS, MOBILENET_V2_ROWS, num_classes=num_classes, residual=False,
                  last_channel=MOBILENET_V2_LAST_CHANNEL, dropout=MOBILENET_V2_DROPOUT, **kwargs)


@register_model()
def mobilenet_v2_dero(*, num_classes: int = 1000, **kwargs) -> McuNetDero:
    return McuNetDero(MOBILENET_V2_INIT_CHANNELS, MOBILENET_V2_ROWS, num_classes=num_classes,
                      last_channel=MOBILENET_V2_LAST_CHANNEL, dropout=MOBILENET_V2_DROPOUT, **kwargs)

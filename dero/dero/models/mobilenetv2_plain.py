"""MobileNetV2-plain: the MobileNetV2 rows without block shortcuts.

Keeps MobileNetV2's final 1x1 conv to 1280 channels and dropout 0.2 [inferred: the original repo registers the
builder but reports no number for it].
"""

from ._api import register_model
from .mcunet import McuNet
from .mobilenetv2 import MOBILENET_V2_DROPOUT, MOBILENET_V2_INIT_CHANNELS, MOBILENET_V2_LAST_CHANNEL, MOBILENET_V2_ROWS


@register_model()
def mobilenet_v2_plain(*, num_classes: int = 1000, **kwargs) -> McuNet:
    return McuNet(MOBILENET_V2_INIT_CHANNELS, MOBILENET_V2_ROWS, num_classes=num_classes, residual=False,
                  last_channel=MOBILENET_V2_LAST_CHANNEL, dropout=MOBILENET_V2_DROPOUT, **kwargs)

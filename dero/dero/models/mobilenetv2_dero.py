"""MobileNetV2-DERO: every conv of the MobileNetV2 rows (and the final 1x1 to 1280) as an SRConv [inferred
like the plain variant]. The DERO tool's conversion of torchvision's mobilenet_v2 gives the same parameter count.
"""

from ._api import register_model
from .mcunet_dero import McuNetDero
from .mobilenetv2 import MOBILENET_V2_DROPOUT, MOBILENET_V2_INIT_CHANNELS, MOBILENET_V2_LAST_CHANNEL, MOBILENET_V2_ROWS


@register_model()
def mobilenet_v2_dero(*, num_classes: int = 1000, **kwargs) -> McuNetDero:
    return McuNetDero(MOBILENET_V2_INIT_CHANNELS, MOBILENET_V2_ROWS, num_classes=num_classes,
                      last_channel=MOBILENET_V2_LAST_CHANNEL, dropout=MOBILENET_V2_DROPOUT, **kwargs)

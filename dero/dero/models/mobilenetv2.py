"""MobileNetV2: torchvision's original, and the rows its plain/DERO variants are built from (k = 3)."""

import torchvision.models as tvm

from ._api import register_model

MOBILENET_V2_INIT_CHANNELS = 32
MOBILENET_V2_LAST_CHANNEL = 1280
MOBILENET_V2_DROPOUT = 0.2
# torchvision's [t, c, n, s] rows with the depthwise kernel (3) appended.
MOBILENET_V2_ROWS = [[1, 16, 1, 1, 3], [6, 24, 2, 2, 3], [6, 32, 3, 2, 3], [6, 64, 4, 2, 3], [6, 96, 3, 1, 3],
                     [6, 160, 3, 2, 3], [6, 320, 1, 1, 3]]


@register_model()
def mobilenet_v2(*, weights=None, progress: bool = True, **kwargs):
    return tvm.mobilenet_v2(weights=weights, progress=progress, **kwargs)

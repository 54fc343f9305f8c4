"""DenseNet-121: torchvision's original builder."""

import torchvision.models as tvm

from ._api import register_model


@register_model()
def densenet121(*, weights=None, progress: bool = True, **kwargs):
    return tvm.densenet121(weights=weights, progress=progress, **kwargs)

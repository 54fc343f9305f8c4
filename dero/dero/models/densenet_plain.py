"""DenseNet-121-plain, the residual-free baseline of the original repo.

It keeps every layer, width and parameter of DenseNet-121, but a dense block no longer concatenates earlier
features: each layer sees only the previous layer's output, zero-padded to the width the concatenation would have
had, so the block is a plain chain.
"""

import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torchvision.models.densenet import _DenseBlock

from ._api import register_model


class PlainDenseBlock(_DenseBlock):
    """Dense block without concatenation: x_{i+1} = pad(layer_i(x_i)) to the concat width."""

    def forward(self, init_features: torch.Tensor) -> torch.Tensor:
        features = init_features
        for layer in self.values():
            new = layer([features])
            # the concat would have put features.shape[1] channels next to the new ones: zeros instead
            features = F.pad(new, (0, 0, 0, 0, 0, features.shape[1]))
        return features


@register_model()
def densenet121_plain(*, num_classes: int = 1000, **kwargs):
    model = tvm.densenet121(weights=None, num_classes=num_classes, **kwargs)
    for module in model.features:
        if isinstance(module, _DenseBlock):
            module.__class__ = PlainDenseBlock
    return model

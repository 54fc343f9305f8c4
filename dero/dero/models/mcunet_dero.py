"""MCUNet-DERO: block shortcuts removed; pw-expand, depthwise and pw-linear (and the stem) are SRConvs."""

import torch
import torch.nn as nn
from torch import Tensor

from ._api import register_model
from .mcunet import MCUNET_CONFIGS, init_mobilenet_weights
from .srconv import SRConv


def inverted_residual_dero(inp: int, oup: int, kernel_size: int, stride: int, expand_ratio: int) -> nn.Sequential:
    hidden = int(round(inp * expand_ratio))
    layers: list[nn.Module] = []
    if expand_ratio != 1:
        layers.append(SRConv(inp, hidden, 1, activation=nn.ReLU6()))
    layers += [
        SRConv(hidden, hidden, kernel_size, stride, groups=hidden, activation=nn.ReLU6()),
        SRConv(hidden, oup, 1, activation=None),  # pw-linear: no activation
    ]
    return nn.Sequential(*layers)


class McuNetDero(nn.Module):
    def __init__(self, init_channels: int, rows: list[list[int]], num_classes: int = 1000,
                 last_channel: int | None = None, dropout: float = 0.0):
        super().__init__()
        features: list[nn.Module] = [SRConv(3, init_channels, 3, 2, activation=nn.ReLU6())]
        channels = init_channels
        for t, c, n, s, k in rows:
            for i in range(n):
                features.append(inverted_residual_dero(channels, c, k, s if i == 0 else 1, t))
                channels = c
        if last_channel is not None:
            features.append(SRConv(channels, last_channel, 1, activation=nn.ReLU6()))
            channels = last_channel
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(channels, num_classes))
        init_mobilenet_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        out, res = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(out, 1) + nn.functional.adaptive_avg_pool2d(res, 1)
        return self.classifier(torch.flatten(x, 1))


def _register(version: int) -> None:
    init_channels, rows, _resolution = MCUNET_CONFIGS[version]

    def build(*, num_classes: int = 1000, **kwargs) -> McuNetDero:
        return McuNetDero(init_channels, rows, num_classes=num_classes, **kwargs)

    build.__name__ = f"mcunet_dero_v{version}"
    register_model()(build)


for _version in MCUNET_CONFIGS:
    _register(_version)

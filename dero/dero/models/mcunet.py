"""MCUNet (mit-han-lab) ImageNet models as MobileNetV2-style nets with a kernel size per row.

``MCUNET_CONFIGS[v]`` = (init channels, rows [t, c, n, s, k], native resolution); v1..v5 = mcunet-in0..in4
(``mcunet_v4`` = "320kB-1MB ImageNet", 0.74M params, resolution 176). As in DERO's copy there is no final 1x1
feature-mix conv: the classifier is Linear(last row's c, classes) with dropout 0.
"""

import torch
import torch.nn as nn
from torch import Tensor
from torchvision.ops.misc import Conv2dNormActivation

from ._api import register_model

MCUNET_CONFIGS = {
    1: (24, [[1, 16, 1, 1, 3], [4, 16, 1, 2, 5], [3, 16, 1, 1, 3], [4, 16, 1, 1, 3], [5, 24, 1, 2, 7],
             [4, 24, 1, 1, 5], [5, 24, 1, 1, 5], [5, 48, 1, 2, 7], [4, 48, 1, 1, 5], [5, 56, 1, 1, 3],
             [4, 56, 1, 1, 5], [5, 56, 1, 1, 3], [6, 112, 1, 2, 3], [4, 112, 1, 1, 5], [6, 192, 1, 1, 3]], 48),
    2: (16, [[1, 8, 1, 1, 3], [4, 16, 1, 2, 3], [3, 16, 1, 1, 3], [3, 24, 1, 2, 7], [5, 24, 1, 1, 3],
             [5, 40, 1, 2, 3], [4, 40, 1, 1, 7], [4, 48, 1, 1, 5], [3, 48, 1, 1, 3], [4, 48, 1, 1, 3],
             [5, 96, 1, 2, 7], [4, 96, 1, 1, 5], [4, 96, 1, 1, 5], [6, 160, 1, 1, 3]], 96),
    3: (16, [[1, 8, 1, 1, 3], [3, 16, 1, 2, 5], [6, 16, 1, 1, 7], [5, 16, 1, 1, 3], [5, 16, 1, 1, 5],
             [5, 24, 1, 2, 3], [6, 24, 1, 1, 7], [6, 24, 1, 1, 5], [4, 40, 1, 2, 7], [5, 40, 1, 1, 5],
             [5, 48, 1, 1, 3], [5, 48, 1, 1, 5], [4, 48, 1, 1, 3], [6, 96, 1, 2, 5], [4, 96, 1, 1, 5],
             [3, 96, 1, 1, 5], [4, 96, 1, 1, 3], [5, 160, 1, 1, 5]], 160),
    4: (16, [[1, 8, 1, 1, 3], [3, 16, 1, 2, 7], [5, 16, 1, 1, 3], [5, 16, 1, 1, 7], [4, 16, 1, 1, 5],
             [5, 24, 1, 2, 5], [5, 24, 1, 1, 5], [5, 24, 1, 1, 5], [5, 40, 1, 2, 3], [6, 40, 1, 1, 7],
             [4, 40, 1, 1, 5], [5, 48, 1, 1, 5], [5, 48, 1, 1, 7], [5, 48, 1, 1, 3], [6, 96, 1, 2, 3],
             [5, 96, 1, 1, 7], [4, 96, 1, 1, 3], [5, 160, 1, 1, 7]], 176),
    5: (32, [[1, 16, 1, 1, 3], [3, 24, 1, 2, 7], [5, 24, 1, 1, 3], [4, 24, 1, 1, 5], [5, 40, 1, 2, 7],
             [4, 40, 1, 1, 3], [4, 40, 1, 1, 7], [3, 80, 1, 2, 7], [3, 80, 1, 1, 3], [3, 80, 1, 1, 7],
             [4, 96, 1, 1, 3], [3, 96, 1, 1, 5], [3, 96, 1, 1, 5], [4, 192, 1, 2, 7], [3, 192, 1, 1, 7],
             [3, 192, 1, 1, 5], [4, 320, 1, 1, 5]], 160),
}


class InvertedResidual(nn.Module):
    """MobileNetV2 block with a kxk depthwise conv; ``residual=False`` gives the *plain* baseline."""

    def __init__(self, inp: int, oup: int, kernel_size: int, stride: int, expand_ratio: int, residual: bool = True):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = residual and stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel_size=1, activation_layer=nn.ReLU6))
        layers += [
            Conv2dNormActivation(hidden, hidden, kernel_size=kernel_size, stride=stride, groups=hidden,
                                 activation_layer=nn.ReLU6),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def init_mobilenet_weights(model: nn.Module) -> None:
    """torchvision MobileNetV2 init (kept by the MCUNet original, plain and DERO builders)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


class McuNet(nn.Module):
    """Stem conv3x3 s2 -> inverted residual rows [t, c, n, s, k] -> (optional 1x1 to ``last_channel``) -> FC."""

    def __init__(self, init_channels: int, rows: list[list[int]], num_classes: int = 1000, residual: bool = True,
                 last_channel: int | None = None, dropout: float = 0.0):
        super().__init__()
        features: list[nn.Module] = [Conv2dNormActivation(3, init_channels, stride=2, activation_layer=nn.ReLU6)]
        channels = init_channels
        for t, c, n, s, k in rows:
            for i in range(n):
                features.append(InvertedResidual(channels, c, k, s if i == 0 else 1, t, residual=residual))
                channels = c
        if last_channel is not None:  # MobileNetV2's feature-mix conv; MCUNet has none
            features.append(Conv2dNormActivation(channels, last_channel, kernel_size=1, activation_layer=nn.ReLU6))
            channels = last_channel
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(channels, num_classes))
        init_mobilenet_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1)
        return self.classifier(x)


def _register(version: int) -> None:
    init_channels, rows, _resolution = MCUNET_CONFIGS[version]

    def build(*, num_classes: int = 1000, **kwargs) -> McuNet:
        return McuNet(init_channels, rows, num_classes=num_classes, **kwargs)

    build.__name__ = f"mcunet_v{version}"
    register_model()(build)


for _version in MCUNET_CONFIGS:
    _register(_version)

"""DenseNet-121-DERO: concatenation removed ("OP refinement") and one SRConv shortcut around every conv.

Each dense block becomes a chain of SRConv(Cin, W, 1) -> SRConv(W, W, 3) layers with one uniform width W per
stage, chosen by the authors so that the total parameters roughly match DenseNet-121. Transitions are
SRConv(Cin, 64 * 2^(i+1), 1) followed by 2x2 average pooling of both halves of the pair (the shortcut half gets
one more BN); the last transition has no pooling. Stem and head as in ResNet-DERO (head applies ReLU to ``out``).
"""

import torch
import torch.nn as nn
from torch import Tensor

from ._api import register_model
from .srconv import ImageShortcutStem, Pair, SRConv

DENSENET121_BLOCKS = (6, 12, 24, 16)
DENSENET121_DERO_WIDTHS = (76, 92, 116, 112)
STEM_CHANNELS = 64


class DenseLayerDero(nn.Sequential):
    def __init__(self, in_channels: int, width: int) -> None:
        # BN_sc only where the shortcut reshapes (scbn=False in the original)
        super().__init__(
            SRConv(in_channels, width, 1, activation=nn.ReLU(), shortcut_bn=False),
            SRConv(width, width, 3, activation=nn.ReLU(), shortcut_bn=False),
        )


class TransitionDero(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, pooling: bool) -> None:
        super().__init__()
        self.conv1 = SRConv(in_channels, out_channels, 1, activation=nn.ReLU())
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2) if pooling else nn.Identity()
        self.bnsc = nn.BatchNorm2d(out_channels)

    def forward(self, x: Pair) -> Pair:
        out, res = self.conv1(x)
        return [self.pool(out), self.bnsc(self.pool(res))]


class DenseNetDero(nn.Module):
    def __init__(self, blocks=DENSENET121_BLOCKS, widths=DENSENET121_DERO_WIDTHS, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = ImageShortcutStem(STEM_CHANNELS)
        layers: list[nn.Module] = []
        channels = STEM_CHANNELS
        for stage, (num_layers, width) in enumerate(zip(blocks, widths)):
            for _ in range(num_layers):
                layers.append(DenseLayerDero(channels, width))
                channels = width
            out_channels = STEM_CHANNELS * 2 ** (stage + 1)
            layers.append(TransitionDero(channels, out_channels, pooling=stage < len(blocks) - 1))
            channels = out_channels
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)
        # torchvision DenseNet init, kept by the original
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        out, res = self.features(self.stem(x))
        x = nn.functional.adaptive_avg_pool2d(torch.relu(out), 1) + nn.functional.adaptive_avg_pool2d(res, 1)
        return self.classifier(torch.flatten(x, 1))


@register_model()
def densenet121_dero(*, num_classes: int = 1000, **kwargs) -> DenseNetDero:
    return DenseNetDero(num_classes=num_classes, **kwargs)

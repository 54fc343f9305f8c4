"""ResNet-plain: the residual-free baseline. Each conv becomes conv(bias) -> BN -> ReLU; no shortcuts at all."""

import torch
import torch.nn as nn
from torch import Tensor

from ._api import register_model
from .resnet_dero import BLOCK_LAYOUTS, EXPANSION, STAGE_WIDTHS
from .srconv import PlainConv


def _block(block: str, in_channels: int, width: int, stride: int) -> list[nn.Module]:
    if block == "basic":
        return [PlainConv(in_channels, width, 3, stride, activation=nn.ReLU()),
                PlainConv(width, width, 3, 1, activation=nn.ReLU())]
    return [
        PlainConv(in_channels, width, 1, 1, activation=nn.ReLU()),
        PlainConv(width, width, 3, stride, activation=nn.ReLU()),
        PlainConv(width, width * EXPANSION[block], 1, 1, activation=nn.ReLU()),
    ]


class ResNetPlain(nn.Module):
    """Stem conv7x7 s2 (no bias) -> BN -> ReLU -> maxpool; PyTorch default init, as in the original."""

    def __init__(self, block: str, layers: tuple[int, ...], num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        in_channels = 64
        for stage, (width, blocks) in enumerate(zip(STAGE_WIDTHS, layers), start=1):
            convs = []
            for i in range(blocks):
                convs += _block(block, in_channels, width, 2 if (stage > 1 and i == 0) else 1)
                in_channels = width * EXPANSION[block]
            setattr(self, f"layer{stage}", nn.Sequential(*convs))
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def _register(depth: int) -> None:
    block, layers = BLOCK_LAYOUTS[depth]

    def build(*, num_classes: int = 1000, **kwargs) -> ResNetPlain:
        return ResNetPlain(block, layers, num_classes=num_classes, **kwargs)

    build.__name__ = f"resnet{depth}plain"
    register_model()(build)


for _depth in BLOCK_LAYOUTS:
    _register(_depth)

"""ResNet-DERO: every block shortcut removed, one SRConv shortcut around every conv, image-shortcut stem."""

import torch
import torch.nn as nn
from torch import Tensor

from ._api import register_model
from .srconv import ImageShortcutStem, SRConv

STAGE_WIDTHS = (64, 128, 256, 512)
BLOCK_LAYOUTS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                 101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}
EXPANSION = {"basic": 1, "bottleneck": 4}


def basic_block_dero(in_channels: int, width: int, stride: int) -> list[nn.Module]:
    """conv3x3(s) -> conv3x3 as two SRConvs; ReLU after both (there is no post-add ReLU any more)."""
    return [SRConv(in_channels, width, 3, stride, activation=nn.ReLU()), SRConv(width, width, 3, 1, activation=nn.ReLU())]


def bottleneck_dero(in_channels: int, width: int, stride: int) -> list[nn.Module]:
    """ResNet v1.5 bottleneck (stride on the 3x3) as three SRConvs; the downsample projection is gone."""
    return [
        SRConv(in_channels, width, 1, 1, activation=nn.ReLU()),
        SRConv(width, width, 3, stride, activation=nn.ReLU()),
        SRConv(width, width * EXPANSION["bottleneck"], 1, 1, activation=nn.ReLU()),
    ]


class ResNetDero(nn.Module):
    """Like the original, it keeps PyTorch's default init: its constructor returned before the init loop."""

    def __init__(self, block: str, layers: tuple[int, ...], num_classes: int = 1000) -> None:
        super().__init__()
        make_block = {"basic": basic_block_dero, "bottleneck": bottleneck_dero}[block]
        self.stem = ImageShortcutStem(64)
        in_channels = 64
        for stage, (width, blocks) in enumerate(zip(STAGE_WIDTHS, layers), start=1):
            convs = []
            for i in range(blocks):
                stride = 2 if (stage > 1 and i == 0) else 1
                convs += make_block(in_channels, width, stride)
                in_channels = width * EXPANSION[block]
            setattr(self, f"layer{stage}", nn.Sequential(*convs))
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        # Head sees both halves of the last pair: GAP(out) + GAP(res), no final BN.
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x[0], 1) + nn.functional.adaptive_avg_pool2d(x[1], 1), 1)
        return self.fc(x)


def _register(depth: int) -> None:
    block, layers = BLOCK_LAYOUTS[depth]

    def build(*, num_classes: int = 1000, **kwargs) -> ResNetDero:
        return ResNetDero(block, layers, num_classes=num_classes, **kwargs)

    build.__name__ = f"resnet{depth}dero"
    register_model()(build)


for _depth in BLOCK_LAYOUTS:
    _register(_depth)

"""The DERO building block (SRConv) and the parameter-free shortcut it uses.

SRConv (shortcut-residual conv): ``out = act(conv(BN_in(x)))`` (pre-norm, conv with bias) and
``res = BN_sc(S(x))`` where S has no parameters: identity, sum-pooling over the conv's own window when
strided, zero channel pad when widening, channel fold when narrowing. The module returns the pair
``[out, res]``; the next SRConv (or the head) adds them. Adding late is what the original code does and is
mathematically the same as ``out + res`` right away; for a deployment compiler the add is an epilogue of the
conv, so the shortcut costs no extra activation buffer (see ``dero.peak_memory``).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

Pair = list[Tensor]


def merge(x: Tensor | Pair) -> Tensor:
    """Sum an ``[out, res]`` pair coming from an SRConv; plain tensors pass through."""
    if isinstance(x, Tensor):
        return x
    return x[0] + x[1]


def sum_pool(kernel_size: int, stride: int) -> nn.AvgPool2d:
    """Sum-pooling over the conv's window: AvgPool with ``divisor_override=1``.

    A strided 1x1 conv gets a stride x stride window so that every input pixel still reaches the output.
    """
    if kernel_size == 1:
        return nn.AvgPool2d(kernel_size=stride, stride=stride, divisor_override=1)
    return nn.AvgPool2d(kernel_size=kernel_size, stride=stride, padding=(kernel_size - 1) // 2, divisor_override=1)


def match_channels(x: Tensor, out_channels: int) -> Tensor:
    """Parameter-free channel matching: zero-pad at the end, or fold by summing chunks of ``out_channels``.

    Fold: zero-pad C up to a multiple of ``out_channels``, then ``res[c] = sum_j x[c + j*out_channels]``.
    """
    in_channels = x.shape[1]
    if in_channels < out_channels:
        return F.pad(x, (0, 0, 0, 0, 0, out_channels - in_channels))
    if in_channels > out_channels:
        remainder = in_channels % out_channels
        if remainder:
            x = F.pad(x, (0, 0, 0, 0, 0, out_channels - remainder))
        return torch.stack(torch.split(x, out_channels, dim=1)).sum(dim=0)
    return x


class SRConv(nn.Module):
    """Shortcut-residual conv: returns ``[act(conv(BN_in(x))), BN_sc(S(x))]``.

    ``shortcut_bn=False`` drops BN_sc when the shortcut is a pure identity (DenseNet-DERO layers); it is always
    kept when the shortcut pools or changes channels, as in the original.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: nn.Module | None = None,
        shortcut_bn: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.bn = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding=(kernel_size - 1) // 2, groups=groups, bias=True
        )
        self.act = activation if activation is not None else nn.Identity()
        self.pool = sum_pool(kernel_size, stride) if stride != 1 else nn.Identity()
        reshapes = stride != 1 or in_channels != out_channels
        self.bnsc = nn.BatchNorm2d(out_channels) if (shortcut_bn or reshapes) else nn.Identity()

    def forward(self, x: Tensor | Pair) -> Pair:
        x = merge(x)
        out = self.act(self.conv(self.bn(x)))
        res = self.bnsc(match_channels(self.pool(x), self.out_channels))
        return [out, res]


class PlainConv(nn.Sequential):
    """The ``*plain`` baselines' layer: conv (with bias, as in the original) -> BN -> act, no shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: nn.Module | None = None,
    ) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups),
            nn.BatchNorm2d(out_channels),
            activation if activation is not None else nn.Identity(),
        )


class ImageShortcutStem(nn.Module):
    """ResNet/DenseNet-DERO stem: conv7x7 s2 -> ReLU -> maxpool, plus a shortcut from the input image.

    shortcut = BN3(sumpool3x3 s2(BN2(zero-pad 3->C(sumpool7x7 s2(img))))): the image reaches the first stage
    through the same two windows as the main path, without parameters apart from two BNs.
    """

    def __init__(self, out_channels: int = 64) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv1 = nn.Conv2d(3, out_channels, kernel_size=7, stride=2, padding=3, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.pool = sum_pool(7, 2)
        self.pool2 = sum_pool(3, 2)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)

    def forward(self, img: Tensor) -> Pair:
        shortcut = match_channels(self.pool(img), self.out_channels)
        out = self.maxpool(self.relu(self.conv1(img)))
        return [out, self.bn3(self.pool2(self.bn2(shortcut)))]

"""DERO's drop-in YOLOv5 modules (the original's ``object detection/models/common.py``): ConvD, BottleneckD,
C3D and SPPFD.

ConvD is the SRConv of YOLO: ``out = SiLU(conv(BN_in(x)))`` (pre-norm, conv without bias, as yolov5's Conv) plus
``res = BN_sc(S(x))`` with the parameter-free shortcut S (identity; sum-pooling over the conv's own window when
strided; zero channel pad or channel fold), returned as ``out + res``. Convs get orthogonal init and BN_sc's
weight starts at zero, so the network starts as a plain net (the original's choices). C3D drops the
bottleneck's ``x + f(x)`` but keeps C3's two-branch concat; SPPFD keeps SPPF's concat of four maps.
"""

import torch
import torch.nn as nn

from dero.models.srconv import match_channels
from dero.yolo import import_yolov5

import_yolov5()  # offline, no run-time installs, PIL's Image.open left alone
from yolov5.models.common import autopad  # noqa: E402


class ConvD(nn.Module):
    default_act = nn.SiLU()

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, d=1, act=True):
        super().__init__()
        self.c1, self.c2, self.stride = c1, c2, s
        self.bn = nn.BatchNorm2d(c1)
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p, d), groups=g, dilation=d, bias=False)
        self.act = self.default_act if act is True else act if isinstance(act, nn.Module) else nn.Identity()
        if s != 1:
            # a strided 1x1 conv gets an s x s window so that every input pixel reaches the output
            self.pool = (nn.AvgPool2d(k, s, autopad(k, p, d), divisor_override=1) if k != 1
                         else nn.AvgPool2d(s, s, divisor_override=1))
        self.bnsc = nn.BatchNorm2d(c2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.orthogonal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        nn.init.constant_(self.bnsc.weight, 0)  # the shortcut starts switched off

    def shortcut(self, x):
        return self.bnsc(match_channels(x if self.stride == 1 else self.pool(x), self.c2))

    def forward(self, x):
        return self.act(self.conv(self.bn(x))) + self.shortcut(x)

    def forward_fuse(self, x):  # yolov5's fuse() only folds Conv/DWConv; ConvD keeps its pre-norm
        return self.forward(x)


class BottleneckD(nn.Module):
    """yolov5's Bottleneck without its ``x + f(x)``: the ConvD shortcuts replace it (``shortcut`` is ignored)."""

    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = ConvD(c1, c_, 1, 1)
        self.cv2 = ConvD(c_, c2, 3, 1, g=g)

    def forward(self, x):
        return self.cv2(self.cv1(x))


class C3D(nn.Module):
    """C3 with ConvD convs and BottleneckD: the cv1 || cv2 concat stays."""

    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = ConvD(c1, c_, 1, 1)
        self.cv2 = ConvD(c1, c_, 1, 1)
        self.cv3 = ConvD(2 * c_, c2, 1)
        self.m = nn.Sequential(*(BottleneckD(c_, c_, shortcut, g, e=1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPFD(nn.Module):
    """SPPF with ConvD convs (concat of x and three chained 5x5 max-pools kept)."""

    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = ConvD(c1, c_, 1, 1)
        self.cv2 = ConvD(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))

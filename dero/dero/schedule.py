"""Memory-aware execution of a model's own weights: same outputs (eval mode), lower peak activation memory.

The faithful schedule runs each module as written. In ResNet-/DenseNet-DERO the stem's image shortcut,
``BN3(sumpool3x3(BN2(pad(sumpool7x7(img)))))``, is consumed only after the stem's conv and max-pool, so the
input image stays alive through the stem's largest step (+3 x H x W elements over the plain net: +15 % for
ResNet-34 at 224). The memory-aware schedule computes the image's own three shortcut channels first, at a
quarter of the resolution, and keeps only that small map (3 x H/4 x W/4), so the image dies with the first conv.
The 61 zero-padded channels need no activation memory: BN2 maps zero to a per-channel constant, and the
sum-pool of a constant depends only on the position (an epilogue constant, like a bias).

    python -m dero.peak_memory --model resnet34dero --schedule memory-aware

``memory_aware(model)`` returns a model that shares every parameter and buffer with ``model``. The new order is
an inference schedule: in training mode the stem runs as written (BN2 then uses batch statistics).
"""

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from dero.models.srconv import ImageShortcutStem, Pair, match_channels

SCHEDULES = ("faithful", "memory-aware")


def materialise(tensor: Tensor) -> Tensor:
    """Identity. Under the peak-memory tracer it marks ``tensor`` as computed into its own buffer now."""
    from dero.peak_memory import record_materialised

    record_materialised(tensor)
    return tensor


def _batch_norm_channels(bn: nn.BatchNorm2d, x: Tensor, channels: slice) -> Tensor:
    """Eval-mode ``bn`` restricted to ``channels``."""
    return F.batch_norm(x, bn.running_mean[channels], bn.running_var[channels], bn.weight[channels],
                        bn.bias[channels], False, 0.0, bn.eps)


class EarlyImageShortcutStem(nn.Module):
    """An ``ImageShortcutStem`` whose image shortcut is computed, at 3 channels, before the stem's conv."""

    def __init__(self, stem: ImageShortcutStem) -> None:
        super().__init__()
        self.stem = stem

    def forward(self, img: Tensor) -> Pair:
        stem = self.stem
        if self.training:
            return stem(img)
        c = img.shape[1]
        pooled = stem.pool(img)
        own = materialise(stem.pool2(_batch_norm_channels(stem.bn2, pooled, slice(0, c))))
        # Channels c.. of pad(sumpool7x7(img)) are zero; BN2 makes them constants, whose 3x3 sum-pool varies only
        # at the borders. Computed from zeros, the tracer sees no activation behind them.
        zeros = torch.zeros(1, stem.out_channels - c, *pooled.shape[2:], dtype=img.dtype, device=img.device)
        padded = stem.pool2(_batch_norm_channels(stem.bn2, zeros, slice(c, None)))
        shortcut = match_channels(own, stem.out_channels) + F.pad(padded, (0, 0, 0, 0, c, 0))
        out = stem.maxpool(stem.relu(stem.conv1(img)))
        return [out, stem.bn3(shortcut)]


def memory_aware(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with the memory-aware schedule that shares all of ``model``'s tensors."""
    shared = {id(t): t for t in list(model.parameters()) + list(model.buffers())}
    scheduled = copy.deepcopy(model, memo=shared)
    for parent in list(scheduled.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ImageShortcutStem):
                setattr(parent, name, EarlyImageShortcutStem(child).train(child.training))
    return scheduled


def schedule(model: nn.Module, name: str) -> nn.Module:
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule '{name}': one of {', '.join(SCHEDULES)}")
    return model if name == "faithful" else memory_aware(model)

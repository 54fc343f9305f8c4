"""Batch-level MixUp and CutMix (applied in the collate function), as in the torchvision recipe."""

import math

import torch
from torch import Tensor


class RandomMixup(torch.nn.Module):
    """With probability ``p``: x = lam*x + (1-lam)*x.roll(1), same for one-hot targets; lam ~ Beta(alpha, alpha)."""

    def __init__(self, num_classes: int, p: float = 0.5, alpha: float = 1.0) -> None:
        super().__init__()
        if num_classes < 1 or alpha <= 0:
            raise ValueError(f"need num_classes >= 1 and alpha > 0, got {num_classes}, {alpha}")
        self.num_classes, self.p, self.alpha = num_classes, p, alpha

    def forward(self, batch: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        batch, target = _prepare(batch, target, self.num_classes)
        if torch.rand(1).item() >= self.p:
            return batch, target
        lam = float(torch._sample_dirichlet(torch.tensor([self.alpha, self.alpha]))[0])
        batch = batch.mul(lam).add_(batch.roll(1, 0), alpha=1.0 - lam)
        target = target.mul(lam).add_(target.roll(1, 0), alpha=1.0 - lam)
        return batch, target


class RandomCutmix(torch.nn.Module):
    """With probability ``p``: paste a box of the rolled batch; targets mixed by the box's area fraction."""

    def __init__(self, num_classes: int, p: float = 0.5, alpha: float = 1.0) -> None:
        super().__init__()
        if num_classes < 1 or alpha <= 0:
            raise ValueError(f"need num_classes >= 1 and alpha > 0, got {num_classes}, {alpha}")
        self.num_classes, self.p, self.alpha = num_classes, p, alpha

    def forward(self, batch: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        batch, target = _prepare(batch, target, self.num_classes)
        if torch.rand(1).item() >= self.p:
            return batch, target
        lam = float(torch._sample_dirichlet(torch.tensor([self.alpha, self.alpha]))[0])
        h, w = batch.shape[-2:]
        cx, cy = int(torch.randint(w, (1,))), int(torch.randint(h, (1,)))
        ratio = math.sqrt(1.0 - lam)
        half_w, half_h = int(ratio * w / 2), int(ratio * h / 2)
        x1, y1, x2, y2 = max(cx - half_w, 0), max(cy - half_h, 0), min(cx + half_w, w), min(cy + half_h, h)
        batch = batch.clone()
        batch[..., y1:y2, x1:x2] = batch.roll(1, 0)[..., y1:y2, x1:x2]
        lam = 1.0 - (x2 - x1) * (y2 - y1) / (w * h)
        target = target.mul(lam).add_(target.roll(1, 0), alpha=1.0 - lam)
        return batch, target


def _prepare(batch: Tensor, target: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    if batch.ndim != 4 or target.ndim != 1:
        raise ValueError(f"expected a (B,C,H,W) batch and (B,) targets, got {tuple(batch.shape)}, {tuple(target.shape)}")
    if not batch.is_floating_point():
        raise TypeError(f"batch dtype should be a float tensor, got {batch.dtype}")
    return batch, torch.nn.functional.one_hot(target, num_classes=num_classes).to(dtype=batch.dtype)


class RandomChoice(torch.nn.Module):
    def __init__(self, transforms: list[torch.nn.Module]) -> None:
        super().__init__()
        self.transforms = torch.nn.ModuleList(transforms)

    def forward(self, batch: Tensor, target: Tensor):
        return self.transforms[int(torch.randint(len(self.transforms), (1,)))](batch, target)


def get_mixup_cutmix(*, mixup_alpha: float, cutmix_alpha: float, num_classes: int):
    """None when both are off; else one of the enabled ones per batch (each applied with p=1 once chosen)."""
    chosen = []
    if mixup_alpha > 0:
        chosen.append(RandomMixup(num_classes, p=1.0, alpha=mixup_alpha))
    if cutmix_alpha > 0:
        chosen.append(RandomCutmix(num_classes, p=1.0, alpha=cutmix_alpha))
    return RandomChoice(chosen) if chosen else None

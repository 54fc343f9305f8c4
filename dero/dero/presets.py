"""Train/eval transform recipes of the torchvision classification reference (PIL or tensor backend, v1 or v2)."""

import torch
from torchvision.transforms.functional import InterpolationMode

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def get_module(use_v2: bool):
    if use_v2:
        import torchvision.transforms.v2 as T
    else:
        import torchvision.transforms as T
    return T


def _to_float_tensor(T, use_v2: bool, backend: str) -> list:
    steps = []
    if backend == "pil":
        steps.append(T.PILToTensor())
    steps.append(T.ToDtype(torch.float, scale=True) if use_v2 else T.ConvertImageDtype(torch.float))
    return steps


class ClassificationPresetTrain:
    def __init__(self, *, crop_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 interpolation=InterpolationMode.BILINEAR, hflip_prob: float = 0.5, auto_augment_policy=None,
                 ra_magnitude: int = 9, augmix_severity: int = 3, random_erase_prob: float = 0.0,
                 backend: str = "pil", use_v2: bool = False):
        T = get_module(use_v2)
        backend = backend.lower()
        if backend not in ("pil", "tensor"):
            raise ValueError(f"backend can be 'tensor' or 'pil', got {backend}")
        steps = [] if backend == "pil" else [T.PILToTensor()]
        steps.append(T.RandomResizedCrop(crop_size, interpolation=interpolation, antialias=True))
        if hflip_prob > 0:
            steps.append(T.RandomHorizontalFlip(hflip_prob))
        if auto_augment_policy is not None:
            if auto_augment_policy == "ra":
                steps.append(T.RandAugment(interpolation=interpolation, magnitude=ra_magnitude))
            elif auto_augment_policy == "ta_wide":
                steps.append(T.TrivialAugmentWide(interpolation=interpolation))
            elif auto_augment_policy == "augmix":
                steps.append(T.AugMix(interpolation=interpolation, severity=augmix_severity))
            else:
                steps.append(T.AutoAugment(policy=T.AutoAugmentPolicy(auto_augment_policy),
                                           interpolation=interpolation))
        steps += _to_float_tensor(T, use_v2, backend)
        steps.append(T.Normalize(mean=mean, std=std))
        if random_erase_prob > 0:
            steps.append(T.RandomErasing(p=random_erase_prob))
        self.transforms = T.Compose(steps)

    def __call__(self, img):
        return self.transforms(img)


class ClassificationPresetEval:
    def __init__(self, *, crop_size: int, resize_size: int = 256, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 interpolation=InterpolationMode.BILINEAR, backend: str = "pil", use_v2: bool = False):
        T = get_module(use_v2)
        backend = backend.lower()
        if backend not in ("pil", "tensor"):
            raise ValueError(f"backend can be 'tensor' or 'pil', got {backend}")
        steps = [] if backend == "pil" else [T.PILToTensor()]
        steps += [T.Resize(resize_size, interpolation=interpolation, antialias=True), T.CenterCrop(crop_size)]
        steps += _to_float_tensor(T, use_v2, backend)
        steps.append(T.Normalize(mean=mean, std=std))
        self.transforms = T.Compose(steps)

    def __call__(self, img):
        return self.transforms(img)

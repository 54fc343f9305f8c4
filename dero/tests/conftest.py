"""Fixtures: a tiny learnable ImageFolder written with PIL (class = dominant colour + stripe direction)."""

import numpy as np
import pytest
import torch
from PIL import Image

# The tests' batches are tiny (32x32, batch 8): a second intra-op thread buys nothing, and on a shared CPU
# OpenMP spin-waiting made each training step cost ~10x more CPU time (measured: 5 s vs 0.45 s per step).
torch.set_num_threads(1)

TINY_CLASSES = ("n01440764", "n01443537", "n01484850")


def write_image_folder(root, classes=TINY_CLASSES, per_class=(8, 4), size=32, seed=0):
    """Write ``root/{train,val}/<wnid>/*.JPEG``; each class has its own colour so a model can learn it."""
    rng = np.random.default_rng(seed)
    for split, count in zip(("train", "val"), per_class):
        for c, wnid in enumerate(classes):
            d = root / split / wnid
            d.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                img[..., c % 3] += 150
                if c >= 3:
                    img[:: 4 if c % 2 else 1, :: 1 if c % 2 else 4] = 255
                Image.fromarray(img).save(d / f"{wnid}_{i}.JPEG", quality=90)
    return root


@pytest.fixture
def tiny_imagenet(tmp_path):
    return write_image_folder(tmp_path / "imagenet")


@pytest.fixture(scope="module")
def tiny_imagenet_shared(tmp_path_factory):
    """The tiny ImageFolder, written once per test module (for tests that only read it)."""
    return write_image_folder(tmp_path_factory.mktemp("shared") / "imagenet")

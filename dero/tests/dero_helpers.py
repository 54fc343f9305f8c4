"""Helpers shared by dero's tests (a plain module: conftest names clash with the root conftest)."""

import numpy as np
from PIL import Image

TINY_CLASSES = ("n01440764", "n01443537", "n01484850")
MODEL = "mcunet_dero_v2"  # smallest registry DERO model; the 18-block MCUNet keeps the runs to seconds
SIZE_ARGS = ["--train-crop-size", "32", "--val-resize-size", "32", "--val-crop-size", "32"]


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


def train_args(data, out, *extra, epochs=1):
    """A seeded dero.train command on the tiny ImageFolder (MODEL at 32 px, batch 8, no loader workers)."""
    return ["--model", MODEL, "--data-path", str(data), "--output-dir", str(out), "-b", "8", "-j", "0",
            "--epochs", str(epochs), "--lr", "0.05", "--seed", "0", "--print-freq", "50", *SIZE_ARGS, *extra]

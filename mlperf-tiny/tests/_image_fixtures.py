"""Tiny CIFAR-10 and VWW folders in the real on-disk formats, for error-path tests (written in tmp_path)."""

import pickle
from pathlib import Path

import numpy as np


def write_tiny_cifar(root, train_per_batch=8, num_test=20, seed=0):
    """``root`` gets data_batch_1..5, test_batch, batches.meta (bytes keys, N x 3072 uint8, planar RGB)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def batch(n, prefix):
        labels = (np.arange(n) % 10).tolist()
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        return {b"batch_label": prefix.encode(), b"labels": labels, b"data": data,
                b"filenames": [f"{prefix}_{i}.png".encode() for i in range(n)]}

    for i in range(1, 6):
        with open(root / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(train_per_batch, f"train{i}"), f, protocol=2)
    with open(root / "test_batch", "wb") as f:
        pickle.dump(batch(num_test, "test"), f, protocol=2)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{k}".encode() for k in range(10)]}, f, protocol=2)
    return root


def write_tiny_vww(root, per_class=10, seed=0):
    """``root/{person,non_person}/*.jpg``: 96x96 RGB JPEGs (bright vs dark noise)."""
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    for label, name in enumerate(("non_person", "person")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(60 + 120 * label, 30, (96, 96, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:04d}.jpg")
    return root

"""Mini Fashion-MNIST (imitates the four idx files of https://github.com/zalandoresearch/fashion-mnist).

28x28 uint8 grayscale images of 10 classes built from sklearn's bundled 8x8 digits (class k = digit k),
upsampled to an MNIST-like 20x20 box, rotated, shifted, scaled in intensity and lightly noised; bright
object on a black background as in (Fashion-)MNIST. Train and test use disjoint glyphs.

Files: ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``; idx format with big-endian headers (magic 2051 for images, 2049 for labels).
"""

import gzip
import struct

import numpy as np

from ._common import digit_splits, make_rng, progress, render_digit

NAME = "fashion_mnist"
IMAGE_SIZE = 28
GLYPH_SIZE_RANGE = (17, 23)  # MNIST digits fit a 20x20 box centred in 28x28
MAX_ROTATION_DEG = 12
MAX_OFFSET = 3
INTENSITY_RANGE = (170, 255)  # peak grey level of the object
NOISE_STD = 6.0
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def write_idx_images(path, images):
    header = struct.pack(">IIII", IMAGES_MAGIC, len(images), IMAGE_SIZE, IMAGE_SIZE)
    _write_gzip(path, header + np.ascontiguousarray(images, dtype=np.uint8).tobytes())


def write_idx_labels(path, labels):
    header = struct.pack(">II", LABELS_MAGIC, len(labels))
    _write_gzip(path, header + np.asarray(labels, dtype=np.uint8).tobytes())


def _write_gzip(path, payload):
    # mtime=0 and no file name in the header: the same payload gives the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(payload)


def render_image(glyph, rng):
    mask = render_digit(
        glyph,
        glyph_size=int(rng.integers(GLYPH_SIZE_RANGE[0], GLYPH_SIZE_RANGE[1] + 1)),
        canvas_size=IMAGE_SIZE,
        rng=rng,
        max_rotation_deg=MAX_ROTATION_DEG,
        max_offset=MAX_OFFSET,
    )
    image = mask * rng.uniform(*INTENSITY_RANGE) + np.abs(rng.normal(0.0, NOISE_STD, size=mask.shape))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def generate(out_root, seed=0, n_train=6000, n_test=1000, show_progress=True):
    """Write ``out_root/fashion_mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``."""
    rng = make_rng(seed, NAME)
    out = out_root / NAME
    out.mkdir(parents=True)
    splits = dict(zip(("train", "t10k"), digit_splits(rng)))
    with progress(desc=NAME, total=n_train + n_test, enabled=show_progress) as bar:
        for prefix, n_images in (("train", n_train), ("t10k", n_test)):
            glyphs, labels = splits[prefix]
            picks = rng.integers(0, len(glyphs), size=n_images)
            images = np.empty((n_images, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
            for i, pick in enumerate(picks):
                images[i] = render_image(glyphs[pick], rng)
                bar.update(1)
            write_idx_images(out / f"{prefix}-images-idx3-ubyte.gz", images)
            write_idx_labels(out / f"{prefix}-labels-idx1-ubyte.gz", labels[picks])
    return [NAME]

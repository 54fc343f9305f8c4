"""Mini CIFAR-10 (imitates `cifar-10-batches-py/` of https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz).

Ten classes of 32x32x3 uint8 images built from sklearn's bundled 8x8 digits (class k = digit k): the glyph
is upsampled, rotated, jittered in position, drawn in a random colour on a random background colour, plus
pixel noise. Train and test use disjoint glyphs.

The files are byte-for-byte in the original format: Python 2 pickles (protocol 2) whose strings are
Python 2 ``str`` opcodes, so ``pickle.load(f, encoding="bytes")`` gives ``b'data'``-style keys (the recipe
on the CIFAR page, Keras' ``load_batch``) and ``encoding="latin1"`` gives ``'data'`` keys (torchvision).
``b'data'`` is an (N, 3072) uint8 array, channel-planar (1024 red, 1024 green, 1024 blue, row-major).
"""

import pickle
import struct

import numpy as np

from ._common import digit_splits, make_rng, progress, render_digit

NAME = "cifar-10-batches-py"
LABEL_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
IMAGE_SIZE = 32
GLYPH_SIZE_RANGE = (18, 28)  # pixels of the upsampled digit inside the 32x32 image
MAX_ROTATION_DEG = 15
MAX_OFFSET = 4  # position jitter in pixels
MIN_COLOUR_DISTANCE = 120  # Euclidean RGB distance between digit and background, so the digit stays visible
NOISE_STD = 8.0  # pixel noise, in uint8 units


class _Py2Str(bytes):
    """bytes that are pickled as a Python 2 ``str`` (opcodes SHORT_BINSTRING/BINSTRING), as in the real files."""


class _Py2Pickler(pickle._Pickler):
    """The pure-Python pickler, writing bytes and uint8 arrays the way Python 2 + numpy 1.x cPickle did."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + bytes(obj))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + bytes(obj))

    def save_uint8_array(self, array):
        # ndarray.__reduce__ of numpy 1.x: _reconstruct(ndarray, (0,), 'b') then BUILD with
        # (1, shape, dtype('u1'), fortran=False, raw bytes as a py2 str).
        if array.dtype != np.uint8:
            raise TypeError("only uint8 arrays are written in the CIFAR-10 format")
        self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
        self.write(pickle.GLOBAL + b"numpy\nndarray\n")
        self.save((0,))
        self.save_py2_str(b"b")
        self.write(pickle.TUPLE3 + pickle.REDUCE)
        self.write(pickle.MARK)
        self.save(1)
        self.save(tuple(int(n) for n in array.shape))
        self.write(pickle.GLOBAL + b"numpy\ndtype\n")
        self.save_py2_str(b"u1")
        self.save(0)
        self.save(1)
        self.write(pickle.TUPLE3 + pickle.REDUCE)
        self.write(pickle.MARK)
        self.save(3)
        self.save_py2_str(b"|")
        for value in (None, None, None, -1, -1, 0):
            self.save(value)
        self.write(pickle.TUPLE + pickle.BUILD)
        self.save(False)
        self.save_py2_str(np.ascontiguousarray(array).tobytes())
        self.write(pickle.TUPLE + pickle.BUILD)

    def save_bytes(self, obj):
        self.save_py2_str(obj)

    dispatch[_Py2Str] = save_py2_str
    dispatch[bytes] = save_bytes
    dispatch[np.ndarray] = save_uint8_array


def dump_py2_pickle(obj, path):
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(obj)


def render_image(glyph, rng):
    mask = render_digit(
        glyph,
        glyph_size=int(rng.integers(GLYPH_SIZE_RANGE[0], GLYPH_SIZE_RANGE[1] + 1)),
        canvas_size=IMAGE_SIZE,
        rng=rng,
        max_rotation_deg=MAX_ROTATION_DEG,
        max_offset=MAX_OFFSET,
    )
    while True:
        foreground, background = rng.uniform(0, 255, size=(2, 3))
        if np.linalg.norm(foreground - background) >= MIN_COLOUR_DISTANCE:
            break
    image = background * (1 - mask[..., None]) + foreground * mask[..., None]
    image += rng.normal(0.0, NOISE_STD, size=image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)  # HWC


def _make_split(glyphs, labels, n_images, rng, bar):
    picks = rng.integers(0, len(glyphs), size=n_images)
    images = np.empty((n_images, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for i, pick in enumerate(picks):
        images[i] = render_image(glyphs[pick], rng)
        bar.update(1)
    # channel-planar rows: R plane, G plane, B plane
    data = images.transpose(0, 3, 1, 2).reshape(n_images, 3 * IMAGE_SIZE * IMAGE_SIZE)
    return data, [int(label) for label in labels[picks]]


def generate(out_root, seed=0, train_per_batch=1000, n_train_batches=5, n_test=1000, show_progress=True):
    """Write ``out_root/cifar-10-batches-py/{data_batch_1..N, test_batch, batches.meta, readme.html}``."""
    rng = make_rng(seed, NAME)
    out = out_root / NAME
    out.mkdir(parents=True)
    (train_glyphs, train_labels), (test_glyphs, test_labels) = digit_splits(rng)
    total = train_per_batch * n_train_batches + n_test
    with progress(desc=NAME, total=total, enabled=show_progress) as bar:
        for batch_index in range(1, n_train_batches + 1):
            data, labels = _make_split(train_glyphs, train_labels, train_per_batch, rng, bar)
            write_batch(out / f"data_batch_{batch_index}", f"training batch {batch_index} of {n_train_batches}",
                         data, labels)
        data, labels = _make_split(test_glyphs, test_labels, n_test, rng, bar)
        write_batch(out / "test_batch", "testing batch 1 of 1", data, labels)
    meta = {
        _Py2Str(b"num_cases_per_batch"): train_per_batch,
        _Py2Str(b"label_names"): [_Py2Str(name.encode()) for name in LABEL_NAMES],
        _Py2Str(b"num_vis"): 3 * IMAGE_SIZE * IMAGE_SIZE,
    }
    dump_py2_pickle(meta, out / "batches.meta")
    (out / "readme.html").write_text(
        "<p>Mini CIFAR-10 generated offline by mlperf_tiny.mini_data from sklearn's digits "
        "(class k = digit k). Numbers on it are mini-data numbers.</p>\n"
    )
    return [NAME]


def write_batch(path, batch_label, data, labels):
    """One batch file as the real CIFAR-10 python version holds it (a Python 2 pickle): ``data`` N x 3072 uint8
    rows of R, G, B planes, ``labels`` a list of ints."""
    batch = {
        _Py2Str(b"batch_label"): _Py2Str(batch_label.encode()),
        _Py2Str(b"labels"): labels,
        _Py2Str(b"data"): data,
        _Py2Str(b"filenames"): [
            _Py2Str(f"{LABEL_NAMES[label]}_s_{index:06d}.png".encode()) for index, label in enumerate(labels)
        ],
    }
    dump_py2_pickle(batch, path)

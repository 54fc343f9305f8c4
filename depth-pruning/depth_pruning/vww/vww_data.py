"""VWW image folders for the prune scripts: mlperf_tiny's layout checks, augmentation and split, in RGB or gray.

The original validates on the ``validation_split=0.1`` subset of the *same augmenting* generator (bug 5 in the
notes), so checkpoint selection and the reported accuracy see augmented images. Default here: the same 10%
files, un-augmented (``clean_validation=True``); ``--augmented_val`` restores the original.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc
from mlperf_tiny.visual_wake_words import train_vww
from mlperf_tiny.visual_wake_words.train_vww import (
    BATCH_SIZE,
    IMAGE_SIZE,
    VALIDATION_SPLIT,
    DatasetError,
    check_vww_dir,
)

COLOR_MODES = {3: "rgb", 1: "grayscale"}
CHANNELS = {mode: channels for channels, mode in COLOR_MODES.items()}


def check_data_dir(data_dir, verify_images=True):
    """``check_vww_dir`` with a bad folder reported as a usage error (one line, exit 2)."""
    try:
        return check_vww_dir(data_dir, verify_images=verify_images)
    except DatasetError as err:
        raise rc.UsageError(str(err)) from None


def make_generators(data_dir, color_mode="rgb", batch_size=BATCH_SIZE, validation_split=VALIDATION_SPLIT,
                    clean_validation=True, seed=0):
    """(train, validation) DirectoryIterators of mlperf_tiny's VWW recipe; ``flow_from_directory`` splits by sorted
    file order, so the clean and augmented validation subsets hold the same files."""
    return train_vww.make_generators(data_dir, batch_size=batch_size, validation_split=validation_split, seed=seed,
                                     clean_validation=clean_validation, color_mode=color_mode)


def load_clean_split(data_dir, color_mode="rgb", subset="validation", validation_split=VALIDATION_SPLIT):
    """Un-augmented float images in [0, 1] and integer labels of a split, in file order (validation_split=0 and
    subset="training": every image of the folder)."""
    return train_vww.load_split(data_dir, subset, validation_split, color_mode=color_mode)


def calibration_images(data_dir, color_mode="rgb", num_images=11):
    """The original's calibration set: the first ``num_images`` files of person/ (sorted), /255."""
    import numpy as np
    import tensorflow as tf

    paths = sorted(p for p in (data_dir / "person").iterdir() if p.is_file())[:num_images]
    channels = 1 if color_mode == "grayscale" else 3
    images = []
    for path in paths:
        image = tf.io.decode_image(tf.io.read_file(str(path)), channels=channels, expand_animations=False)
        images.append((tf.image.resize(image, [IMAGE_SIZE, IMAGE_SIZE]) / 255.0).numpy().astype(np.float32))
    return images


__all__ = ["check_vww_dir", "check_data_dir", "make_generators", "load_clean_split", "calibration_images", "COLOR_MODES"]

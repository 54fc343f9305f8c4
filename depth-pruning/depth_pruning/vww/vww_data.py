"""VWW image folders for the prune scripts: mlperf_tiny's layout checks, augmentation and split, in RGB or gray.

The original validates on the ``validation_split=0.1`` subset of the *same augmenting* generator (bug 5 in the
notes), so checkpoint selection and the reported accuracy see augmented images. Default here: the same 10%
files, un-augmented (``clean_validation=True``); ``--augmented_val`` restores the original.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.visual_wake_words.train_vww import (
    AUGMENTATION,
    BATCH_SIZE,
    CLASS_NAMES,
    IMAGE_SIZE,
    VALIDATION_SPLIT,
    check_vww_dir,
)

COLOR_MODES = {3: "rgb", 1: "grayscale"}


def make_generators(data_dir, color_mode="rgb", batch_size=BATCH_SIZE, validation_split=VALIDATION_SPLIT,
                    clean_validation=True, seed=0):
    """(train, validation) DirectoryIterators; ``flow_from_directory`` splits by sorted file order, so the
    clean and augmented validation subsets hold the same files."""
    import tensorflow as tf

    generator = tf.keras.preprocessing.image.ImageDataGenerator
    train_gen = generator(**AUGMENTATION, validation_split=validation_split, rescale=1.0 / 255)
    val_gen = generator(validation_split=validation_split, rescale=1.0 / 255) if clean_validation else train_gen
    common = dict(target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=batch_size, color_mode=color_mode,
                  classes=list(CLASS_NAMES), class_mode="categorical", seed=seed)
    train = train_gen.flow_from_directory(str(data_dir), subset="training", **common)
    val = val_gen.flow_from_directory(str(data_dir), subset="validation", **common)
    return train, val


def load_clean_split(data_dir, color_mode="rgb", subset="validation", validation_split=VALIDATION_SPLIT):
    """Un-augmented float images in [0, 1] and integer labels of a split, in file order."""
    import numpy as np
    import tensorflow as tf

    flow = tf.keras.preprocessing.image.ImageDataGenerator(validation_split=validation_split, rescale=1.0 / 255)
    flow = flow.flow_from_directory(str(data_dir), target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=64,
                                    color_mode=color_mode, classes=list(CLASS_NAMES), class_mode="sparse",
                                    subset=subset, shuffle=False)
    images, labels = zip(*(flow[i] for i in range(len(flow))))
    return np.concatenate(images).astype(np.float32), np.concatenate(labels).astype(np.int64)


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


__all__ = ["check_vww_dir", "make_generators", "load_clean_split", "calibration_images", "COLOR_MODES"]

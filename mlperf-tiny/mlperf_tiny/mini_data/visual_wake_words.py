"""Mini Visual Wake Words (imitates `vw_coco2014_96/{person,non_person}/*.jpg`, the Silicon Labs tarball of
COCO 2014 images resized to 96x96 RGB that the MLPerf Tiny VWW reference trains on).

person: the 100 real face patches of ``skimage.data.lfw_subset()`` and crops of the two photos of people
(astronaut, cameraman) that contain the person. non_person: the 100 real non-face patches of
``lfw_subset()`` and crops of photos without people (coffee, cat, rocket, coins, ...). Every image is a
random crop, flip, colour cast, brightness/contrast/saturation jitter and noise of its source, saved as a
96x96 RGB JPEG.

File names start with a group number: all augmentations of one face patch share a group, so the MLPerf
loader's ``validation_split`` (the first 10% of each class's sorted names) holds out whole patches.
"""

import numpy as np
from skimage import data

from ._common import colour_jitter, make_rng, progress, random_resized_crop, save_jpeg, to_rgb_float, to_uint8

NAME = "vw_coco2014_96"
IMAGE_SIZE = 96
LFW_FACES = slice(0, 100)  # lfw_subset(): the first 100 patches are faces, the last 100 are not
LFW_NON_FACES = slice(100, 200)
# (row, col) of each person in the photos of people, so crops keep the person in view.
PERSON_PHOTOS = {"astronaut": (100, 225), "camera": (150, 200)}
NON_PERSON_PHOTOS = ("coffee", "chelsea", "rocket", "hubble_deep_field", "coins", "brick", "grass",
                     "immunohistochemistry", "motorcycle", "clock")
LFW_CROP_SCALE = (0.7, 1.0)
PHOTO_CROP_SCALE = (0.08, 0.6)
CHANNEL_CAST = 0.15  # each RGB channel scaled by 1 +- this (tints the grayscale sources)
GRAYSCALE_PROBABILITY = 0.2
NOISE_STD = 0.02


def load_photo(name):
    if name == "motorcycle":
        return data.stereo_motorcycle()[0]
    return getattr(data, name)()


def augment(image, rng, scale, center=None):
    out = random_resized_crop(image, IMAGE_SIZE, rng, scale=scale, center=center)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < GRAYSCALE_PROBABILITY:
        out = np.repeat(out.mean(axis=2, keepdims=True), 3, axis=2)
    out = out * rng.uniform(1 - CHANNEL_CAST, 1 + CHANNEL_CAST, size=3)
    out = colour_jitter(out, rng) + rng.normal(0.0, NOISE_STD, size=out.shape)
    return to_uint8(out)


def _class_jobs(patches, photos, n_images, augs_per_patch, rng):
    """List of groups; each group is a list of (source name, image, crop scale, crop centre)."""
    # about half of the class from the patches, each patch augmented augs_per_patch times
    n_patch_groups = -(-min(n_images // 2, len(patches) * augs_per_patch) // augs_per_patch)
    groups = [[("lfw", patch, LFW_CROP_SCALE, None)] * augs_per_patch for patch in patches[:n_patch_groups]]
    n_left = n_images - sum(len(group) for group in groups)
    names = list(photos)
    for i in range(max(n_left, 0)):
        name = names[i % len(names)]
        image, center = photos[name]
        groups.append([(name, image, PHOTO_CROP_SCALE, center)])
    order = rng.permutation(len(groups))
    return [groups[i] for i in order]


def generate(out_root, seed=0, images_per_class=500, augs_per_patch=3, show_progress=True):
    """Write ``out_root/vw_coco2014_96/{person,non_person}/*.jpg`` (images_per_class each)."""
    rng = make_rng(seed, NAME)
    out = out_root / NAME
    lfw = [to_rgb_float(patch) for patch in data.lfw_subset()]
    classes = {
        "person": _class_jobs(
            lfw[LFW_FACES],
            {name: (to_rgb_float(load_photo(name)), center) for name, center in PERSON_PHOTOS.items()},
            images_per_class, augs_per_patch, rng),
        "non_person": _class_jobs(
            lfw[LFW_NON_FACES],
            {name: (to_rgb_float(load_photo(name)), None) for name in NON_PERSON_PHOTOS},
            images_per_class, augs_per_patch, rng),
    }
    with progress(desc=NAME, total=2 * images_per_class, enabled=show_progress) as bar:
        for class_name, groups in classes.items():
            class_dir = out / class_name
            class_dir.mkdir(parents=True)
            for group_index, group in enumerate(groups):
                for aug_index, (source, image, scale, center) in enumerate(group):
                    path = class_dir / f"{group_index:04d}_{aug_index:02d}_{source}.jpg"
                    save_jpeg(path, augment(image, rng, scale, center))
                    bar.update(1)
    return [NAME]

"""Helpers shared by the mini-dataset generators: seeded RNGs, progress bars, WAV/JPEG writers, digit glyphs."""

import wave

import numpy as np
from PIL import Image
from tqdm import tqdm

SAMPLE_RATE = 16000  # Speech Commands and ToyCar are both 16 kHz mono 16-bit.
# Quality of the JPEGs we write (PIL's default is 75; the VWW and ImageNet JPEGs are high quality).
JPEG_QUALITY = 90
# Fraction of sklearn's 1,797 digits kept aside for the test splits, so test images are never
# augmentations of a training glyph.
DIGIT_TEST_FRACTION = 0.2


def make_rng(seed, dataset_name):
    """An independent RNG per dataset, so generating one dataset alone gives the same bytes."""
    return np.random.default_rng([seed, *dataset_name.encode()])


def progress(iterable=None, *, desc, total=None, enabled=True):
    return tqdm(iterable, desc=f"{desc:<16}", total=total, unit="file", disable=not enabled, leave=True)


def write_wav_int16(path, samples, sample_rate=SAMPLE_RATE):
    """Mono 16-bit PCM RIFF WAV with the plain 44-byte header (as in Speech Commands and ToyADMOS)."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        samples = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def read_wav_int16(path):
    """(samples int16, sample_rate) of a mono 16-bit WAV."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()


def save_jpeg(path, image_uint8):
    Image.fromarray(image_uint8, mode="RGB").save(path, format="JPEG", quality=JPEG_QUALITY)


def to_rgb_float(image):
    """Any skimage photo (gray, bool, RGB, RGBA, uint8 or float) as float32 HxWx3 in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.float32)
    elif image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    else:
        image = image.astype(np.float32)
        image = (image - image.min()) / max(float(image.max() - image.min()), 1e-8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def random_resized_crop(image, out_size, rng, scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3), center=None):
    """torchvision-style RandomResizedCrop of a float HxWx3 image, resized with bicubic to out_size.

    With ``center=(row, col)`` the crop is forced to contain that point (e.g. the person in a photo).
    """
    height, width = image.shape[:2]
    area = height * width
    for _ in range(20):
        crop_area = area * rng.uniform(*scale)
        aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
        crop_w = int(round(np.sqrt(crop_area * aspect)))
        crop_h = int(round(np.sqrt(crop_area / aspect)))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            break
    else:
        crop_h, crop_w = height, width
    if center is None:
        top = int(rng.integers(0, height - crop_h + 1))
        left = int(rng.integers(0, width - crop_w + 1))
    else:
        top = int(np.clip(center[0] - rng.integers(0, crop_h), 0, height - crop_h))
        left = int(np.clip(center[1] - rng.integers(0, crop_w), 0, width - crop_w))
    crop = image[top : top + crop_h, left : left + crop_w]
    return resize_float(crop, out_size)


def resize_float(image, out_size):
    """Bicubic resize of a float HxWxC image in [0, 1] to out_size x out_size (per channel, via PIL 'F')."""
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(image[:, :, c])).resize((out_size, out_size), Image.BICUBIC))
        for c in range(image.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0)


def colour_jitter(image, rng, brightness=0.3, contrast=0.3, saturation=0.3):
    """Brightness/contrast/saturation jitter of a float RGB image (factors drawn in 1 +- the given amounts)."""
    image = image * rng.uniform(1 - brightness, 1 + brightness)
    mean = image.mean()
    image = (image - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    gray = image.mean(axis=2, keepdims=True)
    image = (image - gray) * rng.uniform(1 - saturation, 1 + saturation) + gray
    return np.clip(image, 0.0, 1.0)


def to_uint8(image):
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def digit_splits(rng):
    """sklearn's bundled 8x8 digits (values 0..16 -> [0, 1]) split into disjoint train/test glyph sets."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    order = rng.permutation(len(images))
    n_test = int(round(len(images) * DIGIT_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return (images[train], digits.target[train]), (images[test], digits.target[test])


def render_digit(glyph, glyph_size, canvas_size, rng, max_rotation_deg, max_offset):
    """Upsample an 8x8 glyph to glyph_size (bicubic), rotate, and paste it at a jittered spot of a canvas.

    Returns a float mask in [0, 1] of shape (canvas_size, canvas_size).
    """
    big = Image.fromarray(glyph).resize((glyph_size, glyph_size), Image.BICUBIC)
    big = big.rotate(rng.uniform(-max_rotation_deg, max_rotation_deg), resample=Image.BILINEAR)
    mask = np.zeros((canvas_size, canvas_size), np.float32)
    start = (canvas_size - glyph_size) // 2
    top = int(np.clip(start + rng.integers(-max_offset, max_offset + 1), 0, canvas_size - glyph_size))
    left = int(np.clip(start + rng.integers(-max_offset, max_offset + 1), 0, canvas_size - glyph_size))
    mask[top : top + glyph_size, left : left + glyph_size] = np.clip(np.asarray(big), 0.0, 1.0)
    return mask

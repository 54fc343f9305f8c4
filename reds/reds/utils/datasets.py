"""Datasets of the REDS scripts as numpy arrays: Speech Commands MFCCs, Fashion-MNIST, CIFAR-10.

- Speech Commands: file lists and WAV reading from ``mlperf_tiny.keyword_spotting.get_dataset`` (the
  extracted v0.02 tarballs or the mini version), MFCCs from its public ``compute_mfcc`` with REDS's front-end
  parameters (40 ms window, 20 ms stride -> 49x10; the DNN scripts 40 ms stride -> 25x10). The training split
  keeps ``silence_percentage`` / ``unknown_percentage`` of silence and unknown clips as the ARM
  ``AudioProcessor`` does. Features are computed once and cached as ``.npz`` next to the data. Training-time
  augmentation as the ARM ``AudioProcessor`` (time shift, background noise mixed in with probability
  ``background_frequency`` at volume U(0, ``background_volume``), clipped to [-1, 1]) is redrawn per clip and
  epoch by ``SpeechAugmentation`` from the training waveforms (``load_speech_commands(keep_train_audio=True)``).
- Fashion-MNIST: the four idx ``.gz`` files (downloaded with md5 checks by ``download_fashion_mnist``).
- CIFAR-10: the python pickles via ``mlperf_tiny.image_classification.train.load_cifar_10_data``.

Vision "validation" is the test set, as in the original (quirk Q13).
"""

import gzip
import hashlib
import struct
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FILES = {  # file -> md5 (as published with the dataset)
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
KWS_SPLIT_SEED = 59185  # ARM AudioProcessor's random seed for silence/unknown sampling


class DatasetError(FileNotFoundError):
    """Missing or malformed dataset; the message names the expected layout and how to get it."""


# ------------------------------------------------------------------------------------------ Speech Commands


def _kws_cache_name(window_size_ms, window_stride_ms, dct_coefficient_count, silence_percentage, unknown_percentage):
    return (f"reds_mfcc_w{window_size_ms:g}_s{window_stride_ms:g}_d{dct_coefficient_count}"
            f"_sil{silence_percentage:g}_unk{unknown_percentage:g}.npz")


def _subsample_train(entries, silence_percentage, unknown_percentage, seed):
    from mlperf_tiny.keyword_spotting.get_dataset import LABELS, SILENCE, UNKNOWN

    silence, unknown = LABELS.index(SILENCE), LABELS.index(UNKNOWN)
    words = [e for e in entries if e[1] not in (silence, unknown)]
    rng = np.random.RandomState(seed)
    kept = list(words)
    for label, percentage in ((silence, silence_percentage), (unknown, unknown_percentage)):
        pool = [e for e in entries if e[1] == label]
        count = min(len(pool), int(np.ceil(len(words) * percentage / 100)))
        kept += [pool[i] for i in rng.permutation(len(pool))[:count]]
    # one seeded shuffle, then the same order every epoch (quirk Q23)
    return [kept[i] for i in rng.permutation(len(kept))]


def _read_clips(base, entries):
    """int16 waveforms [N, 16000] (zero-padded) of split entries (files or 1 s windows of noise files)."""
    from mlperf_tiny.keyword_spotting.get_dataset import SAMPLE_RATE, read_wav
    from tqdm import tqdm

    noise = {}
    audio = np.zeros((len(entries), SAMPLE_RATE), np.int16)
    for i, (item, _) in enumerate(tqdm(entries, desc="read wav", unit="clip", leave=False)):
        if isinstance(item, tuple | list):
            rel, start = item
            if rel not in noise:
                noise[rel] = read_wav(base / rel)
            clip = noise[rel][start : start + SAMPLE_RATE]
        else:
            clip = read_wav(base / item)[:SAMPLE_RATE]
        audio[i, : len(clip)] = clip
    return audio


def _kws_features(base, entries, window_size_ms, window_stride_ms, dct_coefficient_count, batch=256):
    import tensorflow as tf
    from mlperf_tiny.keyword_spotting.get_dataset import compute_mfcc

    audio = _read_clips(base, entries).astype(np.float32) / 32768.0
    features = [compute_mfcc(tf.constant(audio[i : i + batch]), window_size_ms=window_size_ms,
                             window_stride_ms=window_stride_ms, dct_coefficient_count=dct_coefficient_count).numpy()
                for i in range(0, len(audio), batch)]
    return np.concatenate(features)[..., None].astype(np.float32)


def load_speech_commands(data_dir, window_size_ms=40.0, window_stride_ms=20.0, dct_coefficient_count=10,
                         silence_percentage=10.0, unknown_percentage=10.0, cache_dir=None, keep_train_audio=False):
    """{'train'|'validation'|'test': (features [N, T, 10, 1] float32, labels [N] int64)}.

    ``cache_dir``: where the features are cached (one file per data folder and front-end setting).
    ``keep_train_audio``: also return ``'train_audio'`` (int16 waveforms [N, 16000], same labels and order as
    ``'train'``) and ``'background_noise'`` (the training noise files, float [-1, 1]) for ``SpeechAugmentation``.
    """
    data = _load_speech_features(data_dir, window_size_ms, window_stride_ms, dct_coefficient_count,
                                 silence_percentage, unknown_percentage, cache_dir)
    if keep_train_audio:
        data["train_audio"] = (_train_audio(data_dir, silence_percentage, unknown_percentage, cache_dir),
                               data["train"][1])
        data["background_noise"] = training_noise(data_dir)
    return data


def _cache_path(cache_dir, data_dir, name):
    tag = hashlib.md5(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]
    return Path(cache_dir) / f"{tag}_{name}"


def _read_cache(path, keys):
    """The arrays of an ``.npz`` cache, or None when it is missing or corrupt (then it is deleted)."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path) as f:
            return {k: f[k] for k in keys}
    except (OSError, KeyError, ValueError):
        path.unlink()  # an interrupted write is recomputed
        return None


def _write_cache(path, arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _train_entries(data_dir, silence_percentage, unknown_percentage):
    from mlperf_tiny.keyword_spotting.get_dataset import list_split_files

    base, entries = list_split_files(data_dir, "train")
    return base, _subsample_train(entries, silence_percentage, unknown_percentage, KWS_SPLIT_SEED)


def _train_audio(data_dir, silence_percentage, unknown_percentage, cache_dir):
    path = None if cache_dir is None else _cache_path(
        cache_dir, data_dir, f"reds_audio_sil{silence_percentage:g}_unk{unknown_percentage:g}.npz")
    cached = _read_cache(path, ["audio"])
    if cached is not None:
        return cached["audio"]
    base, entries = _train_entries(data_dir, silence_percentage, unknown_percentage)
    audio = _read_clips(base, entries)
    if path is not None:
        _write_cache(path, {"audio": audio})
    return audio


def training_noise(data_dir):
    """Background-noise waveforms for training augmentation (float [-1, 1]); the validation noise file is left
    out, since its windows are the validation split's silence clips."""
    from mlperf_tiny.keyword_spotting.get_dataset import (
        BACKGROUND_NOISE_DIR_NAME,
        SAMPLE_RATE,
        TRAIN_DIR,
        VALIDATION_NOISE_FILE,
        read_wav,
    )

    folder = Path(data_dir) / TRAIN_DIR / BACKGROUND_NOISE_DIR_NAME
    paths = [p for p in sorted(folder.glob("*.wav")) if p.name != VALIDATION_NOISE_FILE]
    clips = [read_wav(p).astype(np.float32) / 32768.0 for p in paths]
    return [c for c in clips if len(c) > SAMPLE_RATE]


class SpeechAugmentation:
    """The ARM ``AudioProcessor`` training augmentation on a batch of waveforms, then the MFCC front end.

    Per clip: a time shift drawn from U{-s, ..., s} samples (zero padding), and with probability
    ``background_frequency`` a random window of a random noise file at volume U(0, ``background_volume``),
    the sum clipped to [-1, 1]. Draws come from a seeded numpy generator, so a run is reproducible. The training
    loops read ``data[augment.source]`` (the waveforms) instead of the cached features.
    """

    source = "train_audio"

    def __init__(self, noise, time_shift_samples, background_frequency, background_volume, window_size_ms,
                 window_stride_ms, dct_coefficient_count, seed=0):
        self.noise = [np.asarray(n, np.float32) for n in noise]
        self.time_shift_samples = int(time_shift_samples)
        self.background_frequency = float(background_frequency) if self.noise else 0.0
        self.background_volume = float(background_volume)
        self.mfcc = {"window_size_ms": window_size_ms, "window_stride_ms": window_stride_ms,
                     "dct_coefficient_count": dct_coefficient_count}
        self.rng = np.random.RandomState(seed)

    def reseed(self, seed):
        self.rng = np.random.RandomState(seed)

    def mix(self, audio):
        """Shifted and noise-mixed float waveforms [B, S] from int16 (or float [-1, 1]) waveforms [B, S]."""
        audio = np.asarray(audio)
        wav = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
        batch, samples = wav.shape
        s = self.time_shift_samples
        if s:
            padded = np.pad(wav, [(0, 0), (s, s)])
            starts = s - self.rng.randint(-s, s + 1, batch)
            wav = padded[np.arange(batch)[:, None], starts[:, None] + np.arange(samples)[None, :]]
        if self.background_frequency > 0:
            volumes = np.where(self.rng.uniform(size=batch) < self.background_frequency,
                               self.rng.uniform(0, self.background_volume, batch), 0.0).astype(np.float32)
            noise = np.empty_like(wav)
            for i, n in enumerate(self.rng.randint(len(self.noise), size=batch)):
                start = self.rng.randint(0, len(self.noise[n]) - samples + 1)
                noise[i] = self.noise[n][start : start + samples]
            wav = np.clip(wav + noise * volumes[:, None], -1.0, 1.0)
        return wav

    def __call__(self, audio):
        import tensorflow as tf
        from mlperf_tiny.keyword_spotting.get_dataset import compute_mfcc

        features = compute_mfcc(tf.constant(self.mix(audio)), **self.mfcc)
        return features[..., None]


def _load_speech_features(data_dir, window_size_ms, window_stride_ms, dct_coefficient_count, silence_percentage,
                          unknown_percentage, cache_dir):
    from mlperf_tiny.keyword_spotting.get_dataset import (
        LAYOUT_HELP,
        DatasetLayoutError,
        directory_layout_ok,
        list_split_files,
    )

    data_dir = Path(data_dir)
    names = [f"{s}_{k}" for s in ("train", "validation", "test") for k in ("x", "y")]
    cache_path = None if cache_dir is None else _cache_path(cache_dir, data_dir, _kws_cache_name(
        window_size_ms, window_stride_ms, dct_coefficient_count, silence_percentage, unknown_percentage))
    cached = _read_cache(cache_path, names)
    if cached is not None:
        return {s: (cached[f"{s}_x"], cached[f"{s}_y"]) for s in ("train", "validation", "test")}
    if not directory_layout_ok(data_dir):
        raise DatasetError(f"{data_dir} is not an extracted Speech Commands v0.02 folder. {LAYOUT_HELP}")
    splits = {}
    try:
        for split in ("train", "validation", "test"):
            if split == "train":
                base, entries = _train_entries(data_dir, silence_percentage, unknown_percentage)
            else:
                base, entries = list_split_files(data_dir, split)
            x = _kws_features(base, entries, window_size_ms, window_stride_ms, dct_coefficient_count)
            splits[split] = (x, np.array([label for _, label in entries], np.int64))
    except (DatasetLayoutError, FileNotFoundError) as err:
        raise DatasetError(f"{err}\nFor REDS pass --data_dir pointing at that folder (MINI=1 uses data/mini).") from err
    if cache_path is not None:
        _write_cache(cache_path, {f"{s}_{k}": v for s, (x, y) in splits.items() for k, v in (("x", x), ("y", y))})
    return splits


# ------------------------------------------------------------------------------------------- Fashion-MNIST


def _read_idx(path, magic, dims):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
        header = struct.unpack(">" + "I" * (1 + dims), data[: 4 * (1 + dims)])
    except (OSError, EOFError, struct.error) as err:
        raise DatasetError(f"corrupt idx file {path}: {err}; delete it and download again") from err
    if header[0] != magic:
        raise DatasetError(f"{path}: magic {header[0]}, expected {magic}; not a Fashion-MNIST idx file")
    array = np.frombuffer(data, np.uint8, offset=4 * (1 + dims))
    if array.size != int(np.prod(header[1:])):
        raise DatasetError(f"{path}: truncated ({array.size} values, header says {header[1:]})")
    return array.reshape(header[1:])


def download_fashion_mnist(data_dir):
    """Fetch the four idx files with md5 checks into ``data_dir`` (a clear error when offline)."""
    from mlperf_tiny.download import Dataset, RemoteFile, fetch

    dataset = Dataset("fashion_mnist", "reds-fashion-mnist-data", (), "four idx .gz files")
    for name, md5 in FASHION_MNIST_FILES.items():
        fetch(RemoteFile(FASHION_MNIST_URL + name, name, md5=md5), data_dir, dataset)


def load_fashion_mnist(data_dir):
    """{'train'|'validation'|'test': (images [N, 28, 28, 1] float32 in [0, 1], labels int64)}; val = test."""
    data_dir = Path(data_dir)
    missing = [n for n in FASHION_MNIST_FILES if not (data_dir / n).is_file()]
    if missing:
        raise DatasetError(f"{data_dir} lacks {', '.join(missing)}. Expected the four Fashion-MNIST idx .gz files; "
                           f"get them with `make reds-fashion-mnist-data` or use the mini version (`make mini-data`, "
                           f"then --data_dir data/mini/fashion_mnist)")
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz", 2051, 3)
        labels = _read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz", 2049, 1)
        out[split] = ((images[..., None] / 255.0).astype(np.float32), labels.astype(np.int64))
    out["validation"] = out["test"]
    return out


def load_cifar10(data_dir):
    """{'train'|'validation'|'test': (images [N, 32, 32, 3] normalised per channel, labels int64)}; val = test."""
    from mlperf_tiny.image_classification.train import load_cifar_10_data

    train_x, _, train_y, test_x, _, test_y, _ = load_cifar_10_data(data_dir)
    mean, std = np.array(CIFAR10_MEAN, np.float32), np.array(CIFAR10_STD, np.float32)

    def norm(x):
        return ((x.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)

    out = {"train": (norm(train_x), train_y.argmax(1)), "test": (norm(test_x), test_y.argmax(1))}
    out["validation"] = out["test"]
    return out


def file_md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------- augmentation


def vision_augment(x, pad=2, flip=True, rotation_rad=0.0, rotation_probability=0.0):
    """Training augmentation of the vision scripts on a batch: horizontal flip, 2-px pad+crop shift, and
    (Fashion-MNIST) rotation by U(-r, r) with probability p. TF ops (the original's ``.astype`` needed numpy)."""
    import tensorflow as tf

    if flip:
        x = tf.image.random_flip_left_right(x)
    if pad:
        h, w = x.shape[1], x.shape[2]
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
        x = tf.image.random_crop(x, [tf.shape(x)[0], h, w, x.shape[3]])
    if rotation_rad and rotation_probability:
        n = tf.shape(x)[0]
        angles = tf.random.uniform([n], -rotation_rad, rotation_rad)
        angles = tf.where(tf.random.uniform([n]) < rotation_probability, angles, tf.zeros_like(angles))
        h, w = float(x.shape[1]), float(x.shape[2])
        cos, sin = tf.cos(angles), tf.sin(angles)
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # output->input projective transform of a rotation about the centre
        transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy,
                              tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
        x = tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=transform, output_shape=tf.shape(x)[1:3],
                                                  fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return x

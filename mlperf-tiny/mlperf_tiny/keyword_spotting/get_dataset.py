"""Speech Commands v0.02 for KWS (v0.5 ``get_dataset.py``): waveforms -> MFCC/LFBE features -> tf.data.

Two sources give the same examples:
- ``tfds``: ``tfds.load('speech_commands')`` from a prepared tfds ``data_dir`` (what v0.5 uses; never downloads
  unless ``--download``);
- ``directory``: the extracted tarballs, ``<data_dir>/speech_commands/`` and
  ``<data_dir>/speech_commands_test_set_v0.02/``, split exactly as the tfds builder splits them (all 25 other
  words -> _unknown_; 1 s background-noise windows with 0.5 s hop -> _silence_, running_tap.wav in validation).

The feature functions (``compute_mfcc``, ``compute_lfbe``) are public and take every parameter as an argument:
trecx, depth_pruning and reds import them. Features are computed once and cached (``--cache_features``); the
reference recomputed them every epoch (``--no-cache_features``), which gives the same numbers because its
training augmentation is fixed at trace time (see ``preprocess_audio``).
"""

import contextlib
import os
from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

SAMPLE_RATE = 16000
WORDS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
LABELS = WORDS + [SILENCE, UNKNOWN]  # tfds ClassLabel order
WORD_LABELS = ["Down", "Go", "Left", "No", "Off", "On", "Right", "Stop", "Up", "Yes", "Silence", "Unknown"]
BACKGROUND_NOISE_DIR_NAME = "_background_noise_"
VALIDATION_NOISE_FILE = "running_tap.wav"  # the tfds builder puts this noise file in validation
TRAIN_DIR = "speech_commands"
TEST_DIR = "speech_commands_test_set_v0.02"
# The tfds builder stores examples in a fixed pseudo-random order and v0.5 batches before shuffling, so that
# order decides the batch composition; the directory source mimics it with a seeded permutation.
FILE_ORDER_SEED = 1234
# Calibration set: 10 validation clips per class drawn with seed 2 (v0.5 mk_cal_set.py / quant_cal_idxs.txt).
CAL_SAMPLES_PER_CLASS = 10
CAL_SEED = 2

LAYOUT_HELP = (
    "Expected either a tfds data_dir holding a prepared speech_commands dataset (speech_commands/0.0.3/...), or "
    "the extracted tarballs: <data_dir>/speech_commands/<word>/*.wav (16 kHz mono 16-bit) with "
    "validation_list.txt, testing_list.txt and _background_noise_/, plus "
    "<data_dir>/speech_commands_test_set_v0.02/<label>/*.wav (labels: the 10 words, _silence_, _unknown_). "
    "Download them with `make mlperf-kws-data` (python -m mlperf_tiny.download speech_commands --data_dir DATA), "
    "or generate the offline mini version with `make mini-data` (then --data_dir data/mini)."
)


class DatasetLayoutError(rc.UsageError, FileNotFoundError):
    """The data directory is missing or not laid out as Speech Commands; the message says what is expected."""


CORRUPT_WAV = "corrupt or unsupported WAV file"


@contextlib.contextmanager
def data_errors():
    """Report a corrupt WAV met inside a tf.data pipeline as one line naming it (TF wraps the reader's
    ValueError, traceback text included, in an OpError)."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as err:
        line = next((line for line in str(err.message).splitlines() if CORRUPT_WAV in line), None)
        if line is None:
            raise
        from mlperf_tiny.run_utils import close_progress_bars

        close_progress_bars()
        raise rc.UsageError(line[line.index(CORRUPT_WAV):].strip()) from None


# ----------------------------------------------------------------------------------------------- features
def compute_mfcc(waveform, sample_rate=SAMPLE_RATE, window_size_ms=30.0, window_stride_ms=20.0,
                 dct_coefficient_count=10, num_mel_bins=40, lower_edge_hertz=20.0, upper_edge_hertz=4000.0,
                 log_offset=1e-6):
    """MFCCs as v0.5 computes them: |STFT| (periodic Hann, FFT = next power of two) -> HTK mel -> log -> DCT.

    waveform: float32 tensor [..., samples] in [-1, 1]. Returns [..., frames, dct_coefficient_count]
    (49 x 10 for a 1 s clip at the defaults). Magnitude, not power; mel filters from
    ``tf.signal.linear_to_mel_weight_matrix``; log(mel + 1e-6); ``mfccs_from_log_mel_spectrograms``.
    """
    import tensorflow as tf

    frame_length = int(sample_rate * window_size_ms / 1000)
    frame_step = int(sample_rate * window_stride_ms / 1000)
    stfts = tf.signal.stft(waveform, frame_length=frame_length, frame_step=frame_step, fft_length=None,
                           window_fn=tf.signal.hann_window)
    spectrograms = tf.abs(stfts)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(num_mel_bins, stfts.shape[-1], sample_rate,
                                                       lower_edge_hertz, upper_edge_hertz)
    mel = tf.tensordot(spectrograms, mel_matrix, 1)
    mel.set_shape(spectrograms.shape[:-1].concatenate(mel_matrix.shape[-1:]))
    log_mel = tf.math.log(mel + log_offset)
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :dct_coefficient_count]


def compute_lfbe(waveform, sample_rate=SAMPLE_RATE, window_size_ms=30.0, window_stride_ms=20.0, num_mel_bins=40,
                 preemphasis_coef=1 - 2**-5, power_offset=52.0):
    """Log filterbank energies as the MLPerf Tiny ``lfbe`` feature: pre-emphasis, non-periodic Hamming STFT,
    power spectrum / frame length, mel 0..sr/2, 10*log10, then (x + power_offset) / 64 clipped to [0, 1].

    waveform: float32 [samples]. Returns [frames, num_mel_bins].
    """
    import functools

    import tensorflow as tf

    frame_length = int(sample_rate * window_size_ms / 1000)
    frame_step = int(sample_rate * window_stride_ms / 1000)
    padded = tf.pad(waveform, [[1, 0]])
    emphasized = padded[1:] - preemphasis_coef * padded[:-1]
    stfts = tf.signal.stft(emphasized, frame_length=frame_length, frame_step=frame_step, fft_length=None,
                           window_fn=functools.partial(tf.signal.hamming_window, periodic=False), pad_end=False)
    power = tf.square(tf.abs(stfts)) / frame_length
    power = tf.clip_by_value(power, 1e-30, tf.reduce_max(power))  # avoids log(0)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(num_mel_bins, stfts.shape[-1], sample_rate, 0.0,
                                                       sample_rate / 2.0)
    mel = tf.tensordot(power, mel_matrix, 1)
    log_mel = 10.0 * tf.math.log(mel) / tf.math.log(10.0)
    return tf.clip_by_value((log_mel + power_offset) / 64.0, 0.0, 1.0)


def compute_features(waveform, model_settings):
    """[samples] float waveform -> the model input [frames, coefficients, 1] for ``feature_type``."""
    import tensorflow as tf

    feature_type = model_settings["feature_type"]
    sample_rate = model_settings["sample_rate"]
    window_size_ms = 1000.0 * model_settings["window_size_samples"] / sample_rate
    window_stride_ms = 1000.0 * model_settings["window_stride_samples"] / sample_rate
    if feature_type == "mfcc":
        features = compute_mfcc(waveform, sample_rate, window_size_ms, window_stride_ms,
                                model_settings["dct_coefficient_count"],
                                num_mel_bins=model_settings.get("num_mel_bins", 40))
    elif feature_type == "lfbe":
        features = compute_lfbe(waveform, sample_rate, window_size_ms, window_stride_ms,
                                num_mel_bins=model_settings["dct_coefficient_count"])
    elif feature_type == "td_samples":
        return tf.reshape(waveform, [model_settings["desired_samples"], 1, 1])
    else:
        raise ValueError(f"unknown feature_type {feature_type!r}; use mfcc, lfbe or td_samples")
    return tf.reshape(features, [model_settings["spectrogram_length"], model_settings["dct_coefficient_count"], 1])


# ----------------------------------------------------------------------------------------- preprocessing
def load_background_data(bg_path):
    """Float waveforms of ``<bg_path>/_background_noise_/*.wav`` ([] when the folder does not exist, as v0.5)."""
    background_dir = Path(bg_path) / BACKGROUND_NOISE_DIR_NAME
    if not background_dir.is_dir():
        return []
    paths = sorted(background_dir.glob("*.wav"))
    if not paths:
        raise FileNotFoundError(f"no background wav files in {background_dir}")
    return [read_wav(path).astype(np.float32) / 32768.0 for path in paths]


def get_preprocess_audio_func(model_settings, is_training=False, background_data=(), time_shift_samples=0,
                              noise_per_clip=False, rng=None):
    """Map function {'audio': int16 [n], 'label'} -> {'audio': features, 'label'} (v0.5 preprocessing).

    Faithful behaviour (defaults):
    - the clip is divided by its maximum sample (not the absolute maximum) and zero-padded to 1 s;
    - the "time shift" pads 2 samples each side and slices from offset 2: a no-op;
    - with background data, the noise file, offset and volume are numpy draws made once when the map function is
      traced, so every training clip gets the same noise slice at the same volume.
    Fixes: ``time_shift_samples > 0`` shifts each training clip by a uniform random offset in
    [-time_shift_samples, time_shift_samples]; ``noise_per_clip=True`` draws file, offset and volume per clip.
    """
    import tensorflow as tf

    desired_samples = model_settings["desired_samples"]
    background_frequency = model_settings["background_frequency"]
    background_volume_range = model_settings["background_volume_range_"]
    rng = rng if rng is not None else np.random
    use_noise = is_training and len(background_data) > 0
    if use_noise and noise_per_clip:
        noise_table = tf.constant(np.stack([b[: min(len(x) for x in background_data)] for b in background_data]))

    def prepare_processing_graph(next_element):
        wav = tf.cast(next_element["audio"], tf.float32)
        if model_settings["feature_type"] != "td_samples":
            # max, not abs-max, as the reference; the guard only matters for an all-zero clip (NaN otherwise).
            wav = wav / tf.maximum(tf.reduce_max(wav), 1e-12)
        else:
            wav = wav / 32768.0
        wav = tf.pad(wav, [[0, desired_samples - tf.shape(wav)[-1]]])
        if is_training and time_shift_samples > 0:
            shift = tf.random.uniform([], -time_shift_samples, time_shift_samples + 1, dtype=tf.int32)
            padded = tf.pad(wav, [[time_shift_samples, time_shift_samples]])
            wav = tf.slice(padded, [time_shift_samples - shift], [desired_samples])
        else:
            wav = tf.slice(tf.pad(wav, [[2, 2]]), [2], [desired_samples])  # the reference's no-op shift
        if use_noise:
            if noise_per_clip:
                index = tf.random.uniform([], 0, noise_table.shape[0], dtype=tf.int32)
                offset = tf.random.uniform([], 0, noise_table.shape[1] - desired_samples, dtype=tf.int32)
                noise = tf.slice(noise_table[index], [offset], [desired_samples])
                volume = tf.where(tf.random.uniform([]) < background_frequency,
                                  tf.random.uniform([], 0, background_volume_range), 0.0)
            else:
                samples = background_data[rng.randint(len(background_data))]
                offset = rng.randint(0, len(samples) - desired_samples)
                noise = tf.constant(samples[offset : offset + desired_samples], tf.float32)
                volume = rng.uniform(0, background_volume_range) if rng.uniform(0, 1) < background_frequency else 0.0
            wav = tf.clip_by_value(wav + noise * volume, -1.0, 1.0)
        return {"audio": compute_features(wav, model_settings), "label": next_element["label"]}

    return prepare_processing_graph


# ------------------------------------------------------------------------------------------------ sources
def read_wav(path):
    """int16 mono samples of a 16-bit PCM WAV; a clear error naming the file when it is corrupt."""
    import wave

    try:
        with wave.open(str(path), "rb") as f:
            if f.getsampwidth() != 2:
                raise ValueError(f"sample width {8 * f.getsampwidth()} bits, expected 16")
            channels = f.getnchannels()
            frames = f.readframes(f.getnframes())
        samples = np.frombuffer(frames, dtype="<i2")
        if channels > 1:
            samples = samples.reshape(-1, channels)[:, 0]
        return samples
    except (wave.Error, EOFError, ValueError) as err:
        raise ValueError(f"{CORRUPT_WAV} {path}: {err}. Re-extract or delete it.") from err


def _label_of(word):
    if word in WORDS:
        return LABELS.index(word)
    if word in (SILENCE, BACKGROUND_NOISE_DIR_NAME):
        return LABELS.index(SILENCE)
    return LABELS.index(UNKNOWN)


def directory_layout_ok(data_dir):
    root = Path(data_dir) / TRAIN_DIR
    return (root / "validation_list.txt").is_file() and (root / "testing_list.txt").is_file()


def list_split_files(data_dir, split):
    """[(relative wav path or (noise path, start), label)] of a split, in the (seeded) stored order."""
    data_dir = Path(data_dir)
    if split == "test":
        root = data_dir / TEST_DIR
        if not root.is_dir():
            raise DatasetLayoutError(f"missing test set directory {root}. {LAYOUT_HELP}")
        entries = [(str(p.relative_to(root)), _label_of(p.parent.name)) for p in sorted(root.glob("*/*.wav"))]
        base = root
    else:
        root = data_dir / TRAIN_DIR
        validation = set((root / "validation_list.txt").read_text().split())
        testing = set((root / "testing_list.txt").read_text().split())
        wavs = sorted(str(p.relative_to(root)) for p in root.glob("*/*.wav"))
        entries = []
        for rel in wavs:
            word = rel.split("/")[0]
            if word == BACKGROUND_NOISE_DIR_NAME:
                is_val = rel.endswith("/" + VALIDATION_NOISE_FILE)
                if is_val == (split == "validation"):
                    entries.extend(((rel, start), LABELS.index(SILENCE)) for start in _noise_window_starts(root / rel))
            elif (rel in validation) == (split == "validation") and rel not in testing:
                entries.append((rel, _label_of(word)))
        base = root
    if not entries:
        raise DatasetLayoutError(f"no WAV files for the {split} split under {root}. {LAYOUT_HELP}")
    order = np.random.RandomState(FILE_ORDER_SEED).permutation(len(entries))
    return base, [entries[i] for i in order]


def _noise_window_starts(path):
    num_samples = len(read_wav(path))
    return list(range(0, num_samples - SAMPLE_RATE, SAMPLE_RATE // 2))


def directory_dataset(data_dir, split):
    """tf.data of {'audio': int16 [<=16000], 'label': int64} read lazily from the extracted tarballs."""
    import tensorflow as tf

    base, entries = list_split_files(data_dir, split)
    noise_cache = {}

    def generate():
        for item, label in entries:
            if isinstance(item, tuple):  # a 1 s window of a background-noise file
                rel, start = item
                if rel not in noise_cache:
                    noise_cache[rel] = read_wav(base / rel)
                audio = noise_cache[rel][start : start + SAMPLE_RATE]
            else:
                audio = read_wav(base / item)[:SAMPLE_RATE]
            yield {"audio": audio, "label": np.int64(label)}

    signature = {"audio": tf.TensorSpec([None], tf.int16), "label": tf.TensorSpec([], tf.int64)}
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(entries))), [label for _, label in entries]


def tfds_datasets(data_dir, download=False):
    """(train, test, validation) from tfds; fails fast (no network retries) when not prepared and not download."""
    import tensorflow_datasets as tfds

    if not download and not (Path(data_dir) / "speech_commands").is_dir():
        raise DatasetLayoutError(f"no prepared tfds speech_commands under {data_dir}. {LAYOUT_HELP}")
    return tfds.load("speech_commands", split=["train", "test", "validation"], data_dir=str(data_dir),
                     download=download)


def resolve_data_source(data_dir, data_source="auto"):
    data_dir = Path(os.path.expanduser(str(data_dir)))
    if not data_dir.is_dir():
        raise DatasetLayoutError(f"data directory {data_dir} does not exist. {LAYOUT_HELP}")
    if data_source == "auto":
        if directory_layout_ok(data_dir):
            return "directory"
        if any((data_dir / "speech_commands").glob("*/dataset_info.json")):
            return "tfds"
        raise DatasetLayoutError(f"{data_dir} holds neither layout. {LAYOUT_HELP}")
    if data_source == "directory" and not directory_layout_ok(data_dir):
        raise DatasetLayoutError(f"{data_dir / TRAIN_DIR} lacks validation_list.txt/testing_list.txt. {LAYOUT_HELP}")
    return data_source


def raw_test_split(Flags):  # noqa: N803
    """The raw test split alone: only ``speech_commands_test_set_v0.02/`` (or tfds' test split) is needed."""
    data_dir = Path(os.path.expanduser(str(Flags.data_dir)))
    if not data_dir.is_dir():
        raise DatasetLayoutError(f"data directory {data_dir} does not exist. {LAYOUT_HELP}")
    source = getattr(Flags, "data_source", "auto")
    if source == "auto":
        if (data_dir / TEST_DIR).is_dir():
            source = "directory"
        elif any((data_dir / "speech_commands").glob("*/dataset_info.json")):
            source = "tfds"
        else:
            raise DatasetLayoutError(f"{data_dir} holds no {TEST_DIR}/ and no prepared tfds speech_commands. "
                                     f"{LAYOUT_HELP}")
    if source == "tfds":
        import tensorflow_datasets as tfds

        if not getattr(Flags, "download", False) and not (data_dir / "speech_commands").is_dir():
            raise DatasetLayoutError(f"no prepared tfds speech_commands under {data_dir}. {LAYOUT_HELP}")
        return tfds.load("speech_commands", split="test", data_dir=str(data_dir),
                         download=getattr(Flags, "download", False))
    return directory_dataset(data_dir, "test")[0]


def raw_splits(Flags):  # noqa: N803 (v0.5 name)
    """{'train','test','validation'} -> tf.data of raw {'audio', 'label'} examples for the resolved source."""
    source = resolve_data_source(Flags.data_dir, getattr(Flags, "data_source", "auto"))
    data_dir = Path(os.path.expanduser(str(Flags.data_dir)))
    if source == "tfds":
        train, test, val = tfds_datasets(data_dir, download=getattr(Flags, "download", False))
        return {"train": train, "test": test, "validation": val}
    return {split: directory_dataset(data_dir, split)[0] for split in ("train", "test", "validation")}


# ------------------------------------------------------------------------------------------ calibration
def make_calibration_indices(val_labels, per_class=CAL_SAMPLES_PER_CLASS, seed=CAL_SEED):
    """Positions in the validation split of ``per_class`` clips of each class (v0.5 mk_cal_set.py logic)."""
    val_labels = np.asarray(val_labels)
    rng = np.random.RandomState(seed)
    indices = []
    for label in range(len(LABELS)):
        candidates = np.flatnonzero(val_labels == label)
        if len(candidates) == 0:
            continue
        indices.extend(rng.choice(candidates, size=min(per_class, len(candidates)), replace=False).tolist())
    return sorted(int(i) for i in indices)


def read_calibration_indices(path):
    """Sorted positions of a quant_cal_idxs.txt (one integer per line); a malformed file is one line naming it."""
    path = rc.require_file(path, "calibration index list")
    try:
        indices = sorted(int(token) for token in path.read_text().split())
    except ValueError as err:
        raise rc.bad_file(path, f"not a list of integer positions ({err})") from None
    if not indices or indices[0] < 0:
        raise rc.bad_file(path, "holds no non-negative positions")
    return indices


def calibration_dataset(ds_val, cal_indices):
    """The validation examples at ``cal_indices`` (positions in the unshuffled split), padded to 1 s."""
    import tensorflow as tf

    wanted = set(cal_indices)
    audio, labels = [], []
    size = 0
    for position, example in enumerate(ds_val.as_numpy_iterator()):
        size = position + 1
        if position in wanted:
            clip = example["audio"][:SAMPLE_RATE]
            audio.append(np.pad(clip, (0, SAMPLE_RATE - len(clip))))
            labels.append(example["label"])
    if len(audio) != len(wanted):
        raise rc.UsageError(f"calibration positions go up to {max(cal_indices)} but the validation split has {size} "
                            f"clips: the index list belongs to another dataset")
    return tf.data.Dataset.from_tensor_slices({"audio": np.stack(audio), "label": np.asarray(labels)})


# ------------------------------------------------------------------------------------------- the builder
def convert_dataset(item):
    return item["audio"], item["label"]


def cast_and_pad(item):
    import tensorflow as tf

    audio = tf.pad(item["audio"], [[0, SAMPLE_RATE - tf.shape(item["audio"])[0]]])
    return tf.cast(audio, tf.int16), item["label"]


def get_training_data(Flags, get_waves=False, val_cal_subset=False, cal_indices=None):  # noqa: N803
    """(ds_train, ds_test, ds_val): batched (features [B, 49, 10, 1], labels [B]) as v0.5 returns them.

    Flags: a kws_util namespace. val_cal_subset=True replaces ds_val by the calibration subset
    (``cal_indices``, else ``Flags.cal_idxs_file``, else regenerated with seed 2). get_waves=True returns
    int16 waveforms instead of features. Features are cached after the first pass when
    ``Flags.cache_features`` and the training augmentation is deterministic (the faithful default).
    """
    import tensorflow as tf

    from mlperf_tiny.keyword_spotting.keras_model import prepare_model_settings

    model_settings = prepare_model_settings(len(LABELS), Flags)
    splits = raw_splits(Flags)
    ds_train, ds_test, ds_val = splits["train"], splits["test"], splits["validation"]

    if val_cal_subset:
        if cal_indices is None:
            cal_file = getattr(Flags, "cal_idxs_file", None)
            if cal_file:
                cal_indices = read_calibration_indices(cal_file)
            else:
                labels = [int(label) for label in ds_val.map(lambda e: e["label"]).as_numpy_iterator()]
                cal_indices = make_calibration_indices(labels)
        ds_val = calibration_dataset(ds_val, cal_indices)

    if Flags.num_train_samples != -1:
        ds_train = ds_train.take(Flags.num_train_samples)
    if Flags.num_val_samples != -1:
        ds_val = ds_val.take(Flags.num_val_samples)
    if Flags.num_test_samples != -1:
        ds_test = ds_test.take(Flags.num_test_samples)

    if get_waves:
        ds_train, ds_test, ds_val = (ds.map(cast_and_pad) for ds in (ds_train, ds_test, ds_val))
    else:
        bg_path = Flags.bg_path if Flags.bg_path is not None else os.getcwd()
        background_data = load_background_data(bg_path)
        time_shift_samples = (
            int(Flags.time_shift_ms * Flags.sample_rate / 1000) if getattr(Flags, "fix_time_shift", False) else 0
        )
        noise_per_clip = getattr(Flags, "noise_per_clip", False)
        autotune = tf.data.AUTOTUNE
        train_fn = get_preprocess_audio_func(model_settings, True, background_data, time_shift_samples,
                                             noise_per_clip)
        eval_fn = get_preprocess_audio_func(model_settings, False, background_data)
        ds_train = ds_train.map(train_fn, num_parallel_calls=autotune).map(convert_dataset)
        ds_test = ds_test.map(eval_fn, num_parallel_calls=autotune).map(convert_dataset)
        ds_val = ds_val.map(eval_fn, num_parallel_calls=autotune).map(convert_dataset)
        if getattr(Flags, "cache_features", True):
            # Random per-clip augmentation must stay per epoch, so only then the training features are not cached.
            if not (time_shift_samples or (noise_per_clip and background_data)):
                ds_train = ds_train.cache()
            ds_test, ds_val = ds_test.cache(), ds_val.cache()

    ds_train = ds_train.batch(Flags.batch_size)
    ds_test = ds_test.batch(Flags.batch_size)
    ds_val = ds_val.batch(Flags.batch_size)
    return ds_train, ds_test, ds_val


def get_eval_arrays(Flags, target_set="test"):  # noqa: N803
    """(features, labels) numpy arrays of one set: test, val, train (unshuffled) or calibration.

    The test set needs only the test split on disk (the test tarball, or tfds' test split)."""
    if target_set == "test":
        raw = raw_test_split(Flags)
        if Flags.num_test_samples != -1:
            raw = raw.take(Flags.num_test_samples)
        with data_errors():
            return features_of(Flags, raw)
    ds_train, ds_test, ds_val = get_training_data(Flags, val_cal_subset=target_set == "calibration")
    dataset = {"test": ds_test, "val": ds_val, "calibration": ds_val, "train": ds_train}[target_set]
    features, labels = [], []
    with data_errors():
        for x, y in dataset.as_numpy_iterator():
            features.append(x)
            labels.append(y)
    if not features:
        raise rc.RunFailed(f"the {target_set} set is empty: nothing to evaluate")
    return np.concatenate(features), np.concatenate(labels)


def is_mini(Flags):  # noqa: N803
    """Whether results come from the offline mini dataset (labelled "mini" in metrics and plots)."""
    return bool(getattr(Flags, "mini", False)) or "mini" in Path(str(Flags.data_dir)).parts


def features_of(Flags, raw_dataset):  # noqa: N803
    """(features, labels) numpy arrays of raw {'audio', 'label'} examples, with the evaluation preprocessing."""
    import tensorflow as tf

    from mlperf_tiny.keyword_spotting.keras_model import prepare_model_settings

    eval_fn = get_preprocess_audio_func(prepare_model_settings(len(LABELS), Flags), is_training=False)
    dataset = raw_dataset.map(eval_fn, num_parallel_calls=tf.data.AUTOTUNE).map(convert_dataset).batch(256)
    batches = list(dataset.as_numpy_iterator())
    if not batches:
        raise rc.RunFailed("no clips to compute features of: the split is empty")
    features, labels = zip(*batches)
    return np.concatenate(features), np.concatenate(labels)

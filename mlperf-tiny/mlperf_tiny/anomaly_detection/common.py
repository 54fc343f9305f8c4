"""AD helpers (v0.5 ``common.py``): config, file lists, WAV reading and log-mel feature vectors.

The log-mel spectrogram is reimplemented with numpy/scipy instead of librosa (0.6 in v0.5): a centred STFT
(reflect padding, periodic Hann window, ``n_fft`` 1024, hop 512), power 2, Slaney-style mel filters (librosa's
default: ``htk=False``, area normalisation, 0 Hz .. sr/2), then ``20 / power * log10(mel + eps)``. The v0.5 port
keeps frames 50..249 only and stacks 5 consecutive frames: 196 vectors of 640 values per 10 s clip.
Nothing happens at import (v0.5 set up file logging here).
"""

import glob
import itertools
import os
import re
import sys
import wave
from pathlib import Path

import numpy as np
import run_contract as rc

DEFAULT_CONFIG = Path(__file__).with_name("baseline.yaml")
FIRST_FRAME, LAST_FRAME = 50, 250  # the MLPerf port keeps frames [50, 250) of each clip
LAYOUT_HELP = (
    "Expected <dev_directory>/<machine_type>/train/normal_id_XX_*.wav and "
    "<dev_directory>/<machine_type>/test/{normal,anomaly}_id_XX_*.wav (DCASE 2020 Task 2 layout, e.g. "
    "dev_data/ToyCar/...). Download ToyCar with `make mlperf-ad-data` (python -m mlperf_tiny.download toycar "
    "--data_dir DATA, then --dev_directory DATA/dev_data), or generate the offline mini version with "
    "`make mini-data` (then --dev_directory data/mini)."
)


class DatasetLayoutError(rc.UsageError, FileNotFoundError):
    """The dev directory is missing or not in the DCASE layout; the message says what is expected."""


def yaml_load(path=DEFAULT_CONFIG):
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def command_line_chk(parser_description="AD script"):
    """v0.5 mode flags (-d/--dev, -e/--eval) plus our overrides; returns the parser."""
    parser = rc.ArgumentParser(description=parser_description, allow_abbrev=False)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("-d", "--dev", action="store_true", help="development mode (default)")
    mode.add_argument("-e", "--eval", action="store_true", help="evaluation mode")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="baseline.yaml with the settings")
    parser.add_argument("--dev_directory", default=None, help="overrides dev_directory of the config")
    parser.add_argument("--eval_directory", default=None, help="overrides eval_directory of the config")
    parser.add_argument("--model_directory", default=None, help="overrides model_directory of the config")
    parser.add_argument("--result_directory", default=None, help="overrides result_directory of the config")
    parser.add_argument("--machine_type", default=None, help="only this machine type (default: every folder "
                        "of dev_directory that has a train/ subfolder)")
    parser.add_argument("--seed", type=rc.nonnegative_int, default=0, help="seed for python/numpy/TF")
    parser.add_argument("--mini", action="store_true", help="label metrics and plots as mini-data results")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results of another run (other model, data or settings) in the output "
                             "directory instead of refusing")
    return parser


CONFIG_KEYS = ("dev_directory", "eval_directory", "model_directory", "result_directory", "max_fpr", "feature", "fit")


def resolve_config(args):
    """baseline.yaml with the command-line overrides; a missing or malformed file is one line naming it."""
    import yaml

    path = rc.require_file(args.config, "AD config (baseline.yaml)")
    try:
        param = yaml_load(path)
    except yaml.YAMLError as err:
        raise rc.bad_file(path, f"not valid YAML ({' '.join(str(err).split())[:120]})") from None
    missing = [key for key in CONFIG_KEYS if not isinstance(param, dict) or key not in param]
    if missing:
        raise rc.bad_file(path, f"lacks {', '.join(missing)} (see mlperf_tiny/anomaly_detection/baseline.yaml)")
    for key in ("dev_directory", "eval_directory", "model_directory", "result_directory"):
        if getattr(args, key, None):
            param[key] = getattr(args, key)
    return param


def is_mini(args, param):
    return bool(getattr(args, "mini", False)) or "mini" in Path(param["dev_directory"]).parts


def select_dirs(param, mode=True, machine_type=None, split="train"):
    """Machine-type folders of the dev (mode=True) or eval directory that hold ``split`` (train or test): the
    test scripts need only ``<machine>/test/``."""
    base = Path(param["dev_directory"] if mode else param["eval_directory"])
    if not base.is_dir():
        raise DatasetLayoutError(f"data directory {base} does not exist. {LAYOUT_HELP}")
    dirs = sorted(p for p in base.iterdir() if (p / split).is_dir())
    if machine_type is not None:
        dirs = [p for p in dirs if p.name == machine_type]
    if not dirs:
        raise DatasetLayoutError(f"no <machine_type>/{split}/ folder in {base}"
                                 f"{' named ' + machine_type if machine_type else ''}. {LAYOUT_HELP}")
    return dirs


def is_eembc_dir(param, mode=True):
    """Whether the dev (or eval) directory is an EEMBC folder (``y_labels.csv`` + ``.bin`` windows, e.g. ad01)."""
    return (Path(param["dev_directory"] if mode else param["eval_directory"]) / "y_labels.csv").is_file()


# ------------------------------------------------------------------------------------------------ audio
def file_load(path):
    """(float32 samples in [-1, 1), sample rate) of a 16-bit PCM WAV (first channel); errors name the file."""
    try:
        with wave.open(str(path), "rb") as f:
            if f.getsampwidth() != 2:
                raise ValueError(f"sample width {8 * f.getsampwidth()} bits, expected 16")
            channels, rate = f.getnchannels(), f.getframerate()
            data = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    except (wave.Error, EOFError, ValueError) as err:
        raise ValueError(f"corrupt or unsupported WAV file {path}: {err}. Re-extract or delete it.") from err
    if channels > 1:
        data = data.reshape(-1, channels)[:, 0]
    return data.astype(np.float32) / 32768.0, rate


def hz_to_mel(frequencies):
    """Slaney mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = frequencies / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_region = frequencies >= min_log_hz
    mels = np.where(log_region, min_log_mel + np.log(np.maximum(frequencies, 1e-10) / min_log_hz) / logstep, mels)
    return mels


def mel_to_hz(mels):
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def mel_filterbank(sr, n_fft, n_mels=128, fmin=0.0, fmax=None):
    """[n_mels, 1 + n_fft // 2] triangular filters on the Slaney mel scale, area-normalised (librosa default)."""
    fmax = sr / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0, sr / 2.0, 1 + n_fft // 2)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    spacing = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / spacing[:-1, None]
    upper = ramps[2:] / spacing[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2 : n_mels + 2] - mel_freqs[:n_mels]))[:, None]
    return weights


def power_spectrogram(y, n_fft=1024, hop_length=512, power=2.0):
    """|STFT|**power, [1 + n_fft // 2, frames]: centred frames (reflect padding), periodic Hann window."""
    from scipy.signal import get_window

    window = get_window("hann", n_fft, fftbins=True)
    padded = np.pad(y, n_fft // 2, mode="reflect")
    num_frames = 1 + (len(padded) - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:num_frames]
    spectrum = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1)).T
    return spectrum**power


def log_mel_spectrogram(y, sr, n_mels=128, n_fft=1024, hop_length=512, power=2.0):
    """[n_mels, frames] of 20 / power * log10(mel + eps), as the DCASE baseline computes it."""
    mel = mel_filterbank(sr, n_fft, n_mels) @ power_spectrogram(y, n_fft, hop_length, power)
    return 20.0 / power * np.log10(mel + sys.float_info.epsilon)


def file_to_vector_array(file_name, n_mels=64, frames=5, n_fft=1024, hop_length=512, power=2.0):
    """[vectors, n_mels * frames] float32 feature vectors of one clip (frames 50..249, 5 stacked)."""
    y, sr = file_load(file_name)
    log_mel = log_mel_spectrogram(y, sr, n_mels, n_fft, hop_length, power)[:, FIRST_FRAME:LAST_FRAME]
    dims = n_mels * frames
    num_vectors = log_mel.shape[1] - frames + 1
    if num_vectors < 1:
        return np.empty((0, dims), dtype=np.float32)
    vectors = np.zeros((num_vectors, dims), dtype=np.float32)
    for t in range(frames):
        vectors[:, n_mels * t : n_mels * (t + 1)] = log_mel[:, t : t + num_vectors].T
    return vectors


def feature_kwargs(param):
    feature = param["feature"]
    return {key: feature[key] for key in ("n_mels", "frames", "n_fft", "hop_length", "power")}


# ------------------------------------------------------------------------------------------------ files
def file_list_generator(target_dir, dir_name="train", ext="wav"):
    """Sorted training WAVs of a machine type."""
    files = sorted(glob.glob(os.path.join(target_dir, dir_name, f"*.{ext}")))
    if not files:
        raise DatasetLayoutError(f"no .{ext} files in {os.path.join(target_dir, dir_name)}. {LAYOUT_HELP}")
    return files


def get_machine_id_list_for_test(target_dir, dir_name="test", ext="wav"):
    paths = glob.glob(os.path.join(target_dir, dir_name, f"*.{ext}"))
    return sorted({m.group(0) for p in paths if (m := re.search(r"id_[0-9][0-9]", os.path.basename(p)))})


def test_file_list_generator(target_dir, id_name, dir_name="test", prefix_normal="normal", prefix_anomaly="anomaly",
                             ext="wav"):
    """(files, labels) of one machine id, normals first (label 0) then anomalies (label 1), as v0.5."""
    normal = sorted(glob.glob(os.path.join(target_dir, dir_name, f"{prefix_normal}_{id_name}*.{ext}")))
    anomaly = sorted(glob.glob(os.path.join(target_dir, dir_name, f"{prefix_anomaly}_{id_name}*.{ext}")))
    if not normal or not anomaly:
        raise DatasetLayoutError(f"{id_name} in {os.path.join(target_dir, dir_name)} needs both normal and anomaly "
                                 f"clips. {LAYOUT_HELP}")
    return normal + anomaly, np.array([0] * len(normal) + [1] * len(anomaly))


def list_to_vector_array(file_list, progress=True, **feature_kwargs):
    """All vectors of a list of clips stacked, [files * 196, 640] float32 (v0.5 used float64)."""
    from tqdm import tqdm

    arrays = [file_to_vector_array(f, **feature_kwargs) for f in tqdm(file_list, desc="features", disable=not progress)]
    return np.concatenate(arrays, axis=0)


def flatten(list_of_lists):
    return list(itertools.chain.from_iterable(list_of_lists))

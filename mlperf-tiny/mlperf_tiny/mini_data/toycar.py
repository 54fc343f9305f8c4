"""Mini ToyCar (imitates `ToyCar/{train,test}/` of DCASE 2020 Task 2 development data, ToyADMOS).

Synthetic machines, one per machine id: a harmonic hum at the id's own base frequency, broadband
(low-passed) noise and a slow amplitude modulation, 10 s of 16 kHz mono 16-bit WAV per clip. Anomalous
test clips add one fault: a pitch drift, a train of clicks, or an extra (non-integer) harmonic.

This dataset tests the plumbing of the AD pipeline (WAV reading, log-mel frames 50..249, autoencoder,
per-id AUC/pAUC); the anomalies are easy, so a high AUC says nothing about the method's quality.

Names as in DCASE: ``train/normal_id_01_00000000.wav``, ``test/{normal,anomaly}_id_01_00000000.wav``.
"""

import numpy as np
from scipy.signal import lfilter

from ._common import SAMPLE_RATE, make_rng, progress, write_wav_int16

NAME = "ToyCar"
# 10 s like the real clips: the AD features keep frames 50..249 of a 512-hop mel spectrogram (>= 8 s).
CLIP_SECONDS = 10.0
BASE_FREQUENCY_RANGE_HZ = (60.0, 240.0)  # each machine id gets its own hum frequency in this range
N_HARMONICS = 8
CLIP_FREQUENCY_JITTER = 0.01  # a normal clip's base frequency varies by +- 1% around its id's
NOISE_LEVEL_RANGE = (0.05, 0.15)
NOISE_LOWPASS_POLE = 0.9  # one-pole low-pass on the white noise: machines rumble more than they hiss
MODULATION_HZ_RANGE = (0.2, 1.5)
MODULATION_DEPTH_RANGE = (0.1, 0.4)
PEAK_LEVEL = 0.5  # clips are normalised to this peak (full scale = 1)
# anomalies
PITCH_DRIFT_RANGE = (0.04, 0.12)  # relative change of the base frequency over the clip
CLICK_RATE_HZ_RANGE = (2.0, 8.0)
CLICK_AMPLITUDE_RANGE = (0.5, 1.0)  # relative to the hum amplitude
EXTRA_HARMONIC_RATIO_RANGE = (2.3, 7.7)  # non-integer multiple of the base frequency
EXTRA_HARMONIC_LEVEL_RANGE = (0.3, 0.6)
ANOMALY_KINDS = ("pitch_drift", "clicks", "extra_harmonic")


def machine_profile(rng):
    """Per-id constants: base frequency and harmonic amplitudes."""
    return {
        "base_hz": rng.uniform(*BASE_FREQUENCY_RANGE_HZ),
        "harmonic_amplitudes": rng.uniform(0.2, 1.0, N_HARMONICS) / np.arange(1, N_HARMONICS + 1),
    }


def synthesize_clip(profile, rng, anomaly=None):
    """One clip as float in [-PEAK_LEVEL, PEAK_LEVEL]; anomaly is None or one of ANOMALY_KINDS."""
    n = int(CLIP_SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    base_hz = profile["base_hz"] * (1 + rng.uniform(-CLIP_FREQUENCY_JITTER, CLIP_FREQUENCY_JITTER))
    instantaneous_hz = np.full(n, base_hz)
    if anomaly == "pitch_drift":
        drift = rng.uniform(*PITCH_DRIFT_RANGE) * rng.choice([-1, 1])
        instantaneous_hz = base_hz * (1 + drift * t / CLIP_SECONDS)
    phase = 2 * np.pi * np.cumsum(instantaneous_hz) / SAMPLE_RATE
    hum = np.zeros(n)
    for k, amplitude in enumerate(profile["harmonic_amplitudes"], start=1):
        if k * base_hz < SAMPLE_RATE / 2:
            hum += amplitude * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    if anomaly == "extra_harmonic":
        ratio = rng.uniform(*EXTRA_HARMONIC_RATIO_RANGE)
        hum += rng.uniform(*EXTRA_HARMONIC_LEVEL_RANGE) * np.sin(ratio * phase)
    modulation = 1 + rng.uniform(*MODULATION_DEPTH_RANGE) * np.sin(
        2 * np.pi * rng.uniform(*MODULATION_HZ_RANGE) * t + rng.uniform(0, 2 * np.pi))
    noise = lfilter([1 - NOISE_LOWPASS_POLE], [1, -NOISE_LOWPASS_POLE], rng.normal(size=n))
    noise *= rng.uniform(*NOISE_LEVEL_RANGE) / max(noise.std(), 1e-8)
    clip = hum / np.abs(hum).max() * modulation + noise
    if anomaly == "clicks":
        n_clicks = max(1, int(rng.uniform(*CLICK_RATE_HZ_RANGE) * CLIP_SECONDS))
        for start in rng.integers(0, n - 64, size=n_clicks):
            decay = np.exp(-np.arange(64) / 8.0)
            clip[start:start + 64] += rng.uniform(*CLICK_AMPLITUDE_RANGE) * decay * rng.choice([-1, 1])
    return clip / np.abs(clip).max() * PEAK_LEVEL


def generate(out_root, seed=0, machine_ids=(1, 2, 3, 4), train_per_id=25, test_normal_per_id=10,
             test_anomaly_per_id=10, show_progress=True):
    """Write ``out_root/ToyCar/train/normal_id_XX_*.wav`` and ``out_root/ToyCar/test/{normal,anomaly}_id_XX_*.wav``."""
    rng = make_rng(seed, NAME)
    out = out_root / NAME
    (out / "train").mkdir(parents=True)
    (out / "test").mkdir(parents=True)
    total = len(machine_ids) * (train_per_id + test_normal_per_id + test_anomaly_per_id)
    with progress(desc=NAME, total=total, enabled=show_progress) as bar:
        for machine_id in machine_ids:
            profile = machine_profile(rng)
            jobs = [("train", "normal", None)] * train_per_id + [("test", "normal", None)] * test_normal_per_id
            jobs += [("test", "anomaly", ANOMALY_KINDS[i % len(ANOMALY_KINDS)]) for i in range(test_anomaly_per_id)]
            counters = {}
            for split, label, anomaly in jobs:
                index = counters.setdefault((split, label), 0)
                counters[(split, label)] += 1
                path = out / split / f"{label}_id_{machine_id:02d}_{index:08d}.wav"
                write_wav_int16(path, synthesize_clip(profile, rng, anomaly))
                bar.update(1)
    return [NAME]

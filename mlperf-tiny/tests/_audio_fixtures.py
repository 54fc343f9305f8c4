"""Tiny datasets in the real on-disk layouts for the KWS and AD tests (the mini datasets are bigger).

Speech Commands: each of the 12 classes is a distinct synthetic "word" (a tone pair at class-specific
frequencies under a class-specific envelope, plus noise), so a DS-CNN learns them in a few epochs. ToyCar:
normal clips are a harmonic hum, anomalies add a drifting extra harmonic and clicks.
"""

import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
WORDS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]
OTHER_WORDS = ["bed", "bird", "cat"]


def write_wav(path, samples, sample_rate=SAMPLE_RATE):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.clip(np.round(np.asarray(samples) * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(data.tobytes())


def synth_word(class_index, rng, num_samples=SAMPLE_RATE):
    t = np.arange(num_samples) / SAMPLE_RATE
    f1 = 300 + 230 * class_index * rng.uniform(0.97, 1.03)
    f2 = 2 * f1 + 150 * (class_index % 3)
    onset = rng.uniform(0.05, 0.25)
    length = 0.35 + 0.04 * (class_index % 5)
    envelope = np.clip((t - onset) / 0.03, 0, 1) * np.clip((onset + length - t) / 0.03, 0, 1)
    tone = np.sin(2 * np.pi * f1 * t) + 0.5 * np.sin(2 * np.pi * f2 * t + class_index)
    return 0.4 * envelope * tone + 0.01 * rng.standard_normal(num_samples)


def write_speech_commands(root, clips_per_word=12, test_clips_per_label=6, seed=0):
    """<root>/speech_commands (v0.02 layout) and <root>/speech_commands_test_set_v0.02; returns root."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    train_root = root / "speech_commands"
    validation, testing = [], []
    for index, word in enumerate(WORDS + OTHER_WORDS):
        class_index = index if word in WORDS else 11 + OTHER_WORDS.index(word)
        for clip in range(clips_per_word):
            rel = f"{word}/{clip:08x}_nohash_0.wav"
            write_wav(train_root / rel, synth_word(class_index, rng))
            if clip % 6 == 1:
                validation.append(rel)
            elif clip % 6 == 2:
                testing.append(rel)
    (train_root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (train_root / "testing_list.txt").write_text("\n".join(testing) + "\n")
    for name in ("white_noise.wav", "running_tap.wav"):
        write_wav(train_root / "_background_noise_" / name, 0.05 * rng.standard_normal(6 * SAMPLE_RATE))
    test_root = root / "speech_commands_test_set_v0.02"
    for index, label in enumerate(WORDS + ["_silence_", "_unknown_"]):
        for clip in range(test_clips_per_label):
            if label == "_silence_":
                samples = 0.05 * rng.standard_normal(SAMPLE_RATE)
            else:
                class_index = index if label in WORDS else 11 + clip % len(OTHER_WORDS)
                samples = synth_word(class_index, rng)
            write_wav(test_root / label / f"{clip:08x}_nohash_0.wav", samples)
    return root


def machine_sound(rng, seconds, anomalous):
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    base = 120 * rng.uniform(0.98, 1.02)
    hum = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 6))
    signal = 0.15 * hum + 0.03 * rng.standard_normal(len(t))
    if anomalous:
        drift = base * 7.5 * (1 + 0.1 * t / seconds)
        signal += 0.12 * np.sin(2 * np.pi * drift * t)
        clicks = rng.integers(0, len(t), size=int(8 * seconds))
        signal[clicks] += 0.6
    return signal


def write_toycar(root, ids=(1, 2), train_per_id=6, test_per_id=4, seconds=3.0, seed=0):
    """<root>/ToyCar/{train,test} in the DCASE 2020 Task 2 layout; returns <root>/ToyCar."""
    rng = np.random.default_rng(seed)
    machine = Path(root) / "ToyCar"
    for machine_id in ids:
        for n in range(train_per_id):
            write_wav(machine / "train" / f"normal_id_{machine_id:02d}_{n:08d}.wav", machine_sound(rng, seconds, False))
        for n in range(test_per_id):
            write_wav(machine / "test" / f"normal_id_{machine_id:02d}_{n:08d}.wav", machine_sound(rng, seconds, False))
            write_wav(machine / "test" / f"anomaly_id_{machine_id:02d}_{n:08d}.wav", machine_sound(rng, seconds, True))
    return machine

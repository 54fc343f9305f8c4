"""KWS training augmentation (ARM AudioProcessor: time shift, background noise) and the waveform cache."""

import mlperf_tiny  # noqa: F401
import numpy as np
import pytest
from reds.utils import datasets

SAMPLES = 16000


def _augmenter(noise, shift=0, frequency=0.0, volume=0.0, seed=0):
    return datasets.SpeechAugmentation(noise, shift, frequency, volume, 40.0, 20.0, 10, seed=seed)


def test_time_shift_moves_each_clip_by_at_most_the_shift_with_zero_padding():
    audio = np.zeros((64, SAMPLES), np.int16)
    audio[:, 8000] = 16384  # one impulse in the middle of each clip
    mixed = _augmenter([], shift=1600).mix(audio)
    positions = mixed.argmax(axis=1)
    assert np.all(np.abs(positions - 8000) <= 1600)
    assert len(np.unique(positions)) > 30  # drawn per clip, not once per batch
    np.testing.assert_allclose(mixed.max(axis=1), 0.5)  # int16 scaled to [-1, 1], nothing else changed
    assert np.count_nonzero(mixed) == 64


def test_background_noise_frequency_volume_and_clipping():
    noise = [np.full(3 * SAMPLES, 0.5, np.float32)]
    audio = np.full((2000, SAMPLES), 30000, np.int16)  # 0.9155 after scaling
    mixed = _augmenter(noise, frequency=0.8, volume=0.4).mix(audio)
    added = mixed[:, 0] - 30000 / 32768
    noisy = added > 1e-6
    assert noisy.mean() == pytest.approx(0.8, abs=0.03)
    # volume ~ U(0, 0.4) on noise 0.5 -> added ~ U(0, 0.2), clipped at 1.0
    assert mixed.max() == pytest.approx(1.0) and mixed.max() <= 1.0
    unclipped = added[noisy & (mixed[:, 0] < 1.0)]
    assert unclipped.max() <= 1.0 - 30000 / 32768 + 1e-6
    assert np.all(mixed == mixed[:, :1])  # a constant noise file adds a constant


def test_augmentation_is_seeded_and_returns_mfcc_features():
    rng = np.random.default_rng(0)
    audio = rng.integers(-3000, 3000, (4, SAMPLES)).astype(np.int16)
    noise = [rng.uniform(-1, 1, 2 * SAMPLES).astype(np.float32)]
    a = _augmenter(noise, 1600, 0.8, 0.1, seed=3)(audio).numpy()
    b = _augmenter(noise, 1600, 0.8, 0.1, seed=3)(audio).numpy()
    c = _augmenter(noise, 1600, 0.8, 0.1, seed=4)(audio).numpy()
    assert a.shape == (4, 49, 10, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_unaugmented_waveforms_give_the_cached_features(mini_data_dir, tmp_path):
    data = datasets.load_speech_commands(mini_data_dir, cache_dir=tmp_path, keep_train_audio=True)
    audio, labels = data["train_audio"]
    np.testing.assert_array_equal(labels, data["train"][1])
    assert audio.dtype == np.int16 and audio.shape == (len(labels), SAMPLES)
    assert data["background_noise"] and all(len(n) > SAMPLES for n in data["background_noise"])
    plain = _augmenter([])(audio[:32]).numpy()  # no shift, no noise: the same front end as the cache
    np.testing.assert_allclose(plain, data["train"][0][:32], atol=1e-4)
    # the second load reads the waveform cache and gives the same arrays
    again = datasets.load_speech_commands(mini_data_dir, cache_dir=tmp_path, keep_train_audio=True)
    np.testing.assert_array_equal(again["train_audio"][0], audio)
    assert len(list(tmp_path.glob("*reds_audio_*.npz"))) == 1

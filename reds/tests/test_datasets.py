"""KWS training augmentation (ARM AudioProcessor: time shift, background noise) and the waveform cache."""

import mlperf_tiny  # noqa: F401
import numpy as np
import pytest
from reds.utils import datasets

SAMPLES = 16000
MLPERF_FRONT_END = datasets.SpeechSettings(front_end="mlperf", label_order="mlperf")


def _augmenter(noise, shift=0, frequency=0.0, volume=0.0, seed=0):
    return datasets.SpeechAugmentation(noise, shift, frequency, volume, MLPERF_FRONT_END, seed=seed)


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


@pytest.mark.parametrize("front_end", ["arm", "mlperf"])
def test_unaugmented_waveforms_give_the_cached_features(mini_data_dir, tmp_path, front_end):
    settings = datasets.SpeechSettings(front_end=front_end, label_order="mlperf")
    data = datasets.load_speech_commands(mini_data_dir, settings, cache_dir=tmp_path, keep_train_audio=True)
    audio, labels = data["train_audio"]
    np.testing.assert_array_equal(labels, data["train"][1])
    assert audio.dtype == np.int16 and audio.shape == (len(labels), SAMPLES)
    assert data["background_noise"] and all(len(n) > SAMPLES for n in data["background_noise"])
    plain = np.asarray(datasets.SpeechAugmentation([], 0, 0.0, 0.0, settings)(audio[:32]))  # the cache's front end
    np.testing.assert_allclose(plain, data["train"][0][:32], atol=1e-4)
    # the second load reads the waveform cache and gives the same arrays
    again = datasets.load_speech_commands(mini_data_dir, settings, cache_dir=tmp_path, keep_train_audio=True)
    np.testing.assert_array_equal(again["train_audio"][0], audio)
    assert len(list(tmp_path.glob("*reds_audio_*.npz"))) == 1


def test_label_orders_and_relabelling():
    assert datasets.label_names() == ["_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on",
                                      "off", "stop", "go"]
    # the MLPerf Tiny / EEMBC kit order (its README: 0 down ... 9 yes, 10 silence, 11 unknown)
    assert datasets.label_names(label_order="mlperf") == ["down", "go", "left", "no", "off", "on", "right", "stop",
                                                         "up", "yes", "_silence_", "_unknown_"]
    assert datasets.label_names("marvin,yes", "arm") == ["_silence_", "_unknown_", "marvin", "yes"]
    with pytest.raises(ValueError, match="distinct"):
        datasets.label_names("yes,yes")
    entries = [("yes/a.wav", 9), ("marvin/b.wav", 11), (("_background_noise_/n.wav", 0), 10), ("_silence_/c.wav", 10),
               ("_unknown_/d.wav", 11), ("go/e.wav", 1)]
    relabelled = datasets.relabel(entries, datasets.label_names("marvin,yes"))
    assert [label for _, label in relabelled] == [3, 2, 0, 0, 1, 1]


def test_arm_front_end_is_audiospectrogram_and_mfcc_per_clip():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    audio = rng.uniform(-0.5, 0.5, (3, SAMPLES)).astype(np.float32)
    batch = np.asarray(datasets.arm_mfcc(audio))
    assert batch.shape == (3, 49, 10)
    for i in range(3):
        spectrogram = tf.raw_ops.AudioSpectrogram(input=audio[i][:, None], window_size=640, stride=320,
                                                  magnitude_squared=True)
        single = tf.raw_ops.Mfcc(spectrogram=spectrogram, sample_rate=16000, dct_coefficient_count=10)[0]
        np.testing.assert_allclose(batch[i], single, rtol=1e-5, atol=1e-4)
    # the DNN's 40 ms stride: 25 frames
    assert np.asarray(datasets.arm_mfcc(audio, window_stride_ms=40.0)).shape == (3, 25, 10)


def test_vision_augmentation_shifts_each_image_and_is_seeded():
    x = np.zeros((64, 28, 28, 1), np.float32)
    x[:, 14, 14, 0] = 1.0  # one bright pixel in the middle; no flip / rotation: only the shift moves it
    augment = datasets.VisionAugmentation(flip=False, seed=3)
    out = np.asarray(augment(x))
    rows, cols = np.nonzero(out[..., 0].max(axis=2))[1], np.nonzero(out[..., 0].max(axis=1))[1]
    assert np.all(np.abs(rows - 14) <= 2) and np.all(np.abs(cols - 14) <= 2)
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # drawn per image, not one shift per batch
    second = np.asarray(augment(x))
    assert not np.array_equal(out, second)  # the next batch gets other draws
    augment.reseed(3)
    np.testing.assert_array_equal(np.asarray(augment(x)), out)  # reseeding replays them (resume)
    # Fashion-MNIST: flips and nearest-neighbour rotations keep the pixel values (no interpolation)
    images = np.random.default_rng(0).integers(0, 4, (32, 28, 28, 1)).astype(np.float32)
    rotated = np.asarray(datasets.VisionAugmentation(rotation_rad=0.2, rotation_probability=1.0, seed=0)(images))
    assert set(np.unique(rotated)) <= {0.0, 1.0, 2.0, 3.0}

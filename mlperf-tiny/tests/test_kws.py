"""Keyword spotting: exact model sizes, MFCC golden check, data errors, and an end-to-end CLI run on mini data."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _audio_fixtures  # noqa: E402
from mlperf_tiny.counting import count_macs, count_params  # noqa: E402
from mlperf_tiny.keyword_spotting import get_dataset, keras_model, kws_util  # noqa: E402


@pytest.mark.parametrize("name, params, macs", [
    ("ds_cnn", 24_908, 2_656_768),
    ("fc4", 263_436, 259_584),
])
def test_model_sizes_on_mfcc_input(name, params, macs):
    model = getattr(keras_model, name)()
    assert model.input_shape == (None, 49, 10, 1) and model.output_shape == (None, 12)
    assert count_params(model) == params
    assert count_macs(model) == macs


def test_ds_cnn_pool_variants():
    """v0.5 code pools 24x5 (drops the last time row); the shipped kws_ref_model pools the whole 25x5 map."""
    from mlperf_tiny.registry import get_model

    code, shipped = get_model("ds_cnn"), get_model("ds_cnn_full_pool")
    pools = [[layer.pool_size for layer in m.layers if "average_pooling" in layer.name] for m in (code, shipped)]
    assert pools == [[(24, 5)], [(25, 5)]]
    assert count_params(shipped) == count_params(code) == 24_908 and count_macs(shipped) == 2_656_768


def test_td_cnn_size():
    model = keras_model.td_cnn()
    assert (count_params(model), count_macs(model)) == (57_996, 15_622_912)


def test_ds_cnn_depthwise_regularizer_is_ignored_by_default():
    # 5 regular convs carry L2; v0.5's depthwise kernel_regularizer was ignored by Keras 2 (fix: --dw_regularizer).
    assert len(keras_model.ds_cnn().losses) == 5
    assert len(keras_model.ds_cnn(dw_regularizer=True).losses) == 9


def test_mfcc_matches_direct_tf_signal_computation():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    wav = tf.constant(rng.uniform(-1, 1, 16000).astype(np.float32))
    ours = get_dataset.compute_mfcc(wav).numpy()
    # The v0.5 recipe written out op by op.
    stft = tf.signal.stft(wav, frame_length=480, frame_step=320, fft_length=512, window_fn=tf.signal.hann_window)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0)
    log_mel = tf.math.log(tf.matmul(tf.abs(stft), mel_matrix) + 1e-6)
    direct = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[:, :10].numpy()
    assert ours.shape == (49, 10)
    np.testing.assert_allclose(ours, direct, atol=1e-5)


def test_lfbe_shape_and_range():
    import tensorflow as tf

    wav = tf.constant(np.sin(np.arange(16000) * 0.3).astype(np.float32))
    lfbe = get_dataset.compute_lfbe(wav, num_mel_bins=40).numpy()
    assert lfbe.shape == (49, 40)
    assert lfbe.min() >= 0.0 and lfbe.max() <= 1.0


def test_time_shift_is_a_noop_by_default_and_fixed_on_request():
    import tensorflow as tf

    flags = kws_util.parse_command(["--feature_type", "td_samples"])
    settings = keras_model.prepare_model_settings(12, flags)
    audio = tf.constant(np.arange(1, 16001, dtype=np.int16) % 3000)
    example = {"audio": audio, "label": tf.constant(0, tf.int64)}
    faithful = get_dataset.get_preprocess_audio_func(settings, is_training=True)(example)["audio"]
    np.testing.assert_array_equal(faithful.numpy().ravel(), audio.numpy() / 32768.0)
    tf.random.set_seed(1)
    shifted = get_dataset.get_preprocess_audio_func(settings, is_training=True, time_shift_samples=1600)(example)
    assert not np.array_equal(shifted["audio"].numpy().ravel(), audio.numpy() / 32768.0)


def test_run_test_set_parses_false():
    assert kws_util.parse_command(["--run_test_set", "False"]).run_test_set is False
    assert kws_util.parse_command(["--run_test_set"]).run_test_set is True
    with pytest.raises(SystemExit):
        kws_util.parse_command(["--no_such_flag", "1"])


def test_lr_schedule_steps():
    assert [kws_util.step_function(e) for e in (0, 11, 12, 23, 24, 35, 36)] == [
        5e-4, 5e-4, 1e-4, 1e-4, 2e-5, 2e-5, 1e-5]


def test_directory_splits_follow_the_tfds_builder(tmp_path):
    root = _audio_fixtures.write_speech_commands(tmp_path, clips_per_word=6, test_clips_per_label=2)
    _, train = get_dataset.list_split_files(root, "train")
    _, val = get_dataset.list_split_files(root, "validation")
    _, test = get_dataset.list_split_files(root, "test")
    # 13 words x 6 clips: one validation and one testing clip per word; 6 s of noise -> 10 windows (1 s, hop 0.5 s).
    assert len(train) == 13 * 4 + 10 and len(val) == 13 + 10 and len(test) == 12 * 2
    silence, unknown = get_dataset.LABELS.index("_silence_"), get_dataset.LABELS.index("_unknown_")
    assert sum(label == silence for _, label in val) == 10  # running_tap.wav windows
    assert sum(label == unknown for _, label in train) == 3 * 4  # bed/bird/cat -> _unknown_


def test_missing_data_dir_error_names_layout_and_target(tmp_path):
    flags = kws_util.parse_command(["--data_dir", str(tmp_path / "nowhere")])
    with pytest.raises(get_dataset.DatasetLayoutError, match="mlperf-kws-data") as err:
        get_dataset.get_training_data(flags)
    assert "validation_list.txt" in str(err.value) and "make mini-data" in str(err.value)


def test_wrong_layout_error(tmp_path):
    (tmp_path / "speech_commands" / "yes").mkdir(parents=True)
    flags = kws_util.parse_command(["--data_dir", str(tmp_path)])
    with pytest.raises(get_dataset.DatasetLayoutError, match="neither layout"):
        get_dataset.get_training_data(flags)


def test_corrupt_wav_is_reported_with_its_path(tmp_path):
    root = _audio_fixtures.write_speech_commands(tmp_path, clips_per_word=6, test_clips_per_label=1)
    bad = root / "speech_commands" / "yes" / "00000000_nohash_0.wav"
    bad.write_bytes(b"RIFF garbage")
    flags = kws_util.parse_command(["--data_dir", str(root), "--batch_size", "4"])
    ds_train, _, _ = get_dataset.get_training_data(flags)
    with pytest.raises(Exception, match="00000000_nohash_0.wav"):
        for _ in ds_train:
            pass


def _cli_run(data_dir, out, epochs, extra=()):
    """train -> quantize -> evaluate (int8, float) through the CLI mains."""
    from mlperf_tiny.keyword_spotting import eval_quantized_model, evaluate, quantize, train

    common = ["--data_dir", str(data_dir), "--saved_model_path", str(out / "kws_ref_model.h5"),
              "--tfl_file_name", str(out / "kws_ref_model.tflite"), "--batch_size", "16", "--mini", *extra]
    assert train.main([*common, "--epochs", str(epochs)]) == 0
    assert quantize.main(common) == 0
    assert eval_quantized_model.main([*common, "--out_dir", str(out)]) == 0
    assert evaluate.main([*common, "--out_dir", str(out)]) == 0
    summary = json.loads((out / "metrics.json").read_text())
    return out, summary, summary["float_test"], summary["int8_test"]


# A short run of the demo recipe (batch 16) on the whole mini data: enough for DS-CNN to learn the keywords
# (the int8/float agreement check needs a trained model, not a random one), short enough for the fast suite.
FAST_EPOCHS = 5


@pytest.fixture(scope="module")
def trained_kws_run(mini_data_dir, tmp_path_factory):
    """train -> quantize -> evaluate through the CLI on the mini data, FAST_EPOCHS epochs."""
    return _cli_run(mini_data_dir, tmp_path_factory.mktemp("kws"), epochs=FAST_EPOCHS)


@pytest.fixture(scope="module")
def mini_kws_run(mini_data_dir, tmp_path_factory):
    """The demo recipe (12 epochs, batch 16) on the mini data."""
    return _cli_run(mini_data_dir, tmp_path_factory.mktemp("kws_mini"), epochs=12)


def test_end_to_end_cli_run(trained_kws_run):
    out, train_metrics, floating, int8 = trained_kws_run
    for name in ("args.json", "history.csv", "training_curves.png", "kws_ref_model.h5", "kws_ref_model.tflite",
                 "quant_cal_idxs.txt", "int8_test_confusion.png", "float_test_roc.png", "metrics.json"):
        assert (out / name).exists(), name
    assert len((out / "history.csv").read_text().strip().splitlines()) == 1 + FAST_EPOCHS
    # Mini validation split: 10-13 clips of each word, 58 silence windows, 63 unknown -> 10 per class.
    cal = [int(i) for i in (out / "quant_cal_idxs.txt").read_text().split()]
    assert len(cal) == len(set(cal)) == 12 * 10 and max(cal) < 242
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["dataset"] == "mini" and summary["params"] == 24_908
    assert summary["float_test"]["accuracy"] == pytest.approx(floating["accuracy"])
    assert summary["int8_test"]["num_samples"] == floating["num_samples"] == 132  # 11 clips x 12 labels
    assert json.loads((out / "args.json").read_text())["epochs"] == FAST_EPOCHS
    # It has learned: the mini sanity target (80%) after the full 12 epochs is the slow test; here > 50%.
    assert floating["accuracy"] > 50.0 and int8["accuracy"] > 50.0


def _int8_float_agreement(out, data_dir):
    """(fraction of mini test clips where the int8 and float argmax agree, the TFLite model)."""
    import tensorflow as tf
    from mlperf_tiny.tflite_utils import TFLiteModel

    tflite = TFLiteModel(model_path=out / "kws_ref_model.tflite")  # input rounded+clipped, as TFLite's quantize op
    flags = kws_util.parse_command(["--data_dir", str(data_dir)])
    features, _ = get_dataset.get_eval_arrays(flags, "test")
    float_pred = tf.keras.models.load_model(out / "kws_ref_model.h5").predict(features, verbose=0).argmax(1)
    int8_pred = tflite.predict(features).argmax(1)
    assert len(features) == 132
    return float(np.mean(float_pred == int8_pred)), tflite


def test_int8_io_and_argmax_agrees_with_float_on_mini_test_set(trained_kws_run, mini_data_dir):
    agreement, tflite = _int8_float_agreement(trained_kws_run[0], mini_data_dir)
    assert tflite.input_dtype == np.int8 and tflite.output_dtype == np.int8
    assert agreement >= 0.95, agreement


@pytest.mark.slow
def test_mini_demo_accuracy_and_int8_agreement(mini_kws_run, mini_data_dir):
    out, _, floating, int8 = mini_kws_run
    assert floating["accuracy"] >= 80.0 and int8["accuracy"] >= 80.0  # the mini sanity target
    assert _int8_float_agreement(out, mini_data_dir)[0] >= 0.95


def test_int8_model_has_int8_io(trained_kws_run):
    from mlperf_tiny.tflite_utils import TFLiteModel

    out = trained_kws_run[0]
    tflite = TFLiteModel(model_path=out / "kws_ref_model.tflite")
    assert tflite.input_dtype == np.int8 and tflite.output_dtype == np.int8
    quant = json.loads((out / "quantize.json").read_text())
    assert quant["input_dtype"] == "int8" and quant["size_bytes"] == tflite.size_bytes


def test_tfds_path_runs_offline_on_mock_data(tmp_path, monkeypatch):
    """The real tfds branch of get_training_data (tfds.load('speech_commands')), fed by tfds' mock data."""
    import socket

    import tensorflow_datasets as tfds

    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    (tmp_path / "speech_commands").mkdir()  # a "prepared" tfds data_dir; mock_data replaces the records
    flags = kws_util.parse_command(["--data_dir", str(tmp_path), "--data_source", "tfds", "--batch_size", "4"])
    with tfds.testing.mock_data(num_examples=6):
        splits = get_dataset.get_training_data(flags)
        for ds in splits:
            features, labels = next(iter(ds))
            assert features.shape == (4, 49, 10, 1) and labels.shape == (4,)
            assert np.isfinite(features.numpy()).all()
            assert set(labels.numpy().tolist()) <= set(range(12))
        assert sum(int(y.shape[0]) for _, y in splits[0]) == 6
    assert attempts == []

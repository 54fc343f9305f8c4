"""Anomaly detection: exact model size, log-mel features, BN folding, bad input, end-to-end CLI run."""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _audio_fixtures  # noqa: E402
from mlperf_tiny.anomaly_detection import common, keras_model  # noqa: E402
from mlperf_tiny.counting import count_macs, count_params  # noqa: E402


def test_autoencoder_size():
    model = keras_model.get_model(640)
    assert count_params(model) == 269_992
    assert count_macs(model) == 264_192


def test_slaney_mel_scale():
    assert common.hz_to_mel(1000.0) == pytest.approx(15.0)
    freqs = np.array([0.0, 440.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(common.mel_to_hz(common.hz_to_mel(freqs)), freqs, atol=1e-6)
    bank = common.mel_filterbank(16000, 1024, 128)
    assert bank.shape == (128, 513) and (bank >= 0).all()


def test_log_mel_peaks_at_the_tone_and_vectors_stack_frames(tmp_path):
    t = np.arange(10 * 16000) / 16000
    _audio_fixtures.write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 1000 * t))
    log_mel = common.log_mel_spectrogram(common.file_load(tmp_path / "tone.wav")[0], 16000)
    centre_bin = np.argmin(np.abs(common.mel_to_hz(np.linspace(0, common.hz_to_mel(8000), 130))[1:-1] - 1000))
    assert abs(int(np.argmax(log_mel[:, 100])) - int(centre_bin)) <= 1
    vectors = common.file_to_vector_array(tmp_path / "tone.wav", **common.feature_kwargs(common.yaml_load()))
    assert vectors.shape == (196, 640)  # frames 50..249, 5 stacked
    np.testing.assert_array_equal(vectors[1, :128], vectors[0, 128:256])
    np.testing.assert_allclose(vectors[0, :128], log_mel[:, 50], rtol=1e-5)


def test_bn_folding_v05_drops_the_dense_bias_and_the_fix_keeps_it():
    import tensorflow as tf

    convert = importlib.import_module("mlperf_tiny.anomaly_detection.02_convert")
    model = keras_model.get_model(640)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial BN statistics and Dense biases
        if "batch_normalization" in layer.name or "dense" in layer.name:
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = rng.normal(size=(16, 640)).astype(np.float32)
    exact = convert.fold_batchnorm(model, keep_dense_bias=True)
    assert not any("batch_normalization" in layer.name for layer in exact.layers)
    np.testing.assert_allclose(exact(x).numpy(), model(x, training=False).numpy(), rtol=1e-4, atol=1e-4)
    # v0.5: the same model with the bias of every Dense that a BN follows set to zero.
    faithful = convert.fold_batchnorm(model)
    layers = model.layers
    for layer, following in zip(layers, layers[1:]):
        if isinstance(layer, tf.keras.layers.Dense) and isinstance(following, tf.keras.layers.BatchNormalization):
            layer.set_weights([layer.get_weights()[0], np.zeros(layer.units, np.float32)])
    np.testing.assert_allclose(faithful(x).numpy(), model(x, training=False).numpy(), rtol=1e-4, atol=1e-4)
    assert np.abs(faithful(x).numpy() - exact(x).numpy()).max() > 1.0


def test_missing_dev_directory_error(tmp_path):
    train = importlib.import_module("mlperf_tiny.anomaly_detection.00_train")
    with pytest.raises(common.DatasetLayoutError, match="mlperf-ad-data") as err:
        train.main.__wrapped__(["--dev_directory", str(tmp_path / "nowhere"), "--model_directory", str(tmp_path / "m")])
    assert "normal_id_XX" in str(err.value)
    assert not (tmp_path / "m").exists()  # nothing written before the data was checked


def test_corrupt_wav_is_reported_with_its_path(tmp_path):
    bad = tmp_path / "normal_id_01_00000000.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    with pytest.raises(ValueError, match="normal_id_01_00000000.wav"):
        common.file_to_vector_array(bad)


AD_EPOCHS = 20  # 4 epochs left the float AUC at 0.62 (not learned); 20 reach 1.0 on this easy fixture


@pytest.fixture(scope="module")
def ad_run(tmp_path_factory):
    """00_train -> 01_test -> 02_convert -> 03_tflite_test through the CLI mains on a synthetic ToyCar tree
    (ids 01-02, 6 normal 9 s training clips each; 8 normal + 8 anomalous test clips each), AD_EPOCHS epochs."""
    tmp_path = tmp_path_factory.mktemp("ad")
    _audio_fixtures.write_toycar(tmp_path / "data", seconds=9.0, test_per_id=8)
    args = ["--dev", "--dev_directory", str(tmp_path / "data"), "--model_directory", str(tmp_path / "run"),
            "--result_directory", str(tmp_path / "run"), "--mini"]
    stage = {name: importlib.import_module(f"mlperf_tiny.anomaly_detection.{name}")
             for name in ("00_train", "01_test", "02_convert", "03_tflite_test")}
    assert stage["00_train"].main([*args, "--epochs", str(AD_EPOCHS), "--batch_size", "64"]) == 0
    assert stage["01_test"].main(args) == 0
    assert stage["02_convert"].main(args) == 0
    assert stage["03_tflite_test"].main(args) == 0
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    conversion = json.loads((run / "convert.json").read_text())["ToyCar"]
    return run, metrics["float_ToyCar"], conversion, metrics


def test_end_to_end_cli_run(ad_run):
    run, floating, conversion, tflite = ad_run
    for name in ("model_ToyCar.hdf5", "history_ToyCar.png", "float_ToyCar_roc.png", "result_int8_ToyCar.csv",
                 "model_ToyCar_quant_fullint_micro_intio.tflite", "args.json"):
        assert (run / name).exists(), name
    assert set(floating["per_id"]) == {"id_01", "id_02"}
    assert conversion["calibration_vectors"] == len(np.load(run / "features_ToyCar_train.npy")[::5]) == 12 * 196 // 5 + 1
    # The BN-folded float TFLite model scores like Keras.
    assert tflite["tflite_float_ToyCar"]["average"]["auc"] == pytest.approx(floating["average"]["auc"], abs=0.02)
    from mlperf_tiny.tflite_utils import TFLiteModel

    int8 = TFLiteModel(model_path=run / "model_ToyCar_quant_fullint_micro_intio.tflite")
    assert int8.input_dtype == np.int8 and int8.output_dtype == np.int8
    assert json.loads((run / "metrics.json").read_text())["int8_ToyCar"]["dataset"] == "mini"


def _scores(run, tag, id_name):
    rows = [line.rsplit(",", 1) for line in (run / f"anomaly_score_{tag}_{id_name}.csv").read_text().split()]
    return {name: float(score) for name, score in rows}


def test_int8_anomaly_scores_agree_with_float(ad_run):
    """The int8 I/O TFLite model ranks the test clips as the Keras float model does (AD's argmax agreement)."""
    from scipy.stats import spearmanr

    run, floating, _, tflite = ad_run
    assert floating["average"]["auc"] >= 0.9  # it has learned the (easy) synthetic anomalies
    for id_name in ("id_01", "id_02"):
        float_scores, int8_scores = _scores(run, "float_ToyCar", id_name), _scores(run, "int8_ToyCar", id_name)
        assert sorted(float_scores) == sorted(int8_scores) and len(float_scores) == 16
        names = sorted(float_scores)
        rho = spearmanr([float_scores[n] for n in names], [int8_scores[n] for n in names]).statistic
        assert rho >= 0.95, (id_name, rho)
    assert tflite["int8_ToyCar"]["average"]["auc"] == pytest.approx(floating["average"]["auc"], abs=0.02)

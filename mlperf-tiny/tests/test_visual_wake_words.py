"""MLPerf Tiny VWW: MobileNetV1-0.25 counts, the folder checks and their errors, and the pipeline through the CLIs."""

import json
import shutil

import numpy as np
import pytest
import run_contract as rc
from _image_fixtures import write_tiny_vww
from mlperf_tiny.visual_wake_words import convert_vww, test_vww, train_vww
from mlperf_tiny.visual_wake_words.train_vww import DatasetError, check_vww_dir, stage_bounds


def test_mobilenet_params_and_macs_match_v05():
    from mlperf_tiny.counting import count_macs, count_params
    from mlperf_tiny.registry import get_model

    model = get_model("mobilenet_v1")
    assert count_params(model) == 221_794
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 10_944 // 2  # BN moving stats
    assert count_macs(model) == 7_489_664
    assert model.output_shape == (None, 2)
    assert model.layers[-4].output_shape == (None, 3, 3, 256)  # last ReLU before AvgPool
    # Faithful: L2 on the stem and the 13 pointwise convs only (the depthwise regularizer was ignored).
    assert len(model.losses) == 14


def test_depthwise_regularizer_fix_adds_13_losses():
    from mlperf_tiny.visual_wake_words.vww_model import mobilenet_v1

    model = mobilenet_v1(regularize_depthwise=True)
    assert model.count_params() == 221_794 and len(model.losses) == 27


def test_mobilenet_is_parameterised():
    from mlperf_tiny.visual_wake_words.vww_model import mobilenet_v1

    model = mobilenet_v1(input_shape=(32, 32, 1), num_classes=3, width_multiplier=0.5)
    assert model.output_shape == (None, 3)
    assert model.layers[-4].output_shape == (None, 1, 1, 128)


def test_stage_bounds_follow_the_reference_schedule():
    assert stage_bounds([20, 10, 20]) == [(0, 20), (20, 30), (30, 50)]


def test_missing_data_dir_error_names_layout_and_target(tmp_path, capsys):
    assert train_vww.main(["--data_dir", str(tmp_path / "nope"), "--out_dir", str(tmp_path / "run")]) == 2
    message = capsys.readouterr().err
    assert "person/ and" in message and "non_person/" in message
    assert "make mlperf-vww-data" in message and "make mini-data" in message


def test_wrong_layout_is_reported(tmp_path):
    write_tiny_vww(tmp_path, per_class=2)
    (tmp_path / "person").rename(tmp_path / "people")
    with pytest.raises(DatasetError, match=r"has the folders \['non_person', 'people'\] but no person.*make mlperf-vww-data"):
        check_vww_dir(tmp_path)


def test_corrupt_image_reported_with_path(tmp_path, capsys):
    write_tiny_vww(tmp_path, per_class=3)
    bad = tmp_path / "person" / "0001.jpg"
    bad.write_bytes(b"not a jpeg at all")
    assert train_vww.main(["--data_dir", str(tmp_path), "--out_dir", str(tmp_path / "run")]) == 2
    assert f"corrupt image {bad}" in capsys.readouterr().err


def test_v05_positional_arguments_still_parse():
    args = train_vww.get_args_parser().parse_args(["init.h5", "out.h5"])
    assert (args.init_model, args.saved_model_path) == ("init.h5", "out.h5")
    with pytest.raises(SystemExit):
        train_vww.get_args_parser().parse_args(["--epochs", "3"])  # unknown flag (it is --epochs_per_stage)


def test_calibration_takes_the_first_sorted_person_images(tmp_path):
    write_tiny_vww(tmp_path, per_class=14)
    files = convert_vww.calibration_files(tmp_path)
    assert [p.name for p in files] == [f"{i:04d}.jpg" for i in range(11)]
    assert {p.parent.name for p in files} == {"person"}
    image = convert_vww.load_calibration_image(files[0])
    assert image.shape == (96, 96, 3) and 0.0 <= image.min() and image.max() <= 1.0


def test_train_calibration_avoids_the_validation_files(tmp_path):
    write_tiny_vww(tmp_path, per_class=20)  # validation: the first 2 sorted files of each class
    files = convert_vww.calibration_files(tmp_path, ("person", "non_person"), 3, calibrate_on="train")
    assert [(p.parent.name, p.name) for p in files] == [
        (c, f"{i:04d}.jpg") for c in ("person", "non_person") for i in (2, 10, 19)]
    with pytest.raises(rc.UsageError, match="fewer than --num_calibration_images 30"):
        convert_vww.calibration_files(tmp_path, ("person",), 30, calibrate_on="train")



def test_grayscale_color_mode_gives_one_channel_data_and_model(tmp_path):
    """--color_mode grayscale (depth-pruning's Pico4ML base): (B, 96, 96, 1) batches, calibration images and
    validation split, and a 96x96x1 MobileNetV1-0.25 (the stem conv loses 2 x 72 weights: 221,794 - 144)."""
    write_tiny_vww(tmp_path, per_class=20)
    train, val = train_vww.make_generators(tmp_path, batch_size=4, color_mode="grayscale")
    assert train[0][0].shape == (4, 96, 96, 1) and val[0][0].shape == (4, 96, 96, 1)
    assert train_vww.make_generators(tmp_path, batch_size=4)[0][0][0].shape == (4, 96, 96, 3)  # default rgb
    images, labels = train_vww.load_split(tmp_path, color_mode="grayscale")
    assert images.shape == (4, 96, 96, 1) and labels.tolist() == [0, 0, 1, 1]
    image = convert_vww.load_calibration_image(tmp_path / "person" / "0000.jpg", "grayscale")
    assert image.shape == (96, 96, 1) and 0.0 <= image.min() and image.max() <= 1.0
    assert train_vww.get_args_parser().parse_args([]).color_mode == "rgb"
    assert train_vww.get_args_parser().parse_args(["--color_mode", "grayscale"]).color_mode == "grayscale"
    from mlperf_tiny.registry import get_model

    model = get_model("mobilenet_v1", input_shape=(96, 96, train_vww.input_channels("grayscale")))
    assert model.count_params() == 221_650 and model.input_shape == (None, 96, 96, 1)
    assert train_vww.color_mode_of(model) == "grayscale"
    with pytest.raises(ValueError, match="unknown color_mode"):
        train_vww.input_channels("bgr")


@pytest.fixture(scope="module")
def small_vww_run(mini_data_dir, tmp_path_factory):
    """The make stages (train 1+1+1 epochs, int8 conversion, evaluation) on 40 mini images per class: every
    artifact and the int8 model's I/O, in seconds; the accuracy checks need the full recipe (``vww_run``, slow)."""
    data_dir = tmp_path_factory.mktemp("vww_small")
    for name in ("person", "non_person"):
        (data_dir / name).mkdir()
        for path in sorted((mini_data_dir / "vw_coco2014_96" / name).iterdir())[:40]:
            shutil.copy(path, data_dir / name / path.name)
    return run_make_stages(data_dir, tmp_path_factory.mktemp("vww_small_run"), (1, 1, 1))


def run_make_stages(data_dir, run, epochs_per_stage):
    """mk/vww.mk's stages into ``run``: train (batch 8, the MINI=1 batch), int8 conversion, evaluation."""
    model_path = str(run / train_vww.MODEL_FILE_NAME)
    assert train_vww.main(["--data_dir", str(data_dir), "--out_dir", str(run), "--epochs_per_stage",
                           *map(str, epochs_per_stage), "--batch_size", "8", "--seed", "0", "--verbose", "0"]) == 0
    assert convert_vww.main([model_path, "--data_dir", str(data_dir)]) == 0
    assert test_vww.main([model_path, "--data_dir", str(data_dir), "--no_progress", "--out_dir", str(run)]) == 0
    return run


def assert_every_artifact(run, epochs):
    """Every file of the stages, one history row per epoch, the faithful calibration list (first 11 images)."""
    for name in ("vww_96.h5", "args.json", "history.csv", "training_curves.png", "vww_96_float.tflite",
                 "vww_96_int8.tflite", "calibration_data.txt", "keras_float_confusion.png", "tflite_int8_roc.png"):
        assert (run / name).stat().st_size > 0, name
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == epochs + 1 and "val_accuracy" in history[0]
    assert len((run / "calibration_data.txt").read_text().split()) == 11


def test_pipeline_writes_every_artifact(small_vww_run):
    assert_every_artifact(small_vww_run, 3)
    metrics = json.loads((small_vww_run / "metrics.json").read_text())
    int8 = metrics["tflite_int8"]
    assert int8["input_dtype"] == "int8" and int8["output_dtype"] == "int8"
    assert int8["num_samples"] == 8  # the first 10% of each class's 40 images
    from mlperf_tiny.tflite_utils import TFLiteModel

    scale, zero_point = TFLiteModel(model_path=small_vww_run / "vww_96_int8.tflite").input_details["quantization"]
    assert scale == pytest.approx(1 / 255, rel=0.02) and zero_point == -128  # int8 = pixel - 128


@pytest.fixture(scope="module")
def vww_run(mini_data_dir, tmp_path_factory):
    """The MINI=1 recipe of mk/vww.mk on the mini VWW images (6+3+3 epochs at batch 8, ~105 s CPU), then the
    faithful int8 conversion (first 11 person images) and evaluation. Fewer epochs leave a borderline model whose
    int8 argmax flips too often (8 epochs: 93-95% agreement whatever the calibration set)."""
    return run_make_stages(mini_data_dir / "vw_coco2014_96", tmp_path_factory.mktemp("vww_run"), (6, 3, 3))


@pytest.mark.slow
def test_full_mini_recipe_writes_every_artifact(vww_run):
    assert_every_artifact(vww_run, 12)


@pytest.mark.slow
def test_int8_model_has_int8_io_and_agrees_with_float(vww_run):
    metrics = json.loads((vww_run / "metrics.json").read_text())
    int8 = metrics["tflite_int8"]
    assert int8["input_dtype"] == "int8" and int8["output_dtype"] == "int8" and int8["dataset"] == "mini"
    assert int8["num_samples"] == 100  # the first 10% of each class's 500 mini images
    # Measured (seed 0, deterministic on CPU): 97% agreement, float 85% / int8 84% accuracy (mini data).
    assert int8["argmax_agreement_with_keras"] >= 0.95
    assert metrics["tflite_float"]["argmax_agreement_with_keras"] >= 0.99
    from mlperf_tiny.tflite_utils import TFLiteModel

    scale, zero_point = TFLiteModel(model_path=vww_run / "vww_96_int8.tflite").input_details["quantization"]
    assert scale == pytest.approx(1 / 255, rel=0.02) and zero_point == -128  # int8 = pixel - 128


@pytest.mark.slow
def test_mini_schedule_reaches_the_sanity_target(vww_run):
    """The MINI=1 schedule must reach the issue's 75% for float and int8 (measured: 85% / 84%, mini data)."""
    metrics = json.loads((vww_run / "metrics.json").read_text())
    assert metrics["keras_float"]["accuracy"] >= 75.0
    assert metrics["tflite_int8"]["accuracy"] >= 75.0

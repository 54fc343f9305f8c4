"""The command contract (issue 18) for every mlperf-tiny CLI: bad input -> one line, the right exit code, no
traceback and an untouched run directory; a save that fails half-way loses nothing; kill -9 mid-epoch resumes to
the same result as an uninterrupted run."""

import errno
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from run_contract.testing import assert_one_line_error, run_cli, tree_hashes

sys.path.insert(0, str(Path(__file__).parent))
import _audio_fixtures  # noqa: E402
from _image_fixtures import write_tiny_cifar  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bad and wrong-task inputs, and a folder holding an earlier run whose files must stay as they are."""
    root = tmp_path_factory.mktemp("bad_inputs")
    (root / "truncated.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (root / "text.tflite").write_text("not a model\n")
    (root / "empty.h5").write_bytes(b"")
    (root / "bad.yaml").write_text("fit: [unclosed\n")
    (root / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    cifar = write_tiny_cifar(root / "cifar", train_per_batch=4, num_test=10)
    broken = write_tiny_cifar(root / "cifar_broken", train_per_batch=4, num_test=10)
    (broken / "test_batch").write_bytes(b"\x80\x02}q\x00garbage")
    only_test = root / "cifar_no_test"
    only_test.mkdir()
    (root / "eembc_missing").mkdir()
    (root / "eembc_missing" / "y_labels.csv").write_text("a.bin,10,3\n")
    run = root / "earlier_run"  # an earlier run of another model: nothing in it may change
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"seed": 123, "model_architecture": "other"}))
    (run / "metrics.json").write_text('{"accuracy": 91.0}\n')
    (run / "last.weights.h5").write_bytes(b"earlier weights")
    # A tiny model of another task (IC input) as a .tflite: loading it needs no TensorFlow in the subprocess.
    import tensorflow as tf
    from mlperf_tiny.tflite_utils import convert_to_tflite

    ic_model = tf.keras.Sequential([tf.keras.Input((32, 32, 3)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])
    (root / "ic_model.tflite").write_bytes(convert_to_tflite(ic_model, int8=False))
    return {"root": root, "run": run, "cifar": cifar, "broken": broken, "only_test": only_test}


def cases(mini):
    """(module, args, exit code, fragments of the error line); {name} is a path in the `files` fixture."""
    kws, ic, vww, ad = ("mlperf_tiny.keyword_spotting", "mlperf_tiny.image_classification",
                        "mlperf_tiny.visual_wake_words", "mlperf_tiny.anomaly_detection")
    run = "{run}/model.h5"
    return [
        (f"{kws}.train", ["--epochs", "0", "--saved_model_path", run], 2, ["--epochs", "0 is not an integer >= 1"]),
        (f"{kws}.train", ["--batch_size", "-3", "--saved_model_path", run], 2, ["--batch_size"]),
        (f"{kws}.train", ["--model_architecture", "ds_cnnn", "--saved_model_path", run], 2, ["did you mean ds_cnn"]),
        (f"{kws}.train", ["--num_train_samples", "0", "--saved_model_path", run], 2, ["--num_train_samples"]),
        (f"{kws}.train", ["--data_dir", "{root}/nowhere", "--saved_model_path", run], 2, ["does not exist"]),
        (f"{kws}.train", ["--data_dir", mini, "--saved_model_path", run], 2, ["holds a different run", "--seed"]),
        (f"{kws}.quantize", ["--saved_model_path", "{root}/truncated.h5", "--tfl_file_name", "{run}/m.tflite"], 2,
         ["truncated.h5", "truncated or corrupt HDF5"]),
        (f"{kws}.evaluate", ["--saved_model_path", "{root}/absent.h5", "--out_dir", "{run}"], 2, ["not found"]),
        (f"{kws}.evaluate", ["--saved_model_path", "{root}/ic_model.tflite", "--out_dir", "{run}"], 2,
         ["input shape 32x32x3", "kws models take"]),
        (f"{kws}.eval_quantized_model", ["--tfl_file_name", "{root}/text.tflite", "--out_dir", "{run}"], 2,
         ["not a TFLite flatbuffer"]),
        (f"{ic}.train", ["--epochs", "-1", "--out_dir", "{run}"], 2, ["--epochs", "-1"]),
        (f"{ic}.train", ["--lr_decay", "1.5", "--out_dir", "{run}"], 2, ["--lr_decay", "1.5"]),
        (f"{ic}.train", ["--data_dir", "{cifar}", "--out_dir", "{run}"], 2, ["holds a different run"]),
        (f"{ic}.test", ["--model_path", "{root}/empty.h5", "--out_dir", "{run}"], 2, ["empty (0 bytes)"]),
        (f"{ic}.test", ["--model_path", "{root}/ic_model.tflite", "--data_dir", "{only_test}", "--out_dir", "{run}"],
         2, ["lacks test_batch"]),
        (f"{ic}.tflite_test", ["--model_path", "{root}/absent.h5", "--data_dir", "{cifar}", "--out_dir", "{run}"], 1,
         ["no TFLite model to evaluate"]),
        (f"{ic}.perf_samples_loader", ["--data_dir", "{broken}", "--out_dir", "{run}/perf"], 2,
         ["corrupt CIFAR-10 file"]),
        (f"{ic}.model_converter", ["--model_path", "{root}/text.tflite", "--out_dir", "{run}"], 2,
         ["not a TFLite flatbuffer"]),
        (f"{vww}.train_vww", ["--epochs_per_stage", "2", "2", "--learning_rates", "1e-3", "--out_dir", "{run}"], 2,
         ["one learning rate per stage"]),
        (f"{vww}.train_vww", ["--validation_split", "1.0", "--out_dir", "{run}"], 2, ["--validation_split"]),
        (f"{vww}.convert_vww", ["{root}/absent.h5", "--out_dir", "{run}"], 2, ["model not found"]),
        (f"{vww}.test_vww", ["{root}/ic_model.tflite", "--out_dir", "{run}"], 2, ["is that of an ic"]),
        (f"{ad}.00_train", ["--epochs", "0", "--model_directory", "{run}"], 2, ["--epochs"]),
        (f"{ad}.00_train", ["--config", "{root}/bad.yaml", "--model_directory", "{run}"], 2, ["not valid YAML"]),
        (f"{ad}.01_test", ["--dev_directory", mini, "--model_directory", "{root}", "--result_directory", "{run}"], 2,
         ["model_ToyCar.hdf5", "not found"]),
        (f"{ad}.03_tflite_test", ["--dev_directory", mini, "--model_directory", "{root}", "--result_directory",
                                  "{run}"], 1, ["no TFLite model to evaluate"]),
        ("mlperf_tiny.eembc", ["--task", "ic", "--model", "{root}/ic_model.tflite", "--data", "{root}/eembc_missing",
                               "--json", "{run}/r.json"], 2, ["lists a.bin"]),
        ("mlperf_tiny.eembc", ["--task", "kws", "--model", "{root}/ic_model.tflite", "--data", "{root}/nowhere"], 2,
         ["EEMBC data folder not found"]),
        ("mlperf_tiny.download", ["imagenet", "--data_dir", "{run}"], 2, ["invalid choice"]),
        ("mlperf_tiny.mini_data", ["--jobs", "0", "--out", "{run}"], 2, ["--jobs"]),
        ("mlperf_tiny.benchmark", ["--steps", "0"], 2, ["--steps"]),
    ]


@pytest.mark.parametrize("index", range(31))
def test_bad_input_is_one_line_and_touches_nothing(index, files, mini_data_dir):
    module, args, code, fragments = cases(str(mini_data_dir))[index]
    args = [a.format(**{k: v for k, v in files.items()}) for a in args]
    before = tree_hashes(files["run"])
    returncode, _, stderr = run_cli(module, *args, timeout=300)
    assert returncode == code, f"{module} {args}: exit {returncode}\n{stderr}"
    assert_one_line_error(stderr, *fragments)
    assert tree_hashes(files["run"]) == before


def test_case_table_is_complete():
    assert len(cases("mini")) == 31


# --------------------------------------------------------------------------------------------- save faults
AD_SETTINGS = ["--dev", "--machine_type", "ToyCar", "--batch_size", "16", "--seed", "0"]


@pytest.fixture(scope="module")
def toycar_small(tmp_path_factory):
    root = tmp_path_factory.mktemp("toycar_small")
    _audio_fixtures.write_toycar(root, ids=(1,), train_per_id=3, test_per_id=2, seconds=9.0)
    return root


@pytest.fixture(scope="module")
def toycar(tmp_path_factory):
    root = tmp_path_factory.mktemp("toycar")
    # 6 clips of 9 s: 1,058 training vectors, 67 steps of 16 per epoch (long enough to be killed mid-epoch).
    _audio_fixtures.write_toycar(root, ids=(1,), train_per_id=6, test_per_id=2, seconds=9.0)
    return root


def _ad_args(toycar, model_dir):
    return [*AD_SETTINGS, "--dev_directory", str(toycar), "--model_directory", str(model_dir),
            "--result_directory", str(model_dir)]


def test_failed_resume_point_save_keeps_the_previous_one_and_the_rerun_resumes(toycar_small, tmp_path, monkeypatch,
                                                                               capsys):
    """The HDF5 writer fills the disk half-way through the epoch-3 resume point (truncates its file, raises
    ENOSPC): one line 'disk full', exit 1; epoch 2's resume point still loads; the rerun resumes after epoch 2."""
    import h5py
    from mlperf_tiny import run_utils
    from mlperf_tiny.anomaly_detection import keras_model

    train = importlib.import_module("mlperf_tiny.anomaly_detection.00_train")
    model_dir = tmp_path / "run"
    assert train.main([*_ad_args(toycar_small, model_dir), "--epochs", "2"]) == 0
    (model_dir / "model_ToyCar.hdf5").unlink()  # ask for more epochs of the same run
    resume_point = model_dir / "ToyCar" / run_utils.LAST_WEIGHTS
    saved = resume_point.read_bytes()

    real_file = h5py.File

    def disk_fills_up(name, mode="r", *args, **kwargs):
        if mode in ("w", "a") and str(name).endswith(run_utils.LAST_WEIGHTS):
            with open(name, "wb") as f:
                f.write(b"\0" * 64)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(name))
        return real_file(name, mode, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", disk_fills_up)
    capsys.readouterr()
    assert train.main([*_ad_args(toycar_small, model_dir), "--epochs", "4"]) == 1
    error = assert_one_line_error(capsys.readouterr().err, "disk full", run_utils.LAST_WEIGHTS)
    assert "unchanged" in error
    monkeypatch.setattr(h5py, "File", real_file)
    assert resume_point.read_bytes() == saved  # the previous resume point, intact
    assert not [p for p in resume_point.parent.iterdir() if p.name.startswith(".tmp-")]
    model = keras_model.get_model(640)
    model.compile("adam", "mse")
    assert run_utils.load_resume_point(resume_point, model) == 2
    assert train.main([*_ad_args(toycar_small, model_dir), "--epochs", "4"]) == 0
    assert "ToyCar: resuming after epoch 2" in capsys.readouterr().out
    history = (model_dir / "ToyCar" / run_utils.HISTORY_CSV).read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["0", "1", "2", "3"]


# ------------------------------------------------------------------------------------------------- kill -9
KILL_EPOCHS = 4


def test_kill_minus_9_mid_epoch_resumes_to_the_uninterrupted_result(toycar, tmp_path):
    """An uninterrupted 4-epoch run and one killed (SIGKILL) in the middle of epoch 3, then rerun, end with the
    same history and weights: the resume point restores Adam's state, and each epoch's batch order depends on
    (seed, epoch) only."""
    from mlperf_tiny import run_utils

    train = importlib.import_module("mlperf_tiny.anomaly_detection.00_train")
    reference = tmp_path / "uninterrupted"
    assert train.main([*_ad_args(toycar, reference), "--epochs", str(KILL_EPOCHS)]) == 0

    killed = tmp_path / "killed"
    args = [*_ad_args(toycar, killed), "--epochs", str(KILL_EPOCHS)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "mlperf_tiny.anomaly_detection.00_train", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = killed / "ToyCar" / run_utils.LAST_EPOCH
    seen = {}  # epochs done -> when first seen
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None and 2 not in seen:
        if marker.exists():
            seen.setdefault(json.loads(marker.read_text())["epochs_done"], time.monotonic())
        time.sleep(0.01)
    if 1 in seen:  # half an epoch into epoch 3
        time.sleep((seen[2] - seen[1]) / 2)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    epochs_done_at_kill = json.loads(marker.read_text())["epochs_done"]
    assert 2 <= epochs_done_at_kill < KILL_EPOCHS
    assert train.main(args) == 0  # the same command resumes
    history = lambda run: (run / "ToyCar" / run_utils.HISTORY_CSV).read_text()  # noqa: E731
    assert history(killed) == history(reference)
    from mlperf_tiny import model_io

    weights = [model_io.load_model(run / "model_ToyCar.hdf5").keras_model.get_weights() for run in (reference, killed)]
    assert len(weights[0]) == len(weights[1]) == 56  # 10 Dense x (kernel, bias) + 9 BN x 4
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


@pytest.mark.slow  # three ResNet-8 trainings (tracing dominates): ~1 min on an idle 2-core machine
def test_ic_exact_resume_trains_on_the_batches_of_an_uninterrupted_run(tmp_path):
    """--exact_resume (IC; VWW has the same flag): the ImageDataGenerator's order and augmentation come from
    (seed, epoch), so 1 epoch + a resumed 2 more == 3 epochs in one go (history and weights, bit for bit)."""
    from mlperf_tiny import model_io
    from mlperf_tiny.image_classification import train

    data = write_tiny_cifar(tmp_path / "cifar", train_per_batch=4, num_test=4)
    common = ["--data_dir", str(data), "--batch_size", "4", "--exact_resume", "--verbose", "0"]
    assert train.main([*common, "--out_dir", str(tmp_path / "straight"), "--epochs", "3"]) == 0
    assert train.main([*common, "--out_dir", str(tmp_path / "resumed"), "--epochs", "1"]) == 0
    assert train.main([*common, "--out_dir", str(tmp_path / "resumed"), "--epochs", "3"]) == 0
    history = [(tmp_path / run / "history.csv").read_text() for run in ("straight", "resumed")]
    assert history[0] == history[1] and len(history[0].splitlines()) == 4
    weights = [model_io.load_model(tmp_path / run / train.MODEL_FILE_NAME).keras_model.get_weights()
               for run in ("straight", "resumed")]
    assert all(np.array_equal(a, b) for a, b in zip(*weights))

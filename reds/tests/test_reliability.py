"""The command contract of every reds command: bad inputs end in one line and a clear exit code with the run
folder untouched; a save that fails half-way keeps the previous resume point; kill -9 mid-phase resumes to the
results of an uninterrupted run."""

import errno
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlperf_tiny  # noqa: F401
import pytest
import run_contract as rc
from run_contract.testing import assert_one_line_error, run_cli, tree_hashes

from reds import kws_dnn

KWS_SCRIPTS = ("reds.kws_dnn", "reds.kws_convolution_cnn", "reds.kws_convolution_depthwise")
FMNIST = "reds.vision_ds_convolution_fashion_mnist"
ARM_DS_CNN_S = "models/reds/arm_kws/ds_cnn_s/ckpt"
# a small DNN run: pretraining, scores, knapsack and joint epochs take seconds on the mini data
SMALL_DNN = ["--max_samples", "300", "--pretrain_epochs", "5", "--minibatch_number", "2", "--batch_size", "32",
             "--no-export_tflite", "--no-plot", "--front_end", "mlperf", "--label_order", "mlperf",
             "--learning_rate", "0.0003", "--experimental_runs", "1"]

# (case, module, arguments after the module's --data_dir/--out_dir defaults, exit code, fragments of the error line)
CASES = [
    ("unknown flag", "reds.kws_dnn", ["--no_such_flag"], 2, ["--no_such_flag"]),
    ("negative epochs", "reds.kws_dnn", ["--epochs", "-1"], 2, ["--epochs", "-1"]),
    ("budget above 1", "reds.kws_dnn", ["--constraints_percentages", "0.25,1.5,0.75"], 2, ["--constraints_percentages"]),
    ("budget count", "reds.kws_convolution_cnn", ["--constraints_percentages", "0.5"], 2, ["needs 3"]),
    ("repeated budget", "reds.kws_dnn", ["--constraints_percentages", "0.5,0.5,0.75"], 2, ["repeats a budget"]),
    ("unknown size", "reds.kws_convolution_depthwise", ["--model_sizes", "s,xl"], 2, ["--model_sizes"]),
    ("vision size", FMNIST, ["--model_sizes", "l"], 2, ["--model_sizes"]),
    ("volume above 1", "reds.kws_dnn", ["--background_volume", "2"], 2, ["--background_volume"]),
    ("repeated word", "reds.kws_dnn", ["--wanted_words", "yes,yes"], 2, ["distinct"]),
    ("classes vs words", "reds.kws_dnn", ["--classes", "7"], 2, ["--classes 7"]),
    ("memory budgets", "reds.kws_dnn", ["--memory_budget", "0.5"], 2, ["--memory_budget"]),
    ("no speech data", "reds.kws_dnn", ["--data_dir", "{empty}"], 2, ["Speech Commands"]),
    ("no fashion-mnist", FMNIST, ["--data_dir", "{empty}"], 2, ["Fashion-MNIST", "make reds-fashion-mnist-data"]),
    ("missing weights", "reds.kws_dnn", ["--pretrained_weights", "{empty}/none.h5"], 2, ["none.h5", "not found"]),
    ("text as weights", "reds.kws_dnn", ["--pretrained_weights", "{text}"], 2, ["notes.txt", "neither an HDF5"]),
    ("other run there", "reds.kws_dnn", ["--epochs", "4"], 2, ["--epochs 3", "--overwrite"]),
    ("gurobi over licence", "reds.kws_convolution_depthwise", ["--model_sizes", "s", "--solver", "gurobi"], 2,
     ["--solver gurobi"]),
    ("ARM ckpt, other labels", "reds.kws_convolution_depthwise",
     ["--model_sizes", "s", "--pretrained_weights", "{kit}/" + ARM_DS_CNN_S, "--label_order", "mlperf"], 2,
     ["ARM's label order"]),
    ("evaluate: no test data", "reds.evaluate",
     ["--dataset", "fashion_mnist", "--pretrained_weights", "{text}", "--data_dir", "{empty}"], 2, ["t10k-images"]),
    ("evaluate: nothing trained", "reds.evaluate",
     ["--dataset", "fashion_mnist", "--pretrained_weights", "{run}", "--data_dir", "{mini}/fashion_mnist"], 2,
     ["speech_commands run"]),
    ("report: no results", "reds.report", ["--runs", "{empty}"], 2, ["results.json"]),
    ("solver bench: instance", "reds.benchmark_solvers", ["--instances", "dnn_x"], 2, ["--instances"]),
    ("epoch bench: no data", "reds.benchmark_epoch", ["--data_dir", "{empty}"], 2, ["Fashion-MNIST idx file"]),
]


def _default_args(module, mini, run):
    if module in KWS_SCRIPTS:
        return ["--data_dir", str(mini), "--out_dir", str(run)]
    if module == FMNIST:
        return ["--data_dir", str(mini / "fashion_mnist"), "--out_dir", str(run)]
    return []


@pytest.fixture(scope="module")
def places(tmp_path_factory, mini_data_dir):
    """An earlier (unfinished) KWS DNN run folder, an empty folder and a text file."""
    root = tmp_path_factory.mktemp("contract")
    run = root / "run"
    args = kws_dnn.get_args_parser().parse_args(["--data_dir", str(mini_data_dir), "--out_dir", str(run),
                                                "--epochs", "3"])
    rc.claim_run_dir(run, args, ignore=("plot", "print", "cuda_device", "gurobi_home", "gurobi_license_file"))
    (run / "s").mkdir()
    (empty := root / "empty").mkdir()
    (text := root / "notes.txt").write_text("not a model\n")
    return {"run": run, "empty": empty, "text": text, "mini": Path(mini_data_dir)}


# cases also run as `python -m` programs (the others call the module's main in this process: same wrapper, same
# exit code and stderr line, without a TensorFlow start-up per case)
AS_PROGRAM = ("unknown flag", "no fashion-mnist", "evaluate: no test data")


@pytest.mark.parametrize("case,module,arguments,code,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_the_run_folder_alone(places, case, module, arguments, code, fragments,
                                                                capfd, monkeypatch):
    kit = Path(os.environ.get("TINYML_FIDELITY_KIT", Path(__file__).resolve().parents[3] / "shared" / "fidelity"))
    if any("{kit}" in a for a in arguments) and not (kit / ARM_DS_CNN_S).is_dir():
        pytest.skip(f"fidelity kit not found at {kit}")
    values = {**{k: str(v) for k, v in places.items()}, "kit": str(kit)}
    argv = _default_args(module, places["mini"], places["run"]) + [a.format(**values) for a in arguments]
    before = tree_hashes(places["run"])
    monkeypatch.delenv("TINYML_DEBUG", raising=False)
    capfd.readouterr()
    returncode = importlib.import_module(module).main(argv)
    stderr = capfd.readouterr().err
    assert returncode == code, stderr[-2000:]
    assert_one_line_error(stderr, *fragments)
    assert tree_hashes(places["run"]) == before
    assert not (places["empty"] / "logs").exists()
    if case in AS_PROGRAM:
        returncode, _, stderr = run_cli(module, *argv, timeout=300)
        assert returncode == code, stderr
        assert_one_line_error(stderr, *fragments)
        assert tree_hashes(places["run"]) == before


def _resume_epochs(path):
    import h5py

    with h5py.File(path, "r") as f:
        return int(f["reds_resume"].attrs["epochs_done"])


def test_a_save_that_fails_half_way_keeps_the_previous_resume_point(mini_data_dir, tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    out = tmp_path / "run"
    argv = ["--data_dir", str(mini_data_dir), "--out_dir", str(out), *SMALL_DNN, "--epochs", "3"]
    real = tf.keras.Model.save_weights
    joint_saves = []

    def disk_fills_at_the_second_joint_save(self, filepath, *args, **kwargs):
        if "joint_resume" in str(filepath):
            joint_saves.append(filepath)
            if len(joint_saves) == 2:  # truncate the file being written, then fail as a full disk does
                Path(filepath).write_bytes(b"\0" * 64)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))
        return real(self, filepath, *args, **kwargs)

    monkeypatch.setattr(tf.keras.Model, "save_weights", disk_fills_at_the_second_joint_save)
    assert kws_dnn.main(argv) == 1
    line = assert_one_line_error(capsys.readouterr().err, "joint_resume.h5")
    assert "unchanged" in line
    resume = out / "s" / "run0" / "joint_resume.h5"
    assert _resume_epochs(resume) == 1 and not list(resume.parent.glob("*.tmp*"))  # epoch 1's point, intact
    monkeypatch.undo()
    assert kws_dnn.main(argv) == 0
    log = "\n".join(p.read_text() for p in (out / "logs").glob("*.log"))
    assert "joint: resuming after epoch 1" in log
    assert _resume_epochs(resume) == 3
    history = (out / "s" / "run0" / "joint_history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]
    assert json.loads((out / "results.json").read_text())["subnetworks"]


def _start(argv):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TINYML_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "reds.kws_dnn", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_kill_9_mid_phase_then_rerun_gives_the_uninterrupted_results(mini_data_dir, tmp_path):
    epochs = ["--epochs", "6"]
    reference = tmp_path / "reference"
    returncode, _, stderr = run_cli("reds.kws_dnn", "--data_dir", mini_data_dir, "--out_dir", reference, *SMALL_DNN,
                                    *epochs, timeout=600)
    assert returncode == 0, stderr
    # the same run from the reference's pretrained weights, killed as soon as its first joint epoch is saved
    argv = ["--data_dir", str(mini_data_dir), "--out_dir", str(tmp_path / "killed"), *SMALL_DNN, *epochs,
            "--pretrained_weights", str(reference / "s" / "pretrained.weights.h5")]
    resume = tmp_path / "killed" / "s" / "run0" / "joint_resume.h5"
    proc = _start(argv)
    deadline = time.monotonic() + 600
    while not resume.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = _resume_epochs(resume)
    assert 1 <= done < 6 and not (resume.parent / "metrics.json").exists()
    returncode, stdout, stderr = run_cli("reds.kws_dnn", *argv, timeout=600)
    assert returncode == 0, stderr
    assert f"joint: resuming after epoch {done}" in stdout
    expected = json.loads((reference / "s" / "run0" / "metrics.json").read_text())
    resumed = json.loads((tmp_path / "killed" / "s" / "run0" / "metrics.json").read_text())
    assert [r["widths"] for r in resumed["subnetworks"]] == [r["widths"] for r in expected["subnetworks"]]
    assert [r["accuracy"] for r in resumed["subnetworks"]] == pytest.approx([r["accuracy"] for r in expected["subnetworks"]])
    assert [r["loss"] for r in resumed["subnetworks"]] == pytest.approx([r["loss"] for r in expected["subnetworks"]],
                                                                        rel=1e-4)

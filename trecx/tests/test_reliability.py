"""The command contract of every trecx CLI (issue 18): bad inputs end in one line with the right exit code and
leave run folders untouched, a save that fails half-way keeps the previous resume point, and a run killed with
SIGKILL mid-epoch resumes to the metrics of an uninterrupted run."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlperf_tiny.testing import disk_full_h5py_file, kill_mid_epoch_program, read_history
from run_contract.testing import assert_one_line_error, run_cli, tree_hashes
from trecx.image_classification import train_resnet

KIT = Path(__file__).resolve().parents[2].parent / "shared" / "fidelity"
IC_TRAIN = "trecx.image_classification.train_resnet"
# A tiny IC run: 32 images in 2 batches per epoch, each epoch's batches drawn from (seed, epoch).
TINY = ["--model_architecture", "resnet_ev", "--isEV", "--model_save_name", "m", "--num_train_samples", "32",
        "--batch_size", "16", "--seed", "3", "--verbose", "0", "--exact_resume"]


def ic_args(data, out, epochs=1, *extra):
    return [*TINY, "--data_dir", str(data), "--out_dir", str(out), "--epochs", str(epochs), *extra]


@pytest.fixture(scope="module")
def ic_data(mini_data_dir):
    return mini_data_dir / "cifar-10-batches-py"


@pytest.fixture(scope="module")
def trained(ic_data, tmp_path_factory):
    """An uninterrupted two-epoch IC run (a subprocess, as the killed one): the folder the bad-input cases must leave
    untouched, and the reference of the resumed runs."""
    out = tmp_path_factory.mktemp("trained")
    code, _, err = run_cli(IC_TRAIN, *ic_args(ic_data, out, 2), timeout=600)
    assert code == 0, err[-2000:]
    return out


def _bad_inputs(data, trained, tmp):
    """(name, module, args, exit code, fragments of the error line, folder that must stay unchanged)."""
    empty = tmp / "empty"
    empty.mkdir()
    corrupt = tmp / "corrupt"  # a T-RECX run folder whose final weights are not HDF5
    shutil.copytree(trained / "m", corrupt / "model_with_ev_assist")
    (corrupt / "model_with_ev_assist" / "model.weights.h5").write_bytes(b"not an HDF5 file" * 64)
    torn = tmp / "torn"  # an interrupted run whose resume point was cut short
    shutil.copytree(trained, torn)
    (torn / "m" / "model.weights.h5").unlink()
    resume_point = torn / "m" / "last.weights.h5"
    resume_point.write_bytes(resume_point.read_bytes()[:2048])
    no_layout = tmp / "no_layout"
    (no_layout / "cats").mkdir(parents=True)
    kws_model = KIT / "models" / "trecx" / "keyword_spotting" / "model_sdn"
    cases = [
        ("epochs -1", IC_TRAIN, ["--epochs", "-1", "--out_dir", trained], 2, ["--epochs", "-1"], trained),
        ("W_aux -1.5", IC_TRAIN, ["--W_aux", "-1.5", "--out_dir", trained], 2, ["--W_aux", "-1.5"], trained),
        ("unknown architecture", IC_TRAIN, ["--model_architecture", "resnet_evv"], 2, ["resnet_ev"], trained),
        ("batch size 0", IC_TRAIN, ["--batch_size", "0"], 2, ["--batch_size"], trained),
        ("transfer fraction 1.5", IC_TRAIN, ["--transfer_fraction", "1.5"], 2, ["--transfer_fraction"], trained),
        ("EV flag on a noEV model", IC_TRAIN, ["--model_architecture", "resnet_noev", "--isEV"], 2, ["--isEV"],
         trained),
        ("missing data", IC_TRAIN, ic_args(tmp / "nowhere", trained, 2), 2, ["nowhere"], trained),
        ("other run in the folder", IC_TRAIN, ic_args(data, trained, 3), 2, ["--epochs", "--overwrite"], trained),
        ("torn resume point", IC_TRAIN, ic_args(data, torn, 2), 2, ["last.weights.h5"], torn),
        ("nothing trained", "trecx.image_classification.test_resnet", ["--data_dir", data, "--out_dir", empty], 1,
         ["nothing to evaluate"], empty),
        ("corrupt trained weights", "trecx.image_classification.test_resnet", ["--data_dir", data, "--out_dir",
                                                                               corrupt], 2, ["model.weights.h5"],
         corrupt),
        ("test samples 0", "trecx.image_classification.test_resnet", ["--num_test_samples", "0", "--out_dir",
                                                                       trained], 2, ["--num_test_samples"], trained),
        ("KWS epochs 0", "trecx.keyword_spotting.train_dscnn", ["--epochs", "0", "--out_dir", trained], 2,
         ["--epochs"], trained),
        ("KWS W_aux -1.5", "trecx.keyword_spotting.train_dscnn", ["--W_aux", "-1.5"], 2, ["--W_aux"], trained),
        ("KWS data missing", "trecx.keyword_spotting.test_dscnn", ["--data_dir", tmp / "nowhere", "--out_dir",
                                                                   trained], 2, ["nowhere"], trained),
        ("VWW W_aux -1.5", "trecx.visual_wake_words.train_mobnet", ["m", "mobnet_ev", "-1.5"], 2, ["W_aux"], trained),
        ("VWW stages vs rates", "trecx.visual_wake_words.train_mobnet",
         ["m", "mobnet_ev", "--epochs_per_stage", "2", "2", "--learning_rates", "1e-3", "--out_dir", trained], 2,
         ["--learning_rates"], trained),
        ("VWW split 1.5", "trecx.visual_wake_words.test_mobnet", ["--validation_split", "1.5"], 2,
         ["--validation_split"], trained),
        ("VWW folder layout", "trecx.visual_wake_words.test_mobnet", ["--data_dir", no_layout, "--out_dir", trained],
         2, ["person"], trained),
        ("curve costs", "trecx.curves", ["--traces", tmp, "--name", "x", "--macs-ee", "-1", "--macs-final", "2"], 2,
         ["--macs-ee"], trained),
        ("EEMBC folder without labels", "trecx.eembc", ["--task", "ic", "--model", kws_model, "--data", empty], 2,
         ["y_labels.csv"], trained),
    ]
    if kws_model.is_dir():
        cases.append(("KWS model for VWW", "trecx.eembc", ["--task", "vww", "--model", kws_model, "--data",
                                                           KIT / "eembc" / "vww01"], 2, ["49x10x1", "kws"], trained))
    return cases


def test_bad_inputs_one_line_and_nothing_changed(ic_data, trained, tmp_path):
    cases = _bad_inputs(ic_data, trained, tmp_path)
    failures = []
    for name, module, args, code, fragments, folder in cases:
        before = tree_hashes(folder)
        returncode, _, stderr = run_cli(module, *args, timeout=300)
        try:
            assert returncode == code, f"exit {returncode}, expected {code}"
            assert_one_line_error(stderr, *fragments)
            assert tree_hashes(folder) == before, "files changed"
        except AssertionError as err:
            failures.append(f"{name}: {err}\n{stderr[-800:]}")
    assert not failures, "\n\n".join(failures)
    assert len(cases) >= 21


# Same seed, same data order: the resumed run repeats the uninterrupted one's arithmetic. Measured bit-exact (max
# difference 0) on 2 CPU cores; the tolerance allows for another thread split of TF's reductions between processes.
KILL_TOLERANCE = 1e-6


def test_disk_full_during_a_save_keeps_the_resume_point(ic_data, trained, tmp_path, monkeypatch, capsys):
    import h5py
    from mlperf_tiny import run_utils
    from mlperf_tiny.registry import get_model

    run = tmp_path / "m"
    # Each resume point is two writes (weights, then the optimizer group): the 3rd write is epoch 2's.
    disk_full, targets = disk_full_h5py_file(h5py.File, fail_on=3)
    monkeypatch.setattr(h5py, "File", disk_full)
    assert train_resnet.main(ic_args(ic_data, tmp_path, 2)) == 1
    line = assert_one_line_error(capsys.readouterr().err, "disk full")
    assert Path(targets[0]).parent == run and Path(targets[0]).name != "last.weights.h5"  # a temporary name
    assert str(run) in line
    monkeypatch.undo()
    # the previous resume point (epoch 1) is intact and loads; no temporary file is left; no final weights
    model = get_model("resnet_ev")
    assert run_utils.load_resume_point(run / "last.weights.h5", model) == 1
    assert sorted(p.name for p in run.iterdir()) == ["args.json", "history.csv", "last.weights.h5", "last_epoch.json",
                                                     "metrics.json"]
    assert train_resnet.main(ic_args(ic_data, tmp_path, 2)) == 0
    assert "resuming" in capsys.readouterr().out
    assert (run / "model.weights.h5").is_file()
    header, rows = read_history(trained / "m")  # the resumed run ends as the uninterrupted one
    assert read_history(run)[0] == header and rows.shape[0] == 2
    np.testing.assert_allclose(read_history(run)[1], rows, rtol=KILL_TOLERANCE, atol=KILL_TOLERANCE)


# killed after the first of the two batches of the second epoch
KILLER = kill_mid_epoch_program("trecx.image_classification.train_resnet", epoch=1, batch=0)
def test_kill_9_mid_epoch_resumes_to_the_uninterrupted_metrics(ic_data, trained, tmp_path):
    import h5py

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TINYML_DEBUG", None)
    whole, killed = trained, tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILLER, *ic_args(ic_data, killed, 2)], env=env, timeout=600,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert json.loads((killed / "m" / "last_epoch.json").read_text())["epochs_done"] == 1
    code, out, err = run_cli(IC_TRAIN, *ic_args(ic_data, killed, 2), timeout=600)
    assert code == 0, err[-2000:]
    assert "resuming" in out
    header, rows = read_history(whole / "m")
    assert read_history(killed / "m")[0] == header and rows.shape[0] == 2
    np.testing.assert_allclose(read_history(killed / "m")[1], rows, rtol=KILL_TOLERANCE, atol=KILL_TOLERANCE)
    with h5py.File(whole / "m" / "model.weights.h5") as a, h5py.File(killed / "m" / "model.weights.h5") as b:
        names = []
        a.visit(lambda name: names.append(name) if isinstance(a[name], h5py.Dataset) else None)
        assert names
        for name in names:
            np.testing.assert_allclose(b[name][()], a[name][()], rtol=KILL_TOLERANCE, atol=KILL_TOLERANCE)

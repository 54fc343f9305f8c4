"""The command contract of every depth-pruning CLI (issue 18): bad inputs end in one line with the right exit code
and leave run folders untouched (a KWS base given to the VWW script is refused from its input shape instead of
hanging), a save that fails half-way keeps the previous resume point, and a run killed with SIGKILL mid-epoch
resumes to the metrics of an uninterrupted run."""

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from depth_pruning import common
from depth_pruning.base_models import build_base_model
from mlperf_tiny.testing import disk_full_h5py_file, kill_mid_epoch_program, read_history
from run_contract.testing import assert_one_line_error, run_cli, tree_hashes

KIT = Path(__file__).resolve().parents[2].parent / "shared" / "fidelity"
VWW_PRUNE = "depth_pruning.vww.prune_vww_aux"
KWS_PRUNE = "depth_pruning.kws.prune_kws_aux"


def vww_args(base, data, train_dir, epochs=1, *extra):
    return ["--base_model_path", str(base), "--attach_tensor_name", "block1", "--data_dir", str(data),
            "--train_dir", str(train_dir), "--ckpt_name", "b1", "--epochs_per_stage", str(epochs),
            "--learning_rates", "1e-3", "--aux_bn_momentum", "0.9", "--skip_image_check", "--verbose", "0",
            "--exact_resume", *extra]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """Untrained VWW and KWS bases as Keras .h5 files (the scripts treat them as any trained base)."""
    root = tmp_path_factory.mktemp("bases")
    for variant in ("vww", "kws"):
        build_base_model(variant).save(str(root / f"{variant}.h5"))
    return root


@pytest.fixture(scope="module")
def finished(bases, small_vww, tmp_path_factory):
    """An uninterrupted two-epoch VWW prune run (a subprocess, as the killed one): the folder the bad-input cases
    must leave untouched, and the reference of the resumed runs."""
    out = tmp_path_factory.mktemp("runs")
    code, _, err = run_cli(VWW_PRUNE, *vww_args(bases / "vww.h5", small_vww, out, 2), timeout=600)
    assert code == 0, err[-2000:]
    return out


def _bad_inputs(bases, data, runs, mini, tmp):
    """(name, module, args, exit code, fragments of the error line)."""
    vww, kws = bases / "vww.h5", bases / "kws.h5"
    garbage = tmp / "garbage.h5"
    garbage.write_bytes(b"not a model" * 100)
    empty = tmp / "empty"
    empty.mkdir()
    (tmp / "no_layout" / "cats").mkdir(parents=True)
    cases = [
        ("epochs -1", VWW_PRUNE, vww_args(vww, data, runs, -1), 2, ["--epochs_per_stage", "-1"]),
        ("unknown head", VWW_PRUNE, vww_args(vww, data, runs, 1, "--aux_arch", "dscnn_32_16"), 2, ["dscnn32_16"]),
        ("BN momentum 1.5", VWW_PRUNE, vww_args(vww, data, runs, 1, "--aux_bn_momentum", "1.5"), 2,
         ["--aux_bn_momentum"]),
        ("KWS base to the VWW script", VWW_PRUNE, vww_args(kws, data, runs, 1, "--attach_tensor_name", "block2"), 2,
         ["49x10x1", "kws"]),
        ("unknown cut", VWW_PRUNE, vww_args(vww, data, runs, 1, "--attach_tensor_name", "block14"), 2,
         ["block14"]),
        ("missing base", VWW_PRUNE, vww_args(tmp / "nope.h5", data, runs), 2, ["nope.h5", "make mlperf-vww"]),
        ("base not HDF5", VWW_PRUNE, vww_args(garbage, data, runs), 2, ["garbage.h5"]),
        ("other run in the folder", VWW_PRUNE, vww_args(vww, data, runs, 1, "--frozen_head", "False"), 2,
         ["--frozen_head", "--overwrite"]),
        ("data folder layout", VWW_PRUNE, vww_args(vww, tmp / "no_layout", runs), 2, ["person"]),
        ("stages vs rates", VWW_PRUNE, vww_args(vww, data, runs, 1, "--learning_rates", "1e-3", "5e-4"), 2,
         ["--learning_rates"]),
        ("KWS epochs -1", KWS_PRUNE, ["--epochs", "-1", "--train_dir", runs], 2, ["--epochs"]),
        ("VWW base to the KWS script", KWS_PRUNE, ["--base_model_path", vww, "--data_dir", mini, "--mini",
                                                   "--train_dir", runs], 2, ["96x96x3", "vww"]),
        ("sparsity 1.0", "depth_pruning.vww.prune_vww_mag", ["--base_model_path", vww, "--end_sparsity", "1.0"], 2,
         ["--end_sparsity"]),
        ("start above end sparsity", "depth_pruning.vww.prune_vww_mag",
         ["--base_model_path", vww, "--data_dir", data, "--pruning_scheme", "polynomial", "--start_sparsity", "0.6",
          "--end_sparsity", "0.5", "--train_dir", runs], 2, ["--start_sparsity"]),
        ("no int8 model yet", "depth_pruning.vww.tflite_evaluate", [runs / "b1", "--data_dir", data,
                                                                     "--no_progress"], 2, ["b1_int8.tflite"]),
        ("split 1.5", "depth_pruning.vww.tflite_evaluate", [runs / "b1", "--data_dir", data, "--validation_split",
                                                            "1.5"], 2, ["--validation_split"]),
        ("no run folder", "depth_pruning.vww.tflite_convert_quantize", [tmp / "nope", "--data_dir", data], 2,
         ["nope"]),
        ("KWS no run folder", "depth_pruning.kws.eval_quantized_model", ["--run_dir", tmp / "nope", "--data_dir",
                                                                         mini, "--mini"], 2, ["nope"]),
        ("empty sweep", "depth_pruning.sweep", ["--sweep_dir", empty, "--task", "vww"], 1, ["nothing to collect"]),
        ("missing sweep", "depth_pruning.report", ["--sweep_dir", tmp / "nope", "--task", "kws"], 2, ["nope"]),
        ("unknown task", "depth_pruning.count", ["--task", "imagenet"], 2, ["imagenet"]),
        ("count a non-model", "depth_pruning.vww.compute_flops", ["--ckpt_name", garbage], 2, ["garbage.h5"]),
    ]
    kit_int8 = KIT / "models" / "mlperf" / "visual_wake_words" / "vww_96_int8.tflite"
    if kit_int8.is_file():
        cases.append(("TFLite base", VWW_PRUNE, vww_args(kit_int8, data, runs), 2, ["tflite", "Keras"]))
    return cases


# Run as programs (python -m, a 300 s timeout): the case that used to hang at interpreter shutdown, and one refused
# before TensorFlow starts. The others run through each module's main in this process (same exit code and stderr
# as the program: rc.command handles both), so the suite does not start TensorFlow 23 times.
AS_PROGRAMS = ("KWS base to the VWW script", "missing base")


def _run_in_process(module, args, capfd):
    capfd.readouterr()
    returncode = importlib.import_module(module).main([str(a) for a in args])
    return returncode, capfd.readouterr().err


def test_bad_inputs_one_line_and_nothing_changed(bases, small_vww, finished, mini_data_dir, tmp_path, capfd,
                                                 monkeypatch):
    monkeypatch.delenv("TINYML_DEBUG", raising=False)
    cases = _bad_inputs(bases, small_vww, finished, mini_data_dir, tmp_path)
    before = tree_hashes(finished)
    failures = []
    for name, module, args, code, fragments in cases:
        if name in AS_PROGRAMS:
            returncode, _, stderr = run_cli(module, *args, timeout=300)  # a hang fails here, not forever
        else:
            returncode, stderr = _run_in_process(module, args, capfd)
        try:
            assert returncode == code, f"exit {returncode}, expected {code}"
            assert_one_line_error(stderr, *fragments)
            assert tree_hashes(finished) == before, "files of the finished run changed"
        except AssertionError as err:
            failures.append(f"{name}: {err}\n{stderr[-800:]}")
    assert not failures, "\n\n".join(failures)
    assert len(cases) >= 22


# Same seed, same batches and augmentation per epoch: the resumed run repeats the uninterrupted one's arithmetic.
# Measured bit-exact (max difference 0) on 2 CPU cores; the tolerance allows another thread split of reductions.
KILL_TOLERANCE = 1e-6


def test_disk_full_during_a_save_keeps_the_resume_point(bases, small_vww, finished, tmp_path, monkeypatch, capsys):
    import h5py
    from depth_pruning.vww import prune_vww_aux
    from mlperf_tiny import run_utils

    run = tmp_path / "b1"
    # The first epoch writes best.weights.h5 and the resume point (weights, then its optimizer group): 3 writes; the
    # 4th is the second epoch's first save.
    disk_full, targets = disk_full_h5py_file(h5py.File, fail_on=4)
    monkeypatch.setattr(h5py, "File", disk_full)
    assert prune_vww_aux.main(vww_args(bases / "vww.h5", small_vww, tmp_path, 2)) == 1
    assert_one_line_error(capsys.readouterr().err, "disk full", str(run))
    assert Path(targets[0]).parent == run and Path(targets[0]).name not in ("last.weights.h5", "best.weights.h5")
    monkeypatch.undo()
    resume_point = run / run_utils.LAST_WEIGHTS
    assert json.loads((run / run_utils.LAST_EPOCH).read_text())["epochs_done"] == 1
    with h5py.File(resume_point) as f:  # intact, with its epoch count
        assert f[run_utils.RESUME_GROUP].attrs["epochs_done"] == 1
    assert not [p for p in run.iterdir() if ".tmp" in p.name or p.name.startswith(".")]  # no temporary left
    assert not (run / common.RESULT_FILE).exists()
    assert prune_vww_aux.main(vww_args(bases / "vww.h5", small_vww, tmp_path, 2)) == 0
    assert "resuming" in capsys.readouterr().out
    assert json.loads((run / common.RESULT_FILE).read_text())["cut"] == "block1"
    header, rows = read_history(finished / "b1")  # the resumed run ends as the uninterrupted one
    assert read_history(run)[0] == header and rows.shape[0] == 2
    np.testing.assert_allclose(read_history(run)[1], rows, rtol=KILL_TOLERANCE, atol=KILL_TOLERANCE)


# killed in the middle of the second epoch (4 batches)
KILLER = kill_mid_epoch_program("depth_pruning.vww.prune_vww_aux", epoch=1, batch=1)


def test_kill_9_mid_epoch_resumes_to_the_uninterrupted_metrics(bases, small_vww, finished, tmp_path, capsys):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TINYML_DEBUG", None)
    whole, killed = finished, tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILLER, *vww_args(bases / "vww.h5", small_vww, killed, 2)], env=env,
                          timeout=600, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not (killed / "b1" / common.RESULT_FILE).exists()
    from depth_pruning.vww import prune_vww_aux  # the rerun in this process (one TensorFlow start less)

    assert prune_vww_aux.main(vww_args(bases / "vww.h5", small_vww, killed, 2)) == 0
    assert "resuming" in capsys.readouterr().out
    header, rows = read_history(whole / "b1")
    assert read_history(killed / "b1")[0] == header and rows.shape[0] == 2
    np.testing.assert_allclose(read_history(killed / "b1")[1], rows, rtol=KILL_TOLERANCE, atol=KILL_TOLERANCE)
    a = json.loads((whole / "b1" / common.RESULT_FILE).read_text())
    b = json.loads((killed / "b1" / common.RESULT_FILE).read_text())
    assert b["val_accuracy"] == pytest.approx(a["val_accuracy"], abs=KILL_TOLERANCE)
    assert (b["params"], b["val_samples"]) == (a["params"], a["val_samples"])

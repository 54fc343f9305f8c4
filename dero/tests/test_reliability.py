"""The command contract on dero's CLIs (issue 18): bad inputs end in one line and leave run directories
untouched; a save that fails half-way and a kill -9 lose nothing, and the rerun ends where an uninterrupted
run ends."""

import errno
import importlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from dero_helpers import train_args
from run_contract.testing import assert_one_line_error, run_cli, tree_hashes

from dero import models, train

ENV = {"OMP_NUM_THREADS": "1"}
HAS_YOLO = importlib.util.find_spec("yolov5") is not None


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, finished_run, tiny_imagenet_shared):
    d = tmp_path_factory.mktemp("bad")
    shutil.copytree(tiny_imagenet_shared, d / "corrupt_data")
    next((d / "corrupt_data" / "train").rglob("*.JPEG")).write_bytes(b"\xff\xd8 not a JPEG")
    good = (finished_run[0] / "checkpoint.pth").read_bytes()
    (d / "truncated.pth").write_bytes(good[: len(good) // 3])
    (d / "empty.pth").write_bytes(b"")
    (d / "text.pth").write_text("not a checkpoint\n")
    saved_args = train.get_args_parser().parse_args(["--data-path", "x", "--model", "resnet18dero"])
    torch.save({"model": models.get_model("resnet18dero", num_classes=3).state_dict(), "args": saved_args}, d / "other.pth")
    return d


# (id, module, args, exit code, fragments of the error line). dero.train cases are overrides of a valid command
# into the finished run's directory ({flag: value, or None for a switch}); {bad} is a folder of bad files.
# The cases run in this test process through each module's `main` (its exit code and what reaches file
# descriptor 2), one Python start for all of them; those in AS_PROGRAM also run as `python -m <module>`, which
# covers the entry point (exit status, flushing, a worker thread that could keep the process alive).
AS_PROGRAM = {"epochs<1", "worker error"}
CASES = [
    ("epochs<1", "dero.train", {"--epochs": "-1"}, 2, ["--epochs", "-1"]),
    ("batch 0", "dero.train", {"-b": "0"}, 2, ["--batch-size", "0"]),
    ("unknown model", "dero.train", {"--model": "mcunet_dero_v22"}, 2, ["mcunet_dero_v2"]),
    ("other run in dir", "dero.train", {"--lr": "0.01"}, 2, ["lr", "--overwrite"]),
    ("missing data", "dero.train", {"--data-path": "{bad}/nowhere"}, 2, ["nowhere", "make mini-data"]),
    ("truncated weights", "dero.train", {"--test-only": None, "--weights": "{bad}/truncated.pth"}, 2,
     ["truncated.pth"]),
    ("empty weights", "dero.train", {"--test-only": None, "--weights": "{bad}/empty.pth"}, 2, ["empty.pth", "empty"]),
    ("text weights", "dero.train", {"--test-only": None, "--weights": "{bad}/text.pth"}, 2, ["text.pth"]),
    ("weights of another model", "dero.train", {"--test-only": None, "--weights": "{bad}/other.pth"}, 2,
     ["other.pth", "resnet18dero"]),
    ("worker error", "dero.train", {"--data-path": "{bad}/corrupt_data", "-j": "2", "--output-dir": "{bad}/../w"}, 1,
     ["UnidentifiedImageError"]),
    ("peak: bad size", "dero.peak_memory", ["--model", "resnet18dero", "--input-size", "0"], 2, ["--input-size"]),
    ("peak: unknown model", "dero.peak_memory", ["--model", "resnet18der"], 2, ["resnet18dero"]),
    ("tool: detection model", "dero.dero", ["--model", "yolov5n", "--output-dir", "{bad}/tool"], 2, ["yolov5n"]),
    ("imagenet check", "dero.prepare_imagenet", ["--data-path", "{bad}/nowhere"], 2, ["nowhere"]),
    pytest.param("yolo: no COCO", "dero.yolo.train", ["--data-path", "{bad}/nowhere", "--output-dir", "{bad}/y"], 2,
                 ["nowhere", "make dero-coco-mini"], marks=pytest.mark.skipif(not HAS_YOLO, reason="no yolov5")),
    pytest.param("yolo val: truncated", "dero.yolo.val", ["--weights", "{bad}/truncated.pth", "--data-path",
                 "{bad}/nowhere", "--output-dir", "{bad}/v"], 2, ["nowhere"],
                 marks=pytest.mark.skipif(not HAS_YOLO, reason="no yolov5")),
]


def command_line(args, run_dir, data, bad):
    if isinstance(args, dict):
        command = train_args(data, run_dir, epochs=2)
        for flag, value in args.items():
            if value is None:
                command.append(flag)
            elif flag in command:
                command[command.index(flag) + 1] = value
            else:
                command += [flag, value]
        args = command
    return [str(a).format(bad=bad) for a in args]


@pytest.mark.parametrize("case,module,args,code,fragments", CASES, ids=[getattr(c, "values", c)[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, module, args, code, fragments, tiny_imagenet_shared,
                                                   finished_run, bad_files, capfd, monkeypatch):
    run_dir = finished_run[0]
    args = command_line(args, run_dir, tiny_imagenet_shared, bad_files)
    before = tree_hashes(run_dir), tree_hashes(bad_files)
    monkeypatch.delenv("TINYML_DEBUG", raising=False)
    capfd.readouterr()
    returncode = importlib.import_module(module).main(args)
    stderr = capfd.readouterr().err
    assert returncode == code, stderr[-2000:]
    assert_one_line_error(stderr, *fragments)
    assert (tree_hashes(run_dir), tree_hashes(bad_files)) == before
    if case in AS_PROGRAM:
        returncode, _, stderr = run_cli(module, *args, env=ENV, timeout=300)
        assert returncode == code, stderr[-2000:]
        assert_one_line_error(stderr, *fragments)
        assert (tree_hashes(run_dir), tree_hashes(bad_files)) == before


def test_disk_full_during_save_keeps_the_resume_point(tiny_imagenet_shared, finished_run, tmp_path, monkeypatch,
                                                      capsys):
    out = tmp_path / "run"
    real_save, calls = torch.save, []

    def fails_on_second_epoch(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 2:  # epoch 1's checkpoint: half written, then the disk is full
            with open(f, "wb") as fh:
                fh.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fails_on_second_epoch)
    assert train.main(train_args(tiny_imagenet_shared, out, epochs=2)) == 1
    assert "disk full" in capsys.readouterr().err
    monkeypatch.setattr(torch, "save", real_save)
    assert train.load_checkpoint(out / "checkpoint.pth")["epoch"] == 0  # the previous resume point still loads
    assert not [p for p in os.listdir(out) if p.startswith(".tmp")]  # the torn temporary was removed
    resumed = train.main.__wrapped__(train_args(tiny_imagenet_shared, out, epochs=2))
    assert [r["epoch"] for r in resumed] == [0, 1]
    assert resumed[1]["train_loss"] == pytest.approx(finished_run[1][1]["train_loss"], rel=1e-6)
    assert resumed[1]["val_acc1"] == finished_run[1][1]["val_acc1"]


def test_kill_9_mid_run_then_rerun_ends_like_an_uninterrupted_run(tiny_imagenet_shared, finished_run, tmp_path):
    out = tmp_path / "run"
    command = train_args(tiny_imagenet_shared, out, epochs=2)
    proc = subprocess.Popen([sys.executable, "-m", "dero.train", *command], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **ENV})
    deadline = time.time() + 300
    while not (out / "metrics.json").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # as soon as epoch 0 is saved (checkpoint, then metrics): in epoch 1
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert json.loads((out / "metrics.json").read_text())[-1]["epoch"] == 0
    # what a kill during an atomic save leaves behind (run_contract's temporary names), and a file that is not one
    (out / ".tmp-0123abcd-checkpoint.pth").write_bytes(b"\0" * 100)
    (out / ".old-89abcdef-plots").mkdir()
    (out / ".tmp-notes.txt").write_text("not a temporary of ours\n")
    resumed = train.main.__wrapped__(command)  # the same command again, here in this process
    assert [r["epoch"] for r in resumed] == [0, 1]
    assert json.loads((out / "metrics.json").read_text()) == resumed
    expected = finished_run[1]
    for key in ("train_loss", "val_loss", "val_acc1", "val_acc5"):
        assert resumed[1][key] == pytest.approx(expected[1][key], rel=1e-5), key
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".tmp-notes.txt"]

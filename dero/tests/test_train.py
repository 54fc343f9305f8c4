"""End-to-end trainer runs on a tiny ImageFolder: train, resume (bit-identical), evaluate, DDP, bad input."""

import json
import os
import runpy
import subprocess
import sys

import pytest
import torch
from dero_helpers import MODEL, SIZE_ARGS, train_args

from dero import models, train


def read_metrics(run):
    with open(run / "metrics.json") as f:
        return json.load(f)


def test_train_writes_checkpoints_and_metrics(tiny_imagenet_shared, tmp_path):
    run = tmp_path / "run"
    history = train.main.__wrapped__(train_args(tiny_imagenet_shared, run, "--label-smoothing", "0.1", "--mixup-alpha", "0.2",
                                    "--cutmix-alpha", "1.0", "--random-erase", "0.1", "--keep-last", "1", epochs=2))
    assert [row["epoch"] for row in history] == [0, 1]
    assert {"checkpoint.pth", "model_best.pth", "model_1.pth", "metrics.json", "metrics.csv", "args.json"} <= set(
        os.listdir(run))
    assert not (run / "model_0.pth").exists()  # --keep-last 1
    ckpt = torch.load(run / "checkpoint.pth", weights_only=False)
    assert ckpt["args"].model == MODEL and ckpt["epoch"] == 1 and ckpt["num_classes"] == 3
    assert read_metrics(run) == history
    assert 0.0 <= history[-1]["val_acc1"] <= 100.0 and history[-1]["val_acc5"] == 100.0  # 3 classes: top-5 trivially
    with open(run / "args.json") as f:
        assert json.load(f)["model"] == MODEL and "_provenance" in json.load(open(run / "args.json"))

    # evaluation from a checkpoint path (the paper README's command) reproduces the epoch's val accuracy
    result = train.main.__wrapped__(["--model", MODEL, "--data-path", str(tiny_imagenet_shared), "--test-only", "--weights",
                         str(run / "model_1.pth"), "-b", "8", "-j", "0", "--output-dir", str(run), *SIZE_ARGS])
    assert result["acc1"] == pytest.approx(history[1]["val_acc1"])
    assert json.loads((run / "eval.json").read_text())["acc1"] == pytest.approx(result["acc1"])


def test_rerun_after_interrupt_resumes_exactly(tiny_imagenet_shared, finished_run, tmp_path, monkeypatch):
    full = finished_run[1]
    real_train_one_epoch = train.train_one_epoch

    def interrupted_in_epoch_1(model, criterion, optimizer, data_loader, device, epoch, *args):
        if epoch == 1:
            raise KeyboardInterrupt
        return real_train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, *args)

    monkeypatch.setattr(train, "train_one_epoch", interrupted_in_epoch_1)
    assert train.main(train_args(tiny_imagenet_shared, tmp_path / "cut", epochs=2)) == 130  # Ctrl-C: exit 130
    monkeypatch.setattr(train, "train_one_epoch", real_train_one_epoch)
    # the same command again (no --resume): continues from checkpoint.pth instead of restarting at epoch 0
    resumed = train.main.__wrapped__(train_args(tiny_imagenet_shared, tmp_path / "cut", epochs=2))
    assert [r["epoch"] for r in resumed] == [0, 1]  # history kept, one epoch added
    assert read_metrics(tmp_path / "cut") == resumed
    for key in ("train_loss", "val_loss", "val_acc1"):
        assert resumed[1][key] == pytest.approx(full[1][key], rel=1e-5), key


def test_keep_every_epoch_for_other_projects(tiny_imagenet_shared, tmp_path):
    # dnn-param-encode trains a plain torchvision resnet18 and needs every epoch's weights
    run = tmp_path / "r18"
    args = train_args(tiny_imagenet_shared, run, "--keep-last", "0", epochs=2)
    args[args.index(MODEL)] = "resnet18"
    train.main.__wrapped__(args)
    assert (run / "model_0.pth").exists() and (run / "model_1.pth").exists()
    assert torch.load(run / "model_0.pth", weights_only=False)["model"]["fc.weight"].shape == (3, 512)


def test_checkpoint_from_another_model_is_a_clear_error(tiny_imagenet_shared, tmp_path):
    ckpt = tmp_path / "other.pth"
    saved_args = train.get_args_parser().parse_args(["--data-path", str(tiny_imagenet_shared), "--model", MODEL])
    torch.save({"model": models.get_model(MODEL, num_classes=3).state_dict(), "args": saved_args, "num_classes": 3}, ckpt)
    with pytest.raises(train.CheckpointMismatchError, match=f"--model resnet18dero: it was saved from model '{MODEL}'"):
        train.main.__wrapped__(["--model", "resnet18dero", "--data-path", str(tiny_imagenet_shared), "--test-only", "--weights",
                    str(ckpt), "-j", "0", *SIZE_ARGS])


def test_missing_data_dir_explains_layout(tmp_path):
    with pytest.raises(train.DataLayoutError, match=r"train/<wnid>/\*\.JPEG.*make mini-data"):
        train.main.__wrapped__(["--model", MODEL, "--data-path", str(tmp_path / "nowhere")])


def test_unknown_flag_and_model_are_errors(tiny_imagenet_shared, tmp_path):
    with pytest.raises(SystemExit):
        train.get_args_parser().parse_args(["--data-path", "x", "--no-such-flag"])
    with pytest.raises(SystemExit) as e:
        train.get_args_parser().parse_args(train_args(tiny_imagenet_shared, tmp_path / "run", "--model", "mcunet_dero_v44"))
    assert e.value.code == 2


def test_two_process_cpu_ddp_never_imports_yolov5(tiny_imagenet_shared, tmp_path):
    """Two-process DDP training on an ImageFolder. It also never imports yolov5 or ultralytics (ultralytics replaces
    PIL's Image.open process-wide and pip-installs on an unreadable image): stand-ins for both, first on the path,
    fail the run if anything imports them."""
    run = tmp_path / "ddp"
    for name in ("yolov5", "ultralytics"):
        (tmp_path / "poison" / name).mkdir(parents=True)
        (tmp_path / "poison" / name / "__init__.py").write_text(f"raise RuntimeError('{name} imported')\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "dero.train",
           *train_args(tiny_imagenet_shared, run)]
    path = os.pathsep.join(filter(None, [str(tmp_path / "poison"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "rank 0" in log and "rank 1" in log and "backend gloo" in log
    (row,) = read_metrics(run)
    assert row["epoch"] == 0 and 0.0 <= row["val_acc1"] <= 100.0
    assert torch.load(run / "checkpoint.pth", weights_only=False)["args"].world_size == 2


def test_script_shim_runs_the_same_main(tmp_path, monkeypatch, capsys):
    # the paper's `python train.py ...` path, run in this process (runpy) instead of a new interpreter
    shim = os.path.join(os.path.dirname(os.path.dirname(__file__)), "train.py")
    monkeypatch.setattr(sys, "argv", [shim, "--model", MODEL, "--data-path", str(tmp_path / "missing")])
    monkeypatch.delenv("TINYML_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(shim, run_name="__main__")
    assert exit_info.value.code == 2 and "expected an ImageFolder tree" in capsys.readouterr().err

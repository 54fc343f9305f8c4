"""Report (slow): on the mini ImageNet, DERO's accuracy is within 2 points of the residual model (fixed seeds).

Same recipe as ``make dero-compare-mini`` (ResNet-18 family, 64x64, the paper's regularisation flags, cosine lr).
"""

import pytest

from dero import train

COMPARE_EPOCHS = 6
TOLERANCE_POINTS = 2.0


def run(model, data, out):
    history = train.main.__wrapped__(["--model", model, "--data-path", str(data), "--output-dir", str(out), "--epochs",
                          str(COMPARE_EPOCHS), "-b", "32", "--lr", "0.05", "--lr-scheduler", "cosineannealinglr",
                          "-j", "2", "--seed", "0", "--print-freq", "100", "--dataset-name", "mini",
                          "--wd", "0.00004", "--random-erase", "0.1", "--label-smoothing", "0.1",
                          "--mixup-alpha", "0.2", "--cutmix-alpha", "1.0", "--train-crop-size", "64",
                          "--val-resize-size", "64", "--val-crop-size", "64"])
    return max(row["val_acc1"] for row in history)


@pytest.mark.slow
def test_dero_matches_residual_on_mini(mini_data_dir, tmp_path):
    data = mini_data_dir / "imagenet"
    acc = {name: run(name, data, tmp_path / name) for name in ("resnet18", "resnet18plain", "resnet18dero")}
    print("best val top-1 (mini data):", acc)
    assert acc["resnet18dero"] >= acc["resnet18"] - TOLERANCE_POINTS, acc

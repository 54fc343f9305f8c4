"""YOLOv5n checkpoint pairs (--dnn yolo): the pickled-model layout the original reads, the paper's step 2^-15,
bit-exact lossless decoding, and COCO mAP of the decoded models (mini COCO, pycocotools) against the original."""

import copy
import csv

import pytest
import torch

# through dero.yolo, which imports yolov5 offline, without run-time installs, PIL's Image.open left alone
pytest.importorskip("dero.yolo.yolo", reason="optional YOLO packages not installed: run `make dero-yolo-env`")

from dero.models import get_model  # noqa: E402
from dero.yolo import coco  # noqa: E402
from dnn_param_encode import eval_lossless, eval_lossy  # noqa: E402
from dnn_param_encode.checkpoints import load_state_dict  # noqa: E402

LR = "0.01"
STEP = 2.0**-15  # the paper's YOLO step (its dec2bin as written)


@pytest.fixture(scope="module")
def yolo_chain(tmp_path_factory):
    """Epochs 1..3 of a YOLOv5n as yolov5 saves them ({'model': pickled module}), updates of ~1e-4 per epoch."""
    root = tmp_path_factory.mktemp("yolo")
    torch.manual_seed(0)
    model = get_model("yolov5n").eval()
    for epoch in range(1, 4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 1e-4)
        torch.save({"epoch": epoch - 1, "model": copy.deepcopy(model)}, root / f"{epoch}_{LR}.pt")
    data = root / "coco"
    coco.write_mini(data, counts=(4, 4), size=64, seed=0)
    return root, data


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_yolo_pairs_lossless_and_lossy_with_map(yolo_chain, tmp_path):
    ckpt, data = yolo_chain
    common = ["--dnn", "yolo", "--path-pt", str(ckpt), "--learning-rate", LR, "--epoch-interval", "1",
              "--epoch-first", "1", "--epoch-last", "3", "--include-last-pair", "--output-dir", str(tmp_path),
              "--data-path", str(data), "--image-size", "64", "--dataset-label", "mini"]
    lossless = eval_lossless.main.__wrapped__([*common, "--method", "ResEntropy", "ResIntDiffANS"])
    assert lossless["ResIntDiffANS"]["mean_bits_per_param"] < lossless["ResEntropy"]["mean_bits_per_param"] < 32
    metrics = eval_lossy.main.__wrapped__([*common, "--method", "ResEntropy16bits", "ResRoundANS"])
    rows = read_csv(tmp_path / f"lossy_lr{LR}_n1.csv")
    assert {int(r["n_params"]) for r in rows} == {1_872_157}  # every parameter of YOLOv5n goes through the coder
    for r in rows:
        assert float(r["max_err"]) < STEP * (1 + 1e-3)  # step 2^-15 (+ half an ulp of the sum)
    assert metrics["metric"] == "map50_95" and metrics["epoch"] == 3
    maps = metrics["map50_95"]
    for method in ("ResEntropy16bits", "ResRoundANS"):
        assert abs(maps[method] - maps["original"]) <= 0.1  # mAP points
    lossless_maps = read_json(tmp_path / f"lossless_lr{LR}_n1_metrics.json")["map50_95"]
    assert lossless_maps["ResEntropy"] == lossless_maps["ResIntDiffANS"] == lossless_maps["original"]
    # what the codec guarantees beyond an (untrained, near-zero) mAP: the raw Detect maps barely move
    decoded = load_state_dict(tmp_path / f"decoded_ResEntropy16bits_n1_3_{LR}.pt")
    original = torch.load(ckpt / f"3_{LR}.pt", weights_only=False)["model"].eval()
    restored = copy.deepcopy(original)
    restored.load_state_dict(decoded)
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = original(image)[0], restored.eval()(image)[0]
    assert (a - b).abs().max() <= 1e-3 * a.abs().max()


def read_json(path):
    import json

    with open(path) as f:
        return json.load(f)


@pytest.mark.slow
def test_trained_mini_yolo_keeps_its_map_through_the_coder(tmp_path):
    """Pairs of a YOLOv5n that detects: dero's mini recipe (make MINI=1 dero-yolov5n BASELINE=1) for 24 epochs
    (~2-3 CPU minutes), epochs 21..24 coded; lossless decodes score the original's mAP exactly, lossy ones within
    0.1 mAP points, on both mAP@0.5:0.95 and mAP@0.5."""
    from dero.yolo import train as yolo_train
    from dnn_param_encode import prepare_yolov5n

    data = tmp_path / "coco"
    coco.write_mini(data, seed=0)  # the mini set of `make mini-data`: 64 train / 16 val images at 160 px
    run = tmp_path / "run"
    history = yolo_train.main.__wrapped__(
        ["--model", "yolov5n", "--data-path", str(data), "--output-dir", str(run), "--epochs", "24", "--seed", "0",
         "--save-period", "1", "--imgsz", "128", "--batch-size", "16", "--nominal-batch-size", "16",
         "--warmup-min-iters", "0", "--optimizer", "AdamW", "--hyp", "mini", "--workers", "0",
         "--dataset-name", "mini", "--print-freq", "100"])
    assert max(r["map50"] for r in history) > 0.05  # it learned to detect (yolov5's own metric)
    ckpt = tmp_path / "ckpt"
    prepare_yolov5n.main.__wrapped__(["--run-dir", str(run), "--output-dir", str(ckpt), "--learning-rate", LR])
    common = ["--dnn", "yolo", "--path-pt", str(ckpt), "--learning-rate", LR, "--epoch-interval", "1",
              "--epoch-first", "21", "--epoch-last", "24", "--output-dir", str(tmp_path / "eval"),
              "--data-path", str(data), "--image-size", "128", "--dataset-label", "mini"]
    lossless = eval_lossless.main.__wrapped__([*common, "--method", "ResEntropy", "ResIntDiffANS"])
    assert lossless["ResIntDiffANS"]["mean_bits_per_param"] < lossless["ResEntropy"]["mean_bits_per_param"]
    lossy = eval_lossy.main.__wrapped__([*common, "--method", "ResEntropy16bits", "ResRoundANS"])
    lossless = read_json(tmp_path / "eval" / f"lossless_lr{LR}_n1_metrics.json")
    for metric in ("map50_95", "map50"):
        original = lossless[metric]["original"]
        assert original > 1.0, metric  # % points: a model that detects, so the comparisons below mean something
        assert lossless[metric]["ResEntropy"] == lossless[metric]["ResIntDiffANS"] == original, metric
        assert lossy[metric]["original"] == original
        for method in ("ResEntropy16bits", "ResRoundANS"):
            assert abs(lossy[metric][method] - original) <= 0.1, (metric, method)

"""YOLOv5n / YOLOv5n-DERO / YOLOv5n-plain on the packaged yolov5 7.0.x: exact sizes, ConvD semantics, peak
memory, and the mini-COCO pipeline (generator -> train -> resume -> pycocotools mAP)."""

import json

import numpy as np
import pytest
import torch

# through dero.yolo, which imports yolov5 offline, without run-time installs, PIL's Image.open left alone
pytest.importorskip("dero.yolo.yolo", reason="optional YOLO packages not installed: run `make dero-yolo-env`")

from dero.models import DETECTION_MODELS, get_model  # noqa: E402
from dero.models.srconv import match_channels  # noqa: E402
from dero.yolo import coco  # noqa: E402
from dero.yolo import train as yolo_train  # noqa: E402
from dero.yolo import val as yolo_val  # noqa: E402
from dero.yolo.common import ConvD  # noqa: E402
from dero.yolo.yolo import gflops  # noqa: E402

from dero import peak_memory as pm  # noqa: E402

# yolov5n: yolov5's own summary of its packaged yolov5n.yaml; yolov5n_dero: the DERO authors' YAML comment.
PARAMS = {"yolov5n": 1_872_157, "yolov5n_dero": 1_822_211, "yolov5n_plain": 1_810_717}
GFLOPS_640 = {"yolov5n": 4.564, "yolov5n_dero": 4.536, "yolov5n_plain": 4.407}


@pytest.fixture(scope="module")
def models():
    return {name: get_model(name).eval() for name in DETECTION_MODELS}


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_param_counts_at_nc80(models):
    assert {n: count(m) for n, m in models.items()} == PARAMS
    assert int(PARAMS["yolov5n_dero"] / 2**20 * 100) / 100 == 1.73  # the README's Params (Mi)
    # DERO = plain + one input BN (2 x Cin) per ConvD: ConvD has BN_in(Cin) + BN_sc(Cout), Conv only BN(Cout)
    convd_inputs = sum(m.conv.in_channels for m in models["yolov5n_dero"].modules() if isinstance(m, ConvD))
    assert PARAMS["yolov5n_dero"] - PARAMS["yolov5n_plain"] == 2 * convd_inputs


def test_straight_neck_and_detect_layers(models):
    dero = models["yolov5n_dero"]
    assert dero.model[-1].f == [15, 17, 19]
    assert not any(type(m).__name__ == "Concat" for m in dero.model)
    assert sum(type(m).__name__ == "Concat" for m in models["yolov5n"].model) == 4
    assert dero.stride.tolist() == [8.0, 16.0, 32.0]


def test_gflops_at_640(models):
    assert {n: round(gflops(m, 640), 3) for n, m in models.items()} == GFLOPS_640


def test_detect_outputs(models):
    image = torch.zeros(1, 3, 64, 64)
    for model in models.values():
        boxes, maps = model(image)
        assert boxes.shape == (1, 3 * (8 * 8 + 4 * 4 + 2 * 2), 85)
        assert [tuple(m.shape) for m in maps] == [(1, 3, 8, 8, 85), (1, 3, 4, 4, 85), (1, 3, 2, 2, 85)]


def test_convd_zero_conv_is_the_shortcut():
    torch.manual_seed(0)
    x = torch.randn(2, 24, 12, 12)
    layer = ConvD(24, 8, 6, 2, 2).eval()  # the stem's 6x6/2 window, folding 24 -> 8 channels
    torch.nn.init.zeros_(layer.conv.weight)
    torch.nn.init.ones_(layer.bnsc.weight)
    pooled = torch.nn.functional.avg_pool2d(x, 6, 2, 2, divisor_override=1)
    expected = pooled[:, :8] + pooled[:, 8:16] + pooled[:, 16:]
    bn = layer.bnsc
    expected = (expected - bn.running_mean[None, :, None, None]) / torch.sqrt(bn.running_var + bn.eps)[None, :, None, None]
    act_of_zero = torch.nn.functional.silu(torch.zeros(()))  # conv of zeros, then SiLU
    torch.testing.assert_close(layer(x), expected + act_of_zero)
    assert torch.equal(match_channels(pooled, 8), pooled[:, :8] + pooled[:, 8:16] + pooled[:, 16:])


def test_convd_starts_as_plain_net():
    layer = ConvD(8, 8, 3, 1)
    assert torch.equal(layer.bnsc.weight, torch.zeros(8)) and layer.conv.bias is None


def test_yolov5_is_imported_offline_without_installs_and_leaves_pil_alone(tmp_path):
    """ultralytics (imported by yolov5) replaces PIL's Image.open process-wide with one that, on an image PIL cannot
    identify, pip-installs pi-heif and then fails with ModuleNotFoundError; dero.yolo puts PIL's own back and turns
    run-time installs off, so a corrupt image stays PIL's UnidentifiedImageError in any process that built a YOLO."""
    import ultralytics.utils
    from PIL import Image, UnidentifiedImageError

    assert "ultralytics.utils.patches" in __import__("sys").modules  # yolov5 did import the patch
    assert Image.open.__module__ == "PIL.Image" and ultralytics.utils.AUTOINSTALL is False
    (tmp_path / "corrupt.JPEG").write_bytes(b"not an image")
    with pytest.raises(UnidentifiedImageError):
        Image.open(tmp_path / "corrupt.JPEG")


@pytest.mark.parametrize("size,expected", [(640, 2_867_200), (192, 258_048)])
def test_peak_memory(models, size, expected):
    """Whole-model peaks are set by the first conv (image + 16 x H/2 x W/2): equal for all three variants."""
    for name, model in models.items():
        for schedule in ("faithful", "memory-aware"):
            assert pm.peak_memory(model, size, schedule=schedule).peak_elements == expected, (name, schedule)
    assert expected == 3 * size**2 + 16 * (size // 2) ** 2


def run_args(data, out, *extra, epochs=2):
    """The mini recipe's flags (make's MINI=1) at 64 px on 16 images: 2 optimizer steps per epoch."""
    return ["--model", "yolov5n_dero", "--data-path", str(data), "--output-dir", str(out), "--imgsz", "64",
            "--batch-size", "8", "--nominal-batch-size", "8", "--warmup-min-iters", "0", "--optimizer", "AdamW",
            "--hyp", "mini", "--epochs", str(epochs), "--workers", "0", "--seed", "0", "--save-period", "1",
            "--dataset-name", "mini", "--print-freq", "100", *extra]


@pytest.fixture(scope="module")
def mini_coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "coco"
    coco.write_mini(root, counts=(16, 8), size=64, seed=0)
    return root


def test_mini_coco_layout(mini_coco):
    d = coco.data_dict(mini_coco)
    assert d["nc"] == 80 and d["val"].endswith("coco/val2017.txt")  # how yolov5's val.run recognises COCO
    ann = json.loads((mini_coco / "annotations" / "instances_val2017.json").read_text())
    assert len(ann["images"]) == 8 and len(ann["categories"]) == 80
    labels = sorted((mini_coco / "labels" / "val2017").glob("*.txt"))
    rows = np.array([line.split() for f in labels for line in f.read_text().splitlines()], float)
    assert len(rows) == len(ann["annotations"])
    assert set(rows[:, 0].astype(int)) <= set(coco.MINI_SHAPES.values())
    assert (rows[:, 1:] > 0).all() and (rows[:, 1:] <= 1).all()


def test_train_interrupt_resume_and_coco_map(mini_coco, tmp_path, monkeypatch):
    full = yolo_train.main.__wrapped__(run_args(mini_coco, tmp_path / "full"))
    assert [r["epoch"] for r in full] == [0, 1]
    assert {"last.pt", "best.pt", "epoch0.pt", "epoch1.pt", "metrics.json", "metrics.csv", "args.json",
            "results.png"} <= {p.name for p in (tmp_path / "full").iterdir()}
    ckpt = torch.load(tmp_path / "full" / "epoch1.pt", weights_only=False)
    assert isinstance(ckpt["model"], torch.nn.Module) and next(ckpt["model"].parameters()).dtype == torch.float32
    assert ckpt["args"]["hyp"] == "mini" and ckpt["optimizer"]["param_groups"][0]["lr"] > 0
    # yolov5's label caches go to the run directory, never into the data set
    assert not list(mini_coco.rglob("*.cache")) and (tmp_path / "full" / "cache" / "train2017.cache").is_file()

    # interrupted during the second epoch's validation: epoch 0 is saved, the rerun resumes at epoch 1
    import yolov5.val

    real_run, calls = yolov5.val.run, []

    def interrupt_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(*a, **k)

    monkeypatch.setattr(yolov5.val, "run", interrupt_second)
    assert yolo_train.main(run_args(mini_coco, tmp_path / "cut")) == 130
    monkeypatch.setattr(yolov5.val, "run", real_run)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["epoch"] == 0
    resumed = yolo_train.main.__wrapped__(run_args(mini_coco, tmp_path / "cut"))
    assert [r["epoch"] for r in resumed] == [0, 1]
    for key in ("train_box_loss", "train_obj_loss", "train_cls_loss", "val_box_loss", "map50_95"):
        assert resumed[1][key] == pytest.approx(full[1][key], rel=1e-5, abs=1e-9), key

    result = yolo_val.main.__wrapped__(["--weights", str(tmp_path / "full" / "best.pt"), "--data-path",
                                        str(mini_coco), "--output-dir", str(tmp_path / "eval"), "--imgsz", "64",
                                        "--workers", "0", "--dataset-name", "mini"])
    assert 0.0 <= result["map50_95"] <= result["map50"] <= 1.0 and result["num_val_images"] == 8
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["map50_95"] == result["map50_95"]

"""Registry: every model builds and gives (B, 1000) logits; parameter counts pinned to the architecture."""

import functools

import pytest
import torch
from dero.models import DETECTION_MODELS, UnknownModelError, get_model, list_models


def count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def srconv_params(cin, cout, k, groups=1, shortcut_bn=True):
    """BN_in (2 Cin) + conv weight + conv bias + BN_sc (2 Cout)."""
    return 2 * cin + cout * (cin // groups) * k * k + cout + (2 * cout if shortcut_bn else 0)


def resnet_dero_params(block, layers, classes=1000):
    total = 3 * 64 * 49 + 2 * 64 + 2 * 64  # stem conv (no bias) + BN2 + BN3 of the image shortcut
    cin = 64
    for width, n in zip((64, 128, 256, 512), layers):
        for _ in range(n):
            if block == "basic":
                total += srconv_params(cin, width, 3) + srconv_params(width, width, 3)
                cin = width
            else:
                total += srconv_params(cin, width, 1) + srconv_params(width, width, 3) + srconv_params(width, 4 * width, 1)
                cin = 4 * width
    return total + cin * classes + classes


MCUNET_V4_ROWS = [[1, 8, 3], [3, 16, 7], [5, 16, 3], [5, 16, 7], [4, 16, 5], [5, 24, 5], [5, 24, 5], [5, 24, 5],
                  [5, 40, 3], [6, 40, 7], [4, 40, 5], [5, 48, 5], [5, 48, 7], [5, 48, 3], [6, 96, 3], [5, 96, 7],
                  [4, 96, 3], [5, 160, 7]]


def mcunet_dero_v4_params(classes=1000):
    total, cin = srconv_params(3, 16, 3), 16
    for t, c, k in MCUNET_V4_ROWS:
        hidden = cin * t
        if t != 1:
            total += srconv_params(cin, hidden, 1)
        total += srconv_params(hidden, hidden, k, groups=hidden) + srconv_params(hidden, c, 1)
        cin = c
    return total + cin * classes + classes


def densenet121_dero_params(classes=1000):
    total = 3 * 64 * 49 + 4 * 64
    cin = 64
    for stage, (n, w) in enumerate(zip((6, 12, 24, 16), (76, 92, 116, 112))):
        for _ in range(n):
            total += srconv_params(cin, w, 1, shortcut_bn=cin != w) + srconv_params(w, w, 3, shortcut_bn=False)
            cin = w
        out = 64 * 2 ** (stage + 1)
        total += srconv_params(cin, out, 1) + 2 * out  # + the transition's extra shortcut BN
        cin = out
    return total + cin * classes + classes


# README "Params (M)" = params / 2^20 truncated to 2 decimals
README_PARAMS_M = {"resnet34dero": 20.64, "resnet50dero": 21.78, "mcunet_dero_v4": 0.72, "densenet121_dero": 7.58}
EXACT_PARAMS = {
    "resnet34dero": resnet_dero_params("basic", (3, 4, 6, 3)),
    "resnet50dero": resnet_dero_params("bottleneck", (3, 4, 6, 3)),
    "mcunet_dero_v4": mcunet_dero_v4_params(),
    "densenet121_dero": densenet121_dero_params(),
    # originals and plain baselines (torchvision counts; MCUNet's published 0.74M)
    "resnet34": 21_797_672, "resnet50": 25_557_032, "mcunet_v4": 737_408, "densenet121": 7_978_856,
    "resnet34plain": 21_631_400, "resnet50plain": 22_803_112, "mcunet_plain_v4": 737_408,
    "densenet121_plain": 7_978_856,
}


@functools.cache
def build(name):
    torch.manual_seed(0)
    return get_model(name).eval()


@pytest.mark.parametrize("name", sorted(EXACT_PARAMS))
def test_param_counts(name):
    assert count(build(name)) == EXACT_PARAMS[name]


def test_derived_counts_match_readme():
    assert EXACT_PARAMS["resnet34dero"] == 21_645_736 and EXACT_PARAMS["mcunet_dero_v4"] == 760_158
    for name, readme in README_PARAMS_M.items():
        assert int(EXACT_PARAMS[name] / 2**20 * 100) / 100 == readme


def test_dero_removes_downsample_params():
    # resnet50dero has no 1x1 projections: fewer params than ResNet-50 although each conv gains BNs and a bias
    assert EXACT_PARAMS["resnet50dero"] < EXACT_PARAMS["resnet50"]


# ResNet-101/152 variants take most of the construction time: slow suite only.
DEEP = {n for n in list_models() if n.startswith(("resnet101", "resnet152"))}


@pytest.mark.parametrize("name", [n if n not in DEEP else pytest.param(n, marks=pytest.mark.slow) for n in list_models()
                                  if n not in DETECTION_MODELS])  # detection: test_yolo.py
def test_every_model_gives_imagenet_logits(name):
    model = build(name)
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1000)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name,size", [("mcunet_dero_v4", 176), pytest.param("resnet34dero", 224, marks=pytest.mark.slow),
                                       pytest.param("densenet121_dero", 224, marks=pytest.mark.slow)])
def test_native_resolution_batch_one(name, size):
    with torch.no_grad():
        assert build(name)(torch.randn(1, 3, size, size)).shape == (1, 1000)


def test_num_classes_and_variants_registered():
    assert get_model("resnet18", num_classes=10).fc.out_features == 10
    for family in ("resnet18", "resnet34", "resnet50"):
        assert {family, family + "dero", family + "plain"} <= set(list_models())
    assert {"mcunet_v4", "mcunet_dero_v4", "mcunet_plain_v4", "densenet121", "densenet121_dero",
            "densenet121_plain", "mobilenet_v2", "mobilenet_v2_dero", "mobilenet_v2_plain"} <= set(list_models())


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownModelError, match="Did you mean: resnet34dero"):
        get_model("resnet34der")

"""The DERO tool: automatic conversion reproduces the hand-written DERO models and saves a loadable result."""

import json

import pytest
import torch
from dero.models import get_model
from dero.peak_memory import count_params, peak_memory

from dero import dero as tool


def test_mcunet_conversion_equals_handwritten_dero():
    dero_model, plain_model, spec = tool.convert(get_model("mcunet_v4"))
    assert count_params(dero_model) == count_params(get_model("mcunet_dero_v4")) == 760_158
    assert sum(d["kind"] == "conv" for d in spec) == 1 + 17 * 3 + 2  # stem + 17 blocks x 3 + the t=1 block's 2
    # the pw-linear convs have no activation; pw-expand and depthwise keep ReLU6
    assert [d["activation"] for d in spec[1:4]] == ["relu6", None, "relu6"]
    size = 64
    assert peak_memory(dero_model, size).peak_elements == peak_memory(plain_model, size).peak_elements
    assert peak_memory(dero_model, size).peak_elements == peak_memory(get_model("mcunet_dero_v4"), size).peak_elements


def test_mobilenet_v2_conversion_equals_registry_dero():
    dero_model, _, _ = tool.convert(get_model("mobilenet_v2"))
    assert count_params(dero_model) == count_params(get_model("mobilenet_v2_dero"))


def test_resnet_conversion_drops_shortcut_branches():
    spec = tool.convert(get_model("resnet34"))[2]
    convs = [d for d in spec if d["kind"] == "conv"]
    assert len(convs) == 1 + 2 * (3 + 4 + 6 + 3)  # the three downsample 1x1 convs are not on the main path
    assert all(d["activation"] == "relu" for d in convs)
    assert [d["kind"] for d in spec[:2]] == ["conv", "maxpool"] and spec[-1]["kind"] == "linear"


def test_densenet_op_refinement_finds_uniform_widths():
    ops = tool.chain_channels(tool.trace_main_path(get_model("densenet121")))
    widths = [op.out_channels for op in ops if op.kind == "conv" and op.kernel_size == 3]
    # one width per stage, close to the authors' hand-picked 76 / 92 / 116 / 112
    assert widths[:6] == [77] * 6 and widths[6:18] == [92] * 12 and widths[18:42] == [116] * 24
    assert widths[42:57] == [117] * 15


def test_cli_saves_a_loadable_result(tmp_path, capsys):
    summary = tool.main.__wrapped__(["--model", "mcunet_v4", "--output-dir", str(tmp_path), "--input-size", "64"])
    out = capsys.readouterr().out
    assert "original" in out and "dero" in out and "peak" in out
    assert summary["dero"]["params"] == 760_158 and summary["original"]["params"] == 737_408
    assert summary["dero"]["peak_elements"] == summary["plain"]["peak_elements"] < summary["original"]["peak_elements"]
    model = tool.load_converted(str(tmp_path / "dero_model.pth")).eval()
    scripted = torch.jit.load(str(tmp_path / "dero_model.ts"))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), scripted(x))
    assert json.loads((tmp_path / "summary.json").read_text())["model"] == "mcunet_v4"


def test_non_conv_model_is_rejected():
    with pytest.raises(ValueError, match="conv"):
        tool.trace_main_path(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)))

"""Peak memory (int8 elements): the notes' block numbers, and DERO == plain < residual on whole models."""

import json

import pytest
import torch
import torch.nn as nn
from dero.models import SRConv, get_model
from dero.models.mcunet import InvertedResidual
from dero.models.mcunet_dero import inverted_residual_dero
from dero.models.srconv import PlainConv, merge
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

from dero import peak_memory as pm


class Merged(nn.Module):
    """Adds the pending [out, res] pair at the end, as the next layer would."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return merge(self.body(x))


def peak(model, channels, size):
    return pm.peak_memory(model, size, in_channels=channels).peak_elements


def basic_variants(cin, cout, stride):
    down = nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else None
    residual = BasicBlock(cin, cout, stride, downsample=down)
    plain = nn.Sequential(PlainConv(cin, cout, 3, stride, activation=nn.ReLU()), PlainConv(cout, cout, 3, activation=nn.ReLU()))
    dero = Merged(nn.Sequential(SRConv(cin, cout, 3, stride, activation=nn.ReLU()), SRConv(cout, cout, 3, activation=nn.ReLU())))
    return residual, plain, dero


@pytest.mark.parametrize("cin,cout,stride,expected", [
    (64, 64, 1, (602_112, 401_408, 401_408)),
    (64, 128, 2, (401_408, 301_056, 301_056)),
])
def test_basic_block(cin, cout, stride, expected):
    assert tuple(peak(m, cin, 56) for m in basic_variants(cin, cout, stride)) == expected


def test_bottleneck_256_64_256():
    residual = Bottleneck(256, 64)
    plain = nn.Sequential(PlainConv(256, 64, 1), PlainConv(64, 64, 3), PlainConv(64, 256, 1))
    dero = Merged(nn.Sequential(SRConv(256, 64, 1), SRConv(64, 64, 3), SRConv(64, 256, 1)))
    assert (peak(residual, 256, 56), peak(plain, 256, 56), peak(dero, 256, 56)) == (1_806_336, 1_003_520, 1_003_520)


def test_mcunet_inverted_residual_16_16_t5_k3():
    residual = InvertedResidual(16, 16, 3, 1, 5)
    plain = InvertedResidual(16, 16, 3, 1, 5, residual=False)
    dero = Merged(inverted_residual_dero(16, 16, 3, 1, 5))
    assert (peak(residual, 16, 32), peak(plain, 16, 32), peak(dero, 16, 32)) == (180_224, 163_840, 163_840)


@pytest.mark.parametrize("family,size,expected", [
    (("mcunet_v4", "mcunet_plain_v4", "mcunet_dero_v4"), 176, (340_736, 309_760, 309_760)),
    (("resnet50", "resnet50plain", "resnet50dero"), 112, (451_584, 301_056, 301_056)),
])
def test_whole_models_at_mcu_resolution(family, size, expected):
    residual, plain, dero = (pm.peak_memory(get_model(n), size).peak_elements for n in family)
    assert (residual, plain, dero) == expected
    assert dero == plain < residual


def test_live_set_of_residual_peak_holds_block_input():
    report = pm.peak_memory(get_model("mcunet_v4"), 176)
    assert sorted(b.numel for b in report.live) == [30_976, 154_880, 154_880]  # x + both 80-ch hidden maps


def test_cli_json(capsys):
    pm.main(["--model", "mcunet_dero_v4", "--input-size", "176", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "mcunet_dero_v4" and result["input_size"] == 176
    assert result["peak_elements"] == 309_760 and result["params"] == 760_158


def test_any_module_from_python():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1))
    assert pm.peak_memory(net, 10).peak_elements == 8 * 100 + 4 * 100  # second conv: its input + output


# Beyond the paper: the memory-aware schedule (dero.schedule) brings every DERO model to its plain peak.
PLAIN_OF = {"resnet18dero": "resnet18plain", "resnet34dero": "resnet34plain", "resnet50dero": "resnet50plain",
            "densenet121_dero": "densenet121_plain", "mcunet_dero_v4": "mcunet_plain_v4"}


@pytest.mark.parametrize("dero,size,faithful,memory_aware", [
    ("resnet34dero", 224, 1_154_048, 1_012_928),  # image alive through the stem: +15 %; early 3-ch shortcut: +0.94 %
    ("resnet34dero", 112, 288_512, 253_232),
    ("densenet121_dero", 224, 1_154_048, 1_012_928),
    ("densenet121_dero", 112, 288_512, 253_232),
    ("resnet18dero", 224, 1_154_048, 1_012_928),
    ("resnet50dero", 224, 1_204_224, 1_204_224),
    ("resnet50dero", 112, 301_056, 301_056),
    ("mcunet_dero_v4", 176, 309_760, 309_760),
    ("mcunet_dero_v4", 224, 501_760, 501_760),
])
def test_memory_aware_schedule_reaches_plain_peak(dero, size, faithful, memory_aware):
    model, plain = get_model(dero), get_model(PLAIN_OF[dero])
    plain_peak = pm.peak_memory(plain, size).peak_elements
    assert pm.peak_memory(model, size).peak_elements == faithful
    assert pm.peak_memory(model, size, schedule="memory-aware").peak_elements == memory_aware
    assert memory_aware <= 1.01 * plain_peak
    assert pm.peak_memory(plain, size, schedule="memory-aware").peak_elements == plain_peak  # nothing to reorder


@pytest.mark.parametrize("name", ["resnet34dero", "densenet121_dero"])
def test_memory_aware_schedule_same_outputs(name):
    from dero.schedule import memory_aware

    torch.manual_seed(0)
    model = get_model(name, num_classes=10).eval()
    for m in model.modules():  # non-trivial BN statistics, so that the reordered BN2/BN3 are really exercised
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
    scheduled = memory_aware(model)
    assert all(a is b for a, b in zip(model.parameters(), scheduled.parameters()))  # the same weights
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = model(x), scheduled(x)
    assert (got - expected).abs().max() <= 1e-6 * expected.abs().max()


def test_cli_schedule_json(capsys):
    pm.main(["--model", "resnet34dero", "--input-size", "112", "--schedule", "memory-aware", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["schedule"] == "memory-aware" and result["peak_elements"] == 253_232

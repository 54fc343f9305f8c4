"""SRConv semantics: with a zero conv the output is BN_sc(S(x)); sum-pool window, channel pad and fold."""

import torch
import torch.nn as nn
from dero.models import SRConv, match_channels, merge, sum_pool


def zero_conv(m: SRConv) -> SRConv:
    nn.init.zeros_(m.conv.weight)
    nn.init.zeros_(m.conv.bias)
    return m.eval()


def test_zero_conv_outputs_bn_of_shortcut():
    torch.manual_seed(0)
    m = zero_conv(SRConv(8, 8, 3, 1, activation=nn.ReLU()))
    m.bnsc.running_mean.uniform_(-1, 1)
    m.bnsc.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 8, 6, 6)
    out, res = m(x)
    assert torch.equal(out, torch.zeros_like(out))
    torch.testing.assert_close(merge([out, res]), m.bnsc(x))


def test_stride2_sum_pool_uses_the_conv_window():
    m = zero_conv(SRConv(1, 1, 3, 2, activation=None))
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    _, res = m(x)
    # window 3x3, stride 2, padding 1: output (0,0) sums x[0:2, 0:2], output (1,1) sums x[1:4, 1:4]
    expected = m.bnsc(torch.tensor([[[[x[0, 0, :2, :2].sum(), x[0, 0, :2, 1:4].sum(), x[0, 0, :2, 3:6].sum()],
                                      [x[0, 0, 1:4, :2].sum(), x[0, 0, 1:4, 1:4].sum(), x[0, 0, 1:4, 3:6].sum()],
                                      [x[0, 0, 3:6, :2].sum(), x[0, 0, 3:6, 1:4].sum(), x[0, 0, 3:6, 3:6].sum()]]]]))
    torch.testing.assert_close(res, expected)
    assert res.shape == m.conv(x).shape


def test_strided_pointwise_sums_stride_window():
    pool = sum_pool(1, 2)
    x = torch.ones(1, 1, 4, 4)
    assert torch.equal(pool(x), torch.full((1, 1, 2, 2), 4.0))


def test_channel_pad_feeds_first_channels_only():
    x = torch.randn(1, 3, 2, 2)
    y = match_channels(x, 64)
    assert y.shape == (1, 64, 2, 2)
    assert torch.equal(y[:, :3], x) and torch.equal(y[:, 3:], torch.zeros(1, 61, 2, 2))


def test_channel_fold_256_to_64_sums_four_chunks():
    x = torch.randn(1, 256, 2, 2)
    y = match_channels(x, 64)
    torch.testing.assert_close(y, x[:, 0:64] + x[:, 64:128] + x[:, 128:192] + x[:, 192:256])


def test_channel_fold_80_to_24_pads_to_96():
    x = torch.randn(1, 80, 2, 2)
    y = match_channels(x, 24)
    padded = torch.cat([x, torch.zeros(1, 16, 2, 2)], 1)
    torch.testing.assert_close(y, sum(padded[:, 24 * j: 24 * (j + 1)] for j in range(4)))


def test_identity_shortcut_without_bn_is_exact():
    m = zero_conv(SRConv(5, 5, 3, 1, shortcut_bn=False))
    x = torch.randn(1, 5, 4, 4)
    assert torch.equal(merge(m(x)), x)

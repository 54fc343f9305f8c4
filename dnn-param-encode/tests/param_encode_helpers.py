"""Checkpoint helpers shared by the tests (a plain module: conftest names clash with the root conftest)."""

import numpy as np
import torch


def small_state_dict(seed=0, scale=1.0):
    """A tiny conv+BN+linear state dict with the roles of a torchvision model (params, buffers, raw)."""
    g = torch.Generator().manual_seed(seed)
    return {
        "conv1.weight": torch.randn(8, 3, 3, 3, generator=g) * 0.1 * scale,
        "bn1.weight": 1 + torch.randn(8, generator=g) * 0.01,
        "bn1.bias": torch.randn(8, generator=g) * 0.01,
        "bn1.running_mean": torch.randn(8, generator=g) * 0.1,
        "bn1.running_var": 1 + torch.rand(8, generator=g),
        "bn1.num_batches_tracked": torch.tensor(100 + seed),
        "fc.weight": torch.randn(10, 8, generator=g) * 0.1,
        # a larger layer so that the 1 KiB tables of the paper's coder do not dominate the bits/param
        "head.weight": torch.randn(64, 128, generator=g) * 0.05,
        "fc.bias": torch.zeros(10),
    }


def perturbed(sd, seed, step=1e-3):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in sd.items():
        if v.dtype == torch.float32:
            out[k] = v + torch.randn(v.shape, generator=g) * step
        else:
            out[k] = v + 1
    return out


def bits(t):
    if t.numel() == 0:  # empty tensors may have stride 0, which .view(dtype) refuses
        return np.zeros(0, dtype=np.uint8)
    return t.contiguous().reshape(-1).view(torch.uint8).numpy()


def assert_bit_exact(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and tuple(a[k].shape) == tuple(b[k].shape), k
        np.testing.assert_array_equal(bits(a[k]), bits(b[k]), err_msg=k)

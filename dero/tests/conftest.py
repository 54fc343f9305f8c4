"""Fixtures: a tiny learnable ImageFolder written with PIL (class = dominant colour + stripe direction), and one
finished 2-epoch training run on it that every test reading a run shares (trained once per session)."""

import pytest
import torch
from dero_helpers import train_args, write_image_folder

from dero import train

# The tests' batches are tiny (32x32, batch 8): a second intra-op thread buys nothing, and on a shared CPU
# OpenMP spin-waiting made each training step cost ~10x more CPU time (measured: 5 s vs 0.45 s per step).
torch.set_num_threads(1)


@pytest.fixture
def tiny_imagenet(tmp_path):
    """The tiny ImageFolder, for a test that changes it."""
    return write_image_folder(tmp_path / "imagenet")


@pytest.fixture(scope="session")
def tiny_imagenet_shared(tmp_path_factory):
    """The tiny ImageFolder, written once per session (for tests that only read it)."""
    return write_image_folder(tmp_path_factory.mktemp("shared") / "imagenet")


@pytest.fixture(scope="session")
def finished_run(tiny_imagenet_shared, tmp_path_factory):
    """(run directory, per-epoch metrics) of ``train_args(..., epochs=2)``: the reference an interrupted, resumed
    or rerun run must end at. Tests must not write into the directory."""
    out = tmp_path_factory.mktemp("runs") / "full"
    return out, train.main.__wrapped__(train_args(tiny_imagenet_shared, out, epochs=2))

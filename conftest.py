"""Root pytest configuration shared by every subproject's tests.

- ``slow`` tests run only with ``--runslow`` or ``RUN_SLOW=1``; ``gpu`` tests only when CUDA is visible.
- ``mini_data_dir`` gives the offline mini datasets (``$TINYML_MINI_DATA`` or ``data/mini``), generating them
  once if they are missing.
- RNG state of python/numpy (and torch when already imported) is restored after each test.
"""

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def _cuda_available():
    # Only ask torch if the test process already imported it: importing torch here would change the
    # import order of TF-only test processes for nothing.
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--runslow") or os.environ.get("RUN_SLOW") == "1"
    skip_slow = pytest.mark.skip(reason="slow: use --runslow or RUN_SLOW=1")
    skip_gpu = pytest.mark.skip(reason="gpu: no CUDA device visible")
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not _cuda_available():
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _restore_rng_state():
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch = sys.modules.get("torch")
    torch_state = torch.random.get_rng_state() if torch is not None else None
    yield
    random.setstate(py_state)
    np.random.set_state(np_state)
    if torch_state is not None:
        torch.random.set_rng_state(torch_state)


@pytest.fixture(scope="session")
def mini_data_dir():
    """Root of the offline mini datasets (real on-disk formats), generated on first use."""
    root = Path(os.environ.get("TINYML_MINI_DATA", REPO_ROOT / "data" / "mini"))
    if not (root / ".complete").exists():
        from mlperf_tiny.mini_data import generate_all

        generate_all(root)
    return root


@pytest.fixture
def fidelity_record(request):
    """``record(artifact, **fields)``: one row of ``make fidelity``'s table (``mlperf_tiny.fidelity.record_row``),
    filed under the subproject whose test calls it."""
    subproject = Path(request.node.path).resolve().relative_to(REPO_ROOT).parts[0]
    try:
        from mlperf_tiny import fidelity
    except ImportError:  # the table's writer is not installed: nothing to report
        return lambda artifact, **fields: None
    return lambda artifact, **fields: fidelity.record_row(subproject, artifact, **fields)

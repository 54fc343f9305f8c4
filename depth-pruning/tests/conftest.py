import shutil
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF, for every test module)
import pytest

MINI_IMAGES_PER_CLASS = 60  # a small VWW subset keeps the end-to-end runs to seconds


def pytest_configure(config):
    # Registered here too, so the fidelity tests also run where the root configuration does not declare it.
    config.addinivalue_line("markers", "fidelity: checks against the real artifacts of ../shared/fidelity")


@pytest.fixture
def fidelity_record():
    """``record(artifact, **fields)``: one row of ``make fidelity``'s table (``mlperf_tiny.fidelity.record_row``)."""
    try:
        from mlperf_tiny import fidelity
    except ImportError:  # the table's writer is not installed: nothing to report
        return lambda artifact, **fields: None
    return lambda artifact, **fields: fidelity.record_row("depth-pruning", artifact, **fields)


@pytest.fixture(scope="session")
def small_vww(mini_data_dir, tmp_path_factory):
    """The first 60 images per class of the mini VWW set (54 train + 6 validation per class)."""
    root = tmp_path_factory.mktemp("vww")
    for name in ("person", "non_person"):
        (root / name).mkdir()
        for path in sorted((Path(mini_data_dir) / "vw_coco2014_96" / name).iterdir())[:MINI_IMAGES_PER_CLASS]:
            shutil.copy(path, root / name / path.name)
    return root

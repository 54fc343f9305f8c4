import shutil
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF, for every test module)
import pytest

MINI_IMAGES_PER_CLASS = 60  # a small VWW subset keeps the end-to-end runs to seconds


def pytest_configure(config):
    # Registered here too, so the fidelity tests also run where the root configuration does not declare it.
    config.addinivalue_line("markers", "fidelity: checks against the real artifacts of ../shared/fidelity")


@pytest.fixture
def fidelity_record(request):
    """Records one row of ``make fidelity``'s table through the root fixture when the root conftest has one."""
    try:
        return request.getfixturevalue("fidelity_row")
    except pytest.FixtureLookupError:
        return lambda **row: None


@pytest.fixture(scope="session")
def small_vww(mini_data_dir, tmp_path_factory):
    """The first 60 images per class of the mini VWW set (54 train + 6 validation per class)."""
    root = tmp_path_factory.mktemp("vww")
    for name in ("person", "non_person"):
        (root / name).mkdir()
        for path in sorted((Path(mini_data_dir) / "vw_coco2014_96" / name).iterdir())[:MINI_IMAGES_PER_CLASS]:
            shutil.copy(path, root / name / path.name)
    return root

import shutil
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF, for every test module)
import pytest

MINI_IMAGES_PER_CLASS = 60  # a small VWW subset keeps the end-to-end runs to seconds


@pytest.fixture(scope="session")
def small_vww(mini_data_dir, tmp_path_factory):
    """The first 60 images per class of the mini VWW set (54 train + 6 validation per class)."""
    root = tmp_path_factory.mktemp("vww")
    for name in ("person", "non_person"):
        (root / name).mkdir()
        for path in sorted((Path(mini_data_dir) / "vw_coco2014_96" / name).iterdir())[:MINI_IMAGES_PER_CLASS]:
            shutil.copy(path, root / name / path.name)
    return root

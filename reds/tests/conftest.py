import pytest


@pytest.fixture
def kit():
    """The fidelity kit folder (skips the test when it is absent)."""
    try:
        from mlperf_tiny.fidelity import kit_dir
    except ImportError:
        pytest.skip("mlperf_tiny.fidelity is not installed")
    path = kit_dir()
    if not (path / "models" / "reds").is_dir():
        pytest.skip(f"fidelity kit not found at {path} (set TINYML_FIDELITY_KIT)")
    return path

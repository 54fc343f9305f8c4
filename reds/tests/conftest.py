import pytest


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
    return lambda artifact, **fields: fidelity.record_row("reds", artifact, **fields)


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

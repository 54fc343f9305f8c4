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
    return lambda artifact, **fields: fidelity.record_row("trecx", artifact, **fields)

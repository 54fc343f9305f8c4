import pytest


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

"""mlperf-tiny test configuration: the ``fidelity`` marker (tests against ../shared/fidelity; `make fidelity`)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "fidelity: compares against the real artifacts of ../shared/fidelity "
                                       "(fast; part of the default suite; `make fidelity` runs only these)")

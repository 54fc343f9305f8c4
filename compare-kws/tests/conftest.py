import pytest


@pytest.fixture(scope="session")
def kit():
    """The fidelity kit folder (skips the test when it is absent)."""
    from mlperf_tiny.fidelity import kit_dir

    path = kit_dir()
    if not (path / "models" / "mlperf" / "keyword_spotting" / "kws_ref_model").is_dir():
        pytest.skip(f"fidelity kit not found at {path} (set TINYML_FIDELITY_KIT)")
    return path


@pytest.fixture(scope="session")
def random_base(tmp_path_factory):
    """An untrained MLPerf DS-CNN saved as .h5: enough for the methods that do not check the base's accuracy."""
    import tensorflow as tf
    from mlperf_tiny.registry import get_model

    tf.keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("base") / "kws_ref_model.h5"
    get_model("ds_cnn").save(str(path))
    return path

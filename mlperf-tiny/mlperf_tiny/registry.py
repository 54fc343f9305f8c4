"""Model registry for the TF projects: ``--model_architecture NAME`` looks up a builder here.

Builders are registered with ``@register_model("name")``. The reference models of the four MLPerf Tiny tasks
are registered by importing their modules; other packages (trecx, depth_pruning, reds) add theirs through
the ``mlperf_tiny.models`` entry-point group in their pyproject.toml, so ``get_model`` finds every model by
name without importing all packages up front.
"""

import difflib
import fnmatch
import importlib
from importlib.metadata import entry_points

_MODELS = {}

# Modules that register the v0.5 reference models.
_BUILTIN_MODEL_MODULES = (
    "mlperf_tiny.image_classification.keras_model",
    "mlperf_tiny.keyword_spotting.keras_model",
    "mlperf_tiny.visual_wake_words.vww_model",
    "mlperf_tiny.anomaly_detection.keras_model",
)
ENTRY_POINT_GROUP = "mlperf_tiny.models"
_loaded = False


def register_model(name):
    """Decorator: register ``builder(**kwargs) -> keras.Model`` under ``name`` (names are unique)."""

    def decorator(builder):
        if name in _MODELS and _MODELS[name] is not builder:
            raise ValueError(f"model name {name!r} is already registered by {_MODELS[name].__module__}")
        _MODELS[name] = builder
        return builder

    return decorator


def _load_all():
    global _loaded
    if _loaded:
        return
    for module in _BUILTIN_MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # A task whose model module (or task package) does not exist yet is simply absent from the
            # registry; an import error *inside* an existing module still raises.
            if err.name is None or not (module == err.name or module.startswith(err.name + ".")):
                raise
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            importlib.import_module(entry_point.value)
        except ModuleNotFoundError as err:
            # A package that declares the entry point but has not written the module yet (or was installed
            # from an older checkout) must not break every other model lookup.
            if err.name is None or not entry_point.value.startswith(err.name):
                raise
            import warnings

            warnings.warn(f"model entry point {entry_point.name} -> {entry_point.value} is not importable "
                          f"({err}); its models are skipped", stacklevel=2)
    _loaded = True


def list_models(pattern="*"):
    """Sorted registered names matching a shell-style ``pattern``."""
    _load_all()
    return sorted(name for name in _MODELS if fnmatch.fnmatch(name, pattern))


def model_name(text):
    """argparse type: a registered model name; an unknown one is refused with the closest names suggested."""
    import run_contract as rc

    return rc.name_in(list_models())(text)


model_name.__name__ = "model"


def get_model_builder(name):
    _load_all()
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def get_model(name, **kwargs):
    """Build the registered model ``name``; ``kwargs`` go to its builder (input_shape, num_classes, ...)."""
    return get_model_builder(name)(**kwargs)

"""torchvision-style model registry: ``@register_model()`` fills a dict, ``get_model(name, **cfg)`` builds."""

import difflib
from collections.abc import Callable

import torch.nn as nn

BUILTIN_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str | None = None) -> Callable:
    def wrapper(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name if name is not None else builder.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = builder
        return builder

    return wrapper


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted registered names; ``pattern`` is an fnmatch filter such as ``'resnet*dero'``."""
    import fnmatch

    names = sorted(BUILTIN_MODELS)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    name = name.lower()
    if name not in BUILTIN_MODELS:
        close = difflib.get_close_matches(name, BUILTIN_MODELS, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"Unknown model '{name}'.{hint} All models: `python -c \"import dero.models as m; print(m.list_models())\"`"
        )
    return BUILTIN_MODELS[name]


def get_model(name: str, **config) -> nn.Module:
    """Build a registered model, e.g. ``get_model('resnet34dero', num_classes=10)``."""
    return get_model_builder(name)(**config)

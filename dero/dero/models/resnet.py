"""Original ResNets: torchvision's builders registered under their usual names (weights=None by default)."""

import torchvision.models as tvm

from ._api import register_model

RESNET_DEPTHS = (18, 34, 50, 101, 152)


def _register_torchvision(name: str) -> None:
    builder = getattr(tvm, name)

    def build(*, weights=None, progress: bool = True, **kwargs):
        return builder(weights=weights, progress=progress, **kwargs)

    build.__name__ = name
    build.__doc__ = f"torchvision ``{name}``; ``weights`` accepts a torchvision weights name."
    register_model(name)(build)


for _depth in RESNET_DEPTHS:
    _register_torchvision(f"resnet{_depth}")

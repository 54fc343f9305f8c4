"""MCUNet-plain: the MCUNet rows with every block shortcut removed (``use_res_connect=False``)."""

from ._api import register_model
from .mcunet import MCUNET_CONFIGS, McuNet


def _register(version: int) -> None:
    init_channels, rows, _resolution = MCUNET_CONFIGS[version]

    def build(*, num_classes: int = 1000, **kwargs) -> McuNet:
        return McuNet(init_channels, rows, num_classes=num_classes, residual=False, **kwargs)

    build.__name__ = f"mcunet_plain_v{version}"
    register_model()(build)


for _version in MCUNET_CONFIGS:
    _register(_version)

"""Registry entries of the detection models: ``yolov5n``, ``yolov5n_dero``, ``yolov5n_plain`` (COCO, nc=80).

They are built by ``dero.yolo`` on the optional ``yolov5`` package, imported only when one is built, so that
``import dero.models`` never needs it. ``get_model('yolov5n_dero', num_classes=80)``.
"""

from ._api import register_model

DETECTION_MODELS = ("yolov5n", "yolov5n_dero", "yolov5n_plain")
YOLO_INSTALL_HINT = "install the optional YOLO dependencies with `make dero-yolo-env` (dero/requirements-yolo*.txt)"


class YoloUnavailableError(ImportError):
    pass


def _build(name: str, num_classes: int = 80, **kwargs):
    try:
        from dero.yolo.yolo import build
    except ImportError as e:
        raise YoloUnavailableError(f"model '{name}' needs the yolov5 package ({e}); {YOLO_INSTALL_HINT}") from None
    return build(name, num_classes=num_classes, **kwargs)


def _register(name: str) -> None:
    def builder(*, num_classes: int = 80, **kwargs):
        return _build(name, num_classes, **kwargs)

    builder.__name__ = name
    register_model()(builder)


for _name in DETECTION_MODELS:
    _register(_name)

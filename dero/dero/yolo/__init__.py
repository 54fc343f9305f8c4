"""YOLOv5n and YOLOv5n-DERO on the packaged ultralytics/yolov5 v7 code (pip package ``yolov5`` 7.0.x).

Optional: install with ``make dero-yolo-env`` (``dero/requirements-yolo*.txt``). Nothing outside this
subpackage imports ``yolov5``; the registry names ``yolov5n``, ``yolov5n_dero`` and ``yolov5n_plain`` import it
when a model is built, through :func:`import_yolov5`. ``yolov5`` and ``ultralytics`` are AGPL-3.0 software (see
dero/README.md).
"""

import os
import sys

import numpy as _np

# yolov5 7.0's mAP integration calls np.trapz, which NumPy 2.4 removed; np.trapezoid is the same function.
if not hasattr(_np, "trapz"):
    _np.trapz = _np.trapezoid

# Read by ultralytics / yolov5 when they are imported: never probe the network (DNS at import) and never
# pip-install a missing package at run time (their check_requirements would otherwise try).
RUNTIME_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "False", "YOLOv5_AUTOINSTALL": "False"}


def import_yolov5():
    """``import yolov5`` the way dero needs it; every dero/dnn-param-encode use of yolov5 goes through here.

    Sets RUNTIME_ENV (unless the user set those variables) before the import, and undoes ultralytics' process-wide
    replacement of ``PIL.Image.open`` (``ultralytics.utils.patches``, imported by yolov5): on an image PIL cannot
    identify it calls ``check_requirements("pi-heif")`` (a pip install attempt) and then fails with
    ModuleNotFoundError, hiding PIL's UnidentifiedImageError from every later image read in the process. yolov5
    reads images with OpenCV, so PIL's own ``open`` is all it needs.
    """
    for name, value in RUNTIME_ENV.items():
        os.environ.setdefault(name, value)
    import yolov5

    restore_pil_open()
    return yolov5


def restore_pil_open() -> None:
    """Put PIL's own ``Image.open`` back if ultralytics replaced it (no-op otherwise)."""
    patches = sys.modules.get("ultralytics.utils.patches")
    original = getattr(patches, "_image_open", None)
    if original is None:
        return
    from PIL import Image

    if Image.open is getattr(patches, "image_open", None):
        Image.open = original

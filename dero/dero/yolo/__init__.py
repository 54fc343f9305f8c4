"""YOLOv5n and YOLOv5n-DERO on the packaged ultralytics/yolov5 v7 code (pip package ``yolov5`` 7.0.x).

Optional: install with ``make dero-yolo-env`` (``dero/requirements-yolo*.txt``). Nothing outside this
subpackage imports ``yolov5``; the registry names ``yolov5n``, ``yolov5n_dero`` and ``yolov5n_plain`` import it
when a model is built. ``yolov5`` and ``ultralytics`` are AGPL-3.0 software (see dero/README.md).
"""

import numpy as _np

# yolov5 7.0's mAP integration calls np.trapz, which NumPy 2.4 removed; np.trapezoid is the same function.
if not hasattr(_np, "trapz"):
    _np.trapz = _np.trapezoid

"""YOLOv5n, YOLOv5n-DERO and YOLOv5n-plain as yolov5 ``DetectionModel``s (the original's ``models/yolo.py``).

``yolov5n`` is yolov5's own model from its packaged ``yolov5n.yaml``. The DERO and plain variants are built from
the YAMLs beside this file by ``parse_model`` below, which knows the DERO modules (the original patched them into
yolov5's ``parse_model``; the packaged one cannot be extended) and otherwise follows yolov5's rules: widths
scaled by ``width_multiple`` and rounded up to a multiple of 8, repeats by ``depth_multiple``.
"""

import warnings
from copy import deepcopy
from pathlib import Path

warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import yaml  # noqa: E402

from dero.yolo import import_yolov5  # noqa: E402

yolov5 = import_yolov5()  # offline, no run-time installs, PIL's Image.open left alone
from yolov5.models.common import C3, SPPF, Concat, Conv  # noqa: E402
from yolov5.models.yolo import Detect, DetectionModel  # noqa: E402
from yolov5.utils.autoanchor import check_anchor_order  # noqa: E402
from yolov5.utils.general import make_divisible  # noqa: E402
from yolov5.utils.torch_utils import initialize_weights  # noqa: E402

from dero.yolo.common import C3D, SPPFD, ConvD  # noqa: E402

CFG_DIR = Path(__file__).parent
CONFIGS = {"yolov5n": Path(yolov5.__file__).parent / "models" / "yolov5n.yaml",
           "yolov5n_dero": CFG_DIR / "yolov5n_dero.yaml", "yolov5n_plain": CFG_DIR / "yolov5n_plain.yaml"}
MODULES = {"ConvD": ConvD, "C3D": C3D, "SPPFD": SPPFD, "Conv": Conv, "C3": C3, "SPPF": SPPF,
           "nn.Upsample": nn.Upsample, "Concat": Concat, "Detect": Detect}
CONV_LIKE = (ConvD, C3D, SPPFD, Conv, C3, SPPF)
CSP = (C3D, C3)  # take the repeat count as their third argument


def load_config(name_or_path) -> dict:
    path = CONFIGS.get(str(name_or_path), name_or_path)
    with open(path) as f:
        return yaml.safe_load(f)


def parse_model(d: dict, ch: list[int]) -> tuple[nn.Sequential, list[int]]:
    nc, gd, gw, anchors = d["nc"], d["depth_multiple"], d["width_multiple"], d["anchors"]
    layers, save, c2 = [], [], ch[-1]
    for i, (f, n, name, args) in enumerate(d["backbone"] + d["head"]):
        m = MODULES[name]
        args = [{"nc": nc, "anchors": anchors, "None": None}.get(a, a) if isinstance(a, str) else a for a in args]
        n = max(round(n * gd), 1) if n > 1 else n
        if m in CONV_LIKE:
            c1, c2 = ch[f], make_divisible(args[0] * gw, 8)
            args = [c1, c2, *args[1:]]
            if m in CSP:
                args.insert(2, n)
                n = 1
        elif m is Concat:
            c2 = sum(ch[x] for x in f)
        elif m is Detect:
            args.append([ch[x] for x in f])
        else:
            c2 = ch[f]
        module = nn.Sequential(*(m(*args) for _ in range(n))) if n > 1 else m(*args)
        module.i, module.f, module.type = i, f, f"{m.__module__}.{m.__name__}"
        module.np = sum(p.numel() for p in module.parameters())
        save.extend(x % i for x in ([f] if isinstance(f, int) else f) if x != -1)
        layers.append(module)
        if i == 0:
            ch = []
        ch.append(c2)
    return nn.Sequential(*layers), sorted(save)


class DeroDetectionModel(DetectionModel):
    """yolov5's DetectionModel (forward, loss interface, fuse, info) over a model parsed by ``parse_model``."""

    def __init__(self, cfg: dict, ch: int = 3, nc: int | None = None):
        nn.Module.__init__(self)
        self.yaml = deepcopy(cfg)
        if nc:
            self.yaml["nc"] = nc
        self.model, self.save = parse_model(deepcopy(self.yaml), ch=[ch])
        self.names = [str(i) for i in range(self.yaml["nc"])]
        self.inplace = self.yaml.get("inplace", True)
        # strides from a dry run at 256 px, anchors in grid units, Detect biases: as DetectionModel.__init__
        detect = self.model[-1]
        detect.inplace = self.inplace
        detect.stride = torch.tensor([256 / x.shape[-2] for x in self.forward(torch.zeros(1, ch, 256, 256))])
        check_anchor_order(detect)
        detect.anchors /= detect.stride.view(-1, 1, 1)
        self.stride = detect.stride
        self._initialize_biases()
        initialize_weights(self)


def build(name: str, num_classes: int = 80) -> DetectionModel:
    """``yolov5n`` (yolov5's own model), ``yolov5n_dero`` or ``yolov5n_plain`` with ``num_classes`` classes."""
    if name == "yolov5n":
        from yolov5.utils.general import LOGGER

        level = LOGGER.level
        LOGGER.setLevel("WARNING")  # DetectionModel prints its layer table
        try:
            return DetectionModel(str(CONFIGS[name]), nc=num_classes)
        finally:
            LOGGER.setLevel(level)
    return DeroDetectionModel(load_config(name), nc=num_classes)


def gflops(model: nn.Module, input_size: int = 640) -> float:
    """Forward GFLOPs (2 x multiply-accumulates, thop's count as yolov5 reports it) at batch 1."""
    import thop

    image = torch.zeros(1, 3, input_size, input_size)
    macs = thop.profile(deepcopy(model).eval(), inputs=(image,), verbose=False)[0]
    return 2 * macs / 1e9

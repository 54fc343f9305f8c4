"""The DERO tool: reorganise a conv net into its DERO form (and its plain form) automatically.

    python -m dero.dero --model resnet34 --output-dir D --input-size 224

Like the original tool (which exported to ONNX), it walks the model's *main path*: from the input it follows
the first consumer of the current tensor, so shortcut branches (identity, downsample projections) are skipped
and ``add``/``cat`` simply continue the path. On the way it records every conv (channels, kernel, stride,
groups), the activation that follows it (after BN and any add), and pooling on the main path. Channels are then
chained (each conv's input = the previous conv's output). Where that changes a conv (DenseNet's concat), "OP
refinement" gives the convs of each segment between poolings one uniform width whose parameter count is
closest to the original segment's. Finally every conv becomes an SRConv (DERO) or conv-BN-act (plain).

Unlike the original sketch, the result is saved: ``dero_model.pth`` / ``plain_model.pth`` (``{"spec", "state_dict"}``,
rebuilt by :func:`load_converted`), TorchScript ``dero_model.ts``, and ``summary.json`` with the before/after
params and peak memory. Works on torch.fx-traceable models (torchvision ResNet, MobileNetV2, our MCUNet).
"""

import argparse
import os
import warnings
from dataclasses import asdict, dataclass

import run_contract as rc
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

from dero.checkpoint import save_checkpoint
from dero.models.srconv import PlainConv, SRConv, merge
from dero.peak_memory import count_params, peak_memory

ACTIVATIONS = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.SiLU: "silu", nn.Hardswish: "hardswish"}
ACTIVATION_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.silu: "silu",
                        F.hardswish: "hardswish"}
MAKE_ACTIVATION = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "hardswish": nn.Hardswish}


@dataclass
class Op:
    """One main-path operator: ``kind`` is conv, maxpool, avgpool or linear."""

    kind: str
    in_channels: int = 0
    out_channels: int = 0
    kernel_size: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    activation: str | None = None
    dropout: float = 0.0


def _int(v) -> int:
    return int(v[0] if isinstance(v, (tuple, list)) else v)


def trace_main_path(model: nn.Module) -> list[Op]:
    """Ops met when following the first consumer from the input to the classifier."""
    graph = torch.fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    node = next(n for n in graph.nodes if n.op == "placeholder")
    ops: list[Op] = []
    dropout = 0.0
    while node.users:
        node = next(iter(node.users))  # first consumer = main path; later consumers are shortcuts
        target = modules.get(node.target) if node.op == "call_module" else None
        if isinstance(target, nn.Conv2d):
            if target.dilation != (1, 1):
                raise NotImplementedError(f"{node.target}: dilated convs are not supported")
            ops.append(Op("conv", target.in_channels, target.out_channels, _int(target.kernel_size),
                          _int(target.stride), _int(target.padding), target.groups))
        elif target is not None and type(target) in ACTIVATIONS or (
                node.op == "call_function" and node.target in ACTIVATION_FUNCTIONS):
            act = ACTIVATIONS[type(target)] if target is not None else ACTIVATION_FUNCTIONS[node.target]
            if ops and ops[-1].kind == "conv" and ops[-1].activation is None:
                ops[-1].activation = act
        elif isinstance(target, (nn.MaxPool2d, nn.AvgPool2d)):
            kind = "maxpool" if isinstance(target, nn.MaxPool2d) else "avgpool"
            ops.append(Op(kind, kernel_size=_int(target.kernel_size), stride=_int(target.stride),
                          padding=_int(target.padding)))
        elif isinstance(target, nn.Dropout):
            dropout = target.p
        elif isinstance(target, nn.Linear):
            ops.append(Op("linear", target.in_features, target.out_features, dropout=dropout))
            break
    if not any(op.kind == "conv" for op in ops) or ops[-1].kind != "linear":
        raise ValueError("no conv -> ... -> linear main path found: is this a classification conv net?")
    return ops


def _conv_params(op: Op, bias: bool = False) -> int:
    return op.out_channels * (op.in_channels // op.groups) * op.kernel_size**2 + (op.out_channels if bias else 0)


def chain_channels(ops: list[Op]) -> list[Op]:
    """Each conv takes the previous conv's output; widths that concat had grown are refined per segment."""
    ops = [Op(**asdict(op)) for op in ops]
    original = [Op(**asdict(op)) for op in ops]
    channels, changed = 3, False
    for op in ops:
        if op.kind in ("conv", "linear"):
            if op.in_channels != channels:
                changed = True
                if op.kind == "conv" and op.groups == op.in_channels:
                    op.groups = channels  # depthwise stays depthwise
                op.in_channels = channels
            channels = op.out_channels if op.kind == "conv" else channels
    return op_refine(original, ops) if changed else ops


def op_refine(original: list[Op], ops: list[Op]) -> list[Op]:
    """Per segment between poolings: one width W for all convs but the segment's last, matching params."""
    segments, current = [], []
    for i, op in enumerate(ops):
        if op.kind == "conv":
            current.append(i)
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    for seg in segments:
        inner = seg[:-1]
        if len(inner) < 2:
            continue
        target = sum(_conv_params(original[i]) for i in seg)

        def params_for(width: int, seg=seg, inner=inner) -> int:
            total = 0
            for j, i in enumerate(seg):
                op = ops[i]
                cin = ops[seg[j - 1]].out_channels if j else op.in_channels
                cin = width if j and seg[j - 1] in inner else cin
                cout = width if i in inner else op.out_channels
                total += cout * cin * op.kernel_size**2
            return total

        best = min(range(8, 2049), key=lambda w: abs(params_for(w) - target))
        prev_out = ops[seg[0]].in_channels
        for i in seg:
            ops[i].in_channels = prev_out
            if i in inner:
                ops[i].out_channels = best
            prev_out = ops[i].out_channels
    return ops


class _PoolMerged(nn.Module):
    """Pooling on the main path: the pending pair is added first (in place, as the conv's epilogue)."""

    def __init__(self, pool: nn.Module):
        super().__init__()
        self.pool = pool

    def forward(self, x):
        return self.pool(merge(x))


class _Head(nn.Module):
    def __init__(self, in_features: int, out_features: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(merge(x), 1), 1)
        return self.fc(self.dropout(x))


def build(spec: list[dict], variant: str = "dero") -> nn.Sequential:
    """Rebuild a converted network from its saved spec; ``variant`` is 'dero' or 'plain'."""
    layers: list[nn.Module] = []
    for d in spec:
        op = Op(**d)
        act = MAKE_ACTIVATION[op.activation]() if op.activation else None
        if op.kind == "conv":
            cls = SRConv if variant == "dero" else PlainConv
            layers.append(cls(op.in_channels, op.out_channels, op.kernel_size, op.stride, op.groups, activation=act))
        elif op.kind == "maxpool":
            layers.append(_PoolMerged(nn.MaxPool2d(op.kernel_size, op.stride, op.padding)))
        elif op.kind == "avgpool":
            layers.append(_PoolMerged(nn.AvgPool2d(op.kernel_size, op.stride, op.padding)))
        elif op.kind == "linear":
            layers.append(_Head(op.in_channels, op.out_channels, op.dropout))
    return nn.Sequential(*layers)


def convert(model: nn.Module) -> tuple[nn.Sequential, nn.Sequential, list[dict]]:
    """Return (DERO model, plain model, spec) for a traceable conv classifier. Weights are not transferred:
    DERO models are retrained from scratch."""
    spec = [asdict(op) for op in chain_channels(trace_main_path(model))]
    return build(spec, "dero"), build(spec, "plain"), spec


def load_converted(path: str, variant: str | None = None) -> nn.Module:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = build(saved["spec"], variant or saved["variant"])
    model.load_state_dict(saved["state_dict"])
    return model


def _classification_model(text: str) -> str:
    from dero.models import DETECTION_MODELS, list_models

    return rc.name_in([m for m in list_models() if m not in DETECTION_MODELS])(text)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = rc.ArgumentParser(description="DERO tool: convert a model into its DERO form", add_help=add_help)
    parser.add_argument("--model", required=True, type=_classification_model,
                        help="registry name of the original model, e.g. resnet34")
    parser.add_argument("--output-dir", required=True, help="where to write dero_model.pth/.ts and summary.json")
    parser.add_argument("--input-size", type=rc.positive_int, default=224, help="resolution for the peak-memory figures")
    parser.add_argument("--num-classes", type=rc.positive_int, default=1000, help="classifier width")
    parser.add_argument("--no-torchscript", dest="torchscript", action="store_false",
                        help="skip the traced TorchScript export")
    return parser


@rc.command
def main(argv=None) -> dict:
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns the summary."""
    args = get_args_parser().parse_args(argv)
    from dero.models import get_model

    original = get_model(args.model, num_classes=args.num_classes)
    try:
        dero_model, plain_model, spec = convert(original)
    except (ValueError, NotImplementedError, torch.fx.proxy.TraceError) as e:
        raise rc.UsageError(f"--model {args.model}: cannot convert ({e})") from None
    summary = {"model": args.model, "input_size": args.input_size, "num_convs": sum(d["kind"] == "conv" for d in spec)}
    for name, model in (("original", original), ("plain", plain_model), ("dero", dero_model)):
        report = peak_memory(model, args.input_size)
        summary[name] = {"params": count_params(model), "peak_elements": report.peak_elements,
                         "peak_kb": report.peak_elements / 1024, "peak_op": report.peak_op}
        print(f"{name:>8}: params {summary[name]['params']:>12,}  peak {report.peak_elements:>12,} elements "
              f"({report.peak_elements / 1024:.1f} KB int8) at {report.peak_op} step {report.peak_step}")
    for variant, model in (("dero", dero_model), ("plain", plain_model)):
        save_checkpoint({"spec": spec, "variant": variant, "state_dict": model.state_dict(),
                         "source_model": args.model}, os.path.join(args.output_dir, f"{variant}_model.pth"))
    if args.torchscript:
        example = torch.randn(1, 3, args.input_size, args.input_size)
        with warnings.catch_warnings():  # deprecation + "shape treated as constant": intended for a fixed graph
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(dero_model.eval(), example)
        with rc.atomic_path(os.path.join(args.output_dir, "dero_model.ts")) as tmp:
            traced.save(str(tmp))
    rc.write_json(os.path.join(args.output_dir, "summary.json"), {**summary, "spec": spec}, sort_keys=False)
    print(f"saved {args.output_dir}/dero_model.pth (rebuild with dero.dero.load_converted), plain_model.pth, "
          f"{'dero_model.ts, ' if args.torchscript else ''}summary.json")
    return summary


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()

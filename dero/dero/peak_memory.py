"""Peak inference activation memory under a sequential layer-by-layer schedule (MCUNet's definition).

Weights live in flash and are not counted. Every op that a deployment compiler materialises (conv, linear,
pooling, cat, upsample) gets a buffer of numel(output) elements (= bytes at int8); fused ops (BN, activations,
channel pad/fold, views, DERO's sum-pool) get none and read the buffers they were computed from; ``add`` runs
in place in the most recently produced of its operands' buffers, as an epilogue of that buffer's producer, and
the other operands must still be live then (this keeps a block-level residual alive, but not an SRConv's).
A buffer is live from its producer step to its last use, inclusive; the peak is the largest live total.

    python -m dero.peak_memory --model mcunet_dero_v4 --input-size 176 [--json] [--schedule memory-aware]

``--schedule memory-aware`` runs the same weights in the order of ``dero.schedule`` (same outputs, lower peak
for the DERO stems that keep the input image alive). Detection models (``yolov5n*``) are measured up to their
Detect convs: the box decoding (grid offsets, sigmoid, concat of 25,200 rows at 640) is post-processing that
a deployment runs on the three raw maps, and it would otherwise be counted as one more buffer.

From Python: ``peak_memory(model, input_size)`` works on any ``nn.Module`` taking one image batch.
"""

import argparse
import json
from dataclasses import dataclass, field

import run_contract as rc
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

# Ops that write a new activation buffer (by overload packet).
MATERIALISING = {
    aten.convolution, aten.conv2d, aten.conv1d, aten._convolution, aten.linear, aten.addmm, aten.mm, aten.bmm,
    aten.max_pool2d, aten.max_pool2d_with_indices, aten.avg_pool2d, aten._adaptive_avg_pool2d,
    aten.adaptive_avg_pool2d, aten.mean, aten.cat, aten.upsample_nearest2d, aten.upsample_bilinear2d,
    aten.adaptive_max_pool2d, aten.mul, aten.matmul,
}
# In-place accumulation into one operand's buffer (the residual add / SRConv epilogue).
ADDS = {aten.add, aten.add_}


def _packet(func):
    return getattr(func, "overloadpacket", func)


def _is_sum_pool(func, args, kwargs) -> bool:
    """DERO's shortcut sum-pool: avg_pool2d with divisor_override (fused into the add epilogue)."""
    if _packet(func) is not aten.avg_pool2d:
        return False
    divisor = kwargs.get("divisor_override", args[6] if len(args) > 6 else None)
    return divisor is not None


@dataclass
class Buffer:
    name: str
    shape: tuple[int, ...]
    producer: int
    last_use: int

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class PeakMemoryReport:
    peak_elements: int
    peak_step: int
    peak_op: str
    live: list[Buffer]
    buffers: list[Buffer] = field(repr=False)
    steps: list[str] = field(repr=False)

    def live_total(self, step: int) -> int:
        return sum(b.numel for b in self.buffers if b.producer <= step <= b.last_use)


_ACTIVE_TRACERS: list["_LivenessTracer"] = []


def record_materialised(tensor: torch.Tensor) -> None:
    """Tell an active trace that ``tensor`` is computed into a buffer of its own now (see ``dero.schedule``)."""
    if _ACTIVE_TRACERS:
        _ACTIVE_TRACERS[-1].materialise(tensor, "materialised")


class _LivenessTracer(TorchDispatchMode):
    """Records the materialising ops of one forward and which buffers each tensor's value depends on."""

    def __init__(self, image: torch.Tensor):
        super().__init__()
        self.buffers = [Buffer("input", tuple(image.shape), 0, 0)]
        self.steps = ["input"]
        self.deps: dict[int, frozenset[int]] = {id(image): frozenset({0})}
        self.keep_alive: list[torch.Tensor] = [image]  # keeps ids unique for the duration of the trace

    def _deps_of(self, args) -> set[int]:
        found: set[int] = set()
        for a in args:
            if isinstance(a, torch.Tensor):
                found |= self.deps.get(id(a), frozenset())
            elif isinstance(a, (list, tuple)):
                found |= self._deps_of(a)
        return found

    def _use(self, buffer_ids, step: int) -> None:
        for b in buffer_ids:
            self.buffers[b].last_use = max(self.buffers[b].last_use, step)

    def materialise(self, tensor: torch.Tensor, name: str) -> None:
        step = len(self.steps)
        self.steps.append(name)
        self._use(self.deps.get(id(tensor), frozenset()), step)
        self.buffers.append(Buffer(f"{name}#{step}", tuple(tensor.shape), step, step))
        self.deps[id(tensor)] = frozenset({len(self.buffers) - 1})
        self.keep_alive.append(tensor)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = self._deps_of(list(args) + list(kwargs.values()))
        packet = _packet(func)
        outputs = [t for t in (out if isinstance(out, (list, tuple)) else [out]) if isinstance(t, torch.Tensor)]
        if not inputs:  # weights, constants: live in flash
            return out
        if packet in ADDS and not _is_sum_pool(func, args, kwargs):
            host = max(inputs, key=lambda b: self.buffers[b].producer)
            self._use(inputs, self.buffers[host].producer)
            result = frozenset({host})
        elif packet is aten.cat and sum(isinstance(t, torch.Tensor) for t in args[0]) == 1:
            result = frozenset(inputs)  # concatenating one tensor is a no-op
        elif packet in MATERIALISING and not _is_sum_pool(func, args, kwargs):
            step = len(self.steps)
            self.steps.append(str(packet).replace("aten.", ""))
            self._use(inputs, step)
            self.buffers.append(Buffer(f"{self.steps[-1]}#{step}", tuple(outputs[0].shape), step, step))
            result = frozenset({len(self.buffers) - 1})
        else:  # fused: BN, activations, pads, views, split/stack/sum channel fold, sum-pool
            result = frozenset(inputs)
        for t in outputs:
            self.deps[id(t)] = result
            self.keep_alive.append(t)
        return out


def _detection_head(model: nn.Module) -> nn.Module | None:
    """The Detect module of a yolov5-style model (``model.model[-1]`` with anchors), else None."""
    layers = getattr(model, "model", None)
    head = layers[-1] if isinstance(layers, nn.Sequential) and len(layers) else None
    return head if head is not None and hasattr(head, "anchors") and hasattr(head, "nl") else None


def peak_memory(model: nn.Module, input_size: int | tuple[int, int], in_channels: int = 3,
                schedule: str = "faithful") -> PeakMemoryReport:
    """Analytic peak activation memory (elements) of one eval-mode forward at batch 1 under ``schedule``."""
    from dero.schedule import schedule as apply_schedule

    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    image = torch.randn(1, in_channels, h, w)
    was_training = model.training
    model.eval()
    scheduled = apply_schedule(model, schedule)
    head = _detection_head(scheduled)
    tracer = _LivenessTracer(image)
    _ACTIVE_TRACERS.append(tracer)
    try:
        if head is not None:
            head.training = True  # raw Detect maps, no box decoding
        with torch.no_grad(), tracer:
            scheduled(image)
    finally:
        _ACTIVE_TRACERS.pop()
        if head is not None:
            head.training = False
        model.train(was_training)
    buffers = tracer.buffers
    # The logits are read out after the last step.
    totals = [sum(b.numel for b in buffers if b.producer <= s <= b.last_use) for s in range(len(tracer.steps))]
    peak_step = max(range(len(totals)), key=totals.__getitem__)
    live = [b for b in buffers if b.producer <= peak_step <= b.last_use]
    return PeakMemoryReport(totals[peak_step], peak_step, tracer.steps[peak_step], live, buffers, tracer.steps)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe(name: str, model: nn.Module, input_size: int, schedule: str = "faithful") -> dict:
    report = peak_memory(model, input_size, schedule=schedule)
    params = count_params(model)
    return {
        "model": name,
        "input_size": input_size,
        "schedule": schedule,
        "peak_elements": report.peak_elements,
        "peak_kb": report.peak_elements / 1024,
        "peak_step": report.peak_step,
        "peak_op": report.peak_op,
        "live": [{"name": b.name, "shape": list(b.shape), "elements": b.numel} for b in report.live],
        "params": params,
        "params_m": int(params / 2**20 * 100) / 100,  # the paper's "Params (M)": n / 2^20, truncated
    }


def _model_name(text: str) -> str:
    from dero.models import list_models

    return rc.name_in(list_models())(text)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = rc.ArgumentParser(description="DERO peak inference memory (int8 elements = bytes)",
                                     add_help=add_help)
    parser.add_argument("--model", required=True, nargs="+", type=_model_name, help="registry name(s), e.g. mcunet_dero_v4")
    parser.add_argument("--input-size", type=rc.positive_int, default=224, help="square input resolution")
    parser.add_argument("--num-classes", type=rc.positive_int, default=None,
                        help="classes (default: the builder's, 1000 for ImageNet models, 80 for yolov5n*)")
    parser.add_argument("--schedule", choices=("faithful", "memory-aware"), default="faithful",
                        help="execution order: as written (default), or dero.schedule's memory-aware order")
    parser.add_argument("--json", action="store_true", help="print one JSON object per model instead of text")
    return parser


@rc.command
def main(argv=None) -> list[dict]:
    """The CLI (exit code); ``main.__wrapped__(argv)`` returns one dict per model."""
    args = get_args_parser().parse_args(argv)
    from dero.models import get_model

    results = []
    for name in args.model:
        model = get_model(name, **({"num_classes": args.num_classes} if args.num_classes else {}))
        result = describe(name, model, args.input_size, args.schedule)
        results.append(result)
        if args.json:
            print(json.dumps(result))
            continue
        print(f"{name} @ {args.input_size}x{args.input_size} ({args.schedule}): peak {result['peak_elements']:,} elements "
              f"({result['peak_kb']:.1f} KB at int8) at step {result['peak_step']} ({result['peak_op']}); "
              f"params {result['params']:,} ({result['params_m']:.2f} Mi)")
        for b in result["live"]:
            print(f"    live: {b['name']:<28} {str(tuple(b['shape'])):<22} {b['elements']:>12,}")
    return results


def cli() -> None:
    rc.entry(main)


if __name__ == "__main__":
    cli()

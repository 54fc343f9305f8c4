"""TensorFlow Lite Micro as the judge of deployed memory: tensor arena (SRAM), flash and outputs of a .tflite.

The pip package ``tflite-micro`` is the TFLite Micro interpreter (reference kernels, recording allocator) built
for the host. For each model this module reports

- the smallest tensor arena that allocates and runs (bisection over the arena size, not a guess), split into
  the non-persistent part (the memory planner's activation buffers plus kernel scratch buffers) and the
  persistent part (tensor and node structs, quantization data, kernels' op data);
- the flatbuffer bytes (what goes to flash, weights included) and the operator list;
- with ``--inputs DIR`` (EEMBC stimuli: ``*.bin`` + ``y_labels.csv``), the outputs on those inputs.

It also holds the analytic activation counter on the TFLite graph (DERO's definition, ported from
``dero.peak_memory``) and an offline replay of TFLite Micro's greedy memory planner, so a memory figure can
be explained step by step: live activations -> every tensor its own buffer (TFLite Micro's ADD is not in
place) -> 16-byte alignment -> planner fragmentation -> scratch buffers -> persistent structs.

    python -m mlperf_tiny.tflm MODEL.tflite [MODEL.tflite ...] [--json FILE] [--explain] [--inputs DIR [--litert]]
    python -m mlperf_tiny.tflm --scan RUNS [--table_dir DIR]      # make tflm: table.csv + arena-vs-accuracy plot

From Python::

    measure(path) -> dict                 arena (min / activation / persistent), flash, operators, counters
    min_arena(path) -> int                smallest arena in bytes (bisection)
    activation_peak(path, rules="dero")   PeakReport: largest sum of live activations in sequential execution
    greedy_plan_bytes(path) -> int        TFLite Micro's GreedyMemoryPlanner replayed offline (bytes)
    run(path, inputs) -> np.ndarray       TFLite Micro outputs on a batch of raw (quantized) inputs
    compare_with_litert(path, stimuli)    top-1 agreement and largest output difference (LSB) vs LiteRT

TFLite Micro runs float and full-integer models; hybrid (dynamic-range) models, custom operators, ops without a
kernel for their type and weights stored outside the flatbuffer table (``inline_buffers`` fixes those) are refused
with one line naming the reason (``UnsupportedModel``).
Nothing here imports TensorFlow (``compare_with_litert`` imports ``ai_edge_litert``).
"""

import contextlib
import os
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import run_contract as rc

PIN_HINT = "install it with `make env` (pip install tflite-micro, pinned in constraints.txt)"
# TFLite Micro aligns every planned buffer to 16 bytes (MicroArenaBufferAlignment()).
BUFFER_ALIGNMENT = 16
# Arena search: the first guess adds this to twice (all activations + flatbuffer); the bisection's failing bound
# starts this far below the recorded use; the search gives up past the largest arena.
FIRST_ARENA_GUESS = 64 * 1024
ARENA_SLACK = 1024
LARGEST_ARENA = 1 << 31
# Ops that DERO's counter fuses into a neighbour (no buffer of their own): views, activations, padding
# (a PyTorch conv pads inside the kernel). dero.peak_memory's "lazy" ops, in TFLite's op names.
LAZY_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "PAD",
                      "PADV2"})
# Ops whose quantized weights beside float activations make a hybrid (dynamic-range) model.
WEIGHTED_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D",
                          "BATCH_MATMUL", "UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF", "EMBEDDING_LOOKUP"})
# A stimulus with more outputs than this per file keeps only its summary (score) in the JSON report.
MAX_JSON_OUTPUTS_PER_INPUT = 4096


class UnsupportedModel(Exception):
    """TFLite Micro cannot run this model; the message names the reason."""


# --------------------------------------------------------------------------------------------- the graph
@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TFLite type name: INT8, FLOAT32, ...
    bytes: int
    constant: bool  # weights/biases stored in the flatbuffer (flash)
    variable: bool  # resource/state tensors: persistent in TFLite Micro


@dataclass(frozen=True)
class OpInfo:
    index: int
    name: str  # builtin operator name, or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # tensor indices, optional inputs (-1) dropped
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    """The main subgraph of a TFLite flatbuffer, in execution order."""

    tensors: tuple[TensorInfo, ...]
    ops: tuple[OpInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    flatbuffer_bytes: int
    subgraphs: int
    offline_plan: bool  # "OfflineMemoryAllocation" metadata: buffer offsets were planned offline
    external_buffers: int  # constant buffers stored after the flatbuffer table (buffer.offset), not inside it

    def activations(self):
        """Tensors that TFLite Micro places in the arena (non-constant, non-variable, non-empty)."""
        return [t for t in self.tensors if not t.constant and not t.variable and t.bytes > 0]


def _schema():
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    except ImportError as exc:
        raise rc.RunFailed(f"tflite-micro is not installed ({exc}); {PIN_HINT}") from exc
    return schema_py_generated


def _enum_names(enum_class):
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


_ITEM_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "BFLOAT16": 2, "FLOAT64": 8, "INT64": 8, "UINT64": 8, "INT32": 4,
               "UINT32": 4, "INT16": 2, "UINT16": 2, "INT8": 1, "UINT8": 1, "BOOL": 1, "COMPLEX64": 8,
               "COMPLEX128": 16, "INT4": 1}
NUMPY_DTYPES = {"FLOAT32": np.float32, "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "INT32": np.int32,
                "INT64": np.int64, "BOOL": np.bool_, "FLOAT16": np.float16}


def model_bytes(model):
    """(flatbuffer bytes, a name for messages) of a path or of bytes; a missing or non-TFLite file is a usage error."""
    if isinstance(model, bytes | bytearray):
        data, name = bytes(model), "<flatbuffer>"
    else:
        path = rc.require_file(model, "TFLite model", hint="pass a .tflite flatbuffer")
        data, name = path.read_bytes(), str(path)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise rc.bad_file(name, "not a TFLite flatbuffer (no TFL3 identifier at byte 4)",
                          hint="pass a .tflite file written by the TFLite converter")
    return data, name


def read_graph(model):
    """The main subgraph of ``model`` (a path, flatbuffer bytes or a Graph) as a ``Graph``."""
    if isinstance(model, Graph):
        return model
    data, name = model_bytes(model)
    fb = _schema()
    try:
        root = fb.Model.GetRootAs(data, 0)
        if root.SubgraphsLength() < 1:
            raise rc.bad_file(name, "the flatbuffer holds no subgraph")
        type_names = _enum_names(fb.TensorType)
        op_names = _enum_names(fb.BuiltinOperator)
        sub = root.Subgraphs(0)
        tensors = []
        for i in range(sub.TensorsLength()):
            t = sub.Tensors(i)
            buffer = root.Buffers(t.Buffer()) if t.Buffer() < root.BuffersLength() else None
            constant = buffer is not None and (buffer.DataLength() > 0 or buffer.Offset() > 1)
            shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            dtype = type_names.get(t.Type(), str(t.Type()))
            nbytes = int(np.prod(shape, dtype=np.int64)) * _ITEM_BYTES.get(dtype, 1) if shape else _ITEM_BYTES.get(dtype, 1)
            tensors.append(TensorInfo(i, (t.Name() or b"").decode(errors="replace"), shape, dtype, nbytes,
                                      constant, bool(t.IsVariable())))
        ops = []
        for i in range(sub.OperatorsLength()):
            op = sub.Operators(i)
            code = root.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            op_name = op_names.get(builtin, f"BUILTIN_{builtin}")
            if op_name == "CUSTOM":
                op_name = f"CUSTOM:{(code.CustomCode() or b'?').decode(errors='replace')}"
            ins = tuple(int(j) for j in op.InputsAsNumpy() if j >= 0) if op.InputsLength() else ()
            outs = tuple(int(j) for j in op.OutputsAsNumpy() if j >= 0) if op.OutputsLength() else ()
            ops.append(OpInfo(i, op_name, ins, outs))
        metadata = [(root.Metadata(i).Name() or b"").decode() for i in range(root.MetadataLength())]
        external = sum(root.Buffers(i).Offset() > 1 for i in range(root.BuffersLength()))
        return Graph(tuple(tensors), tuple(ops),
                     tuple(int(j) for j in sub.InputsAsNumpy()), tuple(int(j) for j in sub.OutputsAsNumpy()),
                     len(data), root.SubgraphsLength(), "OfflineMemoryAllocation" in metadata, external)
    except rc.UsageError:
        raise
    except Exception as exc:  # a truncated or corrupt flatbuffer raises anything from struct to IndexError
        raise rc.bad_file(name, f"corrupt TFLite flatbuffer ({type(exc).__name__}: {exc})") from exc


def inline_buffers(model):
    """The flatbuffer with every externally stored constant buffer (buffer.offset/size) moved inside the table."""
    import flatbuffers

    data, _ = model_bytes(model)
    fb = _schema()
    unpacked = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    for buffer in unpacked.buffers or []:
        if buffer.offset > 1:
            buffer.data = np.frombuffer(data, np.uint8, count=buffer.size, offset=buffer.offset).copy()
            buffer.offset = buffer.size = 0
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(unpacked.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def operator_list(model):
    """Operator names in execution order."""
    return [op.name for op in read_graph(model).ops]


def unsupported_reason(model):
    """Why TFLite Micro cannot run ``model`` as far as the graph alone shows (custom ops, hybrid, weights stored
    outside the flatbuffer table), else None."""
    graph = read_graph(model)
    if graph.external_buffers:
        return (f"{graph.external_buffers} constant buffers are stored after the flatbuffer table (buffer.offset, as "
                f"ai-edge-quantizer and LiteRT write large models); TFLite Micro does not read them and would "
                f"allocate those weights, uninitialized, in the arena: inline them first (mlperf_tiny.tflm."
                f"inline_buffers)")
    custom = sorted({op.name.split(":", 1)[1] for op in graph.ops if op.name.startswith("CUSTOM:")})
    if custom:
        return (f"custom operator(s) {', '.join(custom)}: TFLite Micro has no kernel for them "
                f"(register one in C++, or convert without custom ops)")
    for op in graph.ops:
        if op.name not in WEIGHTED_OPS:
            continue
        tensors = [graph.tensors[j] for j in op.inputs]
        float_activation = any(not t.constant and t.dtype == "FLOAT32" for t in tensors)
        int_weights = any(t.constant and t.dtype in ("INT8", "UINT8", "INT4") for t in tensors)
        if float_activation and int_weights:
            return (f"hybrid (dynamic-range quantized) model: {op.name} #{op.index} has float32 activations and "
                    f"int8 weights, and TFLite Micro runs only float or full-integer models "
                    f"(convert with a representative dataset for full int8)")
    return None


def precision(model):
    """How the weighted ops (conv, depthwise, dense...) compute: "int8", "int16" (16x8), "float32", "hybrid" (any op
    with float activations and integer weights), "mixed", or "none" when the graph has no weighted op."""
    graph = read_graph(model)
    kinds = set()
    for op in graph.ops:
        if op.name not in WEIGHTED_OPS:
            continue
        tensors = [graph.tensors[j] for j in op.inputs]
        activation = next((t.dtype for t in tensors if not t.constant), None)
        weights = next((t.dtype for t in tensors if t.constant), None)
        if activation == "FLOAT32":
            kinds.add("hybrid" if weights in ("INT8", "UINT8", "INT4") else "float32")
        elif activation in ("INT8", "INT16"):
            kinds.add(activation.lower())
        else:
            kinds.add(str(activation).lower())
    if not kinds:
        return "none"
    if "hybrid" in kinds:
        return "hybrid"
    return kinds.pop() if len(kinds) == 1 else "mixed"


# --------------------------------------------------------------------------------- analytic counters
@dataclass
class Buffer:
    name: str
    bytes: int
    producer: int  # step that writes it (0: the model input)
    last_use: int


@dataclass
class PeakReport:
    """Largest sum of live activation buffers over the steps of a sequential execution (bytes)."""

    peak_bytes: int
    peak_step: int
    peak_op: str
    live: list[Buffer]
    rules: str
    buffers: list[Buffer] = field(repr=False)
    steps: list[str] = field(repr=False)

    def step_totals(self):
        return [sum(b.bytes for b in self.buffers if b.producer <= s <= b.last_use) for s in range(len(self.steps))]


def activation_peak(model, rules="dero"):
    """The largest sum of live activations in sequential execution, on the TFLite graph (bytes = int8 elements).

    rules="dero": ``dero.peak_memory``'s definition ported to TFLite ops. Step 0 holds the model input; every
    op writes a new buffer except the lazy ops (views, standalone activations, padding: no buffer, they read
    their input's) and ADD, which runs in place in the most recently produced operand buffer, as an epilogue
    of that buffer's producer, with the other operands still live then. A buffer lives from its producer step
    to its last use, inclusive.
    rules="tflm": TFLite Micro's own lifetimes (``AllocationInfoBuilder``): every non-constant tensor is a buffer
    (ADD is not in place, views are copies), inputs live from step 0, the model outputs until the last step.
    Neither counts alignment, planner fragmentation or scratch buffers (see ``greedy_plan_bytes``).
    """
    if rules not in ("dero", "tflm"):
        raise ValueError(f"rules must be 'dero' or 'tflm', not {rules!r}")
    graph = read_graph(model)
    if graph.subgraphs > 1:
        raise rc.UsageError(f"{len(graph.ops)}-op model with {graph.subgraphs} subgraphs (control flow): "
                            f"the counter handles one subgraph")
    activation_ids = {t.index for t in graph.activations()}
    buffers, steps = [], ["input"]
    holds = {}  # tensor index -> buffer ids whose memory holds its value

    def use(buffer_ids, step):
        for b in buffer_ids:
            buffers[b].last_use = max(buffers[b].last_use, step)

    for j in graph.inputs:
        holds[j] = frozenset({len(buffers)})
        buffers.append(Buffer(graph.tensors[j].name or f"input#{j}", graph.tensors[j].bytes, 0, 0))
    for op in graph.ops:
        operands = [j for j in op.inputs if j in activation_ids]
        sources = frozenset().union(*(holds.get(j, frozenset()) for j in operands))
        outputs = [j for j in op.outputs if j in activation_ids]
        if rules == "dero" and sources and op.name == "ADD":
            host = max(sources, key=lambda b: buffers[b].producer)
            use(sources, buffers[host].producer)
            holds.update({j: frozenset({host}) for j in outputs})
        elif rules == "dero" and sources and op.name in LAZY_OPS:
            holds.update({j: sources for j in outputs})
        else:
            step = len(steps)
            steps.append(op.name)
            use(sources, step)
            for j in outputs:
                holds[j] = frozenset({len(buffers)})
                buffers.append(Buffer(graph.tensors[j].name or f"{op.name}#{op.index}", graph.tensors[j].bytes,
                                      step, step))
    if rules == "tflm":
        use(frozenset().union(*(holds.get(j, frozenset()) for j in graph.outputs)), len(steps) - 1)
    totals = [sum(b.bytes for b in buffers if b.producer <= s <= b.last_use) for s in range(len(steps))]
    peak_step = max(range(len(totals)), key=totals.__getitem__)
    live = [b for b in buffers if b.producer <= peak_step <= b.last_use]
    return PeakReport(totals[peak_step], peak_step, steps[peak_step], live, rules, buffers, steps)


def _align(n, alignment=BUFFER_ALIGNMENT):
    return (n + alignment - 1) // alignment * alignment


def greedy_plan(model):
    """TFLite Micro's GreedyMemoryPlanner replayed offline on the model's tensors.

    Returns {tensor index: (offset, aligned bytes)}. As in TFLite Micro: buffers are the non-constant tensors in
    index order, sizes aligned up to 16 bytes, lifetimes as ``activation_peak(rules="tflm")``; they are placed
    largest first (ties: the later-added buffer first, because the planner fills its sort array from the tail
    and sorts stably), each at the lowest offset that does not collide with a time-overlapping placed buffer.
    Kernel scratch buffers (requested at run time) are not in the graph and so not in this plan.
    """
    graph = read_graph(model)
    if graph.offline_plan:
        raise rc.UsageError("the model carries an offline memory plan (OfflineMemoryAllocation metadata): "
                            "TFLite Micro uses its offsets, which this replay does not model")
    last_step = len(graph.ops)
    first, last = {}, {}
    for j in graph.inputs:
        first[j] = last[j] = 0
    for step, op in enumerate(graph.ops, start=1):
        for j in op.outputs:
            first[j] = last[j] = step
        for j in op.inputs:
            last[j] = step
    for j in graph.outputs:
        last[j] = last_step
    requests = [(t.index, _align(t.bytes), first[t.index], last[t.index])
                for t in graph.activations() if t.index in first]
    order = sorted(reversed(requests), key=lambda r: -r[1])  # stable: equal sizes keep the reversed order
    placed = []  # (offset, size, first, last), kept sorted by offset
    plan = {}
    for index, size, start, end in order:
        offset = 0
        for other_offset, other_size, other_start, other_end in placed:
            if other_start > end or start > other_end:  # not live at the same time
                continue
            if other_offset - offset >= size:
                break
            offset = max(offset, other_offset + other_size)
        placed.append((offset, size, start, end))
        placed.sort(key=lambda p: p[0])
        plan[index] = (offset, size)
    return plan


def greedy_plan_bytes(model):
    """Bytes of the non-persistent arena TFLite Micro's greedy planner needs for the graph's tensors."""
    plan = greedy_plan(model)
    return max((o + s for o, s in plan.values()), default=0)


def aligned_live_peak(model):
    """``activation_peak(rules="tflm")`` with every buffer rounded up to TFLite Micro's 16-byte alignment."""
    report = activation_peak(model, rules="tflm")
    totals = [sum(_align(b.bytes) for b in report.buffers if b.producer <= s <= b.last_use)
              for s in range(len(report.steps))]
    return max(totals)


# ------------------------------------------------------------------------------- the TFLite Micro runtime
def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        raise rc.RunFailed(f"tflite-micro is not installed ({exc}); {PIN_HINT}") from exc
    return runtime


def tflm_version():
    try:
        from tflite_micro import __version__
    except ImportError:
        return None
    return __version__


@contextlib.contextmanager
def _captured_stderr(log):
    """Collect what the C++ runtime writes to file descriptor 2 (MicroPrintf) into ``log`` (a list)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield log
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            log.extend(capture.read().decode(errors="replace").splitlines())


# Messages of an allocation that failed for lack of arena (the planner's bookkeeping also lives in the arena:
# "Too many buffers" means too little room for it).
_ARENA_SHORT = re.compile(r"missing: \d+|Failed to (allocate|resize)|too small|Too many buffers", re.IGNORECASE)
_GENERIC_LINES = re.compile(r"^(Failed starting model allocation|TFLM failed to allocate tensors)", re.IGNORECASE)


def _failure_reason(log):
    """One line from TFLite Micro's log: its own explanation, with the node that failed."""
    lines = [line.strip() for line in log if line.strip() and not _GENERIC_LINES.match(line.strip())]
    node = next((line for line in lines if re.match(r"Node \S+ \(number \d+\)", line)), None)
    causes = [re.sub(r"^\S+\.cc:?\d*:?\s+", "", line) for line in lines if line != node]
    text = "; ".join(dict.fromkeys(c for c in causes if c)) or "no reason given by the runtime"
    return f"{text.rstrip('.')}{f' ({node})' if node else ''}"


def _interpreter(data, arena_size):
    """A TFLite Micro interpreter with ``arena_size`` bytes of arena, or None when the arena is too small.

    Raises ``UnsupportedModel`` when allocation fails for another reason (no kernel, wrong type, hybrid...).
    """
    runtime = _runtime()
    log = []
    try:
        with _captured_stderr(log):
            return runtime.Interpreter.from_bytes(data, arena_size=int(arena_size))
    except RuntimeError:
        if any(_ARENA_SHORT.search(line) for line in log):
            return None
        raise UnsupportedModel(_failure_reason(log)) from None


def _first_guess(data):
    """An arena that should hold the model: every activation tensor at once plus the flatbuffer's size, twice."""
    graph = read_graph(data)
    return FIRST_ARENA_GUESS + 2 * (sum(_align(t.bytes) for t in graph.activations()) + len(data))


def _working_interpreter(data, name):
    """(interpreter, arena size) for the first arena size, doubling from a generous guess, that allocates the model.

    The guess starts large on purpose: with an arena too small for the persistent section some kernels of this
    TFLite Micro build dereference a buffer they failed to get and crash the process instead of failing cleanly.
    """
    reason = unsupported_reason(data)
    if reason:
        raise UnsupportedModel(reason)
    size = _first_guess(data)
    while (interpreter := _interpreter(data, size)) is None:
        size *= 2
        if size > LARGEST_ARENA:
            raise rc.RunFailed(f"{name}: TFLite Micro could not allocate the model even with a "
                               f"{LARGEST_ARENA >> 20} MiB arena")
    return interpreter, size


_RECORDED = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_RECORDED_PART = re.compile(r"'(.+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+)")


def _recorded_usage(interpreter, name):
    """RecordingMicroAllocator's report: {"total", "head", "tail", "parts": {name: used bytes}}."""
    log = []
    with _captured_stderr(log):
        interpreter.print_allocations()
    usage = {"parts": {}}
    for line in log:
        if m := _RECORDED.search(line):
            usage[m.group(1)] = int(m.group(2))
        elif m := _RECORDED_PART.search(line):
            usage["parts"][m.group(1)] = int(m.group(2))
    if not {"total", "head", "tail"} <= usage.keys():
        raise rc.RunFailed(f"{name}: TFLite Micro printed no arena record (got {len(log)} lines)")
    itemized = sum(usage["parts"].values())
    if usage["tail"] > itemized:
        usage["parts"]["other (interpreter, graph and allocator structs)"] = usage["tail"] - itemized
    return usage


def min_arena(model, verify=True):
    """Smallest tensor arena (bytes) with which TFLite Micro allocates the model, found by bisection.

    A working size W comes from ``_working_interpreter``; its recorded use T (head + tail) is close to the answer,
    so the bisection runs between a failing size below T (T - 1 KiB, lowered while it still works, never below
    the persistent section) and W, down to the boundary: the reported size works, one byte less does not. With
    ``verify`` one inference at that size (zero input) confirms it also runs.
    """
    data, name = model_bytes(model)
    interpreter, hi = _working_interpreter(data, name)
    usage = _recorded_usage(interpreter, name)
    slack = ARENA_SLACK
    while True:
        lo = max(usage["tail"], usage["total"] - slack)
        if lo == usage["tail"] or _interpreter(data, lo) is None:
            break
        hi, slack = lo, slack * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _interpreter(data, mid) is None:
            lo = mid
        else:
            hi = mid
    if verify:
        _invoke_zeros(_interpreter(data, hi), len(read_graph(data).inputs))
    return hi


def _invoke_zeros(interpreter, n_inputs):
    for i in range(n_inputs):
        details = interpreter.get_input_details(i)
        interpreter.set_input(np.zeros(details["shape"], details["dtype"]), i)
    log = []
    try:
        with _captured_stderr(log):
            interpreter.invoke()
    except RuntimeError:
        raise UnsupportedModel(_failure_reason(log)) from None


def arena_usage(model, arena_size):
    """What TFLite Micro's RecordingMicroAllocator reports after one inference with ``arena_size`` bytes.

    Returns {"total", "head", "tail", "parts": {name: used bytes}}: ``head`` is the non-persistent section (the
    planned activation buffers and kernel scratch buffers), ``tail`` the persistent one.
    """
    data, name = model_bytes(model)
    interpreter = _interpreter(data, arena_size)
    if interpreter is None:
        raise rc.UsageError(f"{name}: an arena of {arena_size} bytes is too small for this model")
    _invoke_zeros(interpreter, len(read_graph(data).inputs))
    return _recorded_usage(interpreter, name)


def _io_details(graph, indices):
    return [{"name": graph.tensors[j].name, "shape": list(graph.tensors[j].shape), "dtype": graph.tensors[j].dtype}
            for j in indices]


def measure(model):
    """TFLite Micro's memory figures for one model, plus the analytic counters that explain them.

    Keys: flatbuffer_bytes (flash), arena_bytes (smallest arena that works), activation_bytes (non-persistent
    arena: planned buffers + scratch), persistent_bytes, persistent_parts, operators (execution order),
    inputs/outputs, activation_peak_bytes (DERO's counter), live_peak_bytes (every tensor its own buffer),
    aligned_live_peak_bytes, greedy_plan_bytes (planner replay) and scratch_bytes (activation - plan).
    """
    data, name = model_bytes(model)
    graph = read_graph(data)
    arena = min_arena(data)
    usage = arena_usage(data, arena)
    # The counters handle one subgraph without an offline plan; other models get None there, not an error.
    counted = graph.subgraphs == 1 and not graph.offline_plan
    plan = greedy_plan_bytes(graph) if counted else None
    return {
        "model": name,
        "flatbuffer_bytes": len(data),
        "arena_bytes": arena,
        "arena_recorded_bytes": usage["total"],
        "activation_bytes": usage["head"],
        "persistent_bytes": usage["tail"],
        "persistent_parts": usage["parts"],
        "operators": [op.name for op in graph.ops],
        "inputs": _io_details(graph, graph.inputs),
        "outputs": _io_details(graph, graph.outputs),
        "activation_peak_bytes": activation_peak(graph, "dero").peak_bytes if counted else None,
        "live_peak_bytes": activation_peak(graph, "tflm").peak_bytes if counted else None,
        "aligned_live_peak_bytes": aligned_live_peak(graph) if counted else None,
        "greedy_plan_bytes": plan,
        "scratch_bytes": None if plan is None else usage["head"] - plan,
        "tflite_micro": tflm_version(),
    }


def run(model, inputs, arena_size=None):
    """TFLite Micro outputs (raw dtype, first output tensor) for a batch of raw inputs ``[n, *input_shape]``."""
    data, name = model_bytes(model)
    if arena_size is None:
        interpreter, _ = _working_interpreter(data, name)
    else:
        interpreter = _interpreter(data, arena_size)
    if interpreter is None:
        raise rc.UsageError(f"{name}: an arena of {arena_size} bytes is too small for this model")
    details = interpreter.get_input_details(0)
    shape, dtype = tuple(int(d) for d in details["shape"]), details["dtype"]
    inputs = np.asarray(inputs)
    if inputs.shape[1:] != shape[1:] or inputs.dtype != dtype:
        raise rc.UsageError(f"{name}: inputs of shape {inputs.shape[1:]} {inputs.dtype} do not match the model "
                            f"input {shape[1:]} {np.dtype(dtype)}")
    outputs = []
    log = []
    try:
        with _captured_stderr(log):
            for x in inputs:
                interpreter.set_input(x.reshape(shape), 0)
                interpreter.invoke()
                outputs.append(np.array(interpreter.get_output(0)).reshape(-1))
    except RuntimeError:
        raise UnsupportedModel(_failure_reason(log)) from None
    return np.stack(outputs)


# --------------------------------------------------------------------------------------------- stimuli
def infer_task(rows):
    """The MLPerf Tiny task of an EEMBC label list: 12 classes kws, 10 ic, 2 with windows ad, 2 vww."""
    first = rows[0]
    if first.window_bytes is not None:
        return "ad"
    by_classes = {12: "kws", 10: "ic", 2: "vww"}
    if first.num_classes not in by_classes:
        raise rc.UsageError(f"y_labels.csv lists {first.num_classes} classes, which is none of the MLPerf Tiny "
                            f"tasks (kws 12, ic 10, vww 2, ad 2 with windows); pass --task")
    return by_classes[first.num_classes]


@dataclass
class QuantizedStimuli:
    """EEMBC stimuli as the model's raw (quantized) inputs: ``windows[i]`` is ``[n_windows, *input_shape]``."""

    task: str
    files: list[str]
    labels: np.ndarray
    windows: list[np.ndarray]

    def stacked(self):
        return np.concatenate(self.windows)

    def split(self, outputs):
        """Per-stimulus slices of outputs computed on ``stacked()``."""
        return np.split(outputs, np.cumsum([len(w) for w in self.windows])[:-1])


def _io_quantization(details):
    q = details["quantization_parameters"]
    scale = float(q["scales"][0]) if len(q["scales"]) else 0.0
    zero_point = int(q["zero_points"][0]) if len(q["zero_points"]) else 0
    return {"shape": tuple(int(s) for s in details["shape"]), "dtype": np.dtype(details["dtype"]), "scale": scale,
            "zero_point": zero_point}


def io_details(model):
    """(input, output) of the first input/output tensor: shape, numpy dtype, scale and zero point."""
    data, name = model_bytes(model)
    interpreter, _ = _working_interpreter(data, name)
    return _io_quantization(interpreter.get_input_details(0)), _io_quantization(interpreter.get_output_details(0))


def quantized_stimuli(model, directory, task=None):
    """Every stimulus of an EEMBC folder as ``model``'s raw inputs, read by ``mlperf_tiny.eembc``.

    The reader gives the float model inputs (KWS MFCC, IC pixels 0..255, VWW pixels / 255, AD windows); an integer
    input quantizes them with the model's own scale and zero point (round, clip), as the LiteRT evaluation does,
    so the kws01 int8 bytes come back unchanged for the reference KWS model.
    """
    from types import SimpleNamespace

    from mlperf_tiny import eembc
    from mlperf_tiny.tflite_utils import quantize_input

    rows = eembc.read_labels(directory)
    if not rows:
        raise rc.bad_file(directory, f"{eembc.LABELS_FILE} lists no stimuli")
    task = task or infer_task(rows)
    stimuli = eembc.load_stimuli(directory, task, progress=False)
    inp, _ = io_details(model)
    x = eembc.model_inputs(stimuli, SimpleNamespace(input_shape=inp["shape"]))
    per_file = list(x) if task == "ad" else [np.asarray(v)[None] for v in x]

    def to_input(v):
        v = np.asarray(v, dtype=np.float32)
        if v[0].size != int(np.prod(inp["shape"][1:])):
            raise rc.bad_file(directory, f"{task} stimuli of {v[0].size} values do not fit the model input "
                                         f"{list(inp['shape'])}")
        v = v.reshape((len(v), *inp["shape"][1:]))
        if np.issubdtype(inp["dtype"], np.integer):
            return quantize_input(v, inp["scale"], inp["zero_point"], inp["dtype"])
        return v.astype(inp["dtype"])

    return QuantizedStimuli(task, stimuli.names, stimuli.labels, [to_input(v) for v in per_file])


def stimulus_records(stimuli, outputs_per_file, out_details, in_details):
    """Per stimulus: the raw outputs (when small), top-1 for classifiers, reconstruction error for autoencoders."""
    records = []
    for file, label, windows, outputs in zip(stimuli.files, stimuli.labels, stimuli.windows, outputs_per_file):
        record = {"file": file, "label": int(label), "windows": len(outputs)}
        if outputs.size <= MAX_JSON_OUTPUTS_PER_INPUT:
            record["output"] = outputs.tolist() if len(outputs) > 1 else outputs[0].tolist()
        if stimuli.task == "ad":
            x = (windows.reshape(len(outputs), -1).astype(np.float64) - in_details["zero_point"]) * in_details["scale"]
            y = (outputs.astype(np.float64) - out_details["zero_point"]) * out_details["scale"]
            record["score"] = float(np.mean((x - y) ** 2))
        else:
            record["top1"] = int(np.argmax(outputs.astype(np.float64).mean(axis=0)))
        records.append(record)
    return records


def run_stimuli(model, directory, task=None):
    """TFLite Micro on every stimulus of an EEMBC folder: (stimuli, per-stimulus outputs, per-stimulus records)."""
    data, _ = model_bytes(model)
    stimuli = quantized_stimuli(data, directory, task)
    outputs = stimuli.split(run(data, stimuli.stacked()))
    inp, out = io_details(data)
    return stimuli, outputs, stimulus_records(stimuli, outputs, out, inp)


# ------------------------------------------------------------------------------------ agreement with LiteRT
# LiteRT's kernel sets: its default (the XNNPACK delegate where it applies, what mlperf_tiny's evaluation runs), its
# optimized built-in kernels without that delegate, and its reference kernels (TFLite Micro's kernels descend
# from the latter).
LITERT_KERNELS = {"xnnpack": "AUTO", "builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "reference": "BUILTIN_REF"}


def litert_outputs(model, inputs, kernels="xnnpack"):
    """LiteRT (``ai_edge_litert``) outputs, raw dtype, first output, for a batch of raw inputs."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    data, _ = model_bytes(model)
    interpreter = Interpreter(model_content=data,
                              experimental_op_resolver_type=getattr(OpResolverType, LITERT_KERNELS[kernels]))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results = []
    for x in np.asarray(inputs):
        interpreter.set_tensor(inp["index"], x.reshape(inp["shape"]))
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"]).reshape(-1).copy())
    return np.stack(results)


def _quality(task, records, labels):
    """Top-1 accuracy (fraction) of a classifier, EEMBC AUC of an anomaly detector."""
    if task == "ad":
        from mlperf_tiny.eval_functions_eembc import calculate_ae_auc

        return {"auc": float(calculate_ae_auc(np.array([r["score"] for r in records]), labels))}
    return {"accuracy": float(np.mean(np.array([r["top1"] for r in records]) == labels))}


def compare_with_litert(model, directory, task=None, kernels=tuple(LITERT_KERNELS)):
    """TFLite Micro vs LiteRT on the stimuli of an EEMBC folder, both fed the same quantized inputs.

    Returns the task, stimulus and window counts, TFLite Micro's accuracy (AUC for AD) against the labels, and per
    LiteRT kernel set: the largest output difference in LSB (steps of the output quantization), how many output
    values differ, the share of stimuli with the same top-1 (classifiers) or the largest relative difference of
    the anomaly score (AD), and LiteRT's own accuracy (AUC).
    """
    data, _ = model_bytes(model)
    stimuli, ours_per_file, ours = run_stimuli(data, directory, task)
    inp, out = io_details(data)
    tflm_outputs = np.concatenate(ours_per_file).astype(np.int64)
    result = {"task": stimuli.task, "stimuli": len(stimuli.files), "windows": int(len(tflm_outputs)),
              "tflm": _quality(stimuli.task, ours, stimuli.labels), "litert": {}}
    for kernel_set in kernels:
        reference = litert_outputs(data, stimuli.stacked(), kernel_set)
        theirs = stimulus_records(stimuli, stimuli.split(reference), out, inp)
        diff = np.abs(tflm_outputs - reference.astype(np.int64))
        row = {"max_lsb_diff": int(diff.max()), "values_differing": int((diff > 0).sum()), "values": int(diff.size),
               **_quality(stimuli.task, theirs, stimuli.labels)}
        if stimuli.task == "ad":
            a, b = np.array([r["score"] for r in ours]), np.array([r["score"] for r in theirs])
            row["max_score_rel_diff"] = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
        else:
            row["top1_agreement"] = float(np.mean([r["top1"] == t["top1"] for r, t in zip(ours, theirs)]))
        result["litert"][kernel_set] = row
    return result


# ---------------------------------------------------------------------------- the runs table (make tflm)
# Where the pipelines keep the quality of an int8 file (read from the JSON beside it; see each project.mk):
# (JSON file in the model's folder, dotted key, metric, scale to percent or 1 for AUC).
KNOWN_QUALITY_KEYS = (
    ("metrics.json", "int8_test.accuracy", "top-1 %", 1.0),  # mlperf-kws: eval_quantized_model (percent)
    ("metrics.json", "tflite_int8.accuracy", "top-1 %", 1.0),  # mlperf-ic, mlperf-vww: tflite_test / test_vww
    ("metrics.json", "int8_ToyCar.average.auc", "AUC", 1.0),  # mlperf-ad: 03_tflite_test
    ("result.json", "acc_int8", "top-1 %", 100.0),  # depth-pruning: one cut's run folder (fraction)
)
# Keys of a JSON record that names the .tflite file itself (reds: metrics.json "subnetworks" rows).
REFERENCED_QUALITY_KEYS = (("tflite_accuracy", "top-1 %", 100.0), ("acc_int8", "top-1 %", 100.0))
QUALITY_FILES = ("metrics.json", "result.json", "results.json")
TABLE_COLUMNS = ("model", "project", "precision", "flash_bytes", "arena_bytes", "activation_bytes",
                 "persistent_bytes", "analytic_peak_bytes", "metric", "value", "dataset", "note")


def _dotted(doc, key):
    for part in key.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc if isinstance(doc, int | float) and not isinstance(doc, bool) else None


def _records_naming(doc, file_name):
    """Every dict inside a JSON document with a string value naming ``file_name`` (a path ending in it)."""
    if isinstance(doc, dict):
        if any(isinstance(v, str) and Path(v).name == file_name for v in doc.values()):
            yield doc
        for v in doc.values():
            yield from _records_naming(v, file_name)
    elif isinstance(doc, list):
        for v in doc:
            yield from _records_naming(v, file_name)


def _load_json(path):
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def quality_of(tflite_path, root):
    """(metric, value, dataset, source JSON) of an int8 file from the pipelines' JSON beside it, or Nones.

    First a record that names the file (reds subnetworks), in the file's folder and those above it up to ``root``;
    then the known keys of the JSON in the file's own folder (mlperf tasks, depth-pruning cuts).
    """
    tflite_path, root = Path(tflite_path).resolve(), Path(root).resolve()
    folder = tflite_path.parent
    while True:
        for name in QUALITY_FILES:
            doc = _load_json(folder / name) if (folder / name).is_file() else None
            if doc is None:
                continue
            for record in _records_naming(doc, tflite_path.name):
                for key, metric, scale in REFERENCED_QUALITY_KEYS:
                    if _dotted(record, key) is not None:
                        return metric, record[key] * scale, doc.get("dataset") if isinstance(doc, dict) else None, folder / name
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    for name, key, metric, scale in KNOWN_QUALITY_KEYS:
        doc = _load_json(tflite_path.parent / name) if (tflite_path.parent / name).is_file() else None
        value = _dotted(doc, key) if doc is not None else None
        if value is not None:
            dataset = doc.get("dataset") or next((v.get("dataset") for v in doc.values()
                                                  if isinstance(v, dict) and v.get("dataset")), None)
            return metric, value * scale, dataset, tflite_path.parent / name
    return None, None, None, None


def find_tflite(root, exclude=()):
    """Every .tflite under ``root`` (sorted), skipping temporaries and the folders in ``exclude``."""
    root = Path(root)
    excluded = [Path(e).resolve() for e in exclude]
    found = []
    for path in sorted(root.rglob("*.tflite")):
        resolved = path.resolve()
        if path.name.startswith(".") or any(e == resolved or e in resolved.parents for e in excluded):
            continue
        found.append(path)
    return found


def table_rows(root, exclude=(), progress=True):
    """One row per int8 .tflite under ``root`` (TABLE_COLUMNS), the measurements, and the skipped files."""
    rows, measurements, skipped = [], [], []
    paths = find_tflite(root, exclude)
    if progress and paths:
        from tqdm import tqdm

        paths = tqdm(paths, desc="tflm", unit="model")
    for path in paths:
        relative = path.relative_to(root)
        try:
            kind = precision(path)
        except rc.UsageError as exc:
            skipped.append((str(relative), str(exc)))
            continue
        if kind not in ("int8", "int16"):
            skipped.append((str(relative), f"{kind} model"))
            continue
        row = {c: "" for c in TABLE_COLUMNS}
        row.update(model=str(relative), project=relative.parts[0] if len(relative.parts) > 1 else "", precision=kind)
        metric, value, dataset, source = quality_of(path, root)
        if metric is not None:
            row.update(metric=metric, value=round(float(value), 4), dataset=dataset or "")
        try:
            m = measure(path)
        except UnsupportedModel as exc:
            row.update(flash_bytes=path.stat().st_size, note=f"TFLite Micro cannot run it: {exc}")
            rows.append(row)
            continue
        row.update(flash_bytes=m["flatbuffer_bytes"], arena_bytes=m["arena_bytes"],
                   activation_bytes=m["activation_bytes"], persistent_bytes=m["persistent_bytes"],
                   analytic_peak_bytes="" if m["activation_peak_bytes"] is None else m["activation_peak_bytes"])
        rows.append(row)
        measurements.append({**m, "model": str(relative), "quality_source": str(source) if source else None,
                             "metric": metric, "value": value})
    return rows, measurements, skipped


def plot_arena_vs_quality(rows, png_path, html_path, title):
    """Arena (KiB) against accuracy (and AUC, in a second panel) of the table's rows: PNG and plotly HTML."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    measured = [r for r in rows if r["arena_bytes"] != "" and r["metric"]]
    metrics = sorted({r["metric"] for r in measured}, reverse=True) or ["top-1 %"]
    projects = sorted({r["project"] for r in measured})
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics), 4.5), squeeze=False)
    figure = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    for col, metric in enumerate(metrics):
        ax = axes[0][col]
        for project in projects:
            points = [r for r in measured if r["metric"] == metric and r["project"] == project]
            if not points:
                continue
            x = [r["arena_bytes"] / 1024 for r in points]
            y = [r["value"] for r in points]
            ax.scatter(x, y, label=project or "(root)")
            for r, xi, yi in zip(points, x, y):
                ax.annotate(Path(r["model"]).stem, (xi, yi), fontsize=6, alpha=0.7)
            figure.add_trace(go.Scatter(x=x, y=y, mode="markers", name=f"{project} ({metric})",
                                        text=[r["model"] for r in points],
                                        hovertemplate="%{text}<br>arena %{x:.1f} KiB<br>%{y:.3f}<extra></extra>"),
                             row=1, col=col + 1)
        arenas = [r["arena_bytes"] for r in measured if r["metric"] == metric]
        if arenas and max(arenas) > 10 * min(arenas):  # models from 4 KiB to 1 MiB: a log axis keeps them apart
            ax.set_xscale("log")
            figure.update_xaxes(type="log", row=1, col=col + 1)
        ax.set_xlabel("TFLite Micro arena (KiB, smallest that works)")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if projects:
            ax.legend(fontsize=8)
        figure.update_xaxes(title_text="arena (KiB)", row=1, col=col + 1)
        figure.update_yaxes(title_text=metric, row=1, col=col + 1)
    fig.suptitle(title)
    fig.tight_layout()
    with rc.atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    figure.update_layout(title=title)
    rc.write_text(html_path, figure.to_html(include_plotlyjs=True, full_html=True))


def write_table(root, out_dir, exclude=(), progress=True):
    """``make tflm``: table.csv, tflm.json and the arena-vs-accuracy plot (PNG + HTML) in ``out_dir``.

    Returns (rows, measurements, skipped files); the .tflite files under ``out_dir`` and ``exclude`` are left out.
    """
    root, out_dir = Path(root), Path(out_dir)
    rows, measurements, skipped = table_rows(root, exclude=[out_dir, *exclude], progress=progress)
    if not rows:
        raise rc.RunFailed(f"no int8 .tflite under {root} ({len(skipped)} other .tflite skipped): run the pipelines "
                           f"first (e.g. make MINI=1 mlperf-kws)")
    mini = any(r["dataset"] == "mini" for r in rows) or any(part.startswith("mini") for part in root.parts)
    title = f"TFLite Micro arena vs accuracy{' (mini data)' if mini else ''}"
    rc.write_csv(out_dir / "table.csv", rows, fieldnames=TABLE_COLUMNS)
    rc.write_json(out_dir / "tflm.json", {"root": str(root), "tflite_micro": tflm_version(), "models": measurements,
                                          "skipped": [{"model": m, "reason": r} for m, r in skipped]})
    plot_arena_vs_quality(rows, out_dir / "arena_vs_accuracy.png", out_dir / "arena_vs_accuracy.html", title)
    return rows, measurements, skipped


def explain_lines(results):
    """The decomposition of each model's arena, from the analytic counter to TFLite Micro's figure (bytes)."""
    header = ("model", "DERO counter", "every tensor", "+16B align", "greedy plan", "activations", "persistent",
              "arena", "recorded", "flash")
    keys = ("activation_peak_bytes", "live_peak_bytes", "aligned_live_peak_bytes", "greedy_plan_bytes",
            "activation_bytes", "persistent_bytes", "arena_bytes", "arena_recorded_bytes", "flatbuffer_bytes")
    width = max([len(header[0])] + [len(Path(m["model"]).name) for m in results])
    lines = [f"{header[0]:<{width}} " + " ".join(f"{h:>13}" for h in header[1:])]
    for m in results:
        cells = [f"{m[k]:>13,}" if isinstance(m[k], int) else f"{'-':>13}" for k in keys]
        lines.append(f"{Path(m['model']).name:<{width}} " + " ".join(cells))
    return lines


# ------------------------------------------------------------------------------------------------- CLI
def _summary_line(m):
    ops = Counter(m["operators"])
    op_text = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in ops.items())
    return (f"{m['model']}: arena {m['arena_bytes']:,} B (activations {m['activation_bytes']:,} + persistent "
            f"{m['persistent_bytes']:,}), flash {m['flatbuffer_bytes']:,} B, analytic peak "
            f"{m['activation_peak_bytes'] or 0:,} B; {len(m['operators'])} ops: {op_text}")


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(
        description="TFLite Micro arena (smallest that works, by bisection), flash and operators of .tflite models; "
                    "with --inputs their outputs on EEMBC stimuli; with --scan the table of every int8 model of a "
                    "runs folder (make tflm).", add_help=add_help)
    parser.add_argument("models", nargs="*", type=rc.existing_file("TFLite model"), metavar="MODEL.tflite",
                        help="int8 (or float) TFLite flatbuffers")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write every figure (and the outputs with --inputs) as JSON to FILE (atomically)")
    parser.add_argument("--inputs", type=rc.existing_dir("stimulus directory"), default=None, metavar="DIR",
                        help="EEMBC stimuli (*.bin + y_labels.csv, read by mlperf_tiny.eembc) to run through each "
                             "model; the outputs go to the JSON report")
    parser.add_argument("--task", choices=("kws", "ic", "vww", "ad"), default=None,
                        help="task of the --inputs stimuli (default: from y_labels.csv: 12 classes kws, 10 ic, "
                             "2 vww, 2 with windows ad)")
    parser.add_argument("--litert", action="store_true",
                        help="with --inputs: also run LiteRT (XNNPACK, built-in and reference kernels) on the same "
                             "inputs and report top-1 agreement and the largest output difference in LSB")
    parser.add_argument("--explain", action="store_true",
                        help="print how each arena decomposes: DERO's analytic counter, every tensor its own "
                             "buffer, 16-byte alignment, the greedy planner, scratch, persistent")
    parser.add_argument("--scan", type=rc.existing_dir("runs folder"), default=None, metavar="RUNS",
                        help="measure every int8 .tflite under RUNS and write table.csv, tflm.json and the "
                             "arena-vs-accuracy plot (PNG, HTML) to --table_dir")
    parser.add_argument("--table_dir", type=Path, default=None, metavar="DIR",
                        help="output folder of --scan (default: RUNS/tflm)")
    parser.add_argument("--exclude", type=Path, action="append", default=[], metavar="DIR",
                        help="with --scan: skip the .tflite files under DIR (repeatable; e.g. runs/mini for a full run)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def _check_args(args):
    rc.check(args.models or args.scan is not None, "name at least one MODEL.tflite, or a runs folder with --scan")
    rc.check(not (args.models and args.scan is not None), "give MODEL.tflite files or --scan RUNS, not both")
    rc.check(args.task is None or args.inputs is not None, "--task describes the --inputs stimuli: pass --inputs")
    rc.check(not args.litert or args.inputs is not None, "--litert compares outputs on stimuli: pass --inputs")
    rc.check((args.table_dir is None and not args.exclude) or args.scan is not None,
             "--table_dir and --exclude belong to --scan: pass --scan")
    rc.check(args.scan is None or not (args.inputs or args.json),
             "--scan writes its own table and JSON (tflm.json); --inputs and --json apply to MODEL.tflite files")
    for flag, path in (("--json", args.json), ("--table_dir", args.table_dir)):
        if path is not None and path.exists():
            rc.check(path.is_dir() == (flag == "--table_dir"),
                     f"{flag} {path}: is a {'file' if flag == '--table_dir' else 'directory'}, expected a "
                     f"{'folder' if flag == '--table_dir' else 'file name'}")


def _measure_cli(path, args):
    try:
        result = measure(path)
        if args.inputs is not None:
            _, _, records = run_stimuli(path, args.inputs, args.task)
            result.update(stimuli_dir=str(args.inputs), stimuli=records)
            if args.litert:
                result["litert"] = compare_with_litert(path, args.inputs, args.task)
    except UnsupportedModel as exc:
        raise rc.bad_file(path, f"TFLite Micro cannot run this model: {exc}") from None
    return result


def _print_stimuli(result, directory):
    records = result["stimuli"]
    quality = (f", top-1 accuracy {np.mean([r['top1'] == r['label'] for r in records]):.2%}"
               if "top1" in records[0] else "")
    print(f"    {len(records)} stimuli from {directory}{quality}")
    for kernels, row in result.get("litert", {}).get("litert", {}).items():
        agreement = (f"top-1 agreement {row['top1_agreement']:.2%}" if "top1_agreement" in row
                     else f"anomaly score within {row['max_score_rel_diff']:.2e} (relative)")
        print(f"    vs LiteRT {kernels}: {agreement}, largest output difference {row['max_lsb_diff']} LSB "
              f"({row['values_differing']:,} of {row['values']:,} values differ)")


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    _check_args(args)
    if args.scan is not None:
        out_dir = args.table_dir or args.scan / "tflm"
        rows, measurements, skipped = write_table(args.scan, out_dir, exclude=args.exclude,
                                                  progress=not args.no_progress)
        if args.explain:
            print("\n".join(explain_lines(measurements)))
        failed = sum(bool(r["note"]) for r in rows)
        print(f"tflm: {len(rows)} int8 models under {args.scan} ({failed} not runnable by TFLite Micro, "
              f"{len(skipped)} float/hybrid files skipped) -> {out_dir}/table.csv, arena_vs_accuracy.png/.html")
        return 0
    results = []
    for path in args.models:
        result = _measure_cli(path, args)
        results.append(result)
        print(_summary_line(result))
        if args.inputs is not None:
            _print_stimuli(result, args.inputs)
    if args.explain:
        print("\n".join(explain_lines(results)))
    if args.json is not None:
        rc.write_json(args.json, {"tflite_micro": tflm_version(), "models": results})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    rc.entry(main)

"""int8 latency of every file of the comparison in the LiteRT interpreter on this CPU, batch 1, one thread.

All files are timed together, round-robin: each round invokes every interpreter once (the starting file rotates
from round to round), so a change of machine load while timing (the machine is shared) lands on every point alike
instead of on whichever point happened to be measured then. Per file: median, 10th and 90th percentile of the
single-invoke times (the spread). Inputs are held fixed (a zero tensor at the input's zero point): these dense
int8 kernels do the same work for any input values.
"""

import time
from pathlib import Path

import numpy as np

THREADS = 1  # the comparison is per core; multi-threaded kernels would mix in the machine's load twice


def _interpreter(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=THREADS)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        zero_point = detail["quantization"][1] if np.issubdtype(detail["dtype"], np.integer) else 0
        interpreter.set_tensor(detail["index"], np.full(detail["shape"], zero_point, dtype=detail["dtype"]))
    return interpreter


def time_files(paths, runs, warmup, progress=True):
    """{path: {"median_ms", "p10_ms", "p90_ms", "mean_ms", "runs"}} of single invokes, interleaved."""
    from tqdm import tqdm

    paths = [str(p) for p in dict.fromkeys(str(p) for p in paths)]
    interpreters = [_interpreter(p) for p in paths]
    for interpreter in interpreters:
        for _ in range(warmup):
            interpreter.invoke()
    times = [[] for _ in paths]
    for round_index in tqdm(range(runs), desc="latency", unit="round", disable=not progress):
        start = round_index % len(paths)
        for i in [*range(start, len(paths)), *range(start)]:
            t0 = time.perf_counter_ns()
            interpreters[i].invoke()
            times[i].append((time.perf_counter_ns() - t0) / 1e6)
    return {path: {"median_ms": float(np.median(t)), "p10_ms": float(np.percentile(t, 10)),
                   "p90_ms": float(np.percentile(t, 90)), "mean_ms": float(np.mean(t)), "runs": len(t)}
            for path, t in zip(paths, times)}


def row_latency(row, timings):
    """A row's latency from its files' timings: sum of weight x figure (an early-exit pair: part 1 always, part 2
    with weight 1 - exit rate, i.e. the expected latency per sample at that threshold)."""
    out = {}
    for key in ("median_ms", "p10_ms", "p90_ms"):
        out[f"latency_{key}"] = float(sum(w * timings[str(Path(p))][key]
                                          for p, w in zip(row["tflite"], row["latency_weights"])))
    out["latency_runs"] = min(timings[str(Path(p))]["runs"] for p in row["tflite"])
    return out

"""Evaluate a model on an EEMBC energyrunner test folder, as the MLPerf Tiny benchmark runner scores it.

    python -m mlperf_tiny.eembc --task kws --model kws_ref_model.tflite --data eembc/kws01 [--json FILE]

A folder holds ``y_labels.csv`` (``file,n_classes,label``; AD: ``file,2,label,window_bytes,stride_bytes`` with
0 = normal, 1 = anomaly) and one raw ``.bin`` per stimulus. What one ``.bin`` holds, recognised from its size:

| task | bytes | content | model input (float) |
|---|---|---|---|
| kws | 490 | 49x10 MFCC as the int8 input of ``kws_ref_model.tflite`` (``kws01``) | dequantized MFCC |
| kws | 32,000 | 16,000 int16 samples at 16 kHz (``kws01-open/td_samples``) | our MFCC front end (49x10x1) |
| ic | 3,072 | 32x32x3 uint8, interleaved RGB | pixels 0..255 |
| vww | 27,648 | 96x96x3 uint8 RGB | pixels / 255 (one luminance channel for a 96x96x1 model) |
| ad | 4 x k | float32 log-mel frames (128 mels); windows of ``window_bytes`` every ``stride_bytes`` | the windows (640) |

The model is a Keras .h5/.keras, a SavedModel folder or a .tflite (float or int8: int8 inputs are quantized with
the model's own scale and zero point), loaded by ``mlperf_tiny.model_io``. Classification tasks report top-1
accuracy (percent), the EEMBC one-vs-rest AUC and per-class counts; AD scores each file by the mean squared
reconstruction error over its windows and reports the AUC as v0.5's ``eval_functions_eembc.calculate_ae_auc``
(plus sklearn's). The readers (``read_labels``, ``iter_stimuli``, ``load_stimuli``) are public: trecx reuses them.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

LABELS_FILE = "y_labels.csv"
TASKS = ("kws", "ic", "vww", "ad")
# kws01: make_bin_files.py quantized the MFCCs with kws_ref_model.tflite's input parameters (x / scale + zp, cast
# to int8); this is how the set's bytes map back to MFCC values.
KWS01_INPUT_SCALE = 0.5847029089927673
KWS01_ZERO_POINT = 83
KWS_SAMPLES = 16000
AD_MELS = 128
AD_WINDOW_FLOATS = 640  # 5 frames x 128 mels: the autoencoder's input
PROGRESS_MIN_STIMULI = 100  # a progress bar past this many stimuli
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CLASS_NAMES = {
    "kws": ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown"),
    "ic": CIFAR10_CLASSES,
    "vww": ("non_person", "person"),
    "ad": ("normal", "anomaly"),
}
# task -> {bytes per .bin: (format name, numpy dtype, sample shape)}; AD's size is given per row (windows).
FORMATS = {
    "kws": {490: ("int8_mfcc", np.int8, (49, 10, 1)), 2 * KWS_SAMPLES: ("int16_audio", np.dtype("<i2"), (KWS_SAMPLES,))},
    "ic": {32 * 32 * 3: ("rgb_uint8", np.uint8, (32, 32, 3))},
    "vww": {96 * 96 * 3: ("rgb_uint8", np.uint8, (96, 96, 3))},
}
DATA_HINT = ("an EEMBC energyrunner folder holds y_labels.csv and the .bin files it lists (e.g. "
             "../shared/fidelity/eembc/kws01, or the datasets/ folder of eembc/energyrunner)")


@dataclass(frozen=True)
class LabelRow:
    """One line of ``y_labels.csv``."""

    file: str
    num_classes: int
    label: int
    window_bytes: int | None = None
    stride_bytes: int | None = None


@dataclass
class StimulusSet:
    """The stimuli of a folder: rows, raw decoded arrays, the float model inputs and the format name."""

    data_dir: Path
    task: str
    rows: list
    raw: list  # per stimulus: int8 (49,10,1) / int16 (16000,) / uint8 (h,w,3) / AD float32 windows (n, 640)
    x: object  # float inputs: one array (N, ...) for classification, a list of (n_windows, 640) arrays for AD
    format: str

    @property
    def labels(self):
        return np.array([row.label for row in self.rows], dtype=np.int64)

    @property
    def names(self):
        return [row.file for row in self.rows]


def read_labels(data_dir):
    """The rows of ``<data_dir>/y_labels.csv`` (one-line ``rc.UsageError`` for a missing or malformed file)."""
    data_dir = rc.require_dir(data_dir, "EEMBC data folder", DATA_HINT)
    path = rc.require_file(data_dir / LABELS_FILE, "EEMBC label file", DATA_HINT)
    rows = []
    with open(path, newline="") as f:
        for number, fields in enumerate(csv.reader(f), start=1):
            fields = [field.strip() for field in fields]
            if not any(fields):
                continue
            if len(fields) not in (3, 5):
                raise rc.bad_file(path, f"line {number} has {len(fields)} fields; expected file,n_classes,label "
                                        f"(AD: file,2,label,window_bytes,stride_bytes)", DATA_HINT)
            try:
                numbers = [int(value) for value in fields[1:]]
            except ValueError:
                raise rc.bad_file(path, f"line {number}: {','.join(fields[1:])} are not integers", DATA_HINT) from None
            num_classes, label = numbers[:2]
            if not 0 <= label < num_classes:
                raise rc.bad_file(path, f"line {number}: label {label} is not in [0, {num_classes})", DATA_HINT)
            rows.append(LabelRow(fields[0], num_classes, label, *numbers[2:]))
    return rows


def _check_rows(path, rows, task):
    """Refuse label rows that do not fit ``task`` (class count, window columns)."""
    expected = len(CLASS_NAMES[task])
    for row in rows:
        if row.num_classes != expected:
            raise rc.bad_file(path, f"{row.file} has {row.num_classes} classes, but {task} has {expected}: not a "
                                    f"{task} set")
        if (row.window_bytes is None) != (task != "ad"):
            need = "window_bytes,stride_bytes columns" if task == "ad" else "no window columns"
            raise rc.bad_file(path, f"{row.file}: a {task} set has {need}: not a {task} set")
        if task == "ad" and (row.window_bytes != 4 * AD_WINDOW_FLOATS or row.stride_bytes <= 0
                             or row.stride_bytes % 4):
            raise rc.bad_file(path, f"{row.file}: window {row.window_bytes} / stride {row.stride_bytes} bytes; the "
                                    f"autoencoder takes windows of {4 * AD_WINDOW_FLOATS} bytes (640 float32) with "
                                    f"a stride of whole floats", DATA_HINT)


def _stimulus_format(path, size, task):
    if task == "ad":
        return "float32_logmel", np.dtype("<f4"), None
    formats = FORMATS[task]
    if size not in formats:
        fits = " or ".join(f"{n:,} ({formats[n][0]})" for n in formats)
        raise rc.bad_file(path, f"{size:,} bytes do not fit the {task} task, whose stimuli have {fits} bytes",
                          DATA_HINT)
    return formats[size]


def read_stimulus(data_dir, row, task):
    """(format name, raw decoded array) of one listed ``.bin``; AD: its (windows, 640) float32 windows."""
    path = Path(data_dir) / row.file
    if not path.is_file():
        raise rc.bad_file(Path(data_dir) / LABELS_FILE, f"lists {row.file}, which is not in {data_dir}", DATA_HINT)
    data = path.read_bytes()
    name, dtype, shape = _stimulus_format(path, len(data), task)
    if task != "ad":
        return name, np.frombuffer(data, dtype=dtype).reshape(shape)
    if len(data) < row.window_bytes or (len(data) - row.window_bytes) % row.stride_bytes:
        raise rc.bad_file(path, f"{len(data):,} bytes do not hold whole windows of {row.window_bytes} bytes every "
                                f"{row.stride_bytes} bytes (y_labels.csv)", DATA_HINT)
    floats = np.frombuffer(data, dtype=dtype)
    window, stride = row.window_bytes // 4, row.stride_bytes // 4
    starts = range(0, len(floats) - window + 1, stride)
    return name, np.stack([floats[s : s + window] for s in starts])


def iter_stimuli(data_dir, task, rows=None):
    """Yield ``(row, format name, raw array)`` for every row of ``y_labels.csv`` (or ``rows``), checked."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    rows = read_labels(data_dir) if rows is None else rows
    _check_rows(Path(data_dir) / LABELS_FILE, rows, task)
    for row in rows:
        name, raw = read_stimulus(data_dir, row, task)
        yield row, name, raw


def kws_mfcc_of_audio(audio):
    """[N, 16000] int16 clips -> [N, 49, 10, 1] float MFCCs through our v0.5 front end (eval preprocessing)."""
    import tensorflow as tf

    from mlperf_tiny.keyword_spotting import get_dataset, kws_util

    flags = kws_util.parse_command([])
    dataset = tf.data.Dataset.from_tensor_slices({"audio": np.asarray(audio, dtype=np.int16),
                                                  "label": np.zeros(len(audio), np.int64)})
    features, _ = get_dataset.features_of(flags, dataset)
    return features


def dequantize_kws01(q):
    """int8 kws01 bytes -> the MFCC values they quantize (inverse of make_bin_files.py)."""
    return (np.asarray(q, dtype=np.float32) - KWS01_ZERO_POINT) * np.float32(KWS01_INPUT_SCALE)


def to_float_inputs(task, fmt, raw):
    """The float model inputs of a list of raw arrays of one format."""
    if task == "ad":
        return [np.asarray(windows, dtype=np.float32) for windows in raw]
    stacked = np.stack(raw)
    if fmt == "int8_mfcc":
        return dequantize_kws01(stacked)
    if fmt == "int16_audio":
        return kws_mfcc_of_audio(stacked)
    if task == "vww":
        return stacked.astype(np.float32) / 255.0
    return stacked.astype(np.float32)  # IC: raw 0..255, as the reference model was trained


def load_stimuli(data_dir, task, progress=None):
    """Every stimulus of an EEMBC folder as a ``StimulusSet`` (one format per folder)."""
    data_dir = Path(data_dir)
    rows = read_labels(data_dir)
    if not rows:
        raise rc.RunFailed(f"{data_dir / LABELS_FILE} lists no stimuli: nothing to evaluate")
    from tqdm import tqdm

    show = progress if progress is not None else len(rows) > PROGRESS_MIN_STIMULI
    kept_rows, raws, formats = [], [], set()
    for row, fmt, raw in tqdm(iter_stimuli(data_dir, task, rows), total=len(rows), desc="reading", unit="stimulus",
                              disable=not show):
        kept_rows.append(row)
        raws.append(raw)
        formats.add(fmt)
    if len(formats) > 1:
        raise rc.bad_file(data_dir, f"mixes stimulus formats ({', '.join(sorted(formats))}); one format per folder",
                          DATA_HINT)
    (fmt,) = formats
    return StimulusSet(data_dir, task, kept_rows, raws, to_float_inputs(task, fmt, raws), fmt)


def grayscale(rgb_images):
    """uint8 RGB images -> one luminance channel as PIL's ``convert("L")`` (what VWW's grayscale variant trains on)."""
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(np.asarray(image, np.uint8)).convert("L"))[..., None]
                     for image in rgb_images])


def model_inputs(stimuli, model):
    """The stimuli's float inputs adapted to the model: one gray channel for a 96x96x1 VWW model."""
    if stimuli.task == "vww" and tuple(model.input_shape)[-1] == 1:
        return grayscale(stimuli.raw).astype(np.float32) / 255.0
    return stimuli.x


def _single_output(model):
    if len(model.output_shapes) != 1:
        raise rc.bad_file(model.path, f"has {len(model.output_shapes)} outputs; this evaluator scores single-output "
                                      f"models (early-exit models: python -m trecx.eembc)")


def evaluate_classifier(model, stimuli, progress=None):
    """Accuracy (percent), EEMBC AUC, per-class counts and per-stimulus predictions of a classifier."""
    from mlperf_tiny import eval_functions_eembc as eembc

    _single_output(model)
    names = CLASS_NAMES[stimuli.task]
    outputs = int(np.prod(model.output_shapes[0]))
    if outputs != len(names):
        raise rc.bad_file(model.path, f"has {outputs} outputs, but the {stimuli.task} set has {len(names)} classes")
    show = progress if progress is not None else len(stimuli.rows) > PROGRESS_MIN_STIMULI
    probabilities = np.asarray(model.predict(model_inputs(stimuli, model), progress=show), dtype=np.float64)
    labels = stimuli.labels
    predicted = probabilities.argmax(axis=1)
    per_class = {}
    for index, name in enumerate(names):
        mask = labels == index
        per_class[name] = {"n": int(mask.sum()), "correct": int((predicted[mask] == index).sum())}
    return {
        "accuracy": eembc.calculate_accuracy(probabilities, labels),
        "auc": float(np.mean(eembc.calculate_auc(probabilities, labels, len(names)))),
        "per_class": per_class,
        "predictions": [{"file": row.file, "label": row.label, "predicted": int(p)}
                        for row, p in zip(stimuli.rows, predicted)],
    }


def anomaly_scores(model, windows_per_file, progress=False):
    """Mean squared reconstruction error over each file's windows (the v0.5 AD score)."""
    counts = [len(w) for w in windows_per_file]
    windows = np.concatenate(windows_per_file)
    reconstruction = np.asarray(model.predict(windows, batch_size=512, progress=progress), dtype=np.float64)
    errors = np.mean(np.square(windows.astype(np.float64) - reconstruction), axis=1)
    bounds = np.cumsum([0, *counts])
    return np.array([errors[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])])


def evaluate_anomaly_detector(model, stimuli, progress=None):
    """EEMBC AUC (v0.5 ``calculate_ae_auc``), sklearn AUC, AE accuracies and per-file scores of an autoencoder."""
    from sklearn.metrics import roc_auc_score

    from mlperf_tiny import eval_functions_eembc as eembc

    _single_output(model)
    show = progress if progress is not None else len(stimuli.rows) > PROGRESS_MIN_STIMULI
    scores = anomaly_scores(model, stimuli.x, progress=show)
    labels = stimuli.labels
    both = len(set(labels.tolist())) == 2
    return {
        "auc": eembc.calculate_ae_auc(scores, labels),
        "sklearn_auc": float(roc_auc_score(labels, scores)) if both else None,
        "ae_accuracy": eembc.calculate_ae_accuracy(scores, labels),
        "ae_pr_accuracy": eembc.calculate_ae_pr_accuracy(scores, labels),
        "per_class": {name: {"n": int((labels == i).sum())} for i, name in enumerate(CLASS_NAMES["ad"])},
        "predictions": [{"file": row.file, "label": row.label, "score": float(s)}
                        for row, s in zip(stimuli.rows, scores)],
    }


def evaluate(model, stimuli, progress=None):
    """The result dict of ``model`` (a ``model_io.LoadedModel``) on ``stimuli`` (a ``StimulusSet``)."""
    body = (evaluate_anomaly_detector if stimuli.task == "ad" else evaluate_classifier)(model, stimuli, progress)
    return {"task": stimuli.task, "model": str(model.path), "model_kind": model.kind,
            "input_dtype": np.dtype(model.input_dtype).name, "num_params": model.num_params,
            "data": str(stimuli.data_dir), "data_format": stimuli.format, "n": len(stimuli.rows), **body}


def summary_line(result):
    if result["task"] == "ad":
        return (f"ad: EEMBC AUC {result['auc']:.4f} (sklearn {result['sklearn_auc'] or float('nan'):.4f}) on "
                f"{result['n']} files of {result['data']} ({Path(result['model']).name})")
    correct = sum(c["correct"] for c in result["per_class"].values())
    return (f"{result['task']}: accuracy {result['accuracy']:.2f}% ({correct}/{result['n']}), EEMBC AUC "
            f"{result['auc']:.4f} on {result['data']} ({result['data_format']}; {Path(result['model']).name})")


IDENTITY = ("task", "model", "data")


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Evaluate a model on an EEMBC energyrunner folder (y_labels.csv + .bin)",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("--task", required=True, choices=TASKS, help="kws, ic, vww or ad")
    parser.add_argument("--model", required=True, help="Keras .h5/.keras, SavedModel folder or .tflite (float/int8)")
    parser.add_argument("--data", required=True, help="EEMBC folder: y_labels.csv plus one .bin per stimulus")
    parser.add_argument("--json", default=None, help="write the result (task, model, data, n, accuracy or auc, "
                                                     "per-class counts, per-stimulus predictions) to this file")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a --json file that holds the result of another model, data or task")
    return parser


def _check_json_target(path, result_identity, overwrite):
    """Refuse to replace a JSON result of another (task, model, data) unless --overwrite."""
    path = Path(path)
    if overwrite or not path.exists():
        return
    try:
        old = json.loads(path.read_text())
        old_identity = {key: old.get(key) for key in IDENTITY}
    except (OSError, ValueError, AttributeError):
        raise rc.UsageError(f"{path}: exists and is not a result of this command; pass --overwrite to replace it, "
                            f"or another --json file") from None
    differing = [f"{key} {old_identity[key]!r} there, {result_identity[key]!r} now" for key in IDENTITY
                 if old_identity[key] != result_identity[key]]
    if differing:
        raise rc.UsageError(f"{path} holds another result ({'; '.join(differing)}); pass --overwrite to replace it, "
                            f"or another --json file")


@rc.command
def main(argv=None):
    from mlperf_tiny import model_io

    args = get_args_parser().parse_args(argv)
    if args.json:
        _check_json_target(args.json, {"task": args.task, "model": str(Path(args.model)), "data": str(Path(args.data))},
                           args.overwrite)
    rows = read_labels(args.data)  # a bad folder is reported before the model is loaded
    if not rows:
        raise rc.RunFailed(f"{Path(args.data) / LABELS_FILE} lists no stimuli: nothing to evaluate")
    _check_rows(Path(args.data) / LABELS_FILE, rows, args.task)
    model = model_io.check_model_task(model_io.load_model(args.model), args.task)
    stimuli = load_stimuli(args.data, args.task, progress=False if args.no_progress else None)
    result = evaluate(model, stimuli, progress=False if args.no_progress else None)
    result.update({"model": str(Path(args.model)), "data": str(Path(args.data))})
    print(summary_line(result))
    if args.json:
        rc.write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    rc.entry(main)

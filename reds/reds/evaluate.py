"""Evaluate a pretrained REDS starting point, or every nested subnetwork of a REDS run, without training data.

    python -m reds.evaluate --dataset speech_commands --architecture_name ds_cnn --model_sizes s \\
        --pretrained_weights models/ds_cnn_s/ckpt --data_dir ../shared/fidelity/eembc/kws01-open/td_samples
    python -m reds.evaluate --dataset fashion_mnist --pretrained_weights fashion_mnist_ds_cnn_sizeS.keras \\
        --data_dir /usr/share/datasets/fashion-mnist --json result.json
    python -m reds.evaluate --dataset fashion_mnist --pretrained_weights runs/reds/vision_ds_convolution_fashion_mnist \\
        --data_dir data/fashion_mnist

``--pretrained_weights``: ARM's checkpoint folder or prefix (``ds_cnn_0.94_ckpt``), a Keras ``.h5``/``.keras``
(``{size}`` is replaced by each of ``--model_sizes``), or a REDS run folder (the ``--out_dir`` of a REDS script):
then every finished run in it is evaluated, each nested subnetwork at its knapsack widths with the run's final
weights, and the run's own data flags (front end, labels, flatten slicing) replace this command's.

``--data_dir`` holds only test data: for KWS a Speech Commands test folder (``<label>/*.wav``, the
``speech_commands_test_set_v0.02`` layout, or a folder holding it) or an EEMBC ``td_samples`` folder
(``y_labels.csv`` + 16,000-sample int16 ``.bin`` clips; its labels are the kit's indices, mapped to ours by
name); for Fashion-MNIST / MNIST the ``t10k-*-idx*-ubyte.gz`` files; for CIFAR-10 the ``test_batch`` pickle
or an EEMBC ``ic01`` folder (interleaved RGB uint8 images, normalised as the REDS script does).
The KWS features are this project's REDS front end (``--front_end``, default ARM's). Prints one line per
(sub)network; ``--json`` gets ``n`` and ``accuracy`` (percent) per (sub)network and overall.
"""

import json
import pickle
import sys
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

from reds import pipeline

DATASETS = ("speech_commands", "fashion_mnist", "cifar10", "mnist")
EEMBC_LABEL_NAMES = {"silence": "_silence_", "unknown": "_unknown_"}  # kit class names -> ours
FINAL_PHASES = ("batch_norm", "joint")  # the last phase a run trained decides its final weights


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description=__doc__.splitlines()[0], add_help=add_help)
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--architecture_name", default="ds_cnn", choices=["dnn", "cnn", "ds_cnn"],
                   help="KWS architecture (vision: the DS-CNN S of the shipped models)")
    p.add_argument("--model_sizes", default="s", help="comma list of s,m,l ('{size}' in --pretrained_weights)",
                   type=pipeline.comma_list(str, "model sizes", lambda v: v in pipeline.MODEL_SIZES, " (s, m, l)"))
    p.add_argument("--pretrained_weights", required=True,
                   help="checkpoint (ARM ckpt folder or prefix, .h5/.keras) or a REDS run folder")
    p.add_argument("--data_dir", required=True, help="test data (see the module help)")
    p.add_argument("--json", default=None, help="write the result here (n and accuracy per (sub)network)")
    p.add_argument("--batch_size", type=rc.positive_int, default=1000)
    p.add_argument("--max_samples", type=rc.positive_int, default=None, help="evaluate the first N test samples only")
    g = p.add_argument_group("KWS front end and classes (the REDS scripts' flags; a run folder brings its own)")
    g.add_argument("--wanted_words", default=pipeline.COMMON_DEFAULTS["wanted_words"])
    g.add_argument("--label_order", default="arm", choices=["arm", "mlperf"])
    g.add_argument("--front_end", default="arm", choices=["arm", "mlperf"])
    g.add_argument("--window_size_ms", type=rc.positive_float, default=40.0)
    g.add_argument("--window_stride_ms", type=rc.positive_float, default=None,
                   help="default: 40 ms for the DNN, 20 ms otherwise (ARM's train_commands.txt)")
    g.add_argument("--dct_coefficient_count", type=rc.positive_int, default=10)
    return p


def settings_namespace(args):
    """A pipeline-style namespace of the data flags (a REDS run folder's args.json, or this command's)."""
    import argparse

    values = dict(pipeline.COMMON_DEFAULTS)
    values.update({k: v for k, v in vars(args).items() if v is not None and k != "max_samples"})
    if args.window_stride_ms is None:
        values["window_stride_ms"] = 40.0 if args.architecture_name == "dnn" else 20.0
    values.update(channel_aware_flatten_slice=False, bn_mode="frozen_stats")
    return argparse.Namespace(**values)


# ------------------------------------------------------------------------------------------------- test data


def _kws_test_folder(data_dir):
    from mlperf_tiny.keyword_spotting.get_dataset import TEST_DIR

    return data_dir / TEST_DIR if (data_dir / TEST_DIR).is_dir() else data_dir


def kws_test_data(settings, data_dir):
    """(features, labels in ``settings.labels`` order, source description) of a KWS test folder."""
    from reds.utils import datasets

    names = settings.labels
    index = {name: i for i, name in enumerate(names)}
    if (data_dir / "y_labels.csv").is_file():
        from mlperf_tiny import eembc

        rows, audio = [], []
        for row, fmt, raw in eembc.iter_stimuli(data_dir, "kws"):
            if fmt != "int16_audio":
                raise rc.bad_file(data_dir / row.file, "holds MFCCs of the MLPerf front end (kws01), not audio; REDS "
                                                       "needs raw clips (kws01-open/td_samples)")
            rows.append(row)
            audio.append(raw)
        kit_names = [EEMBC_LABEL_NAMES.get(n, n) for n in eembc.CLASS_NAMES["kws"]]
        labels = np.array([index.get(kit_names[row.label], index[datasets.UNKNOWN_LABEL]) for row in rows])
        return datasets.waveform_features(settings, np.stack(audio)), labels, "EEMBC td_samples"
    from mlperf_tiny.keyword_spotting.get_dataset import read_wav

    folder = _kws_test_folder(data_dir)
    wavs = sorted(folder.glob("*/*.wav"))
    if not wavs:
        raise rc.UsageError(f"{data_dir}: no <label>/*.wav clips and no EEMBC y_labels.csv; pass a Speech Commands "
                            f"test folder (speech_commands_test_set_v0.02) or an EEMBC td_samples folder")
    entries = datasets.relabel([(str(p.relative_to(folder)), None) for p in wavs], names)
    audio = np.zeros((len(wavs), settings.sample_rate), np.int16)
    for i, path in enumerate(wavs):
        try:
            clip = read_wav(path)[: settings.sample_rate]
        except ValueError as err:
            raise rc.bad_file(path, str(err).split(". ")[0]) from None
        audio[i, : len(clip)] = clip
    return datasets.waveform_features(settings, audio), np.array([label for _, label in entries]), "wav folder"


def vision_test_data(dataset, data_dir):
    """(images as the REDS scripts feed them, labels, source description) of a vision test set."""
    from reds.utils import datasets

    if dataset == "cifar10" and (data_dir / "y_labels.csv").is_file():
        from mlperf_tiny import eembc

        rows, images = zip(*[(row, raw) for row, _, raw in eembc.iter_stimuli(data_dir, "ic")])
        mean, std = np.array(datasets.CIFAR10_MEAN, np.float32), np.array(datasets.CIFAR10_STD, np.float32)
        x = ((np.stack(images).astype(np.float32) / 255.0 - mean) / std).astype(np.float32)
        return x, np.array([row.label for row in rows], np.int64), "EEMBC ic01"
    if dataset == "cifar10":
        path = rc.require_file(data_dir / "test_batch", "CIFAR-10 test batch",
                               "pass the cifar-10-batches-py folder")
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            images = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            labels = np.asarray(batch[b"labels"], np.int64)
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as err:
            raise rc.bad_file(path, f"not a CIFAR-10 python batch ({err})") from None
        mean, std = np.array(datasets.CIFAR10_MEAN, np.float32), np.array(datasets.CIFAR10_STD, np.float32)
        return ((images.astype(np.float32) / 255.0 - mean) / std).astype(np.float32), labels, "test_batch"
    hint = "pass the folder of t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
    images_path = rc.require_file(data_dir / "t10k-images-idx3-ubyte.gz", f"{dataset} test images", hint)
    labels_path = rc.require_file(data_dir / "t10k-labels-idx1-ubyte.gz", f"{dataset} test labels", hint)
    images = datasets._read_idx(images_path, 2051, 3)
    labels = datasets._read_idx(labels_path, 2049, 1).astype(np.int64)
    if len(images) != len(labels):
        raise rc.bad_file(labels_path, f"{len(labels)} labels for {len(images)} images")
    return (images[..., None] / 255.0).astype(np.float32), labels, "idx files"


def test_data(settings_args, data_dir):
    data_dir = rc.require_dir(data_dir, "test data folder")
    if settings_args.dataset == "speech_commands":
        return kws_test_data(pipeline.speech_settings(settings_args), data_dir)
    return vision_test_data(settings_args.dataset, data_dir)


# --------------------------------------------------------------------------------------------------- models


def builder(settings_args, size, input_shape):
    from mlperf_tiny.registry import get_model_builder

    if settings_args.dataset == "speech_commands":
        name = f"reds_{settings_args.architecture_name}_{size}"
    else:
        name = "reds_vision_mnist_ds_cnn_s" if settings_args.dataset == "mnist" else "reds_vision_ds_cnn_s"
    build = get_model_builder(name)
    classes = len(pipeline.class_names(settings_args))
    return lambda widths=None: build(widths=widths, input_shape=input_shape, num_classes=classes)


def accuracy_rows(model, x, y, batch_size):
    """[{"n", "accuracy"}] per output of ``model`` (a plain model or a nested ``RedsModel``)."""
    from reds.utils import forward

    return [{"n": len(y), "correct": correct, "accuracy": 100.0 * correct / len(y)}
            for correct, _ in forward._eval_sums(model, x, y, batch_size)]


def evaluate_checkpoint(args, settings_args, x, y):
    from mlperf_tiny.counting import count_macs

    from reds.utils import checkpoints

    results = []
    for size in args.model_sizes.split(","):
        model = builder(settings_args, size, x.shape[1:])()
        kind, path = checkpoints.load_pretrained(model, args.pretrained_weights, size)
        if kind == "tf_checkpoint" and settings_args.dataset == "speech_commands":
            wrong = [f"--{flag} {getattr(args, flag)}" for flag in ("label_order", "front_end")
                     if getattr(args, flag) != "arm"]
            rc.check(not wrong, f"{path}: ARM's checkpoints were trained with ARM's label order and front end; "
                                f"{' and '.join(wrong)} would score them on other labels/features")
        (row,) = accuracy_rows(model, x, y, args.batch_size)
        results.append({"size": size, "weights": str(path), "weights_kind": kind, "model": model.name,
                        "params": int(model.count_params()), "macs": int(count_macs(model)), **row})
    return results


def run_settings(run_dir):
    """The namespace of a REDS run folder's args.json."""
    import argparse

    record = rc.require_file(Path(run_dir) / "args.json", "REDS run record")
    try:
        values = json.loads(record.read_text())
    except ValueError as err:
        raise rc.bad_file(record, f"unreadable ({err})") from None
    values = {k: v for k, v in values.items() if not k.startswith("_")}
    return argparse.Namespace(**dict(pipeline.COMMON_DEFAULTS, **values))


def final_weights(run_dir):
    for phase in FINAL_PHASES:
        path = run_dir / f"{phase}_resume.h5"
        if path.is_file():
            return phase, path
    return None, None


def run_bn_statistics(run_dir, nested, settings_args):
    """The per-subnetwork BN statistics a ``--bn_mode per_subnet_*`` run used: its ``bn_statistics.npz``, or (runs
    made before that file) recomputed as the pipeline does, from the first training images of the run's data."""
    path = run_dir / pipeline.BN_STATISTICS_FILE
    if path.is_file():
        return pipeline.bn_statistics_of(pipeline._load_arrays(path), len(nested.plans))
    try:
        train_x = pipeline.load_data(settings_args, cache_dir=run_dir.parents[2] / "feature_cache")["train"][0]
    except rc.UsageError as err:
        raise rc.UsageError(f"{run_dir}: per-subnetwork BN statistics ({settings_args.bn_mode}) are not saved and "
                            f"its training data is not readable to recompute them ({err})") from None
    nested.recalibrate_batch_norm(train_x[: settings_args.bn_recalibration_samples])
    return nested.bn_statistics


def nested_run_model(run_dir, settings_args, input_shape):
    """One run of a REDS run folder as a nested model: its final fine-tuned weights at its knapsack widths, with
    the run's own BN statistics where it had them. Returns (nested model, widths, knapsack record, phase, weights
    file), or None before fine-tuning started."""
    from reds.utils.reds_model import RedsModel, subnetwork_widths

    phase, weights = final_weights(run_dir)
    if weights is None:
        return None
    model = builder(settings_args, run_dir.parent.name, input_shape)()
    try:
        model.load_weights(str(weights))
    except (ValueError, OSError, KeyError) as err:
        raise rc.bad_file(weights, f"does not fit {model.name} ({' '.join(str(err).split())[:160]})") from None
    knapsack = json.loads((run_dir / "knapsack.json").read_text())
    full = tuple(model.get_layer(n).output_shape[-1] for n in knapsack["width_layers"])
    widths = [full] + [tuple(r["widths"]) for r in knapsack["results"]]
    nested = RedsModel(model, subnetwork_widths(model, widths), settings_args.channel_aware_flatten_slice)
    if settings_args.bn_mode != "frozen_stats" and settings_args.architecture_name != "dnn":
        nested.set_bn_statistics(run_bn_statistics(run_dir, nested, settings_args))
    return nested, widths, knapsack, phase, weights


def evaluate_run_folder(args, settings_args, x, y):
    """Every finished run of a REDS run folder: each nested subnetwork at its knapsack widths."""
    out_dir = Path(args.pretrained_weights)
    results = []
    for knapsack_file in sorted(out_dir.glob("*/run*/knapsack.json")):
        run_dir = knapsack_file.parent
        loaded = nested_run_model(run_dir, settings_args, x.shape[1:])
        if loaded is None:
            continue  # knapsack solved, fine-tuning not started: nothing trained to evaluate
        nested, widths, knapsack, phase, weights = loaded
        labels = ["100%"] + [f"{p:.0%}" for p in knapsack["percentages"]]
        rows = accuracy_rows(nested, x, y, args.batch_size)
        results.append({"size": run_dir.parent.name, "run": run_dir.name, "weights": str(weights), "phase": phase,
                        "model": nested.base.name,
                        "subnetworks": [{"subnetwork": label, "widths": list(w), **row}
                                        for label, w, row in zip(labels, widths, rows)]})
    if not results:
        raise rc.RunFailed(f"{out_dir}: no run with a knapsack and fine-tuned weights (*/run*/knapsack.json and "
                           f"joint_resume.h5 / batch_norm_resume.h5): nothing to evaluate")
    return results


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    is_run_folder = (Path(args.pretrained_weights) / "args.json").is_file()
    if is_run_folder:
        settings_args = run_settings(args.pretrained_weights)
        rc.check(settings_args.dataset == args.dataset,
                 f"{args.pretrained_weights} is a {settings_args.dataset} run, not {args.dataset}")
    else:
        settings_args = settings_namespace(args)
        try:
            pipeline.class_names(settings_args)  # --wanted_words
        except ValueError as err:
            raise rc.UsageError(str(err)) from None
    x, y, source = test_data(settings_args, Path(args.data_dir))
    if args.max_samples:
        x, y = x[: args.max_samples], y[: args.max_samples]
    if len(y) == 0:
        raise rc.RunFailed(f"{args.data_dir}: no test samples: nothing to evaluate")
    models = (evaluate_run_folder if is_run_folder else evaluate_checkpoint)(args, settings_args, x, y)
    for entry in models:
        for row in entry.get("subnetworks", [entry]):
            label = f" {row['subnetwork']}" if "subnetwork" in row else ""
            print(f"{entry['model']}{' ' + entry['run'] if 'run' in entry else ''}{label}: accuracy "
                  f"{row['accuracy']:.2f}% ({row['correct']}/{row['n']}) on {args.data_dir} ({source})")
    rows = [row for entry in models for row in entry.get("subnetworks", [entry])]
    result = {"dataset": args.dataset, "data_dir": str(args.data_dir), "data_source": source, "n": len(y),
              "accuracy": rows[0]["accuracy"], "models": models,
              "class_names": pipeline.class_names(settings_args)}
    if args.json:
        rc.write_json(args.json, result)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    rc.entry(main)

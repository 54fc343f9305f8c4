"""Evaluate a trained ResNet-8 on the CIFAR-10 test set, EEMBC style (v0.5 ``test.py``).

    python -m mlperf_tiny.image_classification.test --model_path runs/ic/trainedResnet.h5 --data_dir ...

``--data_dir`` needs only ``test_batch`` (``batches.meta`` optional), or may be an EEMBC folder (``y_labels.csv``
+ 32x32x3 ``.bin`` files, e.g. ``ic01``). The model may be any file ``mlperf_tiny.model_io`` loads (.h5, SavedModel,
.tflite). Writes ``keras_float_metrics.json`` (top-1 accuracy, EEMBC AUC, per-class figures), the confusion matrix
and ROC PNGs into ``--out_dir`` (default ``runs/eval/ic/<model name>``, never the model's own folder) and merges the
figures into its ``metrics.json``. Reference (Silicon Labs): 86.2% float, AUC 0.989.
"""

from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.image_classification.train import (
    MODEL_FILE_NAME,
    dataset_label,
    label_names_str,
    load_cifar_10_test,
)

EVAL_BATCH_SIZE = 256
IDENTITY = ("model_path", "data_dir")
MODEL_HINT = "train one first (python -m mlperf_tiny.image_classification.train, or `make mlperf-ic`)"


def load_model(model_path):
    """The Keras model at ``model_path``; a missing, broken or non-IC file is a one-line error."""
    from mlperf_tiny import model_io

    model = model_io.check_model_task(model_io.load_model(model_path, MODEL_HINT), "ic")
    if model.keras_model is None:
        raise rc.bad_file(model_path, f"is a {model.kind} model; a Keras model (.h5 or SavedModel) is needed here")
    return model.keras_model


def evaluation_images(data_dir, dataset_name=None):
    """(float images 0..255, integer labels, class names, dataset label, split) of a CIFAR-10 folder (test_batch)
    or an EEMBC folder."""
    from mlperf_tiny import eembc

    if (Path(data_dir) / eembc.LABELS_FILE).is_file():
        stimuli = eembc.load_stimuli(data_dir, "ic")
        names = list(eembc.CLASS_NAMES["ic"])
        return stimuli.x, stimuli.labels, names, dataset_name or "eembc_ic01", "eembc"
    images, one_hot, label_names, _ = load_cifar_10_test(data_dir)
    return (images.astype(np.float32), one_hot.argmax(axis=1), label_names_str(label_names),
            dataset_label(data_dir, dataset_name), "test")


def add_output_args(parser):
    from mlperf_tiny.run_utils import add_eval_output_args

    add_eval_output_args(parser, "ic")
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini, cifar10 or eembc)")


def get_args_parser(add_help=True):
    parser = rc.ArgumentParser(description="Evaluate ResNet-8 on the CIFAR-10 test set",
                               add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_path", default=f"trained_models/{MODEL_FILE_NAME}")
    parser.add_argument("--data_dir", default="cifar-10-batches-py",
                        help="folder with test_batch (CIFAR-10 python version) or an EEMBC folder (y_labels.csv)")
    add_output_args(parser)
    return parser


def evaluate(args):
    from mlperf_tiny import model_io
    from mlperf_tiny.eval_functions_eembc import classification_report
    from mlperf_tiny.run_utils import claim_eval_dir, default_eval_dir

    model = model_io.check_model_task(model_io.load_model(args.model_path, MODEL_HINT), "ic")
    images, labels, names, dataset, split = evaluation_images(args.data_dir, args.dataset_name)
    out_dir = Path(args.out_dir) if args.out_dir else default_eval_dir("ic", args.model_path)
    claim_eval_dir(out_dir, "keras_float", args, IDENTITY, args.overwrite)
    probabilities = model.predict(images, batch_size=EVAL_BATCH_SIZE)
    metrics = classification_report(
        probabilities, labels, names, out_dir, "keras_float",
        extra={"dataset": dataset, "model": str(args.model_path), "split": split, "model_kind": model.kind},
        title_suffix=" (mini data)" if dataset == "mini" else "")
    print(f"Keras float: accuracy {metrics['accuracy']:.2f}%, EEMBC AUC {metrics['auc']:.4f} "
          f"on {metrics['num_samples']} {dataset} {split} images -> {out_dir}")
    return metrics


@rc.command
def main(argv=None):
    evaluate(get_args_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    rc.entry(main)

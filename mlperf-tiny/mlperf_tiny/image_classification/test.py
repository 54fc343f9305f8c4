"""Evaluate a trained ResNet-8 (Keras .h5) on the CIFAR-10 test set, EEMBC style (v0.5 ``test.py``).

    python -m mlperf_tiny.image_classification.test --model_path runs/ic/trainedResnet.h5 --data_dir ...

Writes ``keras_float_metrics.json`` (top-1 accuracy, EEMBC AUC, per-class figures), the confusion matrix and
ROC PNGs beside the model and merges the figures into its ``metrics.json``. Reference (Silicon Labs): 86.2%
float, AUC 0.989.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.image_classification.train import (
    MODEL_FILE_NAME,
    DatasetError,
    dataset_label,
    label_names_str,
    load_cifar_10_data,
)
from mlperf_tiny.run_utils import run_cli

EVAL_BATCH_SIZE = 256


def load_model(model_path):
    import tensorflow as tf

    model_path = Path(model_path)
    if not model_path.exists():
        raise FileNotFoundError(f"no model at {model_path}: train one first (python -m "
                                f"mlperf_tiny.image_classification.train, or `make mlperf-ic`)")
    return tf.keras.models.load_model(str(model_path))


def get_args_parser(add_help=True):
    parser = argparse.ArgumentParser(description="Evaluate ResNet-8 on the CIFAR-10 test set",
                                     add_help=add_help, allow_abbrev=False)
    parser.add_argument("--model_path", default=f"trained_models/{MODEL_FILE_NAME}")
    parser.add_argument("--data_dir", default="cifar-10-batches-py")
    parser.add_argument("--out_dir", default=None, help="where metrics/plots go (default: the model's folder)")
    parser.add_argument("--dataset_name", default=None, help="label for metrics (default: mini or cifar10)")
    return parser


def evaluate(args):
    from mlperf_tiny.eval_functions_eembc import classification_report

    _, _, _, test_data, _, test_labels, label_names = load_cifar_10_data(args.data_dir)
    model = load_model(args.model_path)
    probabilities = model.predict(test_data.astype(np.float32), batch_size=EVAL_BATCH_SIZE, verbose=0)
    dataset = dataset_label(args.data_dir, args.dataset_name)
    out_dir = Path(args.out_dir or Path(args.model_path).parent)
    metrics = classification_report(
        probabilities, test_labels, label_names_str(label_names), out_dir, "keras_float",
        extra={"dataset": dataset, "model": str(args.model_path), "split": "test"},
        title_suffix=" (mini data)" if dataset == "mini" else "")
    print(f"Keras float: accuracy {metrics['accuracy']:.2f}%, EEMBC AUC {metrics['auc']:.4f} "
          f"on {metrics['num_samples']} {dataset} test images")
    return metrics


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return run_cli(evaluate, args, user_errors=(DatasetError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate a trained (float) KWS model (v0.5 ``evaluate.py``): Keras accuracy, EEMBC accuracy and AUC.

Reads ``--saved_model_path`` (or ``--model_init_path``: .h5, SavedModel folder, or any model ``model_io`` loads)
and measures ``--target_set``. ``--target_set test`` needs only the test split (the test tarball or tfds' test
split); ``--data_dir`` may also be an EEMBC folder (``y_labels.csv`` + ``.bin``: ``kws01`` int8 MFCCs or
``td_samples`` audio). Writes ``float_<set>_metrics.json``, ``float_<set>_confusion.png`` and ``float_<set>_roc.png``
into ``--out_dir`` (default ``runs/eval/kws/<model name>``, never the model's own folder) and merges the numbers
into its ``metrics.json``. v0.5 passed 11 label names for 12 classes; all 12 are used here.
"""

from pathlib import Path

import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.keyword_spotting import kws_util

IDENTITY = ("model", "data_dir", "target_set", "num_test_samples", "num_val_samples", "feature_type",
            "window_size_ms", "window_stride_ms", "dct_coefficient_count", "num_mel_bins")


def get_args_parser(add_help=True):
    from mlperf_tiny.run_utils import add_eval_output_args

    parser = kws_util.get_args_parser(add_help=add_help)
    add_eval_output_args(parser, "kws")
    return parser


def evaluation_set(Flags, model=None):  # noqa: N803
    """(float inputs, labels, dataset label) of the set to measure: an EEMBC folder or ``--target_set``."""
    from mlperf_tiny import eembc
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    if (Path(Flags.data_dir) / eembc.LABELS_FILE).is_file():
        stimuli = eembc.load_stimuli(Flags.data_dir, "kws")
        x = eembc.model_inputs(stimuli, model) if model is not None else stimuli.x
        return x, stimuli.labels, f"eembc_{stimuli.format}"
    features, labels = kws_data.get_eval_arrays(Flags, Flags.target_set)
    return features, labels, "mini" if kws_data.is_mini(Flags) else "speech_commands_v0.02"


def report(Flags, probabilities, labels, dataset, tag, model_path, extra):  # noqa: N803
    """EEMBC report of ``probabilities`` into the claimed output folder; prints the one-line summary."""
    from mlperf_tiny import eval_functions_eembc as eembc
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.run_utils import claim_eval_dir, default_eval_dir

    out_dir = Path(Flags.out_dir) if Flags.out_dir else default_eval_dir("kws", model_path)
    claim_eval_dir(out_dir, tag, {**vars(Flags), "model": str(model_path)}, IDENTITY, Flags.overwrite)
    metrics = eembc.classification_report(
        probabilities, labels, kws_data.WORD_LABELS, out_dir, tag,
        extra={"dataset": dataset, "model": str(model_path), **extra},
        title_suffix=" (mini data)" if dataset == "mini" else "")
    print(f"{tag}: accuracy {metrics['accuracy']:.2f}%  EEMBC AUC {metrics['auc']:.4f} on {len(labels)} clips "
          f"({dataset}) -> {out_dir}")
    return metrics


@rc.command
def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806
    from mlperf_tiny import model_io

    model_path = Flags.model_init_path or Flags.saved_model_path
    hint = "train one first (python -m mlperf_tiny.keyword_spotting.train, or `make mlperf-kws`)"
    model = model_io.check_model_task(model_io.load_model(model_path, hint), "kws")
    features, labels, dataset = evaluation_set(Flags, model)
    probabilities = model.predict(features, batch_size=Flags.batch_size)
    target = "eembc" if dataset.startswith("eembc") else Flags.target_set
    report(Flags, probabilities, labels, dataset, f"float_{target}", model_path,
           {"model_kind": model.kind, "input_dtype": "float32" if not model.is_int8 else "int8"})
    return 0


if __name__ == "__main__":
    rc.entry(main)

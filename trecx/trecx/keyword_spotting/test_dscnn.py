"""Evaluate trained T-RECX / baseline DS-CNN models on the Speech Commands test set (original ``test_dscnn.py``).

    python -m trecx.keyword_spotting.test_dscnn --data_dir data/ --out_dir runs/trecx/kws [--tflite]

For each model found under --out_dir: standalone accuracy of every exit, per-sample traces
(``trace_data/trace_data_model_<name>_ee.json`` / ``_ef.json``), the rho sweep (``score >= rho``; ``--strict_exit``
for the original ``>``), the 1/2/3-point trade-offs against the plain DS-CNN trained by ``train_dscnn
--model_architecture ds_cnn --model_save_name kws_ref_model``, and ``results/Fig4b.png`` (EV vs no EV),
``results/Fig6.png`` (EV vs EE-fmaps concat), ``results/Fig7b.png`` (T-RECX vs SDN vs BranchyNet). The original
dropped the last partial batch (4,800 of 4,890 clips); every test clip is used here.
"""

import argparse
import sys

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

# run folder name -> (architecture, label in plots); the names the original download_speech_cmd_train.sh used.
MODELS = {
    "model_with_ev_assist": ("ds_cnn_ev", "T-RECX (EE + EV)"),
    "model_without_ev_assist": ("ds_cnn_noev", "EE, no EV"),
    "model_eefmaps_concat": ("ds_cnn_eefmaps_concat", "EE-fmaps concat"),
    "model_sdn": ("ds_cnn_sdn", "SDN"),
    "model_branchynet": ("ds_cnn_branchynet", "BranchyNet"),
}
BASELINE = ("kws_ref_model", "ds_cnn")
FIGURES = {"Fig4b": ("model_with_ev_assist", "model_without_ev_assist"),
           "Fig6": ("model_with_ev_assist", "model_eefmaps_concat"),
           "Fig7b": ("model_with_ev_assist", "model_sdn", "model_branchynet")}
PAPER_BASELINE = {"accuracy": 0.922, "mflops": 5.54}  # Config.py: unmodified DS-CNN on Speech Commands v2


def get_args_parser(add_help=True):
    from mlperf_tiny.keyword_spotting import kws_util

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False,
                                     parents=[kws_util.get_args_parser(add_help=False)], conflict_handler="resolve")
    parser.add_argument("--out_dir", default="trained_models", help="folder holding the run folders of train_dscnn")
    parser.add_argument("--strict_exit", action="store_true", help="exit when score > rho (original code)")
    parser.add_argument("--tflite", action="store_true",
                        help="also export T-RECX as two int8 TFLite parts and report the measured dynamic-exit run")
    return parser


def evaluate(Flags):  # noqa: N803 (v0.5 name)
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    from trecx import helpers

    x_test, y_test = kws_data.get_eval_arrays(Flags, "test")
    dataset = "mini" if kws_data.is_mini(Flags) else "speech_commands_v0.02"
    return helpers.evaluate_task(Flags.out_dir, x_test, y_test.astype(int), MODELS, BASELINE, FIGURES,
                                 "DS-CNN / Speech Commands", dataset, len(kws_data.LABELS),
                                 strict=Flags.strict_exit, tflite=Flags.tflite, calibration=x_test[:100])


def main(argv=None):
    from mlperf_tiny.keyword_spotting.get_dataset import DatasetLayoutError

    Flags = get_args_parser().parse_args(argv)  # noqa: N806
    try:
        evaluate(Flags)
    except (DatasetLayoutError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate trained T-RECX / baseline DS-CNN models on the Speech Commands test set (original ``test_dscnn.py``).

    python -m trecx.keyword_spotting.test_dscnn --data_dir data/ --out_dir runs/trecx/kws [--tflite]

For each model found under --out_dir: standalone accuracy of every exit, per-sample traces
(``trace_data/trace_data_model_<name>_ee.json`` / ``_ef.json``), the rho sweep (``score >= rho``; ``--strict_exit``
for the original ``>``), the 1/2/3-point trade-offs against the plain DS-CNN trained by ``train_dscnn
--model_architecture ds_cnn --model_save_name kws_ref_model``, and ``results/Fig4b.png`` (EV vs no EV),
``results/Fig6.png`` (EV vs EE-fmaps concat), ``results/Fig7b.png`` (T-RECX vs SDN vs BranchyNet). The original
dropped the last partial batch (4,800 of 4,890 clips); every test clip is used here. When no early-exit model is
trained the run fails (exit 1) and writes nothing.

Data: the test split alone is enough (the test tarball, or tfds' test split); ``--data_dir`` may also be an EEMBC
energyrunner folder (``y_labels.csv`` + .bin: the int8 MFCCs of ``kws01`` or the audio of ``kws01-open/td_samples``).
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import run_contract as rc

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

    from trecx import helpers

    parser = rc.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=add_help, allow_abbrev=False,
                               parents=[kws_util.get_args_parser(add_help=False)], conflict_handler="resolve")
    helpers.test_flags(parser)
    return parser


def load_test_set(Flags):  # noqa: N803 (v0.5 name)
    """(features, labels, dataset label, what the set is)."""
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    from trecx import helpers

    eembc = helpers.eembc_test_set(Flags.data_dir, "kws")
    if eembc is not None:
        x, y, dataset, test_set = eembc
        if Flags.num_test_samples > 0:
            x, y = x[: Flags.num_test_samples], y[: Flags.num_test_samples]
            test_set += f", first {len(y)}"
        return x, y, dataset, test_set
    x, y = kws_data.get_eval_arrays(Flags, "test")
    dataset = "mini" if kws_data.is_mini(Flags) else "speech_commands_v0.02"
    first = f", first {len(y)}" if Flags.num_test_samples > 0 else ""
    return x, y.astype(int), dataset, f"Speech Commands test split of {Flags.data_dir}{first}"


def evaluate(Flags):  # noqa: N803 (v0.5 name)
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data

    from trecx import helpers

    x_test, y_test, dataset, test_set = load_test_set(Flags)
    return helpers.evaluate_task(Flags, x_test, y_test, MODELS, BASELINE, FIGURES, "DS-CNN / Speech Commands",
                                 dataset, test_set, len(kws_data.LABELS), calibration=x_test[:100])


@rc.command
def main(argv=None):
    return evaluate(get_args_parser().parse_args(argv))


if __name__ == "__main__":
    rc.entry(main)

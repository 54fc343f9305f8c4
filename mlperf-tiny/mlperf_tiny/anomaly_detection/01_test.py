"""Score the test clips with the trained Keras autoencoder (v0.5 ``01_test.py --dev``): per-id AUC and pAUC
(sklearn, max_fpr 0.1) plus the EEMBC AE metrics, written to result_directory (CSV, JSON, ROC PNG).

Only ``<machine>/test/`` is needed. ``--dev_directory`` may also be an EEMBC folder (``y_labels.csv`` + the ad01
log-mel ``.bin`` windows): the model is then scored on it (``float_<machine>_eembc_metrics.json``).
"""

from pathlib import Path

import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.anomaly_detection import _scoring, common

IDENTITY = ("model_directory", "dev_directory", "machine_type", "feature", "max_fpr")
MACHINE_TYPE_OF_EEMBC = "ToyCar"  # ad01 is ToyCar


def get_args_parser(add_help=True):
    return common.command_line_chk("score test clips with the Keras autoencoder (01_test.py)")


def identity_args(args, param):
    return {**vars(args), **{key: param[key] for key in ("model_directory", "dev_directory", "feature", "max_fpr")}}


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    from mlperf_tiny import model_io
    from mlperf_tiny.run_utils import claim_eval_dir

    param = common.resolve_config(args)
    mini = common.is_mini(args, param)
    result_dir = Path(param["result_directory"])
    hint = "train one first (python -m mlperf_tiny.anomaly_detection.00_train, or `make mlperf-ad`)"
    if common.is_eembc_dir(param):
        machine = args.machine_type or MACHINE_TYPE_OF_EEMBC
        model_file = Path(param["model_directory"]) / f"model_{machine}.hdf5"
        model = model_io.check_model_task(model_io.load_model(model_file, hint), "ad")
        tag = f"float_{machine}_eembc"
        claim_eval_dir(result_dir, tag, identity_args(args, param), IDENTITY, args.overwrite)
        _scoring.score_eembc(model, param["dev_directory"], tag, result_dir, mini)
        return 0
    for machine_dir in common.select_dirs(param, machine_type=args.machine_type, split="test"):
        model_file = Path(param["model_directory"]) / f"model_{machine_dir.name}.hdf5"
        model = model_io.check_model_task(model_io.load_model(model_file, hint), "ad")
        tag = f"float_{machine_dir.name}"
        claim_eval_dir(result_dir, tag, identity_args(args, param), IDENTITY, args.overwrite)
        scored = _scoring.score_machine(machine_dir, param, lambda v, m=model: m.predict(v, batch_size=512), tag,
                                        result_dir, mini)
        _scoring.write_results(scored, result_dir, tag, mini)
    return 0


if __name__ == "__main__":
    rc.entry(main)

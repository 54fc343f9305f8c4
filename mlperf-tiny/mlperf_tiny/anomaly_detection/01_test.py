"""Score the test clips with the trained Keras autoencoder (v0.5 ``01_test.py --dev``): per-id AUC and pAUC
(sklearn, max_fpr 0.1) plus the EEMBC AE metrics, written to result_directory (CSV, JSON, ROC PNG)."""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from pathlib import Path

from mlperf_tiny.anomaly_detection import _scoring, common


def get_args_parser(add_help=True):
    return common.command_line_chk("score test clips with the Keras autoencoder (01_test.py)")


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    from mlperf_tiny.anomaly_detection import keras_model

    param = common.resolve_config(args)
    mini = common.is_mini(args, param)
    results = {}
    for machine_dir in common.select_dirs(param, machine_type=args.machine_type):
        model_file = Path(param["model_directory"]) / f"model_{machine_dir.name}.hdf5"
        if not model_file.exists():
            raise FileNotFoundError(f"no trained model {model_file}: run 00_train.py first")
        model = keras_model.load_model(str(model_file))
        tag = f"float_{machine_dir.name}"
        scored = _scoring.score_machine(machine_dir, param, lambda v: model.predict(v, batch_size=512, verbose=0),
                                        tag, param["result_directory"], mini)
        results[machine_dir.name] = _scoring.write_results(scored, param["result_directory"], tag, mini)
    return results


if __name__ == "__main__":
    main()

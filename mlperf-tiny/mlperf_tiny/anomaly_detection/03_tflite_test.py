"""Score the test clips with the TFLite autoencoders (v0.5 ``03_tflite_test.py --dev``), float and int8.

Inputs are quantized with the model's input scale/zero point (rounded and clipped, as the TFLite quantize op
does) and outputs dequantized; one vector per invoke as on the device. Results go to result_directory with
the tags ``tflite_float_<machine>`` and ``int8_<machine>``. Only ``<machine>/test/`` is needed; ``--dev_directory``
may be an EEMBC folder (ad01). A variant whose file is missing is skipped with a message; none at all is a failure.
"""

import importlib
from pathlib import Path

import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.anomaly_detection import _scoring, common

VARIANTS = {"tflite_float": "model_{}.tflite", "int8": "model_{}_quant_fullint_micro_intio.tflite"}
test_stage = importlib.import_module("mlperf_tiny.anomaly_detection.01_test")


def get_args_parser(add_help=True):
    parser = common.command_line_chk("score test clips with the TFLite autoencoders (03_tflite_test.py)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=sorted(VARIANTS),
                        help="which TFLite files to evaluate")
    return parser


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    from mlperf_tiny import model_io
    from mlperf_tiny.run_utils import claim_eval_dir

    param = common.resolve_config(args)
    mini = common.is_mini(args, param)
    result_dir = Path(param["result_directory"])
    eembc_data = common.is_eembc_dir(param)
    machines = ([args.machine_type or test_stage.MACHINE_TYPE_OF_EEMBC] if eembc_data else
                [d.name for d in common.select_dirs(param, machine_type=args.machine_type, split="test")])
    evaluated = 0
    for machine in machines:
        for variant in args.variants:
            path = Path(param["model_directory"]) / VARIANTS[variant].format(machine)
            if not path.exists():
                print(f"skipping {variant} for {machine}: no {path} (run 02_convert.py)")
                continue
            model = model_io.check_model_task(model_io.load_model(path), "ad")
            tag = f"{variant}_{machine}" + ("_eembc" if eembc_data else "")
            claim_eval_dir(result_dir, tag, {**test_stage.identity_args(args, param), "model": str(path)},
                           (*test_stage.IDENTITY, "model"), args.overwrite)
            if eembc_data:
                _scoring.score_eembc(model, param["dev_directory"], tag, result_dir, mini)
            else:
                machine_dir = Path(param["dev_directory"]) / machine
                scored = _scoring.score_machine(machine_dir, param, model.predict, tag, result_dir, mini)
                scored["size_bytes"] = model.size_bytes
                _scoring.write_results(scored, result_dir, tag, mini)
            evaluated += 1
    if not evaluated:
        raise rc.RunFailed(f"no TFLite model to evaluate in {param['model_directory']} (variants "
                           f"{', '.join(args.variants)}); run 02_convert.py first")
    return 0


if __name__ == "__main__":
    rc.entry(main)

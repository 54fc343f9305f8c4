"""Score the test clips with the TFLite autoencoders (v0.5 ``03_tflite_test.py --dev``), float and int8.

Inputs are quantized with the model's input scale/zero point (rounded and clipped, as the TFLite quantize op
does) and outputs dequantized; one vector per invoke as on the device. Results go to result_directory with
the tags ``tflite_float_<machine>`` and ``int8_<machine>``.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from pathlib import Path

from mlperf_tiny.anomaly_detection import _scoring, common

VARIANTS = {"tflite_float": "model_{}.tflite", "int8": "model_{}_quant_fullint_micro_intio.tflite"}


def get_args_parser(add_help=True):
    parser = common.command_line_chk("score test clips with the TFLite autoencoders (03_tflite_test.py)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=sorted(VARIANTS),
                        help="which TFLite files to evaluate")
    return parser


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    from mlperf_tiny.tflite_utils import TFLiteModel

    param = common.resolve_config(args)
    mini = common.is_mini(args, param)
    results = {}
    for machine_dir in common.select_dirs(param, machine_type=args.machine_type):
        for variant in args.variants:
            path = Path(param["model_directory"]) / VARIANTS[variant].format(machine_dir.name)
            if not path.exists():
                raise FileNotFoundError(f"no TFLite model {path}: run 02_convert.py first")
            tflite = TFLiteModel(model_path=path)
            tag = f"{variant}_{machine_dir.name}"
            scored = _scoring.score_machine(machine_dir, param, tflite.predict, tag, param["result_directory"], mini)
            results[tag] = _scoring.write_results(scored, param["result_directory"], tag, mini)
            results[tag]["size_bytes"] = tflite.size_bytes
    return results


if __name__ == "__main__":
    main()

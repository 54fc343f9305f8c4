"""int8 post-training quantization of a trained KWS model (v0.5 ``quantize.py``).

Full-integer TFLite with int8 input and output, calibrated on the 120-clip calibration subset of the
validation split (``--cal_idxs_file`` = the reference ``quant_cal_idxs.txt``; otherwise 10 clips per class drawn
with seed 2 and written beside the model). Reads ``--saved_model_path``, writes ``--tfl_file_name`` plus
``quantize.json`` (size, input/output quantization), ``quant_cal_idxs.txt`` and ``quantize_args.json`` next to it.
Every file is written atomically; the .tflite is written last (make's "quantization done" marker).
"""

from pathlib import Path

import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.keyword_spotting import kws_util

IDENTITY = ("saved_model_path", "tfl_file_name", "data_dir", "cal_idxs_file", "num_mel_bins", "window_size_ms",
            "window_stride_ms", "dct_coefficient_count", "feature_type")


def get_args_parser(add_help=True):
    parser = kws_util.get_args_parser(add_help=add_help)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a .tflite quantized from another model or data in the same folder")
    return parser


@rc.command
def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806
    from mlperf_tiny import model_io
    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.run_utils import claim_eval_dir
    from mlperf_tiny.tflite_utils import TFLiteModel, convert_to_tflite, save_tflite

    hint = "train one first (python -m mlperf_tiny.keyword_spotting.train, or `make mlperf-kws`)"
    model = model_io.check_model_task(model_io.load_model(Flags.saved_model_path, hint), "kws")
    if model.keras_model is None:
        raise rc.bad_file(Flags.saved_model_path, f"is a {model.kind} model; quantize.py converts a Keras model "
                                                  f"(.h5 or SavedModel)")
    if Flags.cal_idxs_file:
        rc.require_file(Flags.cal_idxs_file, "calibration index list")
    kws_data.resolve_data_source(Flags.data_dir, Flags.data_source)
    out_dir = Path(Flags.tfl_file_name).parent
    claim_eval_dir(out_dir, "quantize", Flags, IDENTITY, Flags.overwrite)

    splits = kws_data.raw_splits(Flags)
    with kws_data.data_errors():
        if Flags.cal_idxs_file:
            cal_indices = kws_data.read_calibration_indices(Flags.cal_idxs_file)
        else:
            labels = [int(y) for y in splits["validation"].map(lambda e: e["label"]).as_numpy_iterator()]
            cal_indices = kws_data.make_calibration_indices(labels)
        cal_features, _ = kws_data.features_of(Flags, kws_data.calibration_dataset(splits["validation"], cal_indices))
    rc.write_text(out_dir / "quant_cal_idxs.txt", "".join(f"{i}\n" for i in cal_indices))
    print(f"calibrating on {len(cal_features)} validation clips")

    flatbuffer = convert_to_tflite(model.keras_model, representative_samples=list(cal_features), int8=True,
                                   int8_io=True)
    tflite = TFLiteModel(model_content=flatbuffer)
    scale, zero_point = tflite.input_details["quantization"]
    info = {"tflite": str(Flags.tfl_file_name), "size_bytes": len(flatbuffer), "input_scale": float(scale),
            "input_zero_point": int(zero_point), "input_dtype": str(tflite.input_dtype.__name__),
            "output_dtype": str(tflite.output_dtype.__name__), "calibration_samples": len(cal_features)}
    rc.write_json(out_dir / "quantize.json", info)
    save_tflite(flatbuffer, Flags.tfl_file_name)
    print(f"wrote {Flags.tfl_file_name} ({len(flatbuffer)} bytes, input scale {scale:.4g} zero point {zero_point})")
    return 0


if __name__ == "__main__":
    rc.entry(main)

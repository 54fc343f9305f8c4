"""int8 post-training quantization of a trained KWS model (v0.5 ``quantize.py``).

Full-integer TFLite with int8 input and output, calibrated on the 120-clip calibration subset of the
validation split (``--cal_idxs_file`` = the reference ``quant_cal_idxs.txt``; otherwise 10 clips per class drawn
with seed 2 and written beside the model). Reads ``--saved_model_path``, writes ``--tfl_file_name`` plus
``quantize.json`` (size, input/output quantization) and ``quant_cal_idxs.txt`` next to it.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from pathlib import Path

from mlperf_tiny.keyword_spotting import kws_util


def get_args_parser(add_help=True):
    return kws_util.get_args_parser(add_help=add_help)


def main(argv=None):
    Flags = get_args_parser().parse_args(argv)  # noqa: N806
    import tensorflow as tf

    from mlperf_tiny.keyword_spotting import get_dataset as kws_data
    from mlperf_tiny.run_utils import write_json
    from mlperf_tiny.tflite_utils import TFLiteModel, convert_to_tflite, save_tflite

    if not Path(Flags.saved_model_path).exists():
        raise FileNotFoundError(f"no trained model at {Flags.saved_model_path}: run train.py first")
    model = tf.keras.models.load_model(Flags.saved_model_path)
    out_dir = Path(Flags.tfl_file_name).parent

    splits = kws_data.raw_splits(Flags)
    if Flags.cal_idxs_file:
        cal_indices = kws_data.read_calibration_indices(Flags.cal_idxs_file)
    else:
        labels = [int(y) for y in splits["validation"].map(lambda e: e["label"]).as_numpy_iterator()]
        cal_indices = kws_data.make_calibration_indices(labels)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quant_cal_idxs.txt").write_text("".join(f"{i}\n" for i in cal_indices))
    cal_features, _ = kws_data.features_of(
        Flags, kws_data.calibration_dataset(splits["validation"], cal_indices))
    print(f"calibrating on {len(cal_features)} validation clips")

    flatbuffer = convert_to_tflite(model, representative_samples=list(cal_features), int8=True, int8_io=True)
    # Written under a temporary name and renamed last: make treats the .tflite as "quantization done".
    tfl_file = Path(Flags.tfl_file_name)
    tmp = save_tflite(flatbuffer, tfl_file.with_name(f"{tfl_file.stem}.tmp{tfl_file.suffix}"))
    tflite = TFLiteModel(model_content=flatbuffer)
    scale, zero_point = tflite.input_details["quantization"]
    info = {"tflite": str(Flags.tfl_file_name), "size_bytes": len(flatbuffer), "input_scale": float(scale),
            "input_zero_point": int(zero_point), "input_dtype": str(tflite.input_dtype.__name__),
            "output_dtype": str(tflite.output_dtype.__name__), "calibration_samples": len(cal_features)}
    write_json(out_dir / "quantize.json", info)
    tmp.replace(tfl_file)
    print(f"wrote {Flags.tfl_file_name} ({len(flatbuffer)} bytes, input scale {scale:.4g} zero point {zero_point})")
    return info


if __name__ == "__main__":
    main()

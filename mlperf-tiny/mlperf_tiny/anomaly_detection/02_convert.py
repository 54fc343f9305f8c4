"""Convert the AD autoencoders to TFLite (v0.5 ``02_convert.py --dev``).

As v0.5, each BatchNormalization is folded into the Dense layer before it by hand: W' = W * g / sqrt(v + eps) and
b' = beta - m * g / sqrt(v + eps). v0.5 drops the Dense bias b there, so its TFLite models are not the Keras model
(on the EEMBC kit subset the shipped ad01_fp32.tflite scores AUC 0.98 where ad01.h5 scores 0.96; the paper's
TFLite float 0.876 vs Keras 0.864 on ToyCar); this is the faithful default, and ``--keep_dense_bias`` folds
exactly (b' = (b - m) * g / sqrt(v + eps) + beta). Two files are written per machine type:
``model_<machine>.tflite`` (float32, BN folded) and ``model_<machine>_quant_fullint_micro_intio.tflite``
(full-integer int8 with int8 input/output, the shipped ``ad01_int8.tflite``). The int8 Dense weights are
quantized per tensor, as TF 2.3 did (TF 2.21 defaults to per channel: ``--per_channel_dense``). Calibration
uses every 5th training *vector* (``--calibration_stride``; about 274k vectors on ToyCar, which is slow but is the
reference set). v0.5's weights-only and non-micro int8 variants are not written.
"""

from pathlib import Path

import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.anomaly_detection import common

CALIBRATION_STRIDE = 5  # every 5th training vector


def get_args_parser(add_help=True):
    parser = common.command_line_chk("convert the AD autoencoders to TFLite (02_convert.py)")
    parser.add_argument("--calibration_stride", type=rc.positive_int, default=CALIBRATION_STRIDE,
                        help="calibrate on every N-th training vector (v0.5: 5)")
    parser.add_argument("--keep_dense_bias", action="store_true",
                        help="fix: fold BN exactly, keeping the Dense bias (v0.5 drops it: the TFLite model then "
                             "differs from the Keras model)")
    parser.add_argument("--per_channel_dense", action="store_true",
                        help="int8 Dense weights with one scale per output channel (TF 2.21 default; v0.5's TF 2.3 "
                             "used one scale per tensor)")
    return parser


def fold_batchnorm(model, keep_dense_bias=False):
    """A BN-free copy of a Dense/BN/Activation chain with each BN folded into the preceding Dense.

    keep_dense_bias=False (v0.5): b' = beta - mean * g / sqrt(v + eps), the Dense bias b is dropped, so the folded
    model is not the Keras model (the shipped ad01_fp32/ad01_int8.tflite are folded so). True (fix): the exact
    folding b' = (b - mean) * g / sqrt(v + eps) + beta.
    """
    import numpy as np
    import tensorflow as tf

    layers = tf.keras.layers
    inputs = tf.keras.Input(shape=model.input_shape[1:])
    x = inputs
    pending = None  # a Dense layer waiting for a possible following BN
    for layer in model.layers[1:]:
        if isinstance(layer, layers.Dense):
            if pending is not None:
                x = _emit_dense(pending, x)
            pending = [layer.get_weights()[0], layer.get_weights()[1], layer.name]
        elif isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            factor = gamma / np.sqrt(variance + layer.epsilon)
            bias = (pending[1] - mean) * factor + beta if keep_dense_bias else beta - mean * factor
            pending = [pending[0] * factor[None, :], bias, pending[2]]
        elif isinstance(layer, layers.Activation):
            if pending is not None:
                x = _emit_dense(pending, x)
                pending = None
            x = layers.Activation(layer.activation)(x)
        else:
            raise ValueError(f"cannot fold layer {layer.name} ({type(layer).__name__})")
    if pending is not None:
        x = _emit_dense(pending, x)
    return tf.keras.Model(inputs, x, name=f"{model.name}_bn_folded")


def _emit_dense(pending, x):
    import tensorflow as tf

    kernel, bias, name = pending
    dense = tf.keras.layers.Dense(kernel.shape[1], name=f"{name}_folded")
    y = dense(x)
    dense.set_weights([kernel, bias])
    return y


IDENTITY = ("model_directory", "dev_directory", "machine_type", "calibration_stride", "keep_dense_bias",
            "per_channel_dense", "feature")


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    import numpy as np

    from mlperf_tiny import model_io
    from mlperf_tiny.run_utils import claim_eval_dir
    from mlperf_tiny.tflite_utils import convert_to_tflite, save_tflite

    param = common.resolve_config(args)
    model_dir = Path(param["model_directory"])
    machine_dirs = common.select_dirs(param, machine_type=args.machine_type)
    hint = "train one first (python -m mlperf_tiny.anomaly_detection.00_train, or `make mlperf-ad`)"
    models = {d.name: model_io.check_model_task(model_io.load_model(model_dir / f"model_{d.name}.hdf5", hint), "ad")
              for d in machine_dirs}
    claim_eval_dir(model_dir, "convert", {**vars(args), "model_directory": str(model_dir),
                                          "dev_directory": str(param["dev_directory"]), "feature": param["feature"]},
                   IDENTITY, args.overwrite)
    outputs = {}
    for machine_dir in machine_dirs:
        machine = machine_dir.name
        folded = fold_batchnorm(models[machine].keras_model, keep_dense_bias=args.keep_dense_bias)
        cache = model_dir / f"features_{machine}_train.npy"
        if cache.exists():
            vectors = np.load(cache)
        else:
            vectors = common.list_to_vector_array(common.file_list_generator(machine_dir),
                                                  **common.feature_kwargs(param))
        calibration = vectors[:: args.calibration_stride]
        print(f"{machine}: calibrating on {len(calibration)} vectors")
        float_path = save_tflite(convert_to_tflite(folded, int8=False), model_dir / f"model_{machine}.tflite")
        # The int8 file is make's "conversion done" marker: written last, atomically.
        int8_path = save_tflite(convert_to_tflite(folded, representative_samples=list(calibration),
                                                  per_tensor_dense=not args.per_channel_dense),
                                model_dir / f"model_{machine}_quant_fullint_micro_intio.tflite")
        outputs[machine] = {"float": str(float_path), "int8": str(int8_path),
                            "float_bytes": float_path.stat().st_size, "int8_bytes": int8_path.stat().st_size,
                            "calibration_vectors": len(calibration), "keep_dense_bias": args.keep_dense_bias,
                            "per_channel_dense": args.per_channel_dense}
        print(f"wrote {float_path} and {int8_path} ({outputs[machine]['int8_bytes']} bytes)")
    rc.write_json(model_dir / "convert.json", outputs)
    return 0


if __name__ == "__main__":
    rc.entry(main)

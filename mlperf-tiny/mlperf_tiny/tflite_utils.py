"""int8 TFLite conversion and evaluation shared by every MLPerf task (and the TF paper projects).

The conversion is the one all v0.5 tasks use: ``TFLiteConverter.from_keras_model``, default optimizations, a
representative dataset of batch-1 float32 samples, ``TFLITE_BUILTINS_INT8`` ops and int8 input/output.
Inference uses ``ai_edge_litert`` (``tf.lite.Interpreter`` is deprecated in TF 2.20+) and falls back to it.
"""


from pathlib import Path

import numpy as np


def convert_to_tflite(model, representative_samples=None, int8=True, int8_io=True, per_tensor_dense=False):
    """Return the TFLite flatbuffer (bytes) of a Keras model.

    int8=True: full-integer quantization calibrated on ``representative_samples`` (an iterable of single
    float32 samples without batch axis, or a callable returning such an iterable); int8_io=True also makes the
    input and output tensors int8, as the MLPerf reference models are deployed. int8=False: float32 model.
    per_tensor_dense=True quantizes Dense (FULLY_CONNECTED) weights with one scale per tensor, as the TF 2.3/2.4
    converter of v0.5 did; TF 2.21 uses one scale per output channel (convolutions are per channel in both).
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        if representative_samples is None:
            raise ValueError("int8 conversion needs representative_samples (the calibration set)")

        def representative_dataset():
            samples = representative_samples() if callable(representative_samples) else representative_samples
            for sample in samples:
                yield [np.asarray(sample, dtype=np.float32)[None, ...]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter._experimental_disable_per_channel_quantization_for_dense_layers = per_tensor_dense
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter.convert()


def save_tflite(flatbuffer, path):
    """Write a flatbuffer atomically (temporary name, then rename): a failed write keeps the previous file."""
    import run_contract as rc

    return rc.write_bytes(path, flatbuffer)


def make_interpreter(model_content=None, model_path=None):
    """An allocated TFLite interpreter from ai_edge_litert, else tf.lite."""
    kwargs = {"model_content": model_content} if model_content is not None else {"model_path": str(model_path)}
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(**kwargs)
    interpreter.allocate_tensors()
    return interpreter


def quantize_input(x, scale, zero_point, dtype, faithful_cast=False):
    """Float -> integer input tensor.

    faithful_cast=True reproduces the KWS reference ``eval_quantized_model.py``: ``x / scale + zp`` cast
    straight to int8 with no rounding or clipping, so out-of-range values wrap around. The default is TFLite's own
    quantize op: ``round(x / scale) + zp`` in float32, halves rounded away from zero, clipped to the dtype range.
    """
    scaled = np.asarray(x, dtype=np.float32) / np.float32(scale)
    if faithful_cast:
        return (scaled + zero_point).astype(dtype)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    info = np.iinfo(dtype)
    return np.clip(rounded + zero_point, info.min, info.max).astype(dtype)


class TFLiteModel:
    """Run a (possibly int8-I/O) TFLite model on float inputs, one sample at a time (the models are batch 1).

    ``predict(x)`` quantizes float inputs with the input tensor's scale/zero point and returns dequantized
    float outputs, so int8 and float models are evaluated with the same code.
    """

    def __init__(self, model_content=None, model_path=None, faithful_cast=False):
        if model_content is None:
            model_content = Path(model_path).read_bytes()
        self.size_bytes = len(model_content)
        self.interpreter = make_interpreter(model_content=model_content)
        self.input_details = self.interpreter.get_input_details()[0]
        self.output_details = self.interpreter.get_output_details()[0]
        self.faithful_cast = faithful_cast

    @property
    def input_dtype(self):
        return self.input_details["dtype"]

    @property
    def output_dtype(self):
        return self.output_details["dtype"]

    def _prepare(self, sample):
        dtype = self.input_details["dtype"]
        if np.issubdtype(dtype, np.integer):
            scale, zero_point = self.input_details["quantization"]
            return quantize_input(sample, scale, zero_point, dtype, self.faithful_cast)
        return np.asarray(sample, dtype=dtype)

    def _dequantize(self, out):
        if np.issubdtype(self.output_details["dtype"], np.integer):
            scale, zero_point = self.output_details["quantization"]
            return (out.astype(np.float32) - zero_point) * scale
        return out

    def predict(self, x, progress=False):
        x = np.asarray(x)
        outputs = []
        iterator = range(len(x))
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc="tflite", unit="sample")
        for i in iterator:
            self.interpreter.set_tensor(self.input_details["index"], self._prepare(x[i : i + 1]))
            self.interpreter.invoke()
            outputs.append(self._dequantize(self.interpreter.get_tensor(self.output_details["index"])))
        return np.concatenate(outputs, axis=0)

"""Load a model file of any kind the TF projects meet, behind one small interface, with one-line errors.

    from mlperf_tiny import model_io
    model = model_io.load_model("pretrainedResnet_quant.tflite")   # or a Keras .h5/.keras, or a SavedModel folder
    model_io.check_model_task(model, "ic")                         # raises rc.UsageError for another task
    probabilities = model.predict(images)                          # float in, float out, whatever the kind

``load_model(path)`` returns a ``LoadedModel``: ``kind`` ("keras_h5", "keras_v3", "saved_model" or "tflite"),
``input_shape`` (without the batch axis), ``input_dtype`` (float32 for Keras; the tensor type for TFLite),
``input_quantization`` ((scale, zero point) of an integer TFLite input, else None), ``keras_model`` (None for
TFLite), ``num_params`` (Keras ``count_params()``; None for TFLite) and ``predict(x)``: a batch of *float*
inputs in, float outputs out. For an integer TFLite model the inputs are quantized with the model's own scale
and zero point (rounded and clipped, as TFLite's quantize op does) and the outputs dequantized. Inputs whose
sample size equals the model's (a 49x10x1 MFCC for a flat 490 input) are reshaped to it.

Every problem with the file (missing, empty, truncated, not an h5/SavedModel/tflite, a weights-only h5) raises
``run_contract.UsageError`` with one line naming the file, via ``rc.bad_file``. ``task_of_input_shape`` names the
MLPerf Tiny task an input shape belongs to (KWS 49x10x1, IC 32x32x3, VWW 96x96x3 or 96x96x1, AD 640), and
``check_model_task`` refuses a model of another task before any work is done.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import run_contract as rc

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

# Input shapes (without the batch axis) of each task's models; the first is the reference model's.
TASK_INPUT_SHAPES = {
    "kws": ((49, 10, 1), (49, 10), (490,)),
    "ic": ((32, 32, 3),),
    "vww": ((96, 96, 3), (96, 96, 1)),
    "ad": ((640,),),
}
TASK_NAMES = {"kws": "keyword spotting", "ic": "image classification", "vww": "visual wake words",
              "ad": "anomaly detection"}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"  # Keras v3 ``.keras`` files are zip archives
TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8
LOAD_HINT = "pass a Keras .h5/.keras file, a SavedModel folder (with saved_model.pb) or a .tflite file"


@dataclass
class LoadedModel:
    """A loaded model of any kind; see the module docstring."""

    path: Path
    kind: str
    input_shape: tuple
    input_dtype: np.dtype
    output_shapes: list
    input_quantization: tuple | None = None
    keras_model: object = None
    tflite: object = None
    signature: object = None  # a SavedModel's serving function when it is not a Keras model
    _extra: dict = field(default_factory=dict)

    @property
    def is_int8(self):
        return self.input_quantization is not None

    @property
    def num_params(self):
        return int(self.keras_model.count_params()) if self.keras_model is not None else None

    @property
    def size_bytes(self):
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size

    def describe(self):
        """One line: kind, input shape and dtype (and quantization)."""
        quant = (f", input scale {self.input_quantization[0]:.6g} zero point {self.input_quantization[1]}"
                 if self.is_int8 else "")
        return f"{self.kind} {self.path.name}: input {self.input_shape} {np.dtype(self.input_dtype).name}{quant}"

    def to_input(self, x):
        """``x`` (a batch) as float32 with the model's input shape (reshaped when the sample size matches)."""
        x = np.asarray(x, dtype=np.float32)
        sample_shape = tuple(x.shape[1:])
        if sample_shape != tuple(self.input_shape):
            if int(np.prod(sample_shape)) != int(np.prod(self.input_shape)):
                raise rc.bad_file(self.path, f"model input {self.input_shape} does not fit inputs of shape "
                                             f"{sample_shape}")
            x = x.reshape((len(x), *self.input_shape))
        return x

    def predict(self, x, batch_size=256, progress=False):
        """Float outputs for a batch of float inputs (a list of arrays for a model with several outputs)."""
        x = self.to_input(x)
        if self.tflite is not None:
            return self.tflite.predict(x, progress=progress)
        if self.keras_model is not None:
            if 0 < len(x) <= batch_size:  # one batch: the same traced step without predict()'s per-call setup
                return self.keras_model.predict_on_batch(x)
            return self.keras_model.predict(x, batch_size=batch_size, verbose=0)
        outputs = [self.signature(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        names = sorted(outputs[0])
        merged = [np.concatenate([o[name].numpy() for o in outputs]) for name in names]
        return merged[0] if len(merged) == 1 else merged


def _head(path, size=8):
    with open(path, "rb") as f:
        return f.read(size)


def _short(err):
    text = " ".join(str(err).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _load_keras(path, kind, hint):
    if kind == "keras_h5":
        import h5py

        try:
            with h5py.File(path, "r") as f:
                has_config = "model_config" in f.attrs
        except OSError as err:
            raise rc.bad_file(path, f"truncated or corrupt HDF5 file ({_short(err)})", hint) from err
        if not has_config:
            raise rc.bad_file(path, "holds weights only, not a whole Keras model (no model_config); load it "
                                    "into a registry model with model.load_weights", hint)
    import tensorflow as tf

    try:
        model = tf.keras.models.load_model(str(path), compile=False)
    except Exception as err:  # noqa: BLE001 (Keras raises many types for a broken file)
        raise rc.bad_file(path, f"not a loadable Keras model ({type(err).__name__}: {_short(err)})", hint) from err
    inputs = model.inputs
    if len(inputs) != 1:
        raise rc.bad_file(path, f"has {len(inputs)} inputs; one input expected", hint)
    return LoadedModel(path=path, kind=kind, input_shape=tuple(int(d) for d in inputs[0].shape[1:]),
                       input_dtype=np.dtype(np.float32),
                       output_shapes=[tuple(int(d) if d is not None else None for d in o.shape[1:])
                                      for o in model.outputs],
                       keras_model=model)


def _load_saved_model(path, hint):
    import tensorflow as tf

    if not (path / "saved_model.pb").is_file():
        raise rc.bad_file(path, "is a folder without saved_model.pb, not a SavedModel", hint)
    try:
        return _load_keras(path, "saved_model", hint)
    except rc.UsageError as keras_error:
        # Not a Keras SavedModel: fall back to its serving signature.
        try:
            loaded = tf.saved_model.load(str(path))
            signature = loaded.signatures["serving_default"]
        except Exception:  # noqa: BLE001
            raise keras_error from None
        (spec,) = signature.structured_input_signature[1].values()
        outputs = signature.structured_outputs
        model = LoadedModel(path=path, kind="saved_model", input_shape=tuple(int(d) for d in spec.shape[1:]),
                            input_dtype=np.dtype(spec.dtype.as_numpy_dtype),
                            output_shapes=[tuple(o.shape[1:]) for o in outputs.values()])
        model.signature = lambda x: signature(tf.constant(x, dtype=spec.dtype))
        model._extra["saved_model"] = loaded  # keep the object (and its variables) alive
        return model


def _load_tflite(path, hint):
    from mlperf_tiny.tflite_utils import TFLiteModel

    content = Path(path).read_bytes()
    if content[4:8] != TFLITE_IDENTIFIER:
        raise rc.bad_file(path, "not a TFLite flatbuffer (no TFL3 identifier)", hint)
    try:
        tflite = TFLiteModel(model_content=content)
    except Exception as err:  # noqa: BLE001 (the interpreter raises ValueError/RuntimeError for broken buffers)
        raise rc.bad_file(path, f"truncated or corrupt TFLite file ({_short(err)})", hint) from err
    details = tflite.input_details
    dtype = np.dtype(details["dtype"])
    quantization = None
    if np.issubdtype(dtype, np.integer):
        scale, zero_point = details["quantization"]
        quantization = (float(scale), int(zero_point))
    return LoadedModel(path=path, kind="tflite", input_shape=tuple(int(d) for d in details["shape"][1:]),
                       input_dtype=dtype, output_shapes=[tuple(int(d) for d in tflite.output_details["shape"][1:])],
                       input_quantization=quantization, tflite=tflite)


def load_model(path, hint=None):
    """Load a Keras .h5/.keras file, a SavedModel folder or a .tflite file as a ``LoadedModel``.

    The kind is recognised from the content (HDF5 signature, zip, TFL3 identifier, saved_model.pb), not the name.
    ``hint`` (how to make a right file) is added to error messages; the default names the accepted kinds.
    """
    path = Path(path)
    hint = hint or LOAD_HINT
    if path.is_dir():
        return _load_saved_model(path, hint)
    rc.require_file(path, "model", hint)
    head = _head(path)
    if head.startswith(HDF5_SIGNATURE):
        return _load_keras(path, "keras_h5", hint)
    if head.startswith(ZIP_SIGNATURE):
        return _load_keras(path, "keras_v3", hint)
    if head[4:8] == TFLITE_IDENTIFIER:
        return _load_tflite(path, hint)
    if path.suffix in (".h5", ".hdf5"):
        raise rc.bad_file(path, "not an HDF5 file (no HDF5 signature): truncated at the start or another format",
                          hint)
    if path.suffix == ".tflite":
        raise rc.bad_file(path, "not a TFLite flatbuffer (no TFL3 identifier)", hint)
    if path.name == "saved_model.pb":
        return _load_saved_model(path.parent, hint)
    raise rc.bad_file(path, f"not a model file ({len(head)}-byte header {head.hex()} is neither HDF5, zip nor "
                            f"TFLite)", hint)


def task_of_input_shape(shape):
    """The task ("kws", "ic", "vww", "ad") whose models take inputs of ``shape`` (batch axis excluded; a leading
    None or 1 is dropped when the shape is one longer than a task's), or None."""
    shape = tuple(int(d) for d in shape if d is not None) if shape is not None else ()
    for candidate in (shape, shape[1:] if shape[:1] == (1,) else None):
        if candidate is None:
            continue
        for task, shapes in TASK_INPUT_SHAPES.items():
            if candidate in shapes:
                return task
    return None


def check_model_task(model_or_path, task, hint=None):
    """Raise ``rc.UsageError`` unless the model (a ``LoadedModel``, a Keras model or a path) takes ``task``'s
    input; returns the ``LoadedModel`` (loaded when a path was given) or the Keras model."""
    if task not in TASK_INPUT_SHAPES:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASK_INPUT_SHAPES)}")
    model = load_model(model_or_path, hint) if isinstance(model_or_path, str | Path) else model_or_path
    if isinstance(model, LoadedModel):
        shape, where = model.input_shape, model.path
    else:  # a Keras model
        shape, where = tuple(model.input_shape[1:]), getattr(model, "name", "model")
    found = task_of_input_shape(shape)
    if found != task:
        expected = " or ".join("x".join(map(str, s)) for s in TASK_INPUT_SHAPES[task])
        article = "an" if found and found[0] in "aeiou" else "a"
        what = f"that of {article} {found} ({TASK_NAMES[found]}) model" if found else "not that of any MLPerf Tiny task"
        raise rc.bad_file(where, f"input shape {'x'.join(map(str, shape))} is {what}; {task} models take "
                                 f"{expected}", hint)
    return model

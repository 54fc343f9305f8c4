"""Pretrained weights for the REDS models, from the files the original repo starts from.

``load_pretrained(model, path)`` accepts:

- ARM's TensorFlow checkpoints (``models/pretrained_arm_kws_models/<arch>/<arch>_<size>/ckpt/``): the folder, the
  checkpoint prefix with its accuracy in the name (``ds_cnn_0.94_ckpt``) or its ``.index`` / ``.data-*`` file.
  Keras' object-graph checkpoints name weights ``layer_with_weights-<i>/<weight>``; they are read by position and
  every shape is checked against the model first, so another architecture, size or class count is refused with
  the layer and both shapes named instead of a silently wrong model.
- Keras HDF5 files: the shipped vision models (HDF5 despite their ``.keras`` suffix, quirk Q18), our
  ``pretrained.weights.h5``, or any ``.h5`` of the same architecture (matched by layer order).

Every problem is one ``run_contract.UsageError`` line naming the file.
"""

import re
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import run_contract as rc

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
CHECKPOINT_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
HINT = ("pass ARM's checkpoint folder (.../ckpt), a checkpoint prefix such as ds_cnn_0.94_ckpt, or a Keras "
        ".h5/.keras file of the same architecture")
# Keras attribute names of each weight, in get_weights() order
WEIGHT_ATTRIBUTES = {"Conv2D": ("kernel", "bias"), "Dense": ("kernel", "bias"),
                     "DepthwiseConv2D": ("depthwise_kernel", "bias"),
                     "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance")}


def resolve(path, size=None):
    """(kind, path) of a weights argument: ``("tf_checkpoint", prefix)`` or ``("keras", file)``.

    ``{size}`` in ``path`` is replaced by ``size``.
    """
    text = str(path)
    if size is not None and "{size}" in text:
        text = text.format(size=size)
    p = Path(text)
    if p.is_dir():
        for folder in (p, p / "ckpt"):
            if (folder / "checkpoint").is_file():
                prefix = _latest_checkpoint(folder)
                if prefix is None or not Path(f"{prefix}.index").is_file():
                    raise rc.bad_file(folder / "checkpoint", "names no checkpoint whose .index file is there", HINT)
                return "tf_checkpoint", prefix
        files = sorted(f for f in p.iterdir() if f.suffix in KERAS_SUFFIXES)
        if len(files) == 1:
            return "keras", files[0]
        raise rc.bad_file(p, "is a folder without a TF checkpoint ('checkpoint' file) or a single .h5/.keras file",
                          HINT)
    if p.name.endswith(".index"):
        p = p.with_name(p.name[: -len(".index")])
    elif CHECKPOINT_SHARD.search(p.name):
        p = p.with_name(CHECKPOINT_SHARD.sub("", p.name))
    if Path(f"{p}.index").is_file():
        return "tf_checkpoint", p
    rc.require_file(p, "pretrained weights", HINT)
    with open(p, "rb") as f:
        head = f.read(8)
    if head.startswith(HDF5_SIGNATURE) or head.startswith(ZIP_SIGNATURE):
        return "keras", p
    raise rc.bad_file(p, "is neither an HDF5/Keras weights file nor a TF checkpoint (no .index beside it)", HINT)


def _latest_checkpoint(folder):
    """The prefix a TF ``checkpoint`` state file names (``model_checkpoint_path: "..."``), read without TensorFlow."""
    match = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', (folder / "checkpoint").read_text(errors="replace"),
                      re.MULTILINE)
    if match is None:
        return None
    prefix = Path(match.group(1))
    return prefix if prefix.is_absolute() else folder / prefix


def weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


def _checkpoint_tensors(prefix, model):
    """[(layer, [arrays])] read by position from a Keras object-graph checkpoint, every shape checked."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as err:
        raise rc.bad_file(f"{prefix}.index", f"unreadable TF checkpoint ({' '.join(str(err).split())[:160]})",
                          HINT) from err
    key = "layer_with_weights-{}/{}/.ATTRIBUTES/VARIABLE_VALUE"
    stored = len({name.split("/")[0] for name in shapes if name.startswith("layer_with_weights-")})
    layers = weighted_layers(model)
    if stored != len(layers):
        raise rc.bad_file(prefix, f"has {stored} layers with weights, {model.name} has {len(layers)}: another "
                                  f"architecture", HINT)
    out = []
    for i, layer in enumerate(layers):
        attributes = WEIGHT_ATTRIBUTES.get(type(layer).__name__)
        if attributes is None:
            raise rc.bad_file(prefix, f"layer {layer.name} ({type(layer).__name__}) has no checkpoint mapping", HINT)
        values = []
        for attribute, weight in zip(attributes, layer.weights):
            name = key.format(i, attribute)
            if name not in shapes:
                raise rc.bad_file(prefix, f"has no {attribute} for layer {i} ({layer.name}): another architecture",
                                  HINT)
            if tuple(shapes[name]) != tuple(weight.shape):
                raise rc.bad_file(prefix, _shape_problem(model, layer, attribute, shapes[name], weight.shape), HINT)
            values.append(reader.get_tensor(name))
        out.append((layer, values))
    return out


def _shape_problem(model, layer, attribute, found, expected):
    if layer is weighted_layers(model)[-1] and tuple(found)[:-1] == tuple(expected)[:-1]:
        return (f"has {found[-1]} output classes, {model.name} here has {expected[-1]} (--wanted_words / "
                f"--classes must give the checkpoint's classes, in its label order)")
    return (f"{layer.name} {attribute} is {list(found)} there, {list(expected)} in {model.name}: another "
            f"architecture or size")


def _load_keras_file(model, path):
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as err:
        raise rc.bad_file(path, f"truncated or corrupt HDF5 file ({' '.join(str(err).split())[:120]})", HINT) from err
    try:
        model.load_weights(str(path))
    except (ValueError, KeyError, OSError) as err:
        raise rc.bad_file(path, f"does not fit {model.name} ({' '.join(str(err).split())[:200]})", HINT) from err


REDS_REPO_COMMIT = "00715079f514648162011d35462bbc1ac6a69555"
VISION_PRETRAINED = {  # dataset -> (file in the REDS repo's models/pretrained_vision_models/, sha256)
    "fashion_mnist": ("fashion_mnist_ds_cnn_sizeS.keras",
                      "1bbb828abb06925cbd3fde1d1ce0386efa0c2e74f17b74853b401081cc4361fc"),
    "cifar10": ("cifar10_ds_cnn_sizeS.keras", "0c7fae04417ecde3c8b0accf5f434384fa26991070584a7c8dc9686781782d6e"),
    "mnist": ("mnist_ds_cnn_sizeS.keras", "0367cb970b3f02b7cd182729e4373e5d8e19e4d287432f3563c4781dfbd64965"),
}


def fetch_vision_pretrained(dataset, out_dir, local_dir=None):
    """The REDS repo's pretrained vision DS-CNN S of ``dataset`` in ``out_dir``: copied from ``local_dir`` (e.g. the
    fidelity kit's ``models/reds/vision``) when it holds the file, else downloaded; sha256-checked either way."""
    import shutil

    from mlperf_tiny.download import Dataset, RemoteFile, fetch, file_digest

    name, sha256 = VISION_PRETRAINED[dataset]
    target = Path(out_dir) / name
    local = Path(local_dir) / name if local_dir else None
    if not target.is_file() and local is not None and local.is_file() and file_digest(local, "sha256") == sha256:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with rc.atomic_path(target) as tmp:
            shutil.copyfile(local, tmp)
    url = f"https://github.com/FraCorti/REDS/raw/{REDS_REPO_COMMIT}/models/pretrained_vision_models/{name}"
    return fetch(RemoteFile(url, name, sha256=sha256), out_dir,
                 Dataset(f"REDS pretrained {dataset} model", "reds-vision-pretrained", (), name))


def load_pretrained(model, path, size=None):
    """Load weights into ``model``; returns the kind (``"tf_checkpoint"`` or ``"keras"``) and the resolved path."""
    kind, resolved = resolve(path, size)
    if kind == "tf_checkpoint":
        for layer, values in _checkpoint_tensors(resolved, model):
            layer.set_weights([np.asarray(v) for v in values])
    else:
        _load_keras_file(model, resolved)
    return kind, resolved

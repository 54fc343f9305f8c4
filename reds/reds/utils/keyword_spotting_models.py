"""The ARM "Hello Edge" KWS models REDS starts from (DNN, CNN, DS-CNN in S/M/L) and the vision DS-CNN S.

Every builder takes ``widths``: ``None`` builds the full model, a dict ``{layer name: units}`` builds a plain
subnetwork with those widths (what ``reds_model.extract_subnetwork`` fills with sliced weights). The layers
whose width the knapsack chooses ("width layers") are named in ``ARCHITECTURES``:

- DNN: ``dense_1..3`` (hidden neurons); CNN: ``conv_1``, ``conv_2`` (filters); DS-CNN: ``conv_0`` and the
  pointwise ``pw_1..pw_b`` (each depthwise ``dw_i`` keeps as many channels as the layer before it).

Sizes from the original ``keyword_spotting_models.py`` (see ../../README.md). Biases everywhere, as there.
"""

from dataclasses import dataclass

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

NUM_KWS_CLASSES = 12  # 10 words + _silence_ + _unknown_
KWS_MFCC_SHAPE = (49, 10, 1)  # 40 ms window, 20 ms stride, 10 MFCC
KWS_DNN_MFCC_SHAPE = (25, 10, 1)  # the DNN scripts use a 40 ms stride

DNN_UNITS = {"s": 144, "m": 256, "l": 436}
CNN_SIZES = {"s": (28, 30, 16), "m": (64, 48, 16), "l": (60, 76, 58)}  # (conv_1 filters, conv_2 filters, linear)
CNN_DENSE_UNITS = 128
DS_CNN_SIZES = {"s": (64, 4), "m": (172, 4), "l": (276, 5)}  # (filters, DS blocks)
# dataset -> (first conv kernel, activation, average pool (quirk Q5: not global, as shipped), input shape)
VISION_DS_CNN_DESIGNS = {
    "fashion_mnist": ((3, 3), "leaky_relu", (13, 5), (28, 28, 1)),
    "cifar10": ((3, 3), "leaky_relu", (16, 5), (32, 32, 3)),
    "mnist": ((10, 4), "relu", (12, 5), (28, 28, 1)),
}
LEAKY_RELU_ALPHA = 0.3  # tf-keras LeakyReLU default, used by the shipped vision checkpoints


@dataclass(frozen=True)
class Architecture:
    family: str  # dnn | cnn | ds_cnn
    width_layers: tuple  # layers whose output units the knapsack selects, in order
    min_units: int  # per-layer minimum (2 for DNN/CNN, 1 for DS-CNN; quirk Q11)


def _keras():
    import tensorflow as tf

    return tf.keras


def _width(widths, name, full):
    return full if widths is None else int(widths.get(name, full))


def dnn(size="s", widths=None, input_shape=KWS_DNN_MFCC_SHAPE, num_classes=NUM_KWS_CLASSES):
    """3 x Dense(ReLU) of 144/256/436 units on the flattened 25x10 MFCC, then Dense(12) logits."""
    keras = _keras()
    layers = [keras.layers.Input(shape=input_shape), keras.layers.Flatten(name="flatten")]
    for i in (1, 2, 3):
        layers.append(keras.layers.Dense(_width(widths, f"dense_{i}", DNN_UNITS[size]), activation="relu",
                                         name=f"dense_{i}"))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers, name=f"dnn_{size}")


def cnn(size="s", widths=None, input_shape=KWS_MFCC_SHAPE, num_classes=NUM_KWS_CLASSES):
    """Conv(10x4)-BN-ReLU, Conv(10x4, stride (2,1))-BN-ReLU, Flatten, Dense(lin), Dense(128)-BN-ReLU, Dense(12)."""
    keras = _keras()
    f1, f2, linear = CNN_SIZES[size]
    layers = [
        keras.layers.Input(shape=input_shape),
        keras.layers.Conv2D(_width(widths, "conv_1", f1), (10, 4), strides=(1, 1), padding="valid", name="conv_1"),
        keras.layers.BatchNormalization(name="bn_1"),
        keras.layers.ReLU(name="relu_1"),
        keras.layers.Conv2D(_width(widths, "conv_2", f2), (10, 4), strides=(2, 1), padding="valid", name="conv_2"),
        keras.layers.BatchNormalization(name="bn_2"),
        keras.layers.ReLU(name="relu_2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(linear, name="linear"),
        keras.layers.Dense(CNN_DENSE_UNITS, name="dense_1"),
        keras.layers.BatchNormalization(name="bn_3"),
        keras.layers.ReLU(name="relu_3"),
        keras.layers.Dense(num_classes, name="logits"),
    ]
    return keras.Sequential(layers, name=f"cnn_{size}")


def _ds_cnn(name, filters, blocks, first_kernel, first_strides, block_strides, pool_size, activation, widths,
            input_shape, num_classes):
    keras = _keras()

    def act(tag):
        if activation == "leaky_relu":
            return keras.layers.LeakyReLU(LEAKY_RELU_ALPHA, name=f"act_{tag}")
        return keras.layers.ReLU(name=f"act_{tag}")

    layers = [
        keras.layers.Input(shape=input_shape),
        keras.layers.Conv2D(_width(widths, "conv_0", filters), first_kernel, strides=first_strides, padding="same",
                            name="conv_0"),
        keras.layers.BatchNormalization(name="bn_0"),
        act(0),
    ]
    for i in range(1, blocks + 1):
        layers += [
            keras.layers.DepthwiseConv2D((3, 3), strides=block_strides.get(i, 1), padding="same", name=f"dw_{i}"),
            keras.layers.BatchNormalization(name=f"bn_dw_{i}"),
            act(f"dw_{i}"),
            keras.layers.Conv2D(_width(widths, f"pw_{i}", filters), (1, 1), name=f"pw_{i}"),
            keras.layers.BatchNormalization(name=f"bn_pw_{i}"),
            act(f"pw_{i}"),
        ]
    layers += [
        keras.layers.AveragePooling2D(pool_size, strides=1, name="avg_pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(num_classes, name="logits"),
    ]
    return keras.Sequential(layers, name=name)


def ds_cnn(size="s", widths=None, input_shape=KWS_MFCC_SHAPE, num_classes=NUM_KWS_CLASSES):
    """ARM DS-CNN: Conv(10x4)-BN-ReLU, 4 (L: 5) x [DW 3x3-BN-ReLU, PW 1x1-BN-ReLU], global AvgPool, Dense(12)."""
    filters, blocks = DS_CNN_SIZES[size]
    if size == "s":
        first_strides, block_strides, pool = (2, 2), {}, (25, 5)
    else:
        first_strides, block_strides, pool = (2, 1), {1: 2}, (13, 5)
    return _ds_cnn(f"ds_cnn_{size}", filters, blocks, (10, 4), first_strides, block_strides, pool, "relu", widths,
                   input_shape, num_classes)


def vision_ds_cnn(widths=None, input_shape=(28, 28, 1), num_classes=10, dataset=None):
    """Vision DS-CNN S of the shipped checkpoints: Conv(64, 3x3, s2)-BN-LeakyReLU, 4 DS blocks, AvgPool (Q5).

    ``dataset`` picks the shipped design (default: from the input shape, Fashion-MNIST or CIFAR-10). The MNIST
    checkpoint is another design: the KWS DS-CNN S layers (Conv 10x4 s2, ReLU) on 28x28 with a (12, 5) pool.
    """
    input_shape = tuple(input_shape)
    if dataset is None:
        dataset = next((name for name, design in VISION_DS_CNN_DESIGNS.items()
                        if design[3] == input_shape and name != "mnist"), None)
    if dataset not in VISION_DS_CNN_DESIGNS or VISION_DS_CNN_DESIGNS[dataset][3] != input_shape:
        shapes = {name: design[3] for name, design in VISION_DS_CNN_DESIGNS.items()}
        raise ValueError(f"vision DS-CNN: no shipped design for {dataset or 'input'} {input_shape} (known: {shapes})")
    kernel, activation, pool, _ = VISION_DS_CNN_DESIGNS[dataset]
    filters, blocks = DS_CNN_SIZES["s"]
    name = "vision_mnist_ds_cnn_s" if dataset == "mnist" else "vision_ds_cnn_s"
    return _ds_cnn(name, filters, blocks, kernel, (2, 2), {}, pool, activation, widths, input_shape, num_classes)


def architecture(model):
    """The ``Architecture`` of a model built here (read off its layer names)."""
    names = [layer.name for layer in model.layers]
    if "pw_1" in names:
        blocks = sum(n.startswith("pw_") for n in names)
        return Architecture("ds_cnn", ("conv_0",) + tuple(f"pw_{i}" for i in range(1, blocks + 1)), 1)
    if "conv_1" in names:
        return Architecture("cnn", ("conv_1", "conv_2"), 2)
    if "dense_3" in names:
        return Architecture("dnn", ("dense_1", "dense_2", "dense_3"), 2)
    raise ValueError(f"{model.name} is not a REDS model (layers {names})")


def _register(name, builder, **fixed):
    def build(**kwargs):
        return builder(**fixed, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__module__ = __name__
    register_model(name)(build)


for _size in ("s", "m", "l"):
    _register(f"reds_dnn_{_size}", dnn, size=_size)
    _register(f"reds_cnn_{_size}", cnn, size=_size)
    _register(f"reds_ds_cnn_{_size}", ds_cnn, size=_size)
_register("reds_vision_ds_cnn_s", vision_ds_cnn)
_register("reds_vision_mnist_ds_cnn_s", vision_ds_cnn, dataset="mnist")

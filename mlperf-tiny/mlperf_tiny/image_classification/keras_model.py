"""ResNet-8 of the MLPerf Tiny image-classification benchmark (v0.5 ``keras_model.py``: ``resnet_v1_eembc``).

Three residual stacks (16, 32, 64 filters) after a 3x3 stem; stacks 2 and 3 downsample with a strided 3x3 conv
and a strided 1x1 projection shortcut (no BN on the shortcut); global 8x8 average pooling and a softmax Dense.
Convs: he_normal, L2(1e-4), with biases. Dense: he_normal, no regularizer. With the defaults the model has
78,666 Keras parameters (BN moving statistics included) and 12,501,632 conv/dense MACs.
The input is raw CIFAR pixels (floats 0..255): the reference does not normalise.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

L2_WEIGHT_DECAY = 1e-4  # kernel_regularizer=l2(1e-4) on every conv, as in v0.5


def _conv(filters, kernel_size, strides, weight_decay):
    import tensorflow as tf

    return tf.keras.layers.Conv2D(
        filters, kernel_size=kernel_size, strides=strides, padding="same", kernel_initializer="he_normal",
        kernel_regularizer=tf.keras.regularizers.l2(weight_decay),
    )


def _residual_stack(x, filters, strides, weight_decay):
    """[conv3x3(strides), BN, ReLU, conv3x3, BN] + shortcut, then ReLU; 1x1 strided projection when strides > 1."""
    import tensorflow as tf

    layers = tf.keras.layers
    y = _conv(filters, 3, strides, weight_decay)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = _conv(filters, 3, 1, weight_decay)(y)
    y = layers.BatchNormalization()(y)
    if strides > 1:
        x = _conv(filters, 1, strides, weight_decay)(x)
    x = layers.add([x, y])
    return layers.Activation("relu")(x)


@register_model("resnet_v1_eembc")
def resnet_v1_eembc(input_shape=(32, 32, 3), num_classes=10, num_filters=16, weight_decay=L2_WEIGHT_DECAY):
    """ResNet-8 (v0.5 default). ``num_filters`` is the first stack's width (stacks double it: 16/32/64).

    Upstream master widened the default to 26 filters for "Image Classification 2"; v0.5 is 16.
    """
    import numpy as np
    import tensorflow as tf

    layers = tf.keras.layers
    inputs = layers.Input(shape=tuple(input_shape))
    x = _conv(num_filters, 3, 1, weight_decay)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = _residual_stack(x, num_filters, 1, weight_decay)
    x = _residual_stack(x, 2 * num_filters, 2, weight_decay)
    x = _residual_stack(x, 4 * num_filters, 2, weight_decay)
    # Global average pooling written as the reference does it (AvgPool over the whole 8x8 map, then Flatten).
    pool_size = int(np.amin(x.shape[1:3]))
    x = layers.AveragePooling2D(pool_size=pool_size)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer="he_normal")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="resnet_v1_eembc")

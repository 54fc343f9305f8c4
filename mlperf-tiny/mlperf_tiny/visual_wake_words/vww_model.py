"""MobileNetV1-0.25 of the MLPerf Tiny visual-wake-words benchmark (v0.5 ``vww_model.py``: ``mobilenet_v1``).

Silicon Labs' variant: 3x3 stride-2 stem with 8 filters, 13 depthwise-separable blocks, plain ReLU (not
ReLU6), same padding, biases everywhere, no dropout, AvgPool over the final 3x3 map, Dense softmax. Pointwise
and stem convs: he_normal + L2(1e-4). With the defaults: 221,794 Keras parameters, 7,489,664 conv/dense MACs.

Quirk (faithful default): the reference passes ``kernel_initializer='he_normal'`` and
``kernel_regularizer=l2(1e-4)`` to ``DepthwiseConv2D``, which Keras 2 silently ignores (the depthwise kernel uses
``depthwise_initializer``/``depthwise_regularizer``), so depthwise kernels are glorot-uniform and unregularised.
``regularize_depthwise=True`` applies what the code meant (he_normal + L2 on the depthwise kernels).
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

L2_WEIGHT_DECAY = 1e-4
IMAGE_SIZE = 96
# (depthwise stride, pointwise filters at width 1.0 / 4) of the 13 separable blocks, as in the reference.
SEPARABLE_BLOCKS_025 = (
    (1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128),
    (1, 128), (1, 128), (1, 128), (1, 128), (1, 128),
    (2, 256), (1, 256),
)
STEM_FILTERS_025 = 8


@register_model("mobilenet_v1")
def mobilenet_v1(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), num_classes=2, width_multiplier=1.0,
                 weight_decay=L2_WEIGHT_DECAY, regularize_depthwise=False):
    """MobileNetV1-0.25 (v0.5 default). ``width_multiplier`` scales every width relative to the 0.25 model
    (1.0 = the reference; 4.0 = a standard MobileNetV1-1.0 layout with these blocks)."""
    import numpy as np
    import tensorflow as tf

    layers = tf.keras.layers

    def width(filters):
        return max(1, int(round(filters * width_multiplier)))

    def pointwise_or_stem(filters, kernel_size, strides):
        return layers.Conv2D(width(filters), kernel_size=kernel_size, strides=strides, padding="same",
                             kernel_initializer="he_normal",
                             kernel_regularizer=tf.keras.regularizers.l2(weight_decay))

    def depthwise(strides):
        if regularize_depthwise:
            return layers.DepthwiseConv2D(kernel_size=3, strides=strides, padding="same",
                                          depthwise_initializer="he_normal",
                                          depthwise_regularizer=tf.keras.regularizers.l2(weight_decay))
        # Reference behaviour: glorot-uniform depthwise kernels, no regularizer (see module docstring).
        return layers.DepthwiseConv2D(kernel_size=3, strides=strides, padding="same")

    inputs = layers.Input(shape=tuple(input_shape))
    x = pointwise_or_stem(STEM_FILTERS_025, 3, 2)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for strides, filters in SEPARABLE_BLOCKS_025:
        x = depthwise(strides)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = pointwise_or_stem(filters, 1, 1)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    pool_size = int(np.amin(x.shape[1:3]))
    x = layers.AveragePooling2D(pool_size=pool_size)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="mobilenet_v1")

"""The AD autoencoder of MLPerf Tiny v0.5 (``keras_model.py``): 640 -> 4x[Dense128, BN, ReLU] -> [Dense8, BN,
ReLU] -> 4x[Dense128, BN, ReLU] -> Dense640 (linear). 269,992 Keras params, 264,192 MACs
(conv/dense multiply-adds: 640x128 + 6 x 128x128 + 2 x 128x8 + 128x640)."""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

INPUT_DIM = 640  # 128 mels x 5 frames
HIDDEN_UNITS = 128
BOTTLENECK_UNITS = 8
HIDDEN_BLOCKS = 4  # per side of the bottleneck


@register_model("fc_autoencoder")
def fc_autoencoder(input_dim=INPUT_DIM, hidden_units=HIDDEN_UNITS, bottleneck_units=BOTTLENECK_UNITS,
                   hidden_blocks=HIDDEN_BLOCKS):
    import tensorflow as tf
    from tensorflow.keras import layers

    def block(x, units):
        x = layers.Dense(units)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu")(x)

    inputs = tf.keras.Input(shape=(input_dim,))
    x = inputs
    for _ in range(hidden_blocks):
        x = block(x, hidden_units)
    x = block(x, bottleneck_units)
    for _ in range(hidden_blocks):
        x = block(x, hidden_units)
    outputs = layers.Dense(input_dim)(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="fc_autoencoder")


def get_model(inputDim):  # noqa: N803 (v0.5 name)
    return fc_autoencoder(input_dim=inputDim)


def load_model(file_path):
    import tensorflow as tf

    return tf.keras.models.load_model(file_path, compile=False)

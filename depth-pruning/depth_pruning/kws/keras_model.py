"""The KWS base models of the paper: mlperf_tiny's DS-CNN, and ``ds_cnn_flat`` for the LFBE "hardware" variant.

``ds_cnn_flat`` (the paper's addition to keras_model.py) takes the flat 490-value LFBE feature vector the
microcontroller front end produces and reshapes it to 49x10x1 in the model; the rest is the MLPerf DS-CNN.
It is built by re-applying the layers of ``mlperf_tiny``'s ``ds_cnn`` behind a Reshape, so the DS-CNN stays
defined in one place.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

SPECTROGRAM_FRAMES = 49
FEATURE_BINS = 10


@register_model("ds_cnn_flat")
def ds_cnn_flat(input_shape=(SPECTROGRAM_FRAMES * FEATURE_BINS,), num_classes=12, **ds_cnn_kwargs):
    """DS-CNN on a flat (frames * bins,) input, reshaped to (frames, bins, 1) inside the model."""
    import tensorflow as tf
    from mlperf_tiny.keyword_spotting.keras_model import ds_cnn

    frames_by_bins = (SPECTROGRAM_FRAMES, FEATURE_BINS, 1)
    if int(input_shape[0]) != SPECTROGRAM_FRAMES * FEATURE_BINS:
        raise ValueError(f"ds_cnn_flat expects {SPECTROGRAM_FRAMES * FEATURE_BINS} features, got {input_shape}")
    body = ds_cnn(input_shape=frames_by_bins, num_classes=num_classes, **ds_cnn_kwargs)
    inputs = tf.keras.Input(shape=tuple(input_shape))
    x = tf.keras.layers.Reshape(frames_by_bins)(inputs)
    for layer in body.layers[1:]:  # the DS-CNN is a plain chain: re-apply its layers after the reshape
        x = layer(x)
    return tf.keras.Model(inputs=inputs, outputs=x, name="ds_cnn_flat")

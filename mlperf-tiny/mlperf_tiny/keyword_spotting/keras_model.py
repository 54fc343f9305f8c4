"""KWS models of MLPerf Tiny v0.5 (``keras_model.py``): DS-CNN (the reference), fc4 and td_cnn.

Layer sizes follow the v0.5 code exactly. Two DS-CNN variants differ only in the final average pool:
``ds_cnn`` (the default) pools 24x5 as the v0.5 code does (``int(49 / 2)``: the last of the 25 time rows of the
feature map is ignored); ``ds_cnn_full_pool`` pools the whole 25x5 map as the shipped ``kws_ref_model`` does (an
earlier revision hard-coded ``pool_size=(25, 5)``; the v0.5 file still has it commented out in ``td_cnn``).
Both have 24,908 parameters and 2,656,768 MACs; the reference weights load into either, and only
``ds_cnn_full_pool`` then reproduces the shipped model's outputs. ``DepthwiseConv2D`` gets no ``kernel_regularizer``: the reference
passed one, which Keras 2 silently ignored (its regularization losses are zero), so leaving it out is the
faithful model; ``dw_regularizer=True`` adds the L2 the reference meant to apply (a fix, not the default).
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

NUM_CLASSES = 12  # 10 keywords + _silence_ + _unknown_
WEIGHT_DECAY = 1e-4  # L2 on the regular conv kernels
DS_CNN_FILTERS = 64
FC4_UNITS = 256


def prepare_model_settings(label_count, args):
    """Derived audio/feature sizes (v0.5 ``prepare_model_settings``); ``args`` needs the kws_util flags."""
    desired_samples = int(args.sample_rate * args.clip_duration_ms / 1000)
    if args.feature_type == "td_samples":
        window_size_samples = window_stride_samples = 1
        spectrogram_length = desired_samples
        dct_coefficient_count = 1
    else:
        dct_coefficient_count = args.dct_coefficient_count
        window_size_samples = int(args.sample_rate * args.window_size_ms / 1000)
        window_stride_samples = int(args.sample_rate * args.window_stride_ms / 1000)
        length_minus_window = desired_samples - window_size_samples
        spectrogram_length = 1 + length_minus_window // window_stride_samples if length_minus_window >= 0 else 0
    return {
        "desired_samples": desired_samples,
        "window_size_samples": window_size_samples,
        "window_stride_samples": window_stride_samples,
        "feature_type": args.feature_type,
        "spectrogram_length": spectrogram_length,
        "dct_coefficient_count": dct_coefficient_count,
        # MFCC mel filterbank size (v0.5: 40). Older flag sets without --num_mel_bins get the reference value.
        "num_mel_bins": getattr(args, "num_mel_bins", 40),
        "fingerprint_size": dct_coefficient_count * spectrogram_length,
        "label_count": label_count,
        "sample_rate": args.sample_rate,
        # v0.5 hard-codes these two instead of reading --background_frequency / --background_volume.
        "background_frequency": 0.8,
        "background_volume_range_": 0.1,
    }


def _ds_blocks(x, filters, num_blocks, regularizer, dw_regularizer):
    from tensorflow.keras import layers

    for _ in range(num_blocks):
        x = layers.DepthwiseConv2D(
            kernel_size=(3, 3), padding="same", depth_multiplier=1,
            depthwise_regularizer=regularizer if dw_regularizer else None,
        )(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(filters, (1, 1), padding="same", kernel_regularizer=regularizer)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    return x


@register_model("ds_cnn")
def ds_cnn(input_shape=(49, 10, 1), num_classes=NUM_CLASSES, filters=DS_CNN_FILTERS, weight_decay=WEIGHT_DECAY,
           dw_regularizer=False, pool_whole_map=False):
    """DS-CNN: Conv 10x4/2 + 4 depthwise-separable blocks + AvgPool + Dense (24,908 params on 49x10x1).

    pool_whole_map=False (v0.5 code): pool (24, 5) = half the *input* size, which on the 25x5 map drops the last
    time row. True: pool the whole feature map (25x5), as the shipped kws_ref_model (``ds_cnn_full_pool``).
    """
    import tensorflow as tf
    from tensorflow.keras import layers

    regularizer = tf.keras.regularizers.l2(weight_decay)
    # The stride-2 "same" conv gives ceil(h / 2) x ceil(w / 2); the v0.5 code divides the input size instead.
    halve = (lambda n: -(-n // 2)) if pool_whole_map else (lambda n: int(n / 2))
    final_pool_size = (halve(input_shape[0]), halve(input_shape[1]))
    inputs = tf.keras.Input(shape=input_shape)
    x = layers.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", kernel_regularizer=regularizer)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(rate=0.2)(x)
    x = _ds_blocks(x, filters, 4, regularizer, dw_regularizer)
    x = layers.Dropout(rate=0.4)(x)
    x = layers.AveragePooling2D(pool_size=final_pool_size)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="ds_cnn")


@register_model("ds_cnn_full_pool")
def ds_cnn_full_pool(**kwargs):
    """DS-CNN with the shipped kws_ref_model's final pool over the whole 25x5 map (see the module docstring)."""
    return ds_cnn(**kwargs, pool_whole_map=True)


@register_model("fc4")
def fc4(input_shape=(49, 10, 1), num_classes=NUM_CLASSES, units=FC4_UNITS):
    """Three Dense-256 layers with dropout 0.2 and BN after each (v0.5 ``fc4``)."""
    import tensorflow as tf
    from tensorflow.keras import layers

    # v0.5 declared a (49, 10) input but fed (49, 10, 1) features; Flatten makes the two equivalent.
    model = tf.keras.Sequential([tf.keras.Input(shape=input_shape), layers.Flatten()], name="fc4")
    for _ in range(3):
        model.add(layers.Dense(units, activation="relu"))
        model.add(layers.Dropout(0.2))
        model.add(layers.BatchNormalization())
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


@register_model("td_cnn")
def td_cnn(input_shape=(16000, 1, 1), num_classes=NUM_CLASSES, filters=DS_CNN_FILTERS, weight_decay=WEIGHT_DECAY,
           dw_regularizer=False):
    """Time-domain CNN on raw samples (``--feature_type td_samples``): a 512-tap strided conv, then DS-CNN."""
    import tensorflow as tf
    from tensorflow.keras import layers

    regularizer = tf.keras.regularizers.l2(weight_decay)
    inputs = tf.keras.Input(shape=input_shape)
    x = layers.Conv2D(filters, (512, 1), strides=(384, 1), padding="valid", kernel_regularizer=regularizer)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(rate=0.2)(x)
    frames = (input_shape[0] - 512) // 384 + 1  # 41 for 16000 samples
    x = layers.Reshape((frames, filters, 1))(x)
    x = layers.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", kernel_regularizer=regularizer)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(rate=0.2)(x)
    x = _ds_blocks(x, filters, 4, regularizer, dw_regularizer)
    x = layers.Dropout(rate=0.4)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return tf.keras.Model(inputs=inputs, outputs=outputs, name="td_cnn")


def get_model(args, num_classes=NUM_CLASSES):
    """v0.5 ``get_model(args)``: build ``args.model_architecture`` for the feature shape and compile it."""
    import tensorflow as tf

    from mlperf_tiny.registry import get_model as registry_get_model

    settings = prepare_model_settings(num_classes, args)
    input_shape = (settings["spectrogram_length"], settings["dct_coefficient_count"], 1)
    kwargs = {"input_shape": input_shape, "num_classes": num_classes}
    if args.model_architecture in ("ds_cnn", "ds_cnn_full_pool", "td_cnn"):
        kwargs["dw_regularizer"] = getattr(args, "dw_regularizer", False)
    model = registry_get_model(args.model_architecture, **kwargs)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=args.learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )
    return model

"""T-RECX MobileNetV1-0.25 models for Visual Wake Words (original ``visual_wake_words`` model code).

Built on ``mlperf_tiny``'s MobileNetV1-0.25 (96x96x3, 2 classes). The early exit sits after layer 4 of 14 (stem
+ 3 separable blocks, 24x24x32). Registered names are the original ``train_mobnet.py`` choices:

- ``mobnet_ev`` (T-RECX): EE = 1x1 conv 32->64 -> depthwise 2x2/2 + ReLU (12x12x64) -> avgpool 4 (3x3x64) ->
  Dense(576->2); EV = depthwise 2x2/1 + ReLU on channels 0..63 of the final 3x3x256 maps, keeping channels
  0..31 (half the EE width, as the authors did for VWW), flattened (288) and concatenated with the 256-d
  pooled vector (544->2). 226,276 params (Table 1: 226.2K, truncated).
- ``mobnet_noev``: same EE, plain final head.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

from trecx import early_exit as ee

NUM_CLASSES = 2
INPUT_SHAPE = (96, 96, 3)
L2_WEIGHT_DECAY = 1e-4
EE_BLOCK = 2  # 0-based separable block whose output feeds the EE (layer 4 of 14)
EE_WIDTH = 64
EE_POOL = 4
EV_IN_CHANNELS = 64  # DCONV_E-f has the EE depthwise's kernel shape (2x2x64) for the weight transfer
EV_KEEP_CHANNELS = 32


def _base(input_shape, num_classes):
    from mlperf_tiny.visual_wake_words.vww_model import mobilenet_v1

    return mobilenet_v1(input_shape=input_shape, num_classes=num_classes)


def _depthwise(strides, name):
    import tensorflow as tf

    return tf.keras.layers.DepthwiseConv2D(kernel_size=2, strides=strides, padding="same", depth_multiplier=1,
                                           activation="relu", name=name)


def _trecx(input_shape, num_classes, with_ev, name):
    import tensorflow as tf

    layers = tf.keras.layers
    base = _base(input_shape, num_classes)
    x = layers.Conv2D(EE_WIDTH, 1, padding="same", kernel_initializer="he_normal", name="pointwise_conv_ee_1",
                      kernel_regularizer=tf.keras.regularizers.l2(L2_WEIGHT_DECAY))(ee.pointwise_block_output(base, EE_BLOCK))
    x = _depthwise(2, ee.EE_DEPTHWISE)(x)
    x = layers.Flatten(name="flatten_ee_1")(layers.AveragePooling2D(EE_POOL, name="average_pooling_ee_1")(x))
    ee_out = ee.classifier(num_classes, ee.EE_OUTPUT)(x)
    pooled = ee.final_pooled_features(base)
    if with_ev:
        maps = ee.channel_slice(ee.final_feature_maps(base), 0, EV_IN_CHANNELS, "slice_eefinal")
        view = ee.channel_slice(_depthwise(1, ee.EV_DEPTHWISE)(maps), 0, EV_KEEP_CHANNELS, "keep_eefinal")
        pooled = layers.concatenate([pooled, layers.Flatten(name="flatten_eefinal")(view)], name="concat_ev")
    final_out = ee.classifier(num_classes, ee.FINAL_OUTPUT)(pooled)
    return tf.keras.Model(base.inputs, [ee_out, final_out], name=name)


@register_model("mobnet_ev")
def mobnet_ev(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    return _trecx(input_shape, num_classes, True, "mobnet_ev")


@register_model("mobnet_noev")
def mobnet_noev(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    return _trecx(input_shape, num_classes, False, "mobnet_noev")

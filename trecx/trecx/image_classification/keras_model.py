"""T-RECX ResNet-8 models for CIFAR-10 (original ``image_classification/keras_model.py``).

All five are built on ``mlperf_tiny``'s ResNet-8 (``resnet_v1_eembc``); the early exit (EE) sits after stack 1
(32x32x16). Registered names are the original ``--model_architecture`` choices:

- ``resnet_ev`` (T-RECX): EE = 1x1 conv 16->32 (linear) -> depthwise 2x2/2 + ReLU -> avgpool 4 -> Dense(512->10);
  EV branch = depthwise 2x2/2 + ReLU on channels 0..31 of the final 8x8x64 maps, flattened (512) and concatenated
  with the 64-d pooled vector before the final Dense (576->10). 89,780 params, as Table 1 (89.7K, truncated).
- ``resnet_noev``: the same EE, plain final head.
- ``resnet_baselineEE``: EE = avgpool 4 + Dense at stack 1 (Fig. 5).
- ``resnet_sdn``: exits after stacks 1 and 2, avgpool 4 + Dense (94,046 params; Table 2: 94K).
- ``resnet_branchynet``: exits after stacks 1 and 2, 3x3 conv (16) + avgpool 4 + Dense (98,430; Table 2: 98.4K).

Heads have no BN; convs are he_normal + L2(1e-4). Depthwise layers get Keras' default (glorot) init and no L2,
because the original passed ``kernel_initializer``/``kernel_regularizer`` to ``DepthwiseConv2D``, which Keras 2
ignores.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

from trecx import early_exit as ee

NUM_CLASSES = 10
INPUT_SHAPE = (32, 32, 3)
L2_WEIGHT_DECAY = 1e-4
EE_WIDTH = 32  # pointwise conv doubles the 16 channels of stack 1 (paper: more "views", less confusion)
EE_POOL = 4  # 16x16 -> 4x4 after the strided depthwise
EV_CHANNELS = 32  # channels of the final 64 that feed DCONV_E-f (the EE width)
SIDE_EXIT_POOL = 4  # SDN / BranchyNet / baselineEE pooling
BRANCHYNET_FILTERS = 16  # the original uses stack 1's width for both BranchyNet convs


def _base(input_shape, num_classes):
    from mlperf_tiny.image_classification.keras_model import resnet_v1_eembc

    return resnet_v1_eembc(input_shape=input_shape, num_classes=num_classes)


def _conv(filters, kernel_size, name=None):
    import tensorflow as tf

    return tf.keras.layers.Conv2D(filters, kernel_size, padding="same", kernel_initializer="he_normal",
                                  kernel_regularizer=tf.keras.regularizers.l2(L2_WEIGHT_DECAY), name=name)


def _depthwise(strides, name):
    import tensorflow as tf

    return tf.keras.layers.DepthwiseConv2D(kernel_size=2, strides=strides, padding="same", depth_multiplier=1,
                                           activation="relu", name=name)


def _trecx_ee_head(x, num_classes):
    import tensorflow as tf

    layers = tf.keras.layers
    x = _conv(EE_WIDTH, 1, name="pointwise_conv_ee_1")(x)
    x = _depthwise(2, ee.EE_DEPTHWISE)(x)
    x = layers.AveragePooling2D(EE_POOL, name="average_pooling_ee_1")(x)
    x = layers.Flatten(name="flatten_ee_1")(x)
    return ee.classifier(num_classes, ee.EE_OUTPUT)(x)


def _trecx(input_shape, num_classes, with_ev, name):
    import tensorflow as tf

    layers = tf.keras.layers
    base = _base(input_shape, num_classes)
    ee_out = _trecx_ee_head(ee.residual_stack_output(base, 0), num_classes)
    pooled = ee.final_pooled_features(base)
    if with_ev:
        maps = ee.channel_slice(ee.final_feature_maps(base), 0, EV_CHANNELS, "slice_eefinal")
        view = _depthwise(2, ee.EV_DEPTHWISE)(maps)
        pooled = layers.concatenate([pooled, layers.Flatten(name="flatten_eefinal")(view)], name="concat_ev")
    final_out = ee.classifier(num_classes, ee.FINAL_OUTPUT)(pooled)
    return tf.keras.Model(base.inputs, [ee_out, final_out], name=name)


@register_model("resnet_ev")
def resnet_ev(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """T-RECX: EE + early-view assisted final classifier."""
    return _trecx(input_shape, num_classes, True, "resnet_ev")


@register_model("resnet_noev")
def resnet_noev(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """T-RECX EE head with the plain final classifier (Fig. 4a ablation)."""
    return _trecx(input_shape, num_classes, False, "resnet_noev")


def _pool_exit(x, num_classes, name):
    import tensorflow as tf

    layers = tf.keras.layers
    x = layers.AveragePooling2D(SIDE_EXIT_POOL, name=f"average_pooling_{name}")(x)
    return ee.classifier(num_classes, name)(layers.Flatten(name=f"flatten_{name}")(x))


def _rebuild_final(base, num_classes):
    return ee.classifier(num_classes, ee.FINAL_OUTPUT)(ee.final_pooled_features(base))


@register_model("resnet_baselineEE")
def resnet_baseline_ee(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """Plain EE (avgpool 4 + Dense) after stack 1."""
    import tensorflow as tf

    base = _base(input_shape, num_classes)
    ee_out = _pool_exit(ee.residual_stack_output(base, 0), num_classes, ee.EE_OUTPUT)
    return tf.keras.Model(base.inputs, [ee_out, _rebuild_final(base, num_classes)], name="resnet_baselineEE")


@register_model("resnet_sdn")
def resnet_sdn(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """SDN internal classifiers after stacks 1 and 2 (avgpool 4 + Dense)."""
    import tensorflow as tf

    base = _base(input_shape, num_classes)
    exits = [_pool_exit(ee.residual_stack_output(base, i), num_classes, f"ee_{i + 1}") for i in range(2)]
    return tf.keras.Model(base.inputs, [*exits, _rebuild_final(base, num_classes)], name="resnet_sdn")


@register_model("resnet_branchynet")
def resnet_branchynet(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """BranchyNet side branches after stacks 1 and 2 (3x3 conv 16 + avgpool 4 + Dense)."""
    import tensorflow as tf

    base = _base(input_shape, num_classes)
    exits = []
    for i in range(2):
        x = _conv(BRANCHYNET_FILTERS, 3, name=f"conv_ee_{i + 1}")(ee.residual_stack_output(base, i))
        exits.append(_pool_exit(x, num_classes, f"ee_{i + 1}"))
    return tf.keras.Model(base.inputs, [*exits, _rebuild_final(base, num_classes)], name="resnet_branchynet")

"""T-RECX DS-CNN models for Speech Commands (original ``keyword_spotting/keras_model.py``).

Built on ``mlperf_tiny``'s DS-CNN (49x10x1 MFCC, 12 classes). The early exit sits after DS block 2 of 4
(25x5x64). Registered names are the original ``--model_architecture`` choices:

- ``ds_cnn_ev`` (T-RECX): EE = channels 0..31 -> depthwise 3x3/2 + ReLU (13x3x32) -> avgpool 2 (6x1x32) ->
  Dense(192->12); EV = depthwise 3x3/1 + ReLU on channels 0..31 of the final 25x5x64 maps (after dropout 0.4)
  -> avgpool (13,3) -> 32, concatenated with the 64-d pooled vector (96->12). 28,248 params (Table 1: 28.2K).
  Unlike the paper's description, the code has no pointwise conv in this EE: it halves the channels instead.
- ``ds_cnn_noev``: same EE, plain final head.
- ``ds_cnn_eefmaps_concat`` (Fig. 6 ablation): the EE depthwise maps (13x3x32), average-pooled over (13, 3) to 32,
  are concatenated with the 64-d pooled vector at the final Dense (96->12) instead of the EV branch; no weight
  transfer. 27,928 params, as the original trained model.
- ``ds_cnn_sdn``: exits after DS blocks 1..3, avgpool 4 + Dense (38,768 params; Table 2: 38.7K).
- ``ds_cnn_branchynet``: exits after DS blocks 1 and 2, 3x3 conv (32) + avgpool (24,5) + Dense (62,628; 62.6K).

Heads use Keras' default initializers (the original KWS code sets none) and no BN.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from mlperf_tiny.registry import register_model

from trecx import early_exit as ee

NUM_CLASSES = 12
INPUT_SHAPE = (49, 10, 1)
L2_WEIGHT_DECAY = 1e-4
EE_CHANNELS = 32  # channel slice of the 64 block-2 maps fed to the EE depthwise
EE_POOL = 2
EV_CHANNELS = 32
EV_POOL = (13, 3)
EE_FMAPS_POOL = (13, 3)  # eefmaps_concat: the whole 13x3 EE depthwise map -> one value per channel
SIDE_EXIT_POOL = 4  # SDN heads: 25x5 -> 6x1
BRANCHYNET_FILTERS = 32
BRANCHYNET_POOL = (24, 5)


def _base(input_shape, num_classes):
    from mlperf_tiny.keyword_spotting.keras_model import ds_cnn

    return ds_cnn(input_shape=input_shape, num_classes=num_classes)


def _depthwise(strides, name):
    import tensorflow as tf

    return tf.keras.layers.DepthwiseConv2D(kernel_size=3, strides=strides, padding="same", depth_multiplier=1,
                                           activation="relu", name=name)


def _ee_maps(base):
    """The EE head's depthwise output (13x3x32) on channels 0..31 of DS block 2."""
    x = ee.channel_slice(ee.pointwise_block_output(base, 1), 0, EE_CHANNELS, "slice_ee_1")
    return _depthwise(2, ee.EE_DEPTHWISE)(x)


def _trecx(input_shape, num_classes, final_extra, name):
    import tensorflow as tf

    layers = tf.keras.layers
    base = _base(input_shape, num_classes)
    ee_maps = _ee_maps(base)
    ee_features = layers.Flatten(name="flatten_ee_1")(layers.AveragePooling2D(EE_POOL, name="average_pooling_ee_1")(ee_maps))
    ee_out = ee.classifier(num_classes, ee.EE_OUTPUT, he_normal=False)(ee_features)
    pooled = ee.final_pooled_features(base)
    if final_extra == "ev":
        maps = ee.channel_slice(ee.final_feature_maps(base), 0, EV_CHANNELS, "slice_eefinal")
        view = layers.AveragePooling2D(EV_POOL, name="average_pooling_eefinal")(_depthwise(1, ee.EV_DEPTHWISE)(maps))
        pooled = layers.concatenate([pooled, layers.Flatten(name="flatten_eefinal")(view)], name="concat_ev")
    elif final_extra == "ee_fmaps":
        ee_view = layers.AveragePooling2D(EE_FMAPS_POOL, name="average_pooling_ee_fmaps")(ee_maps)
        pooled = layers.concatenate([pooled, layers.Flatten(name="flatten_ee_fmaps")(ee_view)], name="concat_ee_fmaps")
    final_out = ee.classifier(num_classes, ee.FINAL_OUTPUT, he_normal=False)(pooled)
    return tf.keras.Model(base.inputs, [ee_out, final_out], name=name)


@register_model("ds_cnn_ev")
def ds_cnn_ev(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """T-RECX: EE + early-view assisted final classifier."""
    return _trecx(input_shape, num_classes, "ev", "ds_cnn_ev")


@register_model("ds_cnn_noev")
def ds_cnn_noev(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    return _trecx(input_shape, num_classes, None, "ds_cnn_noev")


@register_model("ds_cnn_eefmaps_concat")
def ds_cnn_eefmaps_concat(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """Fig. 6 ablation: EE feature maps concatenated at the final classifier instead of EV."""
    return _trecx(input_shape, num_classes, "ee_fmaps", "ds_cnn_eefmaps_concat")


def _final(base, num_classes):
    return ee.classifier(num_classes, ee.FINAL_OUTPUT, he_normal=False)(ee.final_pooled_features(base))


@register_model("ds_cnn_sdn")
def ds_cnn_sdn(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """SDN internal classifiers after DS blocks 1..3 (avgpool 4 + Dense)."""
    import tensorflow as tf

    layers = tf.keras.layers
    base = _base(input_shape, num_classes)
    exits = []
    for i in range(3):
        x = layers.AveragePooling2D(SIDE_EXIT_POOL, name=f"average_pooling_ee_{i + 1}")(ee.pointwise_block_output(base, i))
        exits.append(ee.classifier(num_classes, f"ee_{i + 1}", he_normal=False)(layers.Flatten(name=f"flatten_ee_{i + 1}")(x)))
    return tf.keras.Model(base.inputs, [*exits, _final(base, num_classes)], name="ds_cnn_sdn")


@register_model("ds_cnn_branchynet")
def ds_cnn_branchynet(input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES):
    """BranchyNet side branches after DS blocks 1 and 2 (3x3 conv 32 + avgpool (24,5) + Dense)."""
    import tensorflow as tf

    layers = tf.keras.layers
    base = _base(input_shape, num_classes)
    exits = []
    for i in range(2):
        x = layers.Conv2D(BRANCHYNET_FILTERS, 3, padding="same", name=f"conv_ee_{i + 1}",
                          kernel_regularizer=tf.keras.regularizers.l2(L2_WEIGHT_DECAY))(ee.pointwise_block_output(base, i))
        x = layers.AveragePooling2D(BRANCHYNET_POOL, name=f"average_pooling_ee_{i + 1}")(x)
        exits.append(ee.classifier(num_classes, f"ee_{i + 1}", he_normal=False)(layers.Flatten(name=f"flatten_ee_{i + 1}")(x)))
    return tf.keras.Model(base.inputs, [*exits, _final(base, num_classes)], name="ds_cnn_branchynet")

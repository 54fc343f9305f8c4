"""Parameter, MAC and FLOP counts of Keras models.

MACs count convolution and dense layers only (as the MLPerf Tiny and T-RECX papers do); batch norm, pooling,
activations and additions are free. FLOPs come from the TF profiler on the frozen inference graph, which is
how the depth-pruning paper's ``compute_flops.py`` counts them (2 per multiply-add, plus the other ops).
"""


import numpy as np


def _spatial_size(shape):
    # Conv outputs are (batch, *spatial, channels); dense outputs may have leading time axes too.
    return int(np.prod([d for d in shape[1:-1]], dtype=np.int64)) if len(shape) > 2 else 1


def layer_macs(layer):
    """MACs of one layer for a batch of one (0 for layers that are not conv/dense)."""
    import tensorflow as tf

    keras = tf.keras
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        out_shape = layer.output_shape
        kh, kw = layer.kernel_size
        return _spatial_size(out_shape) * out_shape[-1] * kh * kw
    if isinstance(layer, keras.layers.SeparableConv2D):
        in_channels = layer.input_shape[-1]
        out_shape = layer.output_shape
        kh, kw = layer.kernel_size
        depthwise = _spatial_size(out_shape) * in_channels * layer.depth_multiplier * kh * kw
        pointwise = _spatial_size(out_shape) * in_channels * layer.depth_multiplier * out_shape[-1]
        return depthwise + pointwise
    if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv1D):
        in_channels = layer.input_shape[-1]
        out_shape = layer.output_shape
        kernel_elems = int(np.prod(layer.kernel_size))
        return _spatial_size(out_shape) * out_shape[-1] * kernel_elems * in_channels // layer.groups
    if isinstance(layer, keras.layers.Dense):
        in_shape = layer.input_shape
        return _spatial_size(in_shape) * in_shape[-1] * layer.units
    return 0


def _iter_layers(model):
    import tensorflow as tf

    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from _iter_layers(layer)
        else:
            yield layer


def count_macs(model, per_layer=False):
    """Total conv+dense MACs for one input (or a {layer name: MACs} dict with per_layer=True)."""
    macs = {layer.name: layer_macs(layer) for layer in _iter_layers(model)}
    return macs if per_layer else sum(macs.values())


def count_params(model):
    """Keras ``count_params()``: trainable + non-trainable weights, BN moving statistics included."""
    return int(model.count_params())


def count_flops(model):
    """FLOPs of one inference from the TF profiler on the frozen graph (batch 1)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    input_specs = [tf.TensorSpec([1, *inp.shape[1:]], inp.dtype) for inp in model.inputs]
    concrete = tf.function(lambda *xs: model(xs if len(xs) > 1 else xs[0], training=False)).get_concrete_function(
        *input_specs
    )
    frozen = convert_variables_to_constants_v2(concrete)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options)
    return int(profile.total_float_ops)

"""Cut points, pruned-model construction and tail freezing (paper Alg. 1, steps 2-4).

A cut is named after the block whose pointwise ReLU it follows: ``conv1`` (the stem's ReLU), ``block1`` ..
``blockN``. In a fresh Keras session these are the layers the original sweep scripts name ``activation``,
``activation_2``, ``activation_4``, ...: the stem ReLU, then every second ReLU (the odd ones are the depthwise
ReLUs). Cuts are found structurally (ReLU layers in graph order), so they do not depend on Keras auto-names.
"""

import re

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

from depth_pruning.aux_models import build_aux_head

_AUTO_NAME = re.compile(r"^activation(?:_(\d+))?$")


def _is_relu(layer):
    import tensorflow as tf

    if isinstance(layer, tf.keras.layers.ReLU):
        return True
    if isinstance(layer, tf.keras.layers.Activation):
        return getattr(layer.activation, "__name__", "") == "relu"
    return False


def relu_layers(model):
    """ReLU layers of ``model`` in graph (topological) order."""
    return [layer for layer in model.layers if _is_relu(layer)]


def cut_points(model):
    """Ordered ``{cut name: layer name}``: conv1, then block k = the k-th pointwise ReLU."""
    relus = relu_layers(model)
    if len(relus) < 1 or len(relus) % 2 != 1:
        raise ValueError(
            f"{model.name}: expected a stem ReLU followed by (depthwise, pointwise) ReLU pairs, "
            f"found {len(relus)} ReLU layers"
        )
    cuts = {"conv1": relus[0].name}
    for k in range(1, (len(relus) - 1) // 2 + 1):
        cuts[f"block{k}"] = relus[2 * k].name
    return cuts


def resolve_cut(model, cut):
    """Layer name of ``cut``: a cut name (conv1, block5), a layer of ``model``, or an original auto-name.

    The original scripts pass Keras auto-names (``activation_10``) of a base model built in a fresh session.
    If such a name is not a layer of ``model`` (names differ once other models were built in the process), it
    is read as "the N-th ReLU", which is what it meant in the original.
    """
    cuts = cut_points(model)
    if cut in cuts:
        return cuts[cut]
    names = {layer.name for layer in model.layers}
    if cut in names:
        return cut
    match = _AUTO_NAME.match(cut)
    relus = relu_layers(model)
    if match:
        index = int(match.group(1) or 0)
        if index < len(relus):
            return relus[index].name
    raise ValueError(
        f"unknown cut {cut!r}: use one of {', '.join(cuts)} (or a layer name of {model.name}, "
        f"or the original's activation_N names with N < {len(relus)})"
    )


def cut_name_of_layer(model, layer_name):
    """Inverse of ``cut_points``: the cut name of a layer name (None if the layer is not a cut point)."""
    for cut, name in cut_points(model).items():
        if name == layer_name:
            return cut
    return None


def build_pruned_model(base_model, cut, aux_arch, num_classes, frozen_tail=True, aux_bn_momentum=0.99):
    """``Model(base.input, aux(cut output))``: the tail up to the cut plus a new aux head.

    frozen_tail=True (the paper's headline setting, original flag ``--frozen_head True``) sets
    ``base_model.trainable = False``: tail weights get no gradient and its BatchNorm layers run in inference
    mode, so their moving statistics stay fixed too. Dropout in the tail stays active during training.
    Keras keeps only the layers on the path from the input to the new output, so every layer after the cut
    is dropped from the returned model.
    """
    import tensorflow as tf

    layer_name = resolve_cut(base_model, cut)
    base_model.trainable = not frozen_tail
    features = _output_in_model(base_model, base_model.get_layer(layer_name))
    outputs = build_aux_head(aux_arch, features, num_classes, bn_momentum=aux_bn_momentum)
    cut_label = cut_name_of_layer(base_model, layer_name) or layer_name
    return tf.keras.Model(inputs=base_model.inputs, outputs=outputs, name=f"{base_model.name}_{cut_label}_{aux_arch}")


def _output_in_model(model, layer):
    """Output tensor of ``layer`` in ``model``'s graph (a shared layer, as in ds_cnn_flat, has several)."""
    if len(layer._inbound_nodes) == 1:
        return layer.output
    for node_index in range(len(layer._inbound_nodes)):
        if f"{layer.name}_ib-{node_index}" in model._network_nodes:  # tf-keras functional node keys
            return layer.get_output_at(node_index)
    raise ValueError(f"layer {layer.name} has no node in model {model.name}")


def tail_layer_names(pruned_model):
    """Names of the pruned model's layers that came from the base model (everything but the aux head)."""
    return [layer.name for layer in pruned_model.layers if not layer.name.startswith("aux_")]

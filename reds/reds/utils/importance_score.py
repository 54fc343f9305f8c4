"""First-order Taylor importance scores and the permutation that makes every subnetwork a prefix.

As in the original ``utils/importance_score.py``: sum the *signed* loss gradients of ``minibatch_number``
training batches (model called with ``training=True``, quirk Q17), then score each weight ``|w * G|`` and sum
over a unit's weights (dense neuron: incoming weights; conv filter: kh x kw x cin; depthwise channel: kh x kw
x multiplier). Pointwise kernels are scored one by one ([filter][input channel]). Scores are multiplied by
``SCORE_SCALE`` and rounded to integers for the knapsack. Biases are not scored.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import tensorflow as tf

from reds.utils.keyword_spotting_models import architecture

keras = tf.keras
SCORE_SCALE = 1e5  # the original's integer scaling of the Taylor scores


def _kernel(layer):
    return layer.depthwise_kernel if isinstance(layer, keras.layers.DepthwiseConv2D) else layer.kernel


def accumulate_gradients(model, batches, minibatch_number, training=True):
    """{layer name: sum of dLoss/dkernel over the first ``minibatch_number`` batches}."""
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D
                                                     | keras.layers.Dense)]
    kernels = [_kernel(layer) for layer in layers]
    sums = [tf.zeros_like(k) for k in kernels]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    seen = 0
    for x, y in batches:
        if seen >= minibatch_number:
            break
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=training))
        grads = tape.gradient(loss, kernels)
        sums = [s + g for s, g in zip(sums, grads)]
        seen += 1
    if seen == 0:
        raise ValueError("no training batches to score importance on")
    return {layer.name: (kernel.numpy(), total.numpy()) for layer, kernel, total in zip(layers, kernels, sums)}


def unit_scores(weight_and_grad, kind):
    """Per-unit Taylor scores from (kernel, summed gradient): kind dense | conv | depthwise | pointwise."""
    kernel, grad = weight_and_grad
    taylor = np.abs(kernel * grad)
    if kind == "dense":
        scores = taylor.sum(axis=0)
    elif kind == "conv":
        scores = taylor.sum(axis=(0, 1, 2))
    elif kind == "depthwise":
        scores = taylor.sum(axis=(0, 1, 3))
    elif kind == "pointwise":
        scores = taylor[0, 0].T  # [filter][input channel]
    else:
        raise ValueError(kind)
    return np.round(scores * SCORE_SCALE)


def ranking(scores):
    """Unit order by descending score (stable, so ties keep the original order)."""
    return np.argsort(-np.asarray(scores), kind="stable")


# ------------------------------------------------------------------------------------------------ permutation


def permute_outputs(layer, perm):
    weights = layer.get_weights()
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        weights = [weights[0][:, :, perm, :], weights[1][perm]]
    elif isinstance(layer, keras.layers.Conv2D | keras.layers.Dense):
        weights = [weights[0][..., perm], weights[1][perm]]
    elif isinstance(layer, keras.layers.BatchNormalization):
        weights = [w[perm] for w in weights]
    else:
        raise TypeError(layer)
    layer.set_weights(weights)


def permute_inputs(layer, perm, flatten_spatial=None):
    """Reorder the input channels a layer reads; a dense after a flatten permutes its (h, w, c) rows."""
    kernel, bias = layer.get_weights()
    if isinstance(layer, keras.layers.Conv2D):
        kernel = kernel[:, :, perm, :]
    elif flatten_spatial is not None:
        positions, channels = flatten_spatial, len(perm)
        rows = (np.arange(positions)[:, None] * channels + np.asarray(perm)[None, :]).reshape(-1)
        kernel = kernel[rows]
    else:
        kernel = kernel[perm]
    layer.set_weights([kernel, bias])


def permute_model(model, scores, consistent_permutation=False, channel_aware_flatten_slice=False):
    """Sort the units of every width layer (and the depthwise channels) by score, in place.

    ``scores``: {layer name: per-unit scores} for the scored layers (DNN dense_l, CNN conv_l, DS-CNN conv_0
    and dw_i). Returns {layer name: permutation applied} so scores can be re-indexed. Faithful quirks:
    DS-CNN depthwise blocks >= 2 do not reorder the previous pointwise filters, and each pointwise bias is
    gathered with its input order (Q3); the CNN flatten rows are not reordered (Q4). The flags give the
    function-preserving variants.
    """
    arch = architecture(model)
    get = model.get_layer
    perms = {}
    if arch.family == "dnn":
        names = list(arch.width_layers) + ["logits"]
        for name, nxt in zip(names, names[1:]):
            perms[name] = ranking(scores[name])
            permute_outputs(get(name), perms[name])
            permute_inputs(get(nxt), perms[name])
    elif arch.family == "cnn":
        perms["conv_1"] = ranking(scores["conv_1"])
        permute_outputs(get("conv_1"), perms["conv_1"])
        permute_outputs(get("bn_1"), perms["conv_1"])
        permute_inputs(get("conv_2"), perms["conv_1"])
        perms["conv_2"] = ranking(scores["conv_2"])
        permute_outputs(get("conv_2"), perms["conv_2"])
        permute_outputs(get("bn_2"), perms["conv_2"])
        if channel_aware_flatten_slice:
            spatial = int(np.prod(get("flatten").input_shape[1:3]))
            permute_inputs(get("linear"), perms["conv_2"], flatten_spatial=spatial)
    else:
        blocks = len(arch.width_layers) - 1
        perm = ranking(scores["conv_0"])
        perms["conv_0"] = perm
        permute_outputs(get("conv_0"), perm)
        permute_outputs(get("bn_0"), perm)
        for i in range(1, blocks + 1):
            if i > 1:
                perm = ranking(scores[f"dw_{i}"])
                if consistent_permutation:
                    permute_outputs(get(f"pw_{i - 1}"), perm)
                    permute_outputs(get(f"bn_pw_{i - 1}"), perm)
                    perms[f"pw_{i - 1}"] = perm
            perms[f"dw_{i}"] = perm
            permute_outputs(get(f"dw_{i}"), perm)
            permute_outputs(get(f"bn_dw_{i}"), perm)
            pw = get(f"pw_{i}")
            kernel, bias = pw.get_weights()
            kernel = kernel[:, :, perm, :]
            if not consistent_permutation and len(bias) == len(perm):
                bias = bias[perm]  # Q3: the original gathers the pointwise bias with the input order
            pw.set_weights([kernel, bias])
    return perms


def permuted_scores(scores, perms):
    """Scores re-indexed by the permutation each layer received (sorted where a layer used its own ranking)."""
    return {name: np.asarray(s)[perms[name]] if name in perms else np.asarray(s) for name, s in scores.items()}

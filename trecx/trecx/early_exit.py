"""Pieces shared by the three tasks: finding attachment points in the mlperf_tiny base models, building
early-exit models on them, the joint loss, the EV weight-transfer schedule and SDN's loss-weight ramp.

The base models come from ``mlperf_tiny`` (ResNet-8, DS-CNN, MobileNetV1-0.25), whose layers are unnamed, so
attachment points are found by structure (the k-th residual add, the k-th pointwise conv) rather than by the
original repo's hard-coded layer names. Early-exit heads take tensors of the base graph and the final Dense is
rebuilt (its input grows when EV features are concatenated), so the base's own classifier is dropped.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

EE_OUTPUT = "ee_out"  # names of the two outputs of T-RECX models, as in the original code
FINAL_OUTPUT = "ef_out"
EE_DEPTHWISE = "depth_conv_ee_1"  # the EE head's depthwise layer (source of the weight transfer)
EV_DEPTHWISE = "depth_conv_eefinal_out"  # DCONV_E-f on the final feature maps (target of the weight transfer)


def _tf():
    import tensorflow as tf

    return tf


def consumer(model, tensor, layer_type=None):
    """The first layer of ``model`` (in topological order) whose input is ``tensor``."""
    for layer in model.layers:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        if any(t is tensor for t in inputs) and (layer_type is None or isinstance(layer, layer_type)):
            return layer
    raise ValueError(f"no layer of {model.name} consumes {tensor.name}")


def residual_stack_output(model, index):
    """Output of the ReLU after the ``index``-th (0-based) residual add of ResNet-8 (end of stack index+1)."""
    tf = _tf()
    adds = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Add)]
    return consumer(model, adds[index].output, tf.keras.layers.Activation).output


def pointwise_block_output(model, index):
    """Output of the ReLU after the ``index``-th (0-based) 1x1 pointwise conv (end of a separable block)."""
    tf = _tf()
    layers = tf.keras.layers
    pointwise = [
        layer for layer in model.layers
        if isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.DepthwiseConv2D)
        and tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) == (1, 1)
    ]
    bn = consumer(model, pointwise[index].output, layers.BatchNormalization)
    return consumer(model, bn.output, layers.Activation).output


def final_feature_maps(model):
    """Input of the final pooling (the last block's feature maps, after DS-CNN's dropout)."""
    tf = _tf()
    pools = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.AveragePooling2D)]
    return pools[-1].input


def final_pooled_features(model):
    """Input of the base model's classifier Dense (the flattened global-average-pooled vector)."""
    return model.layers[-1].input


def classifier(num_classes, name, he_normal=True):
    tf = _tf()
    kwargs = {"kernel_initializer": "he_normal"} if he_normal else {}
    return tf.keras.layers.Dense(num_classes, activation="softmax", name=name, **kwargs)


def channel_slice(x, start, stop, name):
    """Channels [start, stop) as a Keras layer (a Lambda would not survive SavedModel/TFLite export as well)."""
    tf = _tf()

    class ChannelSlice(tf.keras.layers.Layer):
        def call(self, inputs):
            return inputs[..., start:stop]

    return ChannelSlice(name=name)(x)


# --------------------------------------------------------------------------------------------------- training
def sparse_ce():
    return _tf().keras.losses.SparseCategoricalCrossentropy()


def compile_joint(model, loss_weights, learning_rate, optimizer=None):
    """Adam + sparse CE on every exit, total = sum_i w_i * CE_i (+ the layers' L2 terms).

    ``loss_weights`` maps output name to weight: a float, or a ``tf.Variable`` that callbacks change between
    epochs (SDN's ramp). Variable weights are read inside the loss so the traced train step sees new values.
    """
    tf = _tf()
    losses, static_weights = {}, {}
    for name in model.output_names:
        weight = loss_weights[name]
        if isinstance(weight, tf.Variable):
            base = sparse_ce()

            def weighted(y_true, y_pred, weight=weight, base=base):
                return weight * base(y_true, y_pred)

            losses[name], static_weights[name] = weighted, 1.0
        else:
            losses[name], static_weights[name] = "sparse_categorical_crossentropy", float(weight)
    optimizer = optimizer or tf.keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss=losses, loss_weights=static_weights, metrics=["accuracy"])
    return model


def make_weight_transfer_callback(source_layer=EE_DEPTHWISE, target_layer=EV_DEPTHWISE, transfer_epochs=0):
    """Keras callback: before every training batch of the first ``transfer_epochs`` epochs, copy the EE
    depthwise kernel and bias into DCONV_E-f (T-RECX's weight transfer). Afterwards DCONV_E-f trains freely.

    The copy overwrites DCONV_E-f's own update of the previous step; its Adam moments still accumulate, as in
    the original code.
    """
    tf = _tf()

    class WeightTransfer(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.transfer_epochs = transfer_epochs
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch < self.transfer_epochs:
                source, target = self.model.get_layer(source_layer), self.model.get_layer(target_layer)
                for src, dst in zip(source.weights, target.weights, strict=True):
                    dst.assign(src)

    return WeightTransfer()


def original_transfer_epochs(epochs):
    """Epochs with weight transfer in the original IC/KWS callback: it sets ``no_transfer`` at the end of an epoch
    ``> (epochs // 5) * 4``, so epochs 0 .. (epochs // 5) * 4 + 1 transfer (IC 402 of 500, KWS 30 of 36)."""
    return min((epochs // 5) * 4 + 2, epochs)


def transfer_epochs_for(epochs, fraction):
    """Epochs with weight transfer: the original runs it for about the first 80% (IC 402/500, KWS 30/36)."""
    return int(round(epochs * fraction))


def sdn_tau(epoch, epochs, max_tau, start=0.01):
    """SDN's intended per-exit loss weight: min(0.01 + epoch * C_i / epochs, C_i) (Kaya et al., 2019)."""
    return min(start + epoch * max_tau / epochs, max_tau)


def make_sdn_ramp_callback(weights, max_taus, epochs, frozen=False, start=0.01):
    """Keras callback setting each exit's loss-weight variable to ``sdn_tau(epoch)`` at every epoch start.

    frozen=True reproduces the original T-RECX code, where tau is a Python attribute read inside a traced
    function, so it stays at its epoch-0 value 0.01 for the whole run.
    """
    tf = _tf()

    class SDNRamp(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            for weight, max_tau in zip(weights, max_taus, strict=True):
                weight.assign(start if frozen else sdn_tau(epoch, epochs, max_tau, start))

    return SDNRamp()


# ------------------------------------------------------------------------------------------------ inference
def exit_submodels(model, ee_output=EE_OUTPUT):
    """(input -> early exit) and the full model, for costing each exit separately."""
    tf = _tf()
    return tf.keras.Model(model.inputs, model.get_layer(ee_output).output, name=f"{model.name}_to_ee"), model


def exit_costs(model, ee_output=EE_OUTPUT):
    """C_Ee (input -> EE, with its head) and C_Ef (all layers: the EE head is always paid) in conv+dense MACs."""
    from mlperf_tiny.counting import count_macs

    to_ee, _ = exit_submodels(model, ee_output)
    return count_macs(to_ee), count_macs(model)


EE_HEAD_ENTRY_LAYERS = ("pointwise_conv_ee_1", "slice_ee_1")  # first layer of the EE head, per task


def early_exit_cut(model):
    """The backbone tensor the EE head attaches to (everything the final exit needs from part 1)."""
    for name in EE_HEAD_ENTRY_LAYERS:
        try:
            return model.get_layer(name).input
        except ValueError:
            continue
    raise ValueError(f"{model.name} has no T-RECX early-exit head (layers {EE_HEAD_ENTRY_LAYERS})")


def split_at_early_exit(model, ee_output=EE_OUTPUT, final_output=FINAL_OUTPUT):
    """Two models a device runs in turn: part 1 = input -> (EE softmax, backbone features at the exit);
    part 2 = those features -> final softmax. A sample that exits early never runs part 2."""
    tf = _tf()
    cut = early_exit_cut(model)
    part1 = tf.keras.Model(model.inputs, [model.get_layer(ee_output).output, cut], name=f"{model.name}_part1")
    part2 = tf.keras.Model(cut, model.get_layer(final_output).output, name=f"{model.name}_part2")
    return part1, part2


def run_dynamic_exit(part1, part2, samples, rho, strict=False):
    """Batch-1 executor of Eq. 1 counting the MACs it actually runs.

    Returns (predictions, exited mask, total MACs). Part 2 is only invoked for samples below the threshold.
    """
    import numpy as np
    from mlperf_tiny.counting import count_macs

    macs1, macs2 = count_macs(part1), count_macs(part2)
    predictions, exited, total = [], [], 0
    for sample in samples:
        probs_ee, features = part1(sample[None], training=False)
        total += macs1
        score = float(np.max(probs_ee))
        leave = score > rho if strict else score >= rho
        if not leave:
            probs = part2(features, training=False)
            total += macs2
        else:
            probs = probs_ee
        predictions.append(int(np.argmax(probs)))
        exited.append(leave)
    return np.array(predictions), np.array(exited), total


# ------------------------------------------------------------------------------------- start from the base
HEAD_LAYERS = ("pointwise_conv_ee_1", "slice_ee_1", EE_DEPTHWISE, EV_DEPTHWISE, EE_OUTPUT, FINAL_OUTPUT)


def _weighted(model):
    return [layer for layer in model.layers if layer.weights]


def init_from_base(model, base, hint=""):
    """Copy a trained base model (no early exit) into a freshly built T-RECX model of the same task; returns it.

    The backbone layers (every weighted layer but the EE/EV heads and the final classifier) take the base's weights
    in order, matched by structure (the base's layers are unnamed). The final classifier (pooled features first,
    EV features second in its input) starts as the base's classifier with zero weights on the EV inputs, so before
    training the final exit computes exactly the base's output; the EE head keeps Keras' initializers. Raises
    ValueError (message ending with ``hint``) when the base does not fit. (Moved here from compare-kws' adapter.)
    """
    import numpy as np

    backbone = [layer for layer in _weighted(model) if layer.name not in HEAD_LAYERS]
    *source, base_classifier = _weighted(base)
    shapes = [[tuple(w.shape) for w in layer.weights] for layer in source]
    if shapes != [[tuple(w.shape) for w in layer.weights] for layer in backbone]:
        raise ValueError(f"{base.name}: its layers do not match the backbone of {model.name}{hint}")
    for target, layer in zip(backbone, source):
        target.set_weights(layer.get_weights())
    final = model.get_layer(FINAL_OUTPUT)
    kernel, bias = base_classifier.get_weights()
    widened = np.zeros(final.kernel.shape, np.float32)
    if kernel.shape[0] > widened.shape[0] or kernel.shape[1] != widened.shape[1]:
        raise ValueError(f"{base.name}: classifier {kernel.shape} does not fit {tuple(final.kernel.shape)}{hint}")
    widened[: kernel.shape[0]] = kernel
    final.set_weights([widened, bias])
    return model

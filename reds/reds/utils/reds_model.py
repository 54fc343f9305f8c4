"""Nested REDS model: one weight tensor per layer, every subnetwork a prefix slice of it.

This replaces the original's ``linear.py``, ``convolution.py``, ``ds_convolution.py`` and
``batch_normalization.py`` with one architecture-independent walk over a plain Keras model's layers:

- conv ``kernel[..., :cin, :cout]``, depthwise ``kernel[:, :, :c, :]``, dense ``kernel[:cin, :cout]``;
- batch norm sliced to ``[:c]`` and always in inference mode, using the pretrained moving statistics
  (quirk Q2: the original's BN fork ignored ``training``; gamma/beta stay trainable);
- the dense layer after a flatten reads the *leading* ``H*W*c`` rows (faithful, quirk Q4/Q5), or with
  ``channel_aware_flatten_slice`` the rows ``h*W*C + w*C + c`` for ``c < c_s`` (the consistent variant).

``RedsModel`` runs all subnetworks on one input and returns a list of logits (index 0 = full model).
``extract_subnetwork`` builds a plain Keras model of one subnetwork with the sliced weights, which is what
gets exported to TFLite; a test checks it gives the nested model's outputs to 1e-5.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np
import tensorflow as tf

from reds.utils.keyword_spotting_models import architecture

keras = tf.keras
BN_EPSILON_DEFAULT = 1e-3  # Keras BatchNormalization default


def _flatten_rows(spatial_shape, full_channels, channels, channel_aware):
    h, w = spatial_shape
    if not channel_aware:
        return np.arange(h * w * channels)
    grid = np.arange(h * w)[:, None] * full_channels + np.arange(channels)[None, :]
    return grid.reshape(-1)


def layer_plan(model, widths, channel_aware_flatten_slice=False):
    """[(layer, slicing)] for one subnetwork: the input/output units each weighted layer keeps.

    ``widths`` maps width-layer names to units; missing layers keep all units. Output dicts:
    ``{"cin": n, "cout": n}`` for conv/dense, ``{"channels": n}`` for depthwise and BN, ``{"rows": idx}`` for
    the dense after a flatten.
    """
    widths = widths or {}
    plan = []
    channels = None  # units of the last weighted layer's output
    flatten = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            plan.append((layer, {"channels": channels}))
        elif isinstance(layer, keras.layers.Conv2D):
            cin = layer.input_shape[-1] if channels is None else channels
            cout = int(widths.get(layer.name, layer.filters))
            plan.append((layer, {"cin": cin, "cout": cout}))
            channels = cout
        elif isinstance(layer, keras.layers.BatchNormalization):
            plan.append((layer, {"channels": channels}))
        elif isinstance(layer, keras.layers.Flatten):
            shape = layer.input_shape
            if len(shape) == 4 and channels is not None:
                flatten = _flatten_rows(shape[1:3], shape[3], channels, channel_aware_flatten_slice)
            else:
                flatten = None
            plan.append((layer, {}))
        elif isinstance(layer, keras.layers.Dense):
            cout = int(widths.get(layer.name, layer.units))
            if flatten is not None:
                plan.append((layer, {"rows": flatten, "cout": cout}))
                flatten = None
            else:
                cin = layer.input_shape[-1] if channels is None else channels
                plan.append((layer, {"cin": cin, "cout": cout}))
            channels = cout
        else:
            plan.append((layer, {}))
    return plan


def sliced_weights(layer, slicing):
    """The layer's weights restricted to one subnetwork (tensors, so gradients flow to the shared weights)."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        c = slicing["channels"]
        return [layer.depthwise_kernel[:, :, :c, :], layer.bias[:c]]
    if isinstance(layer, keras.layers.Conv2D):
        return [layer.kernel[:, :, : slicing["cin"], : slicing["cout"]], layer.bias[: slicing["cout"]]]
    if isinstance(layer, keras.layers.Dense):
        cout = slicing["cout"]
        if "rows" in slicing:
            return [tf.gather(layer.kernel[:, :cout], slicing["rows"]), layer.bias[:cout]]
        return [layer.kernel[: slicing["cin"], :cout], layer.bias[:cout]]
    if isinstance(layer, keras.layers.BatchNormalization):
        c = slicing["channels"]
        return [layer.gamma[:c], layer.beta[:c], layer.moving_mean[:c], layer.moving_variance[:c]]
    return []


def _activation(layer, x):
    if layer.activation is None or layer.activation is keras.activations.linear:
        return x
    return layer.activation(x)


def _apply(layer, slicing, x, bn_statistics=None):
    """One layer of one subnetwork (full-width weights sliced by ``slicing``), BN in inference mode."""
    weights = sliced_weights(layer, slicing)
    if bn_statistics is not None:  # arrays, or variables that later recalibrations update in traced graphs
        weights = weights[:2] + [tf.convert_to_tensor(v) for v in bn_statistics]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        x = tf.nn.depthwise_conv2d(x, weights[0], (1, *layer.strides, 1), layer.padding.upper()) + weights[1]
        return _activation(layer, x)
    if isinstance(layer, keras.layers.Conv2D):
        return _activation(layer, tf.nn.conv2d(x, weights[0], layer.strides, layer.padding.upper()) + weights[1])
    if isinstance(layer, keras.layers.Dense):
        return _activation(layer, tf.matmul(x, weights[0]) + weights[1])
    if isinstance(layer, keras.layers.BatchNormalization):
        gamma, beta, mean, variance = weights
        return tf.nn.batch_normalization(x, mean, variance, beta, gamma, layer.epsilon)
    return layer(x, training=False)  # reshape, flatten, pooling, activations: no weights


def forward(model, plan, x, bn_statistics=None):
    """Run one subnetwork of ``model`` (full-width weights) on ``x`` with BN in inference mode.

    ``bn_statistics``: {BN layer name: (mean, variance)} of this subnetwork (``--bn_mode per_subnet_recalib``)
    used instead of the sliced shared moving statistics.
    """
    for layer, slicing in plan:
        if not isinstance(layer, keras.layers.InputLayer):
            x = _apply(layer, slicing, x, (bn_statistics or {}).get(layer.name))
    return x


# layers whose output channel c depends on input channel c only: on a channel prefix they give the output prefix
_CHANNELWISE = (keras.layers.BatchNormalization, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.Activation,
                keras.layers.AveragePooling2D, keras.layers.MaxPooling2D, keras.layers.Dropout)


def _prefix_of(tensor, channels):
    return tensor if channels == tensor.shape[-1] else tensor[..., :channels]


def _shared_output_channels(layer, slicings, channels):
    """Output channels per subnetwork when one computation at the widest slicing serves them all (each then reads
    a channel prefix of it), or None when the subnetworks need their own computation."""
    depthwise = isinstance(layer, keras.layers.DepthwiseConv2D) and layer.depth_multiplier == 1
    if depthwise or isinstance(layer, _CHANNELWISE):
        return [slicing.get("channels", c) if slicing.get("channels") is not None else c
                for slicing, c in zip(slicings, channels)]
    if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense) and all("rows" not in s for s in slicings) \
            and len({s["cin"] for s in slicings}) == 1 and len(set(channels)) == 1:
        return [s["cout"] for s in slicings]  # the same input: output filters are a prefix of the widest
    return None


def forward_nested(model, plans, x, statistics=None):
    """Every subnetwork's output on ``x``, computing what they share once.

    Walking the layers together, subnetworks that read (a channel prefix of) the same tensor share one
    computation at the widest slicing when that is exact: channelwise layers (depthwise, BN, activations,
    pooling) and convs / dense layers with the same input; each then reads the channel prefix it needs. For
    REDS's models that is the first conv and the first depthwise block (their output channels are prefixes of
    the full model's); from the first layer whose input widths differ, each subnetwork runs its own slice.
    Outputs equal ``forward`` per plan (same operations on the same values).
    """
    count = len(plans)
    statistics = statistics or [None] * count
    tensors = [x]
    source = [0] * count  # index into tensors of what each subnetwork reads
    channels = [x.shape[-1]] * count  # the channel prefix of it
    for position, (layer, _) in enumerate(plans[0]):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        slicings = [plan[position][1] for plan in plans]
        layer_stats = [(stats or {}).get(layer.name) for stats in statistics]
        groups = {}
        for s in range(count):
            groups.setdefault(source[s], []).append(s)
        for tensor_index, members in groups.items():
            shared = None
            if len(members) > 1 and all(layer_stats[s] is None for s in members):
                shared = _shared_output_channels(layer, [slicings[s] for s in members], [channels[s] for s in members])
            if shared is not None:
                widest = members[int(np.argmax(shared))]
                tensors.append(_apply(layer, slicings[widest], _prefix_of(tensors[tensor_index], channels[widest])))
                for s, out_channels in zip(members, shared):
                    source[s], channels[s] = len(tensors) - 1, out_channels
                continue
            for s in members:
                tensors.append(_apply(layer, slicings[s], _prefix_of(tensors[tensor_index], channels[s]),
                                      layer_stats[s]))
                source[s], channels[s] = len(tensors) - 1, tensors[-1].shape[-1]
    return [_prefix_of(tensors[source[s]], channels[s]) for s in range(count)]


def subnetwork_widths(model, width_tuples):
    """[{layer: units}] from width tuples in ``architecture(model).width_layers`` order."""
    names = architecture(model).width_layers
    return [dict(zip(names, (int(w) for w in widths))) for widths in width_tuples]


class RedsModel(keras.Model):
    """All subnetworks of ``base`` in one model: ``call(x)`` returns their logits (index 0 = full width)."""

    def __init__(self, base, subnet_widths, channel_aware_flatten_slice=False, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.subnet_widths = [dict(w) for w in subnet_widths]
        self.channel_aware_flatten_slice = channel_aware_flatten_slice
        self.plans = [layer_plan(base, w, channel_aware_flatten_slice) for w in self.subnet_widths]

        self.bn_statistics = None  # per subnetwork {BN name: (mean, variance)} after recalibrate_batch_norm

    def _statistics(self, index):
        return None if self.bn_statistics is None else self.bn_statistics[index]

    def call(self, inputs, training=None):
        statistics = [self._statistics(s) for s in range(len(self.plans))]
        return forward_nested(self.base, self.plans, inputs, statistics)

    def call_subnetwork(self, inputs, index):
        """Run only subnetwork ``index`` (switching width = picking another slice plan; no weight moves)."""
        return forward(self.base, self.plans[index], inputs, self._statistics(index))

    def recalibrate_batch_norm(self, x, batch_size=256):
        """Give every subnetwork its own BN moving statistics: the population mean/variance of each BN input on
        ``x`` at that subnetwork's widths (``--bn_mode per_subnet_recalib`` / ``per_subnet_stats``; the faithful
        mode shares the pretrained statistics, quirk Q2). Layer by layer over the whole of ``x``, so each BN sees
        the already-recalibrated layers before it. The statistics are variables: a later recalibration updates
        them in place (``set_bn_statistics``)."""
        statistics = []
        for plan in self.plans:
            stats = {}
            h = [tf.constant(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
            for layer, slicing in plan:
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                if isinstance(layer, keras.layers.BatchNormalization):
                    axes = tuple(range(len(h[0].shape) - 1))
                    count = sum(int(np.prod([c.shape[a] for a in axes])) for c in h)
                    mean = sum(np.asarray(tf.reduce_sum(tf.cast(c, tf.float64), axes)) for c in h) / count
                    sq = sum(np.asarray(tf.reduce_sum(tf.square(tf.cast(c, tf.float64) - mean), axes)) for c in h)
                    stats[layer.name] = (mean.astype(np.float32), (sq / count).astype(np.float32))
                h = [_apply(layer, slicing, c, stats.get(layer.name)) for c in h]
            statistics.append(stats)
        self.set_bn_statistics(statistics)
        return statistics

    def set_bn_statistics(self, statistics):
        """Use ``statistics`` ([{BN name: (mean, variance)}] per subnetwork). They are kept as variables: a later
        call updates them in place, so traced train steps read the new values without retracing."""
        if self.bn_statistics is None:
            self.bn_statistics = [{name: tuple(tf.Variable(v, trainable=False) for v in pair)
                                   for name, pair in stats.items()} for stats in statistics]
            self._reds_predict = None  # the traced inference function read the shared statistics
        else:
            for variables, stats in zip(self.bn_statistics, statistics):
                for name, pair in stats.items():
                    for variable, value in zip(variables[name], pair):
                        variable.assign(value)


def extract_subnetwork(base, widths, builder, channel_aware_flatten_slice=False, bn_statistics=None):
    """A plain Keras model of one subnetwork with its slice of ``base``'s weights.

    ``builder(widths=...)`` must build the same architecture at those widths (the registered builder).
    ``bn_statistics``: the subnetwork's own BN statistics (``RedsModel.recalibrate_batch_norm``), if any.
    """
    plan = layer_plan(base, widths, channel_aware_flatten_slice)
    sub = builder(widths=widths)
    by_name = {layer.name: slicing for layer, slicing in plan}
    for layer in sub.layers:
        source = base.get_layer(layer.name)
        if not layer.weights:
            continue
        values = [np.asarray(t) for t in sliced_weights(source, by_name[layer.name])]
        if bn_statistics and layer.name in bn_statistics:
            values = values[:2] + [np.asarray(v) for v in bn_statistics[layer.name]]
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(values)
        else:
            layer.set_weights(values[: len(layer.weights)])
    return sub


def kernel_parameter_count(model):
    """Conv/depthwise/dense kernel and bias parameters (BN excluded): the P of REDS's loss weights."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense):
            total += sum(int(np.prod(w.shape)) for w in layer.weights)
    return total

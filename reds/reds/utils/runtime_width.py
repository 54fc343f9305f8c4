"""One TFLite flatbuffer for all REDS subnetworks, the active one chosen at run time by an int32 input.

``deploy.py`` exports one flatbuffer per subnetwork. Here a ``tf.function`` over the full-width weights takes
the input batch and a scalar ``subnetwork`` index, looks up each layer's slice bounds in small constant
``[subnetworks, k]`` int32 tables (GATHER), and slices the weights with dynamic sizes (SLICE). Only the
active prefix is computed, and the weights are stored once. The slicing is the one ``reds_model.layer_plan``
describes: conv ``kernel[..., :cin, :cout]``, depthwise ``kernel[:, :, :c, :]``, BN ``[:c]``, dense
``kernel[:cin, :cout]``, and for the dense after a flatten either the leading ``H*W*c`` rows (faithful,
Q4/Q5) or the rows of the active channels (channel-aware). Index 0 is the full model, as in ``RedsModel``.
BN is folded into the conv/depthwise/dense just before it (``fold_batch_norm``), as the converter does for the
per-subnetwork flatbuffers. Folding is per channel, so slicing the folded weights is the same as folding the
sliced ones.

What the TFLite converter and runtime support (TF 2.21, ai_edge_litert 2.3). ``native_dynamic_filter_support``
and the tests check this:

- FULLY_CONNECTED, BATCH_MATMUL, MUL, ADD, SUM, SLICE, STRIDED_SLICE, PAD, RESHAPE, CONCATENATION and GATHER
  accept dynamic shapes and non-constant weights. Dense layers and unfolded BN are sliced directly. A
  matmul is written ``x @ w_t^T`` with the kernel stored ``[out, in]``, so it becomes FULLY_CONNECTED, which
  is about 2x faster than BATCH_MATMUL on a sliced kernel.
- CONV_2D and DEPTHWISE_CONV_2D need a filter with a static shape. The converter rejects a dynamically sliced
  filter ("'tf.Conv2D' op is neither a custom op nor a flex op"). With SELECT_TF_OPS the model converts, but
  neither interpreter links the Flex delegate ("Select TensorFlow op(s) ... not supported by this
  interpreter"), and Flex does not exist on microcontrollers. So sliced convs are lowered to builtins:
    * ``conv``: im2col. kh row shifts then kw column shifts of the padded input (SLICE, or STRIDED_SLICE for
      strides), CONCATENATION on channels, then one FULLY_CONNECTED with ``kernel[..., :cin, :cout]``;
    * ``pointwise`` (1x1, stride 1): one FULLY_CONNECTED over the flattened positions;
    * ``depthwise``: the same patches times ``kernel[:, :, :c]`` (MUL), summed over the taps (SUM).
  These compute only the sliced MACs, plus copies: the input patches, and the active weight block, which
  SLICE copies into a dynamic tensor at every invoke. Stock TFLite has no zero-copy prefix view; the paper's
  TFLite-Micro kernel provides one (not ported).
- Cost on this CPU: the dynamic-shape ops are re-prepared at every invoke and XNNPACK does not take them. The
  single flatbuffer is therefore several times slower than the per-subnetwork flatbuffers. For DS-CNN S the
  full width took about 0.6-0.8 ms against about 0.1 ms on the loaded 2-core machine. Within the one
  flatbuffer the MAC saving shows: the 25 % subnetwork runs in about half the full width's time. A switch
  costs one slower invoke, while the dynamic tensors are reallocated to the new shapes; ``switch`` measures it.
- Fallback ("mask" mode, per op type). The op runs at full width on the constant weights, on the input
  zero-padded to full width (PAD, then a constant-shape RESHAPE so CONV_2D sees a static shape). Its output is
  multiplied by a 0/1 channel mask row (GATHER + MUL). The outputs are the same: inactive channels are 0 and
  meet zero inputs downstream. There is no MAC saving. For the faithful flatten, the masked dense first
  gathers the flattened features into the leading-row order. ``export_runtime_width_tflite`` starts from
  ``modes`` (default: all sliced). If the converter or the runtime fails, or the float outputs differ from
  ``RedsModel.call_subnetwork`` by more than 1e-5, it masks one more op type (``FALLBACK_ORDER``) and retries.
  Each failure is listed in ``fallbacks``. With the versions above nothing falls back.
- Quantization. ``float32``: all sliced, equal to the nested model to about 1e-6. ``dynamic_range``
  converts, but the weights reach their matmul through a SLICE. The converter then leaves them float, so the
  flatbuffer is as big as the float one (masked layers would be quantized). ``int8`` (full integer, int8 I/O,
  calibrated on ``sample_x`` at every index) converts with every op sliced and int8. The weights are stored
  once as int8 (``stored_constants``), but with one scale per tensor: per-channel scales do not survive the
  SLICE. The biases are int8 and go through ADD instead of the int32 FULLY_CONNECTED bias. The error
  against the float nested model (``max_abs_diff``) was therefore about 1.5-2x that of the per-subnetwork
  int8 flatbuffers. It is reported, not asserted to 1e-5.
- Static branches (``tf.cond`` chain to IF subgraphs, each slicing the shared weights at static widths) were
  tried as an alternative and dropped. The converter constant-folds every branch's slices, so the weights are
  stored once per subnetwork (DS-CNN S: 264 KB against 93 KB), and it was no faster.

Nothing runs at import: TensorFlow is imported inside the functions.
"""

import time
from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
import numpy as np

OP_TYPES = ("conv", "pointwise", "depthwise", "batch_norm", "dense")
SLICE, MASK = "slice", "mask"
FALLBACK_ORDER = ("depthwise", "conv", "pointwise", "dense", "batch_norm")  # masked first when slicing fails
# max |TFLite - nested model| accepted for float32, relative to the largest |logit| when that exceeds 1: a
# trained DS-CNN's logits reach ~10, where float32 reordering alone gives 1.5e-5
FLOAT_TOLERANCE = 1e-5
LATENCY_REPEATS = 50  # batch-1 invokes per subnetwork (median)
SWITCH_ROUNDS = 20  # rounds over all subnetworks for the switch time (median)
QUANTIZATIONS = ("float32", "dynamic_range", "int8")
INDEX_NAME = "subnetwork"


def _same_padding(size, kernel, stride):
    """TF "SAME" padding (before, after) and output size along one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return (total // 2, total - total // 2), out


class RuntimeWidthModel:
    """The run-time-width forward pass over ``base`` (a ``tf.Module`` is kept in ``self.module``).

    ``modes`` maps op types (``OP_TYPES``) to ``"slice"`` or ``"mask"``; missing types are sliced.
    ``self.layers`` records, per weighted layer, its op type and mode.
    """

    def __init__(self, base, subnet_widths, channel_aware_flatten_slice=False, modes=None, fold_batch_norm=True):
        import tensorflow as tf

        from reds.utils.reds_model import layer_plan

        self.tf = tf
        self.base = base
        self.subnet_widths = [dict(w) for w in subnet_widths]
        self.channel_aware = bool(channel_aware_flatten_slice)
        self.modes = {t: SLICE for t in OP_TYPES} | dict(modes or {})
        unknown = set(self.modes) - set(OP_TYPES) or {m for m in self.modes.values() if m not in (SLICE, MASK)}
        if unknown:
            raise ValueError(f"unknown op types or modes {sorted(unknown)}; types {OP_TYPES}, modes slice/mask")
        self.plans = [layer_plan(base, w, self.channel_aware) for w in self.subnet_widths]
        self.n = len(self.plans)
        self.values = {layer.name: self._read_weights(layer) for layer in base.layers if layer.weights}
        self.folded = self._fold_batch_norms() if fold_batch_norm else {}
        self.layers = {}
        self.module = tf.Module()
        self.module.forward = tf.function(
            self._forward, autograph=False,
            input_signature=[tf.TensorSpec([None, *base.input_shape[1:]], tf.float32, name="x"),
                             tf.TensorSpec([], tf.int32, name=INDEX_NAME)])

    def _read_weights(self, layer):
        """The layer's weights as NumPy (read eagerly, before tracing), BN folded as reds_model.forward does."""
        tf = self.tf
        values = {w.name.split("/")[-1].split(":")[0]: w.numpy() for w in layer.weights}
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            # tf.nn.batch_normalization's arithmetic: x * (rsqrt(var + eps) * gamma) + (beta - mean * that)
            scale = tf.math.rsqrt(layer.moving_variance + layer.epsilon)
            if layer.gamma is not None:
                scale = scale * layer.gamma
            offset = -layer.moving_mean * scale if layer.beta is None else layer.beta - layer.moving_mean * scale
            values = {"scale": scale.numpy(), "offset": offset.numpy()}
        return values

    def _fold_batch_norms(self):
        """Fold each BN into the conv/depthwise/dense right before it: ``{bn name: that layer's name}``.

        ``kernel * scale`` on the output channels and ``bias * scale + offset``, as the converter does for the
        per-subnetwork flatbuffers; slicing the folded weights equals folding the sliced ones.
        """
        keras = self.tf.keras
        folded = {}
        for previous, layer in zip(self.base.layers, self.base.layers[1:]):
            if not isinstance(layer, keras.layers.BatchNormalization):
                continue
            if not isinstance(previous, keras.layers.Conv2D | keras.layers.DepthwiseConv2D | keras.layers.Dense):
                continue
            if previous.activation not in (None, keras.activations.linear):
                continue  # BN after a non-linearity does not fold
            scale, offset = self.values[layer.name]["scale"], self.values[layer.name]["offset"]
            values = self.values[previous.name]
            key = "depthwise_kernel" if isinstance(previous, keras.layers.DepthwiseConv2D) else "kernel"
            kernel = values[key]
            values[key] = kernel * (scale[:, None] if key == "depthwise_kernel" else scale)
            values["bias"] = values.get("bias", np.zeros_like(scale)) * scale + offset
            folded[layer.name] = previous.name
        return folded

    # --- tables: every dynamic size, shape or mask is one row of a constant [subnetworks, k] table -----------
    def _bound(self, rows):
        """Per-subnetwork int32 ``rows`` [S, k]: a Python list if all agree, else a GATHER of row ``index``.

        Identical tables share one GATHER (cached per trace), so layers of the same width reuse it.
        """
        rows = np.asarray(rows, dtype=np.int32).reshape(self.n, -1)
        if (rows == rows[0]).all():
            return [int(v) for v in rows[0]]
        key = ("int32", rows.shape, rows.tobytes())
        if key not in self._tables:
            self._tables[key] = self.tf.gather(self.tf.constant(rows), self.index)
        return self._tables[key]

    def _mask(self, active, full):
        rows = (np.arange(full)[None, :] < np.asarray(active)[:, None]).astype(np.float32)
        key = ("mask", rows.shape, rows.tobytes())
        if key not in self._tables:
            self._tables[key] = self.tf.gather(self.tf.constant(rows), self.index)
        return self._tables[key]

    def _slice(self, tensor, sizes):
        """``tensor[:sizes[0], :sizes[1], ...]`` with per-subnetwork sizes ``[S, rank]``."""
        sizes = np.asarray(sizes).reshape(self.n, -1)
        if (sizes == np.asarray(tensor.shape)).all():
            return tensor
        return self.tf.slice(tensor, [0] * len(tensor.shape), self._bound(sizes))

    def _reshape(self, x, shapes):
        """``tf.reshape`` to a per-subnetwork shape (rows of ``shapes`` [S, rank], -1 allowed once).

        Dimensions equal in every row keep their static size (``set_shape``, no op), so later ops see them.
        """
        shapes = np.asarray(shapes).reshape(self.n, -1)
        y = self.tf.reshape(x, self._bound(shapes))
        y.set_shape([int(d) if (shapes[:, i] == d).all() and d >= 0 else None for i, d in enumerate(shapes[0])])
        return y

    def _shape_rows(self, lead, last):
        """Shape table ``[-1, *lead, last_s]``."""
        last = np.asarray(last)
        return np.concatenate([np.tile([-1, *lead], (self.n, 1)), last[:, None]], axis=1)

    # --- activation forms: "sliced" (last dim = active channels) or "masked" (full width, zeros beyond) ------
    def _to_sliced(self, state):
        x, active, full, masked = state
        if masked and not (active == full).all():
            rank = len(x.shape)
            sizes = np.full((self.n, rank), -1, dtype=np.int32)
            sizes[:, -1] = active
            static = x.shape[:-1]
            x = self.tf.slice(x, [0] * rank, self._bound(sizes))
            x.set_shape([*static, None])
        return x, active, full, False

    def _to_masked(self, state):
        x, active, full, masked = state
        if not masked and not (active == full).all():
            rank = len(x.shape)
            paddings = np.zeros((self.n, rank, 2), dtype=np.int32)
            paddings[:, -1, 1] = full - active
            static = x.shape[:-1]
            x = self.tf.pad(x, self.tf.reshape(self._bound(paddings.reshape(self.n, -1)), [rank, 2]))
            if all(d is not None for d in static[1:]):  # a constant-shape RESHAPE makes the shape static again,
                x = self.tf.reshape(x, [-1, *static[1:], full])  # which CONV_2D / DEPTHWISE_CONV_2D need
        return x, active, full, True

    def _form(self, state, mode):
        return self._to_masked(state) if mode == MASK else self._to_sliced(state)

    # --- forward ------------------------------------------------------------------------------------------
    def _forward(self, x, subnetwork):
        tf = self.tf
        keras = tf.keras
        self.index = subnetwork
        self._tables = {}
        channels = np.full(self.n, x.shape[-1], dtype=np.int32)
        state = (x, channels, int(x.shape[-1]), False)
        pending_flatten = None
        for j, (layer, _) in enumerate(self.plans[0]):
            slicings = [plan[j][1] for plan in self.plans]
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                state = self._depthwise(layer, state, slicings)
            elif isinstance(layer, keras.layers.Conv2D):
                state = self._conv(layer, state, slicings)
            elif isinstance(layer, keras.layers.BatchNormalization) and layer.name in self.folded:
                self.layers[layer.name] = {"type": "batch_norm", "mode": "folded",
                                           "lowering": f"folded into {self.folded[layer.name]}"}
            elif isinstance(layer, keras.layers.BatchNormalization):
                state = self._batch_norm(layer, state, slicings)
            elif isinstance(layer, keras.layers.Flatten):
                following = self.plans[0][j + 1][1] if j + 1 < len(self.plans[0]) else {}
                if "rows" in following:  # the dense does the flatten with its row selection
                    pending_flatten = tuple(int(d) for d in layer.input_shape[1:])
                    continue
                x, active, full, _ = state
                if not (active == full).all():
                    raise NotImplementedError(f"{layer.name}: flatten of a width-sliced tensor not followed by a dense")
                flat = int(np.prod(x.shape[1:]))
                state = (tf.reshape(x, [-1, flat]), np.full(self.n, flat, dtype=np.int32), flat, False)
            elif isinstance(layer, keras.layers.Dense):
                if "rows" in slicings[0]:
                    state = self._flatten_dense(layer, state, slicings, pending_flatten)
                    pending_flatten = None
                else:
                    state = self._dense(layer, state, slicings)
            else:  # ReLU, LeakyReLU, pooling, dropout: no weights; zeros stay zeros
                x, active, full, masked = state
                state = (layer(x, training=False), active, full, masked)
        return self._to_sliced(state)[0]

    def _bias(self, layer):
        bias = self.values[layer.name].get("bias")
        return None if bias is None else self.tf.constant(bias)

    def _record(self, layer, kind, lowering):
        mode = self.modes[kind]
        self.layers[layer.name] = {"type": kind, "mode": mode, "lowering": lowering if mode == SLICE else
                                   "full-width op on the zero-padded input, output x channel mask"}
        return mode

    def _finish(self, layer, y, cout, full, mode):
        """Activation, then the channel mask in mask mode."""
        act = layer.activation
        if act is not None and act is not self.tf.keras.activations.linear:
            y = act(y)
        if mode == MASK and not (cout == full).all():
            y = y * self._mask(cout, full)
        return y, cout, full, mode == MASK

    def _conv(self, layer, state, slicings):
        tf = self.tf
        kernel = self.values[layer.name]["kernel"]
        bias = self._bias(layer)
        kh, kw, cin_full, cout_full = kernel.shape
        if tuple(layer.dilation_rate) != (1, 1):
            raise NotImplementedError(f"{layer.name}: dilated conv")
        cin = np.array([s["cin"] for s in slicings], dtype=np.int32)
        cout = np.array([s["cout"] for s in slicings], dtype=np.int32)
        pointwise = (kh, kw) == (1, 1) and tuple(layer.strides) == (1, 1)
        kind = "pointwise" if pointwise else "conv"
        mode = self._record(layer, kind, "FULLY_CONNECTED over the positions" if pointwise else
                            "im2col (kh + kw SLICE/STRIDED_SLICE + CONCATENATION) + FULLY_CONNECTED")
        x, *_ = state = self._form(state, mode)
        if mode == MASK:
            y = tf.nn.conv2d(x, tf.constant(kernel), layer.strides, layer.padding.upper())
            y = y + bias if bias is not None else y
            return self._finish(layer, y, cout, cout_full, mode)
        # kernel stored once as [Cout, kw, kh, Cin] (FULLY_CONNECTED's [out, in] layout): column
        # dx*kh*cin + dy*cin + c of the im2col matrix; 2-D [Cout, kw*kh*Cin] when cin never changes (the first
        # conv) or the kernel is 1x1, so the slice needs no reshape
        stored = np.ascontiguousarray(kernel.transpose(3, 1, 0, 2))
        if (cin == cin_full).all() or kh * kw == 1:
            w = self._slice(tf.constant(stored.reshape(cout_full, -1)), np.stack([cout, kw * kh * cin], 1))
        else:
            ones = np.ones_like(cin)
            w = self._slice(tf.constant(stored), np.stack([cout, kw * ones, kh * ones, cin], 1))
            w = self._reshape(w, np.stack([cout, kw * kh * cin], 1))
        if not pointwise:
            x = self._im2col(x, (kh, kw), layer.strides, layer.padding)
        ho, wo = int(x.shape[1]), int(x.shape[2])
        y = self._fc(self._reshape(x, self._shape_rows([], kh * kw * cin)), w)
        y = self._reshape(y, self._shape_rows([ho, wo], cout))
        if bias is not None:
            y = y + self._slice(bias, cout[:, None])
        return self._finish(layer, y, cout, cout_full, mode)

    def _shift(self, x, axis, start, count, stride):
        """``count`` entries of ``x`` along ``axis`` from ``start`` with ``stride`` (SLICE when stride is 1)."""
        tf = self.tf
        rank = len(x.shape)
        if stride == 1:
            begin, size = [0] * rank, [-1] * rank
            begin[axis], size[axis] = start, count
            return tf.slice(x, begin, size)
        index = [slice(None)] * rank
        index[axis] = slice(start, start + (count - 1) * stride + 1, stride)
        return x[tuple(index)]

    def _im2col(self, x, kernel_size, strides, padding):
        """``[b, Ho, Wo, kw*kh*c]`` patches of ``x`` (static spatial dims), channel index dx*kh*c + dy*c + ch.

        Two stages (kh row shifts, then kw column shifts) instead of kh*kw shifts keep the graph small.
        """
        tf = self.tf
        (kh, kw), (sh, sw) = kernel_size, strides
        h, w = int(x.shape[1]), int(x.shape[2])
        if padding == "same":
            (pt, pb), ho = _same_padding(h, kh, sh)
            (pl, pr), wo = _same_padding(w, kw, sw)
            if pt or pb or pl or pr:
                x = tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]])
        else:
            ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
        rows = [self._shift(x, 1, dy, ho, sh) for dy in range(kh)]
        rows = tf.concat(rows, axis=-1) if kh > 1 else rows[0]
        cols = [self._shift(rows, 2, dx, wo, sw) for dx in range(kw)]
        return tf.concat(cols, axis=-1) if kw > 1 else cols[0]

    def _depthwise(self, layer, state, slicings):
        tf = self.tf
        kernel = self.values[layer.name]["depthwise_kernel"]
        kh, kw, c_full, multiplier = kernel.shape
        if multiplier != 1 or tuple(layer.dilation_rate) != (1, 1):
            raise NotImplementedError(f"{layer.name}: depth multiplier {multiplier} / dilation")
        bias = self._bias(layer)
        c = np.array([s["channels"] for s in slicings], dtype=np.int32)
        mode = self._record(layer, "depthwise", "im2col patches x kernel[:, :, :c] (MUL), SUM over the taps")
        x, *_ = state = self._form(state, mode)
        if mode == MASK:
            y = tf.nn.depthwise_conv2d(x, tf.constant(kernel), (1, *layer.strides, 1), layer.padding.upper())
            y = y + bias if bias is not None else y
            return self._finish(layer, y, c, c_full, mode)
        stored = tf.constant(np.ascontiguousarray(kernel[..., 0].transpose(1, 0, 2).reshape(kw * kh, c_full)))
        w = self._slice(stored, np.stack([np.full_like(c, kw * kh), c], 1))  # [kw*kh, c], tap dx*kh + dy
        patches = self._im2col(x, (kh, kw), layer.strides, layer.padding)
        ho, wo = int(patches.shape[1]), int(patches.shape[2])
        y = tf.reduce_sum(self._reshape(patches, self._shape_rows([ho, wo, kw * kh], c)) * w, axis=3)
        if bias is not None:
            y = y + self._slice(bias, c[:, None])
        return self._finish(layer, y, c, c_full, mode)

    def _batch_norm(self, layer, state, slicings):
        tf = self.tf
        scale, offset = (tf.constant(self.values[layer.name][k]) for k in ("scale", "offset"))
        c = np.array([s["channels"] for s in slicings], dtype=np.int32)
        full = int(scale.shape[0])
        mode = self._record(layer, "batch_norm", "MUL + ADD with scale[:c], offset[:c]")
        x, *_ = state = self._form(state, mode)
        if mode == MASK:
            y = x * scale + offset
            return (y * self._mask(c, full) if not (c == full).all() else y), c, full, True
        return x * self._slice(scale, c[:, None]) + self._slice(offset, c[:, None]), c, full, False

    def _dense(self, layer, state, slicings):
        tf = self.tf
        kernel = tf.constant(np.ascontiguousarray(self.values[layer.name]["kernel"].T))  # [out, in]
        cin = np.array([s["cin"] for s in slicings], dtype=np.int32)
        cout = np.array([s["cout"] for s in slicings], dtype=np.int32)
        mode = self._record(layer, "dense", "FULLY_CONNECTED with kernel[:cin, :cout]")
        x, *_ = state = self._form(state, mode)
        y = self._fc(x, kernel if mode == MASK else self._slice(kernel, np.stack([cout, cin], 1)))
        bias = self._bias(layer)
        if bias is not None:
            y = y + (bias if mode == MASK else self._slice(bias, cout[:, None]))
        return self._finish(layer, y, cout, int(kernel.shape[0]), mode)

    def _fc(self, x, w_t):
        """``x [n, in] @ w_t[out, in]^T``: FULLY_CONNECTED, about 2x faster than BATCH_MATMUL on a sliced kernel."""
        return self.tf.matmul(x, w_t, transpose_b=True)

    def _flatten_dense(self, layer, state, slicings, spatial):
        """The dense after a flatten: leading rows (faithful) or the rows of the active channels."""
        tf = self.tf
        h, w, c_full = spatial
        kernel_np = self.values[layer.name]["kernel"]
        active = state[1]
        cout = np.array([s["cout"] for s in slicings], dtype=np.int32)
        leading = (not self.channel_aware) or h * w == 1
        for s, slicing in enumerate(slicings):  # the plan's rows are the ones computed here
            c = active[s]
            expected = (np.arange(h * w * c) if leading else
                        (np.arange(h * w)[:, None] * c_full + np.arange(c)[None, :]).reshape(-1))
            if not np.array_equal(np.asarray(slicing["rows"]), expected):
                raise AssertionError(f"{layer.name}: flatten rows of subnetwork {s} disagree with layer_plan")
        mode = self._record(layer, "dense", ("FULLY_CONNECTED with kernel[:H*W*c, :cout] (leading rows)" if leading
                                             else "FULLY_CONNECTED with kernel.reshape(H*W, C, out)[:, :c, :cout]"))
        x, *_ = state = self._form(state, mode)
        bias = self._bias(layer)
        if mode == MASK:
            flat = tf.reshape(x, [-1, h * w * c_full])
            if leading and not (active == c_full).all():
                # compact feature j (order h*W*c + w*c + ch) sits at full index h*W*C + w*C + ch; j >= H*W*c -> 0
                order = np.full((self.n, h * w * c_full), h * w * c_full, dtype=np.int32)
                for s, c in enumerate(active):
                    order[s, : h * w * c] = (np.arange(h * w)[:, None] * c_full + np.arange(c)[None, :]).reshape(-1)
                flat = tf.concat([flat, tf.zeros_like(flat[:, :1])], axis=1)
                flat = tf.gather(flat, self._bound(order), axis=1)
            y = self._fc(flat, tf.constant(np.ascontiguousarray(kernel_np.T)))
            y = y + bias if bias is not None else y
            return self._finish(layer, y, cout, kernel_np.shape[1], mode)
        flat = self._reshape(x, self._shape_rows([], h * w * active))
        if leading:  # stored [out, H*W*C]
            kernel = self._slice(tf.constant(np.ascontiguousarray(kernel_np.T)), np.stack([cout, h * w * active], 1))
        else:  # stored [out, H*W, C]
            cube = tf.constant(np.ascontiguousarray(kernel_np.reshape(h * w, c_full, -1).transpose(2, 0, 1)))
            kernel = self._slice(cube, np.stack([cout, np.full_like(active, h * w), active], 1))
            kernel = self._reshape(kernel, np.stack([cout, h * w * active], 1))
        y = self._fc(flat, kernel)
        if bias is not None:
            y = y + self._slice(bias, cout[:, None])
        return self._finish(layer, y, cout, kernel_np.shape[1], mode)

    # --- conversion ---------------------------------------------------------------------------------------
    def concrete_function(self):
        return self.module.forward.get_concrete_function()

    def convert(self, quantization="float32", representative_x=None):
        """The TFLite flatbuffer (bytes); int8 calibrates on ``representative_x`` at every index."""
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_concrete_functions([self.concrete_function()], self.module)
        _configure(converter, quantization, representative_x, self.n)
        return converter.convert()


def _configure(converter, quantization, representative_x, n_subnetworks=None):
    """Set ``converter`` up for ``quantization`` (int8: full integer with int8 I/O, as ``deploy.py`` exports).

    ``n_subnetworks``: the model also takes the index input, and calibration runs every sample at every index.
    """
    import tensorflow as tf

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":
        if representative_x is None:
            raise ValueError("int8 conversion needs representative samples")

        def representative_dataset():
            for sample in np.asarray(representative_x, dtype=np.float32):
                if n_subnetworks is None:
                    yield [sample[None]]
                else:
                    for s in range(n_subnetworks):  # by name: the flatbuffer's input order is not the signature's
                        yield {"x": sample[None], INDEX_NAME: np.array(s, dtype=np.int32)}

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8


def convert_keras(model, quantization="float32", representative_x=None):
    """A plain Keras model (the full base model or one extracted subnetwork) as a flatbuffer.

    Converted from the frozen concrete function of ``model(x, training=False)``: the graph
    ``from_keras_model`` converts, in 0.5 s instead of 7 s (that path writes a SavedModel first).
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="x")])
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    _configure(converter, quantization, representative_x)
    return converter.convert()


def stored_constants(model_content):
    """Constant tensors stored in the flatbuffer, by dtype: ``{dtype: {"tensors": n, "bytes": b, "per_channel": k}}``.

    ``per_channel``: how many of them carry more than one quantization scale.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_content), 0)
    names = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    result = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data if tensor.buffer < len(model.buffers) else None
            if data is None or len(data) == 0:
                continue
            entry = result.setdefault(names.get(tensor.type, str(tensor.type)),
                                      {"tensors": 0, "bytes": 0, "per_channel": 0})
            entry["tensors"] += 1
            entry["bytes"] += len(data)
            scales = tensor.quantization.scale if tensor.quantization is not None else None
            entry["per_channel"] += int(scales is not None and len(scales) > 1)
    return result


class RuntimeWidthInterpreter:
    """A run-time-width flatbuffer in the LiteRT interpreter: ``set_subnetwork(i)``, ``predict(x)``."""

    def __init__(self, model_content):
        from mlperf_tiny.tflite_utils import make_interpreter

        self.interpreter = make_interpreter(model_content=model_content)
        inputs = self.interpreter.get_input_details()
        self.index_detail = next(d for d in inputs if d["dtype"] == np.int32 and len(d["shape"]) == 0)
        self.x_detail = next(d for d in inputs if d is not self.index_detail)
        self.out_detail = self.interpreter.get_output_details()[0]
        self.batch = int(self.x_detail["shape"][0])

    def set_subnetwork(self, index):
        self.interpreter.set_tensor(self.index_detail["index"], np.array(index, dtype=np.int32))

    def set_input(self, x):
        from mlperf_tiny.tflite_utils import quantize_input

        x = np.asarray(x, dtype=np.float32)
        if len(x) != self.batch:
            self.interpreter.resize_tensor_input(self.x_detail["index"], list(x.shape))
            self.interpreter.allocate_tensors()
            self.batch = len(x)
        dtype = self.x_detail["dtype"]
        if np.issubdtype(dtype, np.integer):
            scale, zero_point = self.x_detail["quantization"]
            x = quantize_input(x, scale, zero_point, dtype)
        self.interpreter.set_tensor(self.x_detail["index"], x)

    def output(self):
        y = self.interpreter.get_tensor(self.out_detail["index"])
        if np.issubdtype(self.out_detail["dtype"], np.integer):
            scale, zero_point = self.out_detail["quantization"]
            return (y.astype(np.float32) - zero_point) * scale
        return y

    def predict(self, x, index):
        self.set_input(x)
        self.set_subnetwork(index)
        self.interpreter.invoke()
        return self.output()

    def op_names(self):
        try:
            return sorted({op["op_name"] for op in self.interpreter._get_ops_details()})
        except AttributeError:  # private API; absent in some interpreter builds
            return None


def _timed_invoke(runner, index):
    start = time.perf_counter()
    runner.set_subnetwork(index)
    runner.interpreter.invoke()
    return time.perf_counter() - start


def latency_ms(runner, sample, n_subnetworks, repeats=LATENCY_REPEATS):
    """Median batch-1 (set index + invoke) time in ms per subnetwork, after one warm-up invoke at that index."""
    runner.set_input(sample[:1])
    result = []
    for s in range(n_subnetworks):
        _timed_invoke(runner, s)  # warm-up: resizes the dynamic tensors to this width
        result.append(float(np.median([_timed_invoke(runner, s) for _ in range(repeats)]) * 1e3))
    return result


def switch_time_us(runner, sample, n_subnetworks, rounds=SWITCH_ROUNDS):
    """Median (set index + invoke) right after another index was active, vs the same pair repeated at once.

    ``overhead_us`` (their difference) is the cost of switching: here, reallocating the dynamic tensors.
    """
    runner.set_input(sample[:1])
    for s in range(n_subnetworks):  # warm-up round
        _timed_invoke(runner, s)
    switched, same = [], []
    for _ in range(rounds):
        for s in range(n_subnetworks):
            switched.append(_timed_invoke(runner, s))
            same.append(_timed_invoke(runner, s))
    after, repeated = float(np.median(switched) * 1e6), float(np.median(same) * 1e6)
    return {"after_switch_us": after, "same_index_us": repeated, "overhead_us": after - repeated}


def _error_summary(err):
    """The informative lines of a converter / runtime error (MLIR dumps are long)."""
    lines = [line.strip() for line in str(err).splitlines()]
    keep = [line for line in lines if line.startswith(("error:", "TF Select ops:")) or "not supported" in line
            or line.startswith("tf.")]
    return f"{type(err).__name__}: " + (" | ".join(dict.fromkeys(keep)) if keep else (lines[-1] if lines else ""))[:400]


def _check(content, reds_model, sample_x, quantization):
    """Per-subnetwork max |TFLite - nested model| and argmax agreement on ``sample_x``."""
    runner = RuntimeWidthInterpreter(content)
    diffs, agreement, scale = [], [], 1.0
    for s in range(len(reds_model.plans)):
        ref = reds_model.call_subnetwork(sample_x, s).numpy()
        got = runner.predict(sample_x, s)
        if got.shape != ref.shape:
            raise ValueError(f"subnetwork {s}: output shape {got.shape}, nested model {ref.shape}")
        diffs.append(float(np.abs(got - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
        agreement.append(float(np.mean(got.argmax(-1) == ref.argmax(-1))))
    if quantization == "float32" and max(diffs) > FLOAT_TOLERANCE * scale:
        raise ValueError(f"float outputs differ from the nested model by {max(diffs):.3g} > "
                         f"{FLOAT_TOLERANCE} x {scale:.3g} (largest |logit|)")
    return runner, diffs, agreement


def export_runtime_width_tflite(base, subnet_widths, channel_aware_flatten_slice=False, out_path=None,
                                sample_x=None, *, quantization="float32", modes=None, fold_batch_norm=True,
                                builder=None, latency_repeats=LATENCY_REPEATS, switch_rounds=SWITCH_ROUNDS):
    """Convert the run-time-width model of ``RedsModel(base, subnet_widths, ...)``, check it and time it.

    ``sample_x``: a few float32 inputs (with batch axis), used for the output check, the latency and, for
    int8, the calibration. ``out_path``: where the flatbuffer is written (optional). ``modes``: the
    starting op-type modes (default: all sliced); on failure op types are masked in ``FALLBACK_ORDER``.
    ``builder(widths=...)``: the registered builder; when given, every subnetwork is also exported as its
    own flatbuffer (``deploy.py``'s layout) for the size and latency comparison.

    Returns a dict: ``tflite_bytes``, ``full_model_tflite_bytes`` (the plain base model, same quantization),
    ``bytes_ratio`` (their ratio), ``stored_constants`` / ``full_model_stored_constants`` (constant bytes by
    dtype: the weights, stored once), ``max_abs_diff`` and ``argmax_agreement`` per subnetwork vs
    ``RedsModel.call_subnetwork``, ``latency_ms`` per subnetwork (batch-1 median), ``switch`` (median invoke
    right after another index vs a repeated one, and the difference), ``modes`` (per op type present),
    ``layers`` (per layer: op type, mode, lowering), ``sliced``/``masked``/``folded`` layer names,
    ``fallbacks`` (failed attempts and why),
    ``tflite_ops`` and, with ``builder``, ``subnetwork_tflite_bytes``,
    ``subnetwork_tflite_bytes_sum``, ``subnetwork_latency_ms`` and ``subnetwork_max_abs_diff`` (of the
    per-subnetwork flatbuffers, for comparison).
    """
    from reds.utils.reds_model import RedsModel, extract_subnetwork

    if sample_x is None:
        raise ValueError("sample_x (a few inputs with batch axis) is needed for the checks and timings")
    sample_x = np.asarray(sample_x, dtype=np.float32)
    reds_model = RedsModel(base, subnet_widths, channel_aware_flatten_slice)
    modes = {t: SLICE for t in OP_TYPES} | dict(modes or {})
    fallbacks = []
    while True:
        rw = RuntimeWidthModel(base, subnet_widths, channel_aware_flatten_slice, modes, fold_batch_norm)
        rw.concrete_function()  # tracing errors are bugs, not runtime limitations: they raise
        try:
            content = rw.convert(quantization, sample_x)
            runner, diffs, agreement = _check(content, reds_model, sample_x, quantization)
            break
        except Exception as err:  # converter, runtime or mismatch: mask one more op type and retry
            present = {info["type"] for info in rw.layers.values()}
            fallbacks.append({"modes": dict(modes), "error": _error_summary(err)})
            remaining = [t for t in FALLBACK_ORDER if t in present and modes[t] == SLICE]
            if not remaining:
                raise RuntimeError(f"no run-time-width model converts and matches; attempts: {fallbacks}") from err
            modes[remaining[0]] = MASK
    result = {
        "quantization": quantization,
        "tflite_bytes": len(content),
        "max_abs_diff": diffs,
        "argmax_agreement": agreement,
        "modes": {info["type"]: info["mode"] for info in rw.layers.values()},
        "layers": rw.layers,
        "sliced": [name for name, info in rw.layers.items() if info["mode"] == SLICE],
        "masked": [name for name, info in rw.layers.items() if info["mode"] == MASK],
        "folded": [name for name, info in rw.layers.items() if info["mode"] == "folded"],
        "fallbacks": fallbacks,
        "tflite_ops": runner.op_names(),
        "stored_constants": stored_constants(content),
    }
    if out_path is not None:
        import run_contract as rc

        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        rc.write_bytes(out_path, content)
        result["tflite"] = str(out_path)
    full = convert_keras(base, quantization, sample_x)
    result["full_model_tflite_bytes"] = len(full)
    result["full_model_stored_constants"] = stored_constants(full)
    result["bytes_ratio"] = len(content) / len(full)
    n = len(reds_model.plans)
    result["latency_ms"] = latency_ms(runner, sample_x, n, latency_repeats)
    result["switch"] = switch_time_us(runner, sample_x, n, switch_rounds)
    if builder is not None:
        from mlperf_tiny.tflite_utils import TFLiteModel

        sizes, latencies, sub_diffs = [], [], []
        for s, widths in enumerate(reds_model.subnet_widths):
            sub = extract_subnetwork(base, widths, builder, channel_aware_flatten_slice)
            sub_content = convert_keras(sub, quantization, sample_x)
            sizes.append(len(sub_content))
            tfl = TFLiteModel(model_content=sub_content)
            ref = reds_model.call_subnetwork(sample_x, s).numpy()
            sub_diffs.append(float(np.abs(tfl.predict(sample_x) - ref).max()))
            times = []
            for _ in range(latency_repeats):  # the interpreter holds the last sample
                start = time.perf_counter()
                tfl.interpreter.invoke()
                times.append(time.perf_counter() - start)
            latencies.append(float(np.median(times) * 1e3))
        result["subnetwork_tflite_bytes"] = sizes
        result["subnetwork_tflite_bytes_sum"] = int(sum(sizes))
        result["subnetwork_latency_ms"] = latencies
        result["subnetwork_max_abs_diff"] = sub_diffs
    return result


def native_dynamic_filter_support():
    """Whether the converter + LiteRT run CONV_2D / DEPTHWISE_CONV_2D / BATCH_MATMUL on a dynamically sliced
    weight tensor (a 3x3x8x16 kernel, 2 widths): ``{op: True | "error message"}``."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(size=(3, 3, 8, 16)).astype(np.float32))
    sizes = tf.constant([[3, 3, 8, 16], [3, 3, 4, 8]], tf.int32)

    def conv(x, i):
        size = tf.gather(sizes, i)
        x = tf.slice(x, [0, 0, 0, 0], tf.concat([[-1, -1, -1], size[2:3]], 0))
        return tf.nn.conv2d(x, tf.slice(kernel, [0, 0, 0, 0], size), 1, "SAME")

    def depthwise(x, i):
        size = tf.concat([tf.gather(sizes, i)[:3], [1]], 0)
        x = tf.slice(x, [0, 0, 0, 0], tf.concat([[-1, -1, -1], size[2:3]], 0))
        return tf.nn.depthwise_conv2d(x, tf.slice(kernel, [0, 0, 0, 0], size), [1, 1, 1, 1], "SAME")

    def matmul(x, i):
        size = tf.gather(sizes, i)[2:]
        x = tf.slice(tf.reshape(x, [-1, 8]), [0, 0], tf.stack([-1, size[0]]))
        return tf.matmul(x, tf.slice(kernel[0, 0], [0, 0], size))

    result = {}
    x = rng.normal(size=(1, 1, 1, 8)).astype(np.float32)
    for name, fn in (("CONV_2D", conv), ("DEPTHWISE_CONV_2D", depthwise), ("BATCH_MATMUL", matmul)):
        f = tf.function(fn, input_signature=[tf.TensorSpec([None, 1, 1, 8], tf.float32),
                                             tf.TensorSpec([], tf.int32, name=INDEX_NAME)])
        try:
            content = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()
            runner = RuntimeWidthInterpreter(content)
            ok = all(np.allclose(runner.predict(x, s), fn(tf.constant(x), tf.constant(s)).numpy(), atol=1e-5)
                     for s in (0, 1))
            result[name] = True if ok else "wrong outputs"
        except Exception as err:
            result[name] = _error_summary(err)
    return result

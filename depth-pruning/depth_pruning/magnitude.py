"""The paper's magnitude-pruning baseline (tfmot), shared by ``vww.prune_vww_mag`` and ``kws.prune_kws_mag``.

As the original: the whole trained base is wrapped with ``prune_low_magnitude`` and fine-tuned with the task's
recipe plus ``UpdatePruningStep``. ``--pruning_scheme constant`` = ``ConstantSparsity(end_sparsity, begin_step=0,
end_step)`` (the mag_const sweeps, 0.10 .. 0.95); ``polynomial`` = ``PolynomialDecay(start_sparsity ->
end_sparsity, 0 .. end_step)``. ``end_step`` is epochs x batches per epoch; the original hard-coded the batch
count of the full datasets (VWW 50 x 3084, KWS epochs x 856), here it is read from the data, which gives the
same step on the full data. The original declared ``--epochs_recover`` and never used it; here the schedule
ends ``epochs_recover`` epochs early (default 0 = the original).

Added: the wrappers are stripped (``strip_pruning``) before saving ``model.h5``, so the int8 scripts convert
a plain Keras model, and ``result.json`` holds the measured sparsity of the prunable kernels. Unstructured
sparsity does not shrink the dense int8 flatbuffer (the paper's point): ``int8_bytes`` stays the base's.
"""

import mlperf_tiny  # noqa: F401  (Keras 2 before TF; tfmot needs tf-keras models)
import run_contract as rc

PRUNING_SCHEMES = ("constant", "polynomial")
# tfmot's default: the mask is recomputed every this many training steps.
PRUNING_FREQUENCY = 100


def add_magnitude_args(parser):
    """The original's magnitude-pruning flags."""
    parser.add_argument("--pruning_scheme", default="constant", choices=PRUNING_SCHEMES,
                        help="constant: ConstantSparsity (the mag_const sweeps); polynomial: PolynomialDecay")
    sparsity = rc.float_range(0, 1, hi_open=True)
    parser.add_argument("--end_sparsity", type=sparsity, required=True, help="final fraction of zero weights [0, 1)")
    parser.add_argument("--start_sparsity", type=sparsity, default=0.0, help="initial sparsity (polynomial only)")
    parser.add_argument("--epochs_recover", type=rc.nonnegative_int, default=0,
                        help="epochs trained after reaching end_sparsity (the original ignored it; 0 = original)")
    parser.add_argument("--pruning_frequency", type=rc.positive_int, default=PRUNING_FREQUENCY,
                        help="steps between mask updates (tfmot default, as the original)")
    return parser


def check_magnitude_args(args, total_epochs):
    """Checks across flags (each flag's own range is checked by its type)."""
    rc.check(args.start_sparsity <= args.end_sparsity,
             f"--start_sparsity {args.start_sparsity} is above --end_sparsity {args.end_sparsity}")
    rc.check(args.epochs_recover < total_epochs,
             f"--epochs_recover {args.epochs_recover} leaves no epoch for the sparsity schedule "
             f"({total_epochs} epochs in all)")


def run_name(args):
    """``--ckpt_name`` or the original sweep's naming, ``mag_<scheme>_<end sparsity in %>`` (mag_constant_50)."""
    return args.ckpt_name or f"mag_{args.pruning_scheme}_{round(100 * args.end_sparsity):02d}"


def pruning_schedule(scheme, end_sparsity, end_step, start_sparsity=0.0, frequency=PRUNING_FREQUENCY):
    import tensorflow_model_optimization as tfmot

    if scheme == "constant":
        return tfmot.sparsity.keras.ConstantSparsity(target_sparsity=end_sparsity, begin_step=0, end_step=end_step,
                                                     frequency=frequency)
    if scheme == "polynomial":
        return tfmot.sparsity.keras.PolynomialDecay(initial_sparsity=start_sparsity, final_sparsity=end_sparsity,
                                                    begin_step=0, end_step=end_step, frequency=frequency)
    raise ValueError(f"unknown pruning scheme {scheme!r}; choose {', '.join(PRUNING_SCHEMES)}")


def schedule_end_step(total_epochs, steps_per_epoch, epochs_recover=0):
    """Last step of the sparsity schedule: (epochs - epochs_recover) x batches per epoch, at least 1."""
    return max(1, (int(total_epochs) - int(epochs_recover)) * int(steps_per_epoch))


def wrap_for_pruning(model, args, total_epochs, steps_per_epoch):
    """``prune_low_magnitude(model)`` with the schedule of ``args``; returns (wrapped model, end step)."""
    import tensorflow_model_optimization as tfmot

    end_step = schedule_end_step(total_epochs, steps_per_epoch, args.epochs_recover)
    schedule = pruning_schedule(args.pruning_scheme, args.end_sparsity, end_step, args.start_sparsity,
                                args.pruning_frequency)
    return tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule), end_step


def pruning_callbacks():
    import tensorflow_model_optimization as tfmot

    return [tfmot.sparsity.keras.UpdatePruningStep()]


def strip(model):
    import tensorflow_model_optimization as tfmot

    return tfmot.sparsity.keras.strip_pruning(model)


def prunable_kernel_sparsity(wrapped_model, stripped_model):
    """Zero fraction of the kernels tfmot pruned (overall and per layer), read from the stripped model.

    The pruned kernels are those of the wrappers' ``get_prunable_weights()``: conv and dense kernels. tfmot 0.8
    prunes no depthwise kernel (its registry lists none for DepthwiseConv2D), nor biases or BN. Returns
    ``{"sparsity": overall, "pruned_weights": count, "layers": {name: sparsity}}``.
    """
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

    layers, zeros, total = {}, 0, 0
    for layer in wrapped_model.layers:
        if not isinstance(layer, PruneLowMagnitude):
            continue
        kernel_names = {w.name.split("/")[-1] for w in layer.layer.get_prunable_weights()}
        plain = stripped_model.get_layer(layer.layer.name)
        for weight in plain.weights:
            if weight.name.split("/")[-1] in kernel_names:
                values = weight.numpy()
                layers[plain.name] = float((values == 0).mean())
                zeros += int((values == 0).sum())
                total += values.size
    return {"sparsity": zeros / max(total, 1), "pruned_weights": total, "layers": layers}

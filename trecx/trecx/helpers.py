"""Training, evaluation and trace/curve helpers shared by the three tasks (original per-task ``helpers.py``).

Every run directory gets ``args.json``, ``history.csv``/``metrics.json`` (mlperf_tiny.run_utils), resumable
``last.weights.h5`` and, at the end, ``model.weights.h5`` (the make target). Models are rebuilt from the
registry and loaded from weights, so no custom-object bookkeeping is needed.
"""

from pathlib import Path

import numpy as np

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)
from trecx import curves
from trecx import early_exit as ee

FINAL_WEIGHTS = "model.weights.h5"


def output_labels(model, labels):
    """The same integer labels for every output of a multi-exit model (a dict keyed by output name)."""
    return {name: labels for name in model.output_names} if len(model.output_names) > 1 else labels


def make_multi_output_sequence(flow, model):
    """Wrap an ImageDataGenerator flow of (x, y) so that y goes to every exit."""
    import tensorflow as tf

    class MultiOutputSequence(tf.keras.utils.Sequence):
        def __len__(self):
            return len(flow)

        def __getitem__(self, index):
            x, y = flow[index]
            return x, output_labels(model, y)

        def on_epoch_end(self):
            flow.on_epoch_end()

    return MultiOutputSequence()


def default_loss_weights(model_name, w_aux, eefmaps_faithful=True):
    """Per-output loss weights of each architecture, as in the original training scripts.

    T-RECX / noEV: CE(final) + W_aux CE(EE). BranchyNet: (1, 0.3, 1). baselineEE: (1, 1). eefmaps_concat: (1, 1)
    in the original (it ignores W_aux; ``eefmaps_faithful=False`` uses W_aux). SDN: tf.Variables ramped by
    :func:`early_exit.make_sdn_ramp_callback`.
    """
    import tensorflow as tf

    if model_name.endswith(("_ev", "_noev")):
        return {ee.EE_OUTPUT: w_aux, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_eefmaps_concat"):
        return {ee.EE_OUTPUT: 1.0 if eefmaps_faithful else w_aux, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_baselineEE"):
        return {ee.EE_OUTPUT: 1.0, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_branchynet"):
        return {"ee_1": 1.0, "ee_2": 0.3, ee.FINAL_OUTPUT: 1.0}
    if model_name.endswith("_sdn"):
        weights = {ee.FINAL_OUTPUT: 1.0}
        for i in range(1, 4):
            weights[f"ee_{i}"] = tf.Variable(0.01, trainable=False, name=f"sdn_tau_{i}")
        return weights
    return {}


def evaluate_exits(model, x, batch_size=256):
    """Softmax outputs of every exit (list, exits in order, final last)."""
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    return list(outputs) if isinstance(outputs, list) else [outputs]


def write_trecx_traces(trace_dir, name, truth, probs_ee, probs_final):
    """``trace_data/trace_data_model_<name>_ee.json`` and ``_ef.json`` in the original format."""
    paths = []
    for exit_name, probs in (("ee", probs_ee), ("ef", probs_final)):
        paths.append(curves.write_trace(curves.trace_path(trace_dir, name, exit_name), truth, probs))
    return paths


def multi_exit_curve(probs, truth, exit_macs, rhos=None, strict=False):
    """Benefit curve of an n-exit model (SDN/BranchyNet): a sample leaves at the first exit with score >= rho
    (one rho for all exits, as the original Fig. 7 code); cost = MACs up to that exit."""
    rhos = curves.rho_grid() if rhos is None else rhos
    scores = np.stack([p.max(1) for p in probs])  # (exits, N)
    predictions = np.stack([p.argmax(1) for p in probs])
    points = []
    for rho in rhos:
        leave = curves.exits_early(scores, rho, strict)
        leave[-1] = True  # the final exit always answers
        first = leave.argmax(0)
        chosen = predictions[first, np.arange(len(truth))]
        costs = np.asarray(exit_macs)[first]
        points.append({"rho": float(rho), "exit_rate": float((first < len(probs) - 1).mean()),
                       "accuracy": float((chosen == truth).mean()), "avg_macs": float(costs.mean())})
    return points


def side_exit_costs(model):
    """MACs of input -> each exit (exits in output order, final last)."""
    import tensorflow as tf

    from mlperf_tiny.counting import count_macs

    costs = []
    for name in model.output_names[:-1]:
        costs.append(count_macs(tf.keras.Model(model.inputs, model.get_layer(name).output)))
    return [*costs, count_macs(model)]


def load_trained(model_name, run_dir, input_shape, num_classes):
    from mlperf_tiny.registry import get_model

    weights = Path(run_dir) / FINAL_WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: train it first (make trecx-train or the task's train script)")
    model = get_model(model_name, input_shape=input_shape, num_classes=num_classes)
    model.load_weights(str(weights))
    return model

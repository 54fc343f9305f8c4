"""The original T-RECX repo's trained SavedModels, loaded into our registered architectures.

The originals (``nikhilghanathe/t-recx``, ``*/trained_models/``, TF 2.3 Keras SavedModels) carry Keras auto-names
and build some heads differently (the KWS/VWW early exit is a linear Dense followed by a Softmax layer, channel
slices are TF op layers), so weights are matched by structure, not by name: every layer with weights gets a key
(its weight depth = the number of weight layers on the longest path from the input, its kind, its weight shapes),
and layers with equal keys are paired in model order. Which of our architectures an original is, is found the same
way: the one whose keys are exactly the original's. The copy is then checked against the SavedModel's own serving
signature (outputs by name), which never goes through our code.
"""

from pathlib import Path

import mlperf_tiny  # noqa: F401  (Keras 2 before TF)

# task -> our architectures an original of that task can be, with the folder names the original repo used
ARCHITECTURES = {
    "ic": {"model_with_ev_assist": "resnet_ev", "model_without_ev_assist": "resnet_noev", "model_sdn": "resnet_sdn",
           "model_branchynet": "resnet_branchynet", "model_baselineEE": "resnet_baselineEE"},
    "kws": {"model_with_ev_assist": "ds_cnn_ev", "model_without_ev_assist": "ds_cnn_noev", "model_sdn": "ds_cnn_sdn",
            "model_branchynet": "ds_cnn_branchynet", "model_eefmaps_concat": "ds_cnn_eefmaps_concat"},
    "vww": {"model_with_ev_assist": "mobnet_ev", "model_without_ev_assist": "mobnet_noev"},
}
# the plain model each task's T-RECX variants are built on (the cost reference without early exit)
BASE_ARCHITECTURES = {"ic": "resnet_v1_eembc", "kws": "ds_cnn", "vww": "mobilenet_v1"}
OUTPUT_TOLERANCE = 1e-5  # max |our output - the SavedModel's| accepted after the weight copy
SIGNATURE = "serving_default"


class OriginalModelError(ValueError):
    """The folder is not an original T-RECX model of the task (or its outputs cannot be reproduced)."""


def _tf():
    import tensorflow as tf

    return tf


def weight_layer_keys(model):
    """``[(key, layer)]`` for every layer with weights, in model order; key = (weight depth, kind, weight shapes).

    The weight depth ignores weightless layers (slices, pooling, softmax), which is where our graphs and the
    originals' differ.
    """
    depth = {}
    for level in sorted(model._nodes_by_depth, reverse=True):  # the input nodes have the highest depth
        for node in model._nodes_by_depth[level]:
            parents = [depth[id(p)] for p in node.parent_nodes if id(p) in depth]
            depth[id(node)] = max(parents, default=0) + (1 if node.layer.weights else 0)
    node_depth = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            node_depth.setdefault(node.layer.name, depth[id(node)])
    keys = []
    for layer in model.layers:
        if layer.weights:
            shapes = tuple(tuple(int(d) for d in w.shape) for w in layer.weights)
            keys.append(((node_depth[layer.name], type(layer).__name__, shapes), layer))
    return keys


def _signature(model):
    return sorted(key for key, _ in weight_layer_keys(model))


def identify(original, task, hint=None):
    """Name of our architecture of ``task`` whose weight layers are exactly the original's (else an error)."""
    from mlperf_tiny.registry import get_model

    wanted, params = _signature(original), original.count_params()
    candidates = list(ARCHITECTURES[task].values())
    if hint in candidates:
        candidates.remove(hint)
        candidates.insert(0, hint)
    for name in candidates:
        model = get_model(name)
        if model.count_params() == params and _signature(model) == wanted:
            return name
    raise OriginalModelError(
        f"its layers match none of the T-RECX {task} architectures ({', '.join(ARCHITECTURES[task].values())}): "
        f"{params:,} params, outputs {', '.join(original.output_names)}")


def copy_weights(original, ours):
    """Copy every weight of ``original`` into ``ours`` (same architecture, other layer names)."""
    groups = {}
    for key, layer in weight_layer_keys(original):
        groups.setdefault(key, []).append(layer)
    for key, layer in weight_layer_keys(ours):
        if not groups.get(key):
            raise OriginalModelError(f"no layer of the original matches {layer.name} {key}")
        layer.set_weights(groups[key].pop(0).get_weights())
    left = [layer.name for layers in groups.values() for layer in layers]
    if left:
        raise OriginalModelError(f"weights of the original left unused: {', '.join(left)}")
    return ours


def reference_outputs(path, x, batch_size=256):
    """Outputs of the SavedModel's own serving signature, run as the graph it stores: {output name: array}.

    The TF1 loader imports only the signature's graph (about half the time of ``tf.saved_model.load``, which
    also restores every Keras layer function).
    """
    import numpy as np

    tf = _tf()
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session, _quiet_tf_logging():
        meta_graph = tf.compat.v1.saved_model.loader.load(session, [tf.saved_model.SERVING], str(path))
        signature = meta_graph.signature_def[SIGNATURE]
        (input_tensor,) = (t.name for t in signature.inputs.values())
        fetches = {name: t.name for name, t in signature.outputs.items()}
        chunks = [session.run(fetches, {input_tensor: x[i:i + batch_size]}) for i in range(0, len(x), batch_size)]
    return {name: np.concatenate([c[name] for c in chunks]) for name in fetches}


class _quiet_tf_logging:  # noqa: N801 (a context manager used like a function)
    """Silence TF's deprecation notices of the TF1 loader while it runs."""

    def __enter__(self):
        import logging

        self.logger = _tf().get_logger()
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)
        return False


def exit_outputs(model, x, batch_size=256):
    """Our model's softmax outputs: {output name: array} (direct calls: no predict function to retrace)."""
    import numpy as np

    chunks = [model(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
    return {name: np.concatenate([np.asarray(c[k]) for c in chunks]) for k, name in enumerate(model.output_names)}


def max_output_difference(ours, reference):
    import numpy as np

    if set(ours) != set(reference):
        raise OriginalModelError(f"outputs differ: ours {sorted(ours)}, the SavedModel's {sorted(reference)}")
    return max(float(np.max(np.abs(ours[name] - reference[name]))) for name in ours)


def _decode_tuples(obj):
    """The TF 2.3 Keras metadata writes tuples as {"class_name": "__tuple__", "items": [...]}."""
    if obj.get("class_name") == "__tuple__" and "items" in obj:
        return tuple(obj["items"])
    return obj


def read_keras_config(path):
    """The Keras model config stored in the SavedModel's object graph (the TF 2.3 Keras metadata)."""
    import json

    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
        metadata = saved_model.meta_graphs[0].object_graph_def.nodes[0].user_object.metadata
        config = json.loads(metadata, object_hook=_decode_tuples)["config"]
    except Exception as err:  # noqa: BLE001  (protobuf DecodeError, IndexError, JSON, KeyError: all "not Keras")
        raise OriginalModelError(f"{path}: not a Keras SavedModel with a model config ({type(err).__name__})") from err
    return config


def load_original_keras(path):
    """The original as a Keras model: its own config (layers, names, graph) rebuilt, its checkpoint restored.

    Faster than ``tf.keras.models.load_model`` on these TF 2.3 SavedModels, which also restores every traced
    layer function; the weights are the same checkpoint values, and every one of them must find its layer.
    """
    tf = _tf()
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise OriginalModelError(f"{path}: no saved_model.pb (an original T-RECX model is a SavedModel folder, "
                                 "e.g. keyword_spotting/trained_models/model_with_ev_assist)")
    try:
        model = tf.keras.Model.from_config(read_keras_config(path))
        status = model.load_weights(str(path / "variables" / "variables"))
        status.assert_existing_objects_matched().expect_partial()  # the checkpoint also holds Adam slots
    except OriginalModelError:
        raise
    except Exception as err:  # noqa: BLE001  (TF raises many types for a damaged SavedModel)
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise OriginalModelError(f"{path}: cannot be rebuilt from its Keras config and checkpoint "
                                 f"({type(err).__name__}: {first_line[:200]})") from err
    return model


def load_original(path, task):
    """The original SavedModel at ``path`` as our architecture with its weights:
    (model, architecture name, the original's parameter count).

    The folder name (the original repo's ``model_with_ev_assist``, ``model_sdn``, ...) is tried first.
    """
    from mlperf_tiny.model_io import task_of_input_shape
    from mlperf_tiny.registry import get_model

    original = load_original_keras(path)
    shape = tuple(original.input_shape[1:])
    found = task_of_input_shape(shape)
    if found != task:
        raise OriginalModelError(f"{path}: input shape {'x'.join(map(str, shape))} is "
                                 f"{f'a {found} model' if found else 'no MLPerf Tiny task'}'s, not {task}'s")
    try:
        name = identify(original, task, hint=ARCHITECTURES[task].get(Path(path).name))
    except OriginalModelError as err:
        raise OriginalModelError(f"{path}: {err}") from None
    return copy_weights(original, get_model(name)), name, original.count_params()


def check_outputs(model, path, x, tolerance=OUTPUT_TOLERANCE):
    """Our outputs on ``x`` against the SavedModel's serving signature: (max |difference|, our outputs)."""
    ours = exit_outputs(model, x)
    difference = max_output_difference(ours, reference_outputs(path, x))
    if difference > tolerance:
        raise OriginalModelError(f"{path}: after the weight copy our outputs differ from the SavedModel's by "
                                 f"{difference:.3g} (> {tolerance:g})")
    return difference, ours

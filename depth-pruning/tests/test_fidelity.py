"""Depth pruning from the MLPerf Tiny reference models of the fidelity kit (vww_96.h5, the kws_ref_model
SavedModel): the prune scripts take them as base, print the counts, cut where the original repo's auto-named layer
is (VWW block5 = ``activation_10``, KWS block2 = ``activation_4`` in the reference files), and the saved pruned
model's tail reproduces the reference model's features at the cut on the kit's EEMBC stimuli.

The reference side is computed here from the artifacts: counts of the loaded reference models, their own layer
outputs (a separate load) on stimuli read with numpy.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from depth_pruning import common

KIT = Path(__file__).resolve().parents[2].parent / "shared" / "fidelity"
MLPERF = KIT / "models" / "mlperf"
pytestmark = [pytest.mark.fidelity,
              pytest.mark.skipif(not MLPERF.is_dir(), reason=f"fidelity kit not found at {KIT} (MLPerf Tiny models)")]

VWW_BASE = MLPERF / "visual_wake_words" / "vww_96.h5"
KWS_BASE = MLPERF / "keyword_spotting" / "kws_ref_model"
EEMBC_SETS = {"vww": "vww01", "kws": "kws01"}


def reference_model(path):
    import tensorflow as tf

    return tf.keras.models.load_model(str(path), compile=False)


def kit_inputs(task, count=32):
    """The first ``count`` stimuli of the kit's EEMBC folder as float model inputs, read with numpy."""
    folder = KIT / "eembc" / EEMBC_SETS[task]
    with open(folder / "y_labels.csv", newline="") as f:
        names = [row[0].strip() for row in csv.reader(f) if row][:count]
    if task == "vww":
        return np.stack([np.fromfile(folder / n, np.uint8).reshape(96, 96, 3) for n in names]).astype(np.float32) / 255
    from ai_edge_litert.interpreter import Interpreter

    scale, zero_point = Interpreter(str(MLPERF / "keyword_spotting" / "kws_ref_model.tflite")).get_input_details()[0][
        "quantization"]
    raw = np.stack([np.fromfile(folder / n, np.int8).reshape(49, 10, 1) for n in names])
    return (raw.astype(np.float32) - zero_point) * np.float32(scale)


def layer_output(model, layer_name, x):
    import tensorflow as tf

    return tf.keras.Model(model.inputs, model.get_layer(layer_name).output)(x, training=False).numpy()


def check_pruned_run(run_dir, base_path, task, reference_layer, base_params, params, capsys, fidelity_record):
    out = capsys.readouterr().out
    assert f"{base_params:,} params -> cut" in out and f"{params:,} params" in out  # the printed counts
    result = json.loads((Path(run_dir) / common.RESULT_FILE).read_text())
    assert (result["base_params"], result["params"]) == (base_params, params)
    assert result["layer"] == reference_layer  # our structural cut is the original's auto-named layer
    reference = reference_model(base_path)
    assert reference.count_params() == base_params
    pruned = reference_model(Path(run_dir) / common.MODEL_FILE)
    x = kit_inputs(task)
    difference = float(np.abs(layer_output(pruned, result["layer"], x) - layer_output(reference, reference_layer, x)).max())
    assert difference == 0.0  # frozen tail: the reference features, bit for bit, after training the head
    fidelity_record(f"{base_path.name} cut at {result['cut']} + {result['aux_arch']} head", params_ours=params,
                    params_original=base_params, max_output_diff=difference, data=KIT / "eembc" / EEMBC_SETS[task],
                    n=len(x), note=f"pruned / reference params; max diff: the saved pruned model's tail vs the "
                                   f"reference's {reference_layer} output after one epoch of head training")


def test_vww_reference_base_block5(small_vww, tmp_path, capsys, fidelity_record):
    from depth_pruning.vww import prune_vww_aux

    assert prune_vww_aux.main(["--base_model_path", str(VWW_BASE), "--attach_tensor_name", "block5",
                               "--data_dir", str(small_vww), "--train_dir", str(tmp_path), "--ckpt_name", "b5",
                               "--epochs_per_stage", "1", "--learning_rates", "1e-3", "--verbose", "0",
                               "--skip_image_check"]) == 0
    check_pruned_run(tmp_path / "b5", VWW_BASE, "vww", "activation_10", 221_794, 15_410, capsys, fidelity_record)


def test_kws_reference_base_block2(mini_data_dir, tmp_path, capsys, fidelity_record):
    from depth_pruning.kws import prune_kws_aux

    assert prune_kws_aux.main(["--base_model_path", str(KWS_BASE), "--attach_tensor_name", "block2",
                               "--data_dir", str(mini_data_dir), "--mini", "--train_dir", str(tmp_path),
                               "--ckpt_name", "b2", "--epochs", "1", "--batch_size", "16",
                               "--num_train_samples", "32", "--num_val_samples", "16", "--num_test_samples", "16",
                               "--verbose", "0"]) == 0
    check_pruned_run(tmp_path / "b2", KWS_BASE, "kws", "activation_4", 24_908, 17_852, capsys, fidelity_record)

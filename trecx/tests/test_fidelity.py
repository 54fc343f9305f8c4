"""Every original T-RECX SavedModel of the fidelity kit, loaded into our architecture and evaluated on the kit's
EEMBC stimuli by ``python -m trecx.eembc``, against a plain loop over the SavedModel's own serving graph.

The reference side is computed here from the artifacts: stimuli read with numpy from ``y_labels.csv`` and the
``.bin`` files (KWS: the int8 MFCCs dequantized with the scale and zero point of the kit's ``kws_ref_model.tflite``,
the model they were made for), outputs from the SavedModel's signature, the -1 pt saving point by a brute-force
sweep of those outputs.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from trecx import eembc, originals

KIT = Path(__file__).resolve().parents[2].parent / "shared" / "fidelity"
MODELS = KIT / "models" / "trecx"
pytestmark = [pytest.mark.fidelity,
              pytest.mark.skipif(not MODELS.is_dir(), reason=f"fidelity kit not found at {KIT} (T-RECX trained models)")]

TASK_FOLDERS = {"ic": "image_classification", "kws": "keyword_spotting", "vww": "visual_wake_words"}
EEMBC_SETS = {"ic": "ic01", "kws": "kws01", "vww": "vww01"}
CASES = [("ic", "model_with_ev_assist", 89_780), ("ic", "model_without_ev_assist", 84_500),
         ("kws", "model_with_ev_assist", 28_248), ("kws", "model_without_ev_assist", 27_544),
         ("kws", "model_eefmaps_concat", 27_928), ("kws", "model_sdn", 38_768),
         ("kws", "model_branchynet", 62_628), ("vww", "model_with_ev_assist", 226_276)]


def kit_stimuli(task):
    """(float inputs, labels) of the kit's EEMBC folder, read with numpy only."""
    folder = KIT / "eembc" / EEMBC_SETS[task]
    with open(folder / "y_labels.csv", newline="") as f:
        rows = [[field.strip() for field in row] for row in csv.reader(f) if row]
    labels = np.array([int(row[2]) for row in rows])
    if task == "kws":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(str(KIT / "models" / "mlperf" / "keyword_spotting" / "kws_ref_model.tflite"))
        scale, zero_point = interpreter.get_input_details()[0]["quantization"]
        raw = np.stack([np.fromfile(folder / row[0], dtype=np.int8).reshape(49, 10, 1) for row in rows])
        return (raw.astype(np.float32) - zero_point) * np.float32(scale), labels
    size = {"ic": 32, "vww": 96}[task]
    raw = np.stack([np.fromfile(folder / row[0], dtype=np.uint8).reshape(size, size, 3) for row in rows])
    return raw.astype(np.float32) / (255.0 if task == "vww" else 1.0), labels


def brute_force_saving_point(probs, labels, exit_macs):
    """The cheapest rho in 0, 0.01, ..., 1 whose total accuracy is within 1 pt of the final exit's."""
    final = (probs[-1].argmax(1) == labels).mean()
    best = None
    for rho in np.round(np.arange(101) * 0.01, 10):
        answered = np.zeros(len(labels), bool)
        predictions, cost = np.zeros(len(labels), int), np.zeros(len(labels))
        for k, p in enumerate(probs):
            leave = ~answered & ((p.max(1) >= rho) | (k == len(probs) - 1))
            predictions[leave], cost[leave] = p.argmax(1)[leave], exit_macs[k]
            answered |= leave
        accuracy = (predictions == labels).mean()
        if accuracy >= final - 0.01 - 1e-12 and (best is None or cost.mean() < best[1]):
            best = (rho, cost.mean(), accuracy)
    return best


@pytest.mark.parametrize("task,name,params", CASES, ids=[f"{t}-{n}" for t, n, _ in CASES])
def test_original_through_cli_equals_plain_loop(task, name, params, tmp_path, fidelity_record):
    path = MODELS / TASK_FOLDERS[task] / name
    out = tmp_path / "result.json"
    data = KIT / "eembc" / EEMBC_SETS[task]
    assert eembc.main(["--task", task, "--model", str(path), "--data", str(data), "--json", str(out)]) == 0
    result = json.loads(out.read_text())

    x, labels = kit_stimuli(task)
    reference = originals.reference_outputs(path, x)
    output_names = [e["name"] for e in result["exits"]]
    assert sorted(output_names) == sorted(reference)
    probs = [reference[n] for n in output_names]
    plain = [100 * float((p.argmax(1) == labels).mean()) for p in probs]
    assert result["n"] == len(labels)
    assert result["params"] == result["params_original"] == params
    assert result["max_output_difference"] <= originals.OUTPUT_TOLERANCE
    # to the stimulus: every exit's accuracy is the plain loop's
    assert [e["accuracy"] for e in result["exits"]] == pytest.approx(plain, abs=1e-9)
    rho, macs, accuracy = brute_force_saving_point(probs, labels, [e["macs"] for e in result["exits"]])
    point = result["saving_point"]
    assert (point["rho"], point["avg_macs"]) == pytest.approx((rho, macs))
    assert point["accuracy"] == pytest.approx(100 * accuracy)
    fidelity_record(f"T-RECX {TASK_FOLDERS[task]}/{name} on {EEMBC_SETS[task]}", params_ours=result["params"],
                    params_original=result["params_original"], max_output_diff=result["max_output_difference"],
                    accuracy_ours=result["final_accuracy"], accuracy_reference=plain[-1], data=data, n=result["n"],
                    note=f"final exit; early exit {result['ee_accuracy']:.1f}% (plain {plain[0]:.1f}%); -1 pt at "
                         f"rho {point['rho']:.2f}: {100 * point['mac_reduction_vs_final_exit']:.1f}% fewer MACs")


def test_wrong_task_and_non_trecx_models_are_refused(tmp_path):
    kws_model = MODELS / "keyword_spotting" / "model_sdn"
    with pytest.raises(originals.OriginalModelError, match="49x10x1 is a kws model's, not vww's"):
        originals.load_original(kws_model, "vww")
    reference_kws = KIT / "models" / "mlperf" / "keyword_spotting" / "kws_ref_model"
    with pytest.raises(originals.OriginalModelError, match="match none of the T-RECX kws architectures"):
        originals.load_original(reference_kws, "kws")
    with pytest.raises(originals.OriginalModelError, match="no saved_model.pb"):
        originals.load_original(tmp_path, "kws")

"""Per-id anomaly scoring shared by 01_test.py (Keras) and 03_tflite_test.py (TFLite)."""

import csv
from pathlib import Path

import numpy as np
import run_contract as rc

from mlperf_tiny.anomaly_detection import common


def score_machine(machine_dir, param, predict, tag, result_dir, mini=False):
    """Score every test clip of a machine (mean squared reconstruction error over its vectors); per-id AUC/pAUC.

    predict: [vectors, 640] -> reconstructions. Writes anomaly_score_<tag>_<id>.csv, and returns
    {"per_id": {id: {...}}, "average": {...}, "curves": {id: (fpr, tpr, auc)}}.
    """
    from sklearn import metrics

    from mlperf_tiny import eval_functions_eembc as eembc

    result_dir = Path(result_dir)
    per_id, curves = {}, {}
    ids = common.get_machine_id_list_for_test(machine_dir)
    if not ids:
        raise common.DatasetLayoutError(f"no test clips named *_id_XX_*.wav in {Path(machine_dir) / 'test'}. "
                                        f"{common.LAYOUT_HELP}")
    for id_name in ids:
        files, labels = common.test_file_list_generator(machine_dir, id_name)
        scores = np.zeros(len(files))
        for i, path in enumerate(files):
            vectors = common.file_to_vector_array(path, **common.feature_kwargs(param))
            reconstruction = np.asarray(predict(vectors))
            scores[i] = np.mean(np.square(vectors - reconstruction))
        with rc.atomic_open(result_dir / f"anomaly_score_{tag}_{id_name}.csv", "w", newline="") as f:
            csv.writer(f).writerows([[Path(p).name, s] for p, s in zip(files, scores)])
        auc = metrics.roc_auc_score(labels, scores)
        fpr, tpr, _ = metrics.roc_curve(labels, scores)
        curves[id_name] = (fpr, tpr, auc)
        per_id[id_name] = {
            "auc": float(auc),
            "pauc": float(metrics.roc_auc_score(labels, scores, max_fpr=param["max_fpr"])),
            "eembc_auc": eembc.calculate_ae_auc(scores, labels),
            "eembc_accuracy": eembc.calculate_ae_accuracy(scores, labels),
            "eembc_pr_accuracy": eembc.calculate_ae_pr_accuracy(scores, labels),
            "num_normal": int((labels == 0).sum()), "num_anomaly": int((labels == 1).sum()),
        }
        print(f"{tag} {id_name}: AUC {auc:.4f}  pAUC {per_id[id_name]['pauc']:.4f}")
    average = {key: float(np.mean([m[key] for m in per_id.values()]))
               for key in ("auc", "pauc", "eembc_auc", "eembc_accuracy", "eembc_pr_accuracy")}
    print(f"{tag} average: AUC {average['auc']:.4f}  pAUC {average['pauc']:.4f}")
    return {"per_id": per_id, "average": average, "curves": curves, "dataset": "mini" if mini else "ToyADMOS"}


def write_results(results, result_dir, tag, mini=False):
    """result_<tag>.csv (v0.5 result.csv rows), <tag>_metrics.json, ROC PNG; merges into metrics.json."""
    from mlperf_tiny.run_utils import METRICS_JSON, plot_roc, read_json, write_json

    result_dir = Path(result_dir)
    with rc.atomic_open(result_dir / f"result_{tag}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "AUC", "pAUC"])
        for id_name, m in results["per_id"].items():
            writer.writerow([id_name, m["auc"], m["pauc"]])
        writer.writerow(["Average", results["average"]["auc"], results["average"]["pauc"]])
    plot_roc(results["curves"], result_dir / f"{tag}_roc.png",
             f"{tag}: mean AUC {results['average']['auc']:.3f}{' (mini data)' if mini else ''}")
    metrics = {k: v for k, v in results.items() if k != "curves"}
    write_json(result_dir / f"{tag}_metrics.json", metrics)
    summary = read_json(result_dir / METRICS_JSON) if (result_dir / METRICS_JSON).exists() else {}
    summary[tag] = metrics
    write_json(result_dir / METRICS_JSON, summary)
    return metrics


def score_eembc(model, data_dir, tag, result_dir, mini=False):
    """Score an EEMBC folder (ad01: log-mel windows per file) with a ``model_io`` model; <tag>_metrics.json."""
    from mlperf_tiny import eembc
    from mlperf_tiny.run_utils import METRICS_JSON, read_json, write_json

    stimuli = eembc.load_stimuli(data_dir, "ad")
    result = eembc.evaluate(model, stimuli)
    result["dataset"] = "mini" if mini else "eembc_ad01"
    result_dir = Path(result_dir)
    write_json(result_dir / f"{tag}_metrics.json", result)
    summary = read_json(result_dir / METRICS_JSON) if (result_dir / METRICS_JSON).exists() else {}
    summary[tag] = result
    write_json(result_dir / METRICS_JSON, summary)
    print(eembc.summary_line(result))
    return result

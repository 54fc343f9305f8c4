"""EEMBC-style evaluation shared by the four MLPerf Tiny tasks (after ``eval_functions_eembc.py`` of v0.5).

- ``calculate_accuracy``: top-1 accuracy in percent.
- ``calculate_auc``: one-vs-rest ROC AUC per class, each ROC sampled at the 101 fixed thresholds 0.00..1.00 on the
  softmax score (``score > threshold`` is positive), with the first point forced to (1, 1) and trapezoid
  integration, exactly like the EEMBC code. It is a coarse approximation of the true AUC (``sklearn``).
- ``calculate_ae_accuracy`` / ``calculate_ae_pr_accuracy`` / ``calculate_ae_auc``: anomaly scores (higher =
  more anomalous) thresholded at 100 (AUC: 101) points spread evenly over [min score, max score].

The reference loops over samples in Python; these are vectorised and give the same numbers. The reference AE
functions slice ``y_pred[:n_normal]`` as "the normal clips", i.e. they assume the inputs are sorted normals
first (as the AD test script passes them); here boolean masks are used, which is identical for sorted inputs
and correct for unsorted ones. Divisions by zero (no predicted positive) count as 0 instead of NaN.
Nothing is printed or plotted here; callers log and plot (``plot_roc_curves``).
"""

import numpy as np

# The EEMBC thresholds: 0.00, 0.01, ..., 1.00 for probabilities.
AUC_THRESHOLDS = np.round(np.arange(0.0, 1.01, 0.01), 2)
# AE thresholds are fractions of the score range: 100 for accuracy / PR, 101 (incl. the max) for the AUC.
AE_ACCURACY_FRACTIONS = np.arange(0.0, 1.0, 0.01)
AE_AUC_FRACTIONS = np.arange(0.0, 1.01, 0.01)


def _as_labels(labels):
    """Integer class labels from integer labels or one-hot rows."""
    labels = np.asarray(labels)
    return labels.argmax(axis=1) if labels.ndim == 2 else labels.astype(np.int64)


def calculate_accuracy(y_pred, labels):
    """Top-1 accuracy in percent; ``y_pred`` is (N, classes) scores, ``labels`` ints or one-hot."""
    y_pred = np.asarray(y_pred)
    labels = _as_labels(labels)
    if len(y_pred) != len(labels):
        raise ValueError(f"{len(y_pred)} predictions for {len(labels)} labels")
    return float(100.0 * np.mean(np.argmax(y_pred, axis=1) == labels))


def calculate_all_accuracies(y_pred, labels, classes):
    """Per-class accuracy in percent, ``{class name: accuracy}`` (NaN for a class with no sample)."""
    predicted = np.argmax(np.asarray(y_pred), axis=1)
    labels = _as_labels(labels)
    per_class = {}
    for index, name in enumerate(classes):
        mask = labels == index
        per_class[name] = float(100.0 * np.mean(predicted[mask] == index)) if mask.any() else float("nan")
    return per_class


def roc_curves(y_pred, labels, num_classes=None, thresholds=AUC_THRESHOLDS):
    """One-vs-rest (fpr, tpr) arrays of shape (classes, thresholds), EEMBC style (point 0 forced to (1, 1))."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    labels = _as_labels(labels)
    num_classes = num_classes or y_pred.shape[1]
    # positive[i, c, t]: sample i scores class c above threshold t.
    above = y_pred[:, :num_classes, None] > thresholds[None, None, :]
    is_class = labels[:, None] == np.arange(num_classes)[None, :]
    positives = np.maximum(is_class.sum(axis=0), 1)[:, None]
    negatives = np.maximum((~is_class).sum(axis=0), 1)[:, None]
    tpr = (above & is_class[:, :, None]).sum(axis=0) / positives
    fpr = (above & ~is_class[:, :, None]).sum(axis=0) / negatives
    tpr[:, 0] = 1.0
    fpr[:, 0] = 1.0
    return fpr, tpr


def _trapezoid_auc(fpr, tpr):
    # Thresholds rise along the last axis, so fpr falls: integrate from right to left.
    return np.sum(0.5 * (tpr[..., :-1] + tpr[..., 1:]) * (fpr[..., :-1] - fpr[..., 1:]), axis=-1)


def calculate_auc(y_pred, labels, num_classes=None):
    """Per-class EEMBC one-vs-rest AUC (array of shape (classes,)); the reference reports its mean."""
    fpr, tpr = roc_curves(y_pred, labels, num_classes)
    return _trapezoid_auc(fpr, tpr)


def _ae_confusion(y_pred, y_true, thresholds):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    anomalous = np.asarray(y_true).astype(bool)
    flagged = y_pred[:, None] > thresholds[None, :]
    true_positive = (flagged & anomalous[:, None]).sum(axis=0)
    false_positive = (flagged & ~anomalous[:, None]).sum(axis=0)
    false_negative = anomalous.sum() - true_positive
    true_negative = (~anomalous).sum() - false_positive
    return true_positive, false_positive, true_negative, false_negative


def _ae_thresholds(y_pred, fractions):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    return y_pred.min() + fractions * (y_pred.max() - y_pred.min())


def _safe_ratio(numerator, denominator):
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def calculate_ae_accuracy(y_pred, y_true):
    """Best accuracy (percent) over 100 thresholds; ``y_true`` is 1 for anomalies, 0 for normal samples."""
    tp, fp, tn, fn = _ae_confusion(y_pred, y_true, _ae_thresholds(y_pred, AE_ACCURACY_FRACTIONS))
    return float(np.max(100.0 * (tp + tn) / len(np.asarray(y_true))))


def calculate_ae_pr_accuracy(y_pred, y_true):
    """Best (precision + recall) / 2 in percent over 100 thresholds."""
    tp, fp, tn, fn = _ae_confusion(y_pred, y_true, _ae_thresholds(y_pred, AE_ACCURACY_FRACTIONS))
    precision = _safe_ratio(tp, tp + fp)
    recall = _safe_ratio(tp, tp + fn)
    return float(np.max(100.0 * (precision + recall) / 2))


def ae_roc_curve(y_pred, y_true):
    """(fpr, tpr) at 101 thresholds over the score range, point 0 forced to (1, 1) as in the reference."""
    tp, fp, tn, fn = _ae_confusion(y_pred, y_true, _ae_thresholds(y_pred, AE_AUC_FRACTIONS))
    tpr = _safe_ratio(tp, tp + fn)
    fpr = _safe_ratio(fp, fp + tn)
    tpr[0] = 1.0
    fpr[0] = 1.0
    return fpr, tpr


def calculate_ae_auc(y_pred, y_true):
    """EEMBC AUC of anomaly scores (101 thresholds over the score range, trapezoid rule)."""
    fpr, tpr = ae_roc_curve(y_pred, y_true)
    return float(_trapezoid_auc(fpr, tpr))


def plot_roc_curves(y_pred, labels, class_names, png_path, title="ROC (EEMBC thresholds)"):
    """PNG of the per-class one-vs-rest ROC curves with their EEMBC AUCs in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fpr, tpr = roc_curves(y_pred, labels, len(class_names))
    aucs = _trapezoid_auc(fpr, tpr)
    fig, ax = plt.subplots(figsize=(5, 5))
    for index, name in enumerate(class_names):
        ax.plot(fpr[index], tpr[index], label=f"{name}: {aucs[index]:.3f}")
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    from mlperf_tiny.run_utils import save_figure

    save_figure(fig, png_path)
    plt.close(fig)
    return png_path


def classification_report(y_prob, labels, class_names, out_dir, tag, extra=None, title_suffix=""):
    """Evaluate class probabilities EEMBC-style and leave the evidence in ``out_dir``.

    Writes ``<tag>_metrics.json`` (top-1 accuracy, mean/per-class EEMBC AUC, per-class accuracy, plus ``extra``),
    ``<tag>_confusion.png`` and ``<tag>_roc.png``, merges the metrics under key ``tag`` into ``metrics.json``,
    and returns the metrics dict.
    """
    from pathlib import Path

    from mlperf_tiny.run_utils import METRICS_JSON, plot_confusion_matrix, read_json, write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    labels = _as_labels(labels)
    per_class_auc = calculate_auc(y_prob, labels, len(class_names))
    metrics = {
        "accuracy": calculate_accuracy(y_prob, labels),
        "auc": float(np.mean(per_class_auc)),
        "auc_per_class": dict(zip(class_names, map(float, per_class_auc))),
        "accuracy_per_class": calculate_all_accuracies(y_prob, labels, class_names),
        "num_samples": int(len(labels)),
        **(extra or {}),
    }
    plot_confusion_matrix(labels, y_prob.argmax(axis=1), list(class_names), out_dir / f"{tag}_confusion.png",
                          f"{tag}: accuracy {metrics['accuracy']:.2f}%{title_suffix}")
    plot_roc_curves(y_prob, labels, list(class_names), out_dir / f"{tag}_roc.png",
                    f"{tag}: EEMBC AUC {metrics['auc']:.3f}{title_suffix}")
    write_json(out_dir / f"{tag}_metrics.json", metrics)
    summary = read_json(out_dir / METRICS_JSON) if (out_dir / METRICS_JSON).exists() else {}
    summary[tag] = metrics
    write_json(out_dir / METRICS_JSON, summary)
    return metrics

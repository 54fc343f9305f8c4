"""EEMBC evaluation functions: hand-computed cases and agreement with sklearn's exact AUC."""

import numpy as np
import pytest
from mlperf_tiny import eval_functions_eembc as eembc
from sklearn.metrics import roc_auc_score


def test_accuracy_with_int_and_one_hot_labels():
    y_pred = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    assert eembc.calculate_accuracy(y_pred, labels) == 75.0
    assert eembc.calculate_accuracy(y_pred, np.eye(2)[labels]) == 75.0
    assert eembc.calculate_all_accuracies(y_pred, labels, ["a", "b"]) == {"a": 100.0, "b": pytest.approx(200 / 3)}


def test_auc_of_perfect_and_inverted_scores():
    labels = np.array([0, 0, 1, 1])
    perfect = np.array([[0.95, 0.05], [0.9, 0.1], [0.2, 0.8], [0.05, 0.95]])
    np.testing.assert_allclose(eembc.calculate_auc(perfect, labels), [1.0, 1.0])
    np.testing.assert_allclose(eembc.calculate_auc(perfect[:, ::-1], labels), [0.0, 0.0])


def test_auc_golden_value_two_thresholds_apart():
    # Class 1 scores: positives 0.705 and 0.305, negatives 0.505 and 0.105. Points (fpr, tpr) are (1, 1) forced,
    # then (0.5, 1) for t in [0.11, 0.30], (0.5, 0.5) for t in [0.31, 0.50], (0, 0.5) for t in [0.51, 0.70]:
    # trapezoids give 0.5 * 1 (fpr 1 -> 0.5) + 0.5 * 0.5 (fpr 0.5 -> 0) = 0.75, sklearn's exact value too.
    scores = np.array([0.705, 0.305, 0.505, 0.105])
    y_pred = np.stack([1 - scores, scores], axis=1)
    labels = np.array([1, 1, 0, 0])
    assert eembc.calculate_auc(y_pred, labels)[1] == pytest.approx(0.75)
    assert roc_auc_score(labels, scores) == pytest.approx(0.75)


def test_auc_close_to_sklearn_on_random_scores():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 500)
    y_pred = rng.random((500, 3))
    y_pred[np.arange(500), labels] += 0.5
    y_pred /= y_pred.sum(axis=1, keepdims=True)
    exact = [roc_auc_score(labels == c, y_pred[:, c]) for c in range(3)]
    np.testing.assert_allclose(eembc.calculate_auc(y_pred, labels), exact, atol=2e-3)
    assert eembc.calculate_accuracy(y_pred, labels) == pytest.approx(76.8)


def test_anomaly_metrics_golden_and_order_independent():
    rng = np.random.default_rng(1)
    scores = np.r_[rng.normal(0, 1, 300), rng.normal(2, 1, 100)]
    truth = np.r_[np.zeros(300), np.ones(100)]
    assert eembc.calculate_ae_auc(scores, truth) == pytest.approx(roc_auc_score(truth, scores), abs=2e-3)
    accuracy = eembc.calculate_ae_accuracy(scores, truth)
    pr_accuracy = eembc.calculate_ae_pr_accuracy(scores, truth)
    order = rng.permutation(len(scores))  # the reference needs normals first; masks do not
    assert eembc.calculate_ae_accuracy(scores[order], truth[order]) == accuracy
    assert eembc.calculate_ae_pr_accuracy(scores[order], truth[order]) == pr_accuracy
    # Best accuracy is at least the majority rate and at most perfect.
    assert 75.0 <= accuracy <= 100.0
    assert 50.0 < pr_accuracy <= 100.0


def test_classification_report_writes_metrics_and_plots(tmp_path):
    y_pred = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = eembc.classification_report(y_pred, [0, 1, 1, 1], ["no", "yes"], tmp_path, "keras_float",
                                          extra={"dataset": "mini"})
    assert metrics["accuracy"] == 75.0 and metrics["dataset"] == "mini"
    for name in ("keras_float_metrics.json", "keras_float_confusion.png", "keras_float_roc.png", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0

"""How a probability model is judged: discrimination (ROC AUC), calibration (expected calibration error and the
reliability table behind it) and both at once (log loss, Brier score). Arrays in, plain floats and lists out, so
the figures can be stored with a model version as JSON.

ECE: predictions are put in `bins` equal-width bins of [0, 1] (1.0 falls in the last one); ECE is the
sample-weighted mean over the non-empty bins of |observed rate - mean prediction|. A model whose shown 80 % means
about 80 % has an ECE near 0.
"""
import math

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

DEFAULT_BINS = 10


def _arrays(y_true, y_prob) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true, dtype=float).ravel()
    prob = np.asarray(y_prob, dtype=float).ravel()
    if truth.shape != prob.shape:
        raise ValueError(f"{truth.size} labels but {prob.size} predictions")
    if prob.size and (prob.min() < 0 or prob.max() > 1):
        raise ValueError("predictions must lie in [0, 1]")
    return truth, prob


def _bin_of(prob: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((prob * bins).astype(int), bins - 1)


def reliability_table(y_true, y_prob, *, bins: int = DEFAULT_BINS) -> list[dict]:
    """Per non-empty bin: its bounds, how many predictions fell in it, their mean and the observed positive rate."""
    truth, prob = _arrays(y_true, y_prob)
    index = _bin_of(prob, bins)
    rows = []
    for number in range(bins):
        inside = index == number
        count = int(inside.sum())
        if count:
            rows.append({"lower": number / bins, "upper": (number + 1) / bins, "count": count,
                         "mean_predicted": float(prob[inside].mean()), "observed": float(truth[inside].mean())})
    return rows


def expected_calibration_error(y_true, y_prob, *, bins: int = DEFAULT_BINS) -> float:
    truth, prob = _arrays(y_true, y_prob)
    if not truth.size:
        return 0.0
    return float(sum(row["count"] * abs(row["observed"] - row["mean_predicted"])
                     for row in reliability_table(truth, prob, bins=bins)) / truth.size)


def roc_auc(y_true, y_score) -> float | None:
    """Area under the ROC curve; None when the labels hold only one class (it is not defined then)."""
    truth = np.asarray(y_true, dtype=float).ravel()
    if truth.size == 0 or truth.min() == truth.max():
        return None
    return float(roc_auc_score(truth, np.asarray(y_score, dtype=float).ravel()))


def binary_report(y_true, y_prob, *, bins: int = DEFAULT_BINS) -> dict:
    """Every figure at once, for storing with a model version."""
    truth, prob = _arrays(y_true, y_prob)
    both = truth.size and truth.min() != truth.max()
    return {
        "n": int(truth.size), "positives": int(truth.sum()), "base_rate": float(truth.mean()) if truth.size else 0.0,
        "mean_predicted": float(prob.mean()) if prob.size else 0.0,
        "auc": roc_auc(truth, prob), "ece": expected_calibration_error(truth, prob, bins=bins),
        "brier": float(brier_score_loss(truth, prob)) if truth.size else None,
        "log_loss": float(log_loss(truth, np.clip(prob, 1e-6, 1 - 1e-6), labels=[0, 1])) if both else None,
        "reliability": reliability_table(truth, prob, bins=bins),
    }


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)

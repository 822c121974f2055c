"""Validation metrics of the four GLUE tasks (Table 2 of Dodge et al., 2020).

Pure NumPy, no scikit-learn: accuracy (RTE, SST-2, MRPC), F1 of the positive class
(MRPC), Matthews correlation (CoLA) and the mean of accuracy and F1 (MRPC's headline
metric, ``acc_and_f1``), defined as in the GLUE scripts of the Hugging Face library
the paper used. Labels are integer class ids; the positive class of F1 is ``1``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["METRICS", "accuracy", "f1", "mcc", "acc_and_f1", "compute_metrics", "confusion"]


def _check(y_true, y_pred):
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1:
        raise ValueError(f"y_true, y_pred: expected 1-D label arrays, got shapes {t.shape} "
                         f"and {p.shape}")
    if len(t) != len(p):
        raise ValueError(f"y_true, y_pred: expected arrays of equal length, got {len(t)} "
                         f"and {len(p)}")
    if len(t) == 0:
        raise ValueError("y_true: expected at least one label, got an empty array")
    for name, a in (("y_true", t), ("y_pred", p)):
        if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)):
            raise TypeError(f"{name}: expected integer class labels, got dtype {a.dtype}")
    return t.astype(np.int64), p.astype(np.int64)


def confusion(y_true, y_pred) -> tuple[int, int, int, int]:
    """Binary confusion counts ``(tp, fp, fn, tn)`` with positive class ``1``.

    Examples
    --------
    >>> confusion([1, 1, 0, 0], [1, 0, 1, 0])
    (1, 1, 1, 1)
    """
    t, p = _check(y_true, y_pred)
    tp = int(np.sum((t == 1) & (p == 1)))
    fp = int(np.sum((t != 1) & (p == 1)))
    fn = int(np.sum((t == 1) & (p != 1)))
    tn = int(np.sum((t != 1) & (p != 1)))
    return tp, fp, fn, tn


def accuracy(y_true, y_pred) -> float:
    """Fraction of correct predictions.

    Examples
    --------
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    t, p = _check(y_true, y_pred)
    return float(np.mean(t == p))


def f1(y_true, y_pred) -> float:
    """F1 score of the positive class ``1``: ``2 tp / (2 tp + fp + fn)``.

    0.0 when there is no positive label and no positive prediction (the GLUE
    scripts' scikit-learn default).

    Examples
    --------
    >>> f1([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    tp, fp, fn, _ = confusion(y_true, y_pred)
    den = 2 * tp + fp + fn
    return 0.0 if den == 0 else 2 * tp / den


def mcc(y_true, y_pred) -> float:
    """Matthews correlation coefficient of a binary classification (CoLA's metric).

    ``(tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))``; 0.0 when a
    factor of the denominator is 0 (a constant prediction or a constant label), as in
    scikit-learn, so a model that always predicts the majority class scores 0, the
    majority baseline of Table 2.

    Examples
    --------
    >>> mcc([1, 1, 0, 0], [1, 1, 0, 0])
    1.0
    >>> mcc([1, 0, 1, 0], [1, 1, 1, 1])
    0.0
    """
    tp, fp, fn, tn = confusion(y_true, y_pred)
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if den == 0:
        return 0.0
    return (tp * tn - fp * fn) / math.sqrt(den)


def acc_and_f1(y_true, y_pred) -> float:
    """Mean of accuracy and F1 (MRPC's headline metric in the paper).

    Examples
    --------
    >>> round(acc_and_f1([1, 1, 0, 0], [1, 0, 0, 0]), 6)  # (3/4 + 2/3) / 2
    0.708333
    """
    return (accuracy(y_true, y_pred) + f1(y_true, y_pred)) / 2


#: Metric name (as logged) -> function of ``(y_true, y_pred)``.
METRICS = {"acc": accuracy, "f1": f1, "mcc": mcc, "acc_and_f1": acc_and_f1}


def compute_metrics(names, y_true, y_pred) -> dict[str, float]:
    """Every metric in ``names`` (``"loss"`` is skipped: it needs the logits).

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`METRICS` (and possibly ``"loss"``).
    y_true, y_pred : 1-D int arrays of equal length

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> compute_metrics(["loss", "acc", "mcc"], [1, 0], [1, 1])
    {'acc': 0.5, 'mcc': 0.0}
    """
    out = {}
    for name in names:
        if name == "loss":
            continue
        if name not in METRICS:
            raise ValueError(f"metric: expected one of {', '.join(METRICS)}, got {name!r}")
        out[name] = float(METRICS[name](y_true, y_pred))
    return out

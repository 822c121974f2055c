"""Display transforms the figures need and the statistics modules do not provide.

These turn computed data into what a plot draws, and nothing more: ordering a grid
by its row and column means (Figure 2), evaluating a Gaussian kernel density estimate
on a grid (Figures 3 and 8, as the paper's seaborn ``kdeplot`` did), choosing a seeded
random subset of curves (Figure 4). They are tested against independent computations
in ``tests/test_figures.py``. Estimators (expected maxima, standard deviations,
correlations, early stopping) live in :mod:`seedstats.stats` and
:mod:`seedstats.earlystop`, never here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.data.schema import TASKS
from seedstats.errors import DataError
from seedstats.stats import nan_means

__all__ = ["sort_grid", "kde_curves", "pick_curves"]


def sort_grid(grid: pd.DataFrame) -> pd.DataFrame:
    """Order a WI x DO grid as Figure 2 does: best WI on top, best DO on the right.

    Rows are sorted by their mean (NaN ignored) in decreasing order, columns by their
    mean in increasing order; ties keep the seed order (stable sort).

    Parameters
    ----------
    grid : DataFrame, shape (n_wi, n_do)
        Index WI seeds, columns DO seeds, cells scores.

    Returns
    -------
    DataFrame
        The same cells, rows and columns reordered.

    Examples
    --------
    >>> import pandas as pd
    >>> g = pd.DataFrame([[.5, .7], [.9, .8]], index=[1, 2], columns=[1, 2])
    >>> sort_grid(g)
         1    2
    2  0.9  0.8
    1  0.5  0.7
    >>> g2 = pd.DataFrame([[.9, .5], [.8, .6]], index=[1, 2], columns=[1, 2])
    >>> list(sort_grid(g2).columns)
    [2, 1]
    """
    if not isinstance(grid, pd.DataFrame):
        raise TypeError(f"grid must be a DataFrame (WI x DO); got {type(grid).__name__}")
    values = grid.to_numpy(dtype=float)
    row_mean = nan_means(values, axis=1)
    col_mean = nan_means(values, axis=0)
    rows = np.argsort(np.where(np.isnan(row_mean), np.inf, -row_mean), kind="stable")
    cols = np.argsort(np.nan_to_num(col_mean, nan=-np.inf), kind="stable")
    return grid.iloc[rows, cols]


def kde_curves(samples, *, n_points: int = 256, bw_method="scott", cut: float = 3.0,
               support=None) -> pd.DataFrame:
    """Gaussian kernel density estimates of several samples on a common grid.

    The grid spans the pooled samples extended by ``cut`` bandwidths on each side (as
    seaborn's ``kdeplot``, which the paper used, does), clipped to ``support``.

    Parameters
    ----------
    samples : dict of str to 1-D array-like
        Group label to sample (NaN dropped). A group with fewer than two distinct
        values has no density: it gets no rows.
    n_points : int
        Grid points.
    bw_method : str or float
        Passed to :class:`scipy.stats.gaussian_kde` (Scott's rule by default).
    cut : float
        Extend the grid this many bandwidths beyond the data.
    support : (float or None, float or None), optional
        Clip the grid to these bounds (e.g. ``(0, None)`` for standard deviations).

    Returns
    -------
    DataFrame
        Columns ``label`` (group), ``x`` (grid point), ``density`` (estimated density at
        ``x``), ``n`` (sample size), ``bandwidth`` (kernel standard deviation); groups
        in the order of ``samples``.

    Examples
    --------
    >>> df = kde_curves({"a": [0.0, 1.0, 2.0]}, n_points=5)
    >>> list(df.columns)
    ['label', 'x', 'density', 'n', 'bandwidth']
    >>> len(df)
    5
    """
    from scipy.stats import gaussian_kde

    if not isinstance(samples, dict):
        raise TypeError(f"samples must be a dict of label to array; got {type(samples).__name__}")
    if int(n_points) < 2:
        raise ValueError(f"n_points must be at least 2; got {n_points}")
    clean, kdes = {}, {}
    for label, s in samples.items():
        arr = np.asarray(s, dtype=float).ravel()
        arr = arr[~np.isnan(arr)]
        if len(np.unique(arr)) < 2:
            continue
        clean[label] = arr
        kdes[label] = gaussian_kde(arr, bw_method=bw_method)
    columns = ["label", "x", "density", "n", "bandwidth"]
    if not clean:
        return pd.DataFrame({c: [] for c in columns})
    bws = {k: float(np.sqrt(kde.covariance[0, 0])) for k, kde in kdes.items()}
    lo = min(arr.min() - cut * bws[k] for k, arr in clean.items())
    hi = max(arr.max() + cut * bws[k] for k, arr in clean.items())
    if support is not None:
        if support[0] is not None:
            lo = max(lo, float(support[0]))
        if support[1] is not None:
            hi = min(hi, float(support[1]))
    x = np.linspace(lo, hi, int(n_points))
    parts = []
    for label, kde in kdes.items():
        parts.append(pd.DataFrame({"label": str(label), "x": x, "density": kde(x),
                                   "n": len(clean[label]), "bandwidth": bws[label]}))
    return pd.concat(parts, ignore_index=True)[columns]


def pick_curves(evals: pd.DataFrame, task: str, *, n: int = 20, rng=0,
                metric: str | None = None) -> pd.DataFrame:
    """Validation curves of ``n`` trials of a task chosen at random (Figure 4).

    The trials are drawn without replacement by ``numpy.random.default_rng(rng)``
    from the task's trial ids in sorted order, so the same seed gives the same curves
    (the global NumPy random state is never used).

    Parameters
    ----------
    evals : DataFrame
        The ``evals`` table.
    task : str
    n : int
        Trials to draw (all of them when the task has fewer).
    rng : int or numpy.random.Generator
        Seed (or generator) of the draw.
    metric : str, optional
        Default: the task's headline metric (its ``trials.metric``, else Table 2).

    Returns
    -------
    DataFrame
        Columns ``trial_id``, ``step``, ``epoch``, ``value``: the ``"during"``
        evaluations of the chosen trials, in draw order, then by step.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    e = evals[(evals["task"] == task) & (evals["phase"] == "during")]
    if metric is None:
        metric = TASKS[task].metric if task in TASKS else None
        if metric is None or not (e["metric"] == metric).any():
            metric = next((str(m) for m in e["metric"].unique() if str(m) != "loss"), None)
    e = e[e["metric"] == metric]
    if e.empty:
        raise DataError(f"task {task!r}: no 'during' evaluations of metric {metric!r} "
                        "to draw curves from")
    ids = np.array(sorted(map(str, e["trial_id"].unique())), dtype=object)
    chosen = np.random.default_rng(rng).choice(ids, size=min(int(n), len(ids)), replace=False)
    order = {t: i for i, t in enumerate(chosen)}
    sub = e[e["trial_id"].astype(str).isin(order)]
    out = pd.DataFrame({"trial_id": sub["trial_id"].astype(str).to_numpy(),
                        "step": sub["step"].to_numpy(dtype=np.int64),
                        "epoch": sub["epoch"].to_numpy(dtype=float),
                        "value": sub["value"].to_numpy(dtype=float)})
    out["_o"] = out["trial_id"].map(order)
    return (out.sort_values(["_o", "step"], kind="stable").drop(columns="_o")
            .reset_index(drop=True))

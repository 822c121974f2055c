"""Checkpoint correlations: Figures 5 and 9 of Dodge et al. (2020), Section 5.

"A point at coordinates i and j indicates the correlation between the best found performances
after i and after j evaluations" (Figure 5 caption), across the trials of one task: Spearman's
rank correlation in Figure 5, Pearson's in Figure 9 (Appendix C). High correlation between an
early and the final checkpoint means poor runs can be stopped early.

The evaluations are the ``"during"`` evaluations of the headline metric on a fixed grid of steps:
by default the paper's 30-point early-stopping grid (``TASKS[task].es_steps``), or the regular
schedule (``"schedule"``), every step in the data (``"all"``), or any list of steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.data import schema
from seedstats.errors import DataError

__all__ = ["CORRELATION_METHODS", "best_so_far", "checkpoint_correlations"]

#: Correlation coefficients computed by :func:`checkpoint_correlations`.
CORRELATION_METHODS = ("spearman", "pearson")

_STEP_CHOICES = ("es", "schedule", "all")


def _resolve_steps(steps, task, present):
    """The evaluation steps asked for, as a sorted tuple of ints.

    ``present`` are the ``"during"`` steps found in the data for the task.
    """
    info = schema.TASKS.get(task)
    if steps is None:
        steps = "es" if info is not None else "all"
    if isinstance(steps, str):
        if steps not in _STEP_CHOICES:
            raise ValueError(f"steps: expected one of {', '.join(map(repr, _STEP_CHOICES))} or "
                             f"a sequence of step indices; got {steps!r}")
        if steps == "all":
            return tuple(sorted(int(s) for s in present))
        if info is None:
            raise ValueError(f"steps: {steps!r} needs a paper task ({', '.join(schema.TASKS)}); "
                             f"task {task!r} has no such grid; use steps='all' or a list")
        return tuple(info.es_steps if steps == "es" else info.schedule)
    try:
        out = [int(s) for s in steps]
    except (TypeError, ValueError):
        raise TypeError("steps: expected None, 'es', 'schedule', 'all' or a sequence of integer "
                        f"step indices; got {steps!r}") from None
    if not out:
        raise ValueError("steps: expected at least one step index; got an empty sequence")
    if len(set(out)) != len(out):
        raise ValueError(f"steps: expected distinct step indices; got {out}")
    return tuple(sorted(out))


def curve_matrix(evals, task, *, steps=None, metric=None, trials=None):
    """Trials x steps matrix of ``"during"`` values on the resolved step grid.

    Returns ``(values, steps, epochs, trial_ids, n_missing)``: ``values`` float64 of shape
    (n_trials, n_steps) where a logged NaN stays NaN, ``trial_ids`` the rows kept (trials that
    have a row at every step), ``n_missing`` the trials of the task dropped for lacking one.
    """
    for name in ("task", "trial_id", "step", "epoch", "metric", "value", "phase"):
        if name not in getattr(evals, "columns", ()):
            raise TypeError(f"evals: expected the evals table (a DataFrame with column "
                            f"{name!r}); got {type(evals).__name__}")
    info = schema.TASKS.get(task)
    e = evals[(evals["task"] == task) & (evals["phase"] == "during")]
    if e.empty:
        raise DataError(f"no 'during' evaluations for task {task!r}")
    if metric is None:
        if trials is not None and (trials["task"] == task).any():
            metric = str(trials.loc[trials["task"] == task, "metric"].dropna().iloc[0])
        elif info is not None:
            metric = info.metric
        else:
            found = sorted(set(map(str, e["metric"].unique())) - {"loss"})
            if len(found) != 1:
                raise ValueError(f"metric: task {task!r} is not a paper task and logs "
                                 f"{found or 'no metric but loss'}; name the metric")
            metric = found[0]
    all_ids = pd.unique(e["trial_id"].astype(str))
    e = e[e["metric"] == metric]
    if e.empty:
        raise DataError(f"task {task!r}: no 'during' evaluations of metric {metric!r}; "
                        f"metrics present: {sorted(map(str, evals['metric'].unique()))}")
    present = np.unique(e["step"].to_numpy())
    grid = _resolve_steps(steps, task, present)
    absent = sorted(set(grid) - set(int(s) for s in present))
    if absent:
        raise DataError(f"task {task!r}: steps {absent[:8]}{' ...' if len(absent) > 8 else ''} "
                        f"were never evaluated ({len(absent)} of {len(grid)}); the data has "
                        f"{len(present)} 'during' steps; use steps='all' or a list of steps "
                        "it has")
    e = e[e["step"].isin(grid)]
    # A logged NaN is kept as NaN; an absent evaluation is told apart by a presence pivot.
    m = e.pivot_table(index="trial_id", columns="step", values="value", aggfunc="last",
                      observed=True, dropna=False).reindex(columns=list(grid))
    seen = e.assign(one=1.0).pivot_table(index="trial_id", columns="step", values="one",
                                          aggfunc="size", observed=True).reindex(
        columns=list(grid))
    m.index = m.index.astype(str)
    seen.index = seen.index.astype(str)
    m = m.reindex(index=all_ids)
    seen = seen.reindex(index=all_ids)
    full = seen.notna().all(axis=1).to_numpy()
    ep = e.groupby("step", observed=True)["epoch"].median().reindex(list(grid)).to_numpy(
        dtype=np.float64)
    if info is not None:
        ep = np.where(np.isnan(ep), (np.asarray(grid) + 1) / info.steps_per_epoch, ep)
    return (m.to_numpy(dtype=np.float64)[full], np.asarray(grid, dtype=np.int64), ep,
            np.asarray(all_ids)[full], int((~full).sum()))


def best_so_far(evals, task, *, steps=None, metric=None):
    """Best score found after each of the first evaluations of every trial.

    The quantity correlated in Figures 5 and 9 of Dodge et al. (2020): column ``i`` holds the
    maximum of a trial's first ``i`` evaluations on the step grid (logged NaN values are
    skipped; a trial whose evaluations so far are all NaN has NaN).

    Parameters
    ----------
    evals : DataFrame
        The ``evals`` table.
    task : str
    steps : None, {"es", "schedule", "all"} or sequence of int
        The evaluation grid. ``None``: the paper's 30-point early-stopping grid
        (``TASKS[task].es_steps``) for a paper task, every ``"during"`` step otherwise.
        ``"schedule"``: the regular schedule (10 per epoch; SST every 100 steps).
    metric : str, optional
        Default: the task's headline metric (for a task that is not a paper task: the only
        metric logged besides ``loss``).

    Returns
    -------
    DataFrame
        Index ``trial_id`` (trials evaluated at every step of the grid; others are left out
        and counted in ``attrs["n_missing"]``), columns the steps, values the best score so far.

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> rec = TrialRecord("rte", 1, 1, None, {"acc": Curve(0.5, np.array([0, 21, 36]),
    ...                   np.array([0.6, 0.55, 0.7]), 0.7)}, np.zeros(468))
    >>> _, evals, _ = build_tables([rec])
    >>> best_so_far(evals, "rte", steps=[0, 21, 36]).iloc[0].tolist()
    [0.6, 0.6, 0.7]
    """
    values, grid, _, ids, n_missing = curve_matrix(evals, task, steps=steps, metric=metric)
    best = _cummax(values)
    out = pd.DataFrame(best, index=pd.Index(ids, name="trial_id"),
                       columns=pd.Index(grid, name="step"))
    out.attrs["n_missing"] = n_missing
    return out


def _cummax(values):
    """Running maximum along axis 1 that skips NaN (NaN until the first number)."""
    return np.fmax.accumulate(values, axis=1) if values.size else values


def _corr(X):
    """Pearson correlation matrix of the columns of X (n, k); NaN for a constant column."""
    Xc = X - X.mean(axis=0)
    norm = np.sqrt((Xc ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        Z = np.where(norm > 0, Xc / norm, np.nan)
    R = Z.T @ Z
    np.clip(R, -1.0, 1.0, out=R)
    return R


def checkpoint_correlations(evals, task, *, steps=None, method=CORRELATION_METHODS,
                            metric=None):
    """Correlation across trials between the best score after i and after j evaluations.

    Figures 5 (Spearman) and 9 (Pearson) of Dodge et al. (2020), Section 5 and Appendix C.
    Trials not evaluated at every step of the grid are left out (counted in ``n_missing``);
    so are trials whose best-so-far is still NaN at some step (every evaluation so far logged
    as NaN). Spearman's coefficient is Pearson's on average ranks (ties share their mean rank).
    A checkpoint at which every trial has the same best-so-far gives NaN.

    Parameters
    ----------
    evals : DataFrame
        The ``evals`` table.
    task : str
    steps : None, {"es", "schedule", "all"} or sequence of int
        The evaluation grid; see :func:`best_so_far` (default: the 30-point grid).
    method : str or sequence of str, default ("spearman", "pearson")
        Which coefficients.
    metric : str, optional
        Default: the task's headline metric.

    Returns
    -------
    DataFrame
        Tidy, one row per method and ordered pair ``(i, j)`` (both triangles and the diagonal,
        so a pivot gives the symmetric matrix); columns:

        - ``task`` (str), ``method`` (str).
        - ``i``, ``j`` (int): numbers of evaluations, 1-based.
        - ``step_i``, ``step_j`` (int): the step of the i-th / j-th evaluation.
        - ``epoch_i``, ``epoch_j`` (float): their epochs, ``(step + 1) / steps_per_epoch``.
        - ``r`` (float): the correlation across trials.
        - ``n`` (int): trials used; ``n_missing`` (int): trials of the task left out.

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> recs = [TrialRecord("rte", wi, 1, None, {"acc": Curve(0.5, np.array([0, 21]),
    ...         np.array(v), v[-1])}, np.zeros(468))
    ...         for wi, v in enumerate([[0.6, 0.7], [0.5, 0.8], [0.7, 0.75]], start=1)]
    >>> _, evals, _ = build_tables(recs)
    >>> c = checkpoint_correlations(evals, "rte", steps=[0, 21], method="spearman")
    >>> c[["i", "j", "r"]].round(3).values.tolist()
    [[1.0, 1.0, 1.0], [1.0, 2.0, -0.5], [2.0, 1.0, -0.5], [2.0, 2.0, 1.0]]
    """
    from scipy import stats

    methods = (method,) if isinstance(method, str) else tuple(method)
    bad = [m for m in methods if m not in CORRELATION_METHODS]
    if bad or not methods:
        raise ValueError(f"method: expected 'spearman', 'pearson' or both; got {method!r}")
    values, grid, epochs, _, n_missing = curve_matrix(evals, task, steps=steps, metric=metric)
    best = _cummax(values)
    keep = ~np.isnan(best).any(axis=1)
    best = best[keep]
    n_missing += int((~keep).sum())
    k = grid.size
    ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    parts = []
    for m in methods:
        if best.shape[0] < 2:
            R = np.full((k, k), np.nan)
        else:
            X = stats.rankdata(best, axis=0) if m == "spearman" else best
            R = _corr(X)
        parts.append(pd.DataFrame({
            "task": task, "method": m, "i": ii + 1, "j": jj + 1,
            "step_i": grid[ii], "step_j": grid[jj], "epoch_i": epochs[ii],
            "epoch_j": epochs[jj], "r": R.ravel(), "n": int(best.shape[0]),
            "n_missing": n_missing,
        }))
    return pd.concat(parts, ignore_index=True)

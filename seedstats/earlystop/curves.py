"""The input of the early-stopping simulator: one validation curve per trial on a K-point grid.

Dodge et al. (2020), Section 5, downsample every validation curve to 30 evaluations and run the
simulator on the resulting ``(n_trials, 30)`` matrix. This module turns a
:class:`~seedstats.data.dataset.Dataset` (or any array of curves) into that matrix, the
:class:`CurveSet` that every estimator in :mod:`seedstats.earlystop` reads.

Which evaluation points
-----------------------
- A paper task (``mrpc``, ``rte``, ``cola``, ``sst``) whose ``"during"`` evaluations contain every
  step of ``TASKS[task].es_steps`` uses those 30 steps, exactly as the paper.
- Any other sweep (another schedule, another number of points ``n_points=K``): the steps logged
  by at least half of the trials are the candidates (the sweep's schedule; one truncated trial
  does not change it); for ``i = 0 .. K-1`` the candidate closest to
  ``i / K * n_steps`` (the start of the ``i``-th ``K``-th of training, like the paper's grid,
  whose first point is step 0) is taken, ties to the earlier step, never the same step twice. The
  chosen steps are returned (``CurveSet.steps``), so the choice is visible.

Missing values are never dropped silently: a trial that lacks one of the chosen steps, or has NaN
there, raises :class:`~seedstats.errors.DataError` naming the trials (``missing="raise"``, the
default), or is removed *and listed* in ``CurveSet.dropped`` (``missing="drop"``).
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seedstats.data import schema
from seedstats.errors import DataError, SeedstatsNote

#: Evaluation points per trial of the paper's early-stopping analysis (Section 5).
PAPER_POINTS = 30

__all__ = ["CurveSet", "as_curves", "pick_steps", "MISSING"]

#: Policies for trials with a missing or NaN evaluation at a chosen step.
MISSING = ("raise", "drop")


@dataclass(frozen=True)
class CurveSet:
    """Validation curves of one task on a K-point grid: what the simulator reads.

    Attributes
    ----------
    values : ndarray of float64, shape (n_trials, K)
        ``values[i, j]`` is trial ``i``'s score at its ``(j+1)``-th evaluation. No NaN.
    trial_ids : tuple of str, length n_trials
        Row labels (used in messages; row order is the tie-break order, see
        :mod:`seedstats.earlystop.exact`).
    task : str or None
    metric : str or None
    steps : tuple of int or None
        The optimizer step of each of the K evaluation points, when known.
    n_steps : int or None
        Optimizer steps of one full run, when known.
    wi_seed, do_seed : ndarray of int or None, shape (n_trials,)
        Seeds of each row, when the data has a WI x DO grid (for seed-aware sampling).
    dropped : tuple of str
        Trials removed under ``missing="drop"`` (empty otherwise).
    lower_is_better : bool
        The metric is a loss (its dataset says lower is better): ``values`` then hold
        ``1 - value``, so that the simulator, which keeps the largest score, keeps the
        smallest loss, and Figure 7's error (``1 - score``) is the loss itself; the search
        turns its expected scores back (:func:`~seedstats.earlystop.search.budget_search`).
    """
    values: np.ndarray
    trial_ids: tuple = ()
    task: str | None = None
    metric: str | None = None
    steps: tuple | None = None
    n_steps: int | None = None
    wi_seed: np.ndarray | None = field(default=None, repr=False)
    do_seed: np.ndarray | None = field(default=None, repr=False)
    dropped: tuple = ()
    lower_is_better: bool = False

    @property
    def n_trials(self) -> int:
        """Number of trials (rows)."""
        return int(self.values.shape[0])

    @property
    def n_points(self) -> int:
        """Number of evaluation points K (columns)."""
        return int(self.values.shape[1])

    def step_fractions(self) -> np.ndarray:
        """Fraction of training done at each of the K evaluation points, ``(step + 1) / n_steps``.

        Used by the ``accounting="steps"`` option of
        :func:`~seedstats.earlystop.grid.feasible_assignments`.
        Raises :class:`ValueError` when the steps or the run length are unknown.
        """
        if self.steps is None or not self.n_steps:
            raise ValueError("accounting='steps' needs the evaluation steps and the run length "
                             "(n_steps) of the curves; got curves without them (use the default "
                             "accounting='paper', or pass a Dataset)")
        return (np.asarray(self.steps, dtype=np.float64) + 1.0) / float(self.n_steps)


def _check_values(values, trial_ids, missing: str):
    bad = ~np.isfinite(values).all(axis=1)
    if not bad.any():
        return values, trial_ids, ()
    names = [trial_ids[i] for i in np.flatnonzero(bad)]
    if missing == "raise":
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise DataError(
            f"curves: {len(names)} trial(s) lack a finite score at one of the chosen evaluation "
            f"points ({shown}); pass missing='drop' to leave them out (they are then listed in "
            f"CurveSet.dropped)")
    keep = ~bad
    return values[keep], tuple(t for t, k in zip(trial_ids, keep) if k), tuple(names)


def pick_steps(available, n_points: int, n_steps: int) -> tuple:
    """Choose ``n_points`` evaluation steps spread evenly over training.

    For ``i = 0 .. n_points-1`` the available step closest to ``i * n_steps / n_points`` is
    taken (ties to the earlier step), each step at most once: the rule of the paper's 30-point
    grid, whose first point is step 0 and which has one point per 30th of training.

    Parameters
    ----------
    available : sequence of int
        Candidate steps (the sweep's evaluation schedule).
    n_points : int
    n_steps : int
        Optimizer steps of one full run.

    Returns
    -------
    tuple of int, increasing

    Examples
    --------
    >>> pick_steps(range(0, 690, 23), 30, 690) == tuple(range(0, 690, 23))
    True
    >>> pick_steps([0, 1, 2, 3, 10, 20, 30, 40], 4, 40)
    (0, 10, 20, 30)
    """
    avail = np.unique(np.asarray(list(available), dtype=np.int64))
    if len(avail) < n_points:
        raise DataError(f"n_points: asked for {n_points} evaluation points but most trials "
                        f"logged only {len(avail)} steps; ask for at most {len(avail)} "
                        f"(--n-points on the command line), or leave it out to use them all")
    chosen = []
    free = np.ones(len(avail), dtype=bool)
    for i in range(n_points):
        target = i * n_steps / n_points
        cand = np.flatnonzero(free)
        # never reuse a step, keep the order increasing
        if chosen:
            cand = cand[avail[cand] > chosen[-1]]
        # leave enough later steps for the remaining points
        cand = cand[: len(cand) - (n_points - 1 - i)] if n_points - 1 - i else cand
        d = np.abs(avail[cand] - target)
        j = cand[int(np.argmin(d))]  # argmin takes the first (earlier) of ties
        chosen.append(int(avail[j]))
        free[j] = False
    return tuple(chosen)


def _int_or_none(col):
    if col is None or col.isna().any():
        return None
    return col.to_numpy(dtype=np.int64)


def _from_dataset(ds, task, n_points, metric, missing) -> CurveSet:
    if task is None:
        tasks = ds.tasks
        if len(tasks) != 1:
            raise ValueError(f"task: the dataset holds {len(tasks)} tasks ({', '.join(tasks)}); "
                             f"name one")
        task = tasks[0]
    if task not in ds.tasks:
        raise ValueError(f"task: expected one of {', '.join(ds.tasks)}, got {task!r}")
    trials = ds.trials[ds.trials["task"] == task]
    if metric is None:
        if task in schema.TASKS:
            metric = schema.TASKS[task].metric
        else:
            ms = trials["metric"].dropna().astype(str).unique()
            if len(ms) != 1:
                raise DataError(f"task {task!r}: trials name {len(ms)} headline metrics "
                                f"({', '.join(ms)}); pass metric=")
            metric = str(ms[0])
    m = ds.curves(task, metric=metric)
    lower = bool(ds.lower_is_better(metric)) if hasattr(ds, "lower_is_better") else False
    n_steps = int(trials["n_steps"].max()) if len(trials) else None
    info = schema.TASKS.get(task)
    paper = info is not None and set(info.es_steps) <= set(m.columns)
    if paper and n_points in (None, len(info.es_steps)):
        steps = tuple(info.es_steps)
        n_steps = info.n_steps
    else:
        # the sweep's schedule: steps logged by at least half of the trials (a truncated or
        # glitchy trial must not change it; it is caught by the missing-value check below)
        common = [s for s in m.columns if m[s].notna().mean() >= 0.5]
        if not n_steps or n_steps <= 0:
            n_steps = int(max(m.columns)) + 1 if len(m.columns) else 0
        if n_points is None:
            n_points = min(PAPER_POINTS, len(common))
            if n_points < 2:
                raise DataError(f"task {task!r}: early stopping needs at least 2 evaluation "
                                f"steps that most trials logged; this sweep has {len(common)}")
            if n_points < PAPER_POINTS:
                warnings.warn(f"task {task!r}: the trials share {n_points} evaluation steps, so "
                              f"early stopping uses those {n_points} points (the paper used "
                              f"{PAPER_POINTS})", SeedstatsNote, stacklevel=4)
        steps = pick_steps(common, n_points, n_steps)
    # every trial of the task, also one without any "during" evaluation (NaN row, never lost)
    m = m.reindex(index=list(trials["trial_id"].astype(str)), columns=list(steps))
    ids = tuple(map(str, m.index))
    values = m.to_numpy(dtype=np.float64, na_value=np.nan)
    values, ids_kept, dropped = _check_values(values, ids, missing)
    if values.shape[0] == 0:
        raise DataError(f"task {task!r}: no trial is left after dropping the incomplete ones")
    tr = trials.set_index(trials["trial_id"].astype(str)).reindex(list(ids_kept))
    wi = _int_or_none(tr["wi_seed"]) if "wi_seed" in tr else None
    do = _int_or_none(tr["do_seed"]) if "do_seed" in tr else None
    if lower:
        values = 1.0 - values
    return CurveSet(np.ascontiguousarray(values), ids_kept, task, metric, steps, n_steps,
                    wi, do, dropped, lower)


def as_curves(data, task: str | None = None, *, n_points: int | None = None,
              metric: str | None = None, missing: str = "raise") -> CurveSet:
    """Turn a dataset or an array of curves into a :class:`CurveSet`.

    Parameters
    ----------
    data : Dataset, CurveSet, DataFrame or array-like of shape (n_trials, K)
        A :class:`~seedstats.data.dataset.Dataset` (curves of ``task`` on the K-point grid, see
        the module docstring), or curves already on a grid: a DataFrame (index: trial ids,
        columns: evaluation steps) or a 2-D array.
    task : str, optional
        Which task of a Dataset (required when it holds several).
    n_points : int, optional
        K, the number of evaluation points; only used for a Dataset. Default: the paper's 30
        (its 30-point grid on the paper's tasks), or every step that most trials logged when
        they share fewer (a short sweep; said in a :class:`~seedstats.errors.SeedstatsNote`).
    metric : str, optional
        Default: the task's headline metric.
    missing : {"raise", "drop"}
        What to do with a trial lacking a finite score at a chosen point.

    Returns
    -------
    CurveSet

    Examples
    --------
    >>> cs = as_curves([[0.5, 0.7], [0.6, 0.6], [0.4, 0.9]])
    >>> cs.n_trials, cs.n_points, cs.trial_ids
    (3, 2, ('0', '1', '2'))
    """
    if missing not in MISSING:
        raise ValueError(f"missing: expected one of {', '.join(MISSING)}, got {missing!r}")
    if isinstance(data, CurveSet):
        return data
    if n_points is not None:
        if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)):
            raise TypeError(f"n_points: expected an int or None, got {type(n_points).__name__}")
        if n_points < 2:
            raise ValueError(f"n_points: expected at least 2 evaluation points, got {n_points}")
        n_points = int(n_points)
    if hasattr(data, "trials") and hasattr(data, "evals"):
        return _from_dataset(data, task, n_points, metric, missing)

    steps = None
    if isinstance(data, pd.DataFrame):
        ids = tuple(map(str, data.index))
        try:
            steps = tuple(int(c) for c in data.columns)
        except (TypeError, ValueError):
            steps = None
        values = data.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            values = np.array(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"data: expected a Dataset, a DataFrame or a 2-D array of scores, "
                            f"got {type(data).__name__} ({exc})") from None
        ids = tuple(str(i) for i in range(values.shape[0])) if values.ndim == 2 else ()
    if values.ndim != 2:
        raise ValueError(f"data: expected curves of shape (n_trials, n_points), got an array "
                         f"of shape {values.shape}")
    if values.shape[0] < 1 or values.shape[1] < 2:
        raise ValueError(f"data: expected at least 1 trial and 2 evaluation points, got shape "
                         f"{values.shape}")
    values, ids, dropped = _check_values(values, ids, missing)
    if values.shape[0] == 0:
        raise DataError("data: no trial is left after dropping the incomplete ones")
    return CurveSet(np.ascontiguousarray(values), ids, task, metric, steps, None, None, None,
                    dropped)

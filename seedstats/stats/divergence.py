"""Failed (diverged) runs: how many, and how early they can be told apart.

Section 4 of Dodge et al. (2020) ("a fraction of the trained models diverge, yielding
performance close to that of predicting the most frequent label"; Figures 2-4) and Section 5
("performance divergence can often be recognized early in training"). The verdict follows
Mosbach et al. (2021): a run has *failed* when its final score is no better than the majority
baseline of Table 2 (for MCC: at or below 0). The verdict is the ``diverged`` column of the
``trials`` table, made by :func:`seedstats.data.schema.is_failed` when the tables are built,
so every analysis uses the same one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.data import schema
from seedstats.stats._common import task_order
from seedstats.stats.checkpoints import curve_matrix

__all__ = ["failure_threshold", "failure_rates", "early_detection"]


def failure_threshold(task, *, metric=None, baseline=None):
    """The score at or below which a run has failed: the majority baseline, 0 for MCC.

    Parameters
    ----------
    task : str
    metric : str, optional
        Default: the task's headline metric (Table 2).
    baseline : float, optional
        Majority-class score; default: Table 2's for a paper task (required otherwise).

    Returns
    -------
    float

    Examples
    --------
    >>> failure_threshold("rte"), failure_threshold("cola")
    (0.53, 0.0)
    """
    info = schema.TASKS.get(task)
    metric = metric or (info.metric if info else None)
    if baseline is None:
        if info is None:
            raise ValueError(f"baseline: task {task!r} is not a paper task; give the majority "
                             "baseline of its headline metric")
        baseline = info.baseline
    if isinstance(baseline, (bool, np.bool_)) or not np.isscalar(baseline) or not np.isfinite(
            float(baseline)):
        raise ValueError(f"baseline: expected a finite number; got {baseline!r}")
    return 0.0 if metric == "mcc" else float(baseline)


def failure_rates(trials, tasks=None):
    """Fraction of failed runs per task (Section 4; Figures 2 and 3 show them as the low mode).

    Parameters
    ----------
    trials : DataFrame
        The ``trials`` table; its ``diverged`` column is the verdict (final score at or below
        the majority baseline; MCC at or below 0). Trials whose verdict is missing (no final
        score: incomplete or NaN) are excluded from the rate and counted.
    tasks : str or sequence of str, optional
        Default: every task present, paper order first.

    Returns
    -------
    DataFrame
        One row per task; columns:

        - ``task`` (str), ``metric`` (str).
        - ``threshold`` (float): the failing score (Table 2's baseline, 0 for MCC; NaN for a
          task that is not a paper task, whose verdict was made at ingest).
        - ``n`` (int): trials with a verdict; ``n_failed`` (int): failed among them.
        - ``rate`` (float): ``n_failed / n``.
        - ``n_missing`` (int): trials without a verdict, excluded.

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> recs = [TrialRecord("rte", 1, do, None, {"acc": Curve(0.5, np.array([0]),
    ...         np.array([a]), a)}, np.zeros(10)) for do, a in enumerate([0.53, 0.7, 0.75], 1)]
    >>> failure_rates(build_tables(recs)[0])[["task", "n", "n_failed", "rate"]].round(3).values
    array([['rte', 3, 1, 0.333]], dtype=object)
    """
    rows = []
    for task in task_order(trials, tasks):
        t = trials[trials["task"] == task]
        verdict = t["diverged"].astype("boolean")
        known = verdict.notna()
        metric = ",".join(map(str, t["metric"].dropna().unique()))
        info = schema.TASKS.get(task)
        n, failed = int(known.sum()), int(verdict[known].sum())
        rows.append({
            "task": task, "metric": metric,
            "threshold": failure_threshold(task, metric=metric) if info else np.nan,
            "n": n, "n_failed": failed, "rate": failed / n if n else np.nan,
            "n_missing": int((~known).sum()),
        })
    return pd.DataFrame(rows)


def early_detection(trials, evals, task, *, steps="schedule", rule="at", baseline=None,
                    metric=None):
    """How well an early score at or below the baseline predicts a failed run.

    Section 5 of Dodge et al. (2020) and Figure 4: "performance divergence can often be
    recognized early in training". At each evaluation ``k`` a trial is *flagged* when

    - ``rule="at"``: its score at evaluation ``k`` is at or below the failing threshold, or
    - ``rule="best"``: its best score over evaluations ``1..k`` is (it never rose above),

    and the flag is compared with the final verdict (``diverged`` column of ``trials``):
    precision = failed among flagged, recall = flagged among failed.

    Parameters
    ----------
    trials, evals : DataFrame
        The ``trials`` and ``evals`` tables.
    task : str
    steps : None, {"schedule", "es", "all"} or sequence of int, default "schedule"
        The evaluations ``k = 1, 2, ...`` (see :func:`seedstats.stats.checkpoints.best_so_far`).
    rule : {"at", "best"}, default "at"
    baseline : float, optional
        Majority baseline; default Table 2's (required for a task that is not a paper task).
        The threshold is 0 for MCC, as for the verdict.
    metric : str, optional
        Default: the task's headline metric.

    Returns
    -------
    DataFrame
        One row per evaluation; columns:

        - ``k`` (int, 1-based), ``step`` (int), ``epoch`` (float).
        - ``threshold`` (float).
        - ``n`` (int): trials used (a verdict and a non-NaN score at ``k``).
        - ``n_failed`` (int), ``n_flagged`` (int).
        - ``tp``, ``fp``, ``fn``, ``tn`` (int): flagged-and-failed, flagged-but-fine, ...
        - ``precision`` (float, NaN when nothing is flagged), ``recall`` (float, NaN when
          nothing failed).
        - ``n_missing`` (int): trials of the task left out at ``k`` (no verdict, not evaluated
          at every step of the grid, or a NaN score).

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> curves = [[0.50, 0.53, 0.53], [0.52, 0.60, 0.70], [0.60, 0.50, 0.52]]
    >>> recs = [TrialRecord("rte", 1, do, None, {"acc": Curve(0.5, np.array([0, 21, 36]),
    ...         np.array(v), v[-1])}, np.zeros(468)) for do, v in enumerate(curves, 1)]
    >>> trials, evals, _ = build_tables(recs)
    >>> early_detection(trials, evals, "rte", steps=[0, 21, 36])[["k", "tp", "fp", "fn"]].values
    array([[1, 1, 1, 1],
           [2, 2, 0, 0],
           [3, 2, 0, 0]])
    """
    if rule not in ("at", "best"):
        raise ValueError(f"rule: expected 'at' or 'best'; got {rule!r}")
    task_order(trials, [task])
    t = trials[trials["task"] == task]
    if metric is None:
        metric = str(t["metric"].dropna().iloc[0]) if t["metric"].notna().any() else None
    threshold = failure_threshold(task, metric=metric, baseline=baseline)
    values, grid, epochs, ids, _ = curve_matrix(evals, task, steps=steps, metric=metric,
                                                  trials=trials)
    if rule == "best":
        values = np.fmax.accumulate(values, axis=1)
    verdict = t.set_index(t["trial_id"].astype(str))["diverged"].astype("boolean")
    v = verdict.reindex(ids)
    known = v.notna().to_numpy()
    failed = v.fillna(False).to_numpy(dtype=bool)
    rows = []
    for k in range(grid.size):
        x = values[:, k]
        use = known & ~np.isnan(x)
        flag = x[use] <= threshold + 1e-12
        fail = failed[use]
        tp, fp = int((flag & fail).sum()), int((flag & ~fail).sum())
        fn, tn = int((~flag & fail).sum()), int((~flag & ~fail).sum())
        rows.append({
            "k": k + 1, "step": int(grid[k]), "epoch": float(epochs[k]), "threshold": threshold,
            "n": int(use.sum()), "n_failed": tp + fn, "n_flagged": tp + fp,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / (tp + fp) if tp + fp else np.nan,
            "recall": tp / (tp + fn) if tp + fn else np.nan,
            "n_missing": int(len(t) - use.sum()),
        })
    return pd.DataFrame(rows)

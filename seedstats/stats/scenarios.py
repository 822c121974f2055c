"""Expected validation performance in three evaluation scenarios: Figure 1 of Dodge et al. 2020.

Section 3.1: "we show expected performance as we vary the number of evaluations on validation
data during training: once after training, after each of the three epochs, and frequently
throughout training (ten times per epoch)". In each scenario a trial's score is its best
validation score among the evaluations the scenario allows (the checkpoint a practitioner
would keep), and the curve is the expected best of ``n`` trials, plus and minus one standard
deviation of that best, the band clipped to the observed minimum and maximum (footnote 5).

The evaluations each scenario allows (headline metric; see :func:`scenario_evaluations`).
On a paper task whose trials were evaluated at every step of the regular grid
(``TASKS[task].schedule``: 10 per epoch, SST every 100 steps), exactly as the authors' notebook
(dodgejesse/bert_on_stilts@115a869, ``notebooks/data_vis.ipynb``) computes them, from the grid
alone (the release's extra dense early evaluations and the ``"after"`` evaluation are not used):

``"frequent"``
    Every grid point: the trial's paper score (the ``score`` column).
``"epoch"``
    Every 10th grid point (positions 0, 10, 20, ...) and the last one. On MRPC, RTE and CoLA
    these are the start, the two epoch boundaries and the end; on SST, whose grid has 42 points
    an epoch, the notebook's rule gives 14 points (about 4 an epoch), reproduced as it is.
``"end"``
    The last grid point.

On any other data (users' sweeps, other schedules) the grid is every ``"during"`` evaluation,
and the scenarios follow the epochs: ``"frequent"`` every ``"during"`` evaluation and the
``"after"`` one (so the scenarios are nested: frequent contains epoch contains end);
``"epoch"`` the ``"during"`` step whose epoch (``(step + 1) / steps_per_epoch``) is closest to
the end of each epoch before the last (ties: the earlier step), and the ``"after"``
evaluation; ``"end"`` only the ``"after"`` evaluation.

A dataset without curves (the embedded ``dodge2020``: one paper score per trial) has only the
``"frequent"`` scenario, from the trials' ``score``.

Trials that did not finish (``complete`` False) are left out of every scenario, and a complete
trial with no usable (non-NaN) evaluation in a scenario is left out of that scenario; both are
counted in ``n_missing``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.data import schema
from seedstats.errors import DataError
from seedstats.stats._common import as_generator, task_order
from seedstats.stats.expected_max import expected_max_curve

__all__ = ["SCENARIOS", "scenario_evaluations", "scenario_scores", "expected_max_scenarios"]

#: The evaluation scenarios of Figure 1, most evaluations first.
SCENARIOS = ("frequent", "epoch", "end")


def _headline_metric(trials, task):
    ms = trials.loc[trials["task"] == task, "metric"].dropna()
    return str(ms.iloc[0]) if len(ms) else None


def _check_scenarios(scenarios):
    sc = (scenarios,) if isinstance(scenarios, str) else tuple(scenarios)
    bad = [s for s in sc if s not in SCENARIOS]
    if bad or not sc:
        raise ValueError(f"scenarios: expected a subset of {SCENARIOS}; got {scenarios!r}")
    return sc


def _task_evals(trials, evals, task, metric, allow_empty=False):
    for name, df, cols in (("trials", trials, ("task", "trial_id", "complete", "metric")),
                           ("evals", evals, ("task", "trial_id", "step", "epoch", "metric",
                                             "value", "phase"))):
        if not hasattr(df, "columns") or any(c not in df.columns for c in cols):
            raise TypeError(f"{name}: expected the {name} table (a DataFrame with columns "
                            f"{list(cols)}); got {type(df).__name__}")
    t = trials[trials["task"] == task]
    if t.empty:
        raise DataError(f"no trials for task {task!r}; tasks present: "
                        f"{sorted(map(str, trials['task'].unique()))}")
    if metric is None:
        known = t["metric"].dropna()
        metric = str(known.iloc[0]) if len(known) else getattr(schema.TASKS.get(task),
                                                               "metric", None)
    e = evals[(evals["task"] == task) & (evals["metric"] == metric)]
    if e.empty and not allow_empty:
        raise DataError(f"task {task!r}: no evaluations of metric {metric!r}")
    return t, e, metric


def _plan(e, task, scenarios):
    """Steps of each scenario: ``{scenario: (during_steps, during_epochs, uses_after)}``."""
    during = e[e["phase"] == "during"]
    after = e[e["phase"] == "after"]
    present = np.unique(during["step"].to_numpy())
    info = schema.TASKS.get(task)
    ep = during.groupby("step", observed=True)["epoch"].median()
    if info is not None and set(info.schedule) <= set(present.tolist()):
        # the paper's grid: the authors' notebook's rules, from the grid alone
        grid = np.asarray(info.schedule, dtype=np.int64)
        pos = np.unique(np.r_[np.arange(0, len(grid), 10), len(grid) - 1])
        plan = {"frequent": grid, "epoch": grid[pos], "end": grid[-1:]}
        return {s: (plan[s], ep.reindex(plan[s]).to_numpy(dtype=np.float64), False)
                for s in scenarios}
    freq = present.astype(np.int64)
    freq_ep = ep.reindex(freq).to_numpy(dtype=np.float64)
    has_after = not after.empty
    plan = {"frequent": (freq, freq_ep, has_after), "end": (freq[:0], freq_ep[:0], has_after)}
    if "epoch" in scenarios:
        last = float(after["epoch"].median()) if has_after else float(np.nanmax(freq_ep))
        if not np.isfinite(last) or np.isnan(freq_ep).all():
            raise DataError(f"task {task!r}: epochs are unknown (no steps_per_epoch), so the "
                            "'epoch' scenario cannot be formed; use scenarios=('frequent', "
                            "'end')")
        n_epochs = max(1, int(round(last)))
        steps, eps = [], []
        for k in range(1, n_epochs + (0 if has_after else 1)):
            dist = np.abs(freq_ep - k)
            if np.all(np.isnan(dist)):
                continue
            i = int(np.nanargmin(dist))  # first minimum: the earlier step on a tie
            steps.append(freq[i])
            eps.append(freq_ep[i])
        plan["epoch"] = (np.asarray(steps, dtype=np.int64), np.asarray(eps), has_after)
    return {s: plan[s] for s in scenarios}


def scenario_evaluations(trials, evals, task, *, scenarios=SCENARIOS, metric=None):
    """Which evaluations each scenario of Figure 1 allows, for one task.

    Parameters
    ----------
    trials, evals : DataFrame
        The ``trials`` and ``evals`` tables.
    task : str
    scenarios : sequence of {"frequent", "epoch", "end"}, default all three
    metric : str, optional
        Default: the task's headline metric.

    Returns
    -------
    DataFrame
        One row per scenario and evaluation; columns ``scenario`` (str), ``phase``
        (``"during"`` or ``"after"``), ``step`` (int; the median logged step for ``"after"``),
        ``epoch`` (float).

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.schema import TASKS
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> steps = np.array(TASKS["rte"].schedule)
    >>> rec = TrialRecord("rte", 1, 1, None, {"acc": Curve(0.5, steps, np.full(31, 0.6), 0.6)},
    ...                   np.zeros(468))
    >>> trials, evals, _ = build_tables([rec])
    >>> plan = scenario_evaluations(trials, evals, "rte", scenarios=["epoch", "end"])
    >>> plan[["scenario", "phase", "step"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['epoch', 'during', 0], ['epoch', 'during', 156], ['epoch', 'during', 306],
     ['epoch', 'during', 462], ['end', 'during', 462]]
    """
    sc = _check_scenarios(scenarios)
    _, e, _ = _task_evals(trials, evals, task, metric)
    after = e[e["phase"] == "after"]
    a_step = int(after["step"].median()) if len(after) else -1
    a_ep = float(after["epoch"].median()) if len(after) else np.nan
    rows = []
    for s, (steps, eps, uses_after) in _plan(e, task, sc).items():
        rows += [{"scenario": s, "phase": "during", "step": int(st), "epoch": float(ep)}
                 for st, ep in zip(steps, eps)]
        if uses_after:
            rows.append({"scenario": s, "phase": "after", "step": a_step, "epoch": a_ep})
    return pd.DataFrame(rows, columns=["scenario", "phase", "step", "epoch"])


def scenario_scores(trials, evals, task, *, scenarios=SCENARIOS, metric=None,
                    lower_is_better=False):
    """Each trial's score in each evaluation scenario of Figure 1 (Section 3.1).

    The score is the best non-NaN value among the evaluations the scenario allows
    (:func:`scenario_evaluations`): the checkpoint a practitioner evaluating that often would
    keep.

    Parameters
    ----------
    trials, evals : DataFrame
        The ``trials`` and ``evals`` tables.
    task : str
    scenarios : sequence of {"frequent", "epoch", "end"}, default all three
    metric : str, optional
        Default: the task's headline metric.
    lower_is_better : bool
        The metric is a loss: the best value is the smallest.

    Returns
    -------
    DataFrame
        One row per trial and scenario; columns:

        - ``task`` (str), ``trial_id`` (str), ``wi_seed``, ``do_seed``, ``seed`` (Int32).
        - ``scenario`` (str).
        - ``score`` (float): NaN when the trial is left out (incomplete, or no usable value).
        - ``n_evals`` (int): non-NaN evaluations the maximum was taken over.
        - ``complete`` (bool): whether the trial finished.

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.schema import TASKS
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> vals = np.full(31, 0.6); vals[10] = 0.8; vals[3] = 0.9  # steps 156 and 51
    >>> rec = TrialRecord("rte", 1, 1, None, {"acc": Curve(0.5, np.array(TASKS["rte"].schedule),
    ...                   vals, 0.7)}, np.zeros(468))
    >>> trials, evals, _ = build_tables([rec])
    >>> scenario_scores(trials, evals, "rte")[["scenario", "score", "n_evals"]].values.tolist()
    [['frequent', 0.9, 31], ['epoch', 0.8, 4], ['end', 0.6, 1]]
    """
    sc = _check_scenarios(scenarios)
    t, e, metric = _task_evals(trials, evals, task, metric, allow_empty=True)
    ids = t["trial_id"].astype(str).to_numpy()
    complete = t["complete"].to_numpy(dtype=bool)
    if e.empty:  # no curves (one paper score per trial): only "frequent", from the score
        if (evals["task"] == task).any() or not t["score"].notna().any():
            raise DataError(f"task {task!r}: no evaluations of metric {metric!r}")
        parts = [pd.DataFrame({
            "task": task, "trial_id": ids, "wi_seed": t["wi_seed"].to_numpy(),
            "do_seed": t["do_seed"].to_numpy(), "seed": t["seed"].to_numpy(), "scenario": s,
            "score": (np.where(complete, t["score"].to_numpy(dtype=np.float64), np.nan)
                      if s == "frequent" else np.nan),
            "n_evals": 0, "complete": complete}) for s in sc]
        out = pd.concat(parts, ignore_index=True)
        for c in ("wi_seed", "do_seed", "seed"):
            out[c] = out[c].astype("Int32")
        return out
    plan = _plan(e, task, sc)
    need = np.unique(np.concatenate([p[0] for p in plan.values()]))
    during = e[(e["phase"] == "during") & e["step"].isin(need)]
    D = during.pivot_table(index="trial_id", columns="step", values="value", aggfunc="last",
                           observed=True, dropna=False)
    D.index = D.index.astype(str)
    after = e[e["phase"] == "after"]
    A = after.groupby("trial_id", observed=True)["value"].last()
    A.index = A.index.astype(str)
    A = A.reindex(ids).to_numpy(dtype=np.float64)
    parts = []
    for s, (steps, _, uses_after) in plan.items():
        cols = D.reindex(index=ids, columns=list(steps)).to_numpy(dtype=np.float64)
        if uses_after:
            cols = np.column_stack([cols, A])
        ok = ~np.isnan(cols)
        n_ev = ok.sum(axis=1)
        sign = -1.0 if lower_is_better else 1.0
        score = np.where(n_ev > 0, sign * np.max(np.where(ok, sign * cols, -np.inf), axis=1,
                                                 initial=-np.inf), np.nan)
        score[~complete] = np.nan
        parts.append(pd.DataFrame({
            "task": task, "trial_id": ids, "wi_seed": t["wi_seed"].to_numpy(),
            "do_seed": t["do_seed"].to_numpy(), "seed": t["seed"].to_numpy(), "scenario": s,
            "score": score, "n_evals": n_ev.astype(int), "complete": complete,
        }))
    out = pd.concat(parts, ignore_index=True)
    for c in ("wi_seed", "do_seed", "seed"):
        out[c] = out[c].astype("Int32")
    return out


def expected_max_scenarios(trials, evals, tasks=None, *, scenarios=SCENARIOS, n=None,
                           replace=True, n_boot=0, ci=0.95, rng=0, metric=None,
                           lower_is_better=False):
    """Figure 1 of Dodge et al. (2020): expected best of ``n`` trials per evaluation scenario.

    For each task and scenario, the scores of :func:`scenario_scores` (trials left out are
    counted in ``n_missing``) go through
    :func:`seedstats.stats.expected_max.expected_max_curve`: the expected maximum (with
    replacement by default, as the paper), the standard deviation of the best of ``n`` and the
    band ``expected_max -/+ sd_max`` clipped to the observed minimum and maximum.

    Parameters
    ----------
    trials, evals : DataFrame
        The ``trials`` and ``evals`` tables.
    tasks : str or sequence of str, optional
        Default: every task present, paper order first.
    scenarios : sequence of {"frequent", "epoch", "end"}, default all three
    n : None, int or sequence of int
        Budgets; default ``1..N`` (N = trials with a score in the scenario).
    replace : bool, default True
        With replacement (Dodge et al. 2019, the paper) or without (Tang et al. 2020).
    n_boot : int, default 0
        Bootstrap resamples for ``ci_low``/``ci_high`` (0: skipped, NaN).
    ci : float, default 0.95
        Coverage of the bootstrap interval.
    rng : int, numpy.random.Generator or None, default 0
        Source of the bootstrap resamples (only used when ``n_boot > 0``; ``None`` draws
        fresh entropy); one Generator is
        drawn from for every curve in turn, so the output depends only on the seed.
    metric : str, optional
        Default: each task's headline metric.
    lower_is_better : bool or callable
        The metric is a loss: the expected *minimum* (``goal="min"``); a callable gets the
        metric's name (e.g. ``Dataset.lower_is_better``).

    Returns
    -------
    DataFrame
        One row per task, scenario and budget; columns:

        - ``task`` (str), ``scenario`` (str), ``n`` (int).
        - ``expected_max``, ``sd_max``, ``lower_sd``, ``upper_sd``, ``se_jackknife``,
          ``ci_low``, ``ci_high`` (float): as
          :func:`~seedstats.stats.expected_max.expected_max_curve` (``lower_sd``/``upper_sd``
          clipped to the observed range).
        - ``n_trials`` (int): trials with a score; ``n_missing`` (int): trials left out.

    Raises
    ------
    DataError
        A task without trials, or a scenario in which no trial of a task has a score (e.g.
        ``"end"`` for logs without an ``"after"`` evaluation).

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.schema import TASKS
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> recs = [TrialRecord("rte", 1, do, None, {"acc": Curve(0.5, np.array(
    ...         TASKS["rte"].schedule), np.full(31, v), v)}, np.zeros(468))
    ...         for do, v in [(1, 0.6), (2, 0.7)]]
    >>> trials, evals, _ = build_tables(recs)
    >>> c = expected_max_scenarios(trials, evals, scenarios="end")
    >>> c[["n", "expected_max"]].round(6).values.tolist()  # (0.6 + 0.7) / 2, 0.6/4 + 0.7*3/4
    [[1.0, 0.65], [2.0, 0.675]]
    """
    sc = _check_scenarios(scenarios)
    gen = None
    if n_boot:
        gen = as_generator(rng)
    parts = []
    for task in task_order(trials, tasks):
        m = metric or _headline_metric(trials, task)
        low = bool(lower_is_better(m) if callable(lower_is_better) else lower_is_better)
        scores = scenario_scores(trials, evals, task, scenarios=sc, metric=metric,
                                 lower_is_better=low)
        for s in sc:
            x = scores.loc[scores["scenario"] == s, "score"].to_numpy(dtype=np.float64)
            ok = ~np.isnan(x)
            if not ok.any():
                if (scores["n_evals"] == 0).all() and s != "frequent":
                    why = "the data has no validation curves, only one score per trial"
                else:
                    why = "no after evaluation" if s == "end" else "none logged"
                raise DataError(
                    f"task {task!r}: no trial has a usable score in scenario {s!r} (every "
                    f"trial incomplete, or no evaluation that scenario allows: {why}); leave "
                    f"it out with scenarios=...")
            curve = expected_max_curve(x[ok], n, replace=replace, ci=ci, n_boot=n_boot,
                                       goal="min" if low else "max",
                                       rng=gen, clip=True)
            curve.insert(0, "scenario", s)
            curve.insert(0, "task", task)
            curve["n_trials"] = int(ok.sum())
            curve["n_missing"] = int((~ok).sum())
            parts.append(curve)
    cols = ["task", "scenario", "n", "expected_max", "sd_max", "lower_sd", "upper_sd",
            "se_jackknife", "ci_low", "ci_high", "n_trials", "n_missing"]
    return pd.concat(parts, ignore_index=True)[cols]

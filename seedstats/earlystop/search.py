"""Budget search: the best early-stopping assignment per budget (Dodge et al. 2020, Section 5,
Figures 6 and 7).

For every budget ``x = 1 .. max_budget`` (in full training runs) the feasible assignments
``(t, p, k)`` of :func:`~seedstats.earlystop.grid.feasible_assignments` are scored by the expected
best validation score of the rule (Monte Carlo like the paper, or exactly), the best is reported
with the no-early-stopping baseline ``t = p = x`` and the relative error reduction of Figure 7,
``((1 - baseline) - (1 - best)) / (1 - baseline)``.

How sure is "best"? Under Monte Carlo the top assignments of a budget are often within sampling
noise of each other, and picking the maximum of thousands of noisy estimates favours lucky ones
(a winner's curse). ``best_df`` says so: ``confidence`` is ``Phi(gap / gap_se)``, the normal
approximation to the probability that the best's true expectation exceeds the runner-up's given
the two estimates (paired over their common draws when they start the same number of trials);
``n_close`` counts the assignments of the budget whose estimate is within two standard errors
of the difference from the best (independence approximation, which overstates the SE of
positively correlated pairs, so it errs towards calling more of them close); ``clear_winner`` is
``confidence >= 0.95``. With ``exact=True`` there is no sampling noise: ``se`` is 0 and
``confidence`` is 1 (0.5 for an exact tie). Neither accounts for the finite pool of logged trials
(the data's own uncertainty).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.earlystop import cache as _cache
from seedstats.earlystop.curves import as_curves
from seedstats.earlystop.exact import SAMPLINGS_EXACT, TIES, expected_best_exact
from seedstats.earlystop.grid import feasible_assignments
from seedstats.earlystop.montecarlo import (
    expected_best_mc,
    expected_best_mc_tasks,
    paired_difference,
    resolve_seed,
)
from seedstats.earlystop.sampling import max_trials, scheme

__all__ = ["budget_search", "budget_search_tasks", "best_per_budget", "error_reduction",
           "ASSIGNMENTS_COLUMNS", "BEST_COLUMNS"]

#: Columns of the assignments table returned by :func:`budget_search`.
ASSIGNMENTS_COLUMNS = ("task", "budget", "t", "p", "k", "f", "cost", "is_baseline", "expected",
                       "se", "rank")

#: Columns of the best-per-budget table returned by :func:`budget_search`.
BEST_COLUMNS = ("task", "budget", "t", "p", "k", "f", "cost", "expected", "se", "baseline",
                "baseline_se", "error_reduction", "error_reduction_se", "runner_up_t",
                "runner_up_p", "runner_up_k", "runner_up_expected", "gap", "gap_se",
                "confidence", "n_close", "clear_winner", "n_assignments")

_TIE_TOL = 1e-12


def _phi(z):
    from scipy.special import ndtr

    return float(ndtr(z))


def error_reduction(score, baseline, score_se=0.0, baseline_se=0.0, *, cov=0.0):
    """Relative error reduction over a baseline, with its delta-method standard error.

    Figure 7's quantity for any strategy (the paper's rule, successive halving, Hyperband)
    against fully training ``x`` trials, with error ``= 1 - score``:

        r = ((1 - b) - (1 - s)) / (1 - b) = (s - b) / (1 - b).

    Both ``s`` and ``b`` are Monte Carlo estimates; to first order (delta method), with
    ``dr/ds = 1 / (1 - b)`` and ``dr/db = (s - 1) / (1 - b)**2``,

        var(r) = var(s) / (1 - b)**2 + (1 - s)**2 / (1 - b)**4 * var(b)
                 - 2 * (1 - s) / (1 - b)**3 * cov(s, b).

    ``cov = 0`` is exact when ``s`` and ``b`` come from independent draws, as here: the
    brackets of :func:`~seedstats.earlystop.halving.halving_search` draw from their own
    streams, independent of the draws of :func:`~seedstats.earlystop.montecarlo.expected_best_mc`,
    and under the paper's accounting the best assignment of a budget starts more trials than
    its baseline (different streams). When
    they share draws (common random numbers, e.g. the same ``t``), the covariance is usually
    positive and, for ``s < 1``, lowers the variance, so ``cov = 0`` errs on the wide side.

    Parameters
    ----------
    score : float or array-like
        ``s``, the strategy's expected best score (a fraction, at most 1).
    baseline : float or array-like
        ``b``, the expected best score of fully training ``x`` trials.
    score_se, baseline_se : float or array-like
        Monte Carlo standard errors of ``s`` and ``b`` (0 for exact values; non-negative).
    cov : float or array-like
        Covariance of the two estimates; ``|cov| <= score_se * baseline_se``.

    All inputs broadcast against each other.

    Returns
    -------
    reduction, se : float or ndarray of float
        ``r`` and its standard error, in the broadcast shape of the inputs (floats for
        scalar inputs); NaN where ``b >= 1`` (no error left to reduce).

    Examples
    --------
    >>> r, se = error_reduction(0.8, 0.6, 0.012, 0.01)
    >>> round(r, 12), round(se, 12)   # 0.2 / 0.4;  sqrt((2.5 * .012)**2 + (1.25 * .01)**2)
    (0.5, 0.0325)
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                   for v in (score, baseline, score_se, baseline_se, cov)))
    s, b, se_s, se_b, c = arrays
    for name, v in (("score_se", se_s), ("baseline_se", se_b)):
        if np.any(v < 0):
            raise ValueError(f"{name}: expected standard errors >= 0, got a minimum of "
                             f"{np.nanmin(v)}")
    bound = se_s * se_b
    if np.any(np.abs(c) > bound * (1 + 1e-9) + 1e-300):
        raise ValueError("cov: expected |cov| <= score_se * baseline_se (a covariance of the "
                         "two estimates); got a larger one")
    with np.errstate(divide="ignore", invalid="ignore"):
        err = 1.0 - b
        ok = err > 0
        d_s = 1.0 / err
        d_b = (s - 1.0) / err ** 2
        r = np.where(ok, (s - b) / err, np.nan)
        var = (d_s * se_s) ** 2 + (d_b * se_b) ** 2 + 2.0 * d_s * d_b * c
        se = np.where(ok, np.sqrt(np.maximum(var, 0.0)), np.nan)
    if r.ndim == 0:
        return float(r), float(se)
    return r, se


def best_per_budget(assignments, *, pair=None):
    """The best assignment of every budget, its baseline and how clearly it wins (Figures 6-7).

    Parameters
    ----------
    assignments : DataFrame
        Columns ``task`` (optional), ``budget``, ``t``, ``p``, ``k``, ``f``, ``cost``,
        ``is_baseline``, ``expected``, ``se`` (0 for exact values).
    pair : callable, optional
        ``pair(best_row, runner_up_row) -> (gap, gap_se)`` for a paired standard error of the
        difference (Monte Carlo estimates that share draws); default: independent,
        ``sqrt(se_best**2 + se_runner_up**2)``.

    Returns
    -------
    DataFrame
        One row per budget, columns :data:`BEST_COLUMNS`:

        - ``task``; ``budget`` (x, full runs);
        - ``t``, ``p``, ``k``, ``f``, ``cost``: the best assignment (trials started, trained
          fully, evaluations before stopping, ``k/K``, full runs spent);
        - ``expected``, ``se``: its expected best score and standard error;
        - ``baseline``, ``baseline_se``: expected best of fully training ``x`` trials;
        - ``error_reduction``: ``((1 - baseline) - (1 - expected)) / (1 - baseline)``
          (Figure 7), ``error_reduction_se`` its delta-method standard error, treating the
          best's and the baseline's estimates as independent (they are under the paper's
          accounting, where the best starts more trials than the baseline; where they could
          share draws, under ``accounting="steps"``, the covariance is positive and the SE
          errs on the wide side);
        - ``runner_up_t``, ``runner_up_p``, ``runner_up_k``, ``runner_up_expected``: the second
          best assignment of the budget;
        - ``gap``, ``gap_se``: best minus runner-up and its standard error;
        - ``confidence``: ``Phi(gap / gap_se)`` (1, or 0.5 for a tie, without sampling noise);
        - ``n_close``: other assignments within two standard errors of the best;
        - ``clear_winner``: ``confidence >= 0.95``;
        - ``n_assignments``: feasible assignments of the budget.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"budget": [1, 1, 1], "t": [1, 2, 3], "p": [1, 0, 0], "k": [2, 1, 1],
    ...                   "f": [1.0, 0.5, 0.5], "cost": [1.0, 1.0, 1.5],
    ...                   "is_baseline": [True, False, False],
    ...                   "expected": [0.5, 0.6, 0.55], "se": [0.0, 0.0, 0.0]})
    >>> b = best_per_budget(a)
    >>> b[["t", "p", "expected", "baseline", "runner_up_t"]].to_dict("records")
    [{'t': 2, 'p': 0, 'expected': 0.6, 'baseline': 0.5, 'runner_up_t': 3}]
    >>> round(float(b["error_reduction"].iloc[0]), 12)   # (0.5 - 0.4) / 0.5
    0.2
    """
    a = assignments
    if "task" not in a or a["task"].isna().all():
        groups = ((None, x, g) for x, g in a.groupby("budget", sort=True))
    else:
        groups = ((task, x, g) for (task, x), g in a.groupby(["task", "budget"], sort=True))
    rows = []
    for task, x, g in groups:
        g = g.sort_values(["expected", "t", "p", "k"], ascending=[False, True, True, True],
                          kind="stable")
        b = g.iloc[0]
        base = g[g["is_baseline"]]
        bl = float(base["expected"].iloc[0]) if len(base) else float("nan")
        bl_se = float(base["se"].iloc[0]) if len(base) else float("nan")
        e, se = float(b["expected"]), float(b["se"])
        if bool(b["is_baseline"]):  # the same estimate: no error in the difference
            er, er_se = error_reduction(e, bl)
        else:
            er, er_se = error_reduction(e, bl, se, bl_se)
        if len(g) > 1:
            r = g.iloc[1]
            if pair is not None and (se > 0 or float(r["se"]) > 0):
                gap, gap_se = pair(b, r)
            else:
                gap, gap_se = e - float(r["expected"]), float(np.hypot(se, float(r["se"])))
            if gap_se > 0:
                conf = _phi(gap / gap_se)
            else:
                conf = 0.5 if abs(gap) <= _TIE_TOL * max(1.0, abs(e)) else 1.0
            others = g.iloc[1:]
            lim = 2.0 * np.hypot(se, others["se"].to_numpy())
            lim = np.maximum(lim, _TIE_TOL * max(1.0, abs(e)))
            n_close = int(np.sum(e - others["expected"].to_numpy() <= lim))
            ru = (int(r["t"]), int(r["p"]), int(r["k"]), float(r["expected"]))
        else:
            gap = gap_se = conf = float("nan")
            n_close = 0
            ru = (-1, -1, -1, float("nan"))
        rows.append((task, int(x), int(b["t"]), int(b["p"]), int(b["k"]), float(b["f"]),
                     float(b["cost"]), e, se, bl, bl_se, er, er_se, *ru, float(gap),
                     float(gap_se), float(conf), n_close, bool(conf >= 0.95), len(g)))
    out = pd.DataFrame(rows, columns=list(BEST_COLUMNS))
    for c in ("budget", "t", "p", "k", "runner_up_t", "runner_up_p", "runner_up_k",
              "n_close", "n_assignments"):
        out[c] = out[c].astype(np.int64)
    return out


def budget_search(data, task: str | None = None, *, samples: int = 50_000, exact: bool = False,
                  rng=0, max_budget: int = 30, t_max: int = 200, n_points: int | None = None,
                  accounting: str = "paper", replace: bool = True, pool: str = "trials",
                  ties: str = "random", missing: str = "raise", metric: str | None = None,
                  cache=True, n_jobs: int | None = None, progress=None):
    """All early-stopping assignments per budget and the best of each (Section 5, Figs. 6-7).

    Parameters
    ----------
    data : Dataset, CurveSet, DataFrame or array-like of shape (n_trials, K)
        The logged curves; see :func:`~seedstats.earlystop.curves.as_curves`.
    task : str, optional
        Task of a Dataset (required when it holds several).
    samples : int
        Monte Carlo samples per assignment (50,000 in the paper); ignored with ``exact``.
    exact : bool
        Exact expectations (:mod:`seedstats.earlystop.exact`) instead of Monte Carlo.
    rng : int or numpy.random.Generator
        Seeds the Monte Carlo draws (same seed, same numbers); ignored with ``exact``.
    max_budget : int
        Budgets ``1 .. max_budget`` full runs (30 in the paper).
    t_max : int
        Most trials started (200 in the paper); lowered to what ``replace`` and ``pool`` can
        draw (recorded in ``.attrs["t_max"]``).
    n_points : int, optional
        Evaluation points per curve, ``K``: default 30 (the paper), or all the steps the trials
        share when a sweep logged fewer (see :func:`~seedstats.earlystop.curves.as_curves`).
    accounting : {"paper", "steps"}
        Cost of a stopped trial: ``k/K`` of a run (the paper) or the real fraction of optimizer
        steps (see :mod:`seedstats.earlystop.grid`).
    replace : bool, default True
        Draw the ``t`` trials with replacement (the paper) or without.
    pool : {"trials", "distinct_seeds", "fixed_wi", "fixed_do"}
        What they are drawn from (:mod:`seedstats.earlystop.sampling`; the seed-aware pools
        need ``replace=False``); the exact estimator handles ``"trials"``.
    ties : {"random", "index", "optimistic", "pessimistic"}
        Tie-break among equal partial scores (:mod:`seedstats.earlystop.exact`): at random in
        every experiment (the authors' rule, the default), so the result does not depend on
        the order of the rows.
    missing : {"raise", "drop"}
        Trials lacking a score at an evaluation point: refuse (naming them) or leave out.
    metric : str, optional
        Default: the task's headline metric.
    cache : bool or path
        Reuse/store results in the content-addressed cache (:mod:`seedstats.earlystop.cache`);
        ``False`` computes afresh without storing; a path names the cache directory.
    n_jobs : int, optional
        Monte Carlo threads (results do not depend on it).
    progress : callable, optional
        ``progress(done, total)`` as assignments are estimated.

    Returns
    -------
    assignments : DataFrame
        One row per feasible assignment, columns :data:`ASSIGNMENTS_COLUMNS`: ``task``,
        ``budget`` (x, full runs), ``t`` (trials started), ``p`` (trained fully), ``k``
        (evaluations before the stop decision; ``K`` for the baseline), ``f`` (``k/K``),
        ``cost`` (full runs spent), ``is_baseline`` (``t = p = x``, no stopping), ``expected``
        (expected best validation score), ``se`` (its Monte Carlo standard error, 0 if exact),
        ``rank`` (1 = best of its budget).
    best : DataFrame
        One row per budget, columns :data:`BEST_COLUMNS` (see :func:`best_per_budget`): the
        best assignment, its baseline, the relative error reduction and how clearly it beats
        the runner-up.

    Both carry ``.attrs`` with the method and every parameter (and the cache key).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> curves = np.maximum.accumulate(rng.random((40, 30)), axis=1)
    >>> a, b = budget_search(curves, exact=True, max_budget=3, cache=False)
    >>> len(a), b["budget"].tolist()
    (53, [1, 2, 3])
    """
    job = _Job(data, task, samples=samples, exact=exact, seed=rng, max_budget=max_budget,
               t_max=t_max, n_points=n_points, accounting=accounting, replace=replace, pool=pool,
               ties=ties, missing=missing, metric=metric, cache=cache)
    if job.hit is not None:
        if progress is not None:
            progress(len(job.hit[0]), len(job.hit[0]))
        return job.hit

    def compute():
        if not exact:
            return expected_best_mc(job.cs, job.grid, samples=int(samples), rng=job.seed,
                                    replace=replace, pool=pool, ties=ties, n_jobs=n_jobs,
                                    progress=progress)
        e = expected_best_exact(job.cs, job.grid, ties=ties, replace=replace, pool=pool)
        if progress is not None:
            progress(len(e), len(e))
        return e, np.zeros(len(e))

    return job.run(compute)


class _Job:
    """One task's search: validated parameters, curves, grid, cache key and the finishing step."""
    def __init__(self, data, task, *, samples, exact, seed, max_budget, t_max, n_points,
                 accounting, replace, pool, ties, missing, metric, cache):
        cs = as_curves(data, task, n_points=n_points, metric=metric, missing=missing)
        if not isinstance(exact, (bool, np.bool_)):
            raise TypeError(f"exact: expected a bool, got {type(exact).__name__}")
        sampling = scheme(replace, pool)
        if exact and sampling not in SAMPLINGS_EXACT:
            raise ValueError(f"pool: exact=True handles pool='trials' (with or without "
                             f"replacement), got {pool!r}; use Monte Carlo (exact=False) for it")
        if ties not in TIES:
            raise ValueError(f"ties: expected one of {', '.join(TIES)}, got {ties!r}")
        if isinstance(t_max, bool) or not isinstance(t_max, (int, np.integer)) or t_max < 1:
            raise ValueError(f"t_max: expected an int >= 1, got {t_max!r}")
        if not exact:
            if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
                raise TypeError(f"samples: expected an int, got {type(samples).__name__}")
            if samples < 2:
                raise ValueError(f"samples: expected at least 2, got {samples}")
            seed = resolve_seed(seed)
        limit = max_trials(cs, sampling)
        t_eff = int(t_max) if limit is None else min(int(t_max), limit)
        fractions = cs.step_fractions() if accounting == "steps" else None
        self.grid = feasible_assignments(max_budget, n_points=cs.n_points, t_max=t_eff,
                                         accounting=accounting, fractions=fractions)
        self.cs, self.seed, self.samples, self.exact = cs, seed, samples, bool(exact)
        self.sampling, self.replace, self.pool = sampling, replace, pool
        self.ties, self.cache = ties, cache
        self.params = {"method": "exact" if exact else "mc",
                       "samples": None if exact else int(samples),
                       "seed": None if exact else seed, "max_budget": int(max_budget),
                       "t_max": t_eff, "n_points": cs.n_points, "accounting": accounting,
                       "sampling": sampling, "ties": ties, "task": cs.task, "metric": cs.metric,
                       "lower_is_better": bool(cs.lower_is_better),
                       "steps": list(cs.steps) if cs.steps is not None else None}
        self.key = (_cache.cache_key(cs, self.params)
                    if cache is not False and cache is not None else None)
        self.hit = None
        if self.key is not None:
            hit = _cache.load_entry(cache, self.key)
            if hit is not None:
                self.hit = hit[0], hit[1]

    def pair(self, b, r):
        """Gap of two assignments and its SE, paired over common draws (same ``t``)."""
        if int(b["t"]) != int(r["t"]):
            return (float(b["expected"]) - float(r["expected"]),
                    float(np.hypot(b["se"], r["se"])))
        return paired_difference(self.cs, (int(b["t"]), int(b["p"]), int(b["k"])),
                                 (int(r["t"]), int(r["p"]), int(r["k"])),
                                 samples=int(self.samples), rng=self.seed,
                                 replace=self.replace, pool=self.pool, ties=self.ties)

    def run(self, compute, wait=True):
        """The entry another process stored meanwhile, or ``compute() -> (e, se)`` finished
        and stored: one process at a time computes a given entry. With ``wait=False``,
        ``None`` when another process is computing it now."""
        with _cache.computing(self.cache, self.key, wait) as held:
            if not held:
                return None
            hit = None if self.key is None else _cache.load_entry(self.cache, self.key)
            if hit is not None:
                return hit[0], hit[1]
            return self.finish(*compute())

    def finish(self, e, se):
        a = self.grid.copy()
        a.insert(0, "task", self.cs.task)
        a["expected"] = e
        a["se"] = se
        # rank 1 = best; equal estimates in (t, p, k) order, the order best_per_budget uses
        order = a.sort_values(["budget", "expected", "t", "p", "k"],
                              ascending=[True, False, True, True, True], kind="stable").index
        a["rank"] = 0
        a.loc[order, "rank"] = a.loc[order].groupby("budget").cumcount().to_numpy() + 1
        a = a[list(ASSIGNMENTS_COLUMNS)]
        b = best_per_budget(a, pair=None if self.exact else self.pair)
        if self.cs.lower_is_better:  # back from 1 - loss (CurveSet) to the loss
            a["expected"] = 1.0 - a["expected"]
            for col in ("expected", "baseline", "runner_up_expected"):
                b[col] = 1.0 - b[col]
        meta = dict(self.params, cache_key=self.key, dropped=list(self.cs.dropped))
        a.attrs = dict(meta)
        b.attrs = dict(meta)
        if self.key is not None:
            _cache.store_entry(self.cache, self.key, a, b, meta)
        return a, b


def budget_search_tasks(data, tasks=None, *, samples: int = 50_000, exact: bool = False,
                        rng=0, n_jobs: int | None = None, progress=None, **kwargs):
    """:func:`budget_search` for several tasks of a dataset, sharing the Monte Carlo draws.

    Every task gets exactly the numbers (and the cache entry) that :func:`budget_search` gives
    it with the same parameters; tasks found in the cache are not recomputed, and with the
    paper's sampling (with replacement) the rank draws of the others are made once for all of
    them (:func:`~seedstats.earlystop.montecarlo.expected_best_mc_tasks`).

    Parameters
    ----------
    data : Dataset
    tasks : list of str, optional
        Default: every task of the dataset.
    samples, exact, rng, n_jobs
        As in :func:`budget_search`.
    progress : callable, optional
        ``progress(done, total)`` over the assignments of all tasks.
    **kwargs
        Any other keyword of :func:`budget_search` (``max_budget``, ``t_max``, ``cache``, ...).

    Returns
    -------
    assignments, best : DataFrame
        The tables of :func:`budget_search` of every task, stacked in task order (``task``
        column first).

    Examples
    --------
    >>> import seedstats
    >>> a, b = budget_search_tasks(seedstats.load(), ["rte", "sst"], exact=True,
    ...                            max_budget=2, cache=False)  # doctest: +SKIP
    """
    tasks = list(data.tasks) if tasks is None else list(tasks)
    if not tasks:
        raise ValueError("tasks: expected at least one task, got none")
    jobs = [_Job(data, t, samples=samples, exact=exact, seed=rng,
                 **{**_SEARCH_DEFAULTS, **kwargs}) for t in tasks]
    todo = [j for j in jobs if j.hit is None]
    total = sum(len(j.grid) for j in jobs)
    done = sum(len(j.grid) for j in jobs if j.hit is not None)
    out = {}
    if todo and not exact and all(j.sampling == "with_replacement" for j in todo):
        def prog(d, _):
            if progress is not None:
                progress(done + d, total)
        res = expected_best_mc_tasks([j.cs for j in todo], [j.grid for j in todo],
                                     samples=int(samples), rng=todo[0].seed,
                                     ties=todo[0].ties, n_jobs=n_jobs, progress=prog)
        for j, (e, se) in zip(todo, res):
            out[id(j)] = j.finish(e, se)
    else:
        def compute(j):
            if exact:
                e = expected_best_exact(j.cs, j.grid, ties=j.ties, replace=j.replace,
                                        pool=j.pool)
                return e, np.zeros(len(e))
            return expected_best_mc(j.cs, j.grid, samples=int(samples), rng=j.seed,
                                    replace=j.replace, pool=j.pool, ties=j.ties,
                                    n_jobs=n_jobs)

        # A task another process is computing now is left for last (then read from the cache).
        busy = []
        for wait, batch in ((False, todo), (True, busy)):
            for j in batch:
                res = j.run(lambda j=j: compute(j), wait=wait)
                if res is None:
                    busy.append(j)
                    continue
                out[id(j)] = res
                done += len(j.grid)
                if progress is not None:
                    progress(done, total)
    if progress is not None:
        progress(total, total)
    pairs = [j.hit if j.hit is not None else out[id(j)] for j in jobs]
    a = pd.concat([p[0] for p in pairs], ignore_index=True)
    b = pd.concat([p[1] for p in pairs], ignore_index=True)
    a.attrs = {"tasks": tasks, **{k: v for k, v in pairs[0][0].attrs.items()
                                  if k not in ("task", "cache_key", "dropped", "steps")}}
    b.attrs = dict(a.attrs)
    return a, b


_SEARCH_DEFAULTS = {"max_budget": 30, "t_max": 200, "n_points": None, "accounting": "paper",
                    "replace": True, "pool": "trials", "ties": "random", "missing": "raise",
                    "metric": None, "cache": True}

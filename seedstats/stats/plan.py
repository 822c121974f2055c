"""``seedstats plan``: how many seeds must I run, and how should I spend them?

From a pilot sweep (or an embedded dataset used as a prior, ``--data dodge2020``), per task and
system, for a difference ``effect`` (in the metric's units) that a comparison of two systems
should detect with probability ``power`` at level ``alpha``, two-sided:

- ``n_welch``: seeds per system for Welch's t-test, analytically (statsmodels
  ``TTestIndPower``, effect size ``effect / sd``), and its range over the 95% chi-square interval
  of the pilot's SD (a small pilot's SD is itself uncertain);
- ``n_simulated``: the same by simulation from the pilot's own distribution (bimodal scores
  such as MRPC's failed runs included): each replicate draws ``n`` scores for system A from the
  pilot and ``n`` for B from the pilot shifted by ``effect``, and runs the Welch test; the
  smallest ``n`` whose simulated power reaches ``power`` (binary search, the same seeded draws at
  every ``n``);
- ``mde``: the minimum detectable effect at ``n`` seeds (default the pilot's size);
- :func:`precision`: the 95% half-width of the mean and of the expected best of ``budget`` runs
  (Dodge et al. 2019; Section 3.1 of the paper) as the number of seeds grows;
- :func:`design`: for a WI x DO pilot (Dodge et al. 2020, Section 4), how a budget of runs is best
  spread over WI and DO seeds, from the variance components
  (:func:`seedstats.stats.seeds.variance_components`): the variance of a crossed ``a x b`` grid's
  mean is ``var_wi / a + var_do / b + var_res / (a b)``; running every trial with a fresh WI and
  a fresh DO seed gives ``var_total / R``, never more. For the seed *effects*, the ANOVA
  estimators' standard errors (Searle, Casella & McCulloch 1992, Section 4.5).

Pairing by seed (both systems run the same seeds) can only lower the seeds needed when the
systems' scores correlate across seeds; a single-system pilot cannot tell by how much, so the plan
assumes independent samples.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

from seedstats.data.dataset import score_column
from seedstats.errors import DataError
from seedstats.stats._common import ResultTable, as_generator, check_int
from seedstats.stats.expected_max import rank_weights
from seedstats.stats.seeds import variance_components
from seedstats.stats.significance import solve_n

__all__ = ["PLAN_COLUMNS", "PlanResult", "design", "plan", "precision", "simulated_power"]

#: Columns of :func:`plan` (``plan.csv``).
PLAN_COLUMNS = [
    "task", "system", "metric", "lower_is_better", "n_pilot", "mean", "sd", "sd_low", "sd_high",
    "effect", "alpha", "power", "n_welch", "n_welch_low", "n_welch_high", "n_simulated",
    "power_simulated", "n_mde", "mde", "design_budget", "design_wi", "design_do",
    "design_sd_mean", "fresh_sd_mean", "warning",
]


def _welch_p(x, y):
    """Two-sided Welch p-values for the rows of ``x`` and ``y`` (k, n)."""
    n1, n2 = x.shape[1], y.shape[1]
    v1, v2 = x.var(1, ddof=1) / n1, y.var(1, ddof=1) / n2
    se2 = v1 + v2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (y.mean(1) - x.mean(1)) / np.sqrt(se2)
        df = se2 ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))
        p = 2 * sps.t.sf(np.abs(t), df)
    # no spread in either sample: the difference is exact
    return np.where(se2 > 0, p, np.where(y.mean(1) != x.mean(1), 0.0, 1.0))


def simulated_power(pilot, effect: float, n: int, *, alpha: float = 0.05,
                    n_sim: int = 10_000, rng=0) -> float:
    """Power of the two-sided Welch test at ``n`` seeds per system, by simulation from
    ``pilot`` (system A) and ``pilot + effect`` (system B).

    Examples
    --------
    >>> pilot = np.random.default_rng(0).normal(0.8, 0.05, 400)
    >>> round(simulated_power(pilot, 0.05, 17, n_sim=4000), 1)  # analytic: 0.80
    0.8
    """
    x = np.asarray(pilot, dtype=np.float64)
    gen = as_generator(rng)
    a = x[gen.integers(0, x.size, size=(n_sim, n))]
    b = x[gen.integers(0, x.size, size=(n_sim, n))] + effect
    return float((_welch_p(a, b) < alpha).mean())


def _n_simulated(x, effect, alpha, power, n_sim, seed, n_max, guess):
    """Smallest n in [2, n_max] whose simulated power reaches ``power``, searched from the
    analytic ``guess`` outwards, then by bisection (NaN if none): ``(n, its power)``."""
    cache = {}

    def pw(n):
        if n not in cache:
            cache[n] = simulated_power(x, effect, n, alpha=alpha, n_sim=n_sim, rng=seed)
        return cache[n]

    n = int(min(max(2, guess if np.isfinite(guess) else 2), n_max))
    if pw(n) >= power:
        hi, lo = n, n
        while lo > 2 and pw(lo) >= power:
            hi, lo = lo, max(2, lo // 2)
        if pw(lo) >= power:
            return lo, pw(lo)
    else:
        lo, hi = n, n
        while pw(hi) < power:
            if hi >= n_max:
                return np.nan, pw(hi)
            lo, hi = hi, min(n_max, hi * 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pw(mid) >= power:
            hi = mid
        else:
            lo = mid
    return hi, pw(hi)


def _n_welch(effect, sd, alpha, power):
    return 2.0 if sd <= 0 else solve_n(effect / sd, alpha, power)


def _mde(n, sd, alpha, power):
    from statsmodels.stats.power import TTestIndPower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(TTestIndPower().solve_power(nobs1=n, alpha=alpha, power=power) * sd)
        except (ValueError, RuntimeError):
            return np.nan


def _pilots(ds, tasks, system, score):
    col = score_column(score)
    t = ds.trials
    systems = ds.systems if system is None else [system]
    if system is not None and system not in ds.systems:
        raise DataError(f"--system {system}: not in this dataset; systems present: "
                        f"{', '.join(ds.systems)}")
    tasks = ds.tasks if tasks is None else ([tasks] if isinstance(tasks, str) else list(tasks))
    missing = [x for x in tasks if x not in ds.tasks]
    if missing:
        raise DataError(f"--task {', '.join(missing)}: not in this dataset; tasks present: "
                        f"{', '.join(ds.tasks)}")
    for task in tasks:
        for s in systems:
            sub = t[(t["task"] == task) & (t["system"].astype(str) == s)]
            if sub.empty:
                continue
            x = sub[col].to_numpy(dtype=np.float64)
            x = x[np.isfinite(x)]
            if x.size < 2:
                raise DataError(f"task {task!r}, system {s!r}: {x.size} scored trial(s); a "
                                "plan needs a pilot of at least 2")
            yield task, s, sub, x


def _check(effect, power, alpha):
    if not isinstance(effect, (int, float, np.floating)) or isinstance(effect, bool) or not (
            np.isfinite(effect) and effect != 0):
        raise DataError(f"--effect: expected a non-zero difference in the metric's units "
                        f"(e.g. 0.01 for one point of accuracy), got {effect!r}")
    for name, v in (("--power", power), ("--alpha", alpha)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < 1:
            raise DataError(f"{name}: expected a number strictly between 0 and 1, got {v!r}")


def plan(ds, *, effect: float, tasks=None, system=None, power: float = 0.8,
         alpha: float = 0.05, score: str = "paper", n: int | None = None,
         budget: int = 100, n_sim: int = 10_000, n_max: int = 2000, rng=0) -> pd.DataFrame:
    """Seeds per system to detect ``effect`` (module docstring), per task and system.

    Parameters
    ----------
    ds : Dataset
        The pilot (any sweep, or an embedded dataset as a prior).
    effect : float
        The difference to detect, in the metric's units (0.01 = one point of accuracy).
    tasks, system : optional
        Default: every task and system.
    power, alpha : float
    score : {"paper", "final"}
    n : int, optional
        Seeds per system at which ``mde`` is given; default the pilot's size.
    budget : int
        Runs to spread over WI and DO seeds in the design columns (WI x DO pilots only).
    n_sim : int
        Simulated experiments per candidate ``n``.
    n_max : int
        Largest ``n`` searched; ``n_simulated`` is NaN beyond it.
    rng : int or numpy.random.Generator

    Returns
    -------
    DataFrame
        Columns :data:`PLAN_COLUMNS`; ``warning`` is empty or says why the plan is fragile.
    """
    _check(effect, power, alpha)
    check_int("n_sim", n_sim, 1)
    check_int("budget", budget, 4)
    check_int("n_max", n_max, 2)
    gen = as_generator(rng)
    rows = []
    for task, s, sub, x in _pilots(ds, tasks, system, score):
        metric = ",".join(sorted(map(str, sub["metric"].dropna().unique())))
        sd = float(x.std(ddof=1))
        df = x.size - 1
        sd_low = sd * np.sqrt(df / sps.chi2.ppf(0.975, df))
        sd_high = sd * np.sqrt(df / sps.chi2.ppf(0.025, df))
        nw = _n_welch(effect, sd, alpha, power)
        nw_lo, nw_hi = _n_welch(effect, sd_low, alpha, power), _n_welch(effect, sd_high, alpha,
                                                                         power)
        seed = int(gen.integers(2 ** 63))
        ns, ps = _n_simulated(x, effect, alpha, power, n_sim, seed, n_max, nw)
        n_mde = x.size if n is None else check_int("n", n, 2)
        warning = []
        if x.size < 10:
            warning.append(f"pilot of {x.size} runs is too small to plan from")
        if np.isfinite(nw_lo) and np.isfinite(nw_hi) and nw_hi > 2 * nw_lo:
            warning.append(f"over the SD's 95% interval the plan ranges from {int(nw_lo)} to "
                           f"{int(nw_hi)} seeds")
        if not np.isfinite(ns):
            warning.append(f"no n up to {n_max} reaches the power by simulation")
        try:
            alloc = design(ds.select(system=s), task, budget=budget, score=score)
            best = alloc[alloc["best_for_mean"]].iloc[0]
            d_budget, d_wi, d_do = budget, int(best["n_wi"]), int(best["n_do"])
            d_sd, f_sd = float(best["sd_mean"]), float(best["fresh_sd_mean"])
        except (DataError, ValueError):  # not a WI x DO grid (of at least 2 x 2)
            d_budget = d_wi = d_do = d_sd = f_sd = np.nan
        rows.append({
            "task": task, "system": s, "metric": metric,
            "lower_is_better": bool(ds.lower_is_better(metric)), "n_pilot": int(x.size),
            "mean": float(x.mean()), "sd": sd, "sd_low": float(sd_low), "sd_high": float(sd_high),
            "effect": float(effect), "alpha": float(alpha), "power": float(power),
            "n_welch": nw, "n_welch_low": nw_lo, "n_welch_high": nw_hi,
            "n_simulated": float(ns), "power_simulated": ps, "n_mde": n_mde,
            "mde": _mde(n_mde, sd, alpha, power), "design_budget": d_budget, "design_wi": d_wi,
            "design_do": d_do, "design_sd_mean": d_sd, "fresh_sd_mean": f_sd,
            "warning": "; ".join(warning),
        })
    if not rows:
        raise DataError("no trials to plan from")
    return PlanResult(pd.DataFrame(rows, columns=PLAN_COLUMNS))


class PlanResult(ResultTable):
    """What :func:`plan` returns: the table of :data:`PLAN_COLUMNS` (a DataFrame), shown in
    Jupyter and in ``seedstats report`` as one line per task and system, then the main
    columns."""

    SHOWN = ("task", "system", "n_pilot", "sd", "n_welch", "n_welch_low", "n_welch_high",
             "n_simulated", "mde", "design_wi", "design_do", "warning")

    def lines(self) -> list[str]:
        out = []
        for r in self.itertuples():
            n = "-" if r.n_welch != r.n_welch else f"{r.n_welch:.0f}"
            out.append(f"{r.task} ({r.system}): {n} seeds per system to detect "
                       f"{r.effect:g} (Welch, power {r.power:g}, alpha {r.alpha:g}); "
                       f"the pilot of {r.n_pilot} detects {r.mde:.3g}")
        return out


def precision(ds, *, tasks=None, system=None, score: str = "paper", budget: int = 5,
              ns=(2, 3, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100), level: float = 0.95,
              n_sim: int = 10_000, rng=0) -> pd.DataFrame:
    """How precisely ``n`` seeds pin down a system's mean and its expected best of ``budget``.

    Returns
    -------
    DataFrame
        Per task, system and ``n``: ``halfwidth_mean`` (the t interval's half-width at the
        pilot's SD), ``halfwidth_mean_sim`` and ``halfwidth_expected_best`` (half the central
        ``level`` range of the estimate over ``n_sim`` samples of ``n`` drawn from the pilot;
        the expected best with replacement, in the metric's direction).
    """
    gen = as_generator(rng)
    alpha = 1 - level
    rows = []
    for task, s, sub, x in _pilots(ds, tasks, system, score):
        metric = ",".join(sorted(map(str, sub["metric"].dropna().unique())))
        sign = -1.0 if ds.lower_is_better(metric) else 1.0
        sd = x.std(ddof=1)
        for n in ns:
            draw = x[gen.integers(0, x.size, size=(n_sim, n))]
            means = draw.mean(1)
            best = sign * (np.sort(sign * draw, axis=1) @ rank_weights(n, [budget]))[:, 0]
            q = np.quantile(np.c_[means, best], [alpha / 2, 1 - alpha / 2], axis=0)
            rows.append({
                "task": task, "system": s, "n": int(n), "budget": int(budget),
                "halfwidth_mean": float(sps.t.ppf(1 - alpha / 2, n - 1) * sd / np.sqrt(n)),
                "halfwidth_mean_sim": float((q[1, 0] - q[0, 0]) / 2),
                "halfwidth_expected_best": float((q[1, 1] - q[0, 1]) / 2),
            })
    return pd.DataFrame(rows)


def design(ds, task: str, *, budget: int = 100, score: str = "paper") -> pd.DataFrame:
    """Every way to spend ``budget`` runs on a crossed WI x DO grid (``a * b <= budget``,
    ``a, b >= 2``, the largest grid for each ``a``), from the pilot's variance components.

    Returns
    -------
    DataFrame
        ``n_wi``, ``n_do``, ``runs``; ``sd_mean`` (SD of the grid's mean score),
        ``fresh_sd_mean`` (SD of the mean of ``runs`` trials each with fresh seeds),
        ``se_var_wi``, ``se_var_do`` (standard errors of the ANOVA estimates of the WI and DO
        variance components); ``best_for_mean`` and ``best_for_effects`` (the smallest
        ``se_var_wi + se_var_do``) mark the winners.

    Raises
    ------
    DataError
        The pilot of ``task`` is not a WI x DO grid.

    Examples
    --------
    >>> import seedstats
    >>> d = design(seedstats.load("dodge2020"), "mrpc", budget=100)
    >>> d.loc[d["best_for_mean"], ["n_wi", "n_do"]].values.tolist()
    [[25, 4]]
    """
    vc = variance_components(ds.grid(task, score_column(score)))
    v = dict(zip(vc["component"], vc["variance"]))
    vw, vd, ve = (max(0.0, float(v[k])) for k in ("wi", "do", "residual"))
    rows = []
    for a in range(2, budget // 2 + 1):
        b = budget // a
        if b < 2:
            break
        r = a * b
        ew, ed = b * vw + ve, a * vd + ve      # expected mean squares
        se_w = np.sqrt(2 / b ** 2 * (ew ** 2 / (a - 1) + ve ** 2 / ((a - 1) * (b - 1))))
        se_d = np.sqrt(2 / a ** 2 * (ed ** 2 / (b - 1) + ve ** 2 / ((a - 1) * (b - 1))))
        rows.append({"task": task, "n_wi": a, "n_do": b, "runs": r,
                     "sd_mean": float(np.sqrt(vw / a + vd / b + ve / r)),
                     "fresh_sd_mean": float(np.sqrt((vw + vd + ve) / r)),
                     "se_var_wi": float(se_w), "se_var_do": float(se_d)})
    out = pd.DataFrame(rows)
    if out.empty:
        raise DataError(f"--budget {budget}: too small for a 2 x 2 grid")
    out["best_for_mean"] = out.index == out["sd_mean"].idxmin()
    out["best_for_effects"] = out.index == (out["se_var_wi"] + out["se_var_do"]).idxmin()
    return out

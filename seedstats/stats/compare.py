"""``seedstats compare``: is system B really better than system A, given the seeds?

Per task and ordered pair of systems ``(a, b)`` of a dataset, from each trial's score (the
paper's score by default, Dodge et al. 2020 Section 4; the final score with ``score="final"``),
in the direction of the task's headline metric (a loss: lower is better):

- the means and SDs, ``diff = mean_b - mean_a`` in the metric's units (positive: ``b`` has the
  larger mean; for a loss, the worse one) with its t interval (Welch, or paired by seed) and a
  expanded percentile bootstrap interval (:mod:`seedstats.stats.significance`);
- ``p_welch`` and the p-value of the test used (paired t when paired), corrected for the family
  of all tasks and pairs (Holm by default, Benjamini-Hochberg as ``correction="fdr_bh"``;
  statsmodels ``multipletests``);
- Hedges' g, the probability that a run of ``b`` beats a run of ``a`` (ties half) and ASO's
  ``epsilon_min``, all in the metric's direction (``b`` better: g > 0, probability > 0.5,
  epsilon small);
- the expected best of ``n`` runs of each system (Dodge et al. 2019; Section 3.1 of the paper)
  and the smallest budget from which ``b``'s expected best stays better than ``a``'s, with its
  bootstrap interval, with and without replacement;
- a verdict line and, when undecided, the seeds per system that would decide at the observed
  effect (statsmodels power analysis).

Pairing: two systems are paired when they ran exactly the same seeds: the same (WI, DO) cells on
a grid, or the same single seeds. Otherwise they are compared as independent samples, and the
``pairing`` column says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.data.dataset import score_column
from seedstats.errors import DataError
from seedstats.stats._common import ResultTable, as_generator, check_int
from seedstats.stats.expected_max import rank_weights
from seedstats.stats.significance import (
    aso,
    bootstrap_difference,
    hedges_g,
    mean_difference,
    prob_better,
    solve_n,
)

__all__ = [
    "COLUMNS",
    "CORRECTIONS",
    "CompareResult",
    "compare",
    "crossing_budget",
    "system_scores",
]

#: Multiple-testing corrections over the family of tasks and pairs (statsmodels' names).
CORRECTIONS = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg", "bonferroni": "Bonferroni",
               "none": "none"}

#: Columns of :func:`compare` (and ``compare.csv``), in order.
COLUMNS = [
    "task", "a", "b", "metric", "lower_is_better", "score", "n_a", "n_b", "n_missing",
    "paired", "pairing", "mean_a", "mean_b", "sd_a", "sd_b", "diff", "diff_low", "diff_high",
    "ci_method", "boot_low", "boot_high", "test", "p_welch", "p_test", "p_adjusted",
    "correction", "hedges_g", "prob_b_better", "prob_low", "prob_high", "aso_ratio",
    "aso_epsilon", "crossing_budget", "crossing_low", "crossing_high",
    "crossing_budget_noreplace", "seeds_to_decide", "decided", "verdict",
]


def _keys(t: pd.DataFrame) -> tuple[pd.Series, str]:
    """Each trial's seed key and the kind of key (grid cells or single seeds)."""
    if t["wi_seed"].notna().all() and t["do_seed"].notna().all():
        return (t["wi_seed"].astype(int).astype(str) + "/" + t["do_seed"].astype(int).astype(str),
                "(WI, DO) cell")
    if t["seed"].notna().all():
        return t["seed"].astype(int).astype(str), "seed"
    return pd.Series([None] * len(t), index=t.index, dtype=object), "none"


def system_scores(ds, task: str, system: str, score: str = "paper") -> pd.Series:
    """The scores of one system on one task, indexed by seed key (``"wi/do"`` or ``"seed"``),
    sorted by key; trials without a score are left out (counted by :func:`compare`)."""
    col = score_column(score)
    t = ds.trials[(ds.trials["task"] == task) & (ds.trials["system"].astype(str) == system)]
    keys, _ = _keys(t)
    s = pd.Series(t[col].to_numpy(dtype=np.float64), index=keys.to_numpy())
    return s[np.isfinite(s.to_numpy())].sort_index(kind="stable")


def _pairing(ta: pd.DataFrame, tb: pd.DataFrame) -> tuple[bool, str]:
    ka, kind_a = _keys(ta)
    kb, kind_b = _keys(tb)
    if kind_a != kind_b or kind_a == "none":
        return False, "unpaired: the systems' seeds are not of one kind"
    if ka.duplicated().any() or kb.duplicated().any():
        return False, "unpaired: a seed ran more than once"
    if set(ka) != set(kb):
        return False, "unpaired: the systems ran different seeds"
    return True, f"paired by {kind_a}"


def crossing_budget(ea, eb) -> np.ndarray:
    """The smallest budget index from which ``eb`` stays above ``ea`` to the last budget.

    ``ea``, ``eb`` (k, B) expected-best curves over budgets ``1..B``; returns, per row, the
    budget (1-based) or NaN when ``b`` is not ahead at the last budget.

    Examples
    --------
    >>> crossing_budget(np.array([[0.5, 0.6, 0.7, 0.8]]), np.array([[0.6, 0.55, 0.75, 0.9]]))
    array([3.])
    """
    ahead = np.asarray(eb) > np.asarray(ea) + 1e-12
    # last budget where b is not ahead; the crossing is the one after it
    behind = ~ahead
    B = ahead.shape[1]
    last_behind = np.where(behind.any(1), B - 1 - np.argmax(behind[:, ::-1], axis=1), -1)
    out = (last_behind + 2).astype(np.float64)
    out[~ahead[:, -1]] = np.nan
    return out


def _crossing(a, b, *, replace: bool, n_boot: int, level: float, gen):
    """Crossing budget of the expected-best curves, with a percentile bootstrap interval
    (a resample where ``b`` never gets ahead counts as beyond the last budget)."""
    B = max(a.size, b.size) if replace else min(a.size, b.size)
    budgets = np.arange(1, B + 1)
    wa = rank_weights(a.size, budgets, replace=replace)
    wb = rank_weights(b.size, budgets, replace=replace)
    point = float(crossing_budget(np.sort(a)[None] @ wa, np.sort(b)[None] @ wb)[0])
    if not n_boot:
        return point, np.nan, np.nan
    ra = np.sort(a[gen.integers(0, a.size, size=(n_boot, a.size))], axis=1)
    rb = np.sort(b[gen.integers(0, b.size, size=(n_boot, b.size))], axis=1)
    c = crossing_budget(ra @ wa, rb @ wb)
    c = np.where(np.isnan(c), B + 1, c)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(c, [alpha, 1 - alpha], method="inverted_cdf")
    return point, float(lo) if lo <= B else np.nan, float(hi) if hi <= B else np.nan


def _seeds_to_decide(a, b, paired: bool, alpha: float, power: float = 0.8) -> float:
    """Seeds per system that would give the test ``power`` at the observed effect, minus the
    seeds run; NaN when there is no effect to detect."""
    if paired:
        d = b - a
        sd = d.std(ddof=1)
        effect = abs(d.mean()) / sd if sd > 0 else np.inf
        have = d.size
    else:
        effect, have = hedges_g(a, b), min(a.size, b.size)
    need = solve_n(effect, alpha, power, paired=paired)
    return float(max(0, need - have)) if np.isfinite(need) else np.nan


def _fmt(value: float, unit_points: bool) -> str:
    return f"{value * 100:+.1f} points" if unit_points else f"{value:+.4g}"


def _verdict(r: dict, unit_points: bool) -> str:
    a, b, low = r["a"], r["b"], r["lower_is_better"]
    better = (r["diff"] < 0) if low else (r["diff"] > 0)
    winner, loser = (b, a) if better else (a, b)
    lo, hi = r["diff_low"], r["diff_high"]
    scale = 100 if unit_points else 1
    interval = (f"[{lo * scale:.1f}, {hi * scale:.1f}]" if unit_points else
                f"[{lo:.4g}, {hi:.4g}]")
    stats = (f"{_fmt(r['diff'], unit_points)} {interval}, P({b}>{a}) = "
             f"{r['prob_b_better']:.2f}, ASO eps = {r['aso_epsilon']:.2f}")
    if r["decided"]:
        return f"{winner} > {loser}: {stats}; decided"
    more = r["seeds_to_decide"]
    tail = (f"about {int(more)} more seeds per system would decide at the observed effect"
            if np.isfinite(more) else "no difference to detect at the observed effect")
    return f"undecided ({stats}): {tail}"


def compare(ds, *, tasks=None, systems=None, score: str = "paper", level: float = 0.95,
            correction: str = "holm", n_boot: int = 10_000, aso_boot: int = 1000,
            rng=0) -> pd.DataFrame:
    """Compare systems over seeds, per task (module docstring).

    Parameters
    ----------
    ds : Dataset
        A dataset with at least two systems (``seedstats ingest --system``, ``seedstats merge``).
    tasks : str or sequence of str, optional
        Default: every task that has at least two of the systems.
    systems : sequence of str, optional
        The systems to compare (all ordered pairs); default all of them.
    score : {"paper", "final"}
        The per-trial score.
    level : float
        Confidence level of every interval and test (``alpha = 1 - level``).
    correction : {"holm", "fdr_bh", "bonferroni", "none"}
        Over the family of all (task, unordered pair) tests.
    n_boot : int
        Bootstrap resamples of the difference interval and of the crossing budget.
    aso_boot : int
        Bootstrap resamples of ASO's sigma (deep-significance's default, 1000).
    rng : int or numpy.random.Generator
        Seed of every resample; the same seed gives the same table.

    Returns
    -------
    DataFrame
        One row per task and ordered pair ``(a, b)``, columns :data:`COLUMNS`.

    Raises
    ------
    DataError
        Fewer than two systems, an unknown system or task, a system with fewer than two scored
        trials on a task, or systems whose headline metrics differ on a task.
    """
    from statsmodels.stats.multitest import multipletests

    col = score_column(score)
    if correction not in CORRECTIONS:
        raise DataError(f"correction: expected one of {', '.join(CORRECTIONS)}, got "
                        f"{correction!r}")
    check_int("n_boot", n_boot, 0)
    check_int("aso_boot", aso_boot, 0)
    present = ds.systems
    systems = present if systems is None else [str(s) for s in systems]
    unknown = [s for s in systems if s not in present]
    if unknown:
        raise DataError(f"--systems: {', '.join(unknown)} not in this dataset; systems present: "
                        f"{', '.join(present)}")
    if len(set(systems)) < 2:
        raise DataError(f"compare needs at least two systems; this dataset has "
                        f"{len(present)} ({', '.join(present)}): ingest another with "
                        "--system NAME and `seedstats merge` them")
    trials = ds.trials[ds.trials["system"].astype(str).isin(systems)]
    if tasks is None:
        per = trials.groupby("task", observed=True)["system"].nunique()
        tasks = [t for t in ds.tasks if per.get(t, 0) >= 2]
        if not tasks:
            raise DataError("no task has trials of two of the systems "
                            f"({', '.join(systems)})")
    else:
        tasks = [tasks] if isinstance(tasks, str) else list(tasks)
        missing = [t for t in tasks if t not in ds.tasks]
        if missing:
            raise DataError(f"--task {', '.join(missing)}: not in this dataset; tasks present: "
                            f"{', '.join(ds.tasks)}")
    gen = as_generator(rng)
    alpha = 1 - level
    rows = []
    for task in tasks:
        tt = trials[trials["task"] == task]
        metrics = sorted(map(str, tt["metric"].dropna().unique()))
        if len(metrics) != 1:
            raise DataError(f"task {task!r}: the systems' headline metrics differ "
                            f"({', '.join(metrics) or 'none'}); compare needs one")
        metric = metrics[0]
        low = ds.lower_is_better(metric)
        sign = -1.0 if low else 1.0
        names = [s for s in systems if (tt["system"].astype(str) == s).any()]
        for i, sa in enumerate(names):
            for sb in names[i + 1:]:
                ta = tt[tt["system"].astype(str) == sa]
                tb = tt[tt["system"].astype(str) == sb]
                paired, pairing = _pairing(ta, tb)
                xa, xb = system_scores(ds, task, sa, score), system_scores(ds, task, sb, score)
                if paired:
                    common = xa.index.intersection(xb.index)
                    xa, xb = xa.loc[common], xb.loc[common]
                    if len(common) < len(ta) or len(common) < len(tb):
                        pairing += f" ({len(common)} seeds scored in both)"
                n_missing = len(ta) + len(tb) - len(xa) - len(xb)
                for who, x in ((sa, xa), (sb, xb)):
                    if len(x) < 2:
                        raise DataError(f"task {task!r}, system {who!r}: {len(x)} scored "
                                        f"trial(s) ({col}); compare needs at least 2")
                seed = int(gen.integers(2 ** 63))
                rows += _pair_rows(task, sa, sb, xa.to_numpy(), xb.to_numpy(), sign, metric,
                                   low, score, paired, pairing, n_missing, level, n_boot,
                                   aso_boot, seed)
    out = pd.DataFrame(rows)
    # one test per (task, unordered pair): both ordered rows share it
    first = out.drop_duplicates(["task", "pair"])
    if correction == "none":
        adj = first["p_test"].to_numpy()
    else:
        adj = multipletests(first["p_test"].to_numpy(), alpha=alpha, method=correction)[1]
    lookup = dict(zip(first["task"].astype(str) + "|" + first["pair"], adj))
    out["p_adjusted"] = (out["task"].astype(str) + "|" + out["pair"]).map(lookup)
    out["correction"] = (f"{CORRECTIONS[correction]} over {len(first)} tests (tasks x pairs)"
                         if correction != "none" else "none")
    out["decided"] = out["p_adjusted"] < alpha
    points = out["unit_points"].to_numpy()
    out["verdict"] = [_verdict(r, p) for r, p in zip(out.to_dict("records"), points)]
    return CompareResult(out[COLUMNS].reset_index(drop=True))


class CompareResult(ResultTable):
    """What :func:`compare` returns: the table of :data:`COLUMNS` (a DataFrame), shown in
    Jupyter and in ``seedstats report`` as one verdict per task and pair, then the main
    columns."""

    SHOWN = ("task", "a", "b", "n_a", "n_b", "paired", "mean_a", "mean_b", "diff", "diff_low",
             "diff_high", "p_adjusted", "hedges_g", "prob_b_better", "aso_epsilon",
             "crossing_budget")

    def lines(self) -> list[str]:
        """One verdict per task and pair of systems (the row with ``a < b``)."""
        return [f"{r.task}: {r.verdict}" for r in self.itertuples() if r.a < r.b]


def _pair_rows(task, sa, sb, xa, xb, sign, metric, low, score, paired, pairing, n_missing,
               level, n_boot, aso_boot, seed) -> list[dict]:
    """Both ordered rows (a, b) and (b, a) of one comparison."""
    gen = np.random.default_rng(seed)
    ua, ub = sign * xa, sign * xb          # oriented: higher is better
    md = mean_difference(xa, xb, paired=paired, level=level)
    blo, bhi = bootstrap_difference(xa, xb, paired=paired, level=level, n_boot=n_boot, rng=gen)
    g = hedges_g(ua, ub)
    p, plo, phi = prob_better(ua, ub, level=level)
    eps, eps_min = aso(ua, ub, level=level, n_boot=aso_boot, rng=gen)
    eps_r, eps_min_r = aso(ub, ua, level=level, n_boot=aso_boot, rng=gen)
    cross = _crossing(ua, ub, replace=True, n_boot=min(n_boot, 2000), level=level, gen=gen)
    cross_r = _crossing(ub, ua, replace=True, n_boot=min(n_boot, 2000), level=level, gen=gen)
    nrep = _crossing(ua, ub, replace=False, n_boot=0, level=level, gen=gen)[0]
    nrep_r = _crossing(ub, ua, replace=False, n_boot=0, level=level, gen=gen)[0]
    more = _seeds_to_decide(ua, ub, paired, 1 - level)
    allv = np.concatenate([xa, xb])
    unit_points = bool(allv.min() >= -1 and allv.max() <= 1 and not low)
    base = {"task": task, "metric": metric, "lower_is_better": bool(low), "score": score,
            "n_missing": int(n_missing), "paired": bool(paired), "pairing": pairing,
            "ci_method": (f"{'paired t' if paired else 'Welch t'} {level:.0%}; expanded "
                          "percentile bootstrap"),
            "test": md["test"], "p_welch": md["p_welch"], "p_test": md["p"],
            "seeds_to_decide": more, "pair": f"{sa}|{sb}", "unit_points": unit_points}
    row = {**base, "a": sa, "b": sb, "n_a": xa.size, "n_b": xb.size,
           "mean_a": xa.mean(), "mean_b": xb.mean(), "sd_a": xa.std(ddof=1),
           "sd_b": xb.std(ddof=1), "diff": md["diff"], "diff_low": md["low"],
           "diff_high": md["high"], "boot_low": blo, "boot_high": bhi, "hedges_g": g,
           "prob_b_better": p, "prob_low": plo, "prob_high": phi, "aso_ratio": eps,
           "aso_epsilon": eps_min, "crossing_budget": cross[0], "crossing_low": cross[1],
           "crossing_high": cross[2], "crossing_budget_noreplace": nrep}
    rev = {**base, "a": sb, "b": sa, "n_a": xb.size, "n_b": xa.size,
           "mean_a": xb.mean(), "mean_b": xa.mean(), "sd_a": xb.std(ddof=1),
           "sd_b": xa.std(ddof=1), "diff": -md["diff"], "diff_low": -md["high"],
           "diff_high": -md["low"], "boot_low": -bhi, "boot_high": -blo, "hedges_g": -g,
           "prob_b_better": 1 - p, "prob_low": 1 - phi, "prob_high": 1 - plo,
           "aso_ratio": eps_r, "aso_epsilon": eps_min_r, "crossing_budget": cross_r[0],
           "crossing_low": cross_r[1], "crossing_high": cross_r[2],
           "crossing_budget_noreplace": nrep_r}
    return [row, rev]


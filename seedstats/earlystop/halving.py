"""Successive halving and Hyperband over the logged curves, beyond the paper's one-rung rule.

Dodge et al. (2020), Section 5, stop trials once (one *rung*). Successive halving (Jamieson &
Talwalkar 2016) stops them in several rungs: start ``t`` trials; at rung ``r`` (after ``k_r``
evaluations) keep the ``n_r`` best of those still running; train the survivors of the last rung
to the end. Hyperband (Li et al. 2018) runs several such brackets with different aggressiveness
and keeps the best result. Everything here reads the same ``(n_trials, K)`` curves, draws trials
like :mod:`seedstats.earlystop.sampling`, breaks ties like :mod:`seedstats.earlystop.exact` and
charges the same budget as :mod:`seedstats.earlystop.grid`:

    cost = (t * phi(k_1) + sum_r n_r * (phi(k_{r+1}) - phi(k_r))) full runs,  k_{R+1} = K,

with ``phi(k) = k / K`` (``accounting="paper"``) or the real fraction of optimizer steps
(``"steps"``; ``phi(K) = 1``). The result of one simulated experiment is the best score seen
anywhere: the best, over every trial, of its scores up to where it was stopped (with
``statistic="best"`` and one rung this is exactly the paper's rule, which the tests check
against the exact estimator).

``statistic`` is what trials are ranked by at a rung: ``"best"`` (best score so far, the paper)
or ``"current"`` (the score at the rung's evaluation).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from seedstats.earlystop import cache as _cache
from seedstats.earlystop.curves import as_curves
from seedstats.earlystop.exact import TIES, rank_order
from seedstats.earlystop.montecarlo import resolve_seed
from seedstats.earlystop.sampling import SAMPLINGS, draw_trials, max_trials, scheme, seed_grid

__all__ = ["STATISTICS", "successive_halving", "hyperband", "halving_search",
           "halving_schedule", "HALVING_COLUMNS"]

#: Rank statistics at a rung.
STATISTICS = ("best", "current")

#: Columns of the candidate table of :func:`halving_search`.
HALVING_COLUMNS = ("task", "budget", "eta", "min_k", "t", "rungs", "keep", "cost", "expected",
                   "se", "rank")

_CHUNK = 8192


def _stream(seed, sampling, t, salt):
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(0x5A, SAMPLINGS.index(sampling), int(t),
                                                         int(salt)))
    return np.random.Generator(np.random.PCG64(ss))


def _phi(cs, accounting):
    K = cs.n_points
    if accounting == "paper":
        return np.arange(1, K + 1) / K
    if accounting == "steps":
        phi = cs.step_fractions().copy()
        phi[-1] = 1.0
        return phi
    raise ValueError(f"accounting: expected 'paper' or 'steps', got {accounting!r}")


def _check_schedule(t, rungs, keep, K):
    rungs = [int(r) for r in rungs]
    keep = [int(n) for n in keep]
    if len(rungs) != len(keep) or not rungs:
        raise ValueError(f"rungs, keep: expected two lists of the same non-zero length, got "
                         f"{len(rungs)} rungs and {len(keep)} keep counts")
    if rungs[0] < 1 or rungs[-1] >= K or any(b <= a for a, b in zip(rungs, rungs[1:])):
        raise ValueError(f"rungs: expected increasing evaluation counts in 1..{K - 1}, got "
                         f"{rungs}")
    prev = t
    for n in keep:
        if n < 0 or n > prev:
            raise ValueError(f"keep: expected non-increasing counts with {t} >= keep >= 0, got "
                             f"{keep}")
        prev = n
    return rungs, keep


def _cost(t, rungs, keep, phi):
    """Full runs spent by one bracket."""
    K = len(phi)
    marks = list(rungs) + [K]
    c = t * phi[marks[0] - 1]
    for n, a, b in zip(keep, marks[:-1], marks[1:]):
        c += n * (phi[b - 1] - phi[a - 1])
    return float(c)


class _Ranks:
    """What every bracket over the same curves reuses: final scores, best-so-far scores and,
    per rung, the ranking (computed once, not once per bracket)."""

    def __init__(self, cs, statistic, ties):
        v = cs.values
        self.F = v.max(axis=1)
        self.P = np.maximum.accumulate(v, axis=1)
        self._v, self._statistic, self._ties, self._at = v, statistic, ties, {}

    def at(self, k):
        """``(position, order)`` at rung ``k``: each trial's place in the ranking (0 = best)
        and the trials in ranking order (its inverse)."""
        if k not in self._at:
            stat = self.P[:, k - 1] if self._statistic == "best" else self._v[:, k - 1]
            order = rank_order(stat, self.F, self._ties)
            position = np.empty(len(order), dtype=np.int64)
            position[order] = np.arange(len(order))
            self._at[k] = position, order
        return self._at[k]


def _bracket_samples(cs, ranks, t, rungs, keep, samples, rng, sampling, grid):
    """Per-sample best score seen by one successive-halving bracket, shape (samples,)."""
    F, P = ranks.F, ranks.P
    at = [ranks.at(k) for k in rungs]
    out = np.empty(samples)
    for a in range(0, samples, _CHUNK):
        b = min(samples, a + _CHUNK)
        cur = draw_trials(rng, cs, t, b - a, sampling, grid)
        best = np.full(b - a, -np.inf)
        for k, n, (position, order) in zip(rungs, keep, at):
            np.maximum(best, P[cur, k - 1].max(axis=1), out=best)
            if n == 0:
                cur = None
                break
            if n < cur.shape[1]:
                # the n best of each sample: the n smallest ranking positions, mapped back to
                # trials (a trial drawn twice is kept as often as it ranks among them)
                cur = order[np.partition(position[cur], n - 1, axis=1)[:, :n]]
        if cur is not None:
            np.maximum(best, F[cur].max(axis=1), out=best)
        out[a:b] = best
    return out


def _validate(cs, statistic, samples, sampling, ties):
    if statistic not in STATISTICS:
        raise ValueError(f"statistic: expected one of {', '.join(STATISTICS)}, got "
                         f"{statistic!r}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling: expected one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if ties not in TIES or ties == "random":
        raise ValueError(f"ties: successive halving breaks ties by one of "
                         f"{', '.join(t for t in TIES if t != 'random')}, got {ties!r}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise TypeError(f"samples: expected an int, got {type(samples).__name__}")
    if samples < 2:
        raise ValueError(f"samples: expected at least 2, got {samples}")
    grid = seed_grid(cs) if sampling in ("distinct_seeds", "fixed_wi", "fixed_do") else None
    return grid


def successive_halving(curves, t: int, rungs, keep, *, statistic: str = "best",
                       samples: int = 10_000, rng=0, replace: bool = True, pool: str = "trials",
                       ties: str = "index", accounting: str = "paper", salt: int = 0) -> dict:
    """Expected best score of one successive-halving bracket, by Monte Carlo.

    Parameters
    ----------
    curves : CurveSet or array-like, shape (N, K)
    t : int
        Trials started.
    rungs : sequence of int
        Evaluation counts ``k_1 < k_2 < ... < K`` at which trials are stopped.
    keep : sequence of int
        Trials kept running after each rung (non-increasing, ``0`` allowed: stop all).
        ``rungs=[k], keep=[p]`` is the paper's assignment ``(t, p, k)``.
    statistic : {"best", "current"}
        Rank by best score so far (the paper) or by the score at the rung.
    samples : int
    rng : int or numpy.random.Generator
    replace, pool
        How the trials are drawn: see :func:`seedstats.earlystop.sampling.scheme`.
    ties : {"index", "optimistic", "pessimistic"}
    accounting : {"paper", "steps"}
    salt : int
        Selects an independent stream for the same ``(seed, t)`` (used by :func:`hyperband`).

    Returns
    -------
    dict
        ``expected`` (mean best score), ``se`` (its standard error), ``cost`` (full runs),
        ``t``, ``rungs``, ``keep``.

    Examples
    --------
    >>> r = successive_halving([[0.2, 0.9], [0.6, 0.6]], 2, [1], [1], samples=20000, rng=0)
    >>> r["cost"], bool(abs(r["expected"] - 0.675) < 4 * r["se"])
    (1.5, True)
    """
    sampling = scheme(replace, pool)
    cs = as_curves(curves)
    grid = _validate(cs, statistic, samples, sampling, ties)
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
        raise ValueError(f"t: expected an int >= 1, got {t!r}")
    limit = max_trials(cs, sampling)
    if limit is not None and t > limit:
        raise ValueError(f"t: {sampling.replace('_', ' ')} draws at most {limit} trials, got {t}")
    rungs, keep = _check_schedule(int(t), rungs, keep, cs.n_points)
    phi = _phi(cs, accounting)
    gen = _stream(resolve_seed(rng), sampling, t, salt)
    r = _bracket_samples(cs, _Ranks(cs, statistic, ties), int(t), rungs, keep, int(samples), gen,
                         sampling, grid)
    return {"expected": float(r.mean()), "se": float(r.std(ddof=1) / np.sqrt(len(r))),
            "cost": _cost(int(t), rungs, keep, phi), "t": int(t), "rungs": rungs, "keep": keep}


def halving_schedule(t: int, eta: float, min_k: int, K: int = 30):
    """Rungs and keep counts of geometric successive halving.

    Rungs at ``min_k * eta**i`` evaluations (rounded, below ``K``); after rung ``i`` the best
    ``floor(t / eta**(i+1))`` trials keep running.

    Returns
    -------
    rungs, keep : list of int

    Examples
    --------
    >>> halving_schedule(27, 3, 1, 30)
    ([1, 3, 9, 27], [9, 3, 1, 0])
    """
    if eta <= 1:
        raise ValueError(f"eta: expected a number > 1, got {eta}")
    if min_k < 1 or min_k >= K:
        raise ValueError(f"min_k: expected 1 <= min_k < {K}, got {min_k}")
    rungs, keep = [], []
    i = 0
    while True:
        k = int(round(min_k * eta ** i))
        if k >= K:
            break
        if not rungs or k > rungs[-1]:
            rungs.append(k)
            keep.append(int(math.floor(t / eta ** (i + 1) + 1e-9)))
        i += 1
    return rungs, keep


def hyperband(curves, *, eta: int = 3, min_k: int = 1, statistic: str = "best",
              samples: int = 10_000, rng=0, replace: bool = True, pool: str = "trials",
              ties: str = "index", accounting: str = "paper", scale: float = 1.0) -> dict:
    """Expected best score of one Hyperband run over the logged curves, by Monte Carlo.

    Brackets ``s = s_max .. 0`` with ``s_max = floor(log_eta(K / min_k))``: bracket ``s`` starts
    ``n_s = ceil(scale * (s_max + 1) / (s + 1) * eta**s)`` trials, its first rung at
    ``K / eta**s`` evaluations, and halves geometrically (:func:`halving_schedule`); bracket 0
    fully trains ``n_0`` trials. Each bracket draws its own trials; the run's result is the best
    over brackets and its cost the sum of their costs.

    Parameters
    ----------
    curves : CurveSet or array-like, shape (N, K)
    eta : int
        Halving rate (3 in the Hyperband paper).
    min_k : int
        Fewest evaluations a trial gets.
    scale : float
        Multiplies every bracket's ``n_s`` (spend more or less).
    statistic, samples, rng, replace, pool, ties, accounting
        As in :func:`successive_halving`.

    Returns
    -------
    dict
        ``expected``, ``se``, ``cost`` (full runs), ``brackets`` (list of ``(t, rungs, keep)``).

    Examples
    --------
    >>> import numpy as np
    >>> curves = np.maximum.accumulate(np.random.default_rng(0).random((50, 30)), axis=1)
    >>> r = hyperband(curves, eta=3, min_k=3, samples=2000, rng=0)
    >>> [b[0] for b in r["brackets"]], round(r["cost"], 2)
    ([(9, [3, 10], [3, 1]), (5, [10], [1]), (3, [], [])], 7.6)
    """
    sampling = scheme(replace, pool)
    cs = as_curves(curves)
    grid = _validate(cs, statistic, samples, sampling, ties)
    ranks = _Ranks(cs, statistic, ties)
    K = cs.n_points
    if min_k < 1 or min_k >= K:
        raise ValueError(f"min_k: expected 1 <= min_k < {K}, got {min_k}")
    if eta < 2:
        raise ValueError(f"eta: expected an int >= 2, got {eta}")
    s_max = int(math.floor(math.log(K / min_k) / math.log(eta) + 1e-9))
    phi = _phi(cs, accounting)
    seed = resolve_seed(rng)
    best = np.full(int(samples), -np.inf)
    cost = 0.0
    brackets = []
    limit = max_trials(cs, sampling)
    for s in range(s_max, -1, -1):
        n = int(math.ceil(scale * (s_max + 1) / (s + 1) * eta ** s - 1e-9))
        if limit is not None:
            n = min(n, limit)
        first = K / eta ** s
        rungs, keep = [], []
        for i in range(s):
            k = int(round(first * eta ** i))
            if 1 <= k < K and (not rungs or k > rungs[-1]):
                rungs.append(k)
                keep.append(int(math.floor(n / eta ** (i + 1) + 1e-9)))
        gen = _stream(seed, sampling, n, 1000 + s)
        if rungs:
            r = _bracket_samples(cs, ranks, n, rungs, keep, int(samples), gen, sampling, grid)
            cost += _cost(n, rungs, keep, phi)
        else:
            # no stopping: the best final score of n fully trained trials
            r = np.empty(int(samples))
            F = cs.values.max(axis=1)
            for a in range(0, int(samples), _CHUNK):
                b = min(int(samples), a + _CHUNK)
                r[a:b] = F[draw_trials(gen, cs, n, b - a, sampling, grid)].max(axis=1)
            cost += float(n)
        np.maximum(best, r, out=best)
        brackets.append(((n, rungs, keep), _cost(n, rungs, keep, phi) if rungs else float(n)))
    return {"expected": float(best.mean()), "se": float(best.std(ddof=1) / np.sqrt(len(best))),
            "cost": float(cost), "brackets": brackets}


def halving_search(curves, max_budget: int = 30, *, etas=(2, 3, 4), min_ks=None,
                   statistic: str = "best", samples: int = 5_000, rng=0, t_max: int = 200,
                   replace: bool = True, pool: str = "trials", ties: str = "index",
                   accounting: str = "paper", cache=False):
    """Best geometric successive-halving bracket per budget (compare with Figure 6's rule).

    For every budget ``x``, every ``eta`` in ``etas`` and every first rung ``min_k`` in
    ``min_ks`` (default: ``1 .. K-1``), the bracket of :func:`halving_schedule` with the largest
    ``t <= t_max`` whose cost is at most ``x`` is simulated; brackets that stop nothing are
    skipped (the baseline of fully training ``x`` trials is the ``p = t`` case of
    :func:`~seedstats.earlystop.search.budget_search`).

    ``statistic``, ``samples``, ``rng``, ``sampling``, ``ties`` and ``accounting`` are as in
    :func:`successive_halving`; ``cache`` as in :func:`~seedstats.earlystop.search.budget_search`
    (off by default here).

    Returns
    -------
    candidates : DataFrame
        Columns :data:`HALVING_COLUMNS`: ``task``, ``budget``, ``eta``, ``min_k``, ``t``
        (trials started), ``rungs`` and ``keep`` (comma-separated evaluation counts and
        survivors), ``cost`` (full runs spent, at most ``budget``), ``expected``, ``se``,
        ``rank`` (1 = best of its budget).
    best : DataFrame
        The rank-1 row of each budget (same columns).

    Examples
    --------
    >>> import numpy as np
    >>> curves = np.maximum.accumulate(np.random.default_rng(0).random((40, 30)), axis=1)
    >>> c, b = halving_search(curves, 2, etas=(3,), min_ks=(3, 10), samples=500, t_max=20)
    >>> b[["budget", "eta", "min_k", "t", "rungs", "keep"]].to_dict("records")[0]["rungs"]
    '3,9,27'
    """
    sampling = scheme(replace, pool)
    cs = as_curves(curves)
    grid = _validate(cs, statistic, samples, sampling, ties)
    ranks = _Ranks(cs, statistic, ties)
    K = cs.n_points
    phi = _phi(cs, accounting)
    seed = resolve_seed(rng)
    limit = max_trials(cs, sampling)
    t_top = int(t_max) if limit is None else min(int(t_max), limit)
    # first rungs a sweep of K points can hold (a short sweep has fewer than the grid's)
    min_ks = tuple(range(1, K)) if min_ks is None else tuple(int(m) for m in min_ks if m < K)
    if not min_ks:
        raise ValueError(f"min_ks: none is below the {K} evaluation points of the curves")
    params = {"kind": "halving_search", "max_budget": int(max_budget),
              "etas": [float(e) for e in etas], "min_ks": list(min_ks), "statistic": statistic,
              "samples": int(samples), "seed": seed, "t_max": t_top, "sampling": sampling,
              "ties": ties, "accounting": accounting, "task": cs.task, "metric": cs.metric}
    key = _cache.cache_key(cs, params) if cache is not False and cache is not None else None
    if key is not None:
        hit = _cache.load_entry(cache, key)
        if hit is not None:
            return hit[0], hit[1]
    rows = []
    for x in range(1, int(max_budget) + 1):
        for eta in etas:
            for mk in min_ks:
                # the cost grows with t: the largest affordable t by bisection
                lo, hi = 0, t_top
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    rg, kp = halving_schedule(mid, eta, mk, K)
                    if _cost(mid, rg, kp, phi) <= x + 1e-9:
                        lo = mid
                    else:
                        hi = mid - 1
                if lo < 1:
                    continue
                t = lo
                rungs, keep = halving_schedule(t, eta, mk, K)
                c = _cost(t, rungs, keep, phi)
                gen = _stream(seed, sampling, t, 100 * int(eta) + mk)
                r = _bracket_samples(cs, ranks, t, rungs, keep, int(samples), gen, sampling,
                                     grid)
                rows.append((cs.task, x, eta, mk, t, ",".join(map(str, rungs)),
                             ",".join(map(str, keep)), c, float(r.mean()),
                             float(r.std(ddof=1) / np.sqrt(len(r)))))
    cand = pd.DataFrame(rows, columns=list(HALVING_COLUMNS[:-1]))
    cand = cand.sort_values(["budget", "expected", "t"], ascending=[True, False, True],
                            kind="stable").reset_index(drop=True)
    cand["rank"] = cand.groupby("budget").cumcount() + 1
    best = cand[cand["rank"] == 1].reset_index(drop=True)
    if key is not None:
        _cache.store_entry(cache, key, cand, best, dict(params, cache_key=key))
    return cand, best

"""Monte Carlo estimate of the early-stopping rule, as the paper does it (Section 5, Figure 6).

The paper estimates the expected best score of every assignment ``(t, p, k)`` by simulating the
rule 50,000 times (draw ``t`` trials with replacement, rank by the best of the first ``k``
evaluations, continue the top ``p``; the rule and its tie-break are stated in
:mod:`seedstats.earlystop.exact`). This module does the same, vectorized, with the standard error
of every estimate.

How the draws are made (with replacement, the fast path)
    Only the *ranks* of the draws matter: rank the pool once per ``k`` (best first, deterministic
    tie-break); a uniform draw from the pool is a uniform rank, and the continued set is the ``p``
    smallest ranks drawn. So instead of drawing ``t`` trials and sorting them, the ``p`` smallest
    of ``t`` uniform ranks are drawn directly, in increasing order, by the Renyi representation
    of exponential order statistics: ``X_(m) = sum_{i<=m} E_i / (t - i + 1)`` with ``E_i`` i.i.d.
    standard exponential (``-log(1 - V)``, ``V`` uniform), ``U_(m) = 1 - exp(-X_(m))`` (the
    ``m``-th smallest of ``t`` uniforms), rank ``floor(N * U_(m))``. That costs ``O(p)`` per
    sample instead of ``O(t log t)``, and the same rank draws serve every ``k`` at that ``t``
    (common random numbers); for each ``(t, k)`` every ``p`` is one running maximum over the
    first ``p`` ranks. The draws depend on ``(seed, t)`` only, not on the pool, so several tasks
    can share them (:func:`expected_best_mc_tasks`).

Seeding
    The draws for ``t`` come from their own stream, ``SeedSequence(seed, spawn_key=(tag, t))``,
    and are generated row by row (the ``m``-th smallest rank from the ``m``-th block of the
    stream). So an estimate depends only on ``(seed, t, k, p, samples)`` and the curves, not on
    which other assignments are simulated, the order they are computed in, or ``n_jobs``; the
    global NumPy random state is never used.

Random ties (the default)
    Trials with equal partial scores are ordered at random, as the authors' rule. On the fast
    path the samples are split into :data:`TIE_BLOCKS` consecutive blocks and each block gets its
    own uniformly random order within every group of equal partial scores (its own stream,
    ``spawn_key=(tag, t, 1)``); a sample then looks its drawn ranks up in its block's order, at
    the cost of the fixed-order rule. Each sample's tie order is uniformly random and
    independent of its draws, so the estimate is unbiased for the random-tie rule; samples of a
    block share their order, so the standard error is the batch-means one (the SD of the block
    means over the square root of the number of blocks), not ``sd / sqrt(samples)``. With
    explicit draws (the other schemes) every drawn trial gets its own uniform key instead, which
    orders it within its group (the per-sample rule; the plain standard error).

Standard errors
    ``se = sd(results) / sqrt(samples)`` per assignment. Estimates that share ``t`` share their
    draws (positively correlated); estimates with different ``t`` are independent.
    :func:`paired_difference` gives the standard error of a difference either way.

Other sampling schemes (:mod:`seedstats.earlystop.sampling`) draw trial indices explicitly
(``O(t log t)`` per sample, one sort per ``(t, k)``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from seedstats.earlystop.curves import as_curves
from seedstats.earlystop.exact import TIES, assignment_arrays, rank_order
from seedstats.earlystop.sampling import SAMPLINGS, draw_trials, max_trials, scheme, seed_grid

__all__ = ["expected_best_mc", "expected_best_mc_tasks", "simulate", "paired_difference",
           "stream", "resolve_seed"]

_TAG = {name: i + 1 for i, name in enumerate(SAMPLINGS)}


def resolve_seed(rng) -> int:
    """An ``int`` seed as given, or 128 bits drawn once from a :class:`numpy.random.Generator`."""
    if isinstance(rng, np.random.Generator):
        return int.from_bytes(rng.bytes(16), "little")
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng: expected a seed (an int >= 0) or a numpy.random.Generator, "
                        f"got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"rng: expected a seed (an int >= 0), got {rng}")
    return int(rng)


def stream(seed: int, sampling: str, t: int) -> np.random.Generator:
    """The generator of the draws for ``t`` trials (see *Seeding* in the module docstring)."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(_TAG[sampling], int(t)))
    return np.random.Generator(np.random.PCG64(ss))


class _Ctx:
    """Per-curves precomputation shared by all ``t``: orders and level tables per ``k``."""
    def __init__(self, values, ties):
        v = np.asarray(values, dtype=np.float64)
        self.N, self.K = v.shape
        self.F = v.max(axis=1)
        self.P = np.maximum.accumulate(v, axis=1)
        self.uF, flev = np.unique(self.F, return_inverse=True)
        ldt = np.int16 if len(self.uF) < 2 ** 15 else np.int32
        self.order = {}
        self.G = {}      # level of the final score at each rank (int), per k
        self.S = {}      # partial score at each rank (float, decreasing), per k
        self.rankpos = {}
        self.ties = ties
        self._flev = flev.astype(ldt)


    def for_k(self, k):
        if k not in self.order:
            s = self.P[:, k - 1]
            o = rank_order(s, self.F, self.ties)
            self.order[k] = o
            self.G[k] = self._flev[o]
            self.S[k] = s[o]
            rp = np.empty(self.N, dtype=np.int64)
            rp[o] = np.arange(self.N)
            self.rankpos[k] = rp
        return self.G[k], self.S[k]


#: Blocks of samples that share one random tie order on the fast path (module docstring).
TIE_BLOCKS = 128


def _tie_stream(seed, sampling, t):
    """The uniforms of the random tie-break for ``t`` (independent of the rank draws)."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(_TAG[sampling], int(t), 1))
    return np.random.Generator(np.random.PCG64(ss))


def _n_blocks(S):
    return min(int(S), TIE_BLOCKS)


def _block_ids(S):
    """The block of each sample: ``TIE_BLOCKS`` consecutive, near-equal ranges."""
    return np.arange(S) * _n_blocks(S) // S


def _tie_orders(G, Sk, keys):
    """Levels at each rank under each block's random order within equal partial scores:
    (blocks, N), flattened."""
    gid = np.cumsum(np.r_[False, Sk[1:] != Sk[:-1]])        # group of each rank, increasing
    order = np.argsort(gid[None, :] + keys, axis=1)          # by group, then at random
    return G[order].ravel()


def _moments_blocks(vals, blocks, nb):
    """Mean, and the SD that gives the batch-means standard error as ``sd / sqrt(samples)``."""
    S = len(vals)
    means = np.bincount(blocks, weights=vals, minlength=nb) / np.bincount(blocks, minlength=nb)
    return float(vals.mean()), float(means.std(ddof=1) * np.sqrt(S / nb)) if nb > 1 else np.nan


def _renyi_survival(rng, t, rows, S):
    """``1 - U_(m)`` for the ``rows`` smallest of ``t`` i.i.d. uniforms, per sample: (rows, S).

    Row ``m`` uses the ``m``-th block of ``S`` uniforms of the stream, so the first rows do not
    depend on how many rows are drawn. ``-log(1 - V)`` with ``V`` uniform on ``[0, 1)`` is the
    standard exponential ``E_m`` (never ``log 0``).
    """
    W = np.empty((rows, S))
    x = np.zeros(S)
    e = np.empty(S)
    for m in range(rows):
        rng.random(out=e)
        np.subtract(1.0, e, out=e)   # 1 - V in (0, 1]
        np.log(e, out=e)             # -E_m
        e *= 1.0 / (t - m)
        x += e                       # -X_(m+1), the Renyi representation
        np.exp(x, out=W[m])          # 1 - U_(m+1)
    return W


def _ranks(W, N):
    """Ranks ``floor(N * U)`` in ``0..N-1`` from ``W = 1 - U``."""
    e = W * -N
    e += N                           # N * U >= 0
    pos = e.astype(np.intp)          # truncation = floor
    np.minimum(pos, N - 1, out=pos)  # guards the rounding of N * (1 - tiny) up to N
    return pos


def _renyi_ranks(rng, t, rows, N, S):
    """The ``rows`` smallest of ``t`` i.i.d. uniform ranks in ``0..N-1``, per sample: (rows, S)."""
    return _ranks(_renyi_survival(rng, t, rows, S), N)


def _moments_levels(lv, u):
    """Mean and SD of ``u[lv]`` from the level counts (one pass over the samples)."""
    c = np.bincount(lv, minlength=len(u)).astype(np.float64)
    n = c.sum()
    m = float(c @ u / n)
    sd = float(np.sqrt(c @ (u - m) ** 2 / (n - 1))) if n > 1 else float("nan")
    return m, sd


def _moments(vals):
    m = float(vals.mean())
    sd = float(vals.std(ddof=1)) if len(vals) > 1 else float("nan")
    return m, sd


def _rows_needed(reqs):
    return max(max(p, 1) for _, _, p in reqs)


def _simulate_t(ctx, t, reqs, S, seed, sampling, grid, keep, W=None):
    """Results of the requests ``[(row, k, p), ...]`` at one ``t``.

    ``W`` (with replacement only): the survival rows of this ``t``'s stream when already drawn
    (shared by several curve sets). Returns ``{row: (mean, sd)}`` and, with ``keep``,
    ``{row: per-sample values}``.
    """
    K = ctx.K
    by_k = {}
    for row, k, p in reqs:
        by_k.setdefault(k, []).append((row, p))
    out, kept = {}, {}
    if sampling == "with_replacement":
        rows = _rows_needed(reqs)
        if W is None:
            W = _renyi_survival(stream(seed, sampling, t), t, rows, S)
        pos = _ranks(W[:rows], ctx.N)
        per_k = None
    else:
        idx = draw_trials(stream(seed, sampling, t), _CsView(ctx), t, S, sampling, grid)
        per_k = idx
    blocks = None
    if ctx.ties == "random":
        gen = _tie_stream(seed, sampling, t)
        if per_k is None:  # one random order per block of samples (module docstring)
            nb = _n_blocks(S)
            keys = gen.random((nb, ctx.N))
            blocks = _block_ids(S)
            offset = blocks * ctx.N
        else:              # one key per drawn trial
            keys = gen.random(per_k.shape)
    for k in sorted(by_k):
        G, Sk = ctx.for_k(k)
        items = sorted(by_k[k], key=lambda r: r[1])
        pmax = max(max(p, 1) for _, p in items)
        runmax = None
        if per_k is not None and ctx.ties == "random":
            rp = ctx.rankpos[k][per_k]
            gs = np.cumsum(np.r_[False, Sk[1:] != Sk[:-1]])[rp]  # group of each draw
            o = np.argsort(gs + keys, axis=1)[:, :pmax]        # by group, then at random
            pos_k = np.ascontiguousarray(np.take_along_axis(rp, o, axis=1).T)
            lev = ctx._flev[np.take_along_axis(per_k, o, axis=1)].T.astype(np.int64)
            runmax = np.maximum.accumulate(lev, axis=0)
        elif per_k is not None:
            rp = np.sort(ctx.rankpos[k][per_k], axis=1)
            pos_k = np.ascontiguousarray(rp[:, :pmax].T)
        else:
            pos_k = pos
        first, Gp = pos_k[0], G             # the best-ranked draw: its group decides p = 0
        if blocks is not None and k < K:
            Gp = _tie_orders(G, Sk, keys)   # the levels of each block's order, flattened
            pos_k = pos[:pmax] + offset[None, :]
        lv = None
        buf = None
        done = 0
        for row, p in items:
            if k == K or p == 0:
                # baseline (rank by final score) and p = 0: the best-ranked draw decides
                if k < K:
                    vals = Sk[first]
                    out[row] = _moments(vals)
                else:
                    lv0 = np.take(G, first)
                    out[row] = _moments_levels(lv0, ctx.uF)
                    vals = ctx.uF[lv0] if keep else None
            elif runmax is not None:
                lv = runmax[p - 1]
                out[row] = _moments_levels(lv, ctx.uF)
                vals = ctx.uF[lv] if keep else None
            else:
                if lv is None:
                    lv = np.take(Gp, pos_k[0])
                    buf = np.empty_like(lv)
                    done = 1
                while done < p:
                    np.take(Gp, pos_k[done], out=buf)
                    np.maximum(lv, buf, out=lv)
                    done += 1
                if blocks is not None:
                    vals = ctx.uF[lv]
                    out[row] = _moments_blocks(vals, blocks, nb)
                else:
                    out[row] = _moments_levels(lv, ctx.uF)
                    vals = ctx.uF[lv] if keep else None
            if keep:
                kept[row] = vals.copy()
    return out, kept


class _CsView:
    """The bits of a CurveSet that the samplers read (n_trials, seeds)."""
    def __init__(self, ctx):
        self.n_trials = ctx.N
        self.wi_seed = getattr(ctx, "wi_seed", None)
        self.do_seed = getattr(ctx, "do_seed", None)


def _check_common(cs, samples, sampling, ties, n_jobs):
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise TypeError(f"samples: expected an int, got {type(samples).__name__}")
    if samples < 2:
        raise ValueError(f"samples: expected at least 2 (for a standard error), got {samples}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling: expected one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if ties not in TIES:
        raise ValueError(f"ties: expected one of {', '.join(TIES)}, got {ties!r}")
    if n_jobs is None:
        n_jobs = 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs: expected an int >= 1 or None, got {n_jobs!r}")
    return int(n_jobs)


def _prepare(curves, assignments, samples, sampling, ties, n_jobs):
    cs = as_curves(curves)
    n_jobs = _check_common(cs, samples, sampling, ties, n_jobs)
    tt, pp, kk = assignment_arrays(assignments)
    K = cs.n_points
    if len(tt) and (tt.min() < 1 or np.any(pp < 0) or np.any(pp > tt) or kk.min() < 1
                    or kk.max() > K):
        raise ValueError(f"assignments: expected t >= 1, 0 <= p <= t and 1 <= k <= K = {K}")
    limit = max_trials(cs, sampling)
    if limit is not None and len(tt) and tt.max() > limit:
        raise ValueError(f"assignments: {sampling.replace('_', ' ')} draws at most {limit} "
                         f"trials from these curves, got t up to {tt.max()}")
    ctx = _Ctx(cs.values, ties)
    ctx.wi_seed, ctx.do_seed = cs.wi_seed, cs.do_seed
    grid = seed_grid(cs) if sampling in ("distinct_seeds", "fixed_wi", "fixed_do") else None
    groups = {}
    for row, (t, p, k) in enumerate(zip(tt.tolist(), pp.tolist(), kk.tolist())):
        if k == K or p == t:
            k, p = K, t  # no early stopping: rank by the final score, keep the best draw
        groups.setdefault(t, []).append((row, k, p))
    return cs, ctx, grid, groups, n_jobs


def expected_best_mc(curves, assignments, *, samples: int = 50_000, rng=0,
                     replace: bool = True, pool: str = "trials", ties: str = "random",
                     n_jobs: int | None = None, progress=None):
    """Monte Carlo estimate of the expected best score of many assignments (Section 5).

    Parameters
    ----------
    curves : CurveSet or array-like, shape (N, K)
    assignments : DataFrame with integer columns ``t``, ``p``, ``k``
        ``k = K`` (or ``p = t``) is the no-early-stopping baseline.
    samples : int
        Simulated experiments per assignment (50,000 in the paper).
    rng : int or numpy.random.Generator
        Same seed, same numbers (see *Seeding* in the module docstring).
    replace : bool, default True
        Draw the ``t`` trials with replacement (the paper) or without.
    pool : {"trials", "distinct_seeds", "fixed_wi", "fixed_do"}
        What they are drawn from (:mod:`seedstats.earlystop.sampling`); the seed-aware pools
        need ``replace=False``.
    ties : {"random", "index", "optimistic", "pessimistic"}
        Tie-break among equal partial scores (:mod:`seedstats.earlystop.exact`); ``"random"``
        (afresh in every sample, the authors' rule) by default.
    n_jobs : int, optional
        Threads (default 1: on the shared 2-core machine a second thread measured no faster;
        it may help on an idle one). Results do not depend on it.
    progress : callable, optional
        Called as ``progress(done, total)`` in units of assignments.

    Returns
    -------
    mean, se : ndarray of float, shape (len(assignments),)
        The estimate and its Monte Carlo standard error.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"t": [2], "p": [1], "k": [1]})
    >>> m, se = expected_best_mc([[0.2, 0.9], [0.6, 0.6]], a, samples=20000, rng=1)
    >>> bool(abs(m[0] - 0.675) < 4 * se[0])
    True
    """
    sampling = scheme(replace, pool)
    seed = resolve_seed(rng)
    cs, ctx, grid, groups, n_jobs = _prepare(curves, assignments, samples, sampling, ties, n_jobs)
    n = len(np.asarray(assignments["t"]))
    mean = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    # orders per k are filled lazily; fill them up front so threads only read
    for reqs in groups.values():
        for _, k, _ in reqs:
            ctx.for_k(k)
    total, done = n, 0

    def work(t):
        return _simulate_t(ctx, t, groups[t], int(samples), seed, sampling, grid, False)[0]

    ts = sorted(groups, reverse=True)  # big t first balances the threads
    if n_jobs == 1:
        results = map(work, ts)
        pool = None
    else:
        pool = ThreadPoolExecutor(max_workers=n_jobs)
        results = pool.map(work, ts)
    try:
        for t, res in zip(ts, results):
            for row, (m, s) in res.items():
                mean[row], sd[row] = m, s
            done += len(res)
            if progress is not None:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown()
    return mean, sd / np.sqrt(samples)


def expected_best_mc_tasks(curves_list, assignments_list, *, samples: int = 50_000, rng=0,
                           ties: str = "random", n_jobs: int | None = None, progress=None):
    """:func:`expected_best_mc` for several curve sets (tasks) at once, sharing the draws.

    With replacement the rank draws of ``t`` trials depend only on ``(seed, t)``, not on the
    pool (see the module docstring), so they are made once per ``t`` and used by every task.
    The numbers are identical to separate :func:`expected_best_mc` calls with the same seed.

    Parameters
    ----------
    curves_list : list of CurveSet or array-like
    assignments_list : list of DataFrame
        One per curve set (columns ``t``, ``p``, ``k``).
    samples, rng, ties, n_jobs, progress
        As in :func:`expected_best_mc` (``progress`` counts assignments over all tasks).

    Returns
    -------
    list of (mean, se)
        One pair of arrays per curve set.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"t": [3, 2], "p": [1, 0], "k": [1, 1]})
    >>> c1, c2 = [[0.2, 0.9], [0.6, 0.6]], [[0.1, 0.3], [0.2, 0.2], [0.4, 0.5]]
    >>> (m1, _), (m2, _) = expected_best_mc_tasks([c1, c2], [a, a], samples=500, rng=2)
    >>> bool((m2 == expected_best_mc(c2, a, samples=500, rng=2)[0]).all())
    True
    """
    if len(curves_list) != len(assignments_list):
        raise ValueError(f"assignments_list: expected one table per curve set "
                         f"({len(curves_list)}), got {len(assignments_list)}")
    seed = resolve_seed(rng)
    preps = [_prepare(c, a, samples, "with_replacement", ties, n_jobs)
             for c, a in zip(curves_list, assignments_list)]
    n_jobs = preps[0][4] if preps else 1
    results = []
    for _, ctx, _, groups, _ in preps:
        for reqs in groups.values():
            for _, k, _ in reqs:
                ctx.for_k(k)
        n = sum(len(r) for r in groups.values())
        results.append((np.full(n, np.nan), np.full(n, np.nan)))
    all_t = sorted({t for _, _, _, groups, _ in preps for t in groups}, reverse=True)
    total = sum(len(r[0]) for r in results)
    done = 0

    def work(t):
        rows = max(_rows_needed(g[t]) for _, _, _, g, _ in preps if t in g)
        W = _renyi_survival(stream(seed, "with_replacement", t), t, rows, int(samples))
        out = []
        for i, (_, ctx, _, groups, _) in enumerate(preps):
            if t in groups:
                res = _simulate_t(ctx, t, groups[t], int(samples), seed, "with_replacement",
                                  None, False, W=W)[0]
                out.append((i, res))
        return out

    pool = ThreadPoolExecutor(max_workers=n_jobs) if n_jobs > 1 else None
    try:
        it = pool.map(work, all_t) if pool is not None else map(work, all_t)
        for out in it:
            for i, res in out:
                mean, sd = results[i]
                for row, (m, s) in res.items():
                    mean[row], sd[row] = m, s
                done += len(res)
            if progress is not None:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown()
    return [(mean, sd / np.sqrt(samples)) for mean, sd in results]


def simulate(curves, t: int, p: int, k: int, *, samples: int = 50_000, rng=0,
             replace: bool = True, pool: str = "trials", ties: str = "random") -> np.ndarray:
    """Per-sample results of one assignment: the simulated best score of each experiment.

    Same draws as :func:`expected_best_mc` with the same seed (so ``simulate(...).mean()`` equals
    its estimate).

    Returns
    -------
    ndarray of float, shape (samples,)

    Examples
    --------
    >>> r = simulate([[0.2, 0.9], [0.6, 0.6]], 2, 1, 1, samples=1000, rng=0)
    >>> sorted(set(r.tolist()))
    [0.6, 0.9]
    """
    sampling = scheme(replace, pool)
    a = pd.DataFrame({"t": [t], "p": [p], "k": [k]})
    seed = resolve_seed(rng)
    cs, ctx, grid, groups, _ = _prepare(curves, a, samples, sampling, ties, 1)
    (tt,) = groups
    return _simulate_t(ctx, tt, groups[tt], int(samples), seed, sampling, grid, True)[1][0]


def paired_difference(curves, a, b, *, samples: int = 50_000, rng=0,
                      replace: bool = True, pool: str = "trials", ties: str = "random"):
    """Monte Carlo estimate of ``E[a] - E[b]`` for two assignments, with its standard error.

    When ``a`` and ``b`` start the same number of trials they share their draws in
    :func:`expected_best_mc`, so the difference is taken sample by sample (paired); otherwise the
    estimates are independent and ``se = sqrt(se_a**2 + se_b**2)``.

    Parameters
    ----------
    a, b : tuple of int
        ``(t, p, k)``.

    Returns
    -------
    diff, se : float

    Examples
    --------
    >>> d, se = paired_difference([[0.2, 0.9], [0.6, 0.6]], (2, 2, 1), (2, 1, 1),
    ...                           samples=20000, rng=3)
    >>> bool(abs(d - 0.15) < 4 * se)
    True
    """
    sampling = scheme(replace, pool)
    seed = resolve_seed(rng)
    rows = pd.DataFrame([tuple(a), tuple(b)], columns=["t", "p", "k"])
    cs, ctx, grid, groups, _ = _prepare(curves, rows, samples, sampling, ties, 1)
    kept = {}
    for t, reqs in groups.items():
        kept.update(_simulate_t(ctx, t, reqs, int(samples), seed, sampling, grid, True)[1])
    va, vb = kept[0], kept[1]
    S = int(samples)
    if ties == "random" and sampling == "with_replacement":  # batch means (module docstring)
        blocks, nb = _block_ids(S), _n_blocks(S)
        if int(a[0]) == int(b[0]):
            return _diff(*_moments_blocks(va - vb, blocks, nb), S)
        ma, sa = _moments_blocks(va, blocks, nb)
        mb, sb = _moments_blocks(vb, blocks, nb)
        return float(ma - mb), float(np.sqrt((sa ** 2 + sb ** 2) / S))
    if int(a[0]) == int(b[0]):
        d = va - vb
        return float(d.mean()), float(d.std(ddof=1) / np.sqrt(S))
    se = np.sqrt(va.var(ddof=1) / S + vb.var(ddof=1) / S)
    return float(va.mean() - vb.mean()), float(se)


def _diff(mean, sd, samples):
    return float(mean), float(sd / np.sqrt(samples))

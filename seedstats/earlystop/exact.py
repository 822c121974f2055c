r"""Exact expected best score of the early-stopping rule (Dodge et al. 2020, Section 5).

The rule, for an assignment ``(t, p, k)`` over a pool of ``N`` trials with curves ``C`` of shape
``(N, K)``:

1. draw ``t`` trials uniformly from the pool, *with replacement* (the paper) or without;
2. rank the drawn trials by their partial score ``s_i = max(C[i, :k])``, the best of their first
   ``k`` evaluations;
3. continue the ``p`` best-ranked draws to the end; the result is the best score seen anywhere,
   which equals the best final score ``F_i = max(C[i, :])`` among the continued draws (every
   stopped draw has ``s <= s`` of each continued one ``<= F`` of it), and the best partial score
   of all draws when ``p = 0``.

Tie-breaking (shared by the exact and the Monte Carlo estimators)
    Trials are ranked by partial score, higher first. Equal partial scores are ordered at random,
    afresh in every simulated experiment, as the authors' rule does (``ties="random"``, the
    default): the order of the trials within each group of equal partial scores is a uniformly
    random permutation, so the result does not depend on the order of the rows. Real scores lie
    on a k/n grid, so such ties are common. The alternatives put trials in one fixed total
    order: row order (``"index"``), better final score first (``"optimistic"``, an upper bound
    over tie rules) or worse final score first (``"pessimistic"``, a lower bound), then row
    order. Copies of one trial drawn twice are interchangeable.

How the expectation is computed (with replacement)
    Number the trials by rank, ``j = 0 .. N-1`` (``0`` best), and let ``r_(1) <= ... <= r_(t)``
    be the sorted ranks of the ``t`` draws. The continued set is ``r_(1..p)``. For a level ``v``
    call a trial *good* when ``F >= v``. ``R_p >= v`` iff a good trial is among the top ``p``
    draws, iff the number ``D`` of draws ranked strictly above the best-ranked good draw ``Z``
    is at most ``p - 1``. For a good rank ``j`` with ``A_j(v)`` bad ranks above it,

    .. math::

        P(Z = j, D = n) = \binom{t}{n} \Big(\frac{A_j(v)}{N}\Big)^n
                          \Big[\beta_j^{\,t-n} - \beta_j'^{\,t-n}\Big],\quad
        \beta_j = \frac{N-j}{N},\ \beta'_j = \frac{N-j-1}{N}.

    With the distinct final scores ``u_0 < ... < u_{V-1}`` and ``E[R] = u_0 + \sum_l (u_l -
    u_{l-1}) P(R >= u_l)``, swapping the sums gives

    .. math::

        E[R_p] = u_0 + \sum_{n=0}^{p-1} \binom{t}{n} \sum_j \Psi_{jn} D_{j,t-n},\quad
        \Psi = W V,\ V_{An} = (A/N)^n,\ D_{jm} = \beta_j^m - \beta_j'^m,

    where ``W[j, A]`` sums the level gaps ``u_l - u_{l-1}`` over the levels at which rank ``j`` is
    good and has ``A`` bad ranks above it. So one ``N x N`` weight matrix and two matrix
    products per ``k`` give ``E[R_p]`` for every ``t <= T`` and every ``p <= t`` at once
    (``O(N^2 T + N T^2)``). Without replacement the draws are a uniform ``t``-subset and the same
    derivation gives ``P(Z = j, D = n) = C(A_j, n) C(N-1-j, t-n-1) / C(N, t)``, computed from the
    ratios ``C(A, n)/C(N, n)`` and ``C(N-1-j, m)/C(N, m)`` (products of factors in ``[0, 1]``).

Random ties
    For a fixed order the expectation is linear in ``W``, so the expectation over the random
    orders of the tie groups is the same formula with ``W`` averaged over those orders. A group
    of ``n`` trials at ranks ``a .. a+n-1`` with, at level ``v``, ``b`` bad trials and ``A_0``
    bad trials ranked above it puts, in a uniformly random order, a good trial at rank ``a + r``
    with exactly ``x`` bad ones before it in the group with probability
    ``h(r, x) = C(r, x) C(n-r-1, b-x) / C(n, b)``; so its level gap goes to ``W[a + r, A_0 + x]``
    with weight ``h(r, x)`` (a group of one trial gives the fixed-order weights back).

All of this is checked in the tests against brute-force enumeration of every ``t``-tuple with
exact fractions, against a per-sample reference loop and against the Monte Carlo estimator.
"""

from __future__ import annotations

import functools

import numpy as np

from seedstats.earlystop.curves import as_curves
from seedstats.earlystop.sampling import scheme
from seedstats.stats import expected_max

__all__ = ["TIES", "SAMPLINGS_EXACT", "rank_order", "expected_max_draws", "expected_best_all_p",
           "expected_best_exact", "EXACT_T_MAX"]

#: Tie-breaking rules for equal partial scores (see the module docstring); the first is the
#: default.
TIES = ("random", "index", "optimistic", "pessimistic")

#: Sampling schemes the exact estimator handles.
SAMPLINGS_EXACT = ("with_replacement", "without_replacement")

#: Largest ``t`` of the exact estimator: beyond it binomial weights (``C(t, n)`` up to ~1e180)
#: times the probabilities they multiply could leave the double-precision range.
EXACT_T_MAX = 600


def rank_order(partial, final, ties: str = "index") -> np.ndarray:
    """Trials in rank order (best first) by partial score, with a deterministic tie-break.

    With ``ties="random"`` the groups of equal partial scores are contiguous in row order;
    the estimators then order each group at random.

    Parameters
    ----------
    partial, final : array-like of float, shape (N,)
        Partial score (best of the first ``k`` evaluations) and final score of each trial.
    ties : {"index", "random", "optimistic", "pessimistic"}
        Order of trials with equal partial scores: row order (also for ``"random"``); better
        final first; worse final first (each then row order).

    Returns
    -------
    ndarray of int, shape (N,)
        ``order[j]`` is the row of the trial at rank ``j`` (``0`` = best).

    Examples
    --------
    >>> rank_order([0.5, 0.7, 0.5], [0.9, 0.7, 0.6]).tolist()
    [1, 0, 2]
    >>> rank_order([0.5, 0.7, 0.5], [0.6, 0.7, 0.9], ties="optimistic").tolist()
    [1, 2, 0]
    """
    s = np.asarray(partial, dtype=np.float64)
    F = np.asarray(final, dtype=np.float64)
    idx = np.arange(len(s))
    if ties in ("index", "random"):
        return np.lexsort((idx, -s))
    if ties == "optimistic":
        return np.lexsort((idx, -F, -s))
    if ties == "pessimistic":
        return np.lexsort((idx, F, -s))
    raise ValueError(f"ties: expected one of {', '.join(TIES)}, got {ties!r}")


def _check_sampling(sampling):
    if sampling not in SAMPLINGS_EXACT:
        raise ValueError(f"pool: the exact estimator handles pool='trials' (with or without "
                         f"replacement), got {sampling!r} (use the Monte Carlo estimator for it)")


def _log_comb(n, k):
    from scipy.special import gammaln

    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def _ratio_cumprod(top, N, ncols):
    """``out[i, n] = prod_{m<n} (top[i] - m) / (N - m)`` = ``C(top, n) / C(N, n)``, clipped at 0."""
    m = np.arange(ncols - 1, dtype=np.float64)
    fac = (np.asarray(top, dtype=np.float64)[:, None] - m[None, :]) / (N - m)[None, :]
    np.clip(fac, 0.0, None, out=fac)
    out = np.ones((len(top), ncols))
    if ncols > 1:
        np.cumprod(fac, axis=1, out=out[:, 1:])
    return out


def expected_max_draws(values, t, *, replace: bool = True) -> np.ndarray:
    """Expected maximum of ``t`` draws from ``values``, for every ``t`` given.

    The ``p = 0`` case of the rule (best partial score of ``t`` draws) and its baseline (best
    final score of ``x`` fully trained trials): the estimator of
    :func:`seedstats.stats.expected_max.expected_max` for many ``t`` at once (summation by
    parts over the sorted values, ``P(max <= x_(r)) = ((r+1)/N)^t`` with replacement and
    ``C(r+1, t)/C(N, t)`` without).

    Parameters
    ----------
    values : array-like of float, shape (N,)
    t : int or array-like of int
    replace : bool

    Returns
    -------
    ndarray of float, shape of ``t`` (0-d for a scalar ``t``)

    Examples
    --------
    >>> expected_max_draws([0.0, 1.0], [1, 2]).tolist()
    [0.5, 0.75]
    >>> expected_max_draws([0.0, 1.0], [1, 2], replace=False).tolist()
    [0.5, 1.0]
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    tt = np.atleast_1d(np.asarray(t, dtype=np.int64))
    N = len(x)
    if N == 0:
        raise ValueError("values: expected at least one score, got none")
    bad = (tt < 1) | ((tt > N) if not replace else False)
    if bad.any():
        raise ValueError(f"t: expected 1 <= t{' <= N' if not replace else ''}, "
                         f"got {tt[bad][0]}")
    # The estimator of seedstats.stats (one implementation for the package).
    ut, inverse = np.unique(tt, return_inverse=True)
    return expected_max(x, ut, replace=bool(replace))[inverse].reshape(np.shape(t))


def assignment_arrays(assignments):
    """Columns ``t``, ``p``, ``k`` of ``assignments`` as int64 arrays, validated.

    Shared by the exact and the Monte Carlo estimators. Raises ``ValueError`` naming
    ``assignments`` for a missing column or a non-integer value (never truncated silently).
    """
    missing = [c for c in ("t", "p", "k") if c not in assignments]
    if missing:
        raise ValueError(f"assignments: expected integer columns t, p, k (e.g. "
                         f"feasible_assignments()); missing {', '.join(missing)}")
    out = []
    for c in ("t", "p", "k"):
        raw = np.asarray(assignments[c])
        if raw.dtype.kind not in "iu":
            try:
                val = raw.astype(np.float64)
            except (TypeError, ValueError):
                val = np.array([np.nan])
            if not np.all(np.isfinite(val) & (val == np.round(val))):
                raise ValueError(f"assignments: column {c} must hold integers; got dtype "
                                 f"{raw.dtype}")
        out.append(raw.astype(np.int64))
    return tuple(out)


def _weights(Fr):
    """``W[j, A]``: level gaps at which rank ``j`` is good with ``A`` bad ranks above it."""
    N = len(Fr)
    u, lev = np.unique(Fr, return_inverse=True)
    V = len(u)
    W = np.zeros(N * N)
    if V > 1:
        lv = np.arange(1, V)
        gaps = np.diff(u)
        bad = lev[:, None] < lv[None, :]                  # (N, V-1): rank i is bad at level l
        cnt = np.zeros((N, V - 1), dtype=np.int64)
        np.cumsum(bad[:-1], axis=0, out=cnt[1:])           # bad ranks strictly above j
        good = lv[None, :] <= lev[:, None]
        jj = np.broadcast_to(np.arange(N)[:, None] * N, cnt.shape)
        flat = (jj + cnt)[good]
        W = np.bincount(flat, weights=np.broadcast_to(gaps, cnt.shape)[good], minlength=N * N)
    return u[0], W.reshape(N, N)


@functools.lru_cache(maxsize=256)
def _log_comb_table(n):
    """``L[a, b] = log C(a, b)`` for ``0 <= a, b <= n`` (``-inf`` where ``b > a``); read-only
    and cached (the same tie-group sizes recur at every evaluation point)."""
    a = np.arange(n + 1, dtype=np.float64)
    L = _log_comb(a[:, None], np.minimum(a[None, :], a[:, None]))
    L[a[None, :] > a[:, None]] = -np.inf
    L.setflags(write=False)
    return L


def _weights_random(F, s):
    """``W[j, A]`` averaged over uniformly random orders within groups of equal partial score.

    Ranks follow :func:`rank_order` (``ties="random"``: groups contiguous); see *Random ties*
    in the module docstring for the weights ``h(r, x)``.
    """
    order = rank_order(s, F, "random")
    Fr, sr = F[order], s[order]
    N = len(Fr)
    u, lev = np.unique(Fr, return_inverse=True)
    V = len(u)
    W = np.zeros(N * N)
    if V == 1:
        return u[0], W.reshape(N, N)
    starts = np.flatnonzero(np.r_[True, sr[1:] != sr[:-1]])
    sizes = np.diff(np.r_[starts, N])
    lv = np.arange(1, V)
    gaps = np.diff(u)
    bad = lev[:, None] < lv[None, :]                       # (N, V-1): rank i is bad at level l
    cnt = np.zeros((N + 1, V - 1), dtype=np.int64)
    np.cumsum(bad, axis=0, out=cnt[1:])                    # bad ranks strictly above i
    single = np.zeros(N, dtype=bool)
    single[starts[sizes == 1]] = True
    # groups of one trial: the fixed-order weights
    good = (lv[None, :] <= lev[:, None]) & single[:, None]
    flat = (np.arange(N)[:, None] * N + cnt[:-1])[good]
    W += np.bincount(flat, weights=np.broadcast_to(gaps, good.shape)[good], minlength=N * N)
    for a, n in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
        top = int(lev[a:a + n].max())                      # levels l <= top have a good trial
        b_all = cnt[a + n, :top] - cnt[a, :top]            # bad trials of the group per level
        A0_all = cnt[a, :top]
        L = _log_comb_table(n)
        r = np.arange(n)[:, None]
        x = np.arange(n)[None, :]
        chunk = max(1, (1 << 22) // (n * n))
        for c0 in range(0, top, chunk):
            b = b_all[c0:c0 + chunk, None, None]
            rest = b - x[None]                              # bad trials after rank r
            ok = (x[None] <= np.minimum(b, r[None])) & (rest <= n - 1 - r[None]) & (rest >= 0)
            logh = (L[r, np.minimum(x, r)][None] + L[n - 1 - r[None], np.clip(rest, 0, n)]
                    - L[n, b])
            h = np.where(ok, np.exp(np.where(ok, logh, 0.0)), 0.0)
            w = h * gaps[:top][c0:c0 + chunk, None, None]
            idx = (a + r)[None] * N + A0_all[c0:c0 + chunk, None, None] + x[None]
            keep = ok & (w > 0)
            W += np.bincount(idx[keep], weights=w[keep], minlength=N * N)
    return u[0], W.reshape(N, N)


_TINY = 1e-280


def _flush(a):
    a[a < _TINY] = 0.0
    return a


def _exact_one_k(F, s, ties, T, replace):
    """``E[t, p]`` for ``t = 1..T``, ``p = 1..t`` (NaN elsewhere) at one ``k``."""
    N = len(F)
    if ties == "random":
        u0, W = _weights_random(F, s)
    else:
        u0, W = _weights(F[rank_order(s, F, ties)])
    j = np.arange(N, dtype=np.float64)
    if replace:
        A = np.arange(N, dtype=np.float64) / N
        Vm = A[:, None] ** np.arange(T, dtype=np.float64)[None, :]          # (N, T)
        m = np.arange(T + 1, dtype=np.float64)
        # D = beta^m - beta'^m = beta^m * (1 - (beta'/beta)^m), without cancellation
        lb = np.log((N - j) / N)
        D = np.empty((N, T + 1))
        lr = np.log1p(-1.0 / (N - j[:-1]))                                  # log(beta'/beta)
        D[:-1] = np.exp(lb[:-1, None] * m[None, :]) * -np.expm1(lr[:, None] * m[None, :])
        D[-1] = np.exp(lb[-1] * m)                                           # beta' = 0
        D[:, 0] = 0.0
    else:
        Vm = _ratio_cumprod(np.arange(N), N, T)                               # C(A,n)/C(N,n)
        D = _ratio_cumprod(N - 1 - j, N, T)                                   # C(N-1-j,m)/C(N,m)
    # Subnormal numbers (e.g. (1/N)^200) make matrix products 100x slower; they are far below
    # anything that matters here (times C(t, n) <= 1e180 they stay below 1e-100), so flush.
    _flush(Vm)
    _flush(D)
    Psi = W @ Vm                                                              # (N, T)
    _flush(Psi)
    P = Psi.T @ D                                                             # (T, T+1) or (T, T)
    t = np.arange(1, T + 1)[:, None]
    n = np.arange(T)[None, :]
    valid = n < t
    if replace:
        logc = np.where(valid, _log_comb(t, np.minimum(n, t)), -np.inf)
        Pm = P[n, np.clip(t - n, 0, T)]
    else:
        mm = np.clip(t - n - 1, 0, T - 1)
        logc = np.where(valid, _log_comb(N, n) + _log_comb(N, mm) - _log_comb(N, t), -np.inf)
        Pm = P[n, mm]
    terms = np.where(valid, np.exp(logc) * np.where(valid, Pm, 0.0), 0.0)
    E = np.full((T + 1, T + 1), np.nan)
    cs = u0 + np.cumsum(terms, axis=1)                                        # (T, T): p = n+1
    E[1:, 1:] = np.where(valid, cs, np.nan)
    return E


def _finals_partials(values):
    v = np.asarray(values, dtype=np.float64)
    return v.max(axis=1), np.maximum.accumulate(v, axis=1)


def expected_best_all_p(curves, t: int, k: int, *, ties: str = "random",
                        replace: bool = True, pool: str = "trials") -> np.ndarray:
    """Exact expected result of the rule for one ``(t, k)`` and every ``p = 0 .. t``.

    Parameters
    ----------
    curves : CurveSet or array-like, shape (N, K)
        See :func:`~seedstats.earlystop.curves.as_curves`.
    t : int
        Trials started.
    k : int
        Evaluations before the decision, ``1 <= k <= K``.
    ties : {"random", "index", "optimistic", "pessimistic"}
        Tie-break among equal partial scores (module docstring); ``"random"`` by default.
    replace : bool, default True
        Draw the ``t`` trials with replacement (the paper) or without.

    Returns
    -------
    ndarray of float, shape (t + 1,)
        ``out[p]`` is the expected best score when ``p`` of the ``t`` trials are continued.

    Examples
    --------
    >>> curves = [[0.2, 0.9], [0.6, 0.6]]
    >>> expected_best_all_p(curves, 2, 1).tolist()   # p = 0, 1, 2
    [0.5, 0.675, 0.825]
    """
    sampling = scheme(replace, pool)
    cs = as_curves(curves)
    _check_sampling(sampling)
    if ties not in TIES:
        raise ValueError(f"ties: expected one of {', '.join(TIES)}, got {ties!r}")
    N, K = cs.values.shape
    for name, val, lo, hi in (("t", t, 1, EXACT_T_MAX), ("k", k, 1, K)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
            raise TypeError(f"{name}: expected an int, got {type(val).__name__}")
        if not lo <= val <= hi:
            raise ValueError(f"{name}: expected {lo} <= {name} <= {hi}, got {val}")
    if not replace and t > N:
        raise ValueError(f"t: without replacement at most N = {N} trials can be drawn, got {t}")
    F, P = _finals_partials(cs.values)
    s = P[:, k - 1]
    out = np.empty(t + 1)
    out[0] = expected_max_draws(s, t, replace=replace)
    out[1:] = _exact_one_k(F, s, ties, t, replace)[t, 1:t + 1]
    return out


def expected_best_exact(curves, assignments, *, ties: str = "random",
                        replace: bool = True, pool: str = "trials") -> np.ndarray:
    """Exact expected best score of many assignments ``(t, p, k)`` (Section 5, Figures 6-7).

    Parameters
    ----------
    curves : CurveSet or array-like, shape (N, K)
    assignments : DataFrame with integer columns ``t``, ``p``, ``k``
        E.g. :func:`~seedstats.earlystop.grid.feasible_assignments`; ``k = K`` rows are the
        no-early-stopping baseline (``E[max of t final scores]``, whatever ``p``).
    ties : {"random", "index", "optimistic", "pessimistic"}
        Tie-break among equal partial scores (module docstring); ``"random"`` by default.
    replace : bool, default True
        Draw the ``t`` trials with replacement (the paper) or without.

    Returns
    -------
    ndarray of float, shape (len(assignments),)

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"t": [2, 2, 1], "p": [1, 0, 1], "k": [1, 1, 2]})
    >>> expected_best_exact([[0.2, 0.9], [0.6, 0.6]], a).round(4).tolist()
    [0.675, 0.5, 0.75]
    """
    sampling = scheme(replace, pool)
    cs = as_curves(curves)
    _check_sampling(sampling)
    if ties not in TIES:
        raise ValueError(f"ties: expected one of {', '.join(TIES)}, got {ties!r}")
    N, K = cs.values.shape
    tt, pp, kk = assignment_arrays(assignments)
    if len(tt) and (tt.min() < 1 or tt.max() > EXACT_T_MAX):
        raise ValueError(f"assignments: t must lie in 1..{EXACT_T_MAX} for the exact estimator, "
                         f"got {tt.min()}..{tt.max()}")
    if len(tt) and (np.any(pp < 0) or np.any(pp > tt) or kk.min() < 1 or kk.max() > K):
        raise ValueError(f"assignments: expected 0 <= p <= t and 1 <= k <= K = {K}")
    if not replace and len(tt) and tt.max() > N:
        raise ValueError(f"assignments: without replacement t is at most N = {N}, "
                         f"got t = {tt.max()}")
    F, P = _finals_partials(cs.values)
    out = np.full(len(tt), np.nan)
    base = kk == K
    if base.any():
        ut = np.unique(tt[base])
        em = dict(zip(ut.tolist(), expected_max_draws(F, ut, replace=replace)))
        out[base] = [em[x] for x in tt[base].tolist()]
    for k in np.unique(kk[~base]).tolist():
        sel = (kk == k)
        s = P[:, k - 1]
        zero = sel & (pp == 0)
        if zero.any():
            ut = np.unique(tt[zero])
            em = dict(zip(ut.tolist(), expected_max_draws(s, ut, replace=replace)))
            out[zero] = [em[x] for x in tt[zero].tolist()]
        pos = sel & (pp > 0)
        if pos.any():
            T = int(tt[pos].max())
            E = _exact_one_k(F, s, ties, T, replace)
            out[pos] = E[tt[pos], pp[pos]]
    return out

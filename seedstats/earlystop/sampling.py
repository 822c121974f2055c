"""How the ``t`` trials of one simulated experiment are drawn from the logged pool.

The paper (Dodge et al. 2020, Section 5) draws with replacement from all trials of a task. But the
625 trials of a task are a 25 x 25 grid of WI x DO seeds, not 625 independent runs: two trials
that share a WI seed share their head initialization. The other schemes here make that visible.

Every estimator of :mod:`seedstats.earlystop` chooses a scheme with two arguments, the same
``replace`` switch as :func:`seedstats.stats.expected_max` and a ``pool``
(:func:`scheme`): ``replace=True`` (the paper) or ``False`` over ``pool="trials"``, or one of the
seed-aware pools (``"distinct_seeds"``, ``"fixed_wi"``, ``"fixed_do"``, which draw distinct
seeds, so ``replace=False``). The schemes, by their internal names:

``"with_replacement"``
    ``t`` rows uniformly with replacement (the paper; ``t`` unbounded).
``"without_replacement"``
    ``t`` distinct rows (``t <= N``): each simulated trial is a different logged run.
``"distinct_seeds"``
    ``t`` distinct WI seeds and ``t`` distinct DO seeds, paired at random: no two simulated trials
    share a seed, as when a practitioner re-seeds both for every new run
    (``t <= min(n_wi, n_do)``, needs the full grid).
``"fixed_wi"``
    one WI seed (a whole WI row of the grid) and ``t`` distinct DO seeds in it: a practitioner who
    only varies the data order (``t <= n_do``).
``"fixed_do"``
    one DO seed (a whole DO column) and ``t`` distinct WI seeds (``t <= n_wi``).

Every scheme is seeded through an explicit :class:`numpy.random.Generator`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["POOLS", "SAMPLINGS", "scheme", "max_trials", "draw_trials", "seed_grid"]

#: What the ``t`` trials are drawn from: any logged trial, or seeds of the WI x DO grid.
POOLS = ("trials", "distinct_seeds", "fixed_wi", "fixed_do")
#: Sampling schemes (see the module docstring).
SAMPLINGS = ("with_replacement", "without_replacement", "distinct_seeds", "fixed_wi", "fixed_do")


def scheme(replace=True, pool: str = "trials") -> str:
    """The sampling scheme (one of :data:`SAMPLINGS`) that ``replace`` and ``pool`` choose.

    Examples
    --------
    >>> scheme(True), scheme(False), scheme(False, "fixed_wi")
    ('with_replacement', 'without_replacement', 'fixed_wi')
    """
    if not isinstance(replace, (bool, np.bool_)):
        raise TypeError(f"replace must be True or False; got {replace!r}")
    if pool not in POOLS:
        raise ValueError(f"pool: expected one of {', '.join(POOLS)}, got {pool!r}")
    if pool == "trials":
        return "with_replacement" if replace else "without_replacement"
    if replace:
        raise ValueError(f"pool={pool!r} draws distinct seeds: give replace=False")
    return pool

_CHUNK = 8192  # samples per block when a block needs an (n_samples, N) temporary


def seed_grid(cs) -> np.ndarray:
    """Row index of each ``(wi, do)`` cell of a full WI x DO grid, shape ``(n_wi, n_do)``.

    Raises :class:`ValueError` naming the problem when the curves do not form a full grid.
    """
    if cs.wi_seed is None or cs.do_seed is None:
        raise ValueError("sampling: seed-aware sampling needs the WI and DO seed of every trial; "
                         "these curves have none (pass a Dataset with a WI x DO grid)")
    wi, wi_idx = np.unique(cs.wi_seed, return_inverse=True)
    do, do_idx = np.unique(cs.do_seed, return_inverse=True)
    grid = np.full((len(wi), len(do)), -1, dtype=np.int64)
    grid[wi_idx, do_idx] = np.arange(cs.n_trials)
    if (grid < 0).any() or len(wi) * len(do) != cs.n_trials:
        raise ValueError(f"sampling: seed-aware sampling needs a full WI x DO grid with one trial "
                         f"per cell; got {cs.n_trials} trials for {len(wi)} WI x {len(do)} DO "
                         f"seeds")
    return grid


def max_trials(cs, sampling: str) -> int | None:
    """Largest ``t`` a scheme can draw from these curves (``None``: unbounded)."""
    if sampling == "with_replacement":
        return None
    if sampling == "without_replacement":
        return cs.n_trials
    g = seed_grid(cs) if sampling in SAMPLINGS else None
    if sampling == "distinct_seeds":
        return int(min(g.shape))
    if sampling == "fixed_wi":
        return int(g.shape[1])
    if sampling == "fixed_do":
        return int(g.shape[0])
    raise ValueError(f"sampling: expected one of {', '.join(SAMPLINGS)}, got {sampling!r}")


def _subsets(rng, n, t, size):
    """``size`` uniform random ``t``-subsets of ``range(n)`` (in random order), shape (size, t)."""
    out = np.empty((size, t), dtype=np.int64)
    for a in range(0, size, _CHUNK):
        b = min(size, a + _CHUNK)
        keys = rng.random((b - a, n))
        out[a:b] = np.argpartition(keys, t - 1, axis=1)[:, :t] if t < n else \
            np.argsort(keys, axis=1)
    return out


def draw_trials(rng: np.random.Generator, cs, t: int, size: int, sampling: str,
                grid: np.ndarray | None = None) -> np.ndarray:
    """Draw ``size`` experiments of ``t`` trials each.

    Parameters
    ----------
    rng : numpy.random.Generator
    cs : CurveSet
    t : int
    size : int
        Number of simulated experiments (Monte Carlo samples).
    sampling : str
        One of :data:`SAMPLINGS`.
    grid : ndarray, optional
        :func:`seed_grid` of ``cs`` (computed when needed and not given).

    Returns
    -------
    ndarray of int, shape (size, t)
        Row indices into ``cs.values``.

    Examples
    --------
    >>> from seedstats.earlystop.curves import as_curves
    >>> cs = as_curves([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    >>> d = draw_trials(np.random.default_rng(0), cs, 3, 4, "without_replacement")
    >>> d.shape, sorted(d[0].tolist())
    ((4, 3), [0, 1, 2])
    """
    limit = max_trials(cs, sampling)
    if limit is not None and t > limit:
        raise ValueError(f"t: {sampling.replace('_', ' ')} can draw at most {limit} trials from these "
                         f"curves, got t = {t}")
    N = cs.n_trials
    if sampling == "with_replacement":
        return rng.integers(0, N, size=(size, t))
    if sampling == "without_replacement":
        return _subsets(rng, N, t, size)
    if grid is None:
        grid = seed_grid(cs)
    n_wi, n_do = grid.shape
    if sampling == "distinct_seeds":
        w = _subsets(rng, n_wi, t, size)
        d = _subsets(rng, n_do, t, size)
        return grid[w, d]
    if sampling == "fixed_wi":
        w = rng.integers(0, n_wi, size=(size, 1))
        d = _subsets(rng, n_do, t, size)
        return grid[w, d]
    w = _subsets(rng, n_wi, t, size)
    d = rng.integers(0, n_do, size=(size, 1))
    return grid[w, d]

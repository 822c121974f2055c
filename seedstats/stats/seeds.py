"""Seed analyses of the WI x DO grid: Section 4 of Dodge et al. (2020), and what it leaves out.

Every function takes one task's grid of final scores, ``grid : (n_wi, n_do)``: rows are weight
initialization (WI) seeds, columns data-order (DO) seeds, as returned by
:func:`seedstats.data.dataset.score_grid` (index ``wi_seed``, columns ``do_seed``) or as a plain
2-D array (seeds are then the positions ``0..n-1``). NaN marks a missing score (an incomplete
trial, or a WI/DO combination never run); it is never silently dropped: every output carries
the number of missing cells (``n_missing``).

- :func:`per_seed_sd`: per-seed standard deviations (the data of Figure 8).
- :func:`seed_sd_summary`: Table 3 (expected per-seed SD over WI, over DO, and the total SD).
- :func:`variance_components`: the crossed two-way random-effects decomposition (beyond the
  paper), closed-form ANOVA estimators with confidence intervals.
- :func:`best_worst_anova`: Table 4 as the paper computes it (labeled post-selection).
- :func:`seed_permutation_test`: a valid test that seeds of one factor differ, by shuffling
  its labels within each level of the other factor.
"""

from __future__ import annotations

import functools
import numbers
import warnings

import numpy as np
import pandas as pd

from seedstats.stats._common import BLOCK_ELEMENTS, as_generator, check_int, nan_means

__all__ = [
    "FACTORS",
    "per_seed_sd",
    "seed_sd_summary",
    "variance_components",
    "best_worst_anova",
    "seed_permutation_test",
]

#: The two seed factors of the grid: weight initialization (rows) and data order (columns).
FACTORS = ("wi", "do")


# ---------------------------------------------------------------------------------------------
# validation helpers (shared with the other modules of seedstats.stats)
# ---------------------------------------------------------------------------------------------


def _check_level(level) -> float:
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, numbers.Real):
        raise TypeError(f"level: expected a float strictly between 0 and 1 (e.g. 0.95); "
                        f"got {level!r}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level: expected a float strictly between 0 and 1 (e.g. 0.95); "
                         f"got {level!r}")
    return float(level)


def _check_factor(factor) -> str:
    if factor not in FACTORS:
        raise ValueError(f"factor: expected 'wi' (rows) or 'do' (columns); got {factor!r}")
    return factor


def _grid_array(grid, *, min_size: int = 2):
    """Validate a grid; return ``(Y, wi_labels, do_labels)`` with ``Y`` float64 (n_wi, n_do)."""
    if isinstance(grid, pd.DataFrame):
        bad = [c for c, t in grid.dtypes.items() if t.kind not in "biuf"
               and not pd.api.types.is_numeric_dtype(t)]
        if bad:
            raise TypeError(f"grid: expected numeric scores; columns {bad[:3]} have dtype "
                            f"{grid.dtypes[bad[0]]}")
        Y = grid.to_numpy(dtype=np.float64, na_value=np.nan)
        wi, do = np.asarray(grid.index), np.asarray(grid.columns)
    elif isinstance(grid, (str, bytes, dict)) or grid is None:
        raise TypeError("grid: expected a WI x DO DataFrame (score_grid) or a 2-D array of "
                        f"scores; got {type(grid).__name__}")
    else:
        raw = np.asarray(grid)
        if raw.dtype.kind not in "biuf":
            raise TypeError(f"grid: expected a 2-D array of numbers; got dtype {raw.dtype}")
        Y = raw.astype(np.float64)
        if Y.ndim == 2:
            wi, do = np.arange(Y.shape[0]), np.arange(Y.shape[1])
    if Y.ndim != 2:
        raise ValueError(f"grid: expected a 2-D (n_wi, n_do) grid; got shape {Y.shape}")
    if Y.shape[0] < min_size or Y.shape[1] < min_size:
        raise ValueError(f"grid: expected at least {min_size} WI seeds (rows) and {min_size} "
                         f"DO seeds (columns); got shape {Y.shape}")
    if np.isinf(Y).any():
        raise ValueError("grid: expected finite scores (NaN marks a missing one); found "
                         f"{int(np.isinf(Y).sum())} infinite value(s)")
    return Y, wi, do


def _orient(Y, wi, do, factor):
    """Put the tested factor on the rows."""
    return (Y, wi, do) if factor == "wi" else (Y.T, do, wi)


def _label(x):
    """A seed label as a plain Python scalar."""
    return x.item() if hasattr(x, "item") else x


# ---------------------------------------------------------------------------------------------
# Table 3 and Figure 8
# ---------------------------------------------------------------------------------------------


def per_seed_sd(grid, *, ddof=1):
    """Standard deviation of the final score of each seed across the other factor's seeds.

    The data of Figure 8 (Appendix A) of Dodge et al. (2020) and the ingredients of Table 3
    (Section 4.1): for each WI seed, the SD of its scores over the DO seeds it was run with;
    likewise for each DO seed over the WI seeds.

    Parameters
    ----------
    grid : DataFrame or 2-D array, shape (n_wi, n_do)
        Final scores, rows WI seeds, columns DO seeds (:func:`~seedstats.data.dataset.score_grid`).
        NaN cells (missing or incomplete trials) are excluded and counted.
    ddof : int, default 1
        Delta degrees of freedom: ``1`` gives the sample SD (divisor ``n - 1``); ``0`` the
        population SD (``numpy.std``'s default, divisor ``n``). The paper does not say which it
        used; at 25 scores per seed the two differ by 2%.

    Returns
    -------
    DataFrame
        One row per seed, WI seeds first; columns:

        - ``factor`` (str): ``"wi"`` or ``"do"``.
        - ``seed``: the seed label (grid index or column; positions for an array).
        - ``n`` (int): non-missing scores of the seed.
        - ``n_missing`` (int): missing (NaN) scores of the seed, excluded.
        - ``mean`` (float): mean score of the seed.
        - ``sd`` (float): SD with ``ddof``; NaN when ``n <= ddof``.
        - ``ddof`` (int).

    Examples
    --------
    >>> import numpy as np
    >>> per_seed_sd(np.array([[1.0, 3.0], [2.0, 2.0]]))["sd"].round(4).tolist()
    [1.4142, 0.0, 0.7071, 0.7071]
    """
    ddof = check_int("ddof", ddof, 0)
    Y, wi, do = _grid_array(grid, min_size=1)
    parts = []
    for factor, M, labels in (("wi", Y, wi), ("do", Y.T, do)):
        ok = ~np.isnan(M)
        n = ok.sum(axis=1)
        filled = np.where(ok, M, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = filled.sum(axis=1) / n
            ss = (np.where(ok, M - mean[:, None], 0.0) ** 2).sum(axis=1)
            sd = np.sqrt(ss / (n - ddof))
        sd[n <= ddof] = np.nan
        mean[n == 0] = np.nan
        parts.append(pd.DataFrame({
            "factor": factor, "seed": [_label(s) for s in labels], "n": n.astype(int),
            "n_missing": (M.shape[1] - n).astype(int), "mean": mean, "sd": sd, "ddof": ddof,
        }))
    return pd.concat(parts, ignore_index=True)


def seed_sd_summary(grid, *, ddof=1):
    """Table 3 of Dodge et al. (2020): expected per-seed SD over WI, over DO, and the total SD.

    Section 4.1: "for each WI and each DO seed the standard deviation in validation performance
    across all trials with that seed", averaged over the seeds of the factor ("aggregated over
    WI" / "over DO"); "Total" is the SD over all trials of the task.

    Parameters
    ----------
    grid : DataFrame or 2-D array, shape (n_wi, n_do)
        Final scores; NaN cells are excluded from every SD and counted in ``n_missing``.
    ddof : int, default 1
        As in :func:`per_seed_sd`, used for the per-seed and the total SD alike.

    Returns
    -------
    DataFrame
        Three rows, ``quantity`` ``"wi"``, ``"do"``, ``"total"``; columns:

        - ``quantity`` (str).
        - ``sd`` (float): mean of the per-seed SDs of the factor (seeds whose SD is defined),
          or the SD of all non-missing scores for ``"total"``.
        - ``n_seeds`` (int): seeds averaged (0 for ``"total"``).
        - ``n`` (int): non-missing scores used.
        - ``n_missing`` (int): missing cells of the grid, excluded.
        - ``ddof`` (int).

    Examples
    --------
    >>> import numpy as np
    >>> seed_sd_summary(np.array([[1.0, 3.0], [2.0, 2.0]]))["sd"].round(4).tolist()
    [0.7071, 0.7071, 0.8165]
    """
    ddof = check_int("ddof", ddof, 0)
    Y, _, _ = _grid_array(grid, min_size=1)
    per = per_seed_sd(grid, ddof=ddof)
    vals = Y[~np.isnan(Y)]
    n_missing = int(np.isnan(Y).sum())
    rows = []
    for factor in FACTORS:
        sds = per.loc[per["factor"] == factor, "sd"].dropna()
        rows.append({"quantity": factor, "sd": float(sds.mean()) if len(sds) else np.nan,
                     "n_seeds": int(len(sds)), "n": int(vals.size), "n_missing": n_missing,
                     "ddof": ddof})
    total = float(np.std(vals, ddof=ddof)) if vals.size > ddof else np.nan
    rows.append({"quantity": "total", "sd": total, "n_seeds": 0, "n": int(vals.size),
                 "n_missing": n_missing, "ddof": ddof})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# variance components of the crossed design
# ---------------------------------------------------------------------------------------------


def _complete_subgrid(Y):
    """Drop WI rows / DO columns with missing cells (greedy) until the grid is complete.

    Each round drops the row or column with the largest fraction of missing cells (ties: the
    one that loses fewer observed scores; then rows before columns, lower index first).
    Returns ``(rows_kept, cols_kept)`` as boolean masks.
    """
    rows = np.ones(Y.shape[0], bool)
    cols = np.ones(Y.shape[1], bool)
    while True:
        miss = np.isnan(Y[np.ix_(rows, cols)])
        if not miss.any():
            return rows, cols
        r_idx, c_idx = np.flatnonzero(rows), np.flatnonzero(cols)
        r_miss, c_miss = miss.sum(axis=1), miss.sum(axis=0)
        r_frac, c_frac = r_miss / cols.sum(), c_miss / rows.sum()
        r_best, c_best = int(np.argmax(r_frac)), int(np.argmax(c_frac))
        r_key = (r_frac[r_best], -(cols.sum() - r_miss[r_best]))
        c_key = (c_frac[c_best], -(rows.sum() - c_miss[c_best]))
        if r_key >= c_key:
            rows[r_idx[r_best]] = False
        else:
            cols[c_idx[c_best]] = False
        if rows.sum() < 2 or cols.sum() < 2:
            return rows, cols


def _two_way_ms(Y):
    """Mean squares of the additive two-way ANOVA of complete grids ``Y`` (..., I, J)."""
    I, J = Y.shape[-2:]
    grand = Y.mean(axis=(-2, -1), keepdims=True)
    rm = Y.mean(axis=-1, keepdims=True)
    cm = Y.mean(axis=-2, keepdims=True)
    ms_a = J * ((rm - grand) ** 2).sum(axis=(-2, -1)) / (I - 1)
    ms_b = I * ((cm - grand) ** 2).sum(axis=(-2, -1)) / (J - 1)
    ms_e = ((Y - rm - cm + grand) ** 2).sum(axis=(-2, -1)) / ((I - 1) * (J - 1))
    return ms_a, ms_b, ms_e


@functools.lru_cache(maxsize=256)
def _f_left(p, n1, n2=None):
    """F quantile with area ``p`` to the left; ``n2=None`` means infinite df (chi2 / n1)."""
    from scipy import stats

    if n2 is None:
        return float(stats.chi2.ppf(p, n1) / n1)
    return float(stats.f.ppf(p, n1, n2))


def _mls_difference(c1, s1, n1, c2, s2, n2, level):
    """Modified large-sample interval for ``c1*s1 - c2*s2`` (s = mean squares, c >= 0).

    Ting, Burdick, Graybill, Jeyaratnam & Lu (1990); Burdick & Graybill (1992), eq. 3.8-3.9.
    Quantiles ``F_{p: a, b}`` have area ``p`` to the left.
    """
    a = (1.0 - level) / 2.0
    g1, h1 = 1 - 1 / _f_left(1 - a, n1), 1 / _f_left(a, n1) - 1
    g2, h2 = 1 - 1 / _f_left(1 - a, n2), 1 / _f_left(a, n2) - 1
    f_hi, f_lo = _f_left(1 - a, n1, n2), _f_left(a, n1, n2)
    g12 = ((f_hi - 1) ** 2 - g1 ** 2 * f_hi ** 2 - h2 ** 2) / f_hi
    h12 = ((1 - f_lo) ** 2 - h1 ** 2 * f_lo ** 2 - g2 ** 2) / f_lo
    est = c1 * s1 - c2 * s2
    v_low = g1 ** 2 * c1 ** 2 * s1 ** 2 + h2 ** 2 * c2 ** 2 * s2 ** 2 + g12 * c1 * c2 * s1 * s2
    v_up = h1 ** 2 * c1 ** 2 * s1 ** 2 + g2 ** 2 * c2 ** 2 * s2 ** 2 + h12 * c1 * c2 * s1 * s2
    return est - np.sqrt(max(v_low, 0.0)), est + np.sqrt(max(v_up, 0.0))


def _mls_sum(cs, ss, ns, level):
    """Graybill-Wang (1980) interval for ``sum(c*s)`` with every ``c >= 0``."""
    a = (1.0 - level) / 2.0
    est = sum(c * s for c, s in zip(cs, ss))
    v_low = sum(((1 - 1 / _f_left(1 - a, n)) * c * s) ** 2 for c, s, n in zip(cs, ss, ns))
    v_up = sum(((1 / _f_left(a, n) - 1) * c * s) ** 2 for c, s, n in zip(cs, ss, ns))
    return est - np.sqrt(v_low), est + np.sqrt(v_up)


def variance_components(grid, *, level=0.95):
    """Variance components of the crossed WI x DO random-effects model (beyond the paper).

    Section 4.1 of Dodge et al. (2020) compares per-seed SDs (Table 3); the grid is a crossed
    design, so the share of variance due to each seed can be estimated directly. The model is

        score[i, j] = mu + a[i] + b[j] + e[i, j],
        a ~ N(0, var_wi), b ~ N(0, var_do), e ~ N(0, var_residual),

    with one trial per cell, so the WI x DO interaction cannot be told apart from noise: it is
    part of ``residual``. Estimates are the closed-form ANOVA (method-of-moments, expected mean
    squares) estimators of the balanced design, which equal REML when none is negative:
    ``var_wi = (MS_wi - MS_res) / n_do``, ``var_do = (MS_do - MS_res) / n_wi``,
    ``var_residual = MS_res``.

    Confidence intervals: ``residual`` exact (chi-square); ``wi`` and ``do`` by the modified
    large-sample (MLS) method for a difference of mean squares (Ting et al. 1990; Burdick &
    Graybill 1992), whose coverage is close to nominal for balanced designs; ``total`` by the
    Graybill-Wang MLS interval for a positive combination of mean squares. Bounds below zero
    are set to zero. No interval is given for the shares.

    Parameters
    ----------
    grid : DataFrame or 2-D array, shape (n_wi, n_do)
        Final scores. The estimators need a complete grid: when cells are missing (NaN), WI rows
        and DO columns holding them are dropped (greedily, the line with most missing cells
        first) and the losses reported in ``n_missing``, ``n_dropped``, ``n_wi``, ``n_do``.
    level : float, default 0.95
        Coverage of the two-sided intervals.

    Returns
    -------
    DataFrame
        Rows ``component`` = ``"wi"``, ``"do"``, ``"residual"``, ``"total"``; columns:

        - ``component`` (str).
        - ``df`` (float): degrees of freedom of the component's mean square (NaN for total).
        - ``mean_square`` (float): its ANOVA mean square (NaN for total).
        - ``estimate`` (float): the method-of-moments estimate, which can be negative.
        - ``variance`` (float): ``estimate`` truncated at zero (total: sum of the truncated).
        - ``sd`` (float): ``sqrt(variance)``, on the score's scale.
        - ``share`` (float): ``variance / total variance`` (shares sum to 1).
        - ``ci_low``, ``ci_high`` (float): interval for the variance at ``level``.
        - ``ci_method`` (str): ``"MLS"``, ``"chi2"`` or ``"Graybill-Wang"``.
        - ``n_wi``, ``n_do`` (int): seeds in the complete grid used.
        - ``n_missing`` (int): missing cells of the input grid.
        - ``n_dropped`` (int): observed scores dropped with the incomplete rows/columns.

    Raises
    ------
    ValueError
        Fewer than 2 x 2 complete cells remain, a non-finite score, ``level`` outside (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> vc = variance_components(np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 6.0]]))
    >>> vc.set_index("component")["estimate"].round(4).to_dict()  # 8/3, 13/6, 1/6
    {'wi': 2.6667, 'do': 2.1667, 'residual': 0.1667, 'total': 5.0}
    """
    level = _check_level(level)
    Y, _, _ = _grid_array(grid)
    n_missing = int(np.isnan(Y).sum())
    rows, cols = _complete_subgrid(Y)
    if rows.sum() < 2 or cols.sum() < 2:
        raise ValueError("grid: variance components need a complete grid of at least 2 x 2 "
                         f"scores; only {rows.sum()} x {cols.sum()} complete WI x DO cells "
                         f"remain of {Y.shape} ({n_missing} missing)")
    Z = Y[np.ix_(rows, cols)]
    n_dropped = int((~np.isnan(Y)).sum() - Z.size)
    I, J = Z.shape
    ms_a, ms_b, ms_e = (float(v) for v in _two_way_ms(Z))
    df_a, df_b, df_e = I - 1, J - 1, (I - 1) * (J - 1)
    est = {"wi": (ms_a - ms_e) / J, "do": (ms_b - ms_e) / I, "residual": ms_e}
    var = {k: max(v, 0.0) for k, v in est.items()}
    total = sum(var.values())

    a = (1.0 - level) / 2.0
    ci = {
        "wi": _mls_difference(1 / J, ms_a, df_a, 1 / J, ms_e, df_e, level),
        "do": _mls_difference(1 / I, ms_b, df_b, 1 / I, ms_e, df_e, level),
        "residual": (ms_e / _f_left(1 - a, df_e), ms_e / _f_left(a, df_e)),
        # var_wi + var_do + var_res = MS_a/J + MS_b/I + (1 - 1/I - 1/J) MS_e, all c >= 0
        "total": _mls_sum((1 / J, 1 / I, 1 - 1 / I - 1 / J), (ms_a, ms_b, ms_e),
                          (df_a, df_b, df_e), level),
    }
    method = {"wi": "MLS", "do": "MLS", "residual": "chi2", "total": "Graybill-Wang"}
    ms = {"wi": (df_a, ms_a), "do": (df_b, ms_b), "residual": (df_e, ms_e),
          "total": (np.nan, np.nan)}
    est["total"] = sum(est.values())
    var["total"] = total
    out = []
    for comp in ("wi", "do", "residual", "total"):
        lo, hi = ci[comp]
        out.append({
            "component": comp, "df": float(ms[comp][0]), "mean_square": ms[comp][1],
            "estimate": est[comp], "variance": var[comp], "sd": float(np.sqrt(var[comp])),
            "share": var[comp] / total if total > 0 else np.nan,
            "ci_low": max(float(lo), 0.0), "ci_high": max(float(hi), 0.0),
            "ci_method": method[comp], "n_wi": I, "n_do": J, "n_missing": n_missing,
            "n_dropped": n_dropped,
        })
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# Table 4 and a valid test
# ---------------------------------------------------------------------------------------------


def best_worst_anova(grid, factor="wi"):
    """Table 4 of Dodge et al. (2020): one-way ANOVA between the best and the worst seed.

    Section 4.2: seeds of ``factor`` are ranked by their mean score; the scores of the best
    and of the worst seed (each over the other factor's seeds) are compared with a one-way
    ANOVA (``scipy.stats.f_oneway``; with two groups, the pooled two-sample t-test).

    **This p-value is post-selection and not a valid test.** The two groups were chosen after
    looking at the data as the extremes of ``n`` seed means, so even when no seed matters it is
    small: on a 25 x 25 grid of pure noise it falls below 0.05 about 90% of the time. It is
    reported to reproduce the paper; use :func:`seed_permutation_test` for a valid answer.

    Parameters
    ----------
    grid : DataFrame or 2-D array, shape (n_wi, n_do)
        Final scores; NaN cells are excluded (counted in ``n_missing``).
    factor : {"wi", "do"}, default "wi"
        Compare WI seeds (rows) or DO seeds (columns).

    Returns
    -------
    DataFrame
        One row; columns:

        - ``factor`` (str).
        - ``best_seed``, ``worst_seed``: labels of the seeds with the highest and lowest mean
          (ties: the first in grid order).
        - ``best_mean``, ``worst_mean`` (float).
        - ``n_best``, ``n_worst`` (int): scores in each group.
        - ``F`` (float), ``p_value`` (float): the one-way ANOVA.
        - ``selection`` (str): always ``"post-selection"``, a reminder that ``p_value`` is
          not a valid test.
        - ``n_missing`` (int): missing cells of the grid.

    Examples
    --------
    >>> import numpy as np
    >>> r = best_worst_anova(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0], [2.0, 2.0, 3.0]]))
    >>> r[["best_seed", "worst_seed", "F"]].round(4).to_dict("records")  # [4, 5, 7] vs [1, 2, 3]
    [{'best_seed': 1, 'worst_seed': 0, 'F': 10.0}]
    """
    from scipy import stats

    factor = _check_factor(factor)
    Y, wi, do = _grid_array(grid)
    M, labels, _ = _orient(Y, wi, do, factor)
    means = nan_means(M)
    if np.isnan(means).all():
        raise ValueError("grid: every score is missing (NaN)")
    b, w = int(np.nanargmax(means)), int(np.nanargmin(means))
    xb, xw = M[b][~np.isnan(M[b])], M[w][~np.isnan(M[w])]
    with warnings.catch_warnings():
        # Degenerate groups (constant scores, a single score) give NaN or inf, not an error.
        warnings.simplefilter("ignore")
        res = stats.f_oneway(xb, xw)
    return pd.DataFrame([{
        "factor": factor, "best_seed": _label(labels[b]), "worst_seed": _label(labels[w]),
        "best_mean": float(means[b]), "worst_mean": float(means[w]),
        "n_best": int(xb.size), "n_worst": int(xw.size),
        "F": float(res.statistic), "p_value": float(res.pvalue),
        "selection": "post-selection", "n_missing": int(np.isnan(Y).sum()),
    }])


def _spread(means):
    """Variance (ddof=0) and range of seed means along the last axis, NaN-aware."""
    if not np.isnan(means).any():
        return means.var(axis=-1), means.max(axis=-1) - means.min(axis=-1)
    ok = ~np.isnan(means)
    k = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(ok, means, 0.0).sum(axis=-1) / k
        var = (np.where(ok, means - mu[..., None], 0.0) ** 2).sum(axis=-1) / k
    rng_ = np.nanmax(np.where(ok, means, -np.inf), axis=-1) - np.nanmin(
        np.where(ok, means, np.inf), axis=-1)
    return var, rng_


def seed_permutation_test(grid, factor="wi", *, n_perm=10_000, rng=None):
    """A valid test that seeds of one factor differ: shuffle its labels within the other factor.

    The valid counterpart of Table 4 of Dodge et al. (2020) (Section 4.2). Under the null
    hypothesis that the ``factor`` seed has no effect, the scores within each level of the
    *other* factor are exchangeable across ``factor`` seeds (whatever the other factor does).
    So the WI labels are permuted independently within each DO column (for ``factor="wi"``;
    DO labels within each WI row for ``"do"``), and the spread of the seed means is recomputed.
    Two statistics of the same permutations are reported:

    - ``var``: the variance of the seed means. With a complete grid this is equivalent to the
      F statistic of the factor in the additive two-way ANOVA (column means, and hence the
      total sum of squares after removing them, are unchanged by the permutations).
    - ``range``: best mean minus worst mean, the quantity Table 4 looks at, compared with its
      distribution over permutations rather than with an F table.

    p-values are ``(1 + #{permuted >= observed}) / (1 + n_perm)`` (exact size for any
    ``n_perm``; ``>=`` with a relative tolerance of 1e-9 so rounding cannot split ties).
    Missing cells (NaN) stay missing; they move with the shuffle within their column, which
    keeps the test valid when cells are missing independently of the seeds; means are over the
    non-missing scores.

    Parameters
    ----------
    grid : DataFrame or 2-D array, shape (n_wi, n_do)
        Final scores.
    factor : {"wi", "do"}, default "wi"
        The factor tested.
    n_perm : int, default 10000
        Number of permutations (>= 1).
    rng : None, int or numpy.random.Generator
        Source of the permutations. An int seed or a Generator gives identical output for the
        same seed; ``None`` uses fresh OS entropy. The global NumPy state is never used.

    Returns
    -------
    DataFrame
        One row; columns:

        - ``factor`` (str).
        - ``stat_var`` (float): observed variance (ddof=0) of the seed means.
        - ``p_var`` (float): permutation p-value of ``stat_var``.
        - ``stat_range`` (float): observed best minus worst seed mean.
        - ``p_range`` (float): permutation p-value of ``stat_range``.
        - ``n_perm`` (int).
        - ``n_seeds`` (int): seeds of ``factor``; ``n_other`` (int): levels shuffled within.
        - ``n_missing`` (int): missing cells of the grid.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(1).normal(size=(8, 8))
    >>> r = seed_permutation_test(g, "wi", n_perm=999, rng=0)
    >>> bool(0 < r.loc[0, "p_var"] <= 1), int(r.loc[0, "n_perm"])
    (True, 999)
    """
    factor = _check_factor(factor)
    n_perm = check_int("n_perm", n_perm, 1)
    gen = as_generator(rng)
    Y, wi, do = _grid_array(grid)
    M, labels, _ = _orient(Y, wi, do, factor)
    has_nan = bool(np.isnan(M).any())
    obs_var, obs_range = (float(v) for v in _spread(nan_means(M, has_nan=has_nan)))
    I, J = M.shape
    tol_var = 1e-9 * max(abs(obs_var), np.finfo(float).tiny)
    tol_range = 1e-9 * max(abs(obs_range), np.finfo(float).tiny)
    ge_var = ge_range = 0
    block = max(1, BLOCK_ELEMENTS // (I * J))
    done = 0
    while done < n_perm:
        b = min(block, n_perm - done)
        P = gen.permuted(np.broadcast_to(M, (b, I, J)), axis=1)
        v, r = _spread(nan_means(P, has_nan=has_nan))
        ge_var += int((v >= obs_var - tol_var).sum())
        ge_range += int((r >= obs_range - tol_range).sum())
        done += b
    return pd.DataFrame([{
        "factor": factor, "stat_var": obs_var, "p_var": (1 + ge_var) / (1 + n_perm),
        "stat_range": obs_range, "p_range": (1 + ge_range) / (1 + n_perm), "n_perm": n_perm,
        "n_seeds": I, "n_other": J, "n_missing": int(np.isnan(Y).sum()),
    }])

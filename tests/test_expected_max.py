"""Tests for seedstats.stats.expected_max (Dodge et al. 2020, Section 3.1 and Figure 1).

Every estimate is checked against an independent computation: exact rational arithmetic
(order-statistic weights, and brute-force enumeration of every n-tuple / n-subset), exact big
integer sums at N = 2,100, closed forms at N = 100,000 and 1,000,000, a naive leave-one-out loop
for the jackknife, a per-resample loop and scipy.stats.bootstrap for the bootstrap, and Monte
Carlo simulation of the best of n.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedstats.stats.expected_max import (
    _bootstrap_estimates,
    _resample_indices,
    expected_max,
    expected_max_curve,
)

# Unsorted, with ties (1, 1), (3, 3), (5, 5).
SMALL = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
# Floats (converted exactly to Fractions), unsorted, with ties.
SMALL_FLOAT = [0.71, 0.5, 0.71, 0.68, 0.5, 0.9, 0.655]

COLUMNS = [
    "n",
    "expected_max",
    "sd_max",
    "lower_sd",
    "upper_sd",
    "se_jackknife",
    "ci_low",
    "ci_high",
]


# ----------------------------------------------------------------------------------------------
# independent references in exact arithmetic
# ----------------------------------------------------------------------------------------------


def _exact(values):
    return [Fraction(v) for v in values]


def ref_order_statistics(scores, n, replace):
    """(E[max], E[max^2]) from exact order-statistic weights (1-based i over sorted scores)."""
    xs = sorted(_exact(scores))
    size = len(xs)
    e1 = e2 = Fraction(0)
    for i, x in enumerate(xs, start=1):
        if replace:
            w = Fraction(i, size) ** n - Fraction(i - 1, size) ** n
        else:
            w = Fraction(math.comb(i - 1, n - 1), math.comb(size, n))
        e1 += w * x
        e2 += w * x * x
    return e1, e2


def ref_enumerate(scores, n, replace):
    """(E[max], E[max^2]) by enumerating every n-tuple (with) or n-subset (without) of trials."""
    xs = _exact(scores)
    draws = (
        itertools.product(xs, repeat=n) if replace else itertools.combinations(xs, n)
    )
    total = total2 = Fraction(0)
    count = 0
    for draw in draws:
        best = max(draw)
        total += best
        total2 += best * best
        count += 1
    return total / count, total2 / count


def ref_jackknife_se(scores, n, replace):
    """Naive leave-one-out jackknife SE, every estimate from exact order-statistic weights."""
    size = len(scores)
    loo = [ref_order_statistics(scores[:j] + scores[j + 1 :], n, replace)[0] for j in range(size)]
    mean = sum(loo) / size
    return math.sqrt(float(Fraction(size - 1, size) * sum((t - mean) ** 2 for t in loo)))


def naive_jackknife_se(scores, n, replace):
    """Naive leave-one-out loop over expected_max itself (checks the O(N) algebra)."""
    x = np.asarray(scores, dtype=float)
    loo = np.array([expected_max(np.delete(x, j), n, replace=replace) for j in range(x.size)])
    return math.sqrt((x.size - 1) / x.size * np.sum((loo - loo.mean()) ** 2))


# ----------------------------------------------------------------------------------------------
# exact values on small inputs, two independent ways
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scores", [SMALL, SMALL_FLOAT], ids=["ints", "floats"])
@pytest.mark.parametrize(
    ("replace", "ns"), [(True, [1, 2, 3, 4]), (False, list(range(1, 8)))], ids=["with", "without"]
)
def test_exact_fractions_two_ways(scores, replace, ns):
    for n in ns:
        by_weights = ref_order_statistics(scores, n, replace)
        by_enumeration = ref_enumerate(scores, n, replace)
        assert by_weights == by_enumeration  # the two references agree exactly
        got = expected_max(scores, n, replace=replace)
        assert got == pytest.approx(float(by_weights[0]), rel=1e-13, abs=1e-13)
        df = expected_max_curve(scores, n, replace=replace, n_boot=0)
        exact_var = by_weights[1] - by_weights[0] ** 2
        assert df["sd_max"].iloc[0] == pytest.approx(math.sqrt(exact_var), rel=1e-10, abs=1e-13)


def test_exact_hand_values():
    # Sorted 0.5, 0.6, 0.7. With replacement, n = 2: weights 1/9, 3/9, 5/9.
    assert expected_max([0.5, 0.7, 0.6], 2) == pytest.approx(5.8 / 9, rel=1e-15)
    # Without: subsets {.5,.6}, {.5,.7}, {.6,.7} -> maxima .6, .7, .7.
    assert expected_max([0.5, 0.7, 0.6], 2, replace=False) == pytest.approx(2.0 / 3, rel=1e-15)
    # SD of the best of 2 with replacement: E[max^2] - E[max]^2 by hand.
    e1 = Fraction(58, 90)
    e2 = (Fraction(1, 9) * Fraction(1, 4) + Fraction(3, 9) * Fraction(9, 25)
          + Fraction(5, 9) * Fraction(49, 100))
    sd = expected_max_curve([0.5, 0.7, 0.6], 2, n_boot=0)["sd_max"].iloc[0]
    assert sd == pytest.approx(math.sqrt(e2 - e1**2), rel=1e-12)


def test_curve_array_matches_exact():
    for replace in (True, False):
        curve = expected_max(SMALL, replace=replace)
        assert isinstance(curve, np.ndarray) and curve.dtype == np.float64
        assert curve.shape == (len(SMALL),)
        exact = [float(ref_order_statistics(SMALL, n, replace)[0]) for n in range(1, 11)]
        np.testing.assert_allclose(curve, exact, rtol=1e-13, atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=6),
    n=st.integers(min_value=1, max_value=4),
    replace=st.booleans(),
)
def test_enumeration_random_small_inputs(scores, n, replace):
    if not replace and n > len(scores):
        with pytest.raises(ValueError, match="n must be at most"):
            expected_max(scores, n, replace=replace)
        return
    exact, _ = ref_enumerate(scores, n, replace)
    assert expected_max(scores, n, replace=replace) == pytest.approx(
        float(exact), rel=1e-12, abs=1e-12
    )


# ----------------------------------------------------------------------------------------------
# properties (hypothesis)
# ----------------------------------------------------------------------------------------------

_finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
_scores = st.lists(_finite | st.integers(-5, 5).map(float), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(scores=_scores)
def test_properties_of_the_curve(scores):
    x = np.asarray(scores)
    lo, hi = x.min(), x.max()
    tol = 1e-12 * (np.abs(x).max() + 1.0)
    with_r = expected_max(x, replace=True)
    without = expected_max(x, replace=False)
    for curve in (with_r, without):
        assert np.all(np.diff(curve) >= -tol)  # monotone in n
        assert np.all(curve >= lo - tol) and np.all(curve <= hi + tol)  # within [min, max]
        assert curve[0] == pytest.approx(x.mean(), rel=1e-12, abs=tol)  # n = 1 is the mean
    assert np.all(without >= with_r - tol)  # unbiased >= with replacement
    assert without[-1] == hi  # n = N without replacement is exactly the maximum
    # with replacement, a budget far beyond N approaches the maximum
    far = expected_max(x, 100 * x.size + 1000, replace=True)
    assert far == pytest.approx(hi, abs=tol + 1e-9 * (hi - lo))


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(_finite, min_size=1, max_size=25),
    a=st.floats(min_value=1e-3, max_value=1e3),
    b=st.floats(min_value=-1e4, max_value=1e4),
    replace=st.booleans(),
)
def test_shift_scale_equivariance(scores, a, b, replace):
    x = np.asarray(scores)
    y = a * x + b
    tol = 1e-11 * (np.abs(y).max() + a * np.abs(x).max() + 1.0)
    ns = np.arange(1, x.size + 1)
    base = expected_max_curve(x, ns, replace=replace, n_boot=0)
    moved = expected_max_curve(y, ns, replace=replace, n_boot=0)
    np.testing.assert_allclose(
        moved["expected_max"], a * base["expected_max"] + b, rtol=0, atol=tol
    )
    np.testing.assert_allclose(moved["sd_max"], a * base["sd_max"], rtol=1e-9, atol=tol)
    assert np.all(base["sd_max"] >= 0)


# ----------------------------------------------------------------------------------------------
# Monte Carlo: simulate the best of n directly
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replace", "n"), [(True, 1), (True, 7), (True, 60), (False, 7), (False, 39), (False, 40)]
)
def test_agrees_with_monte_carlo(replace, n):
    gen = np.random.default_rng(2024)
    # bimodal like MRPC/RTE: some trials diverge to the majority baseline
    scores = np.where(gen.random(40) < 0.2, 0.68, gen.normal(0.85, 0.03, 40))
    sims = 40_000
    sim_gen = np.random.default_rng(99)
    if replace:
        draws = scores[sim_gen.integers(0, scores.size, size=(sims, n))]
    else:
        keys = sim_gen.random((sims, scores.size))
        draws = scores[np.argpartition(keys, n - 1, axis=1)[:, :n]]
    best = draws.max(axis=1)
    row = expected_max_curve(scores, n, replace=replace, n_boot=0).iloc[0]
    se_mean = best.std() / math.sqrt(sims)
    assert abs(best.mean() - row["expected_max"]) <= 4 * se_mean + 1e-12
    centered = (best - row["expected_max"]) ** 2
    se_var = centered.std() / math.sqrt(sims)
    assert abs(centered.mean() - row["sd_max"] ** 2) <= 4 * se_var + 1e-12


# ----------------------------------------------------------------------------------------------
# large N: no NaN, no inf, exact where exact is affordable
# ----------------------------------------------------------------------------------------------


def test_n_2100_exact_big_integers():
    gen = np.random.default_rng(1)
    counts = gen.integers(150, 215, size=2100)  # e.g. correct answers out of 277 (RTE): ties
    xs = sorted(int(c) for c in counts)
    size = len(xs)
    without = expected_max(counts, replace=False)
    with_r = expected_max(counts, replace=True)
    assert np.isfinite(without).all() and np.isfinite(with_r).all()
    for n in (1, 2, 50, 1050, 2099, 2100):
        numer = sum(x * math.comb(k, n - 1) for k, x in enumerate(xs))
        exact = Fraction(numer, math.comb(size, n))
        assert without[n - 1] == pytest.approx(float(exact), rel=1e-12)
        assert expected_max(counts, n, replace=False) == without[n - 1]
    for n in (1, 7, 300, 2100):
        numer = sum(x * ((k + 1) ** n - k**n) for k, x in enumerate(xs))
        exact = Fraction(numer, size**n)
        assert with_r[n - 1] == pytest.approx(float(exact), rel=1e-12)


def test_n_100000_without_replacement_is_finite_and_exact():
    from scipy.special import gammaln

    gen = np.random.default_rng(3)
    x = gen.normal(0.8, 0.05, size=100_000)
    xs = np.sort(x)
    size = x.size
    ns = [1, 2, 10, 1000, 50_000, 99_999, 100_000]
    values = np.array([expected_max(x, n, replace=False) for n in ns])
    assert np.isfinite(values).all()
    assert np.all(np.diff(values) >= 0)
    assert np.all((values >= xs[0]) & (values <= xs[-1]))
    assert values[0] == pytest.approx(x.mean(), rel=1e-12)
    assert values[-1] == xs[-1]
    k = np.arange(size, dtype=float)  # 0-based position: C(k, 1) / C(N, 2) for n = 2
    assert values[1] == pytest.approx(np.dot(xs, k) / (size * (size - 1) / 2), rel=1e-12)
    # n = 1000 against the log-gamma form of C(k, n-1) / C(N, n) (an independent route)
    n = 1000
    kk = np.arange(n - 1, size, dtype=float)
    logw = (gammaln(kk + 1) - gammaln(n) - gammaln(kk - n + 2)
            - (gammaln(size + 1) - gammaln(n + 1) - gammaln(size - n + 1)))
    assert values[3] == pytest.approx(np.dot(np.exp(logw), xs[n - 1 :]), rel=1e-8)
    curve = expected_max(x, replace=False)  # the whole curve n = 1..100,000
    assert np.isfinite(curve).all() and np.all(np.diff(curve) >= -1e-12)
    np.testing.assert_allclose(curve[np.array(ns) - 1], values, rtol=1e-12)


def test_n_million_with_replacement_closed_form():
    x = np.random.default_rng(4).random(1_000_000)
    xs = np.sort(x)
    size = x.size
    assert expected_max(x, 1) == pytest.approx(x.mean(), rel=1e-12)
    # n = 2: weight of the i-th order statistic is (2i - 1) / N^2
    i = np.arange(1, size + 1, dtype=float)
    assert expected_max(x, 2) == pytest.approx(np.dot(xs, (2 * i - 1) / size**2), rel=1e-12)
    big = expected_max(x, 1_000_000)
    assert np.isfinite(big) and xs[-2] <= big <= xs[-1]


def test_budget_far_beyond_n_gives_the_maximum():
    assert expected_max([0.1, 0.4, 0.3, 0.2, 0.25], 10**6) == 0.4
    assert expected_max([0.1, 0.4, 0.3, 0.2, 0.25], 10**30) == 0.4


def test_constant_scores_and_single_score():
    df = expected_max_curve([0.7] * 9, replace=False, n_boot=50, rng=0)
    np.testing.assert_allclose(df["expected_max"], 0.7, rtol=1e-15)
    np.testing.assert_allclose(df["sd_max"], 0.0, atol=1e-15)
    np.testing.assert_allclose(df["se_jackknife"].iloc[:-1], 0.0, atol=1e-15)
    one = expected_max_curve([0.3], [1, 5], n_boot=10, rng=0)
    assert one["expected_max"].tolist() == [0.3, 0.3]
    assert one["sd_max"].tolist() == [0.0, 0.0]
    assert one["se_jackknife"].isna().all()  # undefined with one trial


# ----------------------------------------------------------------------------------------------
# jackknife
# ----------------------------------------------------------------------------------------------


def test_jackknife_matches_exact_naive_loop():
    scores = [3, 1, 4, 1, 5, 9]
    for replace, ns in ((True, [1, 2, 3, 6, 11]), (False, [1, 2, 3, 5])):
        df = expected_max_curve(scores, ns, replace=replace, n_boot=0)
        expected = [ref_jackknife_se(scores, n, replace) for n in ns]
        np.testing.assert_allclose(df["se_jackknife"], expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("replace", [True, False])
def test_jackknife_matches_naive_loop_with_ties(replace):
    gen = np.random.default_rng(5)
    scores = np.round(gen.normal(0.8, 0.1, 60), 2)  # rounding creates ties
    ns = [1, 2, 3, 10, 30, 59] + ([60, 200] if replace else [])
    df = expected_max_curve(scores, ns, replace=replace, n_boot=0)
    expected = [naive_jackknife_se(scores, n, replace) for n in ns]
    np.testing.assert_allclose(df["se_jackknife"], expected, rtol=1e-9, atol=1e-15)
    if not replace:
        full = expected_max_curve(scores, 60, replace=False, n_boot=0)
        assert math.isnan(full["se_jackknife"].iloc[0])  # N - 1 trials cannot give n = N


# ----------------------------------------------------------------------------------------------
# bootstrap
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("replace", [True, False])
def test_bootstrap_equals_per_resample_loop(replace):
    gen = np.random.default_rng(6)
    scores = np.round(gen.normal(0.8, 0.1, 25), 2)
    xs = np.sort(scores)
    ns = np.array([1, 3, 12, 25])
    idx = _resample_indices(np.random.default_rng(7), xs.size, 300)
    assert idx.shape == (300, 25)
    assert np.all(np.diff(idx.astype(int), axis=1) >= 0)  # sorted resamples
    est = _bootstrap_estimates(xs, ns.astype(float), replace, idx)
    loop = np.array(
        [[expected_max(xs[row], int(n), replace=replace) for row in idx] for n in ns]
    )
    np.testing.assert_allclose(est, loop, rtol=1e-12, atol=1e-14)
    df = expected_max_curve(scores, ns, replace=replace, ci=0.9, n_boot=300, rng=7)
    np.testing.assert_allclose(df["ci_low"], np.quantile(loop, 0.05, axis=1), rtol=1e-12)
    np.testing.assert_allclose(df["ci_high"], np.quantile(loop, 0.95, axis=1), rtol=1e-12)


def test_resamples_are_uniform():
    idx = _resample_indices(np.random.default_rng(8), 40, 5000)
    counts = np.bincount(idx.ravel().astype(int), minlength=40)
    # each index is drawn 5000 times on average; Poisson-like sd about sqrt(5000) = 71
    assert np.all(np.abs(counts - 5000) < 6 * math.sqrt(5000))
    per_row = np.array([np.bincount(r.astype(int), minlength=40) for r in idx[:200]])
    assert per_row.sum(axis=1).tolist() == [40] * 200


def test_bootstrap_of_the_mean_agrees_with_scipy():
    from scipy.stats import bootstrap

    scores = np.random.default_rng(9).normal(0.8, 0.05, 50)
    ours = expected_max_curve(scores, 1, ci=0.9, n_boot=20_000, rng=10).iloc[0]
    theirs = bootstrap(
        (scores,), np.mean, confidence_level=0.9, n_resamples=20_000, method="percentile",
        rng=np.random.default_rng(11),
    ).confidence_interval
    se = scores.std() / math.sqrt(scores.size)
    assert abs(ours["ci_low"] - theirs.low) < 0.05 * se
    assert abs(ours["ci_high"] - theirs.high) < 0.05 * se
    assert ours["ci_low"] < ours["expected_max"] < ours["ci_high"]


def test_bootstrap_under_covers_as_n_approaches_n_total():
    """The documented limitation: nominal 90% intervals, true E[max of n] of N(0, 1) scores."""
    from scipy import integrate, stats

    size, ns = 40, [1, 40]
    truth = np.array([
        integrate.quad(lambda t, n=n: t * n * stats.norm.pdf(t) * stats.norm.cdf(t) ** (n - 1),
                       -12, 12)[0]
        for n in ns
    ])
    gen = np.random.default_rng(14)
    reps = 200
    hits = np.zeros(len(ns))
    for _ in range(reps):
        df = expected_max_curve(gen.normal(size=size), ns, replace=False, ci=0.9,
                                n_boot=300, rng=gen)
        hits += ((df["ci_low"] <= truth) & (truth <= df["ci_high"])).to_numpy()
    coverage = hits / reps
    assert coverage[0] > 0.8  # the mean: close to nominal
    assert coverage[1] < 0.65  # the sample maximum: far below nominal


def test_same_seed_same_output_and_seed_is_used():
    scores = np.random.default_rng(12).normal(size=30)
    a = expected_max_curve(scores, rng=123, n_boot=200)
    b = expected_max_curve(scores, rng=123, n_boot=200)
    pd.testing.assert_frame_equal(a, b)
    c = expected_max_curve(scores, rng=np.random.default_rng(123), n_boot=200)
    pd.testing.assert_frame_equal(a, c)
    d = expected_max_curve(scores, rng=124, n_boot=200)
    assert not np.allclose(a["ci_low"], d["ci_low"])
    # bootstrap values for one budget do not depend on which other budgets were asked for
    e = expected_max_curve(scores, [5], rng=123, n_boot=200)
    assert e["ci_low"].iloc[0] == a["ci_low"].iloc[4]


def test_global_numpy_seed_has_no_effect():
    scores = np.random.default_rng(13).normal(size=20)
    np.random.seed(0)
    a = expected_max_curve(scores, rng=5, n_boot=100)
    np.random.seed(1)
    b = expected_max_curve(scores, rng=5, n_boot=100)
    pd.testing.assert_frame_equal(a, b)
    state = np.random.get_state()[1].copy()
    expected_max_curve(scores, rng=None, n_boot=100)
    assert np.array_equal(np.random.get_state()[1], state)  # global state untouched


def test_no_bootstrap_and_unseeded():
    df = expected_max_curve(SMALL, n_boot=0)
    assert df["ci_low"].isna().all() and df["ci_high"].isna().all()
    assert df["se_jackknife"].notna().all()
    fresh = expected_max_curve(SMALL, n_boot=50, rng=None)
    assert np.isfinite(fresh[["ci_low", "ci_high"]].to_numpy()).all()
    assert np.all(fresh["ci_low"] <= fresh["ci_high"])


# ----------------------------------------------------------------------------------------------
# the DataFrame
# ----------------------------------------------------------------------------------------------


def test_curve_frame_layout_and_consistency():
    scores = np.where(np.arange(30) % 5 == 0, 0.5, np.linspace(0.8, 0.9, 30))  # diverged runs
    df = expected_max_curve(scores, rng=0, n_boot=100)
    assert list(df.columns) == COLUMNS
    assert df["n"].dtype == np.int64 and df["n"].tolist() == list(range(1, 31))
    assert all(df[c].dtype == np.float64 for c in COLUMNS[1:])
    np.testing.assert_allclose(df["expected_max"], expected_max(scores), rtol=1e-15)
    # clipped band stays within the observed range, and clipping is active at small n here
    assert (df["lower_sd"] >= scores.min()).all() and (df["upper_sd"] <= scores.max()).all()
    raw_upper = df["expected_max"] + df["sd_max"]
    assert (raw_upper > scores.max()).any()
    np.testing.assert_allclose(df["upper_sd"], np.minimum(raw_upper, scores.max()))
    unclipped = expected_max_curve(scores, clip=False, n_boot=0)
    np.testing.assert_allclose(unclipped["lower_sd"], df["expected_max"] - df["sd_max"])
    np.testing.assert_allclose(unclipped["upper_sd"], raw_upper)


def test_curve_keeps_requested_order_and_duplicates():
    df = expected_max_curve(SMALL, [5, 1, 5, 3], n_boot=20, rng=1)
    assert df["n"].tolist() == [5, 1, 5, 3]
    assert df.iloc[0].equals(df.iloc[2])
    assert df["expected_max"].iloc[1] == pytest.approx(np.mean(SMALL), rel=1e-14)
    np.testing.assert_allclose(
        df["expected_max"], [expected_max(SMALL, n) for n in [5, 1, 5, 3]], rtol=1e-15
    )


# ----------------------------------------------------------------------------------------------
# inputs and return types
# ----------------------------------------------------------------------------------------------


def test_accepts_lists_arrays_series_and_does_not_mutate():
    values = [0.8, 0.6, 0.9, 0.6, 0.7]
    original = list(values)
    expected = float(ref_order_statistics(values, 3, True)[0])
    arr = np.array(values)
    inputs = [
        values,
        tuple(values),
        arr,
        pd.Series(values, index=[10, 3, 7, 1, 0]),
        pd.Series(values, dtype="Float64"),
    ]
    for inp in inputs:
        assert expected_max(inp, 3) == pytest.approx(expected, rel=1e-14)
    assert values == original  # allentune sorted the caller's list in place; we do not
    assert arr.tolist() == original
    assert expected_max(np.array([3, 1, 2]), 1) == 2.0  # integer arrays
    single = np.array(values, dtype=np.float32)  # float32 scores are used at their exact value
    exact32 = float(ref_order_statistics([float(v) for v in single], 3, True)[0])
    assert expected_max(single, 3) == pytest.approx(exact32, rel=1e-14)
    assert expected_max(pd.Series([1, 3, 2], dtype="Int64"), 1) == 2.0


def test_return_types():
    got = expected_max(SMALL, 3)
    assert type(got) is float
    assert expected_max(SMALL, np.int64(3)) == got
    assert expected_max(SMALL, np.uint8(3), replace=False) == expected_max(SMALL, 3, replace=False)
    curve = expected_max(SMALL)
    assert isinstance(curve, np.ndarray) and curve.shape == (10,)
    assert curve[2] == got


_ERRORS = [
    (lambda: expected_max([]), ValueError, "scores"),
    (lambda: expected_max(np.array([])), ValueError, "scores"),
    (lambda: expected_max([0.5, float("nan")]), ValueError, "scores"),
    (lambda: expected_max([0.5, float("inf")]), ValueError, "scores"),
    (lambda: expected_max([0.5, -np.inf]), ValueError, "scores"),
    (lambda: expected_max([0.5, None]), ValueError, "scores"),
    (lambda: expected_max(pd.Series([0.5, None], dtype="Float64")), ValueError, "scores"),
    (lambda: expected_max([[0.5, 0.6], [0.7, 0.8]]), ValueError, "scores"),
    (lambda: expected_max(pd.DataFrame({"a": [0.5, 0.6]})), ValueError, "scores"),
    (lambda: expected_max(0.5), ValueError, "scores"),
    (lambda: expected_max(["0.5", "0.6"]), TypeError, "scores"),
    (lambda: expected_max(pd.Series(["a", "b"])), TypeError, "scores"),
    (lambda: expected_max([0.5, "x"]), TypeError, "scores"),
    (lambda: expected_max("0.5"), TypeError, "scores"),
    (lambda: expected_max(None), TypeError, "scores"),
    (lambda: expected_max([1 + 2j]), TypeError, "scores"),
    (lambda: expected_max(SMALL, 0), ValueError, "n"),
    (lambda: expected_max(SMALL, -3), ValueError, "n"),
    (lambda: expected_max(SMALL, 11, replace=False), ValueError, "n"),
    (lambda: expected_max(SMALL, 2.0), TypeError, "n"),
    (lambda: expected_max(SMALL, 2.5), TypeError, "n"),
    (lambda: expected_max(SMALL, True), TypeError, "n"),
    (lambda: expected_max(SMALL, "3"), TypeError, "n"),
    (lambda: expected_max(SMALL, np.float64(3)), TypeError, "n"),
    (lambda: expected_max(SMALL, 3, replace="no"), TypeError, "replace"),
    (lambda: expected_max(SMALL, 3, replace=None), TypeError, "replace"),
    (lambda: expected_max_curve(SMALL, [1, 0]), ValueError, "n"),
    (lambda: expected_max_curve(SMALL, []), ValueError, "n"),
    (lambda: expected_max_curve(SMALL, [1.0, 2.0]), TypeError, "n"),
    (lambda: expected_max_curve(SMALL, [[1, 2]]), ValueError, "n"),
    (lambda: expected_max_curve(SMALL, [3, 11], replace=False), ValueError, "n"),
    (lambda: expected_max_curve(SMALL, 2.0), TypeError, "n"),
    (lambda: expected_max_curve(SMALL, ci=1.5), ValueError, "ci"),
    (lambda: expected_max_curve(SMALL, ci=0.0), ValueError, "ci"),
    (lambda: expected_max_curve(SMALL, ci="95%"), TypeError, "ci"),
    (lambda: expected_max_curve(SMALL, n_boot=-1), ValueError, "n_boot"),
    (lambda: expected_max_curve(SMALL, n_boot=10.0), TypeError, "n_boot"),
    (lambda: expected_max_curve(SMALL, rng="seed"), TypeError, "rng"),
    (lambda: expected_max_curve(SMALL, rng=1.5), TypeError, "rng"),
    (lambda: expected_max_curve(SMALL, rng=np.random.RandomState(0)), TypeError, "rng"),
    (lambda: expected_max_curve(SMALL, rng=-1), ValueError, "rng"),
    (lambda: expected_max_curve(SMALL, clip="yes"), TypeError, "clip"),
    (lambda: expected_max_curve([], n_boot=0), ValueError, "scores"),
]


@pytest.mark.parametrize(("call", "error", "name"), _ERRORS)
def test_user_errors_name_the_parameter(call, error, name):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert str(info.value).startswith(f"{name} ")


def test_top_level_import_is_this_function():
    import importlib

    import seedstats

    module = importlib.import_module("seedstats.stats.expected_max")

    assert seedstats.expected_max is expected_max
    assert module.__all__ == ["expected_max", "expected_max_curve", "expected_best",
                              "check_goal", "rank_weights"]


def test_array_of_budgets_is_checked_like_one_budget():
    x = [0.5, 0.7, 0.6]
    np.testing.assert_array_equal(expected_max(x, [2, 1, 2]),
                                  [expected_max(x, 2), expected_max(x, 1), expected_max(x, 2)])
    with pytest.raises(ValueError, match="n must be at least 1; got n=0"):
        expected_max(x, [1, 0])
    with pytest.raises(ValueError, match="n must be at most the number of scores"):
        expected_max(x, np.array([1, 4]), replace=False)
    with pytest.raises(TypeError, match="n must contain integers"):
        expected_max(x, [1.5, 2.0])

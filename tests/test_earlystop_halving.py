"""Successive halving and Hyperband over the logged curves (beyond the paper's one-rung rule).

Checked against the exact estimator of the paper's rule (the one-rung case) and against a slow
per-sample reference loop of multi-rung halving written from its definition.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from seedstats.earlystop import (
    expected_best_all_p,
    halving_search,
    hyperband,
    successive_halving,
)
from seedstats.earlystop.halving import halving_schedule
from seedstats.earlystop.search import error_reduction


def pool(n=50, K=12, seed=0):
    rng = np.random.default_rng(seed)
    skill = rng.normal(0, 1, n)
    frac = np.arange(1, K + 1) / K
    c = 0.7 + 0.06 * skill[:, None] * np.sqrt(frac) + rng.normal(0, 0.03, (n, K))
    c[rng.random(n) < 0.2] = 0.5
    return np.round(c, 2)  # ties, on purpose


def reference_halving(curves, t, rungs, keep, statistic, samples, seed):
    """Per sample: draw, then at each rung keep the best by the statistic (ties: row order)."""
    rng = np.random.default_rng(seed)
    c = np.asarray(curves)
    F = c.max(axis=1)
    out = []
    for _ in range(samples):
        alive = rng.integers(0, len(c), t).tolist()
        seen = []
        for k, n in zip(rungs, keep):
            seen += [c[i, :k].max() for i in alive]
            stat = (lambda i: c[i, :k].max()) if statistic == "best" else (lambda i: c[i, k - 1])
            alive = sorted(alive, key=lambda i: (-stat(i), i))[:n]
        seen += [F[i] for i in alive]
        out.append(max(seen))
    return float(np.mean(out)), float(np.std(out, ddof=1) / math.sqrt(samples))


def test_one_rung_is_the_papers_rule():
    c = pool()
    for t, p, k in [(8, 2, 3), (15, 0, 2), (4, 4, 5), (20, 5, 1)]:
        r = successive_halving(c, t, [k], [p], samples=20_000, rng=1)
        ex = expected_best_all_p(c, t, k, ties="index")[p]  # halving: ties by row
        assert abs(r["expected"] - ex) < 4.5 * r["se"]
        assert r["cost"] == pytest.approx(((t - p) * k + p * 12) / 12)


@pytest.mark.parametrize("statistic", ["best", "current"])
def test_multi_rung_agrees_with_reference_loop(statistic):
    c = pool(seed=2)
    t, rungs, keep = 9, [2, 5, 8], [5, 3, 1]
    r = successive_halving(c, t, rungs, keep, statistic=statistic, samples=20_000, rng=3)
    ref, ref_se = reference_halving(c, t, rungs, keep, statistic, 3000, 4)
    assert abs(r["expected"] - ref) < 4.5 * math.hypot(r["se"], ref_se)
    # cost: 9 trials to 2 evals, 5 on to 5, 3 on to 8, 1 to the end (12)
    assert r["cost"] == pytest.approx((9 * 2 + 5 * 3 + 3 * 3 + 1 * 4) / 12)


def test_statistic_matters_and_is_validated():
    c = pool(seed=5)
    # a curve that peaks early and falls: "current" and "best" rank it differently
    b = successive_halving(c, 10, [6], [2], statistic="best", samples=5000, rng=0)
    cur = successive_halving(c, 10, [6], [2], statistic="current", samples=5000, rng=0)
    assert b["expected"] != cur["expected"]
    with pytest.raises(ValueError, match="statistic"):
        successive_halving(c, 10, [6], [2], statistic="mean")
    with pytest.raises(ValueError, match="rungs"):
        successive_halving(c, 10, [6, 3], [2, 1])
    with pytest.raises(ValueError, match="keep"):
        successive_halving(c, 10, [3, 6], [2, 4])


def test_halving_schedule_and_hyperband_brackets():
    assert halving_schedule(27, 3, 1, 30) == ([1, 3, 9, 27], [9, 3, 1, 0])
    assert halving_schedule(16, 2, 4, 30) == ([4, 8, 16], [8, 4, 2])
    c = pool(K=30, seed=6)
    r = hyperband(c, eta=3, min_k=3, samples=4000, rng=0)
    # s_max = floor(log_3(10)) = 2: n = 9, 5, 3; first rungs at 30/9 -> 3, 30/3 = 10, none
    assert [b for b, _ in r["brackets"]] == [(9, [3, 10], [3, 1]), (5, [10], [1]), (3, [], [])]
    costs = [cost for _, cost in r["brackets"]]
    assert costs == pytest.approx([(9 * 3 + 3 * 7 + 1 * 20) / 30, (5 * 10 + 1 * 20) / 30, 3])
    assert r["cost"] == pytest.approx(sum(costs))
    # the run keeps the best bracket: at least as good as fully training its 3 trials
    full3 = expected_best_all_p(c, 3, 30)[3]
    assert r["expected"] > full3 - 4 * r["se"]


def test_halving_search_spends_at_most_the_budget():
    c = pool(K=12, seed=7)
    cand, best = halving_search(c, 3, etas=(2, 3), min_ks=(1, 2, 4), samples=400, t_max=40)
    assert (cand["cost"] <= cand["budget"] + 1e-9).all()
    for _, row in cand.iterrows():
        rungs = [int(v) for v in row.rungs.split(",")]
        keep = [int(v) for v in row.keep.split(",")]
        assert (rungs, keep) == halving_schedule(row.t, row.eta, row.min_k, 12)
        if row.t < 40:  # the largest affordable t: one more trial breaks the budget
            r1, k1 = halving_schedule(row.t + 1, row.eta, row.min_k, 12)
            marks = r1 + [12]
            cost = ((row.t + 1) * r1[0] + sum(n * (b - a) for n, a, b in
                                              zip(k1, marks[:-1], marks[1:]))) / 12
            assert cost > row.budget
    assert best["rank"].eq(1).all() and best["budget"].tolist() == [1, 2, 3]
    top = cand.sort_values("expected", ascending=False).groupby("budget").head(1)
    assert sorted(top["expected"]) == sorted(best["expected"])


def test_halving_search_cache(tmp_path, monkeypatch):
    import seedstats.earlystop.halving as halving

    c = pool(K=12, seed=8)
    kw = dict(etas=(3,), min_ks=(2,), samples=300, t_max=30, cache=tmp_path)
    cand, best = halving_search(c, 2, **kw)
    monkeypatch.setattr(halving, "_bracket_samples",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    cand2, best2 = halving_search(c, 2, **kw)
    assert cand2.equals(cand) and best2.equals(best)
    with pytest.raises(AssertionError, match="recomputed"):
        halving_search(c, 2, **dict(kw, samples=301))


# --- relative error reduction and its band --------------------------------------------------


def test_error_reduction_propagates_both_standard_errors_by_hand():
    # s = 0.8, b = 0.6: r = 0.2 / 0.4 = 0.5; dr/ds = 1 / 0.4 = 2.5, dr/db = -0.2 / 0.16 = -1.25
    r, se = error_reduction(0.8, 0.6, 0.012, 0.01)
    assert r == pytest.approx(0.5, abs=1e-12)
    assert se == pytest.approx(math.sqrt(0.030 ** 2 + 0.0125 ** 2), abs=1e-12)
    assert se == pytest.approx(0.0325, abs=1e-12)
    # each term alone
    assert error_reduction(0.8, 0.6, 0.012, 0.0)[1] == pytest.approx(0.030, abs=1e-12)
    assert error_reduction(0.8, 0.6, 0.0, 0.01)[1] == pytest.approx(0.0125, abs=1e-12)
    # a covariance enters as 2 * dr/ds * dr/db * cov: 2 * 2.5 * -1.25 * 6e-5 = -3.75e-4
    _, se_c = error_reduction(0.8, 0.6, 0.012, 0.01, cov=6e-5)
    assert se_c == pytest.approx(math.sqrt(0.00105625 - 0.000375), abs=1e-12)


def test_error_reduction_vectorized_and_edge_cases():
    r, se = error_reduction([0.8, 0.7, 0.9], [0.6, 1.0, 0.9], [0.012, 0.01, 0.02],
                            [0.01, 0.01, 0.02], cov=[0.0, 0.0, 0.02 ** 2])
    np.testing.assert_allclose(r[[0, 2]], [0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(se[[0, 2]], [0.0325, 0.0], atol=1e-9)  # same estimate: 0
    assert np.isnan(r[1]) and np.isnan(se[1])  # baseline 1: no error left to reduce
    with pytest.raises(ValueError, match="baseline_se"):
        error_reduction(0.8, 0.6, 0.01, -0.01)
    with pytest.raises(ValueError, match="cov"):
        error_reduction(0.8, 0.6, 0.01, 0.01, cov=2e-4)


def test_error_reduction_se_matches_the_spread_of_simulated_estimates():
    # s and b from independent draws: the delta-method SE matches the SD of r over replicates.
    # s = 0.85, not 0.8: with b = 0.6, 1 - s == s - b at s = 0.8, which would hide a
    # dr/db written with (s - b) instead of (s - 1) (SE 0.040 instead of 0.031 here).
    rng = np.random.default_rng(0)
    s = 0.85 + 0.01 * rng.standard_normal(200_000)
    b = 0.6 + 0.02 * rng.standard_normal(200_000)
    r = (s - b) / (1 - b)
    _, se = error_reduction(0.85, 0.6, 0.01, 0.02)
    assert r.std() == pytest.approx(se, rel=0.03)

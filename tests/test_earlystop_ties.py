"""Ties between equal early scores broken at random (the authors' rule), in both estimators.

Real scores lie on a k/n grid, so equal partial scores are common; with a fixed tie-break the
chosen assignment depended on the order of the rows. Checked here: the exact estimator against
the average of the row-order rule over random row orders, its independence of the row order,
and the Monte Carlo estimator against a slow per-sample reference of the rule and against the
exact value. (Brute force with Fractions over every order: ``tests/test_earlystop.py``.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_earlystop import reference_loop

from seedstats.earlystop import budget_search, expected_best_exact, expected_best_mc


def grid_pool(n=40, K=8, seed=0, levels=10):
    """Curves on a coarse k/levels grid: many ties among partial and final scores."""
    rng = np.random.default_rng(seed)
    c = np.round(rng.integers(0, levels, (n, K)) / levels, 6)
    return np.maximum.accumulate(c, axis=1)


A = pd.DataFrame({"t": [3, 6, 12, 20, 8], "p": [1, 2, 3, 6, 0], "k": [1, 2, 3, 1, 4]})


@pytest.mark.parametrize("replace", [True, False])
def test_exact_is_the_row_order_rule_averaged_over_random_row_orders(replace):
    c = grid_pool(12, 5, 1, levels=4)
    a = A[A.t <= 12]
    rng = np.random.default_rng(0)
    runs = np.array([expected_best_exact(c[perm], a, ties="index", replace=replace)
                     for perm in (rng.permutation(len(c)) for _ in range(400))])
    want = runs.mean(axis=0)
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    got = expected_best_exact(c, a, replace=replace)
    assert np.all(np.abs(got - want) <= 4.5 * se + 1e-12)
    assert runs.std(axis=0).max() > 1e-3  # the row order does matter to the fixed rule


def test_exact_does_not_depend_on_the_order_of_the_rows():
    c = grid_pool(60, 10, 2)
    a, b = budget_search(c, exact=True, max_budget=6, t_max=40, n_points=10, cache=False)
    for perm in (np.arange(60)[::-1], np.random.default_rng(3).permutation(60)):
        ap, bp = budget_search(c[perm], exact=True, max_budget=6, t_max=40, n_points=10,
                               cache=False)
        np.testing.assert_allclose(ap["expected"], a["expected"], rtol=0, atol=1e-12)
        assert bp[["t", "p", "k"]].equals(b[["t", "p", "k"]])
    # the fixed row-order rule does change with the order of the rows here
    i1 = expected_best_exact(c, A, ties="index")
    i2 = expected_best_exact(c[::-1], A, ties="index")
    assert np.abs(i1 - i2).max() > 1e-4


def test_monte_carlo_agrees_with_a_per_sample_reference_and_the_exact_value():
    c = grid_pool(30, 6, 4, levels=6)
    for t, p, k in [(5, 2, 1), (12, 3, 2), (8, 1, 3)]:
        a = pd.DataFrame({"t": [t], "p": [p], "k": [k]})
        m, se = expected_best_mc(c, a, samples=40_000, rng=7)
        ref, ref_se = reference_loop(c, t, p, k, 6000, seed=t)
        ex = expected_best_exact(c, a)[0]
        assert abs(m[0] - ref) < 4.5 * np.hypot(se[0], ref_se) + 1e-9
        assert abs(m[0] - ex) < 4.5 * se[0] + 1e-9


def test_monte_carlo_without_replacement_breaks_ties_at_random_too():
    c = grid_pool(30, 6, 5, levels=6)
    a = pd.DataFrame({"t": [5, 12, 25], "p": [2, 3, 4], "k": [1, 2, 1]})
    m, se = expected_best_mc(c, a, samples=30_000, rng=2, replace=False)
    ex = expected_best_exact(c, a, replace=False)
    assert np.all(np.abs(m - ex) < 4.5 * se + 1e-6)  # + rare events 40k samples miss
    # and the fixed rule, on the same draws, is a different estimand here
    mi, _ = expected_best_mc(c, a, samples=30_000, rng=2, replace=False, ties="index")
    exi = expected_best_exact(c, a, replace=False, ties="index")
    assert np.all(np.abs(mi - exi) < 4.5 * se + 1e-9) and np.abs(exi - ex).max() > 1e-4


def test_monte_carlo_standard_error_matches_the_spread_over_seeds():
    # samples of a block share a tie order: the batch-means SE must still be the real spread
    c = grid_pool(30, 6, 6, levels=5)
    a = pd.DataFrame({"t": [12, 6], "p": [2, 1], "k": [1, 2]})
    runs = [expected_best_mc(c, a, samples=4000, rng=s) for s in range(40)]
    means = np.array([m for m, _ in runs])
    ses = np.array([se for _, se in runs])
    ratio = means.std(axis=0, ddof=1) / ses.mean(axis=0)
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


def test_bad_switches_end_in_one_clear_error():
    from seedstats.earlystop.sampling import scheme

    with pytest.raises(TypeError, match="replace must be True or False"):
        scheme("yes")
    with pytest.raises(ValueError, match="pool='fixed_wi' draws distinct seeds: give "
                                         "replace=False"):
        scheme(True, "fixed_wi")
    with pytest.raises(ValueError, match="ties: expected one of random, index"):
        expected_best_exact(grid_pool(5, 3), A[A.t <= 5], ties="coin")
    with pytest.raises(ValueError, match="ties: successive halving breaks ties by one of index"):
        from seedstats.earlystop import successive_halving

        successive_halving(grid_pool(5, 3), 4, [1], [1], samples=10, ties="random")

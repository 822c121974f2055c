"""seedstats.stats.seeds: Table 3, Figure 8, variance components, Table 4 and the valid test.

Every estimator is checked against an independent computation: exact fractions on tiny grids,
pandas group-bys, statsmodels (OLS ANOVA table, MixedLM with crossed variance components),
scipy (two-sample t-test), exhaustive enumeration of permutations, and simulated grids.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seedstats.data.dataset import score_grid
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.stats.seeds import (
    best_worst_anova,
    per_seed_sd,
    seed_permutation_test,
    seed_sd_summary,
    variance_components,
)


def grid_df(Y, wi=None, do=None):
    I, J = Y.shape
    return pd.DataFrame(Y, index=pd.Index(wi or range(1, I + 1), name="wi_seed"),
                        columns=pd.Index(do or range(1, J + 1), name="do_seed"))


def simulate(rng, shape, sd_wi=0.0, sd_do=0.0, sd_e=1.0, reps=None):
    size = shape if reps is None else (reps, *shape)
    I, J = shape
    a = rng.normal(0, sd_wi, size[:-1] + (1,)) if sd_wi else 0.0
    b = rng.normal(0, sd_do, size[:-2] + (1, J)) if sd_do else 0.0
    return 0.7 + a + b + rng.normal(0, sd_e, size)


# --- Table 3 / Figure 8 -----------------------------------------------------------------------


def test_per_seed_sd_exact_on_tiny_grid():
    # rows: [1, 3] (sd sqrt 2), [2, 2] (sd 0); columns: [1, 2], [3, 2] (sd sqrt(1/2) each)
    out = per_seed_sd(grid_df(np.array([[1.0, 3.0], [2.0, 2.0]])))
    assert out["factor"].tolist() == ["wi", "wi", "do", "do"]
    assert out["seed"].tolist() == [1, 2, 1, 2]
    np.testing.assert_allclose(out["sd"], [math.sqrt(2), 0, math.sqrt(0.5), math.sqrt(0.5)],
                               rtol=1e-15)
    np.testing.assert_allclose(out["mean"], [2, 2, 1.5, 2.5])
    pop = per_seed_sd(np.array([[1.0, 3.0], [2.0, 2.0]]), ddof=0)
    np.testing.assert_allclose(pop["sd"], [1, 0, 0.5, 0.5])
    assert pop["seed"].tolist() == [0, 1, 0, 1] and set(pop["ddof"]) == {0}


def test_seed_sd_summary_exact_fractions():
    out = seed_sd_summary(np.array([[1.0, 3.0], [2.0, 2.0]])).set_index("quantity")
    # WI: mean(sqrt 2, 0); DO: mean(sqrt .5, sqrt .5); total: var of 1,3,2,2 with n-1 = 2/3
    assert out.loc["wi", "sd"] == pytest.approx(math.sqrt(2) / 2, rel=1e-15)
    assert out.loc["do", "sd"] == pytest.approx(math.sqrt(0.5), rel=1e-15)
    assert out.loc["total", "sd"] == pytest.approx(math.sqrt(float(Fraction(2, 3))), rel=1e-15)
    assert out["n"].tolist() == [4, 4, 4] and out["n_missing"].tolist() == [0, 0, 0]


def test_per_seed_sd_matches_pandas_groupby_with_missing_cells():
    rng = np.random.default_rng(0)
    Y = rng.normal(0.8, 0.05, (7, 5))
    Y[2, 3] = Y[5, 0] = Y[5, 4] = np.nan
    g = grid_df(Y)
    long = g.stack(future_stack=True).rename("score").reset_index()
    for ddof in (0, 1):
        out = per_seed_sd(g, ddof=ddof)
        for factor, col in (("wi", "wi_seed"), ("do", "do_seed")):
            ref = long.groupby(col)["score"]
            o = out[out["factor"] == factor].set_index("seed")
            np.testing.assert_allclose(o["sd"], ref.std(ddof=ddof), rtol=1e-12)
            np.testing.assert_allclose(o["mean"], ref.mean(), rtol=1e-12)
            assert (o["n"] == ref.count()).all()
            assert (o["n_missing"] == ref.size() - ref.count()).all()
    summ = seed_sd_summary(g).set_index("quantity")
    assert summ.loc["total", "sd"] == pytest.approx(long["score"].std(ddof=1), rel=1e-12)
    assert summ.loc["wi", "sd"] == pytest.approx(long.groupby("wi_seed")["score"].std().mean())
    assert summ["n_missing"].tolist() == [3, 3, 3] and summ.loc["total", "n"] == 32


def test_missing_scores_from_incomplete_trials_are_counted_not_dropped_silently():
    recs = []
    for wi in (1, 2, 3):
        for do in (1, 2, 3):
            incomplete = (wi, do) == (2, 3)
            vals = np.array([0.6, 0.7, 0.5 + wi / 10 + do / 100])
            curves = {"acc": Curve(0.5, np.array([0, 10, 20]), vals,
                                   None if incomplete else float(vals[-1]))}
            recs.append(TrialRecord("rte", wi, do, None, curves, np.zeros(30),
                                    complete=not incomplete))
    trials, _, _ = build_tables(recs)
    g = score_grid(trials, "rte", "after")  # the final scores: the incomplete trial has none
    assert np.isnan(g.loc[2, 3])
    out = per_seed_sd(g).set_index(["factor", "seed"])
    assert out.loc[("wi", 2), "n"] == 2 and out.loc[("wi", 2), "n_missing"] == 1
    assert out.loc[("do", 3), "n_missing"] == 1 and out.loc[("wi", 1), "n_missing"] == 0
    assert out.loc[("wi", 2), "sd"] == pytest.approx(np.std([0.71, 0.72], ddof=1))
    assert seed_sd_summary(g)["n_missing"].tolist() == [1, 1, 1]


# --- variance components -------------------------------------------------------------------


def test_variance_components_exact_fractions():
    # hand computation: grand 7/2, row means 7/3 and 14/3, column means 2, 7/2, 5;
    # MS_wi = 49/6, MS_do = 9/2, MS_res = 1/6 -> var_wi = 8/3, var_do = 13/6, var_res = 1/6
    vc = variance_components(np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 6.0]])).set_index("component")
    expect_ms = {"wi": Fraction(49, 6), "do": Fraction(9, 2), "residual": Fraction(1, 6)}
    expect = {"wi": Fraction(8, 3), "do": Fraction(13, 6), "residual": Fraction(1, 6)}
    for comp in expect:
        assert vc.loc[comp, "mean_square"] == pytest.approx(float(expect_ms[comp]), rel=1e-14)
        assert vc.loc[comp, "estimate"] == pytest.approx(float(expect[comp]), rel=1e-14)
    assert vc.loc["total", "variance"] == pytest.approx(5.0, rel=1e-14)
    assert vc["share"].iloc[:3].sum() == pytest.approx(1.0)
    assert vc.loc["wi", "share"] == pytest.approx(float(Fraction(8, 3) / 5))
    assert vc["df"].tolist()[:3] == [1, 2, 2]


def test_mean_squares_match_statsmodels_anova_table():
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(1)
    Y = simulate(rng, (9, 7), sd_wi=0.5, sd_do=0.3)
    df = pd.DataFrame({"y": Y.ravel(), "wi": np.repeat(np.arange(9), 7),
                       "do": np.tile(np.arange(7), 9)})
    table = anova_lm(smf.ols("y ~ C(wi) + C(do)", df).fit())
    vc = variance_components(Y).set_index("component")
    assert vc.loc["wi", "mean_square"] == pytest.approx(table.loc["C(wi)", "mean_sq"], rel=1e-10)
    assert vc.loc["do", "mean_square"] == pytest.approx(table.loc["C(do)", "mean_sq"], rel=1e-10)
    assert vc.loc["residual", "mean_square"] == pytest.approx(table.loc["Residual", "mean_sq"],
                                                              rel=1e-10)


def test_variance_components_match_statsmodels_mixedlm_crossed_reml():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(3)
    I, J = 12, 10
    Y = simulate(rng, (I, J), sd_wi=1.0, sd_do=0.7, sd_e=0.8)
    df = pd.DataFrame({"y": Y.ravel(), "wi": np.repeat(np.arange(I), J),
                       "do": np.tile(np.arange(J), I), "g": 1})
    model = smf.mixedlm("y ~ 1", df, groups="g", re_formula="0",
                        vc_formula={"wi": "0 + C(wi)", "do": "0 + C(do)"})
    fit = model.fit(reml=True)
    mixed = dict(zip(fit.model.exog_vc.names, fit.vcomp))
    vc = variance_components(grid_df(Y)).set_index("component")
    assert vc.loc["wi", "estimate"] > 0 and vc.loc["do", "estimate"] > 0
    # balanced design, positive estimates: REML equals the ANOVA estimators
    assert vc.loc["wi", "estimate"] == pytest.approx(mixed["wi"], rel=1e-3)
    assert vc.loc["do", "estimate"] == pytest.approx(mixed["do"], rel=1e-3)
    assert vc.loc["residual", "estimate"] == pytest.approx(fit.scale, rel=1e-3)


def test_negative_moment_estimate_is_kept_and_truncated():
    rng = np.random.default_rng(11)
    for _ in range(50):
        Y = simulate(rng, (6, 6))  # no seed effects: negative estimates are common
        vc = variance_components(Y).set_index("component")
        if vc.loc["wi", "estimate"] < 0:
            break
    else:  # pragma: no cover
        pytest.fail("no negative estimate in 50 null grids")
    assert vc.loc["wi", "variance"] == 0 and vc.loc["wi", "share"] == 0
    assert vc.loc["wi", "ci_low"] == 0
    assert vc.loc["total", "variance"] == pytest.approx(vc["variance"].iloc[:3].sum())


def test_variance_component_intervals_cover_at_the_nominal_rate():
    # 400 simulated 10 x 10 grids with known components: coverage of each 95% interval must be
    # within binomial noise of 0.95 (sd 0.011; tolerance about 3.5 sd).
    rng = np.random.default_rng(2024)
    truth = {"wi": 0.5 ** 2, "do": 0.3 ** 2, "residual": 1.0, "total": 0.25 + 0.09 + 1.0}
    hits = dict.fromkeys(truth, 0)
    reps = 400
    grids = simulate(rng, (10, 10), sd_wi=0.5, sd_do=0.3, reps=reps)
    for Y in grids:
        vc = variance_components(Y).set_index("component")
        for comp, t in truth.items():
            hits[comp] += vc.loc[comp, "ci_low"] <= t <= vc.loc[comp, "ci_high"]
    for comp, h in hits.items():
        assert 0.91 <= h / reps <= 0.99, (comp, h / reps)


def test_missing_cells_drop_the_line_and_report_it():
    rng = np.random.default_rng(4)
    Y = simulate(rng, (6, 5), sd_wi=0.5)
    Y[3, 2] = np.nan
    vc = variance_components(Y)
    ref = variance_components(np.delete(Y, 3, axis=0))
    np.testing.assert_allclose(vc["estimate"], ref["estimate"], rtol=1e-14)
    assert vc["n_missing"].iloc[0] == 1 and vc["n_dropped"].iloc[0] == 4
    assert (vc["n_wi"].iloc[0], vc["n_do"].iloc[0]) == (5, 5)
    with pytest.raises(ValueError, match="grid: variance components need a complete grid"):
        variance_components(np.array([[1.0, np.nan], [np.nan, 2.0]]))


# --- Table 4: post-selection ANOVA vs the permutation test ---------------------------------


def test_best_worst_anova_equals_pooled_t_test_of_the_extreme_seeds():
    rng = np.random.default_rng(5)
    Y = simulate(rng, (8, 6), sd_wi=0.3, sd_do=0.3)
    Y[1, 4] = np.nan
    g = grid_df(Y, wi=list(range(11, 19)), do=list(range(21, 27)))
    for factor, M, labels in (("wi", Y, g.index), ("do", Y.T, g.columns)):
        res = best_worst_anova(g, factor).iloc[0]
        means = np.nanmean(M, axis=1)
        b, w = np.argmax(means), np.argmin(means)
        assert (res["best_seed"], res["worst_seed"]) == (labels[b], labels[w])
        xb, xw = M[b][~np.isnan(M[b])], M[w][~np.isnan(M[w])]
        t = stats.ttest_ind(xb, xw, equal_var=True)
        assert res["F"] == pytest.approx(t.statistic ** 2, rel=1e-10)
        assert res["p_value"] == pytest.approx(t.pvalue, rel=1e-8)
        assert res["selection"] == "post-selection" and res["n_missing"] == 1
        assert (res["n_best"], res["n_worst"]) == (xb.size, xw.size)


def test_naive_best_vs_worst_anova_rejects_most_null_grids():
    # No seed effect at all, 25 x 25 like the paper: the post-selection ANOVA "finds" a
    # difference in about 90% of grids (expected range of 25 means ~ 3.9 SE).
    rng = np.random.default_rng(6)
    grids = simulate(rng, (25, 25), reps=200)
    rate = np.mean([best_worst_anova(Y, "wi").loc[0, "p_value"] < 0.05 for Y in grids])
    assert rate >= 0.8
    # ... while the permutation test on the very same grids keeps its 5% (Binomial(200, .05))
    perm = [seed_permutation_test(Y, "wi", n_perm=199, rng=k).loc[0, "p_range"]
            for k, Y in enumerate(grids)]
    assert 2 <= sum(p <= 0.05 for p in perm) <= 21


def _exact_p(M, stat):
    """Exhaustive p-value: every combination of within-column permutations of the rows."""
    I, J = M.shape
    perms = list(itertools.permutations(range(I)))
    obs = stat(M.mean(axis=1))
    count = total = 0
    for combo in itertools.product(perms, repeat=J):
        P = np.column_stack([M[list(p), j] for j, p in enumerate(combo)])
        count += stat(P.mean(axis=1)) >= obs - 1e-12
        total += 1
    return count / total


def test_permutation_p_value_matches_exhaustive_enumeration():
    M = np.array([[0.1, 0.9, 0.4], [0.5, 0.2, 0.8], [0.3, 0.35, 0.6]])
    exact_var = _exact_p(M, np.var)
    exact_range = _exact_p(M, np.ptp)
    n = 40_000
    res = seed_permutation_test(M, "wi", n_perm=n, rng=7).iloc[0]
    # Monte Carlo p-value within 4 binomial SDs of the exhaustive one (216 arrangements)
    for got, exact in ((res["p_var"], exact_var), (res["p_range"], exact_range)):
        assert abs(got - exact) <= 4 * math.sqrt(exact * (1 - exact) / n) + 1 / n
    assert 0.05 < exact_var < 0.95 and 0.05 < exact_range < 0.95
    # and the DO test is the WI test of the transposed grid
    a = seed_permutation_test(M, "do", n_perm=500, rng=3)
    b = seed_permutation_test(M.T, "wi", n_perm=500, rng=3)
    assert a[["stat_var", "p_var", "p_range"]].equals(b[["stat_var", "p_var", "p_range"]])


def test_permutation_test_has_its_size_under_the_null_even_with_a_strong_other_factor():
    # 200 null grids (no WI effect; a DO effect 3x the noise) x 199 permutations. The test is
    # exact, P(p <= 0.05) = 10/200, so rejections ~ Binomial(200, 0.05): mean 10, sd 3.1.
    rng = np.random.default_rng(8)
    grids = simulate(rng, (10, 10), sd_do=3.0, reps=200)
    res = pd.concat([seed_permutation_test(Y, "wi", n_perm=199, rng=k)
                     for k, Y in enumerate(grids)])
    for col in ("p_var", "p_range"):
        assert 2 <= (res[col] <= 0.05).sum() <= 21, col


def test_permutation_test_has_power_when_a_seed_effect_exists():
    rng = np.random.default_rng(9)
    grids = simulate(rng, (10, 10), sd_wi=0.6, sd_do=1.0, reps=60)
    res = pd.concat([seed_permutation_test(Y, "wi", n_perm=199, rng=k)
                     for k, Y in enumerate(grids)])
    assert (res["p_var"] <= 0.05).mean() >= 0.8
    assert (res["p_range"] <= 0.05).mean() >= 0.6
    # and the DO factor of the same grids is detected too
    res_do = pd.concat([seed_permutation_test(Y, "do", n_perm=199, rng=k)
                        for k, Y in enumerate(grids)])
    assert (res_do["p_var"] <= 0.05).mean() >= 0.8


def test_permutation_statistics_and_missing_cells():
    rng = np.random.default_rng(10)
    Y = simulate(rng, (6, 5), sd_wi=0.5)
    Y[0, 0] = np.nan
    res = seed_permutation_test(grid_df(Y), "wi", n_perm=99, rng=0).iloc[0]
    means = np.nanmean(Y, axis=1)
    assert res["stat_var"] == pytest.approx(np.var(means), rel=1e-12)
    assert res["stat_range"] == pytest.approx(np.ptp(means), rel=1e-12)
    assert res["n_missing"] == 1 and (res["n_seeds"], res["n_other"]) == (6, 5)
    assert 1 / 100 <= res["p_var"] <= 1


def test_permutations_are_seeded_and_ignore_the_global_numpy_state():
    Y = simulate(np.random.default_rng(12), (8, 8), sd_wi=0.1)
    np.random.seed(1)
    a = seed_permutation_test(Y, n_perm=300, rng=42)
    np.random.seed(2)
    b = seed_permutation_test(Y, n_perm=300, rng=42)
    c = seed_permutation_test(Y, n_perm=300, rng=np.random.default_rng(42))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


# --- input validation -----------------------------------------------------------------------


@pytest.mark.parametrize("call, exc, match", [
    (lambda: per_seed_sd(np.zeros(4)), ValueError, r"grid: expected a 2-D \(n_wi, n_do\)"),
    (lambda: per_seed_sd(np.array([["a", "b"], ["c", "d"]])), TypeError, "grid: expected"),
    (lambda: per_seed_sd("x"), TypeError, "grid: expected"),
    (lambda: per_seed_sd(np.ones((2, 2)), ddof=-1), ValueError, "ddof: expected an integer"),
    (lambda: per_seed_sd(np.ones((2, 2)), ddof=0.5), TypeError, "ddof"),
    (lambda: variance_components(np.ones((1, 4))), ValueError, "at least 2 WI seeds"),
    (lambda: variance_components(np.ones((3, 3)), level=95), ValueError, "level"),
    (lambda: variance_components(np.array([[1, np.inf], [1, 2]])), ValueError, "finite"),
    (lambda: best_worst_anova(np.ones((3, 3)), "seed"), ValueError, "factor: expected 'wi'"),
    (lambda: seed_permutation_test(np.ones((3, 3)), n_perm=0), ValueError, "n_perm"),
    (lambda: seed_permutation_test(np.ones((3, 3)), n_perm=9.5), TypeError, "n_perm"),
    (lambda: seed_permutation_test(np.ones((3, 3)), rng="x"), TypeError, "rng"),
    (lambda: seed_permutation_test(np.ones((3, 3)), rng=-1), ValueError, "rng"),
    (lambda: seed_permutation_test(np.ones((3, 3)), rng=np.random.RandomState(0)), TypeError,
     "rng must be None, a non-negative integer seed or a numpy.random.Generator"),
])
def test_user_mistakes_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

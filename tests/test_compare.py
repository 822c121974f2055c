"""``seedstats compare``: every estimator against an independent computation, the intervals'
coverage and the tests' level by simulation, the table's contract, direction and determinism."""

from fractions import Fraction
from itertools import product

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import seedstats
from seedstats.data import merge
from seedstats.data.dataset import Dataset
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.errors import DataError
from seedstats.stats import expected_best, expected_max
from seedstats.stats.compare import COLUMNS, compare, crossing_budget
from seedstats.stats.expected_max import rank_weights
from seedstats.stats.significance import (
    aso,
    bootstrap_difference,
    hedges_g,
    mean_difference,
    prob_better,
    solve_n,
    violation_ratio,
)

# --- estimators against independent computations ---------------------------------------------


def test_welch_and_paired_t_match_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.8, 0.05, 12), rng.normal(0.83, 0.08, 9)
    r = mean_difference(a, b)
    t = sps.ttest_ind(b, a, equal_var=False)
    assert r["p"] == pytest.approx(t.pvalue, rel=1e-10)
    ci = t.confidence_interval(0.95)
    assert (r["low"], r["high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    b = a + rng.normal(0.01, 0.01, a.size)
    r = mean_difference(a, b, paired=True)
    t = sps.ttest_rel(b, a)
    assert r["test"] == "paired t" and r["p"] == pytest.approx(t.pvalue, rel=1e-10)
    ci = t.confidence_interval(0.95)
    assert (r["low"], r["high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_hedges_g_by_hand_in_exact_fractions():
    a, b = [1, 2, 4], [3, 5, 6, 8]
    fa, fb = [Fraction(x) for x in a], [Fraction(x) for x in b]
    ma, mb = sum(fa) / 3, sum(fb) / 4
    ss = sum((x - ma) ** 2 for x in fa) + sum((x - mb) ** 2 for x in fb)
    pooled = float(ss / 5) ** 0.5
    j = 1 - Fraction(3, 4 * 7 - 9)
    assert hedges_g(a, b) == pytest.approx(float(mb - ma) / pooled * float(j), rel=1e-12)
    assert hedges_g([1, 1], [1, 1]) == 0.0 and hedges_g([1, 1], [2, 2]) == np.inf


def test_prob_better_is_the_pair_count_with_ties_half():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 11).astype(float), rng.integers(1, 6, 8).astype(float)
    exact = sum(Fraction(1) if y > x else Fraction(1, 2) if y == x else Fraction(0)
                for x, y in product(a, b)) / (a.size * b.size)
    p, lo, hi = prob_better(a, b)
    assert p == pytest.approx(float(exact), abs=1e-12)
    assert 0 <= lo <= p <= hi <= 1
    p2, lo2, hi2 = prob_better(b, a)
    assert p2 == pytest.approx(1 - p) and (lo2, hi2) == pytest.approx((1 - hi, 1 - lo))


def _violation_slow(a, b, grid=200_000):
    """The definition, integrated numerically on a fine grid of t (midpoint rule)."""
    t = (np.arange(grid) + 0.5) / grid
    qa = np.sort(a)[np.minimum(np.ceil(t * len(a)).astype(int) - 1, len(a) - 1)]
    qb = np.sort(b)[np.minimum(np.ceil(t * len(b)).astype(int) - 1, len(b) - 1)]
    d2 = (qa - qb) ** 2
    return d2[qb < qa].sum() / d2.sum()


def test_violation_ratio_against_the_definition_and_exact_fractions():
    # a = (0, 3), b = (1, 2, 4): quantile steps at 1/3, 1/2, 2/3
    # t in (0,1/3]: qa 0 qb 1 | (1/3,1/2]: 0, 2 | (1/2,2/3]: 3, 2 (violation) | (2/3,1]: 3, 4
    num = Fraction(1, 6) * 1
    den = Fraction(1, 3) * 1 + Fraction(1, 6) * 4 + Fraction(1, 6) * 1 + Fraction(1, 3) * 1
    assert violation_ratio([0, 3], [1, 2, 4]) == pytest.approx(float(num / den), abs=1e-15)
    rng = np.random.default_rng(5)
    for _ in range(5):
        a, b = rng.normal(0, 1, rng.integers(3, 30)), rng.normal(0.3, 1.5, rng.integers(3, 30))
        eps = violation_ratio(a, b)
        assert eps == pytest.approx(_violation_slow(a, b), abs=2e-4)
        assert eps + violation_ratio(b, a) == pytest.approx(1.0, abs=1e-12)  # direction
    assert violation_ratio([1, 2, 3], [1, 2, 3]) == 0.5


def test_aso_agrees_with_deep_significance():
    deepsig = pytest.importorskip("deepsig")
    from deepsig.aso import compute_violation_ratio

    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 25), rng.normal(0.5, 1.3, 20)
    # deepsig integrates on a grid (dt) and drops its first point: agreement to that resolution
    assert violation_ratio(a, b) == pytest.approx(
        compute_violation_ratio(scores_a=b, scores_b=a, dt=0.001), abs=0.005)
    ours = np.mean([aso(a, b, n_boot=5000, rng=s)[1] for s in range(2)])
    theirs = deepsig.aso(b, a, seed=0, show_progress=False, num_bootstrap_iterations=5000)
    assert ours == pytest.approx(theirs, abs=0.03)


def test_aso_is_seeded_and_calls_a_clear_winner():
    a, b = np.linspace(0, 1, 20), np.linspace(0.5, 1.5, 20)
    assert aso(a, b, rng=7) == aso(a, b, rng=7)
    eps, eps_min = aso(a, b)
    assert eps == 0.0 and eps_min < 0.2
    assert aso(b, a)[0] == 1.0


def test_rank_weights_and_crossing_budget_by_brute_force():
    x = np.sort(np.random.default_rng(2).normal(size=7))
    for replace in (True, False):
        got = x @ rank_weights(7, np.arange(1, 8), replace=replace)
        assert got == pytest.approx(expected_max(x, replace=replace), abs=1e-12)
    rng = np.random.default_rng(4)
    for _ in range(50):
        ea, eb = rng.random((1, 9)), rng.random((1, 9))
        want = np.nan
        for k in range(9, 0, -1):  # the smallest k from which b stays ahead to the end
            if (eb[0, k - 1:] > ea[0, k - 1:]).all():
                want = k
        got = crossing_budget(ea, eb)[0]
        assert (np.isnan(got) and np.isnan(want)) or got == want


def test_expected_best_of_a_loss_is_the_expected_minimum_by_enumeration():
    x = [2.0, 0.5, 1.5, 1.0]
    for n in (1, 2, 3):
        want = np.mean([min(c) for c in product(x, repeat=n)])
        assert expected_best(x, n, lower_is_better=True) == pytest.approx(want, abs=1e-12)
        assert expected_max(x, n, goal="min") == pytest.approx(want, abs=1e-12)
    with pytest.raises(ValueError, match="goal must be 'max'"):
        expected_max(x, 2, goal="lowest")


def test_solve_n_reaches_the_power_by_the_noncentral_t():
    for d in (0.3, 0.8, 1.5):
        n = int(solve_n(d, 0.05, 0.8))

        def power(k, d=d):
            df = 2 * k - 2
            nc = d * np.sqrt(k / 2)
            crit = sps.t.ppf(0.975, df)
            return sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc)

        assert power(n) >= 0.8 > power(n - 1) or n == 2


# --- coverage and level by simulation ----------------------------------------------------------


@pytest.fixture(scope="module")
def mrpc_scores():
    return seedstats.load("dodge2020").trials.query("task == 'mrpc'")["score"].to_numpy()


def _coverage(draw, paired, sims=1000, seed=0):
    rng = np.random.default_rng(seed)
    hit_t = hit_b = reject = 0
    for _ in range(sims):
        a, b, true = draw(rng)
        r = mean_difference(a, b, paired=paired)
        lo, hi = bootstrap_difference(a, b, paired=paired, n_boot=999, rng=rng)
        hit_t += r["low"] <= true <= r["high"]
        hit_b += lo <= true <= hi
        reject += r["p"] < 0.05
    return hit_t / sims, hit_b / sims, reject / sims


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["normal", "normal_paired", "bimodal", "bimodal_paired"])
def test_intervals_cover_and_tests_keep_their_level(kind, mrpc_scores):
    pool = mrpc_scores

    def draw(rng):
        if kind == "normal":
            return rng.normal(0.8, 0.05, 10), rng.normal(0.8, 0.08, 10), 0.0
        if kind == "normal_paired":
            seed_effect = rng.normal(0, 0.05, 10)
            return (0.8 + seed_effect + rng.normal(0, 0.02, 10),
                    0.8 + seed_effect + rng.normal(0, 0.02, 10), 0.0)
        a = rng.choice(pool, 10)
        if kind == "bimodal":
            return a, rng.choice(pool, 10), 0.0
        return a, a + rng.normal(0, 0.02, 10), 0.0  # same seeds, correlated systems

    cov_t, cov_b, fpr = _coverage(draw, paired=kind.endswith("paired"))
    assert 0.93 <= cov_t <= 0.97, cov_t
    assert 0.93 <= cov_b <= 0.97, cov_b
    assert 0.03 <= fpr <= 0.07, fpr


# --- the dataset-level comparison --------------------------------------------------------------


def _records(system, scores, task="rte", paired_seeds=True):
    recs = []
    for i, s in enumerate(scores):
        wi, do = (i // 5 + 1, i % 5 + 1) if paired_seeds else (i // 5 + 11, i % 5 + 1)
        curve = Curve(before=0.5, steps=np.array([0, 10, 19]),
                      values=np.array([0.5, s - 0.01, s]), after=s)
        recs.append(TrialRecord(task=task, wi_seed=wi, do_seed=do, curves={"acc": curve},
                                train_loss=np.zeros(20), source=f"{system}-{i}", metric="acc",
                                system=system))
    return recs


@pytest.fixture(scope="module")
def two_systems():
    rng = np.random.default_rng(11)
    base = rng.normal(0.70, 0.03, 25)
    recs = (_records("base", base) + _records("new", base + 0.02 + rng.normal(0, 0.01, 25))
            + _records("base", rng.normal(0.9, 0.01, 25), task="sst")
            + _records("new", rng.normal(0.9, 0.01, 25), task="sst"))
    return Dataset(*build_tables(recs), {"synthetic": False})


def test_compare_table_contract_and_symmetry(two_systems):
    df = compare(two_systems, n_boot=2000)
    assert list(df.columns) == COLUMNS
    assert len(df) == 4 and set(df["task"]) == {"rte", "sst"}
    assert df["paired"].all() and df["pairing"].eq("paired by (WI, DO) cell").all()
    for task, g in df.groupby("task"):
        ab, ba = g.iloc[0], g.iloc[1]
        assert ab["diff"] == pytest.approx(-ba["diff"])
        assert ab["prob_b_better"] + ba["prob_b_better"] == pytest.approx(1.0)
        assert ab["aso_ratio"] + ba["aso_ratio"] == pytest.approx(1.0)
        assert ab["p_adjusted"] == ba["p_adjusted"]
    rte = df[(df["task"] == "rte") & (df["b"] == "new")].iloc[0]
    assert rte["decided"] and rte["verdict"].startswith("new > base: +1.8 points [1.4, 2.1]")
    assert rte["aso_epsilon"] < 0.2 and rte["prob_b_better"] > 0.5 and rte["hedges_g"] > 0
    # Holm by hand over the two tests
    p = sorted(df.drop_duplicates("task")["p_test"])
    holm = [min(1, 2 * p[0]), min(1, max(2 * p[0], p[1]))]
    assert sorted(df.drop_duplicates("task")["p_adjusted"]) == pytest.approx(holm)


def test_compare_is_seeded_and_ignores_row_order(two_systems):
    a = compare(two_systems, n_boot=500, rng=3)
    shuffled = Dataset(two_systems.trials.sample(frac=1, random_state=1).reset_index(drop=True),
                       two_systems.evals, two_systems.train_loss, two_systems.meta)
    pd.testing.assert_frame_equal(a, compare(shuffled, n_boot=500, rng=3))


def test_unpaired_when_the_seeds_differ():
    rng = np.random.default_rng(0)
    recs = _records("a", rng.normal(0.7, 0.02, 10)) + _records(
        "b", rng.normal(0.7, 0.02, 10), paired_seeds=False)
    df = compare(Dataset(*build_tables(recs), {}), n_boot=200)
    assert not df["paired"].any() and df["test"].eq("welch").all()
    assert df["pairing"].iloc[0] == "unpaired: the systems ran different seeds"


def test_compare_needs_two_systems():
    with pytest.raises(DataError, match="compare needs at least two systems"):
        compare(seedstats.load("dodge2020"))


def test_a_loss_is_compared_in_its_direction():
    rng = np.random.default_rng(2)

    def recs(system, losses):
        return [TrialRecord(task="lm", seed=i, system=system, metric="loss",
                            curves={"loss": Curve(steps=np.array([0, 9]),
                                                  values=np.array([3.0, x]), after=x)},
                            train_loss=np.zeros(10), source=f"{system}{i}")
                for i, x in enumerate(losses)]

    losses_a, losses_b = rng.normal(2.0, 0.05, 12), rng.normal(1.8, 0.05, 12)
    tables = build_tables(recs("a", losses_a) + recs("b", losses_b), lower_is_better={"loss"})
    ds = Dataset(*tables, {"lower_is_better": {"loss": True}})
    assert ds.trials["best"].tolist() == pytest.approx(list(losses_a) + list(losses_b))
    row = compare(ds, n_boot=500).query("a == 'a' and b == 'b'").iloc[0]
    assert row["lower_is_better"] and row["diff"] < 0          # b's loss is lower...
    assert row["prob_b_better"] > 0.9 and row["hedges_g"] > 0  # ...so b is better
    assert row["aso_epsilon"] < 0.2 and row["verdict"].startswith("b > a")
    assert row["crossing_budget"] == 1


def test_merge_keeps_systems_and_refuses_a_clash(two_systems):
    r = seedstats.load("dodge2020")
    with pytest.raises(DataError, match="system 'default' is in both"):
        merge([r, r])
    m = merge([r, r.select(task="sst")], systems=["x", "y"])
    assert m.systems == ["x", "y"] and m.trials["trial_id"].is_unique
    assert m.trials["trial_id"].iloc[0] == "x:mrpc-wi1-do1"
    both = merge([seedstats.load(), r.select(task="sst")], systems=["replica", "real"])
    assert both.note == ("system replica: the synthetic replica (not the paper's runs); "
                         "system real: real scores digitized from the authors' Figure 2")
    assert both.select(system="real").note.startswith("real scores, digitized")
    assert both.select(system="replica").synthetic
    with pytest.raises(DataError, match="holds 2 systems"):
        merge([two_systems, r], systems=["p", "q"])

"""``seedstats plan``: the promised power is achieved (by a fresh simulation, on the real
MRPC grid and on the replica), the WI x DO design's variance against simulated grids, and the
warning of a small pilot."""

import numpy as np
import pytest

import seedstats
from seedstats.stats.plan import PLAN_COLUMNS, design, plan, precision, simulated_power


@pytest.fixture(scope="module")
def real():
    return seedstats.load("dodge2020")


def _achieved(pool, effect, n, seed, sims=4000):
    return simulated_power(pool, effect, n, n_sim=sims, rng=seed)


@pytest.mark.slow
@pytest.mark.parametrize("source, task, effect", [("dodge2020", "mrpc", 0.02),
                                                   ("dodge2020", "cola", 0.03),
                                                   ("replica", "rte", 0.02)])
def test_the_promised_power_is_achieved_within_3_points(source, task, effect):
    ds = seedstats.load(source)
    p = plan(ds, effect=effect, tasks=task, n_sim=4000, rng=1).iloc[0]
    pool = ds.trials.query("task == @task")["score"].to_numpy()
    # an independent simulation: another seed, the scores as the population
    got = _achieved(pool, effect, int(p["n_simulated"]), seed=12345)
    assert abs(got - 0.8) <= 0.03, got
    assert abs(_achieved(pool, effect, int(p["n_welch"]), seed=777) - 0.8) <= 0.03
    assert p["n_welch_low"] <= p["n_welch"] <= p["n_welch_high"]


def test_plan_columns_and_minimum_detectable_effect(real):
    p = plan(real, effect=0.02, tasks=["mrpc", "sst"], n_sim=500)
    assert list(p.columns) == PLAN_COLUMNS and p["task"].tolist() == ["mrpc", "sst"]
    mrpc = p.iloc[0]
    # the minimum detectable effect at n seeds is the effect whose analytic n is that n
    q = plan(real, effect=float(mrpc["mde"]), tasks="mrpc", n_sim=200).iloc[0]
    assert q["n_welch"] == pytest.approx(mrpc["n_mde"], abs=1)
    assert p.iloc[1]["n_welch"] == 2  # SST's SD is tiny: two seeds detect two points


def test_a_small_pilot_is_flagged(real):
    tiny = real.select(task="rte")
    tiny.trials = tiny.trials.head(6)
    w = plan(tiny, effect=0.02, n_sim=300).iloc[0]["warning"]
    assert "pilot of 6 runs is too small to plan from" in w
    assert "over the SD's 95% interval the plan ranges from" in w


def test_design_variance_matches_simulated_grids(real):
    d = design(real, "mrpc", budget=100)
    best = d[d["best_for_mean"]].iloc[0]
    assert (d["fresh_sd_mean"] <= d["sd_mean"] + 1e-15).all()
    from seedstats.stats import variance_components

    vc = variance_components(real.grid("mrpc"))
    v = dict(zip(vc["component"], vc["variance"]))
    rng = np.random.default_rng(0)
    a, b = int(best["n_wi"]), int(best["n_do"])
    sims = (rng.normal(0, np.sqrt(v["wi"]), (4000, a, 1))
            + rng.normal(0, np.sqrt(v["do"]), (4000, 1, b))
            + rng.normal(0, np.sqrt(v["residual"]), (4000, a, b))).mean(axis=(1, 2))
    assert sims.std() == pytest.approx(best["sd_mean"], rel=0.05)


def test_precision_halfwidths_shrink_and_match_the_t_interval(real):
    pr = precision(real, tasks="rte", ns=(5, 20, 80), n_sim=2000)
    assert pr["halfwidth_mean"].is_monotonic_decreasing
    assert pr["halfwidth_expected_best"].is_monotonic_decreasing
    # at 80 seeds the sampling spread of the mean is the t interval's half-width
    last = pr.iloc[-1]
    assert last["halfwidth_mean_sim"] == pytest.approx(last["halfwidth_mean"], rel=0.08)

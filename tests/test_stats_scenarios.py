"""seedstats.stats.scenarios: Figure 1's three evaluation scenarios, checked by brute force."""

import itertools

import numpy as np
import pandas as pd
import pytest

from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.data.schema import TASKS
from seedstats.errors import DataError
from seedstats.stats.expected_max import expected_max
from seedstats.stats.scenarios import (
    expected_max_scenarios,
    scenario_evaluations,
    scenario_scores,
)


def make(task, curves, finals, steps=None, complete=None, spe=None):
    info = TASKS.get(task)
    steps = np.asarray(info.schedule if steps is None else steps)
    metric = info.metric if info else "acc"
    n_steps = info.n_steps if info else int(3 * spe)
    recs = []
    for k, (v, a) in enumerate(zip(curves, finals)):
        recs.append(TrialRecord(
            task, k // 5 + 1, k % 5 + 1, None,
            {metric: Curve(0.5, steps, np.asarray(v, float), None if a is None else float(a)),
             "loss": Curve(0.7, steps, np.full(len(steps), 0.5), 0.4)},
            np.zeros(n_steps), complete=True if complete is None else complete[k],
            metric=metric, steps_per_epoch=spe, baseline=None if info else 0.5))
    trials, evals, _ = build_tables(recs)
    return trials, evals


@pytest.mark.parametrize("task, positions", [
    ("mrpc", [0, 10, 20, 29]), ("rte", [0, 10, 20, 30]), ("cola", [0, 10, 20, 30]),
    ("sst", list(range(0, 127, 10)) + [126])])
def test_paper_grid_scenarios_follow_the_authors_notebook(task, positions):
    # dodgejesse/bert_on_stilts@115a869 data_vis.ipynb: every grid point; every 10th grid
    # point and the last; the last grid point. No 'after' evaluation in any of them.
    sched = list(TASKS[task].schedule)
    trials, evals = make(task, [np.full(len(sched), 0.6)], [0.6])
    plan = scenario_evaluations(trials, evals, task)
    assert set(plan["phase"]) == {"during"}
    assert plan[plan.scenario == "frequent"]["step"].tolist() == sched
    assert plan[plan.scenario == "epoch"]["step"].tolist() == [sched[k] for k in positions]
    assert plan[plan.scenario == "end"]["step"].tolist() == [sched[-1]]


def test_scores_are_the_best_allowed_evaluation_and_nested():
    rng = np.random.default_rng(0)
    sched = TASKS["rte"].schedule
    curves = np.round(rng.uniform(0.5, 0.8, (12, len(sched))), 3)
    finals = np.round(rng.uniform(0.5, 0.8, 12), 3)
    trials, evals = make("rte", curves, finals)
    s = scenario_scores(trials, evals, "rte").pivot(index="trial_id", columns="scenario",
                                                      values="score")
    ids = trials["trial_id"].astype(str).tolist()
    s = s.loc[ids]
    np.testing.assert_array_equal(s["frequent"], curves.max(axis=1))
    np.testing.assert_array_equal(s["frequent"], trials["score"])  # the paper's score
    np.testing.assert_array_equal(s["epoch"], curves[:, [0, 10, 20, 30]].max(axis=1))
    np.testing.assert_array_equal(s["end"], curves[:, -1])
    assert (s["frequent"] >= s["epoch"]).all() and (s["epoch"] >= s["end"]).all()


def test_dense_extra_evaluations_are_not_frequent_on_a_paper_task():
    # released curves hold extra early steps; "frequent" keeps the regular schedule only
    sched = list(TASKS["rte"].schedule)
    steps = sorted(set(sched) | {1, 2, 3})
    vals = np.full(len(steps), 0.6)
    vals[steps.index(2)] = 0.95
    trials, evals = make("rte", [vals], [0.6], steps=steps)
    s = scenario_scores(trials, evals, "rte").set_index("scenario")
    assert s.loc["frequent", "score"] == 0.6 and s.loc["frequent", "n_evals"] == 31
    assert trials["score"].tolist() == [0.6] and trials["best"].tolist() == [0.95]


def test_incomplete_and_nan_trials_are_left_out_and_counted():
    sched = TASKS["rte"].schedule
    curves = [np.full(len(sched), v) for v in (0.6, 0.7, 0.8, 0.65)]
    curves[3][-1] = np.nan  # the last grid point of the fourth trial is NaN
    finals = [0.6, 0.7, None, float("nan")]
    trials, evals = make("rte", curves, finals, complete=[True, True, False, True])
    s = scenario_scores(trials, evals, "rte")
    end = s[s.scenario == "end"]["score"].tolist()
    assert end[:2] == [0.6, 0.7] and np.isnan(end[2]) and np.isnan(end[3])
    # the complete trial with a NaN at the end still has its other grid evaluations
    fr = s[s.scenario == "frequent"]["score"].tolist()
    assert fr[0] == 0.6 and fr[1] == 0.7 and np.isnan(fr[2]) and fr[3] == 0.65
    c = expected_max_scenarios(trials, evals).groupby("scenario").first()
    assert c.loc["end", "n_trials"] == 2 and c.loc["end", "n_missing"] == 2
    assert c.loc["frequent", "n_trials"] == 3 and c.loc["frequent", "n_missing"] == 1


def test_data_without_curves_has_only_the_frequent_scenario_from_the_score():
    sched = TASKS["rte"].schedule
    trials, evals = make("rte", [np.full(len(sched), v) for v in (0.6, 0.7)], [0.5, 0.5])
    none = evals.iloc[:0]
    s = scenario_scores(trials, none, "rte").set_index("scenario")
    assert s.loc["frequent", "score"].tolist() == [0.6, 0.7]
    assert s.loc["epoch", "score"].isna().all() and s.loc["end", "score"].isna().all()
    c = expected_max_scenarios(trials, none, scenarios=["frequent"])
    assert c["expected_max"].tolist() == pytest.approx([0.65, 0.6 / 4 + 0.7 * 3 / 4])
    with pytest.raises(DataError, match="no validation curves"):
        expected_max_scenarios(trials, none)


def test_curves_agree_with_expected_max_and_brute_force_enumeration():
    rng = np.random.default_rng(1)
    sched = TASKS["rte"].schedule
    curves = np.round(rng.uniform(0.5, 0.8, (6, len(sched))), 2)
    finals = np.round(rng.uniform(0.5, 0.8, 6), 2)
    trials, evals = make("rte", curves, finals)
    c = expected_max_scenarios(trials, evals, "rte")
    scores = scenario_scores(trials, evals, "rte")
    for sc in ("frequent", "epoch", "end"):
        x = scores[scores.scenario == sc]["score"].to_numpy()
        cc = c[c.scenario == sc]
        assert cc["n"].tolist() == list(range(1, 7))
        np.testing.assert_allclose(cc["expected_max"], expected_max(x), rtol=1e-12)
        # best of 2 and of 3 draws with replacement, by enumerating every tuple
        for n in (2, 3):
            tuples = list(itertools.product(x, repeat=n))
            mx = np.array([max(t) for t in tuples])
            row = cc[cc.n == n].iloc[0]
            assert row["expected_max"] == pytest.approx(mx.mean(), rel=1e-12)
            assert row["sd_max"] == pytest.approx(mx.std(), rel=1e-9)
            assert row["lower_sd"] == pytest.approx(max(mx.mean() - mx.std(), x.min()))
            assert row["upper_sd"] == pytest.approx(min(mx.mean() + mx.std(), x.max()))
        assert (cc["lower_sd"] >= x.min() - 1e-15).all()
        assert (cc["upper_sd"] <= x.max() + 1e-15).all()
    means = c.pivot(index="n", columns="scenario", values="expected_max")
    assert (means["frequent"] >= means["epoch"] - 1e-12).all()
    assert (means["epoch"] >= means["end"] - 1e-12).all()


def test_user_sweep_uses_all_during_steps_and_its_epochs():
    # 'mine': 20 steps per epoch, 3 epochs, evaluated every 5 steps
    steps = list(range(4, 60, 5))
    rng = np.random.default_rng(2)
    curves = rng.uniform(0.4, 0.9, (4, len(steps)))
    trials, evals = make("mine", curves, [0.5, 0.6, 0.7, 0.8], steps=steps, spe=20.0)
    plan = scenario_evaluations(trials, evals, "mine")
    assert plan[plan.scenario == "frequent"]["step"].tolist()[:-1] == steps
    assert plan[plan.scenario == "epoch"]["step"].tolist() == [19, 39, 59]
    assert plan[plan.scenario == "epoch"]["epoch"].tolist() == pytest.approx([1, 2, 3])


def test_bootstrap_columns_are_seeded():
    rng = np.random.default_rng(3)
    sched = TASKS["rte"].schedule
    trials, evals = make("rte", rng.uniform(0.5, 0.8, (8, len(sched))),
                         rng.uniform(0.5, 0.8, 8))
    np.random.seed(0)
    a = expected_max_scenarios(trials, evals, n=[1, 4], n_boot=200, rng=5)
    np.random.seed(1)
    b = expected_max_scenarios(trials, evals, n=[1, 4], n_boot=200, rng=5)
    pd.testing.assert_frame_equal(a, b)
    assert a["ci_low"].notna().all() and (a["ci_low"] <= a["ci_high"]).all()
    assert list(a.columns) == ["task", "scenario", "n", "expected_max", "sd_max", "lower_sd",
                               "upper_sd", "se_jackknife", "ci_low", "ci_high", "n_trials",
                               "n_missing"]


def test_user_mistakes_raise_clear_errors():
    trials, evals = make("rte", [np.full(31, 0.6)], [0.6])
    with pytest.raises(ValueError, match="scenarios: expected a subset of"):
        scenario_scores(trials, evals, "rte", scenarios=["weekly"])
    with pytest.raises(DataError, match="no trials for task 'cola'"):
        scenario_scores(trials, evals, "cola")
    with pytest.raises(DataError, match="no evaluations of metric 'f1'"):
        scenario_scores(trials, evals, "rte", metric="f1")
    with pytest.raises(TypeError, match="evals: expected the evals table"):
        scenario_scores(trials, trials, "rte")
    # a user's sweep without an 'after' evaluation has no end-of-training score
    no_after, ev2 = make("mine", [np.full(12, 0.6)] * 2, [None, None],
                         steps=list(range(4, 60, 5)), spe=20.0)
    with pytest.raises(DataError, match="no trial has a usable score in scenario 'end'"):
        expected_max_scenarios(no_after, ev2)
    assert len(expected_max_scenarios(no_after, ev2, scenarios=["frequent"])) == 2

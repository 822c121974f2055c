"""seedstats.stats.checkpoints: Figures 5 and 9, checked against scipy pair by pair."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.data.schema import TASKS
from seedstats.errors import DataError
from seedstats.stats.checkpoints import best_so_far, checkpoint_correlations


def make_evals(values, steps, task="rte", drop=None):
    """evals table of trials whose 'during' curves are the rows of ``values``."""
    recs = []
    for k, v in enumerate(values):
        st = np.asarray(steps)
        v = np.asarray(v, float)
        if drop and k in drop:  # an incomplete trial: the last evaluations are missing
            st, v = st[:-drop[k]], v[:-drop[k]]
        metric = TASKS[task].metric if task in TASKS else "acc"
        recs.append(TrialRecord(task, k // 5 + 1, k % 5 + 1, None,
                                {metric: Curve(0.5, st, v, float(v[-1])),
                                 "loss": Curve(0.7, st, np.full(len(st), 0.5), 0.4)},
                                np.zeros(TASKS[task].n_steps if task in TASKS else 100),
                                metric=metric, steps_per_epoch=None if task in TASKS else 50.0,
                                baseline=None if task in TASKS else 0.5))
    return build_tables(recs)[1]


def slow_best_so_far(row):
    out, best = [], np.nan
    for v in row:
        if not np.isnan(v) and (np.isnan(best) or v > best):
            best = v
        out.append(best)
    return out


def test_best_so_far_matches_a_loop_and_skips_logged_nan():
    rng = np.random.default_rng(0)
    steps = [0, 21, 36, 51, 66]
    vals = np.round(rng.uniform(0.4, 0.8, (6, 5)), 3)
    vals[2, 1] = np.nan
    vals[4, 0] = np.nan
    b = best_so_far(make_evals(vals, steps), "rte", steps=steps)
    assert list(b.columns) == steps and b.attrs["n_missing"] == 0
    for k in range(6):
        np.testing.assert_array_equal(b.iloc[k].to_numpy(), slow_best_so_far(vals[k]))


def test_correlations_match_scipy_for_every_pair():
    rng = np.random.default_rng(1)
    steps = list(TASKS["rte"].schedule[:8])
    # accuracies on a coarse grid, so ties occur (Spearman uses average ranks)
    vals = np.round(rng.uniform(0.5, 0.8, (15, 8)) * 20) / 20
    evals = make_evals(vals, steps)
    c = checkpoint_correlations(evals, "rte", steps=steps)
    best = np.array([slow_best_so_far(r) for r in vals])
    assert len(c) == 2 * 8 * 8 and set(c["n"]) == {15} and set(c["n_missing"]) == {0}
    for row in c.itertuples():
        x, y = best[:, row.i - 1], best[:, row.j - 1]
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            assert np.isnan(row.r)
            continue
        ref = (stats.spearmanr(x, y).statistic if row.method == "spearman"
               else stats.pearsonr(x, y).statistic)
        assert row.r == pytest.approx(ref, abs=1e-12)
        assert row.step_i == steps[row.i - 1] and row.step_j == steps[row.j - 1]
        assert row.epoch_i == pytest.approx((steps[row.i - 1] + 1) / 156)


def test_matrix_is_symmetric_with_unit_diagonal():
    rng = np.random.default_rng(2)
    steps = list(TASKS["rte"].schedule[:6])
    evals = make_evals(rng.uniform(0.4, 0.8, (10, 6)), steps)
    c = checkpoint_correlations(evals, "rte", steps=steps, method="pearson")
    m = c.pivot(index="i", columns="j", values="r").to_numpy()
    np.testing.assert_allclose(m, m.T, atol=1e-14)
    np.testing.assert_allclose(np.diag(m), 1.0)
    assert set(c["method"]) == {"pearson"}


def test_default_grid_is_the_30_point_early_stopping_grid():
    rng = np.random.default_rng(3)
    sched = TASKS["rte"].schedule  # 31 regular evaluations; es_steps drops 246
    evals = make_evals(rng.uniform(0.4, 0.8, (6, len(sched))), sched)
    c = checkpoint_correlations(evals, "rte", method="spearman")
    assert c["i"].max() == 30 and 246 not in set(c["step_i"])
    assert sorted(set(c["step_i"])) == list(TASKS["rte"].es_steps)
    c2 = checkpoint_correlations(evals, "rte", steps="schedule", method="spearman")
    assert c2["i"].max() == 31


def test_trials_missing_an_evaluation_are_left_out_and_counted():
    rng = np.random.default_rng(4)
    steps = [0, 21, 36, 51]
    vals = rng.uniform(0.4, 0.8, (7, 4))
    evals = make_evals(vals, steps, drop={3: 2})
    c = checkpoint_correlations(evals, "rte", steps=steps, method="pearson")
    assert set(c["n"]) == {6} and set(c["n_missing"]) == {1}
    keep = np.delete(vals, 3, axis=0)
    best = np.array([slow_best_so_far(r) for r in keep])
    r14 = c[(c.i == 1) & (c.j == 4)]["r"].iloc[0]
    assert r14 == pytest.approx(stats.pearsonr(best[:, 0], best[:, 3]).statistic, abs=1e-12)


def test_user_task_uses_every_step_and_its_own_epochs():
    rng = np.random.default_rng(5)
    steps = [9, 19, 29, 39]
    evals = make_evals(rng.uniform(0.4, 0.8, (6, 4)), steps, task="mine")
    c = checkpoint_correlations(evals, "mine", method="spearman")
    assert sorted(set(c["step_i"])) == steps
    assert sorted(set(c["epoch_i"])) == pytest.approx([0.2, 0.4, 0.6, 0.8])


def test_constant_checkpoint_gives_nan_without_warning():
    steps = [0, 21, 36]
    vals = np.array([[0.5, 0.6, 0.7], [0.5, 0.7, 0.6], [0.5, 0.65, 0.9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = checkpoint_correlations(make_evals(vals, steps), "rte", steps=steps)
    assert c[(c.i == 1) & (c.j == 2)]["r"].isna().all()
    assert c[(c.i == 2) & (c.j == 3)]["r"].notna().all()


@pytest.mark.parametrize("kw, exc, match", [
    ({"steps": "weekly"}, ValueError, "steps: expected one of"),
    ({"steps": [0, 21, 999]}, DataError, r"steps \[999\] were never evaluated"),
    ({"steps": []}, ValueError, "steps: expected at least one"),
    ({"steps": 3.5}, TypeError, "steps: expected"),
    ({"method": "kendall"}, ValueError, "method: expected 'spearman', 'pearson'"),
])
def test_user_mistakes_raise_clear_errors(kw, exc, match):
    evals = make_evals(np.full((3, 3), 0.6), [0, 21, 36])
    with pytest.raises(exc, match=match):
        checkpoint_correlations(evals, "rte", **kw)


def test_named_grid_needs_a_paper_task_and_evals_must_be_a_table():
    evals = make_evals(np.full((3, 3), 0.6), [9, 19, 29], task="mine")
    with pytest.raises(ValueError, match="steps: 'es' needs a paper task"):
        checkpoint_correlations(evals, "mine", steps="es")
    with pytest.raises(TypeError, match="evals: expected the evals table"):
        checkpoint_correlations(pd.DataFrame({"x": [1]}), "rte")
    with pytest.raises(DataError, match="no 'during' evaluations for task 'cola'"):
        checkpoint_correlations(evals, "cola")

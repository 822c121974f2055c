"""seedstats.stats.divergence: failed-run rates and early detection, checked by brute force."""

import numpy as np
import pytest

from seedstats.data import schema
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.errors import DataError
from seedstats.stats.divergence import early_detection, failure_rates, failure_threshold


def make(task, curves, finals, steps, complete=None, baseline=None):
    """Tables of trials with 'during' curves ``curves`` and final scores ``finals``."""
    metric = schema.TASKS[task].metric if task in schema.TASKS else "acc"
    recs = []
    for k, (v, a) in enumerate(zip(curves, finals)):
        done = True if complete is None else complete[k]
        recs.append(TrialRecord(task, k // 4 + 1, k % 4 + 1, None,
                                {metric: Curve(0.5, np.asarray(steps), np.asarray(v, float),
                                               None if a is None else float(a))},
                                np.zeros(10), complete=done, metric=metric, baseline=baseline,
                                steps_per_epoch=None if task in schema.TASKS else 10.0))
    return build_tables(recs)[:2]


def test_failure_threshold_is_the_baseline_and_zero_for_mcc():
    assert failure_threshold("mrpc") == 0.75 and failure_threshold("sst") == 0.51
    assert failure_threshold("cola") == 0.0
    assert failure_threshold("mine", metric="acc", baseline=0.6) == 0.6
    with pytest.raises(ValueError, match="baseline: task 'mine' is not a paper task"):
        failure_threshold("mine")
    with pytest.raises(ValueError, match="baseline: expected a finite number"):
        failure_threshold("rte", baseline=float("nan"))


def test_failure_rates_match_a_row_by_row_recount():
    rng = np.random.default_rng(0)
    finals = list(np.round(rng.choice([0.53, 0.52, 0.6, 0.7, 0.75], 15), 2)) + [None]
    trials, _ = make("rte", [[0.5]] * 16, finals, [0])
    cfin = list(np.round(rng.uniform(-0.1, 0.5, 8), 3)) + [0.0]
    ctrials, _ = make("cola", [[0.1]] * 9, cfin, [0])
    import pandas as pd

    both = pd.concat([trials, ctrials], ignore_index=True)
    out = failure_rates(both).set_index("task")
    assert list(out.index) == ["rte", "cola"]  # paper order
    for task, fin, metric, base in (("rte", finals, "acc", 0.53), ("cola", cfin, "mcc", 0.0)):
        known = [f for f in fin if f is not None]
        failed = sum(schema.is_failed(f, base, metric) for f in known)
        assert out.loc[task, "n"] == len(known) and out.loc[task, "n_failed"] == failed
        assert out.loc[task, "rate"] == pytest.approx(failed / len(known))
        assert out.loc[task, "threshold"] == (0.0 if metric == "mcc" else base)
    assert out.loc["rte", "n_missing"] == 1 and out.loc["cola", "n_missing"] == 0
    # 0.53 (= baseline) fails; MCC exactly 0 fails
    assert out.loc["rte", "n_failed"] == sum(f <= 0.53 for f in finals if f is not None)
    assert out.loc["cola", "n_failed"] == sum(f <= 0 for f in cfin)


def brute(curves, finals, threshold, rule):
    rows = []
    for k in range(len(curves[0])):
        tp = fp = fn = tn = 0
        for v, a in zip(curves, finals):
            x = max(v[:k + 1]) if rule == "best" else v[k]
            flag, fail = x <= threshold, a <= threshold
            tp += flag and fail
            fp += flag and not fail
            fn += (not flag) and fail
            tn += (not flag) and not fail
        rows.append((tp, fp, fn, tn))
    return rows


@pytest.mark.parametrize("rule", ["at", "best"])
def test_early_detection_counts_match_brute_force(rule):
    rng = np.random.default_rng(1)
    steps = [0, 21, 36, 51, 66]
    curves = np.round(rng.uniform(0.45, 0.75, (12, 5)), 2).tolist()
    finals = [c[-1] for c in curves]
    trials, evals = make("rte", curves, finals, steps)
    out = early_detection(trials, evals, "rte", steps=steps, rule=rule)
    ref = brute(curves, finals, 0.53, rule)
    assert out[["tp", "fp", "fn", "tn"]].to_numpy().tolist() == [list(r) for r in ref]
    for row, (tp, fp, fn, tn) in zip(out.itertuples(), ref):
        if tp + fp:
            assert row.precision == pytest.approx(tp / (tp + fp))
        else:
            assert np.isnan(row.precision)
        if tp + fn:
            assert row.recall == pytest.approx(tp / (tp + fn))
        else:
            assert np.isnan(row.recall)
    assert out["k"].tolist() == [1, 2, 3, 4, 5] and out["step"].tolist() == steps
    assert out["epoch"].tolist() == pytest.approx([(s + 1) / 156 for s in steps])


def test_trials_without_a_verdict_or_an_evaluation_are_counted():
    steps = [0, 21, 36]
    curves = [[0.5, 0.6, 0.7], [0.5, 0.5, 0.5], [0.6, np.nan, 0.8], [0.5, 0.55, 0.6]]
    finals = [0.7, 0.5, 0.8, None]
    trials, evals = make("rte", curves, finals, steps, complete=[True, True, True, False])
    out = early_detection(trials, evals, "rte", steps=steps)
    assert out["n"].tolist() == [3, 2, 3]  # no verdict for trial 4; NaN score of trial 3 at k=2
    assert out["n_missing"].tolist() == [1, 2, 1]
    assert out["tp"].tolist() == [1, 1, 1] and out["fp"].tolist() == [1, 0, 0]


def test_user_task_needs_a_baseline():
    trials, evals = make("mine", [[0.4, 0.7]] * 3, [0.7, 0.4, 0.7], [9, 19], baseline=0.5)
    with pytest.raises(ValueError, match="baseline: task 'mine' is not a paper task"):
        early_detection(trials, evals, "mine", steps="all")
    out = early_detection(trials, evals, "mine", steps="all", baseline=0.5)
    assert out["tp"].tolist() == [1, 0] and out["fp"].tolist() == [2, 0]
    assert out["epoch"].tolist() == pytest.approx([1.0, 2.0])
    rates = failure_rates(trials)
    assert rates.loc[0, "n_failed"] == 1 and np.isnan(rates.loc[0, "threshold"])


def test_user_mistakes_raise_clear_errors():
    trials, evals = make("rte", [[0.5, 0.6]] * 2, [0.6, 0.6], [0, 21])
    with pytest.raises(ValueError, match="rule: expected 'at' or 'best'"):
        early_detection(trials, evals, "rte", steps=[0, 21], rule="first")
    with pytest.raises(DataError, match=r"tasks: \['cola'\] not in the data"):
        early_detection(trials, evals, "cola")
    with pytest.raises(TypeError, match="trials: expected the trials table"):
        failure_rates(evals)

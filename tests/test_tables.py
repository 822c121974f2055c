"""build_tables: derived columns, flags and errors; the schema contract."""

import numpy as np
import pandas as pd
import pytest

from seedstats.data import schema
from seedstats.data.dataset import eval_matrix, score_grid
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.errors import DataError


def rec(task="rte", wi=1, do=1, seed=None, during=(0.6, 0.8, 0.7), after=0.7, before=0.5,
        **kw):
    steps = np.arange(len(during)) * 10
    curves = {"loss": Curve(0.7, steps, np.full(len(during), 0.5), 0.4),
              "acc": Curve(before, steps, np.array(during, float), after)}
    return TrialRecord(task, wi, do, seed, curves, np.linspace(0.7, 0.1, 40), **kw)


def test_dtypes_and_columns_follow_the_schema(small_tables):
    for df, cols in zip(small_tables, (schema.TRIALS_COLUMNS, schema.EVALS_COLUMNS,
                                       schema.TRAIN_LOSS_COLUMNS)):
        assert list(df.columns) == list(cols)
        for name, dtype in cols.items():
            assert str(df[name].dtype) == dtype or (dtype == "str" and df[name].dtype == "str"), name


def test_counts_equal_what_was_given(small_tables):
    trials, evals, loss = small_tables
    assert len(trials) == 18
    # 2 metrics x (1 before + 3 during + 1 after) per trial
    assert len(evals) == 18 * 2 * 5
    assert len(loss) == 18 * 30
    assert trials["trial_id"].is_unique


def test_derived_columns():
    trials, evals, _ = build_tables([rec(during=(0.6, 0.8, np.nan), after=0.7)])
    row = trials.iloc[0]
    assert row["trial_id"] == "rte-wi1-do1"
    assert row["best"] == 0.8 and row["after"] == 0.7 and row["before"] == 0.5
    assert row["n_evals"] == 3 and row["n_steps"] == 40
    assert row["flags"] == "nan"          # the NaN is kept and flagged, not dropped
    assert evals["value"].isna().sum() == 1
    after = evals[(evals.phase == "after") & (evals.metric == "acc")]
    assert after["step"].tolist() == [39] and after["epoch"].tolist() == [40 / 156]
    before = evals[evals.phase == "before"]
    assert set(before["step"]) == {-1} and set(before["epoch"]) == {0.0}


@pytest.mark.parametrize("task,after,expected", [
    ("rte", 0.53, True), ("rte", 0.5307, False), ("rte", 0.47, True),
    ("cola", 0.0, True), ("cola", -0.02, True), ("cola", 0.01, False),
])
def test_diverged_is_no_better_than_the_majority_baseline(task, after, expected):
    r = rec(task=task, after=after)
    if task == "cola":
        r.curves["mcc"] = r.curves.pop("acc")
    trials, _, _ = build_tables([r])
    assert bool(trials["diverged"].iloc[0]) is expected


def test_unknown_task_without_baseline_has_no_verdict():
    trials, evals, _ = build_tables([rec(task="mytask", metric="acc")])
    assert trials["diverged"].isna().all()
    assert evals["epoch"].isna().all()      # no steps per epoch known


def test_incomplete_and_missing_metric_are_flagged_not_dropped():
    r1 = rec(wi=1, complete=False, after=None)
    r2 = rec(wi=2)
    del r2.curves["acc"]
    trials, _, _ = build_tables([r1, r2])
    assert len(trials) == 2
    assert trials.set_index("wi_seed")["flags"].to_dict() == {1: "incomplete", 2: "no_metric"}
    assert np.isnan(trials["after"].iloc[0]) and pd.isna(trials["diverged"].iloc[0])


def test_before_mismatch_across_do_seeds_is_flagged():
    trials, _, _ = build_tables([rec(wi=1, do=1, before=0.5), rec(wi=1, do=2, before=0.6),
                                 rec(wi=2, do=1, before=0.5), rec(wi=2, do=2, before=0.5)])
    flagged = trials[trials["flags"].str.contains("before_mismatch")]
    assert sorted(flagged["trial_id"]) == ["rte-wi1-do1", "rte-wi1-do2"]


def test_duplicate_trial_names_both_sources():
    with pytest.raises(DataError, match="duplicate trial rte-wi1-do1.*a.txt.*b.txt"):
        build_tables([rec(source="a.txt"), rec(source="b.txt")])


def test_single_seed_sweeps():
    trials, evals, _ = build_tables([rec(wi=None, do=None, seed=42)])
    assert trials["trial_id"].tolist() == ["rte-s42"]
    assert trials["wi_seed"].isna().all() and trials["seed"].tolist() == [42]
    with pytest.raises(DataError, match="WI x DO seed grid"):
        score_grid(trials, "rte")


def test_score_grid_and_eval_matrix(small_tables):
    trials, evals, _ = small_tables
    g = score_grid(trials, "rte")
    assert g.shape == (3, 3) and list(g.index) == [1, 2, 3]
    t = trials.set_index("trial_id")
    assert g.loc[2, 3] == t.loc["rte-wi2-do3", "score"]  # the paper's score by default
    assert score_grid(trials, "rte", "after").loc[2, 3] == t.loc["rte-wi2-do3", "after"]
    m = eval_matrix(evals, "rte", "acc", steps=[0, 20, 99])
    assert m.shape == (9, 3) and m[99].isna().all()
    assert m.loc["rte-wi2-do3", 20] == t.loc["rte-wi2-do3", "after"]
    with pytest.raises(DataError, match="no trials for task 'sst'"):
        score_grid(trials, "sst")


def test_task_metadata_matches_paper_facts():
    assert {t: i.steps_per_epoch for t, i in schema.TASKS.items()} == {
        "mrpc": 230, "rte": 156, "cola": 535, "sst": 4210}
    assert [len(schema.TASKS[t].es_steps) for t in schema.TASKS] == [30, 30, 30, 30]
    assert [len(schema.TASKS[t].schedule) for t in schema.TASKS] == [30, 31, 31, 127]
    assert schema.TASKS["mrpc"].schedule[-1] == 667
    assert schema.TASKS["sst"].es_steps[-1] == 12620
    assert schema.TASKS["rte"].per_epoch_steps == (155, 311, 467)
    with pytest.raises(ValueError, match="task: expected one of"):
        schema.task_info("qnli")



def test_values_outside_the_32_bit_schema_are_refused():
    with pytest.raises(DataError, match="wi_seed 4294967296 is out of the 32-bit range"):
        build_tables([rec(wi=2**32)])
    with pytest.raises(DataError, match="n_steps 5000000000 is out of the 32-bit range"):
        build_tables([rec(n_steps=5_000_000_000)])


def test_score_grid_refuses_two_trials_in_one_cell():
    trials, _, _ = build_tables([rec(seed=5), rec(seed=6)])
    with pytest.raises(DataError, match="several trials share WI 1 and DO 1"):
        score_grid(trials, "rte")

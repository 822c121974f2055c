"""The calibrated synthetic replica.

Every calibration target of ``data/replica_targets.csv`` is recomputed here from the
tables alone, with plain numpy/pandas/scipy (never with seedstats' own statistics), and
checked at the tolerance the file states. The full-scale round trips through the
release pickle and the raw logs are the slow tests of this file.
"""

from __future__ import annotations

import math
import re
import os
import stat
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seedstats.data import export, load, replica, schema, store
from seedstats.data.dataset import Dataset
from seedstats.data.digitized import earlystop_reference
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.data.replica import CLASS_COUNTS, build_replica, cache, confusion_metrics

TARGETS_FILE = Path(__file__).resolve().parents[1] / "data" / "replica_targets.csv"
TARGETS = pd.read_csv(TARGETS_FILE, dtype={"task": str, "quantity": str, "check": str,
                                           "source": str})
LOSS_STEPS = {"mrpc": 690, "rte": 468, "cola": 1605, "sst": 12630}


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ds():
    return build_replica()


def _grid(trials: pd.DataFrame, task: str, column: str = "score") -> np.ndarray:
    """(n_wi, n_do) paper scores (or another column), rows WI 1..N, columns DO 1..N."""
    t = trials[trials["task"] == task]
    g = t.pivot(index="wi_seed", columns="do_seed", values=column).sort_index()
    return g.sort_index(axis=1).to_numpy(dtype=np.float64)


def _paper_score(evals: pd.DataFrame, task: str) -> pd.Series:
    """The paper's score by hand: the best headline value over the regular grid's steps."""
    info = schema.TASKS[task]
    e = evals[(evals["task"] == task) & (evals["metric"] == info.metric)
              & (evals["phase"] == "during") & evals["step"].isin(info.schedule)]
    return e.groupby("trial_id", observed=True)["value"].max()


def _expected_max(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Expected max of n draws with replacement, by the order statistics' probabilities."""
    x = np.sort(x)
    q = np.arange(len(x) + 1) / len(x)
    return np.array([np.sum(x * (q[1:] ** k - q[:-1] ** k)) for k in n])


def _majority_score(task: str) -> float:
    """Headline score of always predicting the majority class, by hand."""
    maj, mino = CLASS_COUNTS[task]
    acc = Fraction(maj, maj + mino)
    f1 = Fraction(2 * maj, 2 * maj + mino)
    return float({"acc": acc, "acc_and_f1": (acc + f1) / 2, "mcc": Fraction(0)}[
        schema.TASKS[task].metric])


def _kde_bimodal(x: np.ndarray, low: float) -> bool:
    """Figure 3's shape: a density mode within 0.03 of the majority score and another at least
    0.1 above it, both at least a tenth of the highest density, with a dip between them
    (below 80% of the lower mode). The real MRPC and RTE scores have it (their low modes sit
    at .758 and .551)."""
    kde = stats.gaussian_kde(x)
    g = np.linspace(x.min() - 0.01, x.max() + 0.01, 1024)
    y = kde(g)
    peaks = [i for i in np.where((y[1:-1] > y[:-2]) & (y[1:-1] > y[2:]))[0] + 1
             if y[i] >= 0.1 * y.max()]
    near = [i for i in peaks if abs(g[i] - low) <= 0.03]
    high = [i for i in peaks if g[i] >= low + 0.1]
    if not near or not high:
        return False
    i, j = near[0], high[-1]
    return bool(y[i:j].min() < 0.8 * min(y[i], y[j]))


def _early_spearman(evals: pd.DataFrame, task: str, epoch: float) -> float:
    info = schema.TASKS[task]
    e = evals[(evals["task"] == task) & (evals["metric"] == info.metric)
              & (evals["phase"] == "during")]
    m = e.pivot(index="trial_id", columns="step", values="value").sort_index(axis=1)
    best_so_far = np.maximum.accumulate(m.to_numpy(), axis=1)
    ep = (m.columns.to_numpy() + 1) / info.steps_per_epoch
    i = int(np.argmin(np.abs(ep - epoch)))
    return float(stats.spearmanr(best_so_far[:, i], best_so_far[:, -1]).statistic)


@pytest.fixture(scope="module")
def real():
    """The real digitized paper scores (dodge2020) as (n, n) grids per task."""
    return {task: _grid(load("dodge2020").trials, task) for task in schema.TASKS}


@pytest.fixture(scope="module")
def measured(ds, real, full_training):
    """Every quantity of the targets file, computed independently from the tables."""
    tr, ev = ds.trials, ds.evals
    out = {}
    for task, info in schema.TASKS.items():
        g = _grid(tr, task)
        t = tr[tr["task"] == task]
        out[task, "mean"] = g.mean()
        out[task, "sd_agg_wi"] = g.std(axis=1).mean()
        out[task, "sd_agg_do"] = g.std(axis=0).mean()
        out[task, "sd_total"] = g.ravel().std()
        out[task, "best_score"] = g.max()
        maj = _majority_score(task)
        out[task, "majority_score"] = maj
        out[task, "near_majority"] = np.mean(np.abs(g - maj) < 0.02)
        out[task, "ks_dodge2020"] = stats.ks_2samp(g.ravel(), real[task].ravel()).statistic
        div = t["diverged"].to_numpy(dtype=bool)
        out[task, "diverged_frac"] = div.mean()
        if div.any():
            out[task, "diverged_at_majority"] = np.mean(
                np.abs(t["after"].to_numpy()[div] - maj) < 1e-12)
        out[task, "bimodal"] = _kde_bimodal(g.ravel(), maj)
        rows, cols = g.mean(axis=1), g.mean(axis=0)
        f_wi = stats.f_oneway(g[rows.argmax()], g[rows.argmin()])
        f_do = stats.f_oneway(g[:, cols.argmax()], g[:, cols.argmin()])
        out[task, "anova_p_wi"], out[task, "anova_f_wi"] = f_wi.pvalue, f_wi.statistic
        out[task, "anova_p_do"], out[task, "anova_f_do"] = f_do.pvalue, f_do.statistic
        out[task, "wi_gap_exceeds_do_gap"] = (rows.max() - rows.min()) > (cols.max() - cols.min())
        out[task, "wi12_rank"] = 1 + int(np.sum(rows > rows[12 - 1]))
        out[task, "spearman_early"] = _early_spearman(ev, task, 0.4)
        out[task, "spearman_2_epochs"] = _early_spearman(ev, task, 2.0)
        ref = earlystop_reference()
        ref = ref[ref["task"] == task].sort_values("budget")
        out[task, "es_full_training_dev"] = np.abs(
            full_training[task] - ref["expected_best_full_training"].to_numpy()).max()
    return out


@pytest.fixture(scope="module")
def full_training(ds):
    """Expected best of fully training x = 1..30 trials, by hand, on the 30-point curves the
    authors' early-stopping search used (a trial's best over its 30 evaluations)."""
    from seedstats.earlystop.curves import pick_steps

    out = {}
    for task, info in schema.TASKS.items():
        steps = pick_steps(info.schedule, 30, info.n_steps)
        e = ds.evals[(ds.evals["task"] == task) & (ds.evals["metric"] == info.metric)
                     & (ds.evals["phase"] == "during") & ds.evals["step"].isin(steps)]
        best = e.groupby("trial_id", observed=True)["value"].max().to_numpy()
        out[task] = _expected_max(best, np.arange(1, 31))
    return out


# --- the calibration targets -------------------------------------------------------------


def test_targets_file_is_well_formed():
    assert set(TARGETS["check"]) <= {"rel", "abs", "ratio", "le", "ge", "true", "false"}
    assert TARGETS["source"].str.len().min() > 5
    assert set(TARGETS["task"]) == set(schema.TASKS)
    # Every Table 3 / Table 1 / Table 4 number of paper-facts.md is there.
    for q in ("mean", "sd_agg_wi", "sd_agg_do", "sd_total", "best_score", "anova_p_wi",
              "anova_p_do", "anova_f_wi", "anova_f_do", "majority_score", "ks_dodge2020",
              "near_majority", "es_full_training_dev"):
        assert set(TARGETS.loc[TARGETS["quantity"] == q, "task"]) == set(schema.TASKS), q
    assert not TARGETS.duplicated(["task", "quantity"]).any()


@pytest.mark.parametrize("row", TARGETS.to_dict("records"),
                         ids=[f"{r.task}-{r.quantity}" for r in TARGETS.itertuples()])
def test_calibration_target(row, measured):
    value = measured[row["task"], row["quantity"]]
    check, bound, paper = row["check"], row["bound"], row["paper_value"]
    if check == "rel":
        assert abs(value / paper - 1) <= bound, (value, paper)
    elif check == "abs":
        assert abs(value - paper) <= bound, (value, paper)
    elif check == "ratio":
        assert 1 / bound <= value / paper <= bound, (value, paper)
    elif check == "le":
        assert value <= bound, value
    elif check == "ge":
        assert value >= bound, value
    else:
        assert bool(value) is (check == "true")


def test_the_tables_score_is_the_best_on_the_grid(ds):
    for task in schema.TASKS:
        t = ds.trials[ds.trials["task"] == task].set_index("trial_id")["score"]
        by_hand = _paper_score(ds.evals, task)
        by_hand.index = by_hand.index.astype(str)
        np.testing.assert_array_equal(t.to_numpy(), by_hand.reindex(t.index).to_numpy())


def test_final_scores_are_plausible(ds):
    # The paper prints no statistic of the final (``after``) score, so there is nothing to
    # match: only that it sits below the best on the grid on average (by less than 5 points)
    # and is more spread out (a run's last evaluation is not its best; diverged runs end at the
    # majority level), but not wildly.
    for task in schema.TASKS:
        final, paper = _grid(ds.trials, task, "after"), _grid(ds.trials, task)
        assert paper.mean() - 0.05 < final.mean() < paper.mean(), task
        assert 0.8 * paper.std() < final.std() < 3.0 * paper.std(), task


def _sorted_profile(g: np.ndarray) -> tuple[float, float]:
    """What a viewer of Figure 2 (rows and columns sorted by mean) sees as its gradients: the
    range of the row means and of the column means."""
    return float(np.ptp(g.mean(axis=1))), float(np.ptp(g.mean(axis=0)))


def test_fig2_shape_matches_the_real_one(ds, real):
    # Figure 2 sorts rows and columns by their means: the gradient it shows is the spread of
    # the WI and of the DO means. The replica's must be the real one's within a factor of 1.6
    # (the real MRPC row range is 0.094, its column range 0.056). The pictures side by side:
    # ``python data/calibrate_replica.py --heatmaps tests/reference/fig2_replica_vs_dodge2020.png``.
    for task in schema.TASKS:
        rep, got = _sorted_profile(_grid(ds.trials, task)), _sorted_profile(real[task])
        for a, b, what in zip(rep, got, ("WI", "DO")):
            assert 1 / 1.6 <= a / b <= 1.6, (task, what, a, b)


def test_table4_gap_pattern_reverses_on_sst(measured):
    # The paper's contrast (Section 4.2), spelled out: small tasks WI > DO, SST the opposite.
    assert [measured[t, "wi_gap_exceeds_do_gap"] for t in schema.TASKS] == [
        True, True, True, False]


def test_majority_class_counts_match_table2():
    for task, (maj, mino) in CLASS_COUNTS.items():
        info = schema.TASKS[task]
        assert maj + mino == info.n_val
        assert maj > mino
        # A diverged run must count as failed by the table builder's rule.
        assert schema.is_failed(_majority_score(task), info.baseline, info.metric)


# --- early stopping (Section 5, Figure 6) ----------------------------------------------------


@pytest.fixture(scope="module")
def best_assignments(ds):
    """Best early-stopping assignment per budget 1..30 of MRPC, RTE and CoLA (exact).

    The simulator is seedstats' own (:mod:`seedstats.earlystop`, checked against brute
    force in its tests); here it only reads the replica, on the paper's 30-point grid.
    """
    from seedstats.earlystop import budget_search

    return {task: budget_search(ds, task, exact=True, max_budget=30, cache=False)[1]
            .set_index("budget") for task in ("mrpc", "rte", "cola")}


def test_early_stopping_pattern_of_section5(best_assignments):
    # "start many more than are fully trained; fully train about half of a budget of x;
    # stop after 20-30% of training" (the paper's summary of MRPC, RTE and CoLA; its own
    # search stops after 10 of 30 evaluations at some budgets).
    for task, best in best_assignments.items():
        for x in (10, 20, 30):
            t, p, f = (best.loc[x, c] for c in ("t", "p", "f"))
            assert t >= 2 * p, (task, x, t, p)
            assert 0.2 * x <= p <= 0.7 * x, (task, x, p)
            assert 0.15 <= f <= 1 / 3 + 1e-9, (task, x, f)
            assert best.loc[x, "error_reduction"] > 0, (task, x)


#: How close the replica's best assignment is to the authors' printed one over budgets 5-30
#: (smaller budgets have few feasible assignments), per task: the median over budgets and the
#: largest factor between the replica's and the authors' trials started (t) and fully trained
#: (p + 1), then the median and largest difference of the stopping point in 30ths of
#: training. Measured on replica v3 (t, p, f): MRPC 1.06/1.31, 1.21/1.50, 1/3; RTE 1.53/1.89,
#: 1.26/1.50, 3/4; CoLA 1.58/1.82, 1.87/2.50, 7/8. MRPC is close; RTE stops a little earlier
#: and starts more trials; **CoLA's stopping point is not reproduced** (the authors stop
#: after 2 of 30 evaluations from budget 10 on, the replica after 8 or 9) and SST's pattern
#: (stop after 12 of 30) is not either (the replica stops after 1 or 2): on both the gains are
#: under half a point, so the optimum is flat and set by details the replica does not model.
ES_SHAPE = {"mrpc": (1.25, 1.6, 1.5, 3), "rte": (1.7, 2.0, 3, 4), "cola": (2.0, 2.7, 7, 8)}


def _shape_gaps(best, ref, task):
    r = ref[ref["task"] == task].set_index("budget").loc[5:30]
    b = best.loc[r.index]
    t = b["t"].to_numpy(float) / r["t"].to_numpy(float)
    p = (b["p"].to_numpy(float) + 1) / (r["p"].to_numpy(float) + 1)
    f = np.abs(b["f"].to_numpy(float) - r["f"].to_numpy(float)) * 30
    return t, p, f


def test_early_stopping_shape_is_close_to_the_authors(best_assignments):
    ref = earlystop_reference()
    for task, best in best_assignments.items():
        t, p, f = _shape_gaps(best, ref, task)
        median, every, f_median, f_every = ES_SHAPE[task]
        for name, ratio in (("t", t), ("p", p)):
            factor = np.exp(np.abs(np.log(ratio)))
            assert np.median(factor) <= median, (task, name, np.median(factor))
            assert factor.max() <= every, (task, name, factor.max())
        assert np.median(f) <= f_median + 1e-9, (task, np.median(f))
        assert f.max() <= f_every + 1e-9, (task, f.max())


def test_early_stopping_mrpc_budget_20_is_near_the_papers(best_assignments):
    # Figure 6: MRPC, budget 20 -> start 41, continue 11, stop after 30% of training.
    b = best_assignments["mrpc"].loc[20]
    assert 30 <= b["t"] <= 60 and 6 <= b["p"] <= 14 and 0.2 <= b["f"] <= 0.35, b


# --- confusion matrices -> metrics -------------------------------------------------------


def _mcc_fraction(tp, fn, fp, tn):
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return 0.0 if den == 0 else (tp * tn - fp * fn) / math.sqrt(den)


@pytest.mark.parametrize("cm", [(5, 2, 1, 7), (279, 0, 129, 0), (0, 3, 0, 4), (10, 0, 0, 10),
                                (0, 10, 10, 0), (1, 1, 1, 1), (400, 8, 20, 300)])
def test_confusion_metrics_exact(cm):
    tp, fn, fp, tn = cm
    m = confusion_metrics(*cm)
    acc = Fraction(tp + tn, tp + fn + fp + tn)
    f1 = Fraction(2 * tp, 2 * tp + fp + fn) if 2 * tp + fp + fn else Fraction(0)
    assert float(m["acc"]) == float(acc)
    assert float(m["f1"]) == float(f1)
    assert float(m["acc_and_f1"]) == pytest.approx(float((acc + f1) / 2), abs=1e-15)
    assert float(m["mcc"]) == pytest.approx(_mcc_fraction(*cm), abs=1e-15)


def test_confusion_metrics_match_label_vectors():
    # Brute force from label vectors: MCC is the Pearson correlation of the two.
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(5, 60))
        y = rng.random(n) < rng.uniform(0.2, 0.8)
        yhat = np.where(rng.random(n) < 0.7, y, rng.random(n) < 0.5)
        if y.all() or (~y).all() or yhat.all() or (~yhat).all():
            continue
        tp, fn = int(np.sum(y & yhat)), int(np.sum(y & ~yhat))
        fp, tn = int(np.sum(~y & yhat)), int(np.sum(~y & ~yhat))
        m = confusion_metrics(tp, fn, fp, tn)
        assert float(m["mcc"]) == pytest.approx(np.corrcoef(y, yhat)[0, 1], abs=1e-12)
        assert float(m["acc"]) == pytest.approx(np.mean(y == yhat), abs=1e-15)
        prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
        assert float(m["f1"]) == pytest.approx(f1, abs=1e-12)


def test_confusion_metrics_vectorized_and_rejects_bad_counts():
    m = confusion_metrics([5, 0], [2, 3], [1, 0], [7, 4])
    assert m["acc"].shape == (2,) and m["mcc"][1] == 0.0
    with pytest.raises(ValueError, match="fn: expected counts >= 0, got minimum -1"):
        confusion_metrics(1, -1, 0, 0)
    with pytest.raises(ValueError, match="tp, fn, fp, tn: expected at least one example"):
        confusion_metrics(0, 0, 0, 0)


# --- shape and values --------------------------------------------------------------------


def test_shape(ds):
    tr, ev, tl = ds.trials, ds.evals, ds.train_loss
    assert len(tr) == 2100
    assert tr.groupby("task", observed=True).size().to_dict() == {
        "mrpc": 625, "rte": 625, "cola": 625, "sst": 225}
    for task, info in schema.TASKS.items():
        t = tr[tr["task"] == task]
        n = info.grid_size
        assert sorted(zip(t["wi_seed"], t["do_seed"])) == [
            (w, d) for w in range(1, n + 1) for d in range(1, n + 1)]
        assert t["seed"].isna().all()
        assert (t["n_steps"] == LOSS_STEPS[task]).all()
        assert (t["n_evals"] == len(info.schedule)).all()
        counts = tl[tl["task"] == task].groupby("trial_id", observed=True).size()
        assert len(counts) == n * n and (counts == LOSS_STEPS[task]).all()
        e = ev[ev["task"] == task]
        assert set(e["metric"].astype(str)) == set(info.metrics)
        one = e[e["trial_id"] == f"{task}-wi1-do1"]
        for metric in info.metrics:
            m = one[one["metric"] == metric]
            assert m["step"].tolist() == [-1, *info.schedule, info.n_steps - 1]
            assert m["phase"].astype(str).tolist() == (
                ["before"] + ["during"] * len(info.schedule) + ["after"])
    assert (tr["complete"]).all() and (tr["flags"] == "").all()
    assert set(tr["source"]) == {"replica"}
    assert not ev["value"].isna().any() and not tl["loss"].isna().any()


def test_meta_marks_the_replica_synthetic(ds):
    assert ds.synthetic is True
    assert ds.meta == {
        "synthetic": True,
        "provenance": {"kind": "synthetic replica", "replica_version": replica.REPLICA_VERSION,
                       "of": "Dodge et al. 2020 release", "root_seed": replica.ROOT_SEED,
                       "generator": "seedstats.data.replica"},
    }


def test_accuracies_on_the_validation_grid(ds):
    ev = ds.evals
    for task, info in schema.TASKS.items():
        acc = ev[(ev["task"] == task) & (ev["metric"] == "acc")]["value"].to_numpy()
        if task == "cola":
            assert len(acc) == 0
            continue
        k = acc * info.n_val
        assert np.abs(k - np.rint(k)).max() < 1e-9
    mcc = ev[ev["metric"] == "mcc"]["value"]
    assert mcc.between(-1, 1).all() and mcc.min() < 0.1 and mcc.max() > 0.6


def test_mrpc_metrics_come_from_one_confusion_matrix(ds):
    ev = ds.evals[ds.evals["task"] == "mrpc"]
    w = ev.pivot_table(index=["trial_id", "step"], columns="metric", values="value",
                       observed=True)
    assert np.array_equal(w["acc_and_f1"].to_numpy(), ((w["acc"] + w["f1"]) / 2).to_numpy())
    P, N = CLASS_COUNTS["mrpc"]
    pairs = np.unique(w[["acc", "f1"]].to_numpy(), axis=0)
    tp = np.arange(P + 1)[None, :]
    k = np.rint(pairs[:, :1] * (P + N)).astype(int)          # tp + tn
    tn = k - tp
    ok = (tn >= 0) & (tn <= N)
    f1 = 2 * tp / (2 * tp + (N - tn) + (P - tp))
    match = ok & (np.abs(f1 - pairs[:, 1:]) < 1e-12)
    assert match.any(axis=1).all()


def test_cola_mcc_is_attainable_on_the_validation_set(ds):
    P, N = CLASS_COUNTS["cola"]
    tp, tn = np.meshgrid(np.arange(P + 1, dtype=float), np.arange(N + 1, dtype=float))
    fn, fp = P - tp, N - tn
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        attainable = np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)
    attainable = np.unique(attainable)
    vals = ds.evals[ds.evals["metric"] == "mcc"]["value"].to_numpy()
    i = np.clip(np.searchsorted(attainable, vals), 1, len(attainable) - 1)
    dist = np.minimum(np.abs(attainable[i] - vals), np.abs(attainable[i - 1] - vals))
    assert dist.max() < 1e-12


def test_simulated_counts_are_what_the_tables_hold(ds):
    sim = replica.simulate_task("rte", train_loss=False)
    tp, fn, fp, tn = np.moveaxis(sim["counts"], -1, 0)
    assert (tp + fn == CLASS_COUNTS["rte"][0]).all() and (fp + tn == CLASS_COUNTS["rte"][1]).all()
    acc = (tp + tn) / (tp + fn + fp + tn)
    t = ds.trials[ds.trials["task"] == "rte"].sort_values(["wi_seed", "do_seed"])
    assert np.array_equal(t["after"].to_numpy(), acc[:, -1])
    assert np.array_equal(t["before"].to_numpy(), acc[:, 0])


def test_before_depends_on_wi_only(ds):
    b = ds.evals[ds.evals["phase"] == "before"]
    spread = b.groupby(["task", "wi_seed", "metric"], observed=True)["value"].agg(
        lambda v: v.max() - v.min())
    assert (spread == 0).all()
    # ... and really varies between WI seeds.
    per_wi = b.groupby(["task", "metric", "wi_seed"], observed=True)["value"].first()
    assert (per_wi.groupby(["task", "metric"], observed=True).nunique() > 3).all()


def test_diverged_runs_collapse_and_their_loss_stalls(ds):
    tr, ev, tl = ds.trials, ds.evals, ds.train_loss
    ln2 = math.log(2)
    for task in ("mrpc", "rte", "cola"):
        P, N = CLASS_COUNTS[task]
        pi = P / (P + N)
        H = -(pi * math.log(pi) + (1 - pi) * math.log(1 - pi))
        assert abs(H - ln2) < 0.08
        t = tr[tr["task"] == task]
        # The runs that collapsed (the generator's latent divergence): the tables flag them,
        # and few others (runs that ended near the majority level without collapsing).
        sim = replica.simulate_task(task, train_loss=False)
        latent = {schema.trial_id(task, w, d) for w, d, x in
                  zip(sim["wi_seed"], sim["do_seed"], sim["diverged"]) if x}
        flagged = set(t.loc[t["diverged"].astype(bool), "trial_id"])
        at_maj = set(t.loc[(t["after"] - _majority_score(task)).abs() < 1e-12, "trial_id"])
        assert latent <= flagged and len(flagged - latent - at_maj) <= 0.05 * len(t)
        div = latent
        ok = set(t["trial_id"]) - flagged
        # The last 0.4 epochs: every divergence (by epoch 2.5) has happened.
        last = tl[(tl["task"] == task)
                  & (tl["step"] >= 2.6 * schema.TASKS[task].steps_per_epoch)]
        per = last.groupby("trial_id", observed=True)["loss"].mean()
        assert per[sorted(div)].sub(H).abs().max() < 0.03
        assert per[sorted(ok)].median() < 0.1
        # Validation loss of a collapsed run sits at the label entropy too.
        va = ev[(ev["task"] == task) & (ev["metric"] == "loss") & (ev["phase"] == "after")]
        va = va.set_index("trial_id")["value"]
        assert va[sorted(div)].sub(H).abs().max() < 0.02


def test_losses_are_consistent_with_the_scores(ds):
    tr, ev, tl = ds.trials, ds.evals, ds.train_loss
    assert (tl["loss"] > 0).all() and (ev.loc[ev["metric"] == "loss", "value"] > 0).all()
    for task, info in schema.TASKS.items():
        # Across the runs still learning, validation loss falls as the score rises
        # (third evaluation; late in training overconfidence weakens the link).
        step = info.schedule[2]
        e = ev[(ev["task"] == task) & (ev["step"] == step) & (ev["phase"] == "during")]
        w = e.pivot(index="trial_id", columns="metric", values="value")
        ok = tr.loc[(tr["task"] == task) & ~tr["diverged"].astype(bool), "trial_id"]
        w = w.loc[sorted(ok)]
        rho = stats.spearmanr(w["loss"], w[info.metric]).statistic
        assert rho < -0.5, (task, rho)
        # The untrained model's loss is about ln 2, and training starts from it.
        before = ev[(ev["task"] == task) & (ev["metric"] == "loss") & (ev["phase"] == "before")]
        assert before["value"].between(math.log(2) - 1e-6, math.log(2) + 0.2).all()
        first = tl[(tl["task"] == task) & (tl["step"] < 5)]["loss"]
        assert abs(first.median() - math.log(2)) < 0.15


# --- determinism -------------------------------------------------------------------------


def _hashes(d: Dataset) -> list[int]:
    return [int(pd.util.hash_pandas_object(getattr(d, n), index=True).sum())
            for n in ("trials", "evals", "train_loss")]


def test_build_is_deterministic_and_ignores_the_global_seed(ds, tmp_path):
    state = np.random.get_state()
    try:
        np.random.seed(12345)
        again = build_replica()
    finally:
        np.random.set_state(state)
    assert _hashes(again) == _hashes(ds)
    a, b = ds.save(tmp_path / "a"), again.save(tmp_path / "b")
    for name in ("trials.parquet", "evals.parquet", "train_loss.parquet", "dataset.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert json_dates((a / "dataset.json").read_text()) == ""


def json_dates(text: str) -> str:
    """Anything in the metadata that looks like a date or a time (there must be none)."""
    import re

    return " ".join(re.findall(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}", text))


def test_simulate_task_rejects_bad_arguments():
    with pytest.raises(ValueError, match="task: expected one of mrpc, rte, cola, sst, got 'qnli'"):
        replica.simulate_task("qnli")
    with pytest.raises(TypeError, match="params: expected a ReplicaParams"):
        replica.simulate_task("rte", {"mu": 1.0})


# --- cache -------------------------------------------------------------------------------


def _tiny() -> Dataset:
    steps = np.array([0, 10])
    recs = [TrialRecord("rte", w, d, None,
                        {"loss": Curve(0.7, steps, np.array([0.6, 0.5]), 0.4),
                         "acc": Curve(0.5, steps, np.array([0.6, 0.7]), 0.7)},
                        np.array([0.7, 0.6, 0.5]), source="replica")
            for w in (1, 2) for d in (1, 2)]
    return Dataset(*build_tables(recs), {"synthetic": True})


def test_cache_dir_order(monkeypatch, tmp_path):
    from seedstats.cache import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SEEDSTATS_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "seedstats"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "seedstats"
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    # Not writable (a file is in the way, which stops root too): a temporary directory.
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path / "file" / "sub"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(cache.tempfile, "tempdir", str(tmp_path / "tmp"))
    got = cache_dir()
    assert got.parent == tmp_path / "tmp" and got.name.startswith("seedstats-cache-")
    assert got.is_dir()


def _fallback_setup(monkeypatch, tmp_path):
    import seedstats.cache as root_cache

    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path / "file" / "sub"))
    (tmp_path / "tmp").mkdir(exist_ok=True)
    monkeypatch.setattr(cache.tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(root_cache, "_PRIVATE", [])
    return tmp_path / "tmp" / f"seedstats-cache-{os.getuid()}"


def test_the_fallback_cache_is_private(monkeypatch, tmp_path):
    import warnings

    from seedstats.cache import cache_dir

    shared = _fallback_setup(monkeypatch, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache_dir("earlystop") == shared / "earlystop"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700


@pytest.mark.parametrize("attack", ["world-writable", "another user's", "a symlink"])
def test_a_fallback_cache_someone_else_could_write_is_not_used(monkeypatch, tmp_path, attack):
    from seedstats.cache import cache_dir
    from seedstats.errors import SeedstatsNote

    shared = _fallback_setup(monkeypatch, tmp_path)
    if attack == "world-writable":
        shared.mkdir()
        shared.chmod(0o777)
    elif attack == "another user's":
        if os.getuid() != 0:
            pytest.skip("needs root to give a directory to another user")
        shared.mkdir(mode=0o700)
        os.chown(shared, 12345, 12345)
    else:
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        shared.symlink_to(tmp_path / "elsewhere")
    with pytest.warns(SeedstatsNote, match="for this run only") as notes:
        got = cache_dir("earlystop")
        again = cache_dir()
    assert len(notes) == 1 and "not using" in str(notes[0].message)
    assert shared not in got.parents and got.parent == again
    assert stat.S_IMODE(again.stat().st_mode) == 0o700


def test_a_damaged_cached_replica_is_rebuilt_with_a_note(monkeypatch, tmp_path):
    from seedstats.errors import SeedstatsNote

    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path))
    path = cache.replica_path()
    good = (path / "trials.parquet").read_bytes()
    (path / "trials.parquet").write_bytes(b"PAR1 damaged outside seedstats")
    with pytest.warns(SeedstatsNote, match="damaged .*rebuilt it"):
        ds = load()
    assert len(ds.trials) == 2100
    assert (cache.replica_path() / "trials.parquet").read_bytes() == good
    assert not [p for p in tmp_path.iterdir() if ".trash-" in p.name]


def test_replica_path_builds_once_then_reuses(monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(cache, "build_replica", lambda: calls.append(1) or _tiny())
    p = cache.replica_path()
    assert p.parent == tmp_path and store.is_dataset(p)
    assert p.name.startswith(f"replica-v{cache.REPLICA_VERSION}-"
                             f"schema{schema.SCHEMA_VERSION}-")
    assert cache.replica_path() == p and len(calls) == 1
    assert sorted(x.name for x in tmp_path.iterdir()) == [p.name]  # no staging left behind
    import seedstats

    assert len(seedstats.load().trials) == 4


def test_replica_path_uses_a_copy_another_process_finished(monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path))
    final = []

    def racing_build():
        # Another process renames its copy into place while we are still building.
        ours = _tiny()
        other = _tiny()
        other.meta = {"synthetic": True, "winner": "other"}
        target = tmp_path / final[0]
        other.save(target)
        return ours

    name = cache._fingerprint()
    final.append(f"replica-v{cache.REPLICA_VERSION}-schema{schema.SCHEMA_VERSION}-{name}")
    monkeypatch.setattr(cache, "build_replica", racing_build)
    p = cache.replica_path()
    assert p == tmp_path / final[0]
    assert store.read_dataset(p)[3]["winner"] == "other"
    assert sorted(x.name for x in tmp_path.iterdir()) == [p.name]


def _entry(root: Path, digest: str, age: float = 3600.0, version: int = 1) -> Path:
    """A finished replica cache entry of another generator source, ``age`` seconds old."""
    import os
    import time

    d = root / f"replica-v{version}-schema{schema.SCHEMA_VERSION}-{digest}"
    _tiny().save(d)
    t = time.time() - age
    os.utime(d, (t, t))
    return d


def test_replica_path_removes_entries_of_other_sources(monkeypatch, tmp_path):
    import os
    import time

    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "build_replica", _tiny)
    ours = cache._fingerprint()
    old = [_entry(tmp_path, "0123456789"), _entry(tmp_path, "abcdefabcd", version=0)]
    fresh = _entry(tmp_path, "fedcba9876", age=5.0)        # another process just wrote it
    same = _entry(tmp_path, ours, version=cache.REPLICA_VERSION + 1)   # our source
    building = tmp_path / ".replica-v9-schema1-0000000000.build-xyz"     # a build under way
    (building / "ds").mkdir(parents=True)
    crashed = tmp_path / ".replica-v1-schema1-1111111111.build-abc"      # a build that died
    crashed.mkdir()
    t = time.time() - 2 * cache.STALE_BUILD_S
    os.utime(crashed, (t, t))
    trash = tmp_path / ".replica-v1-schema1-2222222222.trash-1-ab"       # interrupted prune
    (trash / "x").mkdir(parents=True)
    others = [tmp_path / "earlystop", tmp_path / "replica-notes", tmp_path / "replica-v1-x"]
    for d in others:
        d.mkdir()
        os.utime(d, (t, t))
    (tmp_path / "replica-v1-schema1-3333333333").write_text("a file, not an entry")

    p = cache.replica_path()
    assert store.is_dataset(p)
    left = sorted(x.name for x in tmp_path.iterdir())
    assert left == sorted([p.name, fresh.name, same.name, building.name,
                           *(d.name for d in others), "replica-v1-schema1-3333333333"])
    assert not any(d.exists() for d in old) and not crashed.exists() and not trash.exists()
    # Once a cache entry exists, using it prunes nothing (only writing one does).
    again = _entry(tmp_path, "4444444444")
    assert cache.replica_path() == p and again.exists()


def test_an_entry_another_source_just_used_is_not_pruned(monkeypatch, tmp_path):
    # Built an hour ago by another source, and just loaded by a process running that source:
    # in use, so a build of ours must leave it (the grace counts from the last use).
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "build_replica", _tiny)
    theirs = _entry(tmp_path, "0123456789", version=cache.REPLICA_VERSION)
    ours = cache._fingerprint()
    monkeypatch.setattr(cache, "_fingerprint", lambda: "0123456789")
    assert cache.replica_path() == theirs
    monkeypatch.setattr(cache, "_fingerprint", lambda: ours)
    p = cache.replica_path()
    assert p != theirs and store.is_dataset(p) and store.is_dataset(theirs)


def test_prune_is_safe_when_processes_race(monkeypatch, tmp_path):
    # Another process renamed the stale entry away (or deleted it) first: ignored.
    stale = _entry(tmp_path, "0123456789")
    keep = f"replica-v{cache.REPLICA_VERSION}-schema{schema.SCHEMA_VERSION}-aaaaaaaaaa"
    real_rename = cache.os.rename

    def racing_rename(src, dst):
        if Path(src) == stale:
            raise FileNotFoundError(src)
        return real_rename(src, dst)

    monkeypatch.setattr(cache.os, "rename", racing_rename)
    assert cache._prune_stale(tmp_path, keep) == []
    assert stale.exists()
    monkeypatch.setattr(cache.os, "rename", real_rename)
    # The entry just written is never removed, whatever its age; a missing root is no error.
    mine = _entry(tmp_path, "aaaaaaaaaa", version=cache.REPLICA_VERSION)
    assert cache._prune_stale(tmp_path, mine.name) == [stale.name]
    assert mine.exists() and not stale.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == [mine.name]
    assert cache._prune_stale(tmp_path / "missing", keep) == []


def test_write_replica_parquet_and_bad_format(monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "build_replica", _tiny)
    out = export(load(), tmp_path / "out")
    assert store.is_dataset(out)
    got = store.read_dataset(out)
    pd.testing.assert_frame_equal(got[0], _tiny().trials)
    assert got[3]["synthetic"] is True
    with pytest.raises(ValueError, match="format: expected one of parquet, release, rawlog, "
                                         "got 'csv'"):
        export(load(), tmp_path / "x", format="csv")


# --- full-scale round trips (slow) ---------------------------------------------------------


def _canonical(df: pd.DataFrame, keys) -> pd.DataFrame:
    df = df.drop(columns=[c for c in ("source",) if c in df.columns])
    df = df.astype({c: str for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)})
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def _assert_same_tables(a: Dataset, b: Dataset):
    pd.testing.assert_frame_equal(_canonical(a.trials, ["trial_id"]),
                                  _canonical(b.trials, ["trial_id"]))
    pd.testing.assert_frame_equal(_canonical(a.evals, ["trial_id", "metric", "step"]),
                                  _canonical(b.evals, ["trial_id", "metric", "step"]))
    pd.testing.assert_frame_equal(_canonical(a.train_loss, ["trial_id", "step"]),
                                  _canonical(b.train_loss, ["trial_id", "step"]))


@pytest.fixture
def cached_replica(ds, monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "build_replica", lambda: ds)
    return ds


@pytest.mark.slow
def test_round_trip_release_pickle(cached_replica, tmp_path):
    from seedstats.data.ingest import ingest

    path = export(load(), tmp_path / "rel.pkl", format="release")
    back, rep = ingest(path, format="release")
    _assert_same_tables(cached_replica, back)
    assert rep.per_task["trials"].sum() == 2100
    assert rep.per_task["loss_steps"].sum() == len(cached_replica.train_loss)


@pytest.mark.slow
def test_round_trip_raw_logs(cached_replica, tmp_path):
    from seedstats.data.ingest import ingest

    path = export(load(), tmp_path / "raw", format="rawlog")
    assert len(list(path.iterdir())) == 2100
    back, rep = ingest(path, format="rawlog")
    _assert_same_tables(cached_replica, back)
    assert rep.per_task["evals"].sum() == len(cached_replica.evals)
    assert rep.per_task["loss_steps"].sum() == len(cached_replica.train_loss)


def test_a_full_disk_names_the_cache_and_the_way_out(monkeypatch, tmp_path):
    import errno

    from seedstats.errors import SeedstatsError

    monkeypatch.setenv("SEEDSTATS_CACHE", str(tmp_path))

    class Full:
        def save(self, path):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache, "build_replica", lambda: Full())
    with pytest.raises(SeedstatsError, match=rf"cache {re.escape(str(tmp_path))}: cannot write "
                                             r"the replica there \(No space left on device\); "
                                             r".*SEEDSTATS_CACHE"):
        cache.replica_path()
    assert not list(tmp_path.iterdir())  # no staging left behind

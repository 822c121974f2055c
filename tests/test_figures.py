"""Figure builders and make_all: every registered figure builds on a small dataset, and its
artists carry the numbers the statistics returned (checked against independent computations)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from scipy import stats

from seedstats.data import schema
from seedstats.data.dataset import Dataset
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.errors import DataError
from seedstats.figures.layout import NOTE_GID
from seedstats.figures.prep import kde_curves, pick_curves, sort_grid
from seedstats.figures.registry import FIGURES, make_all

# --- a small dataset, built the only way tables are built ----------------------------------


def make_dataset(tasks=("mrpc", "rte"), n=4, seed=0, synthetic=True, grid=True):
    """``n x n`` WI x DO trials per task (or ``n * n`` single seeds when ``grid=False``) whose
    curves follow the task's regular schedule; some trials diverge to the baseline."""
    rng = np.random.default_rng(seed)
    recs = []
    for task in tasks:
        info = schema.TASKS[task]
        steps = np.asarray(info.schedule)
        frac = (steps + 1) / info.n_steps
        for i in range(n):
            for j in range(n):
                fail = rng.uniform() < 0.2
                final = 0.8 + 0.02 * i - 0.01 * j + rng.normal(0, 0.02)
                if fail:
                    vals = info.baseline + rng.normal(0, 0.01, len(steps))
                    after = info.baseline
                else:
                    vals = (info.baseline + (final - info.baseline) * (1 - np.exp(-6 * frac))
                            + rng.normal(0, 0.02, len(steps)))
                    after = final
                curves = {info.metric: Curve(0.4 + 0.01 * i, steps, vals, float(after)),
                          "loss": Curve(0.7, steps, 0.7 - 0.2 * frac, 0.5)}
                seeds = ({"wi_seed": i + 1, "do_seed": j + 1} if grid
                         else {"seed": i * n + j + 1})
                recs.append(TrialRecord(task=task, curves=curves, n_steps=info.n_steps,
                                        train_loss=np.linspace(0.7, 0.1, 5),
                                        train_steps=np.linspace(0, info.n_steps - 1, 5,
                                                                dtype=int),
                                        source="test", **seeds))
    trials, evals, loss = build_tables(recs)
    return Dataset(trials, evals, loss, {"synthetic": synthetic})


#: Small early-stopping searches, so the tests stay quick (the figures use the paper's).
SMALL_ES = {"samples": 2_000, "rng": 0, "max_budget": 4}
SMALL_HALVING = {"etas": (2,), "min_ks": (1, 3), "samples": 500, "rng": 0}


@pytest.fixture(scope="module")
def es_cache(tmp_path_factory):
    """A private early-stopping cache and small searches, for every test of this module."""
    from seedstats.figures import ours, paper

    root = tmp_path_factory.mktemp("escache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEEDSTATS_CACHE", str(root))
        mp.setattr(paper, "EARLYSTOP", SMALL_ES)
        mp.setattr(ours, "HALVING", SMALL_HALVING)
        yield root


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


def paper_scores_by_hand(ds, task):
    """Trials of ``task`` with ``paper``: the best 'during' value of the headline metric on the
    task's regular schedule, computed here from the evaluations (the paper's score)."""
    e = ds.evals
    e = e[(e["task"] == task) & (e["metric"] == schema.TASKS[task].metric)
          & (e["phase"] == "during") & e["step"].isin(schema.TASKS[task].schedule)]
    best = e.groupby("trial_id", observed=True)["value"].max()
    t = ds.trials[ds.trials["task"] == task]
    return t.assign(paper=t["trial_id"].map(best).to_numpy(float))


@pytest.fixture(scope="module")
def built(ds, es_cache):
    """Every registered figure, built once (the expensive part of this file)."""
    out = {}
    for name, spec in FIGURES.items():
        try:
            out[name] = spec.build(ds)
        except DataError as exc:  # pragma: no cover - reported by the test below
            out[name] = exc
    return out


def panel(fig, title):
    """The Axes of a figure whose title is ``title``."""
    (ax,) = [a for a in fig.axes if a.get_title() == title]
    return ax


# --- the registry ---------------------------------------------------------------------------


def test_the_papers_figures_are_registered_in_order():
    names = list(FIGURES)
    paper = [n for n in names if FIGURES[n].paper_ref != "ours"]
    assert paper == [f"fig{i}" for i in range(1, 10) if f"fig{i}" in FIGURES]
    assert {"fig2", "fig3", "fig4", "fig5", "fig8", "fig9"} <= set(paper)
    assert names[: len(paper)] == paper  # ours come after the paper's
    for name, spec in FIGURES.items():
        assert spec.name == name and spec.title and len(spec.caption) > 40
        if name.startswith("fig"):
            assert spec.paper_ref == f"Figure {name[3:]}"


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_builds_with_a_panel_per_task_and_the_synthetic_note(built, name):
    fig = built[name]
    assert isinstance(fig, Figure), fig
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles == ["MRPC", "RTE"]
    notes = [t for t in fig.texts if t.get_gid() == NOTE_GID]
    assert len(notes) == 1 and notes[0].get_text() == "synthetic replica"
    assert notes[0].get_visible()
    for ax in fig.axes:
        if ax.get_title():  # a panel, not a colour bar or a twin
            assert ax.get_ylabel(), (name, ax.get_title())
            # the x label sits on the panel or on the small Axes sharing its x axis below it
            shared = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
            assert ax.get_xlabel() or any(a.get_xlabel() for a in shared), name


def test_real_data_carries_no_synthetic_note():
    real = make_dataset(tasks=("rte",), n=3, synthetic=False)
    fig = FIGURES["fig2"].build(real)
    assert not [t for t in fig.texts if t.get_gid() == NOTE_GID]


def test_building_does_not_touch_pyplot(built):
    import sys

    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


# --- Figure 1 -------------------------------------------------------------------------------


def test_fig1_lines_are_expected_maxima_of_the_scenario_scores(ds, built):
    ax = panel(built["fig1"], "MRPC")
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == ["frequent evaluation (10 per epoch)", "end of each epoch",
                           "end of training only"]
    end = lines["end of training only"]
    # on the paper's grid the end of training is the last grid point (the authors' notebook)
    e = ds.evals
    last = e[(e["task"] == "mrpc") & (e["metric"] == "acc_and_f1") & (e["phase"] == "during")
             & (e["step"] == schema.TASKS["mrpc"].schedule[-1])]
    s = np.sort(last["value"].to_numpy())
    N = len(s)
    np.testing.assert_array_equal(end.get_xdata(), np.arange(1, N + 1))
    k = np.arange(1, N + 1)
    for n in (1, 3, N):  # with replacement: sum_k ((k/N)^n - ((k-1)/N)^n) x_(k)
        expect = (((k / N) ** n - ((k - 1) / N) ** n) * s).sum()
        assert end.get_ydata()[n - 1] == pytest.approx(expect, rel=1e-12)
    # frequent evaluation keeps the best of every evaluation, so it is never below the end
    assert np.all(lines["frequent evaluation (10 per epoch)"].get_ydata()
                  >= end.get_ydata() - 1e-12)
    # the band is clipped to the observed range of the last-grid-point scores
    band = ax.collections[2].get_paths()[0].vertices[:, 1]
    assert band.max() <= s.max() + 1e-12 and band.min() >= s.min() - 1e-12
    assert ax.get_xscale() == "log"


# --- Figure 2 -------------------------------------------------------------------------------


def test_fig2_cells_are_the_paper_scores_sorted_by_means(ds, built):
    ax = panel(built["fig2"], "RTE")
    drawn = np.asarray(ax.images[0].get_array())
    t = paper_scores_by_hand(ds, "rte")
    # independent: pivot by hand, order rows by mean (best on top), columns (best right)
    g = t.pivot_table(index="wi_seed", columns="do_seed", values="paper", observed=True)
    rows = g.mean(axis=1).sort_values(ascending=False).index
    cols = g.mean(axis=0).sort_values().index
    np.testing.assert_allclose(drawn, g.loc[rows, cols].to_numpy())
    assert [int(x.get_text()) for x in ax.get_yticklabels()] == list(rows)
    assert [int(x.get_text()) for x in ax.get_xticklabels()] == list(cols)


def test_sort_grid_orders_rows_down_and_columns_up_with_nan():
    g = pd.DataFrame([[0.25, np.nan, 0.75], [np.nan, np.nan, np.nan], [0.5, 0.25, 0.75]],
                     index=[1, 2, 3], columns=[10, 20, 30])
    s = sort_grid(g)
    # row means: 0.5, NaN, 0.5 (exact) -> the tie keeps seed order, the all-NaN row last
    assert list(s.index) == [1, 3, 2]
    # column means: 0.375, 0.25, 0.75 -> increasing (best DO on the right)
    assert list(s.columns) == [20, 10, 30]
    pd.testing.assert_frame_equal(s.loc[[1, 3, 2], [20, 10, 30]], s)
    with pytest.raises(TypeError, match="grid"):
        sort_grid(np.ones((2, 2)))


# --- Figure 3 -------------------------------------------------------------------------------


def test_fig3_curves_are_kdes_of_the_best_and_worst_seeds(ds, built):
    ax = panel(built["fig3"], "MRPC")
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"best WI", "worst WI", "best DO", "worst DO"}
    assert lines["best DO"].get_linestyle() == "--" and lines["best WI"].get_linestyle() == "-"
    t = paper_scores_by_hand(ds, "mrpc")
    means = t.groupby("wi_seed")["paper"].mean()
    best_wi = means.idxmax()
    scores = t.loc[t["wi_seed"] == best_wi, "paper"].to_numpy()
    x = lines["best WI"].get_xdata()
    np.testing.assert_allclose(lines["best WI"].get_ydata(), stats.gaussian_kde(scores)(x),
                               rtol=1e-10)
    dmeans = t.groupby("do_seed")["paper"].mean()
    worst = t.loc[t["do_seed"] == dmeans.idxmin(), "paper"].to_numpy()
    np.testing.assert_allclose(lines["worst DO"].get_ydata(), stats.gaussian_kde(worst)(x),
                               rtol=1e-10)
    # the seeds are named in the panel
    assert any(f"WI {best_wi} /" in txt.get_text() for txt in ax.texts)


def test_kde_curves_against_scipy_and_edge_cases():
    a, b = [0.1, 0.4, 0.45, 0.9], [0.2, 0.3]
    df = kde_curves({"a": a, "b": b, "flat": [0.5, 0.5]}, n_points=50, support=(0.0, 1.0))
    assert list(df["label"].unique()) == ["a", "b"]  # no density for a constant sample
    x = df.loc[df["label"] == "a", "x"].to_numpy()
    assert x.min() == 0.0 and x.max() == 1.0 and len(x) == 50
    np.testing.assert_allclose(df.loc[df["label"] == "b", "density"],
                               stats.gaussian_kde(b)(x), rtol=1e-12)
    bw = df.loc[df["label"] == "a", "bandwidth"].iloc[0]
    assert bw == pytest.approx(np.std(a, ddof=1) * len(a) ** (-1 / 5))  # Scott's rule
    assert kde_curves({"x": [1.0]}).empty
    with pytest.raises(TypeError, match="samples"):
        kde_curves([0.1, 0.2])
    with pytest.raises(ValueError, match="n_points"):
        kde_curves({"a": a}, n_points=1)


# --- Figure 4 -------------------------------------------------------------------------------


def test_fig4_draws_the_logged_curves_of_the_chosen_trials(ds, built):
    ax = panel(built["fig4"], "RTE")
    curves = [ln for ln in ax.get_lines() if ln.get_gid() != "baseline"]
    assert len(curves) == 16  # 4 x 4 trials, fewer than 20
    assert len({ln.get_gid() for ln in curves}) == 16
    ln = curves[0]
    e = ds.evals
    e = e[(e["trial_id"] == ln.get_gid()) & (e["metric"] == "acc") & (e["phase"] == "during")]
    np.testing.assert_allclose(ln.get_ydata(), e.sort_values("step")["value"])
    np.testing.assert_allclose(ln.get_xdata(), (e.sort_values("step")["step"] + 1) / 156)
    (base,) = [ln for ln in ax.get_lines() if ln.get_gid() == "baseline"]
    assert base.get_ydata()[0] == 0.53


def test_pick_curves_is_seeded_and_ignores_the_global_seed(ds):
    np.random.seed(1)
    a = pick_curves(ds.evals, "mrpc", n=5, rng=3)
    np.random.seed(2)
    b = pick_curves(ds.evals, "mrpc", n=5, rng=3)
    pd.testing.assert_frame_equal(a, b)
    assert a["trial_id"].nunique() == 5
    c = pick_curves(ds.evals, "mrpc", n=5, rng=4)
    assert list(pd.unique(c["trial_id"])) != list(pd.unique(a["trial_id"]))
    # independent: the same draw by hand
    ids = np.array(sorted(ds.trials.loc[ds.trials["task"] == "mrpc", "trial_id"]), dtype=object)
    expect = np.random.default_rng(3).choice(ids, size=5, replace=False)
    assert list(pd.unique(a["trial_id"])) == list(expect)
    with pytest.raises(ValueError, match="n must be"):
        pick_curves(ds.evals, "mrpc", n=0)
    with pytest.raises(DataError, match="no 'during'"):
        pick_curves(ds.evals, "mrpc", metric="mcc")


# --- Figures 5 and 9 ------------------------------------------------------------------------


def best_so_far_by_hand(ds, task, metric):
    e = ds.evals
    e = e[(e["task"] == task) & (e["metric"] == metric) & (e["phase"] == "during")]
    e = e[e["step"].isin(schema.TASKS[task].es_steps)]
    m = e.pivot_table(index="trial_id", columns="step", values="value", observed=True)
    return m.cummax(axis=1)


@pytest.mark.parametrize("name, method", [("fig5", "spearman"), ("fig9", "pearson")])
def test_correlation_maps_hold_the_checkpoint_correlations(ds, built, name, method):
    ax = panel(built[name], "RTE")
    drawn = np.asarray(ax.collections[0].get_array())
    best = best_so_far_by_hand(ds, "rte", "acc")
    assert drawn.shape == (30, 30)
    corr = stats.spearmanr if method == "spearman" else stats.pearsonr
    for i, j in [(0, 29), (5, 29), (10, 20)]:
        r = corr(best.iloc[:, i], best.iloc[:, j])[0]
        assert drawn[i, j] == pytest.approx(r, abs=1e-10)
        assert drawn[j, i] == pytest.approx(r, abs=1e-10)
    # axes in epochs: the last evaluation (step 462) sits at 463 / 156
    assert ax.get_xlim()[1] > 463 / 156 > ax.get_xlim()[1] - 0.1


# --- Figures 6 and 7 ------------------------------------------------------------------------


def best_per_budget(ds, task):
    from seedstats.earlystop.search import budget_search

    return budget_search(ds, task, **SMALL_ES)[1]


def test_fig6_draws_the_best_assignment_of_each_budget(ds, built, es_cache):
    ax = panel(built["fig6"], "RTE")
    best = best_per_budget(ds, "rte")
    started, trained = [ln for ln in ax.get_lines() if ln.get_gid() != "not-clear"][:2]
    (frac,) = [ln for ln in ax.seedstats_twin.get_lines() if ln.get_gid() != "not-clear"]
    np.testing.assert_array_equal(started.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(started.get_ydata(), best["t"])
    np.testing.assert_array_equal(trained.get_ydata(), best["p"])
    np.testing.assert_allclose(frac.get_ydata(), best["f"])
    # independently: every drawn assignment spends exactly its budget, t*f + p*(1-f) = x
    t, p, f = started.get_ydata(), trained.get_ydata(), frac.get_ydata()
    np.testing.assert_allclose(t * f + p * (1 - f), [1, 2, 3, 4], atol=1e-9)
    # budgets without a clear winner get hollow markers
    hollow = [ln for ln in ax.get_lines() if ln.get_gid() == "not-clear"]
    n_unclear = int((~best["clear_winner"].astype(bool)).sum())
    assert sum(len(ln.get_xdata()) for ln in hollow) == 2 * n_unclear


def test_fig7_draws_the_relative_error_reduction(ds, built, es_cache):
    ax = panel(built["fig7"], "MRPC")
    best = best_per_budget(ds, "mrpc")
    line = ax.get_lines()[0]
    # independently from the two expected scores: (best - base) / (1 - base), in percent
    expect = 100 * (best["expected"] - best["baseline"]) / (1 - best["baseline"])
    np.testing.assert_allclose(line.get_ydata(), expect, rtol=1e-9, atol=1e-12)
    assert ax.get_ylabel() == "relative error reduction (%)"


def test_early_stopping_figures_reuse_the_cache(ds, built, es_cache):
    entries = sorted(p.name for p in (es_cache / "earlystop").iterdir())
    assert len(entries) == 2 + 2  # one budget search and one halving search per task
    FIGURES["fig7"].build(ds)
    FIGURES["halving"].build(ds)
    assert sorted(p.name for p in (es_cache / "earlystop").iterdir()) == entries


def test_halving_compares_with_the_papers_rule(ds, built, es_cache):
    from seedstats.earlystop import as_curves, halving_search

    ax = panel(built["halving"], "RTE")
    paper_line, halving_line = ax.get_lines()[:2]
    best = best_per_budget(ds, "rte")
    np.testing.assert_allclose(paper_line.get_ydata(), 100 * best["error_reduction"])
    _, hb = halving_search(as_curves(ds, "rte"), 4, **SMALL_HALVING)
    base = best.set_index("budget").loc[hb["budget"], "baseline"].to_numpy()
    expect = 100 * (hb["expected"].to_numpy() - base) / (1 - base)
    np.testing.assert_array_equal(halving_line.get_xdata(), hb["budget"])
    np.testing.assert_allclose(halving_line.get_ydata(), expect, rtol=1e-9, atol=1e-12)


def test_halving_band_carries_both_monte_carlo_errors(ds, built, es_cache):
    from seedstats.earlystop import as_curves, halving_search

    ax = panel(built["halving"], "RTE")
    paper_band, halving_band = ax.collections[:2]
    best = best_per_budget(ds, "rte").set_index("budget")
    _, hb = halving_search(as_curves(ds, "rte"), 4, **SMALL_HALVING)
    b = best.loc[hb["budget"]]
    s, base = hb["expected"].to_numpy(), b["baseline"].to_numpy()
    # written out: independent draws, var r = (se_s / (1-b))^2 + ((1-s) / (1-b)^2 * se_b)^2
    se = np.sqrt((hb["se"].to_numpy() / (1 - base)) ** 2
                 + ((1 - s) / (1 - base) ** 2 * b["baseline_se"].to_numpy()) ** 2)
    assert (b["baseline_se"] > 0).all()  # Monte Carlo baseline: its error is in the band
    r = (s - base) / (1 - base)

    def band_at(coll, x):
        ys = [y for xx, y in coll.get_paths()[0].vertices if abs(xx - x) < 1e-9]
        return min(ys), max(ys)

    for x, lo, hi in zip(hb["budget"], 100 * (r - 2 * se), 100 * (r + 2 * se)):
        np.testing.assert_allclose(band_at(halving_band, x), (lo, hi), rtol=1e-9, atol=1e-9)
    # the paper's rule: Figure 7's band, which already propagates the baseline's error the
    # same way (its best starts more trials than the baseline: independent draws)
    from seedstats.earlystop.search import error_reduction

    er, er_se = best["error_reduction"], best["error_reduction_se"]
    stops = best["p"] < best["t"]  # the others are the baseline itself: r = 0, se = 0
    assert stops.any()
    assert (best.loc[stops, "t"] > best.index[stops]).all()
    np.testing.assert_allclose(er_se[stops], error_reduction(
        best["expected"], best["baseline"], best["se"], best["baseline_se"])[1][stops],
        rtol=1e-12)
    for x in best.index:
        np.testing.assert_allclose(band_at(paper_band, x),
                                   (100 * (er[x] - 2 * er_se[x]), 100 * (er[x] + 2 * er_se[x])),
                                   rtol=1e-9, atol=1e-9)


# --- Figure 8 -------------------------------------------------------------------------------


def test_fig8_kdes_of_per_seed_sds_and_the_total_sd(ds, built):
    ax = panel(built["fig8"], "MRPC")
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    t = paper_scores_by_hand(ds, "mrpc")
    total = np.std(t["paper"].to_numpy(), ddof=0)  # population SD, as the paper
    np.testing.assert_allclose(lines["total SD"].get_xdata(), [total, total])
    assert lines["total SD"].get_linestyle() == "--"
    sds = t.groupby("wi_seed")["paper"].std(ddof=0).to_numpy()
    wi = lines["per WI seed (over DO)"]
    np.testing.assert_allclose(wi.get_ydata(), stats.gaussian_kde(sds)(wi.get_xdata()),
                               rtol=1e-10)
    assert wi.get_xdata().min() >= 0.0  # an SD is not negative


# --- ours -----------------------------------------------------------------------------------


def test_varcomp_bars_are_the_anova_estimates(ds, built):
    ax = panel(built["varcomp"], "RTE")
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    heights = [c.patches[0].get_height() for c in bars]
    t = paper_scores_by_hand(ds, "rte")
    y = t.pivot_table(index="wi_seed", columns="do_seed", values="paper",
                      observed=True).to_numpy()
    i, j = y.shape
    grand = y.mean()
    ms_a = j * ((y.mean(axis=1) - grand) ** 2).sum() / (i - 1)
    ms_b = i * ((y.mean(axis=0) - grand) ** 2).sum() / (j - 1)
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + grand
    ms_e = (resid ** 2).sum() / ((i - 1) * (j - 1))
    var = [max((ms_a - ms_e) / j, 0), max((ms_b - ms_e) / i, 0), ms_e]
    np.testing.assert_allclose(heights, np.sqrt(var + [sum(var)]), rtol=1e-10)
    labels = [tk.get_text() for tk in ax.get_xticklabels()]
    assert labels[0].startswith("WI\n") and labels[-1] == "total"
    assert labels[2] == f"residual\n{var[2] / sum(var):.0%}"


def test_estimators_lines_are_the_two_estimators(ds, built):
    fig = built["estimators"]
    ax = panel(fig, "MRPC")
    with_r, without = ax.get_lines()
    s = paper_scores_by_hand(ds, "mrpc")["paper"].to_numpy()
    n = with_r.get_xdata()
    assert list(n) == list(range(1, 17))
    # n = 1 is the mean under both; without replacement n = N is the maximum
    assert with_r.get_ydata()[0] == pytest.approx(s.mean())
    assert without.get_ydata()[0] == pytest.approx(s.mean())
    assert without.get_ydata()[-1] == pytest.approx(s.max())
    # with replacement: sum over order statistics of ((k/N)^n - ((k-1)/N)^n) x_(k)
    x, N = np.sort(s), len(s)
    k = np.arange(1, N + 1)
    for m in (2, 7):
        expect = (((k / N) ** m - ((k - 1) / N) ** m) * x).sum()
        assert with_r.get_ydata()[m - 1] == pytest.approx(expect, rel=1e-12)
    # the small Axes below draws the difference without - with replacement
    (small,) = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
    gap = [ln for ln in small.get_lines() if ln.get_label() == "without minus with replacement"]
    np.testing.assert_allclose(gap[0].get_ydata(), without.get_ydata() - with_r.get_ydata(),
                               atol=1e-15)


def test_figures_ignore_the_global_numpy_seed(ds, es_cache, monkeypatch):
    from seedstats.figures import paper

    monkeypatch.setattr(paper, "EARLYSTOP", {**SMALL_ES, "cache": False})  # really simulate

    def data(name):
        fig = FIGURES[name].build(ds)
        return [np.asarray(ln.get_ydata(), float) for ax in fig.axes for ln in ax.get_lines()]

    for name in ("estimators", "fig4", "fig6"):  # bootstrap, random curves, Monte Carlo
        np.random.seed(0)
        a = data(name)
        np.random.seed(12345)
        b = data(name)
        assert len(a) == len(b) > 0
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


# --- make_all -------------------------------------------------------------------------------


def test_make_all_writes_files_index_and_reports_progress(ds, tmp_path):
    lines, err = [], io.StringIO()
    failed = make_all(ds, ["fig2", "fig4"], out=tmp_path / "out", fmt="svg", echo=lines.append,
                      progress=err)
    assert failed == []
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["fig2.svg", "fig4.svg", "index.md"]
    index = (tmp_path / "out" / "index.md").read_text()
    assert FIGURES["fig2"].caption_for("paper") in index and "(Figure 4)" in index
    assert "best validation score on the task's regular evaluation grid" in index
    assert "synthetic replica" in index
    assert any(line.startswith("wrote ") and line.endswith("fig2.svg") for line in lines)
    progress = err.getvalue().splitlines()
    assert progress[0].startswith("[1/2] fig2 done") and progress[1].startswith("[2/2] fig4")
    assert "synthetic replica" in (tmp_path / "out" / "fig2.svg").read_text()


def test_make_all_reports_a_figure_the_data_cannot_support_and_makes_the_others(tmp_path):
    sweep = make_dataset(tasks=("rte",), n=3, grid=False)  # single seeds: no WI x DO grid
    lines = []
    failed = make_all(sweep, ["fig2", "fig4"], out=tmp_path, echo=lines.append,
                      progress=io.StringIO())
    assert failed == ["fig2"]
    (msg,) = [line for line in lines if line.startswith("fig2:")]
    assert "WI x DO" in msg and "\n" not in msg
    assert (tmp_path / "fig4.png").exists() and not (tmp_path / "fig2.png").exists()
    assert "- fig2" in (tmp_path / "index.md").read_text()


def test_make_all_rejects_unknown_names_and_formats(ds, tmp_path):
    with pytest.raises(ValueError, match="unknown figure.*nope"):
        make_all(ds, ["fig2", "nope"], out=tmp_path)
    with pytest.raises(ValueError, match="fmt"):
        make_all(ds, ["fig2"], out=tmp_path, fmt="jpg")


def test_a_figure_is_left_out_per_task_when_only_some_tasks_support_it(tmp_path):
    a = make_dataset(tasks=("rte",), n=3)
    b = make_dataset(tasks=("mrpc",), n=3, grid=False)
    trials, evals, loss = (pd.concat([x, y], ignore_index=True) for x, y in
                           zip((a.trials, a.evals, a.train_loss),
                               (b.trials, b.evals, b.train_loss)))
    mixed = Dataset(trials, evals, loss, {"synthetic": True})
    fig = FIGURES["fig2"].build(mixed)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["RTE"]
    assert list(fig.seedstats_skipped) == ["mrpc"]


def test_the_command_line_makes_the_others_and_exits_1_with_one_line(tmp_path, capsys):
    from seedstats.cli import main

    data = make_dataset(tasks=("rte",), n=3, grid=False).save(tmp_path / "sweep")
    rc = main(["figures", "fig2", "fig4", "--data", str(data), "--out", str(tmp_path / "f")])
    out = capsys.readouterr()
    assert rc == 1
    assert (tmp_path / "f" / "fig4.png").exists()
    (line,) = [x for x in out.out.splitlines() if x.startswith("fig2:")]
    assert "needs a WI x DO seed grid" in line
    assert "Traceback" not in out.err


def test_make_all_in_processes_writes_the_same_bytes_in_the_same_order(ds, es_cache, tmp_path):
    # the figures that share the early-stopping search, and a failing one, in parallel
    names = ["fig2", "fig6", "fig7", "halving", "fig8"]
    out, progress = {}, {}
    for jobs in (1, 3):
        lines, err = [], io.StringIO()
        failed = make_all(ds, names, out=tmp_path / str(jobs), echo=lines.append,
                          progress=err, jobs=jobs)
        assert failed == []
        out[jobs], progress[jobs] = lines, err.getvalue().splitlines()
    # every progress line comes back to the caller's stream (in the order they finished)
    assert sorted(x.split(" (")[0] for x in progress[3]) == sorted(
        x.split(" (")[0] for x in progress[1])
    assert [x.replace("/3/", "/1/") for x in out[3]] == out[1]   # echo order is the names'
    for name in [*names, "index"]:
        ext = "md" if name == "index" else "png"
        a = (tmp_path / "1" / f"{name}.{ext}").read_bytes()
        b = (tmp_path / "3" / f"{name}.{ext}").read_bytes()
        assert a == b, name
    assert not [p for p in (tmp_path / "3").iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="jobs: expected an integer >= 1"):
        make_all(ds, ["fig2"], out=tmp_path, jobs=0)


def test_build_order_puts_the_searches_first():
    from seedstats.figures.registry import build_order

    assert build_order(["fig1", "fig6", "tables", "halving"]) == [
        "halving", "fig6", "fig1", "tables"]
    assert build_order(["fig2", "tables"]) == ["fig2", "tables"]


def test_a_crash_while_saving_leaves_the_old_file(ds, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    make_all(ds, ["fig4"], out=tmp_path, echo=lambda *a: None, progress=io.StringIO())
    before = (tmp_path / "fig4.png").read_bytes()

    def crash(self, fname, *args, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(b"half a PNG")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", crash)
    with pytest.raises(KeyboardInterrupt):
        make_all(ds, ["fig4"], out=tmp_path, echo=lambda *a: None, progress=io.StringIO())
    assert (tmp_path / "fig4.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig4.png", "index.md"]

"""Builders of the paper's Figures 1-9 (Dodge et al. 2020), one panel per task.

Each builder takes a :class:`~seedstats.data.dataset.Dataset`, asks the statistics
modules for the numbers, and draws them with :mod:`seedstats.plots`. Nothing is
estimated here.
"""

from __future__ import annotations

import numpy as np

from seedstats.data import schema, score_column
from seedstats.earlystop.search import budget_search, budget_search_tasks
from seedstats.errors import SeedstatsError
from seedstats.figures.common import (
    finish_panel,
    metric_support,
    score_label,
    task_baseline,
    task_metric,
)
from seedstats.figures.layout import panel_figure, shared_legend
from seedstats.figures.prep import kde_curves, pick_curves, sort_grid
from seedstats.figures.spec import register, task_panels
from seedstats.plots.correlation import plot_checkpoint_correlation
from seedstats.plots.curves import plot_curves, plot_expected_max
from seedstats.plots.density import plot_density
from seedstats.plots.earlystop import plot_best_assignment, plot_error_reduction
from seedstats.plots.heatmap import plot_seed_heatmap
from seedstats.plots.style import COLORS
from seedstats.stats.checkpoints import checkpoint_correlations
from seedstats.stats.scenarios import expected_max_scenarios
from seedstats.stats.seeds import best_worst_anova, per_seed_sd, seed_sd_summary

__all__ = ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9"]

GRID = "a WI x DO seed grid (separate wi_seed and do_seed per trial)"
CURVES = "validation curves ('during' evaluations of the headline metric)"

#: Figure 4: how many curves, and the seed of their draw.
FIG4_CURVES, FIG4_SEED = 20, 0


def _figure(results, skipped, ncols=2, panel=(3.3, 2.5)):
    fig, axes = panel_figure(list(results), ncols=ncols, panel=panel)
    fig.seedstats_skipped = skipped
    return fig, dict(zip(results, axes))


# --- Figure 1 ---------------------------------------------------------------------------

SCENARIO_LABELS = {"frequent": "frequent evaluation (10 per epoch)",
                   "epoch": "end of each epoch", "end": "end of training only"}


def log_budget_axis(ax, n_max):
    """Log-scaled budget axis with plain tick labels (1, 10, 100)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_xscale("log")
    ax.set_xlim(1, max(2, n_max))
    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


@register(
    "fig1", "Figure 1", "Expected validation performance vs number of trials",
    "Expected best validation score among n trials (Dodge et al. 2019, sampling with "
    "replacement), plus and minus one standard deviation of the best of n (shaded, clipped to "
    "the observed minimum and maximum), for three evaluation scenarios: frequent evaluation "
    "during training (10 times per epoch; SST every 100 steps; blue), at the end of each epoch "
    "(orange), and only at the end of training (green), on the paper's regular evaluation grid "
    "as the authors' notebook defines them (every grid point; every 10th and the last; the "
    "last). In the paper, more evaluations give higher expected performance and smaller "
    "variance. Data without curves (one score per trial) has only the frequent curve.",
    needs=CURVES + " and final scores")
def fig1(ds):
    """Figure 1: expected validation performance vs budget, three evaluation scenarios."""
    def compute(task):
        metric = task_metric(ds, task)
        kw = {"metric": metric, "lower_is_better": ds.lower_is_better(metric)}
        if ds.evals.empty:  # one score per trial: the frequent scenario is the paper score
            return expected_max_scenarios(ds.trials, ds.evals, task, scenarios=["frequent"],
                                          **kw)
        e = ds.evals[ds.evals["task"] == task]
        if e["epoch"].isna().all():  # a sweep that logged no epochs: no "once per epoch"
            return expected_max_scenarios(ds.trials, ds.evals, task,
                                          scenarios=["frequent", "end"], **kw)
        return expected_max_scenarios(ds.trials, ds.evals, task, **kw)

    results, skipped = task_panels(ds, compute, needs=CURVES + " and final scores")
    fig, axes = _figure(results, skipped)
    for task, c in results.items():
        ax = axes[task]
        labels = SCENARIO_LABELS if task in schema.TASKS else {
            **SCENARIO_LABELS, "frequent": "every logged evaluation"}  # not the paper's grid
        plot_expected_max(c, ax=ax, labels=labels)
        log_budget_axis(ax, int(c["n"].max()))
        finish_panel(ax, task, xlabel="number of trials (log scale)",
                     ylabel=f"expected best {score_label(ds, task)}")
    shared_legend(fig, list(axes.values()))
    return fig


# --- Figure 2 ---------------------------------------------------------------------------


@register(
    "fig2", "Figure 2", "WI x DO heatmap of validation scores",
    "Validation performance of every trial: one cell per weight-initialization (WI, rows) and "
    "data-order (DO, columns) seed, coloured by {score}. Rows and columns are "
    "sorted by their mean: the best WI seed is the top row, the best DO seed the right-most "
    "column. Diverged runs score about the majority baseline (the darkest cells).",
    needs=GRID)
def fig2(ds, score="paper"):
    """Figure 2: the WI x DO grid of scores, sorted by row and column means."""
    column = score_column(score)
    results, skipped = task_panels(ds, lambda t: sort_grid(ds.grid(t, column)), needs=GRID)
    n = max(max(g.shape) for g in results.values())
    fig, axes = _figure(results, skipped, panel=(3.4, 3.0 if n > 10 else 2.6))
    for task, grid in results.items():
        ax = axes[task]

        plot_seed_heatmap(grid, ax=ax, cbar_label=score_label(ds, task))
        finish_panel(ax, task)
    return fig


# --- Figure 3 ---------------------------------------------------------------------------


def _best_worst(ds, task, score):
    """Scores of the best and worst WI and DO seeds, ranked by mean score (Table 4)."""
    grid = ds.grid(task, score_column(score))
    out = {}
    for factor, name in (("wi", "WI"), ("do", "DO")):
        r = best_worst_anova(grid, factor).iloc[0]
        for which in ("best", "worst"):
            seed = r[f"{which}_seed"]
            scores = grid.loc[seed] if factor == "wi" else grid[seed]
            out[f"{which} {name}"] = (seed, scores.to_numpy(dtype=float))
    return out


_BW_COLORS = {"best WI": COLORS["blue"], "worst WI": COLORS["red"],
              "best DO": COLORS["blue"], "worst DO": COLORS["red"]}
_BW_STYLES = {"best WI": "-", "worst WI": "-", "best DO": "--", "worst DO": "--"}


@register(
    "fig3", "Figure 3", "Score densities of the best and worst WI and DO seeds",
    "Kernel density estimates of the scores ({score}) of the best and worst weight-"
    "initialization seeds (solid) and data-order seeds (dashed), seeds ranked by their mean "
    "score; the seeds are named in each panel. In the paper the worst seeds put more mass on "
    "low scores, and on MRPC and RTE the distributions are bimodal, one mode being diverged "
    "runs at the majority baseline.",
    needs=GRID)
def fig3(ds, score="paper"):
    """Figure 3: KDE of the scores of the best and worst WI (solid) and DO (dashed) seeds."""
    def compute(task):
        bw = _best_worst(ds, task, score)
        return bw, kde_curves({k: v for k, (_, v) in bw.items()},
                              support=metric_support(ds, task))

    results, skipped = task_panels(ds, compute, needs=GRID)
    fig, axes = _figure(results, skipped)
    for task, (bw, curves) in results.items():
        ax = axes[task]
        plot_density(curves, ax=ax, colors=_BW_COLORS, linestyles=_BW_STYLES)
        seeds = (f"WI {bw['best WI'][0]} / {bw['worst WI'][0]}\n"
                 f"DO {bw['best DO'][0]} / {bw['worst DO'][0]}")
        ax.text(0.02, 0.97, f"best / worst seed\n{seeds}", transform=ax.transAxes,
                ha="left", va="top", fontsize=6.5, color="0.3", linespacing=1.15)
        finish_panel(ax, task, xlabel=score_label(ds, task))
    shared_legend(fig, list(axes.values()))
    return fig


# --- Figure 4 ---------------------------------------------------------------------------


@register(
    "fig4", "Figure 4", "Validation curves of 20 random trials",
    f"Validation curves of {FIG4_CURVES} trials (WI and DO seed combinations) drawn at random "
    f"(seed {FIG4_SEED}) per task, over the three epochs of training; the dashed line is the "
    "majority baseline. Runs that fail can often be recognized early in training.",
    needs=CURVES)
def fig4(ds):
    """Figure 4: validation curves of 20 randomly chosen trials (seeded) over epochs."""
    results, skipped = task_panels(
        ds, lambda t: pick_curves(ds.evals, t, n=FIG4_CURVES, rng=FIG4_SEED,
                                  metric=task_metric(ds, t)), needs=CURVES)
    fig, axes = _figure(results, skipped)
    for task, curves in results.items():
        ax = axes[task]
        plot_curves(curves, ax=ax, baseline=task_baseline(ds, task))
        finish_panel(ax, task, ylabel=score_label(ds, task))
        ax.set_xlim(left=0)
    shared_legend(fig, list(axes.values()))
    return fig


# --- Figure 8 ---------------------------------------------------------------------------


@register(
    "fig8", "Figure 8", "Densities of per-seed standard deviations (WI, DO)",
    "Kernel density estimates of the standard deviation of the score ({score}) of each "
    "weight-initialization seed across its data orders (WI, blue) and of each data-order seed "
    "across its initializations (DO, orange); the red dashed line is the standard deviation "
    "over all trials of the task (Table 3's 'total'). Population SDs (ddof = 0), as the paper.",
    needs=GRID)
def fig8(ds, score="paper"):
    """Figure 8: KDE of the per-seed SDs of WI and DO seeds, total SD dashed (Appendix A)."""
    def compute(task):
        grid = ds.grid(task, score_column(score))
        per = per_seed_sd(grid, ddof=0)
        total = seed_sd_summary(grid, ddof=0).set_index("quantity").loc["total", "sd"]
        curves = kde_curves({"WI": per.loc[per["factor"] == "wi", "sd"].to_numpy(float),
                             "DO": per.loc[per["factor"] == "do", "sd"].to_numpy(float)},
                            support=(0.0, None))
        return curves, float(total)

    results, skipped = task_panels(ds, compute, needs=GRID)
    fig, axes = _figure(results, skipped)
    for task, (curves, total) in results.items():
        ax = axes[task]
        plot_density(curves, ax=ax, colors={"WI": COLORS["blue"], "DO": COLORS["orange"]},
                     labels={"WI": "per WI seed (over DO)", "DO": "per DO seed (over WI)"},
                     refs={"total SD": total})
        finish_panel(ax, task, xlabel=f"SD of {score_label(ds, task)}")
    shared_legend(fig, list(axes.values()))
    return fig


# --- Figures 5 and 9 --------------------------------------------------------------------


def _correlation_figure(ds, method):
    def compute(task):
        c = checkpoint_correlations(ds.evals, task, method=method,
                                    metric=task_metric(ds, task))
        matrix = c.pivot(index="i", columns="j", values="r").sort_index().sort_index(axis=1)
        epochs = c.drop_duplicates("i").set_index("i")["epoch_i"].reindex(matrix.index)
        epochs = epochs.to_numpy(float)
        if not np.isfinite(epochs).all():  # no epochs logged: place them by evaluation index
            epochs = None
        return matrix, epochs, int(c["n"].iloc[0])

    results, skipped = task_panels(ds, compute, needs=CURVES + " at common steps")
    fig, axes = _figure(results, skipped, panel=(3.3, 2.8))
    for task, (matrix, epochs, n) in results.items():
        ax = axes[task]
        plot_checkpoint_correlation(matrix, ax=ax, epochs=epochs, method=method)
        finish_panel(ax, task)
        unit = "epoch" if epochs is not None else "evaluation number"
        ax.set_xlabel(f"{unit} (evaluation j)")
        ax.set_ylabel(f"{unit} (evaluation i)")
        if epochs is not None and len(epochs) and np.nanmax(epochs) - np.nanmin(epochs) >= 2:
            from matplotlib.ticker import MultipleLocator

            ax.xaxis.set_major_locator(MultipleLocator(1))
            ax.yaxis.set_major_locator(MultipleLocator(1))
    return fig


_CORR_CAPTION = (
    "{name} correlation across trials between the best validation score found after i and "
    "after j evaluations (the paper's 30 evaluations per run; both axes in epochs; the matrix "
    "is symmetric). High correlation between an early point and the end of training means "
    "poor runs can be recognized, and stopped, early.")


@register("fig5", "Figure 5", "Spearman correlation of best-so-far scores between checkpoints",
          _CORR_CAPTION.format(name="Spearman rank"), needs=CURVES)
def fig5(ds):
    """Figure 5: Spearman correlation between the best score after i and after j evaluations."""
    return _correlation_figure(ds, "spearman")


@register("fig9", "Figure 9", "Pearson correlation of best-so-far scores between checkpoints",
          _CORR_CAPTION.format(name="Pearson"), needs=CURVES)
def fig9(ds):
    """Figure 9: Pearson version of Figure 5 (Appendix C)."""
    return _correlation_figure(ds, "pearson")


# --- Figures 6 and 7 --------------------------------------------------------------------

#: Parameters of the budget search behind Figures 6 and 7: budgets of 1..30 full runs, and the
#: exact expectation where the paper estimated it by 50,000 Monte Carlo samples (no sampling
#: noise, and faster); ties broken at random, as the authors' rule. ``seedstats earlystop
#: --exact`` runs the same search, so either reuses the other's cache entry.
EARLYSTOP = {"exact": True, "max_budget": 30}

ES_CURVES = ("validation curves at the early-stopping evaluation points (the paper's 30 per "
             "run) for every trial")


def earlystop_search_all(ds):
    """Best assignment per budget of every task, from one multi-task search (shared draws).

    Returns ``{task: best}``; empty when some task cannot be searched (then each task is
    searched on its own, so the others still get their panel).
    """
    try:
        _, best = budget_search_tasks(ds, list(ds.tasks), **EARLYSTOP)
    except (SeedstatsError, ValueError):
        return {}
    return {str(t): b.reset_index(drop=True) for t, b in best.groupby("task", sort=False,
                                                                      observed=True)}


def earlystop_search(ds, task, found=None):
    """Best assignment per budget of one task (:func:`~seedstats.earlystop.budget_search`)."""
    if found is not None and task in found:
        return found[task]

    _, best = budget_search(ds, task, **EARLYSTOP)
    return best


@register(
    "fig6", "Figure 6", "Best early-stopping assignment per budget",
    "The best early-stopping assignment found for each budget of x full training runs (3 "
    "epochs each): start t trials (blue), evaluate them after a fraction f of training (green, "
    "right axis), and train only the p most promising to the end (orange). Expected best "
    "scores computed exactly (the paper estimated them by 50,000 Monte Carlo samples per "
    "assignment), ties between equal early scores broken at random as in the authors' rule. "
    "Hollow markers: budgets whose best assignment ties exactly with the runner-up.",
    needs=ES_CURVES)
def fig6(ds):
    """Figure 6: trials started, trials fully trained and fraction before stopping per budget."""
    found = earlystop_search_all(ds)
    results, skipped = task_panels(ds, lambda t: earlystop_search(ds, t, found), needs=ES_CURVES)
    fig, axes = _figure(results, skipped, panel=(3.4, 2.5))
    for task, best in results.items():
        ax = axes[task]
        plot_best_assignment(best, ax=ax, x="budget", started="t", continued="p", fraction="f",
                             clear="clear_winner", legend=False)
        ax.seedstats_twin.set_ylabel("fraction before stopping", color=COLORS["green"])
        finish_panel(ax, task, xlabel="budget x (full training runs)")
    shared_legend(fig, [a for ax in axes.values() for a in (ax, ax.seedstats_twin)])
    return fig


@register(
    "fig7", "Figure 7", "Relative error reduction of early stopping per budget",
    "Relative error reduction of the best early-stopping assignment of Figure 6 over fully "
    "training x trials with the same budget, where error is one minus the validation score "
    "(accuracy on RTE and SST, the mean of accuracy and F1 on MRPC, MCC on CoLA), computed "
    "exactly (no sampling error).",
    needs=ES_CURVES)
def fig7(ds):
    """Figure 7: relative error reduction of the best assignment vs full training."""
    found = earlystop_search_all(ds)

    def compute(task):
        best = earlystop_search(ds, task, found).copy()
        half = 2.0 * best["error_reduction_se"].to_numpy(float)
        best["er_low"] = best["error_reduction"].to_numpy(float) - half
        best["er_high"] = best["error_reduction"].to_numpy(float) + half
        return best

    results, skipped = task_panels(ds, compute, needs=ES_CURVES)
    fig, axes = _figure(results, skipped)
    for task, best in results.items():
        ax = axes[task]
        plot_error_reduction(best, ax=ax, x="budget", y="error_reduction", lower="er_low",
                             upper="er_high")
        finish_panel(ax, task, xlabel="budget x (full training runs)")
    return fig

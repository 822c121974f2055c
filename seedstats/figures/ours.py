"""Builders of the figures we add beyond the paper.

- ``estimators``: expected best of n trials with and without replacement, with seeded
  bootstrap intervals (:func:`seedstats.stats.expected_max.expected_max_curve`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.data import score_column
from seedstats.earlystop.curves import as_curves
from seedstats.earlystop.halving import halving_search
from seedstats.earlystop.search import error_reduction
from seedstats.errors import DataError
from seedstats.figures.common import finish_panel, score_label, task_metric
from seedstats.figures.layout import panel_figure, shared_legend, stacked_panel_figure
from seedstats.figures.paper import (
    EARLYSTOP,
    ES_CURVES,
    earlystop_search,
    earlystop_search_all,
    log_budget_axis,
)
from seedstats.figures.spec import register, task_panels
from seedstats.plots.components import plot_components
from seedstats.plots.curves import plot_lines
from seedstats.plots.earlystop import plot_error_reduction
from seedstats.plots.style import COLORS
from seedstats.stats.expected_max import expected_max_curve
from seedstats.stats.seeds import variance_components

__all__ = ["estimators", "varcomp", "halving_figure", "budgets", "ESTIMATOR_BOOT", "ESTIMATOR_SEED",
           "HALVING"]

#: Bootstrap resamples and seed of the intervals in the ``estimators`` figure.
ESTIMATOR_BOOT, ESTIMATOR_SEED = 1000, 0

FINAL = "per-trial scores of the headline metric for at least 2 trials"


def budgets(n_trials: int, points: int = 40) -> np.ndarray:
    """Budgets 1..n_trials, every one up to 10, then about ``points`` log-spaced ones."""
    if n_trials <= points:
        return np.arange(1, n_trials + 1)
    grid = np.unique(np.round(np.geomspace(1, n_trials, points)).astype(int))
    return np.unique(np.concatenate([np.arange(1, min(10, n_trials) + 1), grid, [n_trials]]))


def _scores(ds, task, score):
    s = ds.trials.loc[ds.trials["task"] == task, score_column(score)].to_numpy(dtype=float)
    s = s[~np.isnan(s)]
    if len(s) < 2:
        raise DataError(f"task {task!r}: {len(s)} {score} score(s); needs at least 2")
    return s


_WITH = "with replacement (Dodge et al. 2019)"
_WITHOUT = "without replacement (Tang et al. 2020)"
_EST_COLORS = {_WITH: COLORS["blue"], _WITHOUT: COLORS["purple"]}


@register(
    "estimators", "ours", "Expected max: with vs without replacement, with bootstrap CIs",
    "Expected best validation score ({score}) among n trials, estimated from the observed trials "
    "with replacement (Dodge et al. 2019, what Figure 1 plots) and without replacement (Tang "
    "et al. 2020, unbiased, defined up to n = N). Shaded: seeded 95% percentile bootstrap "
    f"intervals of the estimate ({ESTIMATOR_BOOT} resamples, seed {ESTIMATOR_SEED}); they "
    "under-cover as n approaches N. Below: the difference between the two estimates (the "
    "with-replacement one is biased low as n approaches N), next to the half-width of the "
    "bootstrap interval of the without-replacement estimate (grey): the choice of estimator "
    "matters less than how few trials were observed.",
    needs=FINAL)
def estimators(ds, score="paper"):
    """Ours: with- vs without-replacement expected maximum with bootstrap intervals."""
    def compute(task):
        s = _scores(ds, task, score)
        ns = budgets(len(s))
        parts = []
        for replace, label in ((True, _WITH), (False, _WITHOUT)):
            df = expected_max_curve(s, ns, replace=replace, n_boot=ESTIMATOR_BOOT,
                                    rng=ESTIMATOR_SEED)
            df["estimator"] = label
            parts.append(df)
        return pd.concat(parts, ignore_index=True)

    results, skipped = task_panels(ds, compute, needs=FINAL)
    fig, pairs = stacked_panel_figure(list(results))
    fig.seedstats_skipped = skipped
    for (ax, small), (task, df) in zip(pairs, results.items()):
        plot_lines(df, ax=ax, x="n", y="expected_max", hue="estimator", lower="ci_low",
                   upper="ci_high", colors=_EST_COLORS, band_alpha=0.15)
        log_budget_axis(ax, int(df["n"].max()))
        finish_panel(ax, task, ylabel=score_label(ds, task, "expected best"))
        # Below: the gap between the estimators next to the estimate's own uncertainty.
        w = df[df["estimator"] == _WITH].set_index("n")
        wo = df[df["estimator"] == _WITHOUT].set_index("n")
        gap = pd.DataFrame({"n": wo.index, "gap": (wo["expected_max"] - w["expected_max"])
                            .to_numpy(), "lo": -(wo["ci_high"] - wo["ci_low"]).to_numpy() / 2,
                            "hi": (wo["ci_high"] - wo["ci_low"]).to_numpy() / 2,
                            "what": "without minus with replacement"})
        plot_lines(gap, ax=small, x="n", y="gap", hue="what", lower="lo", upper="hi",
                   colors={"without minus with replacement": "0.15"},
                   band_alpha=0.0)
        small.fill_between(gap["n"], gap["lo"], gap["hi"], color="0.6", alpha=0.25,
                           linewidth=0, label="half-width of the 95% bootstrap CI")
        small.axhline(0, color="0.4", linewidth=0.7, zorder=0.5)
        small.set_xlabel("number of trials n (log scale)")
        small.set_ylabel("difference")
    shared_legend(fig, [a for pair in pairs for a in pair], ncols=2)
    return fig


GRID = "a WI x DO seed grid of at least 2 x 2 complete scores"

_VC_LABELS = {"wi": "weight initialization (WI)", "do": "data order (DO)",
              "residual": "residual (WI x DO + noise)", "total": "total"}
_VC_SHORT = {"wi": "WI", "do": "DO", "residual": "residual", "total": "total"}
_VC_COLORS = {"wi": COLORS["blue"], "do": COLORS["orange"], "residual": COLORS["gray"],
              "total": COLORS["green"]}


@register(
    "varcomp", "ours", "Variance components of the WI x DO grid, with 95% intervals",
    "Crossed two-way random-effects decomposition of the score ({score}): standard "
    "deviation due to the weight-initialization seed, the data-order seed and the residual "
    "(their interaction plus noise, which one trial per cell cannot separate), and the total. "
    "Bars are the closed-form ANOVA estimates (truncated at zero), whiskers 95% intervals "
    "(MLS for WI and DO, chi-square for the residual, Graybill-Wang for the total), both "
    "shown on the SD scale (square roots of the variance and its bounds); the percentage "
    "under each bar is its share of the total variance.",
    needs=GRID)
def varcomp(ds, score="paper"):
    """Ours: SD due to WI, DO and residual per task, with confidence intervals."""
    def compute(task):
        vc = variance_components(ds.grid(task, score_column(score))).copy()
        # Display on the SD scale: sqrt is monotone, so the interval maps to an interval.
        vc["sd_low"] = np.sqrt(vc["ci_low"].to_numpy(float))
        vc["sd_high"] = np.sqrt(vc["ci_high"].to_numpy(float))
        vc["task"] = task
        return vc

    results, skipped = task_panels(ds, compute, needs=GRID)
    fig, axes = panel_figure(list(results), panel=(3.3, 2.4))
    fig.seedstats_skipped = skipped
    for ax, (task, vc) in zip(axes, results.items()):
        plot_components(vc, ax=ax, group="task", component="component", y="sd",
                        lower="sd_low", upper="sd_high", colors=_VC_COLORS, labels=_VC_LABELS,
                        group_labels={task: ""}, width=0.84)
        from matplotlib.container import BarContainer

        bars = [c.patches[0] for c in ax.containers if isinstance(c, BarContainer)]
        ticks = [f"{_VC_SHORT[c]}\n{share:.0%}" if c != "total" else "total"
                 for c, share in zip(vc["component"], vc["share"].to_numpy(float))]
        ax.set_xticks([b.get_x() + b.get_width() / 2 for b in bars], ticks)
        ax.tick_params(axis="x", length=0)
        ax.set_ylim(bottom=0)
        finish_panel(ax, task, xlabel="component (share of the total variance)",
                     ylabel=f"SD of {score_label(ds, task)}")
    return fig


# --- successive halving vs the paper's rule ------------------------------------------------

#: Successive-halving brackets simulated for the ``halving`` figure: a coarse grid, so the
#: figure stays quick (``seedstats.earlystop.halving.halving_search`` takes any grid).
HALVING = {"etas": (2, 3), "min_ks": (1, 2, 3, 4, 6, 9), "samples": 1_000, "rng": 0}

_STRATEGY = {"paper": "paper's rule: one stop (Fig. 6)",
             "halving": "successive halving (best bracket)"}


def _halving_best(ds, task, max_budget):
    """Best successive-halving bracket per budget (cached by the early-stopping cache)."""
    cs = as_curves(ds, task, metric=task_metric(ds, task))
    return halving_search(cs, max_budget, **HALVING, cache=True)[1]


@register(
    "halving", "ours", "Successive halving vs the paper's one-stop rule",
    "Relative error reduction over fully training x trials (error = 1 - score) for the paper's "
    "rule (start t, stop all but p once, Figure 6; computed exactly) "
    "and for multi-rung successive halving (the best geometric bracket per budget with "
    f"eta in {HALVING['etas']} and first rung after {HALVING['min_ks']} of 30 evaluations; "
    f"{HALVING['samples']:,} samples per bracket), with the same budget accounting. Shaded: "
    "plus and minus two Monte Carlo standard errors of halving's reduction (the paper's rule "
    "has none). Halving's curve is a maximum over many noisy candidates, so it is slightly "
    "optimistic (winner's curse). The paper's rule breaks ties between equal early scores at "
    "random; halving breaks them by row order.",
    needs=ES_CURVES)
def halving_figure(ds):
    """Ours: relative error reduction of successive halving and of the paper's rule."""
    found = earlystop_search_all(ds)

    def compute(task):
        best = earlystop_search(ds, task, found)
        hb = _halving_best(ds, task, EARLYSTOP["max_budget"]).set_index("budget")
        base = best.set_index("budget")
        hb = hb.loc[hb.index.intersection(base.index)]
        # Figure 7's quantity for both strategies: (score - baseline) / (1 - baseline), with
        # both Monte Carlo errors propagated. The brackets' draws are independent of the
        # baseline's (their own streams), so the covariance is 0; the paper's rule already has
        # the same propagation in ``error_reduction_se`` (its best starts more trials than the
        # baseline: independent draws too).
        reduction, se = error_reduction(hb["expected"], base.loc[hb.index, "baseline"],
                                        hb["se"], base.loc[hb.index, "baseline_se"])
        halving = pd.DataFrame({"budget": hb.index,
                                "reduction": np.asarray(reduction, dtype=float),
                                "half": 2 * np.asarray(se, dtype=float),
                                "strategy": _STRATEGY["halving"]})
        paper = pd.DataFrame({"budget": best["budget"],
                              "reduction": best["error_reduction"].to_numpy(float),
                              "half": 2 * best["error_reduction_se"].to_numpy(float),
                              "strategy": _STRATEGY["paper"]})
        out = pd.concat([paper, halving], ignore_index=True)
        out["low"] = out["reduction"] - out["half"]
        out["high"] = out["reduction"] + out["half"]
        return out

    results, skipped = task_panels(ds, compute, needs=ES_CURVES)
    fig, axes = panel_figure(list(results))
    fig.seedstats_skipped = skipped
    colors = {_STRATEGY["paper"]: COLORS["blue"], _STRATEGY["halving"]: COLORS["red"]}
    for ax, (task, df) in zip(axes, results.items()):
        plot_error_reduction(df, ax=ax, x="budget", y="reduction", hue="strategy",
                             lower="low", upper="high", colors=colors)
        finish_panel(ax, task, xlabel="budget x (full training runs)")
    shared_legend(fig, axes)
    return fig

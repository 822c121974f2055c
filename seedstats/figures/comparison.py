"""``seedstats compare`` and ``seedstats plan`` written to files: CSV, Markdown, one figure.

The numbers come from :func:`seedstats.stats.compare.compare` and
:func:`seedstats.stats.plan.plan`; this module formats them, draws the comparison figure
(per-seed scores of every system beside the expected best of ``n`` runs with its bootstrap
band, Dodge et al. 2019 and Section 3.1 of Dodge et al. 2020) and writes atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data.dataset import score_column
from seedstats.data.store import writing_file
from seedstats.errors import DataError
from seedstats.figures.common import score_label
from seedstats.figures.tables import to_markdown
from seedstats.plots.compare import plot_seed_scores
from seedstats.plots.curves import plot_lines
from seedstats.plots.style import style, task_title
from seedstats.stats.compare import compare
from seedstats.stats.expected_max import expected_max_curve
from seedstats.stats.plan import design, plan, precision

__all__ = [
    "compare_figure",
    "compare_markdown",
    "expected_best_bands",
    "plan_markdown",
    "write_compare",
    "write_plan",
]


def _p(v) -> str:
    return "-" if v != v else ("< 0.001" if v < 0.001 else f"{v:.3f}")


def compare_markdown(df: pd.DataFrame, note: str | None = None) -> str:
    """The comparison as Markdown: the verdict lines, then one table row per pair with
    ``a < b`` (the other order is the same test seen from the other side)."""
    lines = ["## Systems compared over seeds", ""]
    if note:
        lines += [f"*Data: {note}.*", ""]
    one = df[df["a"] < df["b"]]
    lines += [f"- **{r.task}** ({r.b} vs {r.a}): {r.verdict}" for r in one.itertuples()]
    cols = ["task", "a", "b", "n_a", "n_b", "paired", "mean_a", "mean_b", "diff", "diff_low",
            "diff_high", "p_test", "p_adjusted", "hedges_g", "prob_b_better", "aso_epsilon",
            "crossing_budget"]
    f4 = "{:.4f}"
    lines += ["", to_markdown(one[cols], formats={
        "mean_a": f4, "mean_b": f4, "diff": f4, "diff_low": f4, "diff_high": f4,
        "p_test": _p, "p_adjusted": _p, "hedges_g": "{:.2f}", "prob_b_better": "{:.2f}",
        "aso_epsilon": "{:.2f}", "crossing_budget": "{:.0f}", "n_a": "{}", "n_b": "{}",
        "paired": str})]
    if len(one):
        r = one.iloc[0]
        lines += ["", f"diff = mean_b - mean_a in the metric's units; its interval: "
                  f"{r['ci_method']} ({r['pairing']} where paired). p_adjusted: "
                  f"{r['correction']}. prob_b_better: P(a run of b beats a run of a), ties "
                  "half. aso_epsilon: Almost Stochastic Order's epsilon_min for 'b is better' "
                  "(b is called better below 0.2). crossing_budget: the smallest number of runs "
                  "from which b's expected best stays ahead of a's (with replacement)."]
    return "\n".join(lines) + "\n"


def expected_best_bands(ds, task: str, systems, *, score: str = "paper",
                        n_boot: int = 1000, rng=0) -> pd.DataFrame:
    """Expected best of ``n`` runs of each system (in the metric's direction) with its
    bootstrap interval, ``n = 1..`` the largest system's seeds: the curves of the figure."""
    col = score_column(score)
    t = ds.trials[ds.trials["task"] == task]
    metric = str(t["metric"].dropna().iloc[0])
    goal = "min" if ds.lower_is_better(metric) else "max"
    parts = []
    for s in systems:
        x = t.loc[t["system"].astype(str) == s, col].to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if x.size:
            c = expected_max_curve(x, n_boot=n_boot, rng=rng, goal=goal)
            parts.append(c.assign(system=s))
    return pd.concat(parts, ignore_index=True)


def compare_figure(ds, df: pd.DataFrame, *, score: str = "paper"):
    """The comparison figure: per task, the per-seed scores of each system and their
    expected-best curves with bootstrap bands. Returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    tasks = list(dict.fromkeys(df["task"]))
    systems = sorted(set(df["a"]) | set(df["b"]))
    colors = dict(zip(systems, [f"C{i}" for i in range(len(systems))]))
    col = score_column(score)
    with style():
        fig = Figure(figsize=(9, 2.8 * len(tasks)), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(tasks), 2, squeeze=False))
        for (left, right), task in zip(axes, tasks):
            t = ds.trials[(ds.trials["task"] == task)
                          & ds.trials["system"].astype(str).isin(systems)]
            d = t[["system", col]].rename(columns={col: "score"}).dropna()
            plot_seed_scores(d, ax=left, order=systems, palette=colors)
            left.set_title(f"{task_title(task)}: one point per seed")
            left.set_ylabel(score_label(ds, task))
            bands = expected_best_bands(ds, task, systems, score=score)
            plot_lines(bands, ax=right, x="n", y="expected_max", hue="system", lower="ci_low",
                       upper="ci_high", colors=colors)
            right.set_xscale("log")
            right.set_xlabel("runs (n)")
            right.set_ylabel("expected best of n")
            right.set_title(f"{task_title(task)}: expected best, 95% bootstrap band")
            right.legend(frameon=False, fontsize="small")
        if ds.note:
            fig.suptitle(ds.note, fontsize="small")
    return fig


def write_compare(ds, out, **kwargs) -> tuple[pd.DataFrame, list[Path]]:
    """Run :func:`~seedstats.stats.compare.compare` (``kwargs``) and write ``compare.csv``,
    ``compare.md`` and ``compare.png`` into the directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = compare(ds, **kwargs)
    paths = [out / "compare.csv", out / "compare.md", out / "compare.png"]
    with writing_file(paths[0]) as tmp:
        df.to_csv(tmp, index=False)
    with writing_file(paths[1]) as tmp:
        tmp.write_text(compare_markdown(df, ds.note), encoding="utf-8")
    fig = compare_figure(ds, df, score=kwargs.get("score", "paper"))
    with style(), writing_file(paths[2]) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": "seedstats"})
    return df, paths


def plan_markdown(df: pd.DataFrame, prec: pd.DataFrame, note: str | None = None) -> str:
    """The plan as Markdown: seeds per system, then the precision table."""
    lines = ["## How many seeds", ""]
    if note:
        lines += [f"*Data: {note}.*", ""]
    for r in df.itertuples():
        lines.append(
            f"- **{r.task}** ({r.system}): to detect a difference of {r.effect:g} with power "
            f"{r.power:g} at alpha {r.alpha:g}, run {r.n_simulated:.0f} seeds per system "
            f"(simulated from the pilot of {r.n_pilot}; Welch analytic: {r.n_welch:.0f}, "
            f"{r.n_welch_low:.0f}-{r.n_welch_high:.0f} over the SD's 95% interval). With "
            f"{r.n_mde} seeds the smallest detectable difference is {r.mde:.4g}."
            + (f" Spending {r.design_budget:.0f} runs on a WI x DO grid: {r.design_wi:.0f} WI x "
               f"{r.design_do:.0f} DO seeds gives the mean an SD of {r.design_sd_mean:.4g}; "
               f"fresh WI and DO seeds for every run give {r.fresh_sd_mean:.4g}."
               if r.design_budget == r.design_budget else "")
            + (f" **Warning:** {r.warning}." if r.warning else ""))
    lines += ["", "Precision as the number of seeds grows (95% half-widths):", "",
              to_markdown(prec, formats={"n": "{}", "budget": "{}"})]
    return "\n".join(lines) + "\n"


def write_plan(ds, out, *, budget: int = 100, **kwargs) -> tuple[pd.DataFrame, list[Path]]:
    """Run :func:`~seedstats.stats.plan.plan` and write ``plan.csv``, ``plan.md``,
    ``precision.csv`` and (WI x DO pilots) ``design.csv`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = plan(ds, budget=budget, **kwargs)
    keep = {k: kwargs[k] for k in ("tasks", "system", "score") if k in kwargs}
    prec = precision(ds, **keep)
    paths = [out / "plan.csv", out / "plan.md", out / "precision.csv"]
    designs = []
    for task in dict.fromkeys(df["task"]):
        for s in df.loc[df["task"] == task, "system"]:
            try:
                designs.append(design(ds.select(system=s), task, budget=budget,
                                      score=kwargs.get("score", "paper")).assign(system=s))
            except (DataError, ValueError):  # not a WI x DO grid: no design table
                continue
    with writing_file(paths[0]) as tmp:
        df.to_csv(tmp, index=False)
    with writing_file(paths[1]) as tmp:
        tmp.write_text(plan_markdown(df, prec, ds.note), encoding="utf-8")
    with writing_file(paths[2]) as tmp:
        prec.to_csv(tmp, index=False)
    if designs:
        paths.append(out / "design.csv")
        with writing_file(paths[-1]) as tmp:
            pd.concat(designs, ignore_index=True).to_csv(tmp, index=False)
    return df, paths

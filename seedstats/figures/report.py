"""``seedstats report``: one self-contained HTML page per sweep.

What was run, how much of the result is the seed (Dodge et al. 2020, Sections 3-5), whether a
comparison of systems is decided, and a reporting paragraph written from the numbers, ready for a
paper's checklist (the NeurIPS checklist's item on error bars; the ACL reproducibility checklist's
number of runs, mean and variance). The page works offline and alone: CSS inline, figures as
inline PNG data, no scripts, no external reference; it reflows on a phone and prints.

Each section is present when the data supports it and otherwise says in one line why not. Every
section names the data it came from and the command that reproduces it. The same data give the
same page, byte for byte (seeded resampling, no timestamps).
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats import __version__
from seedstats.data.dataset import score_column
from seedstats.data.info import summary_html
from seedstats.data.store import writing_file
from seedstats.earlystop.curves import as_curves
from seedstats.earlystop.search import budget_search_tasks
from seedstats.errors import SeedstatsError, SeedstatsNote
from seedstats.figures.comparison import compare_figure, expected_best_bands
from seedstats.figures.registry import FIGURES
from seedstats.plots.curves import plot_lines
from seedstats.plots.style import style, task_title
from seedstats.stats.compare import CompareResult, compare
from seedstats.stats.divergence import failure_rates
from seedstats.stats.plan import plan
from seedstats.stats.tables import compute_tables

__all__ = ["SECTIONS", "paragraph_numbers", "render_report", "report", "reporting_paragraph"]

#: Section id -> heading, in page order.
SECTIONS = {
    "sweep": "The sweep",
    "expected": "Expected validation performance",
    "seeds": "How much is the seed: the WI x DO decomposition",
    "checkpoints": "Checkpoint correlations",
    "earlystop": "Early stopping",
    "compare": "Systems compared",
    "plan": "How many seeds",
    "failed": "Failed runs",
    "paragraph": "Reporting paragraph",
}

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;
margin:0 auto;max-width:980px;padding:16px}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid #ddd;
padding-bottom:.2em;margin-top:1.6em}h3{font-size:1.05em}
.meta,.src{color:#555;font-size:.9em}.src code{background:#f3f3f3;padding:0 .3em}
.na{color:#8a5a00;background:#fff6e0;padding:.4em .6em;border-left:3px solid #e0a000}
.tw{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}img{max-width:100%;height:auto}
.para{background:#f6f8fa;border:1px solid #d0d7de;padding:.8em 1em}
.verdict{font-weight:600}
@media print{body{max-width:none}h2{break-after:avoid}img,table{break-inside:avoid}}
"""


class _NotAvailable(Exception):
    """A section the data cannot support; the message says why."""


def _png(fig) -> str:
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _table(df: pd.DataFrame, floats: str = "{:.4g}") -> str:
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "-" if v != v else floats.format(v)
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>"
                   for r in df.itertuples(index=False))
    return f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _source(ds) -> str:
    if ds.synthetic:
        return "the synthetic replica of the Dodge et al. 2020 release (not the real runs)"
    if ds.meta.get("digitized"):
        return "real per-trial scores digitized from the authors' Figure 2 (Dodge et al. 2020)"
    prov = ds.meta.get("provenance") or {}
    where = prov.get("source") or ", ".join(map(str, prov.get("sources", [])))
    if not where:
        return f"your sweep: {ds.path}" if ds.path is not None else "your sweep (in memory)"
    fmt = prov.get("format") or ", ".join(prov.get("formats", [])) or "seedstats"
    return f"your sweep: {where} (read as {fmt})"


def _data_arg(ds) -> str:
    if ds.synthetic and ds.path is not None and "replica" in str(ds.path):
        return ""
    if ds.meta.get("digitized") and ds.path is None:
        return " --data dodge2020"
    return f" --data {ds.path}" if ds.path is not None else " --data DIR"


def _src(ds, command: str) -> str:
    return (f'<p class="src">Data: {html.escape(_source(ds))}. Reproduce: '
            f"<code>{html.escape('seedstats ' + command + _data_arg(ds))}</code></p>")


def _systems(ds):
    return [(s, ds.select(system=s) if len(ds.systems) > 1 else ds) for s in ds.systems]


# --- sections -------------------------------------------------------------------------------


def _sweep(ds, ctx) -> str:
    t = ds.trials
    parts = [summary_html(ds)]
    skipped = ds.meta.get("skipped") or []
    parts.append(f"<p>{len(t)} trials of {len(ds.systems)} system(s) "
                 f"({html.escape(', '.join(ds.systems))}) on {len(ds.tasks)} task(s); "
                 f"{int((~t['complete']).sum())} incomplete, "
                 f"{int(t['diverged'].fillna(False).sum())} failed (final score at or below the "
                 f"majority baseline), {len(skipped)} source file(s) set aside at ingest.</p>")
    keys = ds.meta.get("keys")
    if keys:
        parts.append("<p>Every key the ingest read, and what it was taken for:</p>"
                     + _table(pd.DataFrame(keys)))
    else:
        parts.append('<p class="na">Key classification: not available: this dataset does not '
                     "record how the ingest classified the logged keys.</p>")
    return "".join(parts) + _src(ds, "info")


def _expected(ds, ctx) -> str:
    from matplotlib.figure import Figure

    col = score_column(ctx["score"])
    tasks = [x for x in ds.tasks if ds.trials.loc[ds.trials["task"] == x, col].notna().any()]
    if not tasks:
        raise _NotAvailable("no trial has a score")
    rows = []
    with style():
        fig = Figure(figsize=(4.2 * min(2, len(tasks)), 3.0 * ((len(tasks) + 1) // 2)),
                     layout="constrained")
        axes = np.atleast_1d(fig.subplots((len(tasks) + 1) // 2, min(2, len(tasks)),
                                          squeeze=False)).ravel()
        for ax, task in zip(axes, tasks):
            bands = expected_best_bands(ds, task, ds.systems, score=ctx["score"])
            plot_lines(bands, ax=ax, x="n", y="expected_max", hue="system", lower="ci_low",
                       upper="ci_high")
            ax.set_xscale("log")
            ax.set_title(task_title(task))
            ax.set_xlabel("runs (n)")
            ax.set_ylabel("expected best of n")
            if len(ds.systems) > 1:
                ax.legend(frameon=False, fontsize="small")
            for s, g in bands.groupby("system", sort=False):
                for n in (1, 5, 10, 25):
                    r = g[g["n"] == n]
                    if len(r):
                        r = r.iloc[0]
                        rows.append({"task": task, "system": s, "n": n,
                                     "expected best": r["expected_max"],
                                     "95% low": r["ci_low"], "95% high": r["ci_high"]})
        for ax in axes[len(tasks):]:
            ax.set_visible(False)
    ctx["expected"] = pd.DataFrame(rows)
    return (_png(fig) + "<p>Expected best validation score among n runs (Dodge et al. 2019; "
            "Section 3.1 of the paper), drawn with replacement from the observed runs; bands: "
            "95% percentile bootstrap (1,000 resamples, seed 0).</p>" + _table(ctx["expected"])
            + _src(ds, "figures fig1"))


def _seeds(ds, ctx) -> str:
    parts, any_grid = [], False
    for s, sub in _systems(ds):
        tables, notes = compute_tables(sub, n_perm=ctx["n_perm"], score=ctx["score"])
        if "table3" not in tables:
            parts.append(f'<p class="na">{html.escape(s)}: not available: '
                         f"{html.escape('; '.join(notes.get('table3', [])) or 'no WI x DO grid')}"
                         "</p>")
            continue
        any_grid = True
        ctx.setdefault("table3", {})[s] = tables["table3"]
        if len(ds.systems) > 1:
            parts.append(f"<h3>{html.escape(s)}</h3>")
        parts.append("<p>Table 3: expected SD of the score over WI seeds, over DO seeds and "
                     "in total (population SD, ddof = 0, as the paper).</p>"
                     + _table(tables["table3"]))
        vc = tables["variance_components"][["task", "component", "variance", "share",
                                             "ci_low", "ci_high"]]
        parts.append("<p>Variance components of the crossed WI x DO random-effects model "
                     "(ANOVA estimators, 95% intervals).</p>" + _table(vc))
        t4 = tables["table4"]
        keep = ["task", "factor", "best_seed", "worst_seed", "best_mean", "worst_mean", "F",
                "p_anova_post_selection", "p_perm_var", "p_perm_range"]
        parts.append("<p>Table 4: the paper's best-vs-worst ANOVA picks the seeds after seeing "
                     "them (its p-value is not valid); the permutation test beside it is "
                     f"({ctx['n_perm']:,} permutations).</p>" + _table(t4[keep]))
        if len(ds.systems) == 1:
            parts.append(_png(FIGURES["fig2"].build(sub, ctx["score"])))
    if not any_grid:
        raise _NotAvailable("no task has a WI x DO seed grid (each run has one seed)")
    return "".join(parts) + _src(ds, "tables")


def _figure_section(name, command):
    def section(ds, ctx) -> str:
        parts = []
        for s, sub in _systems(ds):
            try:
                fig = FIGURES[name].build(sub, ctx["score"])
            except (SeedstatsError, ValueError) as exc:
                raise _NotAvailable(str(exc)) from None
            if len(ds.systems) > 1:
                parts.append(f"<h3>{html.escape(s)}</h3>")
            parts.append(_png(fig))
        return "".join(parts) + _src(ds, command)
    return section


def _earlystop(ds, ctx) -> str:
    if ds.evals.empty:
        raise _NotAvailable("the data has no validation curves, only one score per trial")
    parts = []
    for s, sub in _systems(ds):
        try:
            _, best = budget_search_tasks(sub, exact=True, missing="drop")
        except (SeedstatsError, ValueError) as exc:
            raise _NotAvailable(str(exc)) from None
        gone = [t for task in sub.tasks for t in as_curves(sub, task, missing="drop").dropped]
        if gone:
            parts.append(f"<p>Left out {len(gone)} trial(s) without a score at every "
                         f"evaluation point (killed or failed runs): "
                         f"{html.escape(', '.join(gone[:10]))}"
                         f"{' and more' if len(gone) > 10 else ''}.</p>")
        b = best[best["budget"].isin([1, 2, 3, 5, 10, 20, 30])]
        b = b[["task", "budget", "t", "p", "k", "expected", "baseline", "error_reduction"]]
        if len(ds.systems) > 1:
            parts.append(f"<h3>{html.escape(s)}</h3>")
        parts.append(_table(b))
    return ("<p>The paper's rule (Section 5): start t runs, stop all but the best p after k of "
            "the evaluation points, train those p fully; the best plan per budget of full runs "
            "(exact expectation), beside fully training that many runs (baseline).</p>"
            + "".join(parts) + _src(ds, "earlystop --exact"))


def _compare(ds, ctx) -> str:
    if len(ds.systems) < 2:
        raise _NotAvailable(f"the dataset holds one system ({ds.systems[0]}); ingest another "
                            "with --system NAME and merge them to compare")
    df = compare(ds, score=ctx["score"])
    ctx["compare"] = df
    one = CompareResult(df[df["a"] < df["b"]])  # each pair once; as Jupyter shows it
    return (one.to_html_fragment() + _png(compare_figure(ds, df, score=ctx["score"]))
            + _src(ds, "compare"))


def _plan(ds, ctx) -> str:
    effect = ctx["effect"]
    p = plan(ds, effect=effect, score=ctx["score"], n_sim=1000)
    ctx["plan"] = p
    return (f"<p>Seeds per system to detect a difference of {effect:g} (power 0.8, alpha 0.05, "
            "two-sided Welch test), analytically and by simulation from these runs (1,000 "
            "simulated comparisons per n); mde: the "
            "smallest difference the pilot's size detects; design: the best WI x DO grid for "
            "100 runs.</p>" + p.to_html_fragment() + _src(ds, f"plan --effect {effect:g}"))


def _failed(ds, ctx) -> str:
    if not ds.trials["after"].notna().any():
        raise _NotAvailable("the data has no final scores, which decide whether a run failed")
    parts = []
    for s, sub in _systems(ds):
        f = failure_rates(sub.trials)
        f.insert(0, "system", s)
        parts.append(f)
    return _table(pd.concat(parts, ignore_index=True)) + _src(ds, "tables")


# --- the reporting paragraph ------------------------------------------------------------------


def paragraph_numbers(ds, score: str = "paper", compare_df=None) -> dict:
    """The numbers of the reporting paragraph: per (task, system) runs, mean, SD (n - 1) and
    SE; the seed design; and, with several systems, each decided or undecided comparison."""
    col = score_column(score)
    rows = []
    for task in ds.tasks:
        for s in ds.systems:
            x = ds.trials.loc[(ds.trials["task"] == task)
                              & (ds.trials["system"].astype(str) == s), col]
            x = x.to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            if x.size:
                sd = float(x.std(ddof=1)) if x.size > 1 else float("nan")
                rows.append({"task": task, "system": s, "n": int(x.size),
                             "mean": float(x.mean()), "sd": sd,
                             "se": sd / np.sqrt(x.size)})
    t = ds.trials
    grid = bool(t["wi_seed"].notna().all() and t["do_seed"].notna().all())
    design = {"grid": grid, "n_wi": int(t["wi_seed"].nunique()) if grid else 0,
              "n_do": int(t["do_seed"].nunique()) if grid else 0}
    if grid:
        cells = t.groupby(["system", "task"])[["wi_seed", "do_seed"]].apply(
            lambda g: len(g) == g["wi_seed"].nunique() * g["do_seed"].nunique())
        design["crossed"] = bool(cells.all())
    return {"runs": pd.DataFrame(rows), "design": design, "compare": compare_df,
            "score": score}


def _pct(v: float, scale: float) -> str:
    return f"{v * scale:.1f}" if scale == 100 else f"{v:.4g}"


def reporting_paragraph(ds, score: str = "paper", compare_df=None) -> str:
    """A paragraph for a paper's reproducibility checklist, written from the numbers
    (:func:`paragraph_numbers`); the same data give the same words."""
    nums = paragraph_numbers(ds, score, compare_df)
    runs, d = nums["runs"], nums["design"]
    if d["grid"]:
        how = "crossed: every WI seed with every DO seed" if d.get("crossed") else (
            "not fully crossed")
        factors = (f"the weight-initialization seed (WI, {d['n_wi']} values) and the "
                   f"data-order seed (DO, {d['n_do']} values), {how}")
    else:
        factors = "the random seed of each run (initialization and data order not separated)"
    what = ("the best validation score on the evaluation grid (the paper's score, Dodge et al. "
            "2020)" if score == "paper" else "the validation score after training")
    sents = [f"Only random seeds varied between runs: {factors}; all other settings were "
             f"fixed. Each run is scored by {what}."]
    per = []
    for r in runs.itertuples():
        scale = 100 if not ds.lower_is_better(ds.headline_metric(r.task)) and r.mean <= 1 else 1
        unit = " (x100)" if scale == 100 else ""
        per.append(f"{task_title(r.task)}, {r.system}: {r.n} runs, mean {_pct(r.mean, scale)}, "
                   f"SD {_pct(r.sd, scale)}, SE {_pct(r.se, scale)}{unit}")
    sents.append("Per task and system (SD with n - 1; SE = SD / sqrt(n)): " + "; ".join(per)
                 + ".")
    cmp = nums["compare"]
    if cmp is not None and len(cmp):
        one = cmp[cmp["a"] < cmp["b"]]
        r0 = one.iloc[0]
        sents.append(
            f"Differences of means are given with {r0['ci_method'].split(';')[0]} "
            "intervals (paired by seed where both systems ran the same seeds) and expanded "
            "percentile bootstrap intervals (10,000 resamples, seed 0); they were tested with "
            f"two-sided t-tests, {r0['correction']}.")
        for r in one.itertuples():
            better = (r.diff < 0) if r.lower_is_better else (r.diff > 0)
            # the winner minus the loser, with its interval
            w, lo_, diff, low, high = ((r.b, r.a, r.diff, r.diff_low, r.diff_high) if better
                                       else (r.a, r.b, -r.diff, -r.diff_high, -r.diff_low))
            scale = 100 if not r.lower_is_better and abs(r.mean_a) <= 1 else 1
            claim = (f"{task_title(r.task)}: {w} minus {lo_} {_pct(diff, scale)} "
                     f"[{_pct(low, scale)}, {_pct(high, scale)}], adjusted p = "
                     f"{r.p_adjusted:.3g}, {'decided' if r.decided else 'not decided'}")
            cb = r.crossing_budget if better else np.nan
            if cb == cb:
                claim += (f"; {w}'s expected best validation score is ahead from a budget of "
                          f"{int(cb)} runs")
            sents.append(claim + ".")
    return " ".join(sents)


# --- the page -------------------------------------------------------------------------------


def render_report(ds, *, score: str = "paper", effect: float | None = None,
                  n_perm: int = 2000) -> str:
    """The report as an HTML string (see :func:`report`)."""
    score_column(score)
    if effect is None:
        effect = 0.01
    ctx = {"score": score, "effect": float(effect), "n_perm": int(n_perm)}
    builders = {"sweep": _sweep, "expected": _expected, "seeds": _seeds,
                "checkpoints": _figure_section("fig5", "figures fig5"),
                "earlystop": _earlystop, "compare": _compare, "plan": _plan, "failed": _failed}
    body = []
    for sid, title in SECTIONS.items():
        if sid == "paragraph":
            text = reporting_paragraph(ds, score, ctx.get("compare"))
            inner = (f'<p class="para">{html.escape(text)}</p><p class="src">Written from the '
                     "numbers above; the same data give the same words.</p>")
        else:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always", SeedstatsNote)
                try:
                    inner = builders[sid](ds, ctx)
                except _NotAvailable as exc:
                    inner = f'<p class="na">Not available: {html.escape(str(exc))}.</p>'
            notes = dict.fromkeys(str(w.message) for w in said
                                  if issubclass(w.category, SeedstatsNote))
            inner += "".join(f'<p class="src">Note: {html.escape(n)}.</p>' for n in notes)
            for w in said:  # anything else goes on as it came
                if not issubclass(w.category, SeedstatsNote):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        body.append(f'<section id="{sid}"><h2>{html.escape(title)}</h2>{inner}</section>')
    note = f"<p><strong>{html.escape(ds.note)}.</strong></p>" if ds.note else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>seedstats report</title><style>{_CSS}</style></head><body>"
            f"<h1>How much of this result is the seed?</h1>"
            f'<p class="meta">seedstats {html.escape(__version__)} report on '
            f"{html.escape(_source(ds))}; score: {html.escape(score)}.</p>{note}"
            + "".join(body) + "</body></html>\n")


def report(ds, path=None, *, score: str = "paper", effect: float | None = None,
           n_perm: int = 2000) -> str:
    """Write the report of a dataset as one self-contained HTML file (module docstring).

    Parameters
    ----------
    ds : Dataset
    path : str or Path, optional
        Where to write it (atomically); nothing is written when None.
    score : {"paper", "final"}
    effect : float, optional
        The difference the plan section sizes for (default 0.01: one point of accuracy).
    n_perm : int
        Permutations of Table 4's permutation test.

    Returns
    -------
    str
        The HTML.
    """
    text = render_report(ds, score=score, effect=effect, n_perm=n_perm)
    if path is not None:
        with writing_file(Path(path)) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return text


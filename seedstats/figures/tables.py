"""``seedstats tables``: every table of :func:`seedstats.stats.tables.compute_tables`
written as CSV (the DataFrame, tidy) and Markdown (laid out like the paper, ours beside the
published numbers), with captions that say how each number was computed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data.store import writing_file
from seedstats.plots.style import task_title
from seedstats.stats.tables import TABLES, compute_tables

__all__ = ["write_tables", "to_markdown", "what_the_numbers_say", "SCORE_TEXT"]



# --- Markdown ---------------------------------------------------------------------------------


def _fmt(v, spec="{:.3f}"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    try:
        if pd.isna(v):
            return "-"
    except (TypeError, ValueError):
        pass
    if isinstance(v, (float, np.floating)):
        return spec.format(float(v))
    return str(v)


def _p(v):
    return _fmt(v, "{:.1e}") if isinstance(v, (float, np.floating)) and v < 1e-3 else _fmt(
        v, "{:.4f}")


def _p_perm(v, n_perm):
    """A permutation p-value; the smallest attainable one, 1 / (n_perm + 1), shown as a bound."""
    if isinstance(v, (float, np.floating)) and v <= 1.0 / (n_perm + 1) * (1 + 1e-9):
        return f"<= {_p(v)}"
    return _p(v)


def to_markdown(df, *, formats=None, index=False):
    """A DataFrame as a GitHub-flavoured Markdown table (no extra dependency).

    Parameters
    ----------
    df : DataFrame
    formats : dict of str to callable or str, optional
        Per column, a function of the value or a ``str.format`` spec; default ``{:.3f}``
        for floats, ``str`` otherwise; NaN and NA print as ``-``.
    index : bool, default False
        Include the index as the first column.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> print(to_markdown(pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})))
    | a | b |
    |---|---|
    | 1 | 0.500 |
    | 2 | - |
    """
    formats = formats or {}
    d = df.reset_index() if index else df
    cols = [str(c) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in d.itertuples(index=False):
        cells = []
        for c, v in zip(d.columns, row):
            f = formats.get(c)
            if callable(f):
                cells.append(f(v))
            elif f is not None:
                cells.append(_fmt(v, f))
            else:
                cells.append(_fmt(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _md_table1(df):
    tasks = [c for c in df.columns if c not in ("row", "source", "n_trials")]
    return to_markdown(df[["row", *tasks]], formats={t: "{:.1f}" for t in tasks})


def _md_table2(df):
    cols = ["task", "metric", "metric_paper", "baseline", "baseline_paper", "n_train",
            "n_train_paper", "n_val", "n_val_paper", "steps_per_epoch", "n_trials", "n_wi",
            "n_do", "evals_per_trial", "n_incomplete"]
    return to_markdown(df[cols], formats={"baseline": "{:.2f}", "baseline_paper": "{:.2f}",
                                          "evals_per_trial": "{:.0f}"})


_T3_ROWS = {"wi": "Agg. over WI", "do": "Agg. over DO", "total": "Total"}


def _md_table3(df):
    def cell(r):  # ours to four decimals, as the authors' notebook prints; the paper's as printed
        digits = "{:.4f}" if r["paper"] < 0.01 else "{:.3f}"
        return f"{_fmt(r['ours'], '{:.4f}')} ({_fmt(r['paper'], digits)})"

    tasks = list(dict.fromkeys(df["task"]))
    rows = []
    for q, label in _T3_ROWS.items():
        sub = df[df["quantity"] == q].set_index("task")
        rows.append({"": label, **{t: cell(sub.loc[t]) for t in tasks}})
    miss = df[df["quantity"] == "total"].set_index("task")["n_missing"]
    rows.append({"": "missing scores (excluded)", **{t: str(int(miss[t])) for t in tasks}})
    return to_markdown(pd.DataFrame(rows))


def _md_table4(df):
    tasks = list(dict.fromkeys(df["task"]))
    rows = []
    for factor in ("wi", "do"):
        sub = df[df["factor"] == factor].set_index("task")
        name = factor.upper()
        rows.append({"": f"{name}: best / worst seed",
                     **{t: f"{sub.loc[t, 'best_seed']} / {sub.loc[t, 'worst_seed']}"
                        for t in tasks}})
        rows.append({"": f"{name}: ANOVA F, post-selection",
                     **{t: _fmt(sub.loc[t, "F"], "{:.2f}") for t in tasks}})
        rows.append({"": f"{name}: ANOVA p, post-selection (paper)",
                     **{t: f"{_p(sub.loc[t, 'p_anova_post_selection'])} "
                           f"({_p(sub.loc[t, 'p_paper'])})" for t in tasks}})
        rows.append({"": f"{name}: permutation p, variance of seed means",
                     **{t: _p_perm(sub.loc[t, "p_perm_var"], sub.loc[t, "n_perm"])
                        for t in tasks}})
        rows.append({"": f"{name}: permutation p, best - worst mean",
                     **{t: _p_perm(sub.loc[t, "p_perm_range"], sub.loc[t, "n_perm"])
                        for t in tasks}})
    return to_markdown(pd.DataFrame(rows))


def _md_vc(df):
    d = df.copy()
    d["95% CI"] = [f"[{_fmt(lo, '{:.2e}')}, {_fmt(hi, '{:.2e}')}]"
                   for lo, hi in zip(d["ci_low"], d["ci_high"])]
    d["share"] = [_fmt(s, "{:.0%}") for s in d["share"]]
    cols = ["task", "component", "estimate", "variance", "sd", "share", "95% CI", "ci_method",
            "n_wi", "n_do", "n_missing"]
    return to_markdown(d[cols], formats={"estimate": "{:.2e}", "variance": "{:.2e}",
                                         "sd": "{:.4f}"})


def _md_failed(df):
    return to_markdown(df, formats={"threshold": "{:.2f}", "rate": "{:.3f}"})


def _md_early(df):
    # a readable excerpt: the evaluations nearest to these fractions of training, per task

    picks = []
    for _, g in df.groupby("task", sort=False):
        for target in (0.1, 0.2, 0.3, 0.5, 1.0, 2.0):
            i = (g["epoch"] - target).abs().idxmin()
            picks.append(i)
    d = df.loc[list(dict.fromkeys(picks))]
    cols = ["task", "k", "step", "epoch", "n", "n_failed", "n_flagged", "precision", "recall",
            "n_missing"]
    return to_markdown(pd.DataFrame(d[cols]), formats={"epoch": "{:.2f}",
                                                       "precision": "{:.2f}",
                                                       "recall": "{:.2f}"})


def _md_global(df):
    rank_cols = [c for c in df.columns if c.startswith("rank_")]
    head = df.head(10)
    n_perm = int(df["n_perm"].iloc[0])
    return to_markdown(head[["wi_seed", *rank_cols, "mean_rank", "p_adjusted"]],
                       formats={**{c: "{:.1f}" for c in rank_cols}, "mean_rank": "{:.2f}",
                                "p_adjusted": lambda v: _p_perm(v, n_perm)})


def what_the_numbers_say(df) -> str:
    """The :data:`~seedstats.stats.TABLES` ``seed_effects`` table in words, one paragraph.

    Deterministic: the same table gives the same words. The README's paragraph on the real
    ``dodge2020`` scores is this text (``seedstats tables --data dodge2020`` prints it).
    """
    alpha = 0.05
    n_perm = int(df["n_perm"].iloc[0])

    def verdict(p):
        return "significant" if p <= alpha else "not significant"

    def share(v):
        return f"{100 * v:.1f}%" if v < 0.1 else f"{100 * v:.0f}%"

    def p_is(p):
        text = _p_perm(p, n_perm)
        return text.replace("<= ", "p <= ") if text.startswith("<=") else f"p = {text}"

    tasks = [task_title(str(t)) for t in df["task"]]
    parts = [f"{t} {share(r.share_wi)}, {share(r.share_do)} and {share(r.share_residual)}"
             for t, r in zip(tasks, df.itertuples())]
    anova = all(r.p_anova_wi <= alpha and r.p_anova_do <= alpha for r in df.itertuples())
    tests = [f"on {t} WI is {verdict(r.p_perm_wi)} ({p_is(r.p_perm_wi)}) and DO "
             f"{verdict(r.p_perm_do)} ({p_is(r.p_perm_do)})"
             for t, r in zip(tasks, df.itertuples())]
    return (
        "The variance components of the crossed WI x DO design split the variance of the "
        "score into the weight initialization (WI), the data order (DO) and the rest (their "
        "interaction plus noise, which one trial per cell cannot separate): "
        + "; ".join(parts) + ". "
        + ("The paper's ANOVA of the best against the worst seed calls every factor on every "
           "task significant, but it picks the two seeds it compares from the data. "
           if anova else "The paper's ANOVA of the best against the worst seed picks the two "
           "seeds it compares from the data. ")
        + f"The valid test (the seed labels permuted within the other factor, {n_perm} times, "
        f"statistic the variance of the seed means, level {alpha}) finds that "
        + "; ".join(tests) + ".")


def _md_effects(df):
    pct = "{:.1%}".format
    n_perm = int(df["n_perm"].iloc[0])
    table = to_markdown(df[["task", "share_wi", "share_do", "share_residual", "p_perm_wi",
                            "p_perm_do", "p_anova_wi", "p_anova_do"]],
                        formats={"share_wi": pct, "share_do": pct, "share_residual": pct,
                                 "p_perm_wi": lambda v: _p_perm(v, n_perm),
                                 "p_perm_do": lambda v: _p_perm(v, n_perm),
                                 "p_anova_wi": _p, "p_anova_do": _p})
    return f"{table}\n\n{what_the_numbers_say(df)}"


_MD = {"table1": _md_table1, "table2": _md_table2, "table3": _md_table3,
       "table4": _md_table4, "variance_components": _md_vc, "failed_runs": _md_failed,
       "early_detection": _md_early, "global_seeds": _md_global, "seed_effects": _md_effects}


#: How each score choice (:data:`seedstats.data.SCORES`) is named in the captions.
SCORE_TEXT = {"paper": "the paper's score: each trial's best validation score on the task's "
                       "regular evaluation grid",
              "final": "the final validation score ('after' training)"}


def _captions(name, df, n_perm, ddof, level, score):
    scored = f"Scores: {SCORE_TEXT[score]}."
    if name == "table1":
        return ["Ours: best headline-metric value over every evaluation ('during' and "
                "'after') of every trial, x100; and the best score at the end of training "
                "('after' only)."]
    if name == "table3":
        kind = {0: "population SD, as the paper", 1: "sample SD"}.get(ddof, "")
        return [f"Cells: ours (paper). Per-seed SDs with ddof={ddof}"
                + (f" ({kind})" if kind else "") + ", averaged over the seeds of the factor; "
                "Total: SD over all trials; missing scores excluded.", scored]
    if name == "table4":
        return ["The ANOVA between the best and the worst seed (as the paper) is "
                "post-selection: choosing the extremes makes it reject about 90% of the time "
                "on a 25 x 25 grid with no seed effect. Not a valid test.",
                f"Valid: permutation test ({n_perm} permutations, seed labels shuffled within "
                "each seed of the other factor) of the spread of the seed means.", scored]
    if name == "variance_components":
        return [f"Two-way crossed random-effects model, one trial per cell (the WI x DO "
                f"interaction is part of the residual); ANOVA (method-of-moments) estimates, "
                f"truncated at 0 for variance/share; {level:.0%} intervals: MLS (Ting et al. "
                "1990) for WI and DO, exact chi-square for the residual, Graybill-Wang for the "
                "total.", scored]
    if name == "failed_runs":
        return ["A run failed when its final score is at or below the majority baseline "
                "(Table 2; MCC at or below 0), as in Mosbach et al. (2021)."]
    if name == "early_detection":
        return ["Flag a run when its score at evaluation k (regular schedule) is at or below "
                "the failing threshold; precision = failed among flagged, recall = flagged "
                "among failed. Excerpt; every evaluation is in the CSV."]
    if name == "global_seeds":
        tasks = [c[5:] for c in df.columns if c.startswith("rank_")]
        return [f"WI seeds common to {', '.join(tasks)}, ranked per task by mean score "
                "(1 = best); p_adjusted: permutation test (WI labels shuffled independently "
                f"per task, {n_perm} permutations) of the best mean rank, max-statistic "
                "adjusted. Paper (Section 4.3): WI 12 is best on CoLA and RTE, second on MRPC, "
                "third on SST.", scored]
    return []


def write_tables(ds, out, *, n_perm=10_000, rng=0, ddof=0, level=0.95, score="paper"):
    """Compute every table and write it as CSV and Markdown into the directory ``out``.

    The ``seedstats tables`` command (Section 4): Tables 1-4 of
    Dodge et al. (2020) beside the published numbers, the variance components, failed-run rates
    and their early detection, and the globally good seeds (see :func:`compute_tables`).

    Parameters
    ----------
    ds : Dataset
        From :func:`seedstats.load`; every table carries its :attr:`~seedstats.data.Dataset.note`
        (the synthetic replica, or real scores digitized from a figure).
    out : str or Path
        Directory to write into (created if needed). Each table ``NAME`` becomes
        ``NAME.csv`` (tidy, every column) and ``NAME.md`` (title, table, notes).
    n_perm, rng, ddof, level, score
        As :func:`~seedstats.stats.compute_tables`.

    Returns
    -------
    list of (Path, str)
        Per table, the Markdown file and its text (what the command prints; the CSV sits
        beside it).

    Examples
    --------
    >>> import seedstats
    >>> for path, text in write_tables(seedstats.load(), "tables"):  # doctest: +SKIP
    ...     print(text)
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables, notes = compute_tables(ds, n_perm=n_perm, rng=rng, ddof=ddof, level=level,
                                   score=score)
    written = []
    for name, title in TABLES.items():
        head = f"## {title}"
        if ds.note:
            head += f"\n\n*Data: {ds.note}.*"
        df = tables.get(name)
        if df is None:
            (out / f"{name}.csv").unlink(missing_ok=True)  # no stale CSV from an earlier run
            body = "Not computed. " + " ".join(notes[name])
            text = f"{head}\n\n{body}\n"
        else:
            with writing_file(out / f"{name}.csv") as tmp:
                df.to_csv(tmp, index=False)
            extra = _captions(name, df, n_perm, ddof, level, score) + notes[name]
            text = f"{head}\n\n{_MD[name](df)}\n"
            if extra:
                text += "\n" + "\n".join(f"- {x}" for x in extra) + "\n"
            text += f"\nCSV: {name}.csv\n"
        md = out / f"{name}.md"
        with writing_file(md) as tmp:
            tmp.write_text(text)
        written.append((md, text))
    return written

"""``seedstats info``: what a dataset holds, per task."""

from __future__ import annotations

import html

import pandas as pd

__all__ = ["summarize", "summary_html"]


def summarize(ds) -> pd.DataFrame:
    """One row per task: trials, seed grid, evaluations per trial, metric, flags.

    Returns
    -------
    DataFrame
        Index ``task``; columns ``trials``, ``systems`` (each with its trials), ``grid`` (``"25 WI x 25 DO"``, or the number
        of single seeds), ``evals_per_trial`` (``"during"`` evaluations of the headline
        metric, min-max), ``loss_steps_per_trial`` (min-max), ``metric``,
        ``diverged_frac``, ``incomplete``, ``flagged`` (count per flag).
    """
    t = ds.trials
    loss_steps = ds.train_loss.groupby("trial_id", observed=True).size()
    loss_steps.index = loss_steps.index.astype(str)
    rows = []
    for task in ds.tasks:
        tt = t[t["task"] == task]
        wi, do = tt["wi_seed"].dropna().nunique(), tt["do_seed"].dropna().nunique()
        grid = f"{wi} WI x {do} DO" if wi or do else f"{tt['seed'].dropna().nunique()} seeds"
        flags = tt["flags"][tt["flags"] != ""].str.split(",").explode().value_counts()
        div = tt["diverged"].astype("float64")
        rows.append({
            "task": task,
            "trials": len(tt),
            "systems": ", ".join(f"{k} ({v})" for k, v in
                                 tt.groupby("system").size().items()),
            "grid": grid,
            "evals_per_trial": _range(tt["n_evals"]),
            "loss_steps_per_trial": _range(
                loss_steps.reindex(tt["trial_id"].astype(str), fill_value=0)),
            "metric": ",".join(f"{m} (lower is better)" if ds.lower_is_better(m) else str(m)
                               for m in tt["metric"].dropna().unique()),
            "diverged_frac": round(float(div.mean()), 3) if div.notna().any() else float("nan"),
            "incomplete": int((~tt["complete"]).sum()),
            "flagged": ", ".join(f"{k} {v}" for k, v in flags.items()) or "-",
        })
    return pd.DataFrame(rows).set_index("task")


def _range(s: pd.Series) -> str:
    lo, hi = int(s.min()), int(s.max())
    return str(lo) if lo == hi else f"{lo}-{hi}"




def summary_html(ds) -> str:
    """:func:`summarize` as an HTML fragment (what ``seedstats report`` shows first, and a
    :class:`~seedstats.data.Dataset` shows in Jupyter): the data's note, then the table."""
    note = f"<p><em>{html.escape(ds.note)}</em></p>" if ds.note else ""
    head = (f"<p>{len(ds.trials)} trials, {len(ds.evals)} evaluations, "
            f"{len(ds.train_loss)} loss steps; systems {html.escape(', '.join(ds.systems))}</p>")
    return note + head + '<div class="tw">' + summarize(ds).to_html(
        border=0, na_rep="-", float_format=lambda v: f"{v:.3g}") + "</div>"

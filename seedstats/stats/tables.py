"""Tables 1-4 of Dodge et al. (2020) and the further seed analyses, computed.

:func:`compute_tables` computes every table as a DataFrame (rendering and writing them is
:mod:`seedstats.figures.tables`). Tables that a dataset cannot support (no WI x DO grid, a
single task for the cross-task test) come with a one-line note saying why, never silently
left out.
"""

from __future__ import annotations

import pandas as pd

from seedstats.data import schema
from seedstats.data.dataset import score_column, score_grid
from seedstats.errors import DataError
from seedstats.stats import divergence, globalseeds, paper, seeds
from seedstats.stats._common import task_order

__all__ = ["TABLES", "compute_tables", "seed_effects"]

#: Table name -> title, in the order written.
TABLES = {
    "table1": "Table 1. Best validation score found (x100), beside published results",
    "table2": "Table 2. The datasets",
    "table3": "Table 3. Expected standard deviation of validation performance",
    "table4": "Table 4. Best vs worst seed: the paper's ANOVA (post-selection) and a valid "
              "permutation test",
    "variance_components": "Variance components of the crossed WI x DO design (beyond the "
                           "paper)",
    "failed_runs": "Failed runs: final score no better than the majority baseline",
    "early_detection": "Early detection of failed runs: score at or below the baseline at an "
                       "early evaluation",
    "global_seeds": "Globally good weight initializations (Section 4.3)",
    "seed_effects": "What the seeds explain: variance shares beside the valid and the "
                    "post-selection tests (beyond the paper)",
}

def _grid_tasks(trials, tasks):
    """Tasks with a WI x DO grid, and a note per task without one."""
    ok, notes = [], []
    for t in tasks:
        tt = trials[trials["task"] == t]
        if tt["wi_seed"].isna().any() or tt["do_seed"].isna().any():
            notes.append(f"task {t}: left out (no WI x DO seed grid)")
        else:
            ok.append(t)
    return ok, notes


def seed_effects(variance_components, table4):
    """Per task: the share of the score's variance due to WI, DO and the residual, next to the
    valid permutation p-values and the paper's post-selection ANOVA p-values.

    Parameters
    ----------
    variance_components : DataFrame
        ``task`` then the columns of :func:`~seedstats.stats.seeds.variance_components`.
    table4 : DataFrame
        :func:`~seedstats.stats.paper.table4`.

    Returns
    -------
    DataFrame
        One row per task: ``task``, ``share_wi``, ``share_do``, ``share_residual`` (of the
        total variance, ANOVA estimates truncated at 0), ``p_perm_wi``, ``p_perm_do``
        (permutation test of the variance of the seed means), ``p_anova_wi``, ``p_anova_do``
        (best vs worst seed, post-selection), ``n_perm``.
    """
    vc = variance_components.pivot(index="task", columns="component", values="share")
    t4 = table4.set_index(["task", "factor"])
    rows = []
    for task in dict.fromkeys(variance_components["task"]):
        rows.append({"task": task, "share_wi": vc.loc[task, "wi"], "share_do": vc.loc[task, "do"],
                     "share_residual": vc.loc[task, "residual"],
                     "p_perm_wi": t4.loc[(task, "wi"), "p_perm_var"],
                     "p_perm_do": t4.loc[(task, "do"), "p_perm_var"],
                     "p_anova_wi": t4.loc[(task, "wi"), "p_anova_post_selection"],
                     "p_anova_do": t4.loc[(task, "do"), "p_anova_post_selection"],
                     "n_perm": int(t4.loc[(task, "wi"), "n_perm"])})
    return pd.DataFrame(rows)


def _lower(ds, trials, task) -> bool:
    ms = trials.loc[trials["task"] == task, "metric"].dropna()
    low = getattr(ds, "lower_is_better", None)
    return bool(len(ms)) and low is not None and bool(low(str(ms.iloc[0])))


def _oriented(ds, trials):
    """``trials`` with the scores of lower-is-better tasks negated, so that the analyses that
    pick the *best* seed (Table 4's best and worst, the global-seed ranking) pick the lowest
    loss; the SDs and variance components do not depend on the sign."""
    low = [t for t in map(str, trials["task"].unique()) if _lower(ds, trials, t)]
    if not low:
        return trials
    out = trials.copy()
    rows = out["task"].astype(str).isin(low)
    for c in ("score", "after", "best", "before"):
        out.loc[rows, c] = -out.loc[rows, c]
    return out


def compute_tables(ds, *, n_perm=10_000, rng=0, ddof=0, level=0.95, score="paper"):
    """Every table of ``seedstats tables`` as DataFrames.

    Parameters
    ----------
    ds : Dataset
        From :func:`seedstats.load` (``.trials``, ``.evals``).
    n_perm : int, default 10000
        Permutations of each permutation test (Table 4 and the global-seed test).
    rng : int or numpy.random.Generator, default 0
        Seed of every permutation (one generator for Table 4, one for the global test).
    ddof : int, default 0
        Delta degrees of freedom of the SDs of Table 3 (0, the population SD, as the paper).
    level : float, default 0.95
        Coverage of the variance-component intervals.
    score : {"paper", "final"}, default "paper"
        The per-trial score of Tables 3 and 4, the variance components and the global-seed
        test (:data:`seedstats.data.SCORES`): the paper's (best on the regular evaluation
        grid) or the final one.

    Returns
    -------
    tables : dict of str to DataFrame
        Keys of :data:`TABLES` that could be computed: ``table1``
        (:func:`~seedstats.stats.paper.table1`), ``table2``, ``table3``, ``table4``,
        ``variance_components`` (columns ``task`` then those of
        :func:`~seedstats.stats.seeds.variance_components`), ``failed_runs``
        (:func:`~seedstats.stats.divergence.failure_rates`), ``early_detection`` (``task``
        then the columns of :func:`~seedstats.stats.divergence.early_detection`, regular
        schedule, rule "at"), ``global_seeds`` (:func:`~seedstats.stats.globalseeds.global_seeds`).
    notes : dict of str to list of str
        Per table, what was left out and why.
    """
    column = score_column(score)
    trials, evals = ds.trials, ds.evals
    tasks = task_order(trials)
    grid_tasks, grid_notes = _grid_tasks(trials, tasks)
    out, notes = {}, {name: [] for name in TABLES}
    out["table1"] = paper.table1(trials, tasks)
    out["table2"] = paper.table2(trials, tasks)
    for name in ("table3", "table4", "variance_components", "global_seeds"):
        notes[name] += grid_notes
    if grid_tasks:
        out["table3"] = paper.table3(trials, grid_tasks, ddof=ddof, score=score)
        out["table4"] = paper.table4(_oriented(ds, trials), grid_tasks, n_perm=n_perm, rng=rng,
                                     score=score)
        low = out["table4"]["task"].map(lambda t: _lower(ds, trials, t)).to_numpy(dtype=bool)
        for c in ("best_mean", "worst_mean"):  # back from the oriented scores
            out["table4"][c] = out["table4"][c].where(~low, -out["table4"][c])
        vc = []
        for t in grid_tasks:
            v = seeds.variance_components(score_grid(trials, t, column), level=level)
            v.insert(0, "task", t)
            vc.append(v)
        out["variance_components"] = pd.concat(vc, ignore_index=True)
        out["seed_effects"] = seed_effects(out["variance_components"], out["table4"])
    else:
        notes["seed_effects"] += grid_notes
    if trials["after"].notna().any():
        out["failed_runs"] = divergence.failure_rates(trials, tasks)
    else:
        notes["failed_runs"].append("The data has no final scores ('after'), which decide "
                                    "whether a run failed")
    ed = []
    for t in tasks:
        try:
            steps = "schedule" if t in schema.TASKS else "all"
            e = divergence.early_detection(trials, evals, t, steps=steps)
        except (DataError, ValueError) as exc:
            notes["early_detection"].append(f"task {t}: left out ({exc})")
            continue
        e.insert(0, "task", t)
        ed.append(e)
    if ed:
        out["early_detection"] = pd.concat(ed, ignore_index=True)
    if ds.meta.get("seed_ids") == "ranks":
        notes["global_seeds"].append("Its seed ids are rank positions, not the original seeds, "
                                     "so a WI seed cannot be followed across tasks")
        return out, notes
    try:
        out["global_seeds"] = globalseeds.global_seeds(_oriented(ds, trials), grid_tasks,
                                                       n_perm=n_perm, rng=rng, score=score)
    except DataError as exc:
        notes["global_seeds"].append(f"not computed: {exc}")
    return out, notes

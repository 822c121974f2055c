"""The in-memory dataset: the three normalized tables, their metadata and their views."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data import schema, store
from seedstats.data.info import summary_html
from seedstats.errors import DataError

__all__ = ["Dataset", "SCORES", "score_column", "score_grid", "eval_matrix"]

SCORES = schema.SCORES


def score_column(score: str) -> str:
    """The ``trials`` column of a score choice (:data:`SCORES`), with a one-line error."""
    if not isinstance(score, str) or score not in SCORES:
        raise DataError(f"score: expected one of {', '.join(SCORES)}, got {score!r}")
    return SCORES[score]


@dataclass
class Dataset:
    """A normalized dataset (the README's "The normalized dataset").

    Attributes
    ----------
    trials : DataFrame
        One row per trial; columns in :data:`seedstats.data.schema.TRIALS_COLUMNS`.
    evals : DataFrame
        One row per validation evaluation (:data:`~seedstats.data.schema.EVALS_COLUMNS`).
    train_loss : DataFrame
        One row per logged training step (:data:`~seedstats.data.schema.TRAIN_LOSS_COLUMNS`).
    meta : dict
        ``schema_version``, ``synthetic``, ``provenance`` and what the source recorded.
    path : Path or None
        Where it was read from.
    """

    trials: pd.DataFrame
    evals: pd.DataFrame
    train_loss: pd.DataFrame
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def tasks(self) -> list[str]:
        """Tasks present, in the paper's order first, then alphabetically."""
        present = set(map(str, self.trials["task"].unique()))
        order = [t for t in schema.TASKS if t in present]
        return order + sorted(present - set(order))

    @property
    def systems(self) -> list[str]:
        """Systems present (the ``system`` column), sorted."""
        return sorted(map(str, self.trials["system"].unique()))

    def lower_is_better(self, metric) -> bool:
        """Whether lower is better for ``metric``: as ``dataset.json`` records it (set at
        ingest with ``--lower-is-better``), else by its name
        (:func:`seedstats.data.schema.lower_is_better_default`: ``loss``, ``wer``, ...)."""
        given = self.meta.get("lower_is_better")
        if isinstance(given, dict) and isinstance(given.get(str(metric)), bool):
            return given[str(metric)]
        return schema.lower_is_better_default(str(metric))

    def headline_metric(self, task: str) -> str:
        """The headline metric of ``task``'s trials (one per task).

        Raises
        ------
        DataError
            No trials of ``task``, or its trials name no metric or several.
        """
        t = self.trials[self.trials["task"] == task]
        ms = sorted(map(str, t["metric"].dropna().unique()))
        if len(ms) != 1:
            raise DataError(f"task {task!r}: expected one headline metric, the trials name "
                            f"{len(ms)}" + (f" ({', '.join(ms)})" if ms else ""))
        return ms[0]

    @property
    def synthetic(self) -> bool:
        """Whether the data is the synthetic replica (or otherwise not real runs)."""
        return bool(self.meta.get("synthetic", False))

    @property
    def note(self) -> str | None:
        """What every table and figure made from this data must say about it, or None.

        The synthetic replica says so; real scores read back from a figure (the embedded
        ``dodge2020``) say that they are digitized; a user's own runs need no note.
        """
        parts = self.meta.get("synthetic_systems"), self.meta.get("digitized_systems")
        if parts[0] or parts[1]:  # merged from datasets of different kinds
            said = [f"system {', '.join(parts[0])}: the synthetic replica (not the paper's runs)"
                    if parts[0] else "",
                    f"system {', '.join(parts[1])}: real scores digitized from the authors' "
                    "Figure 2" if parts[1] else ""]
            return "; ".join(x for x in said if x)
        if self.synthetic:
            return ("synthetic replica of the Dodge et al. 2020 release: these numbers are not "
                    "the paper's runs")
        if self.meta.get("digitized"):
            return "real scores, digitized from the authors' Figure 2 (Dodge et al. 2020)"
        return None

    def select(self, system=None, task=None) -> "Dataset":
        """The trials of one system and/or task (``None``: all), with their evaluations
        (the dataset itself when that is all of it).

        Raises
        ------
        DataError
            The system or task is not in the dataset (the message lists those that are).
        """
        keep = pd.Series(True, index=self.trials.index)
        for col, value, present in (("system", system, self.systems),
                                    ("task", task, self.tasks)):
            if value is None:
                continue
            if str(value) not in present:
                raise DataError(f"--{col} {value}: not in this dataset; {col}s present: "
                                f"{', '.join(present)}")
            keep &= self.trials[col].astype(str) == str(value)
        if keep.all():
            return self
        trials = self.trials[keep].reset_index(drop=True)
        ids = pd.Index(trials["trial_id"].astype(str))

        def rows(df):
            col = df["trial_id"]
            if isinstance(col.dtype, pd.CategoricalDtype):  # millions of rows: by the codes
                codes = col.cat.codes.to_numpy()
                wanted = pd.Index(col.cat.categories.astype(str)).isin(ids)
                mask = (codes >= 0) & wanted[np.maximum(codes, 0)]
            else:
                mask = col.astype(str).isin(ids).to_numpy()
            sub = df[mask].reset_index(drop=True)
            for c in sub.columns:
                if isinstance(sub[c].dtype, pd.CategoricalDtype):
                    sub[c] = sub[c].cat.remove_unused_categories()
            return sub

        if isinstance(trials["task"].dtype, pd.CategoricalDtype):
            trials["task"] = trials["task"].cat.remove_unused_categories()
        meta = dict(self.meta)
        if system is not None:  # a merged dataset: what this one system is
            for key, flag in (("synthetic_systems", "synthetic"),
                              ("digitized_systems", "digitized")):
                if key in meta:
                    meta[flag] = str(system) in meta.pop(key)
        return Dataset(trials, rows(self.evals), rows(self.train_loss), meta, self.path)

    def grid(self, task: str, value: str = "score") -> pd.DataFrame:
        """WI x DO grid of one task's scores: see :func:`score_grid`."""
        return score_grid(self.trials, task, value)

    def curves(self, task: str, metric: str | None = None, steps=None) -> pd.DataFrame:
        """Trials x steps matrix of ``"during"`` evaluations: see :func:`eval_matrix`
        (default metric: the task's headline metric, Table 2's or the trials')."""
        if metric is None and task not in schema.TASKS:
            metric = self.headline_metric(task)
        return eval_matrix(self.evals, task, metric, steps)

    def save(self, path) -> Path:
        """Write the dataset to the directory ``path`` (atomically)."""
        return store.write_dataset(path, self.trials, self.evals, self.train_loss, self.meta)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the summary ``seedstats report`` opens with."""
        return summary_html(self)

    def __repr__(self) -> str:
        kind = "synthetic replica" if self.synthetic else "dataset"
        return (f"<seedstats {kind}: {len(self.trials)} trials, {len(self.evals)} evaluations, "
                f"{len(self.train_loss)} loss steps; tasks {', '.join(self.tasks)}>")


def score_grid(trials: pd.DataFrame, task: str, value: str = "score") -> pd.DataFrame:
    """The WI x DO grid of one task's scores (Figure 2 of the paper).

    Returns
    -------
    DataFrame
        Index ``wi_seed``, columns ``do_seed``, cells the ``value`` column of ``trials``
        (``score``, the paper's score, by default; ``after`` for the final score); missing
        combinations are NaN.

    Raises
    ------
    DataError
        The task has no trials, its trials carry no separate WI and DO seeds, or
        several trials share one (WI, DO) cell.
    """
    t = trials[trials["task"] == task]
    if t.empty:
        raise DataError(f"no trials for task {task!r}; tasks present: "
                        f"{sorted(map(str, trials['task'].unique()))}")
    systems = sorted(map(str, t["system"].unique())) if "system" in t else []
    if len(systems) > 1:
        raise DataError(f"task {task!r} has {len(systems)} systems ({', '.join(systems)}): "
                        "analyse one at a time (--system NAME, or Dataset.select(system=))")
    if t["wi_seed"].isna().any() or t["do_seed"].isna().any():
        raise DataError(f"task {task!r}: this analysis needs a WI x DO seed grid, but some "
                        "trials carry no separate wi_seed/do_seed")
    dup = t.duplicated(["wi_seed", "do_seed"])
    if dup.any():
        row = t[dup].iloc[0]
        raise DataError(f"task {task!r}: several trials share WI {row['wi_seed']} and DO "
                        f"{row['do_seed']} (e.g. {row['trial_id']}); the WI x DO grid needs "
                        "one trial per cell")
    g = t.pivot(index="wi_seed", columns="do_seed", values=value)
    g.index = g.index.astype(int)
    g.columns = g.columns.astype(int)
    return g.sort_index().sort_index(axis=1)


def eval_matrix(evals: pd.DataFrame, task: str, metric: str | None = None,
                steps=None, phase: str = "during") -> pd.DataFrame:
    """Validation curves of one task as a trials x steps matrix.

    Parameters
    ----------
    evals : DataFrame
        The ``evals`` table.
    task : str
    metric : str, optional
        Default: the task's headline metric (Table 2).
    steps : sequence of int, optional
        Keep only these steps (in this order); a trial that lacks one gets NaN there.
    phase : str
        ``"during"`` by default.

    Returns
    -------
    DataFrame
        Index ``trial_id``, columns ``step``, values ``value``.
    """
    metric = metric or schema.task_info(task).metric
    e = evals[(evals["task"] == task) & (evals["metric"] == metric) & (evals["phase"] == phase)]
    if e.empty:
        raise DataError(f"no {phase!r} evaluations of metric {metric!r} for task {task!r}")
    m = e.pivot_table(index="trial_id", columns="step", values="value", aggfunc="last",
                      observed=True, dropna=False)
    m.index = m.index.astype(str)
    if steps is not None:
        m = m.reindex(columns=list(steps))
    return m

"""The in-memory dataset: the three normalized tables and their metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seedstats.data import schema, store
from seedstats.data.tables import eval_matrix, score_grid

__all__ = ["Dataset", "load"]


@dataclass
class Dataset:
    """A normalized dataset (``DESIGN.md``).

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
    def synthetic(self) -> bool:
        """Whether the data is the synthetic replica (or otherwise not real runs)."""
        return bool(self.meta.get("synthetic", False))

    def grid(self, task: str, value: str = "after") -> pd.DataFrame:
        """WI x DO grid of one task's scores: see :func:`seedstats.data.tables.score_grid`."""
        return score_grid(self.trials, task, value)

    def curves(self, task: str, metric: str | None = None, steps=None) -> pd.DataFrame:
        """Trials x steps matrix of ``"during"`` evaluations: see :func:`~seedstats.data.tables.eval_matrix`."""
        return eval_matrix(self.evals, task, metric, steps)

    def save(self, path) -> Path:
        """Write the dataset to the directory ``path`` (atomically)."""
        return store.write_dataset(path, self.trials, self.evals, self.train_loss, self.meta)

    def __repr__(self) -> str:
        kind = "synthetic replica" if self.synthetic else "dataset"
        return (f"<seedstats {kind}: {len(self.trials)} trials, {len(self.evals)} evaluations, "
                f"{len(self.train_loss)} loss steps; tasks {', '.join(self.tasks)}>")


def load(path=None) -> Dataset:
    """Load a normalized dataset; ``path=None`` loads the embedded synthetic replica.

    Parameters
    ----------
    path : str or Path, optional
        A directory written by ``seedstats ingest`` or ``seedstats replica``.

    Returns
    -------
    Dataset
        With ``.trials``, ``.evals``, ``.train_loss`` (DataFrames) and ``.meta``.

    Examples
    --------
    >>> import seedstats
    >>> ds = seedstats.load()  # doctest: +SKIP
    >>> ds.trials.groupby("task", observed=True).size()  # doctest: +SKIP
    """
    if path is None:
        from seedstats.data.replica import replica_path

        path = replica_path()
    trials, evals, train_loss, meta = store.read_dataset(path)
    return Dataset(trials, evals, train_loss, meta, Path(path))

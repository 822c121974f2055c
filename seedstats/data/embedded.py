"""Loading a dataset: a directory seedstats wrote, or an embedded dataset by name."""

from __future__ import annotations

from pathlib import Path

from seedstats.data import store
from seedstats.data.dataset import Dataset
from seedstats.data.replica import replica_path

__all__ = ["load"]


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
        path = replica_path()
    trials, evals, train_loss, meta = store.read_dataset(path)
    return Dataset(trials, evals, train_loss, meta, Path(path))

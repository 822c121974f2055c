"""Loading a dataset: a directory seedstats wrote, or an embedded dataset by name."""

from __future__ import annotations

import warnings
from pathlib import Path

from seedstats.data import store
from seedstats.data.dataset import Dataset
from seedstats.data.digitized import load_dodge2020
from seedstats.data.replica import cache, replica_path
from seedstats.errors import DataError, SeedstatsNote

__all__ = ["EMBEDDED", "load"]

#: The embedded datasets, by name: what each is (``seedstats info`` lists them).
EMBEDDED = {
    "replica": "the calibrated synthetic replica of the 2,100-trial release (the default; "
               "synthetic, not the real runs)",
    "dodge2020": "the 2,100 real per-trial paper scores, digitized from the authors' Figure 2 "
                 "(no curves; seed ids are ranks)",
}


def load(path_or_name=None) -> Dataset:
    """Load a normalized dataset, or an embedded one by name.

    Parameters
    ----------
    path_or_name : str or Path, optional
        A directory written by ``seedstats ingest`` or ``seedstats replica``; or the name of
        an embedded dataset (:data:`EMBEDDED`, a ``str``): ``"replica"`` (the default, also
        ``None``) or ``"dodge2020"``. A name wins over a directory of the same name in the
        working directory; write ``./dodge2020`` (or pass a ``Path``) for the directory.

    Returns
    -------
    Dataset
        With ``.trials``, ``.evals``, ``.train_loss`` (DataFrames) and ``.meta``.

    Examples
    --------
    >>> import seedstats
    >>> seedstats.load("dodge2020").meta["digitized"]
    True
    >>> ds = seedstats.load()  # doctest: +SKIP
    >>> ds.trials.groupby("task", observed=True).size()  # doctest: +SKIP
    """
    if path_or_name is None or path_or_name == "replica":
        return _load_replica()
    if isinstance(path_or_name, str) and path_or_name == "dodge2020":
        return load_dodge2020()
    trials, evals, train_loss, meta = store.read_dataset(path_or_name)
    return Dataset(trials, evals, train_loss, meta, Path(path_or_name))


def _load_replica() -> Dataset:
    """The cached replica; an entry damaged outside seedstats is rebuilt once, with a note."""
    path = replica_path()
    try:
        tables = store.read_dataset(path)
    except DataError as exc:
        warnings.warn(f"the cached replica {path} is damaged ({exc}); rebuilt it",
                      SeedstatsNote, stacklevel=3)
        cache.discard(path)
        path = replica_path()
        tables = store.read_dataset(path)
    return Dataset(*tables, Path(path))

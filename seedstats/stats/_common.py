"""Small helpers shared by the modules of :mod:`seedstats.stats` (private; no public API).

- :data:`BLOCK_ELEMENTS`: elements per temporary block of the resampling and permutation loops.
- :func:`as_generator`: the one way an ``rng`` argument becomes a :class:`numpy.random.Generator`.
- :func:`nan_means`: NaN-aware means along one axis (seed means of a grid with missing cells).
- :func:`check_int`: the one check of an integer argument with a minimum.
- :func:`task_order`: the tasks an analysis covers (paper order first), checked against the data.
- :class:`ResultTable`: a result table that Jupyter (and ``seedstats report``) show as HTML.
"""

from __future__ import annotations

import html
import numbers

import numpy as np
import pandas as pd

from seedstats.data import schema
from seedstats.errors import DataError

__all__ = ["BLOCK_ELEMENTS", "ResultTable", "as_generator", "check_int", "nan_means",
           "task_order"]

#: Elements per temporary block (2**20 float64 = 8 MiB). Bounds memory for any input size, and
#: since blocks are a function of the shape only, the random stream depends only on the input
#: shape, the seed and the number of draws.
BLOCK_ELEMENTS = 1 << 20


def as_generator(rng) -> np.random.Generator:
    """Turn an ``rng`` argument into a :class:`numpy.random.Generator`; never global state.

    Parameters
    ----------
    rng : None, int or numpy.random.Generator
        A Generator is returned as it is (and drawn from by the caller); a non-negative integer
        seed gives ``numpy.random.default_rng(seed)``, so the same seed gives the same output;
        ``None`` gives a Generator seeded with fresh entropy from the operating system.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        ``rng`` is anything else (a bool, a float, a legacy ``RandomState``, ...).
    ValueError
        A negative integer seed.

    Examples
    --------
    >>> a, b = as_generator(0), as_generator(0)
    >>> bool((a.random(3) == b.random(3)).all())
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (numbers.Integral, np.integer)):
        raise TypeError("rng must be None, a non-negative integer seed or a "
                        "numpy.random.Generator (legacy RandomState and the global NumPy state "
                        f"are not used); got {rng!r} ({type(rng).__name__})")
    if rng < 0:
        raise ValueError(f"rng must be a non-negative integer seed; got {rng}")
    return np.random.default_rng(int(rng))


def nan_means(M, axis: int = -1, *, has_nan: bool = True) -> np.ndarray:
    """NaN-aware means of a float array along ``axis``; NaN where a slice has no number.

    Parameters
    ----------
    M : numpy.ndarray of float
        E.g. a seed grid ``(n_wi, n_do)``: ``axis=-1`` gives the WI (row) means, ``axis=0``
        the DO (column) means; a stack ``(..., I, J)`` of grids gives ``(..., I)``.
    axis : int, default -1
        The axis averaged over.
    has_nan : bool, default True
        ``False`` promises that ``M`` has no NaN and takes the plain ``M.mean(axis)``.

    Returns
    -------
    numpy.ndarray of float
        ``M`` without ``axis``: the mean of the non-NaN values of each slice (sum of the numbers
        divided by their count), NaN where every value is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[1.0, np.nan], [np.nan, np.nan]])
    >>> nan_means(Y).tolist(), nan_means(Y, axis=0).tolist()
    ([1.0, nan], [1.0, nan])
    """
    if not has_nan:
        return M.mean(axis=axis)
    ok = ~np.isnan(M)
    n = ok.sum(axis=axis)
    s = np.where(ok, M, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / n


def task_order(trials, tasks=None) -> list:
    """The tasks of the ``trials`` table an analysis covers, checked against the data.

    Parameters
    ----------
    trials : DataFrame
        The ``trials`` table (must have a ``diverged`` column).
    tasks : str or sequence of str, optional
        Default: every task present, the paper's tasks first in Table 2 order, then the others
        sorted by name. Given tasks are returned in the order given.

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        ``trials`` is not the trials table.
    DataError
        A given task is not in the data.
    """
    if not hasattr(trials, "columns") or "diverged" not in trials.columns:
        raise TypeError("trials: expected the trials table (a DataFrame with a 'diverged' "
                        f"column); got {type(trials).__name__}")
    present = set(map(str, trials["task"].unique()))
    if tasks is None:
        order = [t for t in schema.TASKS if t in present]
        return order + sorted(present - set(order))
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    missing = [t for t in tasks if t not in present]
    if missing:
        raise DataError(f"tasks: {missing} not in the data; tasks present: {sorted(present)}")
    return tasks


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,
                                                                     np.integer)):
        raise TypeError(f"{name}: expected an integer >= {minimum}; got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}; got {value}")
    return int(value)


class ResultTable(pd.DataFrame):
    """A result table (``compare()``'s, ``plan()``'s) that shows itself in Jupyter as its
    one-line findings above the table's main columns, the rendering ``seedstats report`` uses.

    Subclasses set :attr:`SHOWN` (the columns shown) and :meth:`lines` (the findings). Any
    operation on it gives a plain :class:`pandas.DataFrame`.
    """

    SHOWN: tuple = ()

    @property
    def _constructor(self):
        return pd.DataFrame

    def lines(self) -> list[str]:
        """The findings shown above the table, one per line."""
        return []

    def to_html_fragment(self) -> str:
        """The findings and the table as an HTML fragment (no scripts, no styles)."""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        cols = [c for c in self.SHOWN if c in self.columns] or list(self.columns)
        table = pd.DataFrame(self)[cols].to_html(
            index=False, border=0, na_rep="-", float_format=lambda v: f"{v:.4g}")
        return (f"<ul>{items}</ul>" if items else "") + f'<div class="tw">{table}</div>'

    def _repr_html_(self) -> str:
        return self.to_html_fragment()

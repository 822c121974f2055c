"""Drawing for ``seedstats compare``: per-seed scores of each system side by side."""

from __future__ import annotations

import warnings

import numpy as np

from seedstats.plots.style import check_columns, get_axes

__all__ = ["plot_seed_scores"]


def plot_seed_scores(data, *, ax=None, x="system", y="score", order=None, palette=None,
                     **kwargs):
    """One box per system (seaborn ``boxplot``) with every seed's score on top of it.

    The points are spread sideways by their rank within the system (no random jitter, so the
    same data always give the same picture).

    Parameters
    ----------
    data : DataFrame
        One row per trial, columns ``x`` (the system) and ``y`` (its score).
    ax : matplotlib Axes, optional
    order : list of str, optional
        Systems from left to right (default: order of first appearance).
    palette : dict, optional
        System -> colour.
    **kwargs
        Passed to ``Axes.scatter`` for every system's points.

    Returns
    -------
    matplotlib Axes
        One ``PathCollection`` per system holding exactly its scores.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> df = pd.DataFrame({"system": ["a", "a", "b", "b"], "score": [.6, .7, .8, .9]})
    >>> ax = plot_seed_scores(df, ax=Figure().subplots())
    >>> [c.get_offsets()[:, 1].tolist() for c in ax.collections]
    [[0.6, 0.7], [0.8, 0.9]]
    """
    import seaborn as sns

    check_columns(data, [x, y])
    ax = get_axes(ax)
    order = list(order) if order is not None else list(dict.fromkeys(map(str, data[x])))
    palette = palette or {}
    d = data.assign(**{x: data[x].astype(str)})
    with warnings.catch_warnings():
        # seaborn 0.13 passes matplotlib's deprecated ``vert`` to boxplot (matplotlib >= 3.11)
        warnings.simplefilter("ignore", DeprecationWarning)
        sns.boxplot(data=d, x=x, y=y, order=order, ax=ax, color="0.92", linecolor="0.45",
                    showfliers=False, width=0.55, linewidth=0.8)
    for i, name in enumerate(order):
        vals = d.loc[d[x] == name, y].to_numpy(dtype=float)
        rank = np.argsort(np.argsort(vals, kind="stable"), kind="stable")
        offset = ((rank % 9) - 4) / 4 * 0.18
        kw = {"s": 9, "alpha": 0.75, "edgecolors": "none", "zorder": 3, **kwargs}
        ax.scatter(i + offset, vals, color=palette.get(name), label=name, **kw)
    ax.set_xlabel("")
    return ax

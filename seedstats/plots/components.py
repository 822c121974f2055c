"""Variance components of the WI x DO grid, with intervals (ours, beyond the paper).

Drawing only: the shares and their intervals come from :mod:`seedstats.stats.seeds`.
"""

from __future__ import annotations

import numpy as np

from seedstats.plots.style import COLORS, check_columns, get_axes

__all__ = ["plot_components"]

_DEFAULT_COLORS = [COLORS["blue"], COLORS["orange"], COLORS["gray"], COLORS["green"],
                   COLORS["purple"]]


def plot_components(data, *, ax=None, group="task", component="component", y="share",
                    lower=None, upper=None, colors=None, labels=None, group_labels=None,
                    width=0.8, **kwargs):
    """Grouped bars: one group per ``group`` value, one bar per component, with intervals.

    Parameters
    ----------
    data : DataFrame
        Tidy: columns ``group`` (e.g. task), ``component`` (e.g. WI, DO, residual),
        ``y`` (the estimate, e.g. a share of variance), optionally ``lower``/``upper``
        (interval bounds, drawn as error bars).
    ax : matplotlib Axes, optional
    group, component, y, lower, upper : str
        Column names.
    colors, labels : dict, optional
        Per component: bar colour and legend label.
    group_labels : dict, optional
        Per group: tick label (e.g. ``{"cola": "CoLA"}``).
    width : float
        Total width of one group of bars (groups are 1 apart).
    **kwargs
        Passed to ``Axes.bar``.

    Returns
    -------
    matplotlib Axes
        One ``BarContainer`` per component among ``ax.containers`` (label: the legend
        label) whose bar heights are ``data[y]``, groups in order of first appearance;
        with intervals, an ``ErrorbarContainer`` follows each.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.components import plot_components
    >>> df = pd.DataFrame({"task": ["rte", "rte"], "component": ["WI", "DO"],
    ...                    "share": [0.2, 0.1]})
    >>> ax = plot_components(df, ax=Figure().subplots())
    >>> [float(b.get_height()) for c in ax.containers for b in c.patches]
    [0.2, 0.1]
    """
    check_columns(data, [group, component, y, lower, upper])
    ax = get_axes(ax)
    colors, labels, group_labels = colors or {}, labels or {}, group_labels or {}
    groups = list(dict.fromkeys(data[group].tolist()))
    comps = list(dict.fromkeys(data[component].tolist()))
    bar_w = width / max(len(comps), 1)
    xpos = np.arange(len(groups), dtype=float)
    for i, comp in enumerate(comps):
        sub = data[data[component] == comp].set_index(group).reindex(groups)
        heights = sub[y].to_numpy(dtype=float)
        offs = xpos - width / 2 + bar_w * (i + 0.5)
        yerr = None
        if lower is not None and upper is not None:
            lo, hi = sub[lower].to_numpy(dtype=float), sub[upper].to_numpy(dtype=float)
            yerr = np.vstack([np.clip(heights - lo, 0, None), np.clip(hi - heights, 0, None)])
        kw = {"color": colors.get(comp, _DEFAULT_COLORS[i % len(_DEFAULT_COLORS)]), **kwargs}
        ax.bar(offs, heights, width=bar_w * 0.92, yerr=yerr, capsize=2.5,
               error_kw={"elinewidth": 0.9, "ecolor": "0.2"},
               label=labels.get(comp, str(comp)), **kw)
    ax.set_xticks(xpos, [group_labels.get(g, str(g)) for g in groups])
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.grid(axis="x", visible=False)
    return ax

"""Density curves: Figure 3 (best and worst seeds) and Figure 8 (per-seed SDs).

Drawing only: the density curves come in evaluated (``x``, ``density`` per group);
see :func:`seedstats.figures.prep.kde_curves` for the kernel density estimate the
figures use.
"""

from __future__ import annotations

from seedstats.plots.style import COLORS, check_columns, get_axes

__all__ = ["plot_density"]


def plot_density(data, *, ax=None, x="x", y="density", hue="label", colors=None,
                 linestyles=None, labels=None, refs=None, fill_alpha=0.0, **kwargs):
    """Density curves, one per group, with optional dashed reference lines.

    Parameters
    ----------
    data : DataFrame
        Tidy: columns ``x`` (value), ``y`` (density at ``x``), ``hue`` (group); one row
        per grid point per group.
    ax : matplotlib Axes, optional
    x, y, hue : str
        Column names.
    colors, linestyles, labels : dict, optional
        Per group: colour, line style (the paper: WI solid, DO dashed), legend label.
    refs : dict of str to float, optional
        Legend label to position of a vertical reference line (Figure 8: the total SD,
        red dashed).
    fill_alpha : float
        Opacity of the area under each curve (0: no fill).
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes
        One ``Line2D`` per group (label: the legend label) holding the curve's points, one
        per reference (its x data the reference value); y axis labeled "density".

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.density import plot_density
    >>> df = pd.DataFrame({"x": [0., 1., 0., 1.], "density": [1., 1., .5, 1.5],
    ...                    "label": ["WI", "WI", "DO", "DO"]})
    >>> ax = plot_density(df, ax=Figure().subplots(), refs={"total SD": 0.5})
    >>> [line.get_label() for line in ax.get_lines()]
    ['WI', 'DO', 'total SD']
    """
    check_columns(data, [x, y, hue])
    ax = get_axes(ax)
    colors, linestyles, labels = colors or {}, linestyles or {}, labels or {}
    for key, g in data.groupby(hue, sort=False, observed=True):
        kw = dict(kwargs)
        if key in colors:
            kw.setdefault("color", colors[key])
        if key in linestyles:
            kw.setdefault("linestyle", linestyles[key])
        xs, ys = g[x].to_numpy(dtype=float), g[y].to_numpy(dtype=float)
        (line,) = ax.plot(xs, ys, label=labels.get(key, str(key)), **kw)
        if fill_alpha:
            ax.fill_between(xs, ys, color=line.get_color(), alpha=fill_alpha, linewidth=0,
                            label="_nolegend_")
    for label, value in (refs or {}).items():
        ax.axvline(float(value), color=COLORS["red"], linestyle="--", linewidth=1.2,
                   label=label)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("density")
    return ax

"""Line plots over a budget or over training: Figures 1 and 4 of Dodge et al. (2020).

Drawing only: every function takes a tidy DataFrame that the statistics already
computed, draws it on one Axes and returns that Axes.
"""

from __future__ import annotations

from seedstats.plots.style import COLORS, SCENARIO_COLORS, check_columns, get_axes

__all__ = ["plot_expected_max", "plot_curves", "plot_lines"]


def plot_lines(data, *, ax=None, x="n", y="expected_max", hue=None, lower=None, upper=None,
               colors=None, labels=None, linestyles=None, band_alpha=0.18, markers=False,
               **kwargs):
    """One line per ``hue`` group, with an optional shaded band between two columns.

    Parameters
    ----------
    data : DataFrame
        Tidy: one row per point, columns ``x``, ``y`` (and ``hue``, ``lower``, ``upper``).
    ax : matplotlib Axes, optional
        Where to draw (default: the current pyplot Axes).
    x, y : str
        Columns of the horizontal and vertical positions.
    hue : str, optional
        Column whose groups get one line each, in order of first appearance.
    lower, upper : str, optional
        Columns bounding a shaded band drawn behind each line.
    colors, labels, linestyles : dict, optional
        Per group (``hue`` value): colour, legend label, line style.
    band_alpha : float
        Opacity of the band.
    markers : bool
        Draw a small marker at every point.
    **kwargs
        Passed to ``Axes.plot`` for every line.

    Returns
    -------
    matplotlib Axes
        With one ``Line2D`` per group (its label the legend label) and, with a band, one
        ``PolyCollection`` per group, carrying exactly the values of ``data``.
    """
    check_columns(data, [x, y, hue, lower, upper])
    ax = get_axes(ax)
    colors, labels, linestyles = colors or {}, labels or {}, linestyles or {}
    groups = [(None, data)] if hue is None else list(data.groupby(hue, sort=False,
                                                                   observed=True))
    for key, g in groups:
        color = colors.get(key)
        kw = dict(kwargs)
        if color is not None:
            kw.setdefault("color", color)
        if key in linestyles:
            kw.setdefault("linestyle", linestyles[key])
        if markers:
            kw.setdefault("marker", "o")
            kw.setdefault("markersize", 2.5)
        label = labels.get(key, None if key is None else str(key))
        (line,) = ax.plot(g[x].to_numpy(), g[y].to_numpy(dtype=float), label=label, **kw)
        if lower is not None and upper is not None:
            ax.fill_between(g[x].to_numpy(), g[lower].to_numpy(dtype=float),
                            g[upper].to_numpy(dtype=float), color=line.get_color(),
                            alpha=band_alpha, linewidth=0, label="_nolegend_")
    return ax


def plot_expected_max(data, *, ax=None, x="n", y="expected_max", hue="scenario",
                      lower="lower_sd", upper="upper_sd", colors=None, labels=None, **kwargs):
    """Expected validation performance against the number of trials (Figure 1).

    One line per evaluation scenario (``hue``) with the band ``lower``..``upper``
    (the paper's plus/minus one standard deviation of the best of ``n``, clipped to the
    observed minimum and maximum).

    Parameters
    ----------
    data : DataFrame
        Columns ``x`` (budget, number of trials), ``y`` (expected best score), ``lower``,
        ``upper`` and ``hue``; e.g. the output of
        :func:`seedstats.stats.expected_max.expected_max_curve` with a scenario column.
    ax : matplotlib Axes, optional
    x, y, hue, lower, upper : str
        Column names.
    colors, labels : dict, optional
        Per scenario. Default: the paper's blue / orange / green for ``"frequent"``,
        ``"epoch"``, ``"end"``.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes
        Labeled "number of trials (budget)" and "expected best validation score".

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.curves import plot_expected_max
    >>> df = pd.DataFrame({"n": [1, 2, 1, 2], "expected_max": [.6, .7, .5, .6],
    ...                    "lower_sd": [.5, .6, .4, .5], "upper_sd": [.7, .8, .6, .7],
    ...                    "scenario": ["frequent", "frequent", "end", "end"]})
    >>> ax = plot_expected_max(df, ax=Figure().subplots())
    >>> [line.get_label() for line in ax.get_lines()]
    ['frequent', 'end']
    """
    ax = plot_lines(data, ax=ax, x=x, y=y, hue=hue, lower=lower, upper=upper,
                    colors={**SCENARIO_COLORS, **(colors or {})}, labels=labels, **kwargs)
    ax.set_xlabel("number of trials (budget)")
    ax.set_ylabel("expected best validation score")
    return ax


def plot_curves(data, *, ax=None, x="epoch", y="value", unit="trial_id", baseline=None,
                colors=None, alpha=0.85, linewidth=0.9, **kwargs):
    """Validation curves of individual trials over training (Figure 4).

    Parameters
    ----------
    data : DataFrame
        Tidy, one row per evaluation: columns ``unit`` (which trial), ``x`` (epoch) and
        ``y`` (validation score). Curves are drawn in order of first appearance.
    ax : matplotlib Axes, optional
    x, y, unit : str
        Column names.
    baseline : float, optional
        Majority-class score, drawn as a dashed grey horizontal line.
    colors : sequence of colours, optional
        Cycled over the curves (default: matplotlib's colour cycle).
    alpha, linewidth : float
        Of every curve.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes
        One ``Line2D`` per trial (``gid`` the trial's ``unit`` value), plus the baseline.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.curves import plot_curves
    >>> df = pd.DataFrame({"trial_id": ["a", "a", "b", "b"], "epoch": [.5, 1., .5, 1.],
    ...                    "value": [.6, .7, .5, .52]})
    >>> ax = plot_curves(df, ax=Figure().subplots(), baseline=0.5)
    >>> [line.get_gid() for line in ax.get_lines()]
    ['a', 'b', 'baseline']
    """
    check_columns(data, [x, y, unit])
    ax = get_axes(ax)
    for i, (key, g) in enumerate(data.groupby(unit, sort=False, observed=True)):
        kw = {"alpha": alpha, "linewidth": linewidth, **kwargs}
        if colors is not None:
            kw.setdefault("color", colors[i % len(colors)])
        (line,) = ax.plot(g[x].to_numpy(dtype=float), g[y].to_numpy(dtype=float),
                          label="_nolegend_", **kw)
        line.set_gid(str(key))
    if baseline is not None:
        ax.axhline(baseline, color=COLORS["gray"], linestyle="--", linewidth=0.9,
                   label="majority baseline", gid="baseline", zorder=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation score")
    return ax

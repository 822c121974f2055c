"""Early-stopping plots: Figures 6 and 7 of Dodge et al. (2020), and strategy comparisons.

Drawing only: the best assignment per budget, the error reductions and the expected
scores come in computed (``seedstats.earlystop``).
"""

from __future__ import annotations

from seedstats.plots.curves import plot_lines
from seedstats.plots.style import COLORS, check_columns, get_axes

__all__ = ["plot_best_assignment", "plot_error_reduction", "plot_strategies"]


def plot_best_assignment(data, *, ax=None, x="budget", started="t", continued="p",
                         fraction="f", clear=None, legend=True, **kwargs):
    """Best early-stopping assignment per budget (Figure 6).

    Trials started (blue) and fully trained (orange) on the left axis; the fraction of
    training after which the others are stopped (green) on a twin right axis (0 to 1).

    Parameters
    ----------
    data : DataFrame
        One row per budget: columns ``x`` (budget in full training runs), ``started``
        (trials started, t), ``continued`` (trials trained fully, p), ``fraction``
        (fraction of training before stopping, f).
    ax : matplotlib Axes, optional
    x, started, continued, fraction : str
        Column names.
    clear : str, optional
        Boolean column: whether the best assignment of the budget clearly beats the
        runner-up. Budgets where it does not are drawn with hollow markers.
    legend : bool
        Put one legend for all three lines on ``ax``.
    **kwargs
        Passed to ``Axes.plot`` for every line.

    Returns
    -------
    matplotlib Axes
        The left Axes; its first lines are "trials started" and "trials fully trained".
        The twin Axes (``ax.seedstats_twin``) holds the line "fraction of training before
        stopping" with ``data[fraction]`` as its y data. With ``clear``, extra hollow
        markers (gid ``"not-clear"``) mark the budgets without a clear winner.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.earlystop import plot_best_assignment
    >>> df = pd.DataFrame({"budget": [1, 2], "t": [3, 5], "p": [1, 1], "f": [.2, .3]})
    >>> ax = plot_best_assignment(df, ax=Figure().subplots())
    >>> ax.seedstats_twin.get_lines()[0].get_ydata().tolist()
    [0.2, 0.3]
    """
    check_columns(data, [x, started, continued, fraction, clear])
    ax = get_axes(ax)
    kw = {"marker": "o", "markersize": 3, **kwargs}
    xs = data[x].to_numpy(dtype=float)
    twin = ax.twinx()
    series = ((ax, started, COLORS["blue"], "trials started"),
              (ax, continued, COLORS["orange"], "trials fully trained"),
              (twin, fraction, COLORS["green"], "fraction of training before stopping"))
    for where, col, color, label in series:
        (line,) = where.plot(xs, data[col].to_numpy(dtype=float), color=color, label=label,
                             **kw)
        if clear is not None:
            line.set_markevery(data[clear].to_numpy(dtype=bool).nonzero()[0].tolist())
            unclear = ~data[clear].to_numpy(dtype=bool)
            if unclear.any():
                where.plot(xs[unclear], data[col].to_numpy(dtype=float)[unclear],
                           linestyle="none", marker=kw["marker"],
                           markersize=kw["markersize"], markerfacecolor="white",
                           markeredgecolor=color, label="_nolegend_", gid="not-clear")
    twin.set_ylim(0, 1.05)
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    twin.spines["top"].set_visible(False)
    twin.set_ylabel("fraction of training before stopping", color=COLORS["green"])
    twin.tick_params(axis="y", colors=COLORS["green"])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("budget (full training runs)")
    ax.set_ylabel("number of trials")
    ax.seedstats_twin = twin
    if legend:
        handles = [h for h in ax.get_lines() + twin.get_lines()
                   if not h.get_label().startswith("_")]
        ax.legend(handles, [h.get_label() for h in handles], loc="upper left")
    return ax


def plot_error_reduction(data, *, ax=None, x="budget", y="rel_error_reduction", hue=None,
                         lower=None, upper=None, percent=True, colors=None, **kwargs):
    """Relative error reduction of the best assignment over full training (Figure 7).

    Parameters
    ----------
    data : DataFrame
        One row per budget (per group): columns ``x`` (budget in full training runs) and
        ``y`` (relative error reduction, a fraction: 0.05 is 5 %).
    ax : matplotlib Axes, optional
    x, y, hue : str
        Column names; ``hue`` draws one line per group.
    lower, upper : str, optional
        Columns bounding a shaded band (e.g. a Monte Carlo interval), same unit as ``y``.
    percent : bool
        Draw the reduction in percent (the line's y data is ``100 * data[y]``).
    colors : dict, optional
        Per group.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes
        With a line per group and a zero line (gid ``"zero"``).

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.earlystop import plot_error_reduction
    >>> df = pd.DataFrame({"budget": [1, 2], "rel_error_reduction": [0.01, 0.05]})
    >>> ax = plot_error_reduction(df, ax=Figure().subplots())
    >>> ax.get_lines()[0].get_ydata().tolist()
    [1.0, 5.0]
    """
    check_columns(data, [x, y, hue, lower, upper])
    ax = get_axes(ax)
    frame = data.copy()
    if percent:
        for col in (y, lower, upper):
            if col is not None:
                frame[col] = frame[col].astype(float) * 100.0
    kw = {"marker": "o", "markersize": 2.5, **kwargs}
    if hue is None:
        kw.setdefault("color", COLORS["blue"])
    plot_lines(frame, ax=ax, x=x, y=y, hue=hue, lower=lower, upper=upper, colors=colors,
               **kw)
    ax.axhline(0.0, color="0.4", linewidth=0.8, zorder=0.5, gid="zero", label="_nolegend_")
    ax.set_xlabel("budget (full training runs)")
    ax.set_ylabel("relative error reduction (%)" if percent else "relative error reduction")
    return ax


def plot_strategies(data, *, ax=None, x="budget", y="expected", hue="strategy", lower=None,
                    upper=None, colors=None, labels=None, **kwargs):
    """Expected best score per budget for several search strategies (ours).

    Parameters
    ----------
    data : DataFrame
        Tidy: columns ``x`` (budget in full training runs), ``y`` (expected best score),
        ``hue`` (strategy), optionally ``lower``/``upper`` (an interval drawn as a band).
    ax : matplotlib Axes, optional
    x, y, hue, lower, upper : str
        Column names.
    colors, labels : dict, optional
        Per strategy.
    **kwargs
        Passed to ``Axes.plot``.

    Returns
    -------
    matplotlib Axes
        One line per strategy (label: the strategy's legend label).
    """
    kw = {"marker": "o", "markersize": 2.5, **kwargs}
    ax = plot_lines(data, ax=ax, x=x, y=y, hue=hue, lower=lower, upper=upper, colors=colors,
                    labels=labels, **kw)
    ax.set_xlabel("budget (full training runs)")
    ax.set_ylabel("expected best validation score")
    return ax

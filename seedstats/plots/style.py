"""The house style of every seedstats figure, applied through an rc context.

Nothing here touches matplotlib's global state at import: :func:`style` returns a
context manager (``matplotlib.rc_context``) that the figure builders enter while
they draw, so a user's own settings are left alone.

The colours follow the paper's figures (matplotlib's default cycle): blue, orange
and green for the three evaluation scenarios of Figure 1 and for the started /
fully trained / fraction lines of Figure 6.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "RC",
    "COLORS",
    "SCENARIO_COLORS",
    "TASK_TITLES",
    "METRIC_LABELS",
    "METRIC_RANGES",
    "SYNTHETIC_NOTE",
    "DIGITIZED_NOTE",
    "style",
    "task_title",
    "metric_label",
    "get_axes",
    "check_columns",
]

#: rc parameters of the house style: sized for a figure that is read at the width of
#: a paper column or two (about 3.3 to 7 inches) without squinting.
RC = {
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": None,  # the figures use constrained layout: a tight box would draw twice
    "savefig.pad_inches": 0.03,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.9",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "lines.linewidth": 1.4,
    "image.cmap": "viridis",
    "figure.constrained_layout.use": False,
}

#: Named colours (matplotlib's "tab10", the paper's palette).
COLORS = {
    "blue": "#1f77b4",
    "orange": "#ff7f0e",
    "green": "#2ca02c",
    "red": "#d62728",
    "purple": "#9467bd",
    "brown": "#8c564b",
    "gray": "#7f7f7f",
}

#: Figure 1's evaluation scenarios: frequent (blue), each epoch (orange), end (green).
SCENARIO_COLORS = {
    "frequent": COLORS["blue"],
    "epoch": COLORS["orange"],
    "end": COLORS["green"],
}

#: Panel titles of the paper's tasks.
TASK_TITLES = {"mrpc": "MRPC", "rte": "RTE", "cola": "CoLA", "sst": "SST"}

#: Axis labels of the headline metrics (Table 2).
METRIC_LABELS = {
    "acc": "accuracy",
    "acc_and_f1": "mean(acc, F1)",
    "f1": "F1",
    "mcc": "MCC",
    "loss": "loss",
}

#: Range a metric can take (KDE curves are clipped to it).
METRIC_RANGES = {"acc": (0.0, 1.0), "acc_and_f1": (0.0, 1.0), "f1": (0.0, 1.0),
                 "mcc": (-1.0, 1.0)}

#: The note every figure made from synthetic data carries.
SYNTHETIC_NOTE = "synthetic replica"
#: The note on every figure made from real scores read back from a figure (``dodge2020``).
DIGITIZED_NOTE = "real scores, digitized from the authors' Figure 2"


def style(**overrides):
    """Context manager applying the house style (and ``overrides``) while it is open.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.style import style
    >>> with style():
    ...     fig = Figure()
    ...     ax = fig.subplots()
    >>> ax.spines["top"].get_visible()
    False
    """
    import matplotlib

    return matplotlib.rc_context({**RC, **overrides})


def task_title(task: str) -> str:
    """Panel title of a task: ``"CoLA"`` for ``"cola"``; other names unchanged."""
    return TASK_TITLES.get(str(task), str(task))


def metric_label(metric: str | None) -> str:
    """Axis label of a metric: ``"accuracy"`` for ``"acc"``; other names unchanged."""
    if metric is None:
        return "score"
    return METRIC_LABELS.get(str(metric), str(metric))


def get_axes(ax=None):
    """Return ``ax``, or the current pyplot Axes when ``ax`` is None (as seaborn does)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def check_columns(data, columns, param="data"):
    """Raise a one-line error unless ``data`` is a DataFrame with every named column."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{param} must be a pandas DataFrame; got {type(data).__name__}")
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise ValueError(f"{param} must have columns {[c for c in columns if c is not None]}; "
                         f"missing {missing} (it has {list(data.columns)})")

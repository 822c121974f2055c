"""Small lookups shared by the figure builders (task metric, baseline, panel decoration)."""

from __future__ import annotations

from seedstats.data.schema import TASKS
from seedstats.plots.style import METRIC_RANGES, metric_label, task_title
from seedstats.stats.divergence import failure_threshold

__all__ = ["task_metric", "task_baseline", "score_label", "metric_support", "finish_panel"]


def task_metric(ds, task: str) -> str | None:
    """Headline metric of ``task``: its ``trials.metric`` values, else Table 2's."""
    m = ds.trials.loc[ds.trials["task"] == task, "metric"].dropna()
    if len(m):
        return str(m.iloc[0])
    return TASKS[task].metric if task in TASKS else None


def task_baseline(ds, task: str) -> float | None:
    """Majority baseline of ``task`` (Table 2), ``meta["baselines"][task]``, or None.

    For a paper task this is :func:`seedstats.stats.divergence.failure_threshold`: for MCC
    the failure threshold is 0, which is also the majority classifier's MCC.
    """
    if task in TASKS:

        return failure_threshold(task)
    extra = (getattr(ds, "meta", None) or {}).get("baselines") or {}
    value = extra.get(task)
    return None if value is None else float(value)


def score_label(ds, task: str, prefix: str = "validation") -> str:
    """Axis label of a task's headline score, e.g. ``"validation MCC"``."""
    return f"{prefix} {metric_label(task_metric(ds, task))}".strip()


def metric_support(ds, task: str):
    """The range the task's metric can take, or None (e.g. ``(-1, 1)`` for MCC)."""
    return METRIC_RANGES.get(str(task_metric(ds, task)))


def finish_panel(ax, task: str, *, xlabel=None, ylabel=None):
    """Title a panel with the task's name and set its axis labels."""
    ax.set_title(task_title(task))
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return ax

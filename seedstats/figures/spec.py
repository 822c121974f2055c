"""What a registered figure is: :class:`FigureSpec`, and the :func:`register` decorator."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from seedstats.data import score_column
from seedstats.errors import DataError
from seedstats.figures.layout import mark_synthetic
from seedstats.figures.tables import SCORE_TEXT
from seedstats.plots.style import style

__all__ = ["FigureSpec", "register", "SPECS", "task_panels"]

#: Every registered figure by name, in registration order (the builders' modules fill it).
SPECS: dict[str, "FigureSpec"] = {}


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its name, what it reproduces, and how to build it from a dataset.

    Attributes
    ----------
    name : str
        Registry key and file name (``fig1``, ``varcomp``, ...).
    paper_ref : str
        ``"Figure 1"`` ... ``"Figure 9"`` for the paper's, ``"ours"`` otherwise.
    title : str
        One line, for ``seedstats figures --list``.
    caption : str
        What the figure shows, for ``index.md``.
    needs : str
        What the data must have (shown when a dataset lacks it).
    builder : callable
        ``builder(ds) -> matplotlib.figure.Figure``, or ``builder(ds, score=...)`` for a
        figure of per-trial scores (:data:`seedstats.data.SCORES`); draws with the house
        style active. The caption of such a figure names the score with ``{score}``.
    """
    name: str
    paper_ref: str
    title: str
    caption: str
    builder: Callable = field(repr=False, compare=False)
    needs: str = ""

    @property
    def scored(self) -> bool:
        """Whether the figure draws per-trial scores (its builder takes ``score``)."""
        return "score" in inspect.signature(self.builder).parameters

    def caption_for(self, score: str = "paper") -> str:
        """The caption, naming the score the figure was drawn from."""
        return self.caption.format(score=SCORE_TEXT[score]) if self.scored else self.caption

    def build(self, ds, score: str = "paper"):
        """Build the figure for dataset ``ds`` in the house style.

        Returns
        -------
        matplotlib.figure.Figure
            Made without pyplot; it carries the note "synthetic replica" when
            ``ds.synthetic``. Tasks the data could not support are listed in
            ``fig.seedstats_skipped`` (task -> reason).

        Raises
        ------
        seedstats.errors.DataError
            The dataset lacks what the figure needs (e.g. no WI x DO grid).
        """
        score_column(score)  # a one-line error for an unknown choice
        with style():
            fig = self.builder(ds, score=score) if self.scored else self.builder(ds)
            mark_synthetic(fig, bool(getattr(ds, "synthetic", False)),
                           bool(getattr(ds, "meta", {}).get("digitized")))
        if not hasattr(fig, "seedstats_skipped"):
            fig.seedstats_skipped = {}
        fig.seedstats_name = self.name
        return fig


def register(name: str, paper_ref: str, title: str, caption: str, needs: str = ""):
    """Decorator registering ``builder(ds) -> Figure`` under ``name``."""
    def deco(builder):
        if name in SPECS:
            raise ValueError(f"figure {name!r} is already registered")
        SPECS[name] = FigureSpec(name, paper_ref, title, caption, builder, needs)
        return builder

    return deco


def task_panels(ds, compute, *, needs: str):
    """Run ``compute(task)`` for every task of ``ds``; keep the tasks it works for.

    A task whose data lacks what the figure needs (``compute`` raises
    :class:`~seedstats.errors.DataError` or ``ValueError``) is skipped and reported;
    when no task works, the first error is raised as a DataError that says what the
    figure needs.

    Returns
    -------
    (dict, dict)
        ``{task: result}`` in the dataset's task order, and ``{task: reason}`` for the
        skipped ones.
    """
    results, skipped = {}, {}
    for task in ds.tasks:
        try:
            results[task] = compute(task)
        except (DataError, ValueError) as exc:
            skipped[task] = str(exc)
    if not results:
        if len(ds.trials) and getattr(ds, "evals", None) is not None and ds.evals.empty:
            raise DataError(f"needs {needs}; this data has no validation curves, only one "
                            "score per trial")
        reasons = "; ".join(f"{t}: {r}" for t, r in skipped.items()) or "the dataset has no tasks"
        raise DataError(f"needs {needs} ({reasons})")
    return results, skipped

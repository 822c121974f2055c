"""Figure scaffolding shared by the builders: panel grids, shared legends, the synthetic note.

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot, so building
one never touches pyplot's global state (no figure manager, no backend switch).
"""

from __future__ import annotations

from seedstats.plots.style import DIGITIZED_NOTE, SYNTHETIC_NOTE

__all__ = ["panel_figure", "stacked_panel_figure", "shared_legend", "mark_synthetic",
           "NOTE_GID"]

#: ``gid`` of the text artist that says the figure was made from synthetic data.
NOTE_GID = "seedstats-synthetic-note"

# Height (inches) kept free at the bottom of every figure for the synthetic note.
_NOTE_STRIP = 0.17


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.03, h_pad=0.03, wspace=0.04, hspace=0.05,
                                rect=(0, _NOTE_STRIP / height, 1, 1 - _NOTE_STRIP / height))
    return fig


def panel_figure(tasks, *, ncols: int = 2, panel=(3.3, 2.5)):
    """A figure with one panel per task (the paper's four: MRPC, RTE, CoLA, SST).

    Parameters
    ----------
    tasks : sequence of str
        One panel each, in order (row by row).
    ncols : int
        Panels per row (fewer when there are fewer tasks).
    panel : (float, float)
        Width and height of one panel in inches.

    Returns
    -------
    (Figure, list of Axes)
        The Axes in the order of ``tasks``; unused grid cells are removed.
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks must name at least one task; got none")
    ncols = max(1, min(int(ncols), len(tasks)))
    nrows = -(-len(tasks) // ncols)
    fig = _new_figure(panel[0] * ncols, panel[1] * nrows + _NOTE_STRIP)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[len(tasks):]:
        ax.remove()
    return fig, axes[: len(tasks)]


def stacked_panel_figure(tasks, *, ncols: int = 2, panel=(3.3, 3.3), ratios=(2.6, 1.0)):
    """Like :func:`panel_figure`, but each task gets a main Axes above a small one.

    The small Axes shares the main one's x axis (for a difference or a residual).

    Returns
    -------
    (Figure, list of (Axes, Axes))
        ``(main, small)`` per task, in the order of ``tasks``.
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks must name at least one task; got none")
    ncols = max(1, min(int(ncols), len(tasks)))
    nrows = -(-len(tasks) // ncols)
    fig = _new_figure(panel[0] * ncols, panel[1] * nrows + _NOTE_STRIP)
    gs = fig.add_gridspec(2 * nrows, ncols, height_ratios=list(ratios) * nrows)
    pairs = []
    for idx in range(len(tasks)):
        r, c = divmod(idx, ncols)
        main = fig.add_subplot(gs[2 * r, c])
        small = fig.add_subplot(gs[2 * r + 1, c], sharex=main)
        main.tick_params(labelbottom=False)
        pairs.append((main, small))
    return fig, pairs


def shared_legend(fig, axes, *, ncols=None, loc="outside upper center", extra=()):
    """One legend above the panels, from the labeled artists of ``axes`` (deduplicated).

    ``extra`` adds more (handle, label) pairs. Returns the Legend or None if nothing is
    labeled.
    """
    seen = {}
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        for h, lab in zip(handles, labels):
            seen.setdefault(lab, h)
    for h, lab in extra:
        seen.setdefault(lab, h)
    if not seen:
        return None
    n = len(seen) if ncols is None else ncols
    return fig.legend(list(seen.values()), list(seen.keys()), loc=loc, ncols=n,
                      frameon=False, handlelength=2.2, columnspacing=1.5)


def mark_synthetic(fig, synthetic: bool, digitized: bool = False):
    """Write the small visible note "synthetic replica" in the bottom right corner.

    Done for every figure made from data whose metadata says ``synthetic: true``, so no
    one mistakes the replica for the paper's runs; real scores read back from a figure
    (``digitized``) say so instead. Returns the Text artist (gid :data:`NOTE_GID`) or None.
    """
    note = SYNTHETIC_NOTE if synthetic else DIGITIZED_NOTE if digitized else None
    if note is None:
        return None
    return fig.text(0.995, 0.004, note, ha="right", va="bottom", fontsize=7,
                    color="0.35", style="italic", gid=NOTE_GID)

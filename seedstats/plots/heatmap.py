"""Matrix plots: the WI x DO grid of Figure 2 and the correlation maps of Figures 5 and 9.

Drawing only: the matrices come in already computed and already ordered; these
functions draw them as they are and return the Axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.plots.style import get_axes

__all__ = ["plot_seed_heatmap", "plot_matrix"]


def _as_frame(data, param="data"):
    if isinstance(data, pd.DataFrame):
        return data
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{param} must be a 2-D matrix (DataFrame or array); "
                         f"got shape {arr.shape}")
    return pd.DataFrame(arr)


def plot_seed_heatmap(data, *, ax=None, cmap="viridis", vmin=None, vmax=None, colorbar=True,
                      cbar_label="validation score", ticklabels=True, **kwargs):
    """The WI x DO grid of final scores, one coloured cell per trial (Figure 2).

    Rows are drawn top to bottom and columns left to right in the order of ``data``:
    sort them first (the paper puts the best WI on top and the best DO on the right).

    Parameters
    ----------
    data : DataFrame, shape (n_wi, n_do)
        The WI x DO grid: index = WI seeds (rows, top first), columns = DO seeds
        (left to right), cells = scores (NaN for a missing trial, drawn blank), as
        returned by :meth:`seedstats.Dataset.grid` and ordered, e.g., by
        :func:`seedstats.figures.prep.sort_grid`.
        A 2-D array is accepted too; its rows and columns are then labeled ``0 .. n-1``.
    ax : matplotlib Axes, optional
    cmap : str or Colormap
    vmin, vmax : float, optional
        Colour limits (default: the range of ``data``).
    colorbar : bool
        Add a colour bar labeled ``cbar_label`` beside the Axes.
    ticklabels : bool
        Label every row and column with its seed.
    **kwargs
        Passed to ``Axes.imshow``.

    Returns
    -------
    matplotlib Axes
        Its one ``AxesImage`` holds ``data``'s values (``get_array()``), row 0 on top;
        the y tick labels are the WI seeds, the x tick labels the DO seeds.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.heatmap import plot_seed_heatmap
    >>> g = pd.DataFrame([[.9, .8], [.6, .5]], index=[12, 3], columns=[7, 1])
    >>> ax = plot_seed_heatmap(g, ax=Figure().subplots(), colorbar=False)
    >>> ax.images[0].get_array().tolist()
    [[0.9, 0.8], [0.6, 0.5]]
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['12', '3']
    """
    grid = _as_frame(data, "data")
    ax = get_axes(ax)
    values = grid.to_numpy(dtype=float)
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax,
                   aspect="equal", interpolation="nearest", origin="upper", **kwargs)
    ax.grid(False)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    n_wi, n_do = values.shape
    if ticklabels:
        size = 8 if max(n_wi, n_do) <= 10 else (6 if max(n_wi, n_do) <= 16 else 4.8)
        ax.set_yticks(range(n_wi), [str(s) for s in grid.index], fontsize=size)
        ax.set_xticks(range(n_do), [str(s) for s in grid.columns], fontsize=size,
                      rotation=90 if n_do > 16 else 0)
        ax.tick_params(length=0, pad=1.5)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("data order (DO) seed")
    ax.set_ylabel("weight initialization (WI) seed")
    if colorbar:
        cb = ax.get_figure().colorbar(im, ax=ax, shrink=0.9, pad=0.02, fraction=0.06)
        cb.set_label(cbar_label)
        cb.ax.tick_params(labelsize=7)
        cb.outline.set_visible(False)
    return ax


def plot_matrix(data, *, ax=None, positions=None, cmap="viridis", vmin=None, vmax=None,
                colorbar=True, cbar_label=None, axis_label="epoch", **kwargs):
    """A square matrix over evaluation points, e.g. checkpoint correlations (Figures 5, 9).

    Cell ``(i, j)`` is drawn at ``(positions[j], positions[i])`` with ``i`` increasing
    upwards, so the diagonal runs from bottom left to top right and both axes read in
    epochs. Cell edges sit halfway between neighbouring positions, so unevenly spaced
    evaluations keep their true place on the axis.

    Parameters
    ----------
    data : DataFrame or 2-D array, shape (k, k)
        Square matrix over k evaluation points, row/column ``i`` = evaluation ``i`` in
        increasing order (labels of a DataFrame are not used); values to draw, NaN
        drawn blank.
    ax : matplotlib Axes, optional
    positions : 1-D array of float, shape (k,), optional
        Where each row/column sits on the axis (e.g. the epoch of each evaluation);
        default ``0 .. k-1``. Must be strictly increasing.
    cmap : str or Colormap
    vmin, vmax : float, optional
        Colour limits.
    colorbar : bool
        Add a colour bar labeled ``cbar_label``.
    axis_label : str
        Label of both axes.
    **kwargs
        Passed to ``Axes.pcolormesh``.

    Returns
    -------
    matplotlib Axes
        Its ``QuadMesh`` (``ax.collections[0]``) holds ``data`` (``get_array()``, NaN
        masked).

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.heatmap import plot_matrix
    >>> ax = plot_matrix(np.array([[1., .5], [.5, 1.]]), positions=[.5, 1.],
    ...                  ax=Figure().subplots(), colorbar=False)
    >>> ax.collections[0].get_array().tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    >>> [float(v) for v in ax.get_xlim()]
    [0.25, 1.25]
    """
    frame = _as_frame(data, "data")
    values = frame.to_numpy(dtype=float)
    k = values.shape[0]
    if values.shape[1] != k:
        raise ValueError(f"data must be a square matrix; got shape {values.shape}")
    pos = np.arange(k, dtype=float) if positions is None else np.asarray(positions, float)
    if pos.shape != (k,):
        raise ValueError(f"positions must have one entry per row of data ({k}); "
                         f"got shape {pos.shape}")
    if k > 1 and not np.all(np.diff(pos) > 0):
        raise ValueError("positions must be strictly increasing")
    if k == 1:
        edges = np.array([pos[0] - 0.5, pos[0] + 0.5])
    else:
        mid = (pos[1:] + pos[:-1]) / 2
        edges = np.concatenate([[pos[0] - (mid[0] - pos[0])], mid,
                                [pos[-1] + (pos[-1] - mid[-1])]])
    ax = get_axes(ax)
    mesh = ax.pcolormesh(edges, edges, np.ma.masked_invalid(values), cmap=cmap, vmin=vmin,
                         vmax=vmax, shading="flat", **kwargs)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(edges[0], edges[-1])
    ax.set_aspect("equal")
    ax.grid(False)
    ax.set_xlabel(axis_label)
    ax.set_ylabel(axis_label)
    if colorbar:
        cb = ax.get_figure().colorbar(mesh, ax=ax, shrink=0.9, pad=0.02, fraction=0.06)
        if cbar_label:
            cb.set_label(cbar_label)
        cb.ax.tick_params(labelsize=7)
        cb.outline.set_visible(False)
    return ax

"""Checkpoint correlation maps: Figures 5 (Spearman) and 9 (Pearson) of Dodge et al. (2020).

Drawing only: the correlation matrices come from :mod:`seedstats.stats.checkpoints`.
"""

from __future__ import annotations

from seedstats.plots.heatmap import plot_matrix

__all__ = ["plot_checkpoint_correlation"]

_LABELS = {"spearman": "Spearman rank correlation", "pearson": "Pearson correlation"}


def plot_checkpoint_correlation(data, *, ax=None, epochs=None, method="spearman",
                                cmap="viridis", vmin=None, vmax=1.0, colorbar=True, **kwargs):
    """Correlation across trials between the best score after i and after j evaluations.

    Parameters
    ----------
    data : DataFrame or 2-D array, shape (k, k)
        Symmetric correlation matrix over k evaluation points, row/column ``i`` =
        evaluation ``i`` in increasing order, e.g. the ``r`` column of
        :func:`seedstats.stats.checkpoints.checkpoint_correlations` pivoted to
        ``index="i", columns="j"`` (labels of a DataFrame are not used).
    ax : matplotlib Axes, optional
    epochs : 1-D array of float, shape (k,), optional
        Epoch of each evaluation point (both axes read in epochs, as in the paper).
    method : {"spearman", "pearson"}
        Only labels the colour bar.
    cmap, vmin, vmax
        Colour map and limits (default: the matrix minimum to 1).
    colorbar : bool
    **kwargs
        Passed to :func:`seedstats.plots.heatmap.plot_matrix`.

    Returns
    -------
    matplotlib Axes
        Its ``QuadMesh`` (``ax.collections[0]``) holds ``data`` (``get_array()``); both
        axes are labeled "epoch".

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from seedstats.plots.correlation import plot_checkpoint_correlation
    >>> ax = plot_checkpoint_correlation(np.array([[1., .8], [.8, 1.]]), epochs=[1., 2.],
    ...                                  ax=Figure().subplots(), colorbar=False)
    >>> ax.collections[0].get_array().tolist()
    [[1.0, 0.8], [0.8, 1.0]]
    """
    if method not in _LABELS:
        raise ValueError(f"method must be one of {sorted(_LABELS)}; got {method!r}")
    return plot_matrix(data, ax=ax, positions=epochs, cmap=cmap, vmin=vmin, vmax=vmax,
                       colorbar=colorbar, cbar_label=_LABELS[method], axis_label="epoch",
                       **kwargs)

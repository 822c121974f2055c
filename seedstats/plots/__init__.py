"""Axes-level drawing functions: ``plot_x(data, *, ax=None, **kwargs) -> Axes``.

Drawing only: every function takes what :mod:`seedstats.stats` or
:mod:`seedstats.earlystop` computed, draws it on one Axes and returns that Axes. No
function here saves, shows, or changes matplotlib's global style; the house style is
applied with :func:`seedstats.plots.style.style` (an rc context).

Modules: :mod:`~seedstats.plots.curves` (Figures 1, 4), :mod:`~seedstats.plots.heatmap`
(Figure 2, matrices), :mod:`~seedstats.plots.density` (Figures 3, 8),
:mod:`~seedstats.plots.correlation` (Figures 5, 9), :mod:`~seedstats.plots.earlystop`
(Figures 6, 7, strategies), :mod:`~seedstats.plots.components` (variance components), :mod:`~seedstats.plots.compare`
(``seedstats compare``),
:mod:`~seedstats.plots.style`.
"""

from __future__ import annotations

import importlib

__all__ = [
    "plot_expected_max",
    "plot_curves",
    "plot_lines",
    "plot_seed_heatmap",
    "plot_matrix",
    "plot_density",
    "plot_checkpoint_correlation",
    "plot_best_assignment",
    "plot_error_reduction",
    "plot_strategies",
    "plot_components",
    "plot_seed_scores",
]

_WHERE = {
    "plot_seed_scores": "compare",
    "plot_expected_max": "curves",
    "plot_curves": "curves",
    "plot_lines": "curves",
    "plot_seed_heatmap": "heatmap",
    "plot_matrix": "heatmap",
    "plot_density": "density",
    "plot_checkpoint_correlation": "correlation",
    "plot_best_assignment": "earlystop",
    "plot_error_reduction": "earlystop",
    "plot_strategies": "earlystop",
    "plot_components": "components",
}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"seedstats.plots.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seedstats.plots' has no attribute {name!r}")


def __dir__():
    return __all__

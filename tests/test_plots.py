"""Axes-level plot functions: they draw exactly the numbers they are given, return the Axes,
validate their input, and change nothing global."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from seedstats.plots import (
    plot_best_assignment,
    plot_checkpoint_correlation,
    plot_components,
    plot_curves,
    plot_density,
    plot_error_reduction,
    plot_expected_max,
    plot_lines,
    plot_matrix,
    plot_seed_heatmap,
    plot_strategies,
)
from seedstats.plots.style import RC, SCENARIO_COLORS, metric_label, style, task_title


def new_ax():
    return Figure().subplots()


# --- curves -------------------------------------------------------------------------------


def expected_frame():
    return pd.DataFrame({
        "n": [1, 2, 3, 1, 2, 3],
        "expected_max": [0.60, 0.70, 0.75, 0.50, 0.55, 0.58],
        "lower_sd": [0.50, 0.62, 0.70, 0.40, 0.49, 0.53],
        "upper_sd": [0.70, 0.78, 0.80, 0.60, 0.61, 0.63],
        "scenario": ["frequent"] * 3 + ["end"] * 3,
    })


def test_plot_expected_max_lines_and_bands_carry_the_values():
    df = expected_frame()
    ax = new_ax()
    out = plot_expected_max(df, ax=ax)
    assert out is ax
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["frequent", "end"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[1].get_ydata(), [0.50, 0.55, 0.58])
    # the paper's colours: frequent blue, end green
    assert matplotlib.colors.same_color(lines[0].get_color(), SCENARIO_COLORS["frequent"])
    assert matplotlib.colors.same_color(lines[1].get_color(), SCENARIO_COLORS["end"])
    # one band per scenario, spanning lower..upper at every n
    bands = ax.collections
    assert len(bands) == 2
    verts = bands[0].get_paths()[0].vertices
    ys_at_2 = sorted({round(y, 6) for x, y in verts if abs(x - 2) < 1e-9})
    assert ys_at_2 == [0.62, 0.78]
    assert ax.get_xlabel() == "number of trials (budget)"


def test_plot_lines_kwargs_reach_every_line():
    # rliable's slip: popping a kwarg inside the loop styles only the first line
    ax = plot_lines(expected_frame(), ax=new_ax(), hue="scenario", linewidth=3.5)
    assert [ln.get_linewidth() for ln in ax.get_lines()] == [3.5, 3.5]


def test_plot_curves_one_line_per_trial_and_baseline():
    df = pd.DataFrame({"trial_id": ["b", "b", "b", "a", "a", "a"],
                       "epoch": [0.5, 1.0, 1.5] * 2,
                       "value": [0.6, 0.7, 0.8, 0.5, 0.51, 0.5]})
    ax = plot_curves(df, ax=new_ax(), baseline=0.53)
    lines = ax.get_lines()
    assert [ln.get_gid() for ln in lines] == ["b", "a", "baseline"]
    np.testing.assert_array_equal(lines[0].get_ydata(), [0.6, 0.7, 0.8])
    np.testing.assert_array_equal(lines[2].get_ydata(), [0.53, 0.53])
    assert lines[2].get_linestyle() == "--"
    assert ax.get_xlabel() == "epoch"


@pytest.mark.parametrize("func", [plot_expected_max, plot_curves, plot_density])
def test_missing_columns_name_them(func):
    with pytest.raises(ValueError, match="missing"):
        func(pd.DataFrame({"nothing": [1.0]}), ax=new_ax())


@pytest.mark.parametrize("func", [plot_expected_max, plot_curves, plot_density,
                                  plot_components, plot_best_assignment])
def test_non_frames_are_a_type_error(func):
    with pytest.raises(TypeError, match="DataFrame"):
        func([[1.0, 2.0]], ax=new_ax())


# --- heatmaps ------------------------------------------------------------------------------


def test_plot_seed_heatmap_draws_the_grid_in_the_given_order():
    grid = pd.DataFrame([[0.9, 0.8, np.nan], [0.7, 0.6, 0.5]], index=[12, 3],
                        columns=[7, 1, 4])
    ax = plot_seed_heatmap(grid, ax=new_ax())
    arr = ax.images[0].get_array()
    np.testing.assert_array_equal(arr.filled(np.nan)[1], [0.7, 0.6, 0.5])
    assert arr.mask[0, 2] and not arr.mask[0, 0]  # NaN drawn blank
    assert [t.get_text() for t in ax.get_yticklabels()] == ["12", "3"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["7", "1", "4"]
    # row 0 is on top: imshow's origin is "upper"
    assert ax.images[0].origin == "upper"
    assert len(ax.get_figure().axes) == 2  # with its colour bar


def test_plot_seed_heatmap_rejects_a_vector():
    with pytest.raises(ValueError, match="^data must be a 2-D"):
        plot_seed_heatmap(np.arange(3.0), ax=new_ax())


def test_every_plot_function_shares_one_signature():
    # STYLE habit 2: plot_x(data, *, ax=None, ..., **kwargs) -> Axes
    import inspect

    import seedstats.plots

    for name in seedstats.plots.__all__:
        params = inspect.signature(getattr(seedstats.plots, name)).parameters
        first = next(iter(params.values()))
        assert first.name == "data", name
        assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
        assert params["ax"].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params["ax"].default is None, name
        assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), name


def test_matrix_plots_take_data_by_keyword():
    grid = pd.DataFrame([[0.9, 0.8], [0.6, 0.5]], index=[12, 3], columns=[7, 1])
    ax = plot_seed_heatmap(data=grid, ax=new_ax(), colorbar=False)
    np.testing.assert_array_equal(ax.images[0].get_array(), grid.to_numpy())
    m = np.array([[1.0, 0.3], [0.3, 1.0]])
    for func in (plot_matrix, plot_checkpoint_correlation):
        ax = func(data=m, ax=new_ax(), colorbar=False)
        np.testing.assert_array_equal(np.asarray(ax.collections[0].get_array()).reshape(2, 2), m)


def test_plot_matrix_cell_edges_follow_uneven_positions():
    m = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.4], [0.2, 0.4, 1.0]])
    ax = plot_matrix(m, positions=[0.1, 0.2, 1.0], ax=new_ax(), colorbar=False)
    mesh = ax.collections[0]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(3, 3), m)
    # edges: halfway between positions, mirrored at the ends
    np.testing.assert_allclose(ax.get_xlim(), [0.05, 1.4])
    coords = mesh.get_coordinates()[0, :, 0]
    np.testing.assert_allclose(coords, [0.05, 0.15, 0.6, 1.4])


@pytest.mark.parametrize("kwargs, match", [
    ({"positions": [0.0, 1.0]}, "one entry per row of data"),
    ({"positions": [1.0, 0.5, 2.0]}, "strictly increasing"),
])
def test_plot_matrix_validates_positions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_matrix(np.eye(3), ax=new_ax(), colorbar=False, **kwargs)


def test_plot_matrix_needs_a_square():
    with pytest.raises(ValueError, match="^data must be a square matrix"):
        plot_matrix(np.ones((2, 3)), ax=new_ax())
    with pytest.raises(ValueError, match="^data must be a 2-D"):
        plot_checkpoint_correlation(np.ones(3), ax=new_ax())


def test_plot_checkpoint_correlation_labels_and_method():
    ax = plot_checkpoint_correlation(np.array([[1.0, 0.3], [0.3, 1.0]]), epochs=[1.0, 2.0],
                                     method="pearson", ax=new_ax())
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "epoch"
    cbar_ax = ax.get_figure().axes[1]
    assert cbar_ax.get_ylabel() == "Pearson correlation"
    with pytest.raises(ValueError, match="method"):
        plot_checkpoint_correlation(np.eye(2), ax=new_ax(), method="kendall")


# --- densities -----------------------------------------------------------------------------


def test_plot_density_styles_and_reference_line():
    df = pd.DataFrame({"x": [0.0, 0.5, 1.0] * 2, "density": [0.2, 1.0, 0.2, 0.5, 0.7, 0.5],
                       "label": ["best WI"] * 3 + ["best DO"] * 3})
    ax = plot_density(df, ax=new_ax(), linestyles={"best DO": "--"},
                      refs={"total SD": 0.061})
    wi, do, ref = ax.get_lines()
    np.testing.assert_array_equal(wi.get_ydata(), [0.2, 1.0, 0.2])
    assert wi.get_linestyle() == "-" and do.get_linestyle() == "--"
    assert ref.get_label() == "total SD"
    np.testing.assert_array_equal(ref.get_xdata(), [0.061, 0.061])
    assert ax.get_ylim()[0] == 0


# --- early stopping ------------------------------------------------------------------------


def test_plot_best_assignment_left_and_twin_axes():
    df = pd.DataFrame({"budget": [1, 2, 3], "t": [3, 5, 8], "p": [1, 1, 2],
                       "f": [0.2, 0.3, 0.233]})
    ax = plot_best_assignment(df, ax=new_ax())
    started, trained = ax.get_lines()
    np.testing.assert_array_equal(started.get_ydata(), [3, 5, 8])
    np.testing.assert_array_equal(trained.get_ydata(), [1, 1, 2])
    (frac,) = ax.seedstats_twin.get_lines()
    np.testing.assert_array_equal(frac.get_ydata(), [0.2, 0.3, 0.233])
    assert ax.seedstats_twin.get_ylim() == (0, 1.05)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["trials started", "trials fully trained",
                      "fraction of training before stopping"]


def test_plot_best_assignment_marks_budgets_without_a_clear_winner():
    df = pd.DataFrame({"budget": [1, 2, 3], "t": [3, 5, 8], "p": [1, 1, 2],
                       "f": [0.2, 0.3, 0.2], "clear": [True, False, True]})
    ax = plot_best_assignment(df, ax=new_ax(), clear="clear")
    hollow = [ln for ln in ax.get_lines() + ax.seedstats_twin.get_lines()
              if ln.get_gid() == "not-clear"]
    assert len(hollow) == 3  # one per series, at budget 2 only
    assert all(list(ln.get_xdata()) == [2.0] for ln in hollow)
    np.testing.assert_array_equal(hollow[0].get_ydata(), [5])
    np.testing.assert_array_equal(hollow[2].get_ydata(), [0.3])
    assert hollow[0].get_markerfacecolor() == "white"
    # the legend still has exactly the three series
    assert len(ax.get_legend().get_texts()) == 3


def test_plot_error_reduction_in_percent():
    df = pd.DataFrame({"budget": [1, 2], "rel_error_reduction": [0.0, 0.0425]})
    ax = plot_error_reduction(df, ax=new_ax())
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.0, 4.25])
    assert ax.get_ylabel() == "relative error reduction (%)"
    raw = plot_error_reduction(df, ax=new_ax(), percent=False)
    np.testing.assert_allclose(raw.get_lines()[0].get_ydata(), [0.0, 0.0425])
    assert df["rel_error_reduction"].tolist() == [0.0, 0.0425]  # input untouched
    band = df.assign(lo=[-0.01, 0.03], hi=[0.01, 0.05])
    ax = plot_error_reduction(band, ax=new_ax(), lower="lo", upper="hi")
    ys = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(-1.0) and ys.max() == pytest.approx(5.0)


def test_plot_strategies_one_line_per_strategy():
    df = pd.DataFrame({"budget": [1, 2, 1, 2], "expected": [0.7, 0.75, 0.71, 0.78],
                       "strategy": ["paper", "paper", "halving", "halving"]})
    ax = plot_strategies(df, ax=new_ax())
    assert [ln.get_label() for ln in ax.get_lines()] == ["paper", "halving"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [0.71, 0.78])


# --- components ----------------------------------------------------------------------------


def test_plot_components_bars_and_intervals():
    df = pd.DataFrame({"task": ["rte", "rte", "sst", "sst"],
                       "component": ["wi", "do", "wi", "do"],
                       "share": [0.3, 0.1, 0.05, 0.2],
                       "lo": [0.2, 0.0, 0.01, 0.1], "hi": [0.5, 0.3, 0.1, 0.4]})
    ax = plot_components(df, ax=new_ax(), lower="lo", upper="hi",
                         group_labels={"rte": "RTE", "sst": "SST"})
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [c.get_label() for c in bars] == ["wi", "do"]
    np.testing.assert_allclose([b.get_height() for b in bars[0].patches], [0.3, 0.05])
    np.testing.assert_allclose([b.get_height() for b in bars[1].patches], [0.1, 0.2])
    # error bar of rte/wi spans 0.2..0.5
    err = [c for c in ax.containers if not isinstance(c, BarContainer)][0]
    segs = err.lines[2][0].get_segments()
    np.testing.assert_allclose([segs[0][0][1], segs[0][1][1]], [0.2, 0.5])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["RTE", "SST"]


# --- style and global state ----------------------------------------------------------------


def test_style_is_a_context_and_leaves_rcparams_alone():
    before = dict(matplotlib.rcParams)
    with style():
        assert matplotlib.rcParams["font.size"] == RC["font.size"]
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert dict(matplotlib.rcParams) == before


def test_importing_the_plots_changes_nothing_global():
    import importlib
    import subprocess
    import sys

    code = ("import matplotlib; before = dict(matplotlib.rcParams);"
            "import seedstats.plots.curves, seedstats.plots.heatmap, seedstats.plots.density,"
            " seedstats.plots.earlystop, seedstats.plots.components, seedstats.plots.style,"
            " seedstats.figures.registry, sys;"
            "assert dict(matplotlib.rcParams) == before;"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert importlib.import_module("seedstats.plots").__all__


def test_ax_none_draws_on_the_current_pyplot_axes():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert plot_expected_max(expected_frame()) is ax
    finally:
        plt.close(fig)


def test_labels():
    assert task_title("cola") == "CoLA" and task_title("mine") == "mine"
    assert metric_label("mcc") == "MCC" and metric_label(None) == "score"

"""Pure statistics of seed sweeps (Dodge et al. 2020, Sections 3 and 4, and beyond).

Every function takes tables or plain arrays and returns numbers or DataFrames; randomness
enters only through an ``rng`` argument (a seed or a :class:`numpy.random.Generator`).

- :mod:`~seedstats.stats.expected_max`: expected validation performance (Section 3.1);
- :mod:`~seedstats.stats.scenarios`: Figure 1's evaluation scenarios;
- :mod:`~seedstats.stats.seeds`: per-seed SDs, variance components, best-vs-worst tests
  (Section 4);
- :mod:`~seedstats.stats.globalseeds`: globally good weight initializations (Section 4.3);
- :mod:`~seedstats.stats.checkpoints`: correlations of early and final scores (Section 5);
- :mod:`~seedstats.stats.divergence`: failed runs and their early detection (Section 4.2);
- :mod:`~seedstats.stats.paper`: Tables 1-4 and the paper's printed numbers;
- :mod:`~seedstats.stats.tables`: every table of ``seedstats tables``, computed;
- :mod:`~seedstats.stats.significance`: two systems' seed scores compared (t, bootstrap,
  Hedges' g, probability of a better run, Almost Stochastic Order);
- :mod:`~seedstats.stats.compare`: ``seedstats compare`` over every task and pair of systems;
- :mod:`~seedstats.stats.plan`: ``seedstats plan``: seeds needed, precision, WI x DO designs.
"""

from seedstats.stats._common import nan_means
from seedstats.stats.checkpoints import CORRELATION_METHODS, best_so_far, checkpoint_correlations
from seedstats.stats.divergence import early_detection, failure_rates, failure_threshold
from seedstats.stats.compare import compare
from seedstats.stats.expected_max import expected_best, expected_max, expected_max_curve
from seedstats.stats.globalseeds import global_seeds, wi_ranks
from seedstats.stats.paper import table1, table2, table3, table4
from seedstats.stats.plan import design, plan, precision
from seedstats.stats.scenarios import (
                                       SCENARIOS,
                                       expected_max_scenarios,
                                       scenario_evaluations,
                                       scenario_scores,
)
from seedstats.stats.seeds import (
                                       FACTORS,
                                       best_worst_anova,
                                       per_seed_sd,
                                       seed_permutation_test,
                                       seed_sd_summary,
                                       variance_components,
)
from seedstats.stats.significance import (
                                       aso,
                                       bootstrap_difference,
                                       hedges_g,
                                       mean_difference,
                                       prob_better,
                                       violation_ratio,
)
from seedstats.stats.tables import TABLES, compute_tables, seed_effects

__all__ = [
    "expected_max", "expected_max_curve", "expected_best",
    "SCENARIOS", "scenario_evaluations", "scenario_scores", "expected_max_scenarios",
    "FACTORS", "per_seed_sd", "seed_sd_summary", "variance_components", "best_worst_anova",
    "seed_permutation_test",
    "wi_ranks", "global_seeds",
    "CORRELATION_METHODS", "best_so_far", "checkpoint_correlations",
    "failure_threshold", "failure_rates", "early_detection",
    "table1", "table2", "table3", "table4",
    "TABLES", "compute_tables", "seed_effects",
    "nan_means",
    "compare", "plan", "precision", "design",
    "mean_difference", "bootstrap_difference", "hedges_g", "prob_better", "violation_ratio",
    "aso",
]

"""The early-stopping simulator of Dodge et al. (2020), Section 5, and what we add to it.

Start ``t`` trials, evaluate them after ``k`` of ``K`` evaluation points, train only the ``p``
most promising to the end: which ``(t, p, k)`` gives the best expected validation score for a
budget of ``x`` full runs (Figure 6), and how much better than fully training ``x`` trials it is
(Figure 7).

Modules
-------
curves
    The input: one curve per trial on the K-point grid (:func:`as_curves`).
grid
    Feasible assignments per budget (:func:`feasible_assignments`; 4,408 per task).
exact
    The expected best score without sampling (:func:`expected_best_exact`).
montecarlo
    The paper's Monte Carlo estimate, vectorized and seeded (:func:`expected_best_mc`).
search
    Best assignment per budget with its baseline and confidence (:func:`budget_search`).
halving
    Multi-rung successive halving and Hyperband over the same curves.
sampling
    With/without replacement and seed-aware sampling of the trial pool.
cache
    Content-addressed cache of search results (used by ``seedstats figures``).

Examples
--------
>>> import numpy as np
>>> from seedstats.earlystop import budget_search
>>> curves = np.maximum.accumulate(np.random.default_rng(1).random((30, 30)), axis=1)
>>> assignments, best = budget_search(curves, exact=True, max_budget=2, cache=False)
>>> best[["budget", "t", "p", "k"]].shape
(2, 4)
"""

from seedstats.earlystop.curves import CurveSet, as_curves
from seedstats.earlystop.exact import expected_best_all_p, expected_best_exact
from seedstats.earlystop.grid import feasible_assignments
from seedstats.earlystop.halving import halving_search, hyperband, successive_halving
from seedstats.earlystop.montecarlo import (
                                            expected_best_mc,
                                            expected_best_mc_tasks,
                                            paired_difference,
                                            simulate,
)
from seedstats.earlystop.search import (
                                            best_per_budget,
                                            budget_search,
                                            budget_search_tasks,
)

__all__ = [
    "CurveSet",
    "as_curves",
    "best_per_budget",
    "budget_search",
    "budget_search_tasks",
    "expected_best_all_p",
    "expected_best_exact",
    "expected_best_mc",
    "expected_best_mc_tasks",
    "feasible_assignments",
    "halving_search",
    "hyperband",
    "paired_difference",
    "simulate",
    "successive_halving",
]

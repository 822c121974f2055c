"""Feasible early-stopping assignments per budget (Dodge et al. 2020, Section 5, Figure 6).

An assignment ``(t, p, k)`` starts ``t`` trials, evaluates them ``k`` times (``k`` of the ``K``
points of the grid, ``f = k / K`` of training in the paper's accounting), continues only the ``p``
most promising to the end of training and stops the other ``t - p``.

Paper accounting (``accounting="paper"``, the default preset)
    The cost of ``(t, p, k)`` is ``((t - p) * k + p * K) / K`` full runs (``t*f + p*(1-f)``), and
    an assignment belongs to budget ``x`` exactly when ``(t - p) * k + p * K == K * x``, with
    ``1 <= k < K``, ``0 <= p < t <= t_max``. The baseline of budget ``x`` (fully train ``x``
    trials, no early stopping) is the single assignment ``t = p = x, k = K`` (``f = 1``); the
    degenerate assignments that do the same thing (``p = t`` with any ``k``, or ``k = K`` with any
    ``p``) are folded into it. At ``K = 30``, ``t_max = 200`` and budgets 1..30 that is 4,408
    assignments per task, as in the paper.

Step accounting (``accounting="steps"``)
    The paper charges ``k / K`` of a run for the ``k``-th evaluation, but that evaluation ran
    after ``step_k + 1`` of ``n_steps`` updates: on its 30-point grids the ``k``-th point sits at
    about ``(k - 1) / 30`` of training (the first one at step 0), so the paper over-charges every
    stopped trial by about one 30th of a run. With ``fractions = (step_k + 1) / n_steps`` (see
    :meth:`~seedstats.earlystop.curves.CurveSet.step_fractions`) costs are no longer on an integer
    grid, so budget ``x`` holds, for every ``(t, k)``, the assignment with the largest ``p < t``
    whose cost ``t * phi_k + p * (1 - phi_k)`` is at most ``x`` (more continued trials never lower
    the expected best), plus the baseline ``t = p = x``. Budgets then nest (``x`` may spend less
    than ``x``); the ``cost`` column says what each assignment spends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["feasible_assignments", "ACCOUNTINGS", "ASSIGNMENT_COLUMNS"]

#: Ways to charge a stopped trial (see the module docstring).
ACCOUNTINGS = ("paper", "steps")

#: Columns of :func:`feasible_assignments`.
ASSIGNMENT_COLUMNS = ("budget", "t", "p", "k", "f", "cost", "is_baseline")


def _posint(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def feasible_assignments(max_budget: int = 30, *, n_points: int = 30, t_max: int = 200,
                         accounting: str = "paper", fractions=None):
    """All early-stopping assignments of budgets ``1 .. max_budget`` (Section 5, Figure 6).

    Parameters
    ----------
    max_budget : int
        Largest budget ``x`` in full training runs (30 in the paper).
    n_points : int
        ``K``, evaluation points per run (30 in the paper).
    t_max : int
        Largest number of trials started (200 in the paper).
    accounting : {"paper", "steps"}
        How a stopped trial is charged; see the module docstring.
    fractions : array-like of float, shape (K,), optional
        With ``accounting="steps"``: fraction of training done at each evaluation point, e.g.
        ``CurveSet.step_fractions()``; ignored otherwise.

    Returns
    -------
    DataFrame
        One row per assignment, sorted by ``budget, k, t``:

        - ``budget`` (int): ``x``, the budget in full runs;
        - ``t`` (int): trials started;
        - ``p`` (int): trials trained fully (0 allowed: then no trial is continued);
        - ``k`` (int): evaluations before the stop decision (``K`` for the baseline);
        - ``f`` (float): ``k / K``, the fraction of training before the decision as the paper
          states it (1 for the baseline);
        - ``cost`` (float): full runs spent (``x`` exactly under the paper accounting);
        - ``is_baseline`` (bool): the ``t = p = x`` assignment (no early stopping).

    Examples
    --------
    >>> a = feasible_assignments()
    >>> len(a)
    4408
    >>> a[(a.budget == 20) & (a.t == 41) & (a.p == 11)][["k", "f"]].to_numpy().tolist()
    [[9.0, 0.3]]
    """
    max_budget = _posint("max_budget", max_budget)
    K = _posint("n_points", n_points, 2)
    t_max = _posint("t_max", t_max)
    if accounting not in ACCOUNTINGS:
        raise ValueError(f"accounting: expected one of {', '.join(ACCOUNTINGS)}, "
                         f"got {accounting!r}")
    rows = []
    t = np.arange(1, t_max + 1, dtype=np.int64)
    if accounting == "paper":
        for x in range(1, max_budget + 1):
            for k in range(1, K):
                num = K * x - t * k
                ok = (num >= 0) & (num % (K - k) == 0)
                p = num // (K - k)
                ok &= (p < t)
                for ti, pi in zip(t[ok], p[ok]):
                    rows.append((x, int(ti), int(pi), k, float(x)))
    else:
        if fractions is None:
            raise ValueError("fractions: accounting='steps' needs the fraction of training done "
                             "at each evaluation point (CurveSet.step_fractions()); got None")
        phi = np.asarray(fractions, dtype=np.float64)
        if phi.shape != (K,) or not np.all(np.isfinite(phi)) or np.any(phi <= 0) \
                or np.any(phi > 1) or np.any(np.diff(phi) <= 0):
            raise ValueError(f"fractions: expected {K} increasing fractions in (0, 1], got "
                             f"{np.array2string(phi, threshold=8)}")
        for x in range(1, max_budget + 1):
            for k in range(1, K):
                f = phi[k - 1]
                if f >= 1.0:
                    continue
                # largest p with t*f + p*(1-f) <= x (tiny slack against rounding)
                p = np.floor((x - t * f) / (1.0 - f) + 1e-9).astype(np.int64)
                p = np.minimum(p, t - 1)
                ok = p >= 0
                for ti, pi in zip(t[ok], p[ok]):
                    rows.append((x, int(ti), int(pi), k, float(ti * f + pi * (1.0 - f))))
    for x in range(1, min(max_budget, t_max) + 1):
        rows.append((x, x, x, K, float(x)))
    df = pd.DataFrame(rows, columns=["budget", "t", "p", "k", "cost"])
    for c in ("budget", "t", "p", "k"):
        df[c] = df[c].astype(np.int64)
    df["f"] = df["k"] / K
    df["is_baseline"] = df["k"] == K
    df = df.sort_values(["budget", "k", "t"], kind="stable").reset_index(drop=True)
    return df[list(ASSIGNMENT_COLUMNS)]

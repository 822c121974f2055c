"""Globally good weight initializations: Section 4.3 of Dodge et al. (2020).

"WI seed 12 has the best performance on CoLA and RTE, the second best on MRPC, and third best on
SST. This suggests that, perhaps surprisingly, some weight initializations perform well across
tasks." Every task shares the classifier architecture, so a WI seed means the same initial head
weights on every task. Here: the rank of every WI seed on every task (by its mean final score
over DO seeds), the mean rank across tasks, and a permutation test of "some WI seed is
consistently good" that accounts for having looked at every seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedstats.data.dataset import score_column, score_grid
from seedstats.errors import DataError
from seedstats.stats._common import BLOCK_ELEMENTS, as_generator, check_int, nan_means, task_order

__all__ = ["wi_ranks", "global_seeds"]


def _wi_means(trials, task, score):
    """Mean score of each WI seed of a task (NaN scores excluded) and counts."""
    g = score_grid(trials, task, score_column(score))
    Y = g.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = ~np.isnan(Y)
    n = ok.sum(axis=1)
    return g.index.to_numpy(), nan_means(Y, axis=1), n, (~ok).sum(axis=1)


def wi_ranks(trials, tasks=None, *, score="paper"):
    """Rank of every WI seed on every task by its mean score (Section 4.3).

    Parameters
    ----------
    trials : DataFrame
        The ``trials`` table (a WI x DO grid per task, :func:`~seedstats.data.dataset.score_grid`).
    tasks : str or sequence of str, optional
        Default: every task present, paper order first.
    score : {"paper", "final"}, default "paper"
        The paper's score (best on the regular evaluation grid; :data:`seedstats.data.SCORES`)
        or the final score (``after``).

    Returns
    -------
    DataFrame
        One row per task and WI seed; columns:

        - ``task`` (str), ``wi_seed`` (int).
        - ``mean`` (float): mean score over the seed's DO seeds (NaN scores excluded).
        - ``rank`` (float): 1 = best among the task's WI seeds (ties share the mean rank; a
          seed without any score gets NaN).
        - ``n_seeds`` (int): WI seeds ranked on the task.
        - ``n`` (int): scores averaged; ``n_missing`` (int): NaN scores excluded.

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> recs = [TrialRecord("rte", wi, do, None, {"acc": Curve(0.5, np.array([0]),
    ...         np.array([s]), s)}, np.zeros(10))
    ...         for wi, do, s in [(1, 1, .6), (1, 2, .7), (2, 1, .8), (2, 2, .7)]]
    >>> wi_ranks(build_tables(recs)[0])[["wi_seed", "mean", "rank"]].round(3).values.tolist()
    [[1.0, 0.65, 2.0], [2.0, 0.75, 1.0]]
    """
    from scipy import stats

    parts = []
    for task in task_order(trials, tasks):
        seeds, mean, n, miss = _wi_means(trials, task, score)
        ok = ~np.isnan(mean)
        rank = np.full(mean.size, np.nan)
        rank[ok] = stats.rankdata(-mean[ok])
        parts.append(pd.DataFrame({"task": task, "wi_seed": seeds.astype(int), "mean": mean,
                                   "rank": rank, "n_seeds": int(ok.sum()), "n": n.astype(int),
                                   "n_missing": miss.astype(int)}))
    return pd.concat(parts, ignore_index=True)


def global_seeds(trials, tasks=None, *, n_perm=10_000, rng=None, score="paper"):
    """Is some WI seed consistently good across tasks? Mean ranks and a permutation test.

    Section 4.3 of Dodge et al. (2020). Only WI seeds run on every task are compared (on the
    paper's data, seeds 1..15, the SST grid). On each task these seeds are ranked by their mean
    score (1 = best; ties share the mean rank) and the ranks are averaged across tasks.

    The test: under the null hypothesis that a WI seed's quality on one task says nothing about
    another task, the WI labels are exchangeable *independently per task*. Each permutation
    shuffles the rank vector of every task independently and records the best (smallest) mean
    rank of any seed. ``p_adjusted`` of a seed is the fraction of permutations whose best mean
    rank is at least as good as that seed's: a single-step max-statistic (Westfall-Young)
    adjustment, valid for every seed at once; the top seed's ``p_adjusted`` is the p-value of
    "some WI seed is consistently good". ``(1 + count) / (1 + n_perm)`` throughout.

    Parameters
    ----------
    trials : DataFrame
        The ``trials`` table with a WI x DO grid for every task used.
    tasks : str or sequence of str, optional
        At least two tasks; default: every task present.
    n_perm : int, default 10000
    rng : None, int or numpy.random.Generator
        Source of the permutations (an int seed or a Generator gives identical output for the
        same seed; the global NumPy state is never used).
    score : {"paper", "final"}, default "paper"
        The paper's score (best on the regular evaluation grid; :data:`seedstats.data.SCORES`)
        or the final score (``after``).

    Returns
    -------
    DataFrame
        One row per common WI seed, best mean rank first; columns:

        - ``wi_seed`` (int).
        - ``rank_<task>`` (float), one per task: rank among the common seeds on that task.
        - ``mean_rank`` (float), ``best_rank``, ``worst_rank`` (float): across tasks.
        - ``p_adjusted`` (float): see above.
        - ``n_tasks``, ``n_seeds`` (int): tasks and common seeds compared; ``n_perm`` (int).

    Raises
    ------
    DataError
        Fewer than two tasks, fewer than two WI seeds common to every task, or a task without a
        WI x DO grid.

    Examples
    --------
    >>> import numpy as np
    >>> from seedstats.data.records import Curve, TrialRecord, build_tables
    >>> recs = [TrialRecord(t, wi, 1, None, {"acc": Curve(0.5, np.array([0]),
    ...         np.array([s]), s)}, np.zeros(10))
    ...         for t in ("rte", "sst") for wi, s in [(1, .6), (2, .8), (3, .7)]]
    >>> out = global_seeds(build_tables(recs)[0], n_perm=999, rng=0)
    >>> out[["wi_seed", "rank_rte", "rank_sst", "mean_rank"]].values.tolist()
    [[2.0, 1.0, 1.0, 1.0], [3.0, 2.0, 2.0, 2.0], [1.0, 3.0, 3.0, 3.0]]
    """
    from scipy import stats


    n_perm = check_int("n_perm", n_perm, 1)
    gen = as_generator(rng)
    tasks = task_order(trials, tasks)
    if len(tasks) < 2:
        raise DataError(f"tasks: the cross-task test needs at least two tasks with a WI x DO "
                        f"grid; got {tasks}")
    means = {}
    for task in tasks:
        seeds, mean, _, _ = _wi_means(trials, task, score)
        means[task] = dict(zip(seeds.astype(int).tolist(), mean))
    common = sorted(set.intersection(*(
        {s for s, m in d.items() if not np.isnan(m)} for d in means.values())))
    if len(common) < 2:
        raise DataError(f"tasks {tasks}: fewer than two WI seeds have scores on every task "
                        f"({common}); nothing to compare")
    R = np.array([stats.rankdata([-means[t][s] for s in common]) for t in tasks])  # (T, K)
    T, K = R.shape
    mean_rank = R.mean(axis=0)
    tol = 1e-9
    # permutation distribution of the best (smallest) mean rank
    mins = np.empty(n_perm)
    block = max(1, BLOCK_ELEMENTS // (T * K))
    done = 0
    while done < n_perm:
        b = min(block, n_perm - done)
        P = gen.permuted(np.broadcast_to(R, (b, T, K)), axis=2)
        mins[done:done + b] = P.mean(axis=1).min(axis=1)
        done += b
    mins.sort()
    count = np.searchsorted(mins, mean_rank + tol, side="right")
    out = pd.DataFrame({"wi_seed": common})
    for t, row in zip(tasks, R):
        out[f"rank_{t}"] = row
    out["mean_rank"] = mean_rank
    out["best_rank"] = R.min(axis=0)
    out["worst_rank"] = R.max(axis=0)
    out["p_adjusted"] = (1 + count) / (1 + n_perm)
    out["n_tasks"], out["n_seeds"], out["n_perm"] = T, K, n_perm
    return out.sort_values(["mean_rank", "wi_seed"], kind="stable").reset_index(drop=True)

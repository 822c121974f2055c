"""seedstats.stats.globalseeds: Section 4.3, checked against pandas and exhaustive enumeration."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.errors import DataError
from seedstats.stats.globalseeds import global_seeds, wi_ranks


def make_trials(grids):
    """trials table from {task: (n_wi, n_do) array of scores}: each trial's one evaluation
    and its final score; NaN -> incomplete."""
    recs = []
    for task, Y in grids.items():
        for i, j in itertools.product(range(Y.shape[0]), range(Y.shape[1])):
            a = Y[i, j]
            final = None if np.isnan(a) else float(a)
            recs.append(TrialRecord(task, i + 1, j + 1, None,
                                    {"acc": Curve(0.5, np.array([0]), np.array([a]), final)},
                                    np.zeros(5), complete=final is not None, metric="acc",
                                    baseline=0.5))
    return build_tables(recs)[0]


def fast_trials(grids):
    """Just the columns the grid analyses read (built without build_tables, for speed)."""
    rows = [(t, i + 1, j + 1, Y[i, j]) for t, Y in grids.items()
            for i, j in itertools.product(range(Y.shape[0]), range(Y.shape[1]))]
    df = pd.DataFrame(rows, columns=["task", "wi_seed", "do_seed", "after"])
    df["score"] = df["after"]
    df["diverged"] = False
    return df


def test_wi_ranks_match_pandas():
    rng = np.random.default_rng(0)
    Y = np.round(rng.uniform(0.5, 0.9, (6, 4)), 2)
    Y[1] = Y[4]  # a tie between WI 2 and WI 5
    Y[3, 2] = np.nan
    out = wi_ranks(make_trials({"rte": Y}))
    long = pd.DataFrame(Y, index=range(1, 7)).stack().rename("s").reset_index()
    means = long.groupby("level_0")["s"].mean()
    np.testing.assert_allclose(out["mean"], means.to_numpy(), rtol=1e-14)
    np.testing.assert_allclose(out["rank"], means.rank(ascending=False).to_numpy())
    assert out.loc[1, "rank"] == out.loc[4, "rank"]  # ties share the mean rank
    assert out["n_missing"].tolist() == [0, 0, 0, 1, 0, 0] and set(out["n_seeds"]) == {6}


def exact_p(R):
    """P(best mean rank <= observed best) over all independent per-task permutations."""
    T, K = R.shape
    obs = R.mean(axis=0).min()
    perms = list(itertools.permutations(range(K)))
    hits = total = 0
    for combo in itertools.product(perms, repeat=T - 1):  # task 0 fixed: relabelling symmetry
        P = np.vstack([R[0]] + [R[t + 1][list(p)] for t, p in enumerate(combo)])
        hits += P.mean(axis=0).min() <= obs + 1e-9
        total += 1
    return hits / total


def test_global_p_value_matches_exhaustive_enumeration():
    # 3 tasks x 4 WI seeds: 24^2 = 576 arrangements once the first task is fixed
    grids = {"rte": np.array([[0.9], [0.7], [0.6], [0.8]]),
             "mrpc": np.array([[0.8], [0.9], [0.7], [0.6]]),
             "cola": np.array([[0.7], [0.6], [0.9], [0.8]])}
    grids = {t: np.hstack([g, g + 0.01]) for t, g in grids.items()}
    trials = make_trials(grids)
    n = 40_000
    out = global_seeds(trials, ["rte", "mrpc", "cola"], n_perm=n, rng=3)
    R = np.array([stats.rankdata(-g.mean(axis=1)) for g in grids.values()])
    assert out["wi_seed"].iloc[0] == 1 and out["mean_rank"].iloc[0] == pytest.approx(2.0)
    np.testing.assert_allclose(out.set_index("wi_seed").loc[[1, 2, 3, 4], ["rank_rte",
                               "rank_mrpc", "rank_cola"]].to_numpy(), R.T)
    p = exact_p(R)
    assert 0.05 < p < 0.95
    assert abs(out["p_adjusted"].iloc[0] - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1 / n
    # adjusted p-values grow with the mean rank
    assert out["p_adjusted"].is_monotonic_increasing


def test_size_under_independent_tasks_and_power_under_a_shared_good_seed():
    rng = np.random.default_rng(7)
    # independent tasks: P(p <= 0.05) = 10/200 by exactness; ~ Binomial(200, .05): 2..21
    rej = 0
    for rep in range(200):
        R = np.array([rng.permutation(6) + 1.0 for _ in range(3)])
        trials = fast_trials({t: np.column_stack([-R[k], -R[k]]) for k, t in
                              enumerate(["rte", "mrpc", "cola"])})
        rej += global_seeds(trials, n_perm=199, rng=rep)["p_adjusted"].iloc[0] <= 0.05
    assert 2 <= rej <= 21
    # WI 3 best on every one of 4 tasks out of 8 seeds: p about (1/8)^3 -> clearly small
    grids = {}
    for t in ("rte", "mrpc", "cola", "sst"):
        Y = rng.normal(0.7, 0.01, (8, 3))
        Y[2] += 0.1
        grids[t] = Y
    out = global_seeds(make_trials(grids), n_perm=999, rng=0)
    assert out["wi_seed"].iloc[0] == 3 and out["mean_rank"].iloc[0] == 1.0
    assert out["p_adjusted"].iloc[0] <= 0.01


def test_only_seeds_common_to_every_task_are_compared():
    rng = np.random.default_rng(8)
    trials = make_trials({"rte": rng.uniform(size=(5, 3)), "sst": rng.uniform(size=(3, 3))})
    out = global_seeds(trials, n_perm=99, rng=0)
    assert sorted(out["wi_seed"]) == [1, 2, 3] and set(out["n_seeds"]) == {3}
    assert sorted(out["rank_rte"]) == [1, 2, 3]  # re-ranked among the common seeds
    full = wi_ranks(trials)
    assert full[full.task == "rte"]["n_seeds"].iloc[0] == 5


def test_seeded_and_independent_of_the_global_numpy_state():
    rng = np.random.default_rng(9)
    trials = make_trials({t: rng.uniform(size=(6, 2)) for t in ("rte", "mrpc")})
    np.random.seed(0)
    a = global_seeds(trials, n_perm=500, rng=11)
    np.random.seed(1)
    b = global_seeds(trials, n_perm=500, rng=np.random.default_rng(11))
    pd.testing.assert_frame_equal(a, b)


def test_user_mistakes_raise_clear_errors():
    trials = make_trials({"rte": np.ones((3, 2))})
    with pytest.raises(DataError, match="needs at least two tasks"):
        global_seeds(trials)
    with pytest.raises(DataError, match=r"tasks: \['sst'\] not in the data"):
        wi_ranks(trials, ["sst"])
    with pytest.raises(ValueError, match="n_perm"):
        global_seeds(make_trials({"rte": np.ones((3, 2)), "sst": np.ones((3, 2))}), n_perm=0)

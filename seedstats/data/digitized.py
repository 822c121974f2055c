"""The embedded ``dodge2020`` dataset: the 2,100 real per-trial paper scores of Dodge et al.
(2020), read back from the authors' Figure 2.

The released pickle cannot be downloaded everywhere, but the authors' notebook that draws
Figure 2 was committed with its output image (provenance in ``files/dodge2020.json``).
Reading the image back cell by cell gives every trial's paper score (the best validation score
on the regular evaluation grid, Section 4): exactly for RTE and SST, whose scores lie on the
k/277 and k/872 grids, to about 0.0003 (MRPC) and 0.0013 (CoLA) otherwise. The image does not
carry the seed ids, only the rows' and columns' rank by mean, so here ``wi_seed`` and
``do_seed`` are rank positions (1 = the best WI, 1 = the worst DO). There are no curves, no
final scores and no losses: the analyses that need only per-trial scores run on it (Tables 3
and 4, Figures 2, 3 and 8, variance components, permutation tests, expected maximum); the
others say in one line why they cannot. Beside it, :func:`earlystop_reference` holds the
authors' printed early-stopping search (Section 5, Figure 6), the reference the replica's
early-stopping curves are checked against.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd

from seedstats.data import schema
from seedstats.data.dataset import Dataset
from seedstats.data.records import coerce

__all__ = ["NAME", "load_dodge2020", "earlystop_reference"]

#: The name that loads it (``seedstats.load("dodge2020")``, ``--data dodge2020``).
NAME = "dodge2020"


def _file(name: str):
    return resources.files("seedstats.data").joinpath("files", name)


def load_dodge2020() -> Dataset:
    """The 2,100 real per-trial paper scores of Dodge et al. (2020), digitized (module doc).

    Returns
    -------
    Dataset
        ``trials`` with one row per (task, WI rank, DO rank): ``score`` and ``best`` the paper
        score, ``before``/``after`` NaN, ``diverged`` NA, ``n_evals`` 0; ``evals`` and
        ``train_loss`` empty; ``meta`` with ``synthetic: False``, ``digitized: True``,
        ``seed_ids: "ranks"`` and the provenance.

    Examples
    --------
    >>> ds = load_dodge2020()
    >>> ds.trials.groupby("task", observed=True, sort=False).size().to_dict()
    {'mrpc': 625, 'rte': 625, 'cola': 625, 'sst': 225}
    """
    with _file("dodge2020_fig2.csv").open("r", encoding="utf-8") as fh:
        raw = pd.read_csv(fh)
    meta = json.loads(_file("dodge2020.json").read_text(encoding="utf-8"))
    raw = raw.sort_values(["task", "wi_rank", "do_rank"], key=lambda c: (
        c.map({t: i for i, t in enumerate(schema.TASKS)}) if c.name == "task" else c),
        kind="stable")
    tasks = raw["task"].astype(str).to_numpy()
    wi = raw["wi_rank"].to_numpy(dtype=np.int64) + 1
    do = raw["do_rank"].to_numpy(dtype=np.int64) + 1
    score = raw["score"].to_numpy(dtype=np.float64)
    # The exact tasks' scores are accuracies k / n_val, written with 6 decimals: give back the
    # very floats an accuracy computes, so they compare equal to any other k / n_val.
    n_val = np.array([schema.TASKS[t].n_val for t in tasks], dtype=np.float64)
    exact = raw["exact"].to_numpy(dtype=bool)
    score = np.where(exact, np.rint(score * n_val) / n_val, score)
    n = len(raw)
    trials = pd.DataFrame({
        "task": tasks, "system": schema.DEFAULT_SYSTEM, "wi_seed": wi, "do_seed": do, "seed": pd.array([pd.NA] * n, "Int32"),
        "trial_id": [schema.trial_id(t, w, d) for t, w, d in zip(tasks, wi, do)],
        "metric": [schema.TASKS[t].metric for t in tasks],
        "before": np.nan, "after": np.nan, "best": score, "score": score, "n_evals": 0,
        "n_steps": [schema.TASKS[t].n_steps for t in tasks], "complete": True,
        "diverged": pd.array([pd.NA] * n, "boolean"), "flags": "",
        "source": f"{NAME} (digitized Figure 2)",
    }, columns=list(schema.TRIALS_COLUMNS))
    empty = {c: [] for c in schema.EVALS_COLUMNS}
    evals = coerce(pd.DataFrame(empty), schema.EVALS_COLUMNS)
    train_loss = coerce(pd.DataFrame({c: [] for c in schema.TRAIN_LOSS_COLUMNS}),
                        schema.TRAIN_LOSS_COLUMNS)
    return Dataset(coerce(trials, schema.TRIALS_COLUMNS).reset_index(drop=True), evals,
                   train_loss, meta)


def earlystop_reference() -> pd.DataFrame:
    """The authors' printed early-stopping search of Dodge et al. (2020), Section 5.

    Read from the notebook that made Figure 6 (provenance in ``files/dodge2020.json``): per task
    and budget 1-30 of full runs, the best assignment found with 50,000 samples with replacement
    on 30 evaluation points per trial.

    Returns
    -------
    DataFrame
        ``task``, ``budget``, ``t`` (trials started), ``p`` (fully trained), ``f`` (fraction of
        training before stopping, k/30), ``expected_best``, ``expected_best_full_training``
        (fully training ``budget`` trials) and ``gain``; 30 rows per task.

    Examples
    --------
    >>> ref = earlystop_reference()
    >>> ref[(ref.task == "mrpc") & (ref.budget == 20)][["t", "p", "f"]].to_numpy().tolist()
    [[41.0, 11.0, 0.3]]
    """
    with _file("dodge2020_earlystop.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)

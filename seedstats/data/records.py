"""Build the normalized tables from per-trial records.

Every loader (released pickle, raw text logs, JSON Lines, the replica, ...) turns its
input into :class:`TrialRecord` objects and calls :func:`build_tables`; nothing else
creates the tables, so every source gets the same dtypes, flags and derived columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seedstats.data import schema
from seedstats.errors import DataError

__all__ = [
    "Curve",
    "TrialRecord",
    "as_utf8",
    "build_tables",
    "coerce",
    "grid_score",
    "paper_scores",
]

_INT32 = np.iinfo(np.int32)


@dataclass
class Curve:
    """One metric's validation evaluations of one trial.

    ``before``/``after`` are ``None`` when not logged (a NaN value that *was* logged
    stays NaN). ``steps``/``values`` are the ``"during"`` evaluations in log order.
    """
    before: float | None = None
    steps: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    values: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    after: float | None = None


@dataclass
class TrialRecord:
    """Everything one trial logged, before it becomes rows of the tables.

    Parameters
    ----------
    task : str
    wi_seed, do_seed, seed : int or None
    curves : dict of str to Curve
        Metric name (validation ``loss`` included) to its evaluations.
    train_loss : ndarray of float
        Training loss per logged step.
    train_steps : ndarray of int, optional
        The step of each ``train_loss`` value; default ``0 .. len - 1``.
    complete : bool
        Whether the log reached its end (a truncated run is kept, with False).
    source : str
        Where the trial came from (file name, ``"replica"``, ...).
    n_steps : int, optional
        Optimizer steps run; default: the number of training-loss steps logged.
    after_step : int, optional
        Step of the ``after`` evaluation; default ``n_steps - 1``.
    steps_per_epoch : float, optional
        Default: the task's (Table 2) when the task is known, else epochs are NaN.
    metric, baseline : optional
        Headline metric and majority baseline; default: the task's.
    flags : list of str
        Problems a loader noticed; more are added by :func:`build_tables`.
    system : str, optional
        The recipe, model or method the trial ran (``--system``); default
        :data:`seedstats.data.schema.DEFAULT_SYSTEM`.
    set_aside : int
        Values the loader read but did not keep: repeats of a step (``--duplicates``).
    """
    task: str
    wi_seed: int | None = None
    do_seed: int | None = None
    seed: int | None = None
    curves: dict[str, Curve] = field(default_factory=dict)
    train_loss: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    train_steps: np.ndarray | None = None
    complete: bool = True
    source: str = ""
    n_steps: int | None = None
    after_step: int | None = None
    steps_per_epoch: float | None = None
    metric: str | None = None
    baseline: float | None = None
    flags: list[str] = field(default_factory=list)
    system: str | None = None
    set_aside: int = 0


def coerce(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Return ``df`` with exactly ``columns`` (in order) cast to their schema dtypes."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"table is missing columns {missing}; expected {list(columns)}")
    out = {}
    for name, dtype in columns.items():
        col = df[name]
        if dtype == "category":
            out[name] = col.astype("category") if col.dtype != "category" else col
        elif dtype == "str":
            out[name] = col.astype(object).where(col.notna(), None).astype("str")
        else:
            out[name] = col.astype(dtype)
    return pd.DataFrame(out)


def _headline(rec: TrialRecord) -> tuple[str | None, float | None, float]:
    info = schema.TASKS.get(rec.task)
    metric = rec.metric or (info.metric if info else None)
    # Table 2's baseline belongs to the task's headline metric only
    baseline = rec.baseline if rec.baseline is not None else (
        info.baseline if info and (rec.metric is None or rec.metric == info.metric) else None)
    spe = rec.steps_per_epoch or (info.steps_per_epoch if info else np.nan)
    return metric, baseline, float(spe)


def grid_score(task: str, steps, values, lower_is_better: bool = False) -> float:
    """A trial's paper score from its ``during`` evaluations of the headline metric.

    Dodge et al. (2020), Section 4 (Tables 3 and 4, Figures 2, 3 and 8), as the authors'
    notebook computes it: the best value over the evaluations on the task's regular grid
    (:attr:`seedstats.data.schema.TaskInfo.schedule`), leaving out the release's extra dense
    early evaluations. A trial of a paper task that was not evaluated at every grid step, or
    of any other task (a user's sweep), uses every ``during`` evaluation: its grid is what it
    logged. The best is the largest value, or the smallest when ``lower_is_better`` (a loss).
    NaN values are skipped; NaN when there is no number.

    Examples
    --------
    >>> grid_score("mysweep", [0, 5, 9], [0.5, 0.9, 0.7])
    0.9
    >>> rte = list(schema.TASKS["rte"].schedule)
    >>> grid_score("rte", [3] + rte, [0.99] + [0.6] * len(rte))  # step 3 is off the grid
    0.6
    >>> grid_score("mysweep", [0, 5, 9], [2.1, 0.4, 0.6], lower_is_better=True)
    0.4
    """
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    info = schema.TASKS.get(task)
    if info is not None:
        on = np.isin(steps, info.schedule)
        if np.unique(steps[on]).size == len(info.schedule):
            values = values[on]
    values = values[~np.isnan(values)]
    if not values.size:
        return np.nan
    return float(values.min() if lower_is_better else values.max())


def paper_scores(trials: pd.DataFrame, evals: pd.DataFrame, lower=frozenset()) -> np.ndarray:
    """:func:`grid_score` of every trial of the tables, in the order of ``trials``.

    For datasets written before the ``score`` column existed (schema version 1); ``lower``
    names the metrics where lower is better.
    """
    e = evals[evals["phase"] == "during"]
    key = trials[["trial_id", "task", "metric"]].astype(str)
    e = e.assign(trial_id=e["trial_id"].astype(str), metric=e["metric"].astype(str))
    e = e.merge(key, on=["trial_id", "metric"], how="inner", suffixes=("", "_t"))
    groups = {tid: g for tid, g in e.groupby("trial_id", sort=False)}
    out = np.full(len(trials), np.nan)
    for i, (tid, task, metric) in enumerate(zip(key["trial_id"], key["task"], key["metric"])):
        g = groups.get(tid)
        if g is not None:
            out[i] = grid_score(task, g["step"].to_numpy(), g["value"].to_numpy(),
                                metric in lower)
    return out


def as_utf8(s: str) -> str:
    """``s`` as valid UTF-8: a file name that is not UTF-8 reaches Python with surrogate
    escapes (PEP 383), which Parquet and Arrow refuse; those bytes become U+FFFD."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def build_tables(records: list[TrialRecord], lower_is_better=frozenset()
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Turn trial records into the ``trials``, ``evals`` and ``train_loss`` tables.

    ``lower_is_better`` names the metrics whose best value is the smallest (``best``,
    ``score`` and the failed-run verdict follow it). A trial's id is
    :func:`~seedstats.data.schema.trial_id`, prefixed with ``"<system>:"`` when the records
    hold more than one system, so that it stays unique when systems share seeds.

    Nothing is dropped: every logged value (NaN included) becomes a row. Flags added
    here: ``incomplete`` (the log stopped early), ``nan`` (a NaN among the values),
    ``no_metric`` (the headline metric was never logged), ``before_mismatch`` (the
    untrained score differs between DO seeds of one WI, which the paper's design
    rules out: the ``before`` value depends on WI only).

    Raises
    ------
    DataError
        Two records with the same trial (system, task and seeds), or a seed, step or
        ``n_steps`` outside the schema's 32-bit range.
    """
    lower = frozenset(lower_is_better)
    seen: dict[str, str] = {}
    t_rows, e_parts, l_parts = [], [], []
    systems = {_system(r) for r in records}
    for rec in records:
        system = _system(rec)
        rec.system = system
        tid = schema.trial_id(as_utf8(rec.task), rec.wi_seed, rec.do_seed, rec.seed)
        if len(systems) > 1:
            tid = f"{system}:{tid}"
        if tid in seen:
            raise DataError(
                f"duplicate trial {tid} (system {system}, task {rec.task}, WI {rec.wi_seed}, "
                f"DO {rec.do_seed}, seed {rec.seed}) in {seen[tid]} and {rec.source}"
            )
        seen[tid] = rec.source
        for attr in ("wi_seed", "do_seed", "seed"):
            v = getattr(rec, attr)
            if v is not None and not _INT32.min <= v <= _INT32.max:
                raise DataError(f"trial {tid} ({rec.source}): {attr} {v} is out of the "
                                "32-bit range of the schema")
        metric, baseline, spe = _headline(rec)
        flags = list(rec.flags)
        loss = np.asarray(rec.train_loss, dtype=np.float64)
        lsteps = (np.arange(len(loss), dtype=np.int64) if rec.train_steps is None
                  else np.asarray(rec.train_steps, dtype=np.int64))
        n_steps = rec.n_steps if rec.n_steps is not None else (
            int(lsteps[-1]) + 1 if len(lsteps) else 0)
        if n_steps > _INT32.max:
            raise DataError(f"trial {tid} ({rec.source}): n_steps {n_steps} is out of the "
                            "32-bit range of the schema")
        after_step = rec.after_step if rec.after_step is not None else n_steps - 1
        has_nan = bool(np.isnan(loss).any())

        for name, cur in rec.curves.items():
            steps = np.asarray(cur.steps, dtype=np.int64)
            vals = np.asarray(cur.values, dtype=np.float64)
            ph, st, va = [], [steps], [vals]
            if cur.before is not None:
                ph.append(("before", 1))
                st.insert(0, np.array([-1]))
                va.insert(0, np.array([cur.before], dtype=np.float64))
            ph.append(("during", len(steps)))
            if cur.after is not None:
                ph.append(("after", 1))
                st.append(np.array([after_step]))
                va.append(np.array([cur.after], dtype=np.float64))
            st_all, va_all = np.concatenate(st), np.concatenate(va)
            has_nan |= bool(np.isnan(va_all).any())
            phases = np.repeat([p for p, _ in ph], [k for _, k in ph])
            e_parts.append((tid, rec, st_all, va_all, (name, phases, spe)))

        head = rec.curves.get(metric) if metric else None
        if head is None:
            flags.append("no_metric")
            before = after = best = score = np.nan
            n_evals = 0
        else:
            before = np.nan if head.before is None else float(head.before)
            after = np.nan if head.after is None else float(head.after)
            vals = np.asarray(head.values, dtype=np.float64)
            low = metric in lower
            best = grid_score("", head.steps, vals, low)  # every evaluation
            score = grid_score(rec.task, head.steps, vals, low)
            n_evals = len(vals)
        if not rec.complete:
            flags.append("incomplete")
        if has_nan:
            flags.append("nan")
        if baseline is None or np.isnan(after) or metric is None:
            diverged = pd.NA
        else:
            diverged = schema.is_failed(after, baseline, metric, metric in lower)
        t_rows.append({
            "task": as_utf8(rec.task), "system": system, "wi_seed": rec.wi_seed, "do_seed": rec.do_seed, "seed": rec.seed,
            "trial_id": tid, "metric": metric, "before": before, "after": after, "best": best,
            "score": score, "n_evals": n_evals, "n_steps": n_steps, "complete": bool(rec.complete),
            "diverged": diverged, "flags": flags, "source": as_utf8(rec.source),
        })
        l_parts.append((tid, rec, lsteps, loss, None))

    trials = pd.DataFrame(t_rows, columns=list(schema.TRIALS_COLUMNS))
    if len(trials):
        _flag_before_mismatch(trials)
    trials["flags"] = trials["flags"].map(lambda f: ",".join(dict.fromkeys(f)))
    trials = coerce(trials, schema.TRIALS_COLUMNS)

    evals = _long(e_parts, "evals")
    train_loss = _long(l_parts, "train_loss")
    return trials, evals, train_loss


def _system(rec: TrialRecord) -> str:
    if rec.system is None:
        return schema.DEFAULT_SYSTEM
    if not isinstance(rec.system, str) or not rec.system.strip():
        raise DataError(f"{rec.source}: system: expected a non-empty name, got {rec.system!r}")
    return as_utf8(rec.system.strip())


def _flag_before_mismatch(trials: pd.DataFrame) -> None:
    grid = trials[trials["wi_seed"].notna() & trials["do_seed"].notna()]
    for _, g in grid.groupby(["system", "task", "wi_seed"], sort=False):
        b = g["before"].to_numpy(dtype=np.float64)
        b = b[~np.isnan(b)]
        if len(b) and (b.max() - b.min()) > 1e-9:
            for i in g.index:
                trials.at[i, "flags"] = trials.at[i, "flags"] + ["before_mismatch"]


def _categorical(labels, idx) -> pd.Categorical:
    """``pd.Categorical(np.asarray(labels)[idx])`` (sorted categories) built from codes.

    Millions of rows repeat a handful of labels: factorizing the short per-part list and
    indexing the codes avoids materializing millions of Python strings.
    """
    codes, uniq = pd.factorize(pd.Index(labels, dtype=object))
    order = np.argsort(np.asarray(uniq, dtype=object))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    cats = pd.Index(np.asarray(uniq, dtype=object)[order]).astype("str")
    return pd.Categorical.from_codes(rank[codes][idx], categories=cats)


def _long(parts, kind: str) -> pd.DataFrame:
    """Concatenate per-trial arrays into one long table.

    ``parts`` holds ``(trial_id, record, steps, values, extra)`` tuples; for ``evals``
    ``extra`` is ``(metric, phases, steps_per_epoch)``.
    """
    columns = schema.EVALS_COLUMNS if kind == "evals" else schema.TRAIN_LOSS_COLUMNS
    if not parts:
        empty = pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns})
        empty["phase"] = pd.Series([], dtype=object)
        return coerce(empty, columns)
    recs = [p[1] for p in parts]
    counts = np.array([len(p[2]) for p in parts])
    idx = np.repeat(np.arange(len(parts)), counts)
    codes, uniq = pd.factorize(pd.Index([p[0] for p in parts], dtype=object))
    steps = np.concatenate([p[2] for p in parts])
    if len(steps) and (steps.max() > np.iinfo(np.int32).max or steps.min() < -1):
        raise DataError(f"{kind}: step out of range [-1, 2**31): {steps.min()}..{steps.max()}")
    data = {
        "task": _categorical([r.task for r in recs], idx),
        "system": _categorical([r.system for r in recs], idx),
        "trial_id": pd.Categorical.from_codes(codes[idx], categories=uniq.astype("str")),
    }
    for attr in ("wi_seed", "do_seed", "seed"):
        vals = pd.array([getattr(r, attr) for r in recs], dtype="Int32")
        data[attr] = vals.take(idx)
    data["step"] = steps.astype(np.int32)
    values = np.concatenate([p[3] for p in parts]).astype(np.float64, copy=False)
    if kind == "evals":
        spe = np.array([p[4][2] for p in parts], dtype=np.float64)[idx]
        data["epoch"] = (steps + 1) / spe
        data["metric"] = _categorical([p[4][0] for p in parts], idx)
        data["value"] = values
        data["phase"] = pd.Categorical(np.concatenate([p[4][1] for p in parts]),
                                       categories=list(schema.PHASES))
    else:
        data["loss"] = values
    return pd.DataFrame(data)[list(columns)]


_DERIVED_FLAGS = {"incomplete", "nan", "no_metric", "before_mismatch"}



def _opt_int(v):
    return None if v is None or pd.isna(v) else int(v)



def dataset_records(ds) -> list[TrialRecord]:
    """Turn a dataset's tables back into trial records (the inverse of ``build_tables``).

    Used by the writers (:func:`write_release`, :func:`seedstats.data.formats.rawlog.write_rawlogs`,
    :func:`seedstats.data.formats.jsonl.write_jsonl`). The flags that ``build_tables`` derives
    (``incomplete``, ``nan``, ``no_metric``, ``before_mismatch``) are dropped, since it
    derives them again; the majority baseline of a task outside the paper's is not
    stored in the tables and comes back as None.

    Parameters
    ----------
    ds : Dataset
        Anything with ``.trials``, ``.evals`` and ``.train_loss``.

    Returns
    -------
    list of TrialRecord
        In the order of ``ds.trials``.
    """
    trials, evals, tl = ds.trials, ds.evals, ds.train_loss
    tids = pd.Index(trials["trial_id"].astype(str).to_numpy(dtype=object))
    if not tids.is_unique:
        raise DataError("trials: trial_id is not unique")

    def split(df):
        """Row order grouping ``df`` by trial (in ``trials`` order), and group bounds."""
        col = df["trial_id"]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy()
            cats = pd.Index(col.cat.categories.astype(str), dtype=object)
        else:
            codes, cats = pd.factorize(col.astype(str))
            cats = pd.Index(cats, dtype=object)
        where = tids.get_indexer(cats)
        used = np.zeros(len(cats), bool)
        used[codes[codes >= 0]] = True
        if (codes < 0).any() or (where[used] < 0).any():
            bad = "NaN" if (codes < 0).any() else cats[used & (where < 0)][0]
            raise DataError(f"trial {bad!r} has rows in the long tables but none in trials")
        rowpos = where[codes] if len(codes) else np.empty(0, np.int64)
        order = np.argsort(rowpos, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(rowpos, minlength=len(tids)))])
        return order, bounds

    eo, eb = split(evals)
    e_step = evals["step"].to_numpy(dtype=np.int64)[eo]
    e_val = evals["value"].to_numpy(dtype=np.float64)[eo]
    e_epoch = evals["epoch"].to_numpy(dtype=np.float64)[eo]
    e_phase = pd.Categorical(evals["phase"].astype(str), categories=list(schema.PHASES)
                             ).codes[eo]
    mcat = pd.Categorical(evals["metric"].astype(str))
    e_metric, m_names = mcat.codes[eo], list(mcat.categories)
    lo, lb = split(tl)
    l_step = tl["step"].to_numpy(dtype=np.int64)[lo]
    l_loss = tl["loss"].to_numpy(dtype=np.float64)[lo]

    recs = []
    cols = {c: trials[c].tolist() for c in ("task", "system", "wi_seed", "do_seed", "seed",
                                            "metric", "n_steps", "complete", "flags", "source")}
    for i in range(len(trials)):
        task = str(cols["task"][i])
        a, b = eb[i], eb[i + 1]
        mc, ph, st, va = e_metric[a:b], e_phase[a:b], e_step[a:b], e_val[a:b]
        _, first = np.unique(mc, return_index=True)
        curves, after_step = {}, None
        for code in mc[np.sort(first)]:
            sel = mc == code
            p, s, v = ph[sel], st[sel], va[sel]
            before, after = v[p == 0], v[p == 2]
            if after.size:
                after_step = int(s[p == 2][0])
            curves[m_names[code]] = Curve(float(before[0]) if before.size else None,
                                          s[p == 1].copy(), v[p == 1].copy(),
                                          float(after[0]) if after.size else None)
        ep = e_epoch[a:b]
        ok = (st >= 0) & np.isfinite(ep) & (ep > 0)
        spe = None
        if ok.any():
            j = int(np.argmax(ok))
            spe = schema.steps_per_epoch_at(st[j], ep[j])
            if task in schema.TASKS and spe == schema.TASKS[task].steps_per_epoch:
                spe = None
        la, lb_ = lb[i], lb[i + 1]
        lsteps = l_step[la:lb_]
        flags = [f for f in str(cols["flags"][i] or "").split(",")
                 if f and f not in _DERIVED_FLAGS]
        metric = cols["metric"][i]
        recs.append(TrialRecord(
            task=task, wi_seed=_opt_int(cols["wi_seed"][i]), do_seed=_opt_int(cols["do_seed"][i]),
            seed=_opt_int(cols["seed"][i]), system=str(cols["system"][i]), curves=curves, train_loss=l_loss[la:lb_].copy(),
            train_steps=None if np.array_equal(lsteps, np.arange(len(lsteps))) else lsteps.copy(),
            complete=bool(cols["complete"][i]), source=str(cols["source"][i]),
            n_steps=int(cols["n_steps"][i]), after_step=after_step, steps_per_epoch=spe,
            metric=None if metric is None or metric != metric else str(metric), flags=flags,
        ))
    return recs

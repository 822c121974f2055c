"""Optuna studies in an RDB storage (a SQLite file): each trial's intermediate values.

A seed sweep run as an Optuna study (``study.enqueue_trial({"seed": s})`` or
``trial.suggest_int("seed", ...)``) gets the paper's analyses (Dodge et al. 2020: expected
validation performance, Section 3; failed runs, Section 4; early stopping, Section 5).

Needs the optional extra ``seedstats[optuna]``: the storage is read through Optuna's own
``optuna.load_study`` (its schema changes between versions; Optuna migrates it, a hand-written
query would not), opened on a copy so the user's file is never written.

Mapping
-------
One trial per Optuna trial of every study in the file (``--map study=NAME`` reads one). The
curve is the trial's intermediate values (``trial.report(value, step)``), under the metric
``--metric NAME``, else the study's metric name (``study.set_metric_names``), else
``objective``. Optuna's examples report with the 0-based epoch or iteration (``for epoch in
range(n): ... trial.report(acc, epoch)``), so steps are read as 0-based indices;
``--map step_is=count`` says they count updates done. A trial that reported nothing has its
objective value (``trial.value``) as its only evaluation, after training. The value returned
when intermediate values exist is bookkeeping (the curve holds the evaluations).

Seeds come from the trial's parameters (``seed``, ``wi_seed``/``do_seed``), else its user
attributes, else ``--seeds-from`` on ``<study>/trial<number>``; the task from ``--task`` or the
study's user attribute ``task``. ``COMPLETE`` trials are complete; ``PRUNED``, ``FAIL``,
``RUNNING`` and ``WAITING`` ones are incomplete, flagged with their state (a pruned trial is the
early stopping of Section 5 done by a pruner).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

from seedstats.data.formats.base import (
    IngestOptions,
    ReadResult,
    excerpt,
    is_sqlite,
    parse_error_or_skip,
)
from seedstats.data.formats.sweeps import Resolver, Series, assemble
from seedstats.errors import DataError, ParseError

__all__ = ["detect", "read", "EXTRA"]

EXTRA = "seedstats[optuna]"
_TABLES = {"studies", "trials", "trial_intermediate_values"}


def detect(path: Path) -> bool:
    """An Optuna RDB storage: a SQLite file with tables ``studies``, ``trials`` and
    ``trial_intermediate_values``."""
    path = Path(path)
    if not path.is_file() or not is_sqlite(path):
        return False
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - detection must never raise (a damaged file)
        return False
    return _TABLES <= names


def _optuna():
    try:
        import optuna
    except ImportError:
        raise DataError(f"--format optuna needs the optional extra {EXTRA} (pip install "
                        f"'{EXTRA}', or pip install optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _studies(path: Path, wanted):
    """``[(name, study summary, trials)]`` of the storage, read from a private copy."""
    optuna = _optuna()
    with tempfile.TemporaryDirectory(prefix="seedstats-optuna-") as tmp:
        copy = Path(tmp) / "storage.db"
        shutil.copyfile(path, copy)
        storage = optuna.storages.RDBStorage(f"sqlite:///{copy}")
        try:
            names = [s.study_name for s in optuna.study.get_all_study_summaries(storage)]
            if wanted is not None:
                if wanted not in names:
                    raise ParseError(path, None, f"--map study={wanted}: no such study; the "
                                     f"storage holds {names}")
                names = [wanted]
            out = []
            for name in names:
                study = optuna.load_study(study_name=name, storage=storage)
                out.append((name, study.metric_names, dict(study.user_attrs),
                            study.get_trials(deepcopy=False)))
            return out
        finally:
            storage.engine.dispose()


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every trial of every study in an Optuna SQLite storage (module docstring).

    Returns
    -------
    ReadResult
        One record per Optuna trial.
    """
    path = Path(path)
    if not detect(path):
        raise ParseError(path, None, "expected an Optuna SQLite storage (tables studies, "
                         "trials, trial_intermediate_values)")
    mapping = opts.mapping or {}
    step_is = mapping.get("step_is", "index")
    if step_is not in ("index", "count"):
        raise DataError(f"--map step_is: expected 'index' or 'count', got {step_is!r}")
    res = Resolver(path, opts)
    res.note("Optuna: intermediate-value steps read as "
             + ("counts of updates done" if step_is == "count" else
                "0-based indices (as Optuna's examples report epochs)")
             + "; override with --map step_is=index|count")
    result = ReadResult(records=[])
    try:
        studies = _studies(path, mapping.get("study"))
    except (DataError, ParseError):
        raise
    except Exception as exc:  # noqa: BLE001 - Optuna (SQLAlchemy) on a damaged file
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise ParseError(path, None, f"expected an Optuna storage; got {type(exc).__name__}"
                         + (f": {excerpt(msg, 120)}" if msg else "")) from None
    for name, metric_names, attrs, trials in studies:
        metric = opts.metric or (metric_names[0] if metric_names else None) or "objective"
        for t in trials:
            source = f"{path}#{name}/trial{t.number}"

            def one(t=t, source=source, metric=metric, attrs=attrs, name=name):
                config = {**dict(t.user_attrs), **dict(t.params)}
                ident = res.identity(Path(source), run_dir=path.parent,
                                     name=f"{name}/trial{t.number}", config=config,
                                     task_hint=attrs.get("task"))
                steps = sorted(t.intermediate_values)
                state = t.state.name
                complete = state == "COMPLETE"
                if steps:
                    g = [s + (0 if step_is == "count" else 1) for s in steps]
                    evals = {metric: Series.of(g, [t.intermediate_values[s] for s in steps])}
                    n_steps = max(g)
                    res.account({metric: len(steps)}, {metric: metric}, None)
                    if t.value is not None:
                        res.account_other({"value": 1}, "the objective's return value (the "
                                          "intermediate values are the curve)")
                else:
                    evals = {metric: Series.of([1], [float("nan") if t.value is None
                                                     else t.value])}
                    n_steps = 1
                    res.account({metric: 1}, {metric: metric}, None)
                _, baseline = res.headline(ident, [metric], source)
                return assemble(source=source, ident=ident, metric=metric, baseline=baseline,
                                evals=evals, complete=complete, n_steps=n_steps,
                                flags=[] if complete else [state.lower()])

            rec = parse_error_or_skip(opts, result, source, one)
            if rec is not None:
                result.records.append(rec)
    res.finish(result)
    return result

"""MLflow tracking data: a ``mlruns`` file store or a SQLite tracking database.

Read without MLflow itself, so a user's own seed sweep gets the paper's analyses (Dodge et al.
2020: expected validation performance, Section 3; failed runs, Section 4; early stopping,
Section 5).

Why not ``MlflowClient``: it needs MLflow (a large install: SQLAlchemy, Alembic, a server
stack) for two documented, stable layouts; it refuses a SQLite database of an older MLflow's
schema until ``mlflow db upgrade`` rewrites the user's file, while this reader opens it
read-only; and its per-key ``get_metric_history`` calls are one query per run and key. The
result is checked equal to ``MlflowClient``'s histories on files MLflow wrote
(``tests/test_real_sweeps.py``, when mlflow is installed).

File store
----------
``mlruns/<experiment_id>/<run_id>/`` with ``meta.yaml`` (``run_name``, ``status`` as MLflow's
``RunStatus`` number: 1 running, 2 scheduled, 3 finished, 4 failed, 5 killed;
``lifecycle_stage``), ``metrics/<key>`` (one line ``"<timestamp ms> <value> <step>"`` per
logged value; keys with ``/`` are nested files), ``params/<key>`` and ``tags/<key>`` (the file
holds the value). Deleted runs (``lifecycle_stage: deleted``, or under ``.trash``) are left out.

SQLite database
---------------
MLflow's schema (the default store since MLflow 3): ``runs(run_uuid, name, status,
lifecycle_stage, experiment_id, ...)``, ``metrics(key, value, timestamp, run_uuid, step,
is_nan)``, ``params(key, value, run_uuid)``, ``tags(key, value, run_uuid)``,
``experiments(experiment_id, name, ...)``. A NaN is stored as ``value = 0, is_nan = 1`` and read
back as NaN. The file is opened read-only.

Mapping
-------
The Trainer's ``MLflowCallback`` logs its log keys unchanged with ``step = global_step``
(``loss``, ``eval_accuracy``, ``train_runtime``, ...) and its ``TrainingArguments`` plus the
model config as params, so the rules of :mod:`seedstats.data.formats.sweeps` apply: step =
``global_step - 1``, the evaluation prefix is found by
:func:`~seedstats.data.formats.sweeps.split_keys`, values logged twice at one step keep the later
(by timestamp). Params are the run config for seeds (``seed``; ``wi_seed``/``do_seed``); the
task is ``finetuning_task`` (or ``task_name``/``task``) among them. ``--seeds-from`` is matched
against the run's name. A run is complete when its status is FINISHED or it logged the
end-of-training record.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data.formats.base import (
    IngestOptions,
    ReadResult,
    excerpt,
    is_sqlite,
    parse_error_or_skip,
)
from seedstats.data.formats.sweeps import (
    Resolver,
    Series,
    assemble,
    end_of_training,
    find_first,
    guarded,
    infer_steps_per_epoch,
    max_step,
    note_unread,
    read_flat_yaml,
    train_loss,
    walk_files,
)
from seedstats.errors import ParseError

__all__ = ["detect", "read", "RUN_STATUS", "read_meta_yaml", "is_sqlite"]

#: MLflow's ``RunStatus`` numbers as the file store writes them in ``meta.yaml``.
RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}

_TASK_KEYS = ("finetuning_task", "task_name", "task")


def _runs_without_meta(root: Path) -> list[Path]:
    """Directories of ``root`` with a ``metrics/`` directory but no ``meta.yaml``."""
    out = []
    for m in sorted(Path(root).rglob("metrics")):
        rel = m.relative_to(root).parts
        if m.is_dir() and "metrics" not in rel[:-1] and not any(p.startswith(".")
                                                                 for p in rel) \
                and not (m.parent / "meta.yaml").is_file():
            out.append(m.parent)
    return out


def _is_run_meta(p: Path) -> bool:
    return p.name == "meta.yaml" and (p.parent / "metrics").is_dir()


def detect(path: Path) -> bool:
    """A ``mlruns`` tree (or one run directory of it), or an MLflow SQLite database."""
    path = Path(path)
    if path.is_file():
        if not is_sqlite(path):
            return False
        try:
            return {"runs", "metrics"} <= _tables(path)
        except Exception:  # noqa: BLE001 - detection must never raise
            return False
    return find_first(path, _is_run_meta, max_depth=3)


#: MLflow's ``meta.yaml`` is flat YAML (:func:`~seedstats.data.formats.sweeps.read_flat_yaml`).
read_meta_yaml = read_flat_yaml


def _status(value) -> str | None:
    if isinstance(value, int):
        return RUN_STATUS.get(value)
    return str(value).upper() if value is not None else None


def _task_hint(params: dict):
    for k in _TASK_KEYS:
        v = params.get(k)
        if v not in (None, "", "None"):
            return v
    return None


def _record(res: Resolver, *, source, run_dir, name, params, status, series):
    ident = res.identity(Path(source), run_dir=run_dir, name=name, config=params,
                         task_hint=_task_hint(params))
    evals, metric, baseline = res.validation(ident, series, source)
    end_order, n_steps = end_of_training(series)
    complete = end_order is not None or status == "FINISHED"
    if n_steps is None and complete:
        n_steps = max_step(series)
    flags = [] if status in (None, "FINISHED") else [f"status_{status.lower()}"]
    return assemble(source=str(source), ident=ident, metric=metric, baseline=baseline,
                    evals=evals, train=train_loss(series), train_offset=-1, end_order=end_order,
                    complete=complete, n_steps=n_steps,
                    steps_per_epoch=infer_steps_per_epoch(series.get("epoch")), flags=flags)


# --- file store -----------------------------------------------------------------------------

def _read_metric_file(f: Path):
    g, v, t = [], [], []
    for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise ParseError(f, i, f"expected 'timestamp value step', got {excerpt(line)}")
        try:
            t.append(int(parts[0]))
            v.append(float(parts[1]))
            g.append(int(parts[2]) if len(parts) == 3 else 0)
        except ValueError:
            raise ParseError(f, i, f"expected 'timestamp value step' numbers, got "
                             f"{excerpt(line, 60)}") from None
    return g, v, t


def _read_kv_dir(d: Path) -> dict:
    out = {}
    if d.is_dir():
        for f in walk_files(d, lambda p: True):
            out[f.relative_to(d).as_posix()] = f.read_text(encoding="utf-8").strip()
    return out


def _read_file_run(run_dir: Path, res: Resolver):
    meta = read_meta_yaml(run_dir / "meta.yaml")
    if meta.get("lifecycle_stage") == "deleted":
        return None
    params = _read_kv_dir(run_dir / "params")
    tags = _read_kv_dir(run_dir / "tags")
    mdir = run_dir / "metrics"
    series = {}
    for f in walk_files(mdir, lambda p: True):
        g, v, t = _read_metric_file(f)
        series[f.relative_to(mdir).as_posix()] = Series.of(g, v, t)
    name = meta.get("run_name") or tags.get("mlflow.runName") or meta.get("run_id") \
        or run_dir.name
    return _record(res, source=run_dir, run_dir=run_dir, name=str(name), params=params,
                   status=_status(meta.get("status")), series=series)


# --- SQLite ---------------------------------------------------------------------------------

def _connect(path: Path):
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def _tables(path: Path) -> set:
    con = _connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


def _read_sqlite(path: Path, res: Resolver, opts, result: ReadResult):
    def load():
        con = _connect(path)
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            missing = {"runs", "metrics", "params"} - tables
            if missing:
                raise ParseError(path, None, "expected an MLflow tracking database with tables "
                                 f"runs, metrics, params; missing {sorted(missing)}")
            runs = pd.read_sql_query(
                "SELECT run_uuid, name, status, lifecycle_stage FROM runs ORDER BY run_uuid", con)
            metrics = pd.read_sql_query(
                "SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics", con)
            params = pd.read_sql_query("SELECT run_uuid, key, value FROM params", con)
            tags = (pd.read_sql_query("SELECT run_uuid, key, value FROM tags "
                                      "WHERE key = 'mlflow.runName'", con)
                    if "tags" in tables else None)
            return runs, metrics, params, tags
        finally:
            con.close()

    runs, metrics, params, tags = guarded(path, "an MLflow SQLite tracking database", load)
    num = pd.to_numeric(metrics["value"], errors="coerce")
    bad = num.isna() & metrics["value"].notna()
    if bad.any():  # a TEXT or BLOB cell where MLflow writes a number
        row = metrics[bad].iloc[0]
        raise ParseError(path, None, f"metrics table: run {row['run_uuid']}, key "
                         f"{excerpt(row['key'])}, step {excerpt(row['step'])}: expected a "
                         f"number, got {excerpt(row['value'])}")
    metrics = metrics.assign(value=num)
    value = metrics["value"].to_numpy(dtype=np.float64, copy=True)
    value[metrics["is_nan"].to_numpy().astype(bool)] = np.nan
    metrics = metrics.assign(value=value).sort_values(["run_uuid", "key"], kind="stable")
    by_run = {rid: g for rid, g in metrics.groupby("run_uuid", sort=False)}
    par = {rid: dict(zip(g["key"], g["value"])) for rid, g in params.groupby("run_uuid")}
    names = dict(zip(tags["run_uuid"], tags["value"])) if tags is not None else {}
    deleted = 0
    for row in runs.itertuples(index=False):
        if row.lifecycle_stage == "deleted":
            deleted += 1
            continue
        rid = row.run_uuid
        source = f"{path}#{rid}"

        def one(rid=rid, row=row, source=source):
            series = {}
            m = by_run.get(rid)
            if m is not None:
                for key, g in m.groupby("key", sort=False):
                    series[key] = Series.of(g["step"].to_numpy(), g["value"].to_numpy(),
                                            g["timestamp"].to_numpy())
            name = row.name if isinstance(row.name, str) and row.name else names.get(rid, rid)
            return _record(res, source=source, run_dir=path.parent, name=str(name),
                           params=par.get(rid, {}), status=_status(row.status), series=series)

        rec = parse_error_or_skip(opts, result, source,
                                  lambda one=one, source=source: guarded(source, "an MLflow run",
                                                                         one))
        if rec is not None:
            result.records.append(rec)
    if deleted:
        res.note(f"{deleted} deleted MLflow run(s) left out")


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every run of an ``mlruns`` tree or an MLflow SQLite database (module docstring).

    Returns
    -------
    ReadResult
        One record per (not deleted) run.
    """
    path = Path(path)
    res = Resolver(path, opts)
    result = ReadResult(records=[])
    if path.is_file():
        if not is_sqlite(path):
            raise ParseError(path, None, "expected an MLflow SQLite database (or a mlruns "
                             "directory)")
        _read_sqlite(path, res, opts, result)
    else:
        run_dirs = [f.parent for f in walk_files(path, _is_run_meta)]
        note_unread(res, run_dirs, lambda n: n == "meta.yaml", "MLflow run directories")
        for d in _runs_without_meta(path):  # a damaged run is never left out silently
            msg = "an MLflow run directory (it has metrics/) without its meta.yaml"
            if not opts.skip_bad:
                raise ParseError(d, None, f"expected {msg.replace('an ', 'an intact ', 1)}")
            result.skipped.append((str(d), msg))
        if not run_dirs:
            raise ParseError(path, None, "expected an MLflow file store: <experiment>/<run>/"
                             "meta.yaml with metrics/")
        deleted = 0
        for run_dir in run_dirs:
            rec = parse_error_or_skip(
                opts, result, run_dir,
                lambda: guarded(run_dir, "an MLflow run directory",
                                lambda: _read_file_run(run_dir, res)))
            if rec is None and not any(s[0] == str(run_dir) for s in result.skipped):
                deleted += 1
            elif rec is not None:
                result.records.append(rec)
        if deleted:
            res.note(f"{deleted} deleted MLflow run(s) left out")
    res.finish(result)
    return result


"""Long tables: one row per (run, step, metric, value), as CSV, TSV or Parquet.

The escape hatch every tracking tool can export to: any sweep in this shape gets the paper's
analyses (Dodge et al. 2020: expected validation performance, Section 3; failed runs,
Section 4; early stopping, Section 5).

Columns
-------
Named by ``--map KEY=COLUMN,...`` (:attr:`IngestOptions.mapping`); each key defaults to the
column of its own name:

- ``run`` (required): identifies a run.
- ``step`` (required): the step of the row, see below.
- ``metric``, ``value`` (required): the logged key and its value. Rows whose metric is the
  training-loss key (``--map train_loss=NAME``, default ``train_loss``; ``train/loss`` is
  accepted too) form the training loss; every other metric is a validation metric.
- ``task``, ``system``, ``wi_seed`` (or ``wi``), ``do_seed`` (or ``do``), ``seed``, ``phase``,
  ``complete`` (optional): per-run task, system and seeds (each must be constant within a run),
  per-row phase (``before``/``during``/``after``) and per-run completeness (default: complete).

Steps: ``--map step_is=index`` says the step column is seedstats' step (the 0-based index of
the update after which the row was logged; -1 before training); ``step_is=count`` says it
counts the updates done, like the Trainer's ``global_step`` (seedstats' step is then
``count - 1``; the training loss likewise). By default a column named ``global_step`` (or
ending in it) counts, any other is an index; the choice is noted in the report.

Without a ``phase`` column the rules of :mod:`seedstats.data.formats.sweeps` apply (the first step is
``before`` when it is step -1, ``after`` is the evaluation at the run's last step when the run
is complete). With one, ``after`` rows give ``after`` and ``before`` rows ``before``. Seeds
come from the seed columns, else ``--seeds-from`` matched against the run's name, else a
sidecar; the task from the ``task`` column or ``--task``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data.formats.base import IngestOptions, ReadResult, excerpt, parse_error_or_skip
from seedstats.data.formats.sweeps import Resolver, Series, as_int, assemble, guarded
from seedstats.data.records import Curve
from seedstats.errors import DataError, ParseError

__all__ = ["detect", "read", "REQUIRED", "OPTIONAL"]

REQUIRED = ("run", "step", "metric", "value")
OPTIONAL = ("task", "system", "wi_seed", "do_seed", "seed", "phase", "complete")
_ALIASES = {"wi": "wi_seed", "do": "do_seed", "trial": "run"}
_SETTINGS = ("step_is", "train_loss")
_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def _columns(path: Path) -> list[str]:
    if path.suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)

    with open(path, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh, delimiter="\t" if path.suffix == ".tsv" else ","), [])


def detect(path: Path) -> bool:
    """A CSV/TSV/Parquet file with ``run``, ``step``, ``metric`` and ``value`` columns."""
    path = Path(path)
    if not path.is_file() or path.suffix not in _SUFFIXES:
        return False
    try:
        return set(REQUIRED) <= set(_columns(path))
    except Exception:  # noqa: BLE001 - detection must never raise
        return False


def _mapping(opts) -> tuple[dict, dict]:
    cols, settings = {}, {}
    for key, col in (opts.mapping or {}).items():
        key = _ALIASES.get(key, key)
        if key in _SETTINGS:
            settings[key] = col
        elif key in REQUIRED or key in OPTIONAL:
            cols[key] = col
        else:
            raise DataError(f"--map: unknown key {key!r}; expected one of "
                            f"{', '.join(REQUIRED + OPTIONAL + _SETTINGS)}")
    step_is = settings.get("step_is")
    if step_is is not None and step_is not in ("index", "count"):
        raise DataError(f"--map step_is: expected 'index' or 'count', got {step_is!r}")
    return cols, settings


#: Compressed files are not read: a small archive can expand without bound (a 1 MB gzip to
#: gigabytes); decompress a table first and ingest the result.
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".tar", ".tgz", ".7z")


def _load(path: Path):
    if path.suffix.lower() in _COMPRESSED:
        raise ParseError(path, None, f"expected an uncompressed CSV/TSV/Parquet table, got a "
                         f"{path.suffix} file; decompress it first (compressed tables are not "
                         "read: their size cannot be bounded)")
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", low_memory=False,
                       compression=None)


def _constant(g, col: str, source, label=None):
    vals = g[col].dropna().unique()
    if len(vals) > 1:
        raise ParseError(source, None, f"column {label or repr(col)}: expected one value per "
                         "run, got "
                         f"{sorted(map(str, vals))[:5]}")
    return vals[0] if len(vals) else None


def _to_bool(v, source) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    s = str(v).strip().lower()
    if s in ("true", "1", "yes", "1.0"):
        return True
    if s in ("false", "0", "no", "0.0"):
        return False
    raise ParseError(source, None, f"column 'complete': expected true/false, got {excerpt(v)}")


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read a long table (rules and column mapping: module docstring).

    Returns
    -------
    ReadResult
        One record per distinct ``run`` value (per task when the table has a task column).

    Raises
    ------
    DataError
        An unknown ``--map`` key or a mapped column that is not in the table.
    ParseError
        Non-numeric steps or values, a seed or task that varies within a run, no seed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"SRC {path}: --format table expects a CSV, TSV or Parquet file")
    cols, settings = _mapping(opts)
    df = guarded(path, "a CSV/TSV/Parquet long table", lambda: _load(path))
    col = {k: cols.get(k, k) for k in REQUIRED + OPTIONAL}
    missing = [f"{k} (column {col[k]!r})" for k in REQUIRED if col[k] not in df.columns]
    for k, c in cols.items():
        if k in OPTIONAL and c not in df.columns:
            missing.append(f"{k} (column {c!r})")
    if missing:
        raise DataError(f"{path}: missing {', '.join(missing)}; columns present: "
                        f"{list(df.columns)[:15]}; map them with --map KEY=COLUMN")
    res = Resolver(path, opts)
    step_is = settings.get("step_is")
    if step_is is None:
        name = str(col["step"])
        step_is = "count" if name.endswith("global_step") else "index"
        how = ("a count of updates done (step = count - 1)" if step_is == "count"
               else "the 0-based update index")
        res.note(f"step column {name!r} read as {how}; override with --map step_is=index|count")
    steps = pd.to_numeric(df[col["step"]], errors="coerce")
    values = pd.to_numeric(df[col["value"]], errors="coerce")
    bad = steps.isna() | ~np.isfinite(steps) | (steps != np.floor(steps))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ParseError(path, i + 2, f"column {col['step']!r}: expected an integer step, got "
                         f"{excerpt(df[col['step']].iloc[i])}")
    bad = values.isna() & df[col["value"]].notna() & ~df[col["value"]].astype(str).str.strip(
    ).str.lower().isin(["nan", ""])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ParseError(path, i + 2, f"column {col['value']!r}: expected a number, got "
                         f"{excerpt(df[col['value']].iloc[i])}")
    runs = df[col["run"]]
    empty = (runs.isna() | (runs.astype(str).str.strip() == "")).to_numpy()
    if empty.any():  # a row of no run: never dropped silently
        lines = np.flatnonzero(empty) + 2
        if not opts.skip_bad:
            raise ParseError(path, int(lines[0]), f"column {col['run']!r}: expected a run name, "
                             "got an empty cell (--skip-bad sets such rows aside)")
        res.note(f"set aside {len(lines)} row(s) with an empty {col['run']!r} cell (lines "
                 f"{', '.join(map(str, lines[:5]))}{', ...' if len(lines) > 5 else ''})")
        keep = ~empty
        df, steps, values = df[keep], steps[keep], values[keep]
    # counts: g = updates done when logged
    g = steps.to_numpy(np.int64) + (0 if step_is == "count" else 1)
    work = pd.DataFrame({"run": df[col["run"]].astype(str), "g": g,
                         "metric": df[col["metric"]].astype(str),
                         "value": values.to_numpy(np.float64),
                         "order": np.arange(len(df), dtype=np.float64)})
    for k in OPTIONAL:
        if col[k] in df.columns:
            work[k] = df[col[k]].to_numpy()
    train_key = settings.get("train_loss", "train_loss")
    train_keys = {train_key, "train/loss"} if "train_loss" not in settings else {train_key}
    keys = [k for k in ("system", "task") if k in work.columns] + ["run"]
    result = ReadResult(records=[])
    for key, grp in work.groupby(keys, sort=True, dropna=False):
        rname = key[-1] if isinstance(key, tuple) else key
        source = f"{path}#{rname}"
        rec = parse_error_or_skip(opts, result, source,
                                  lambda grp=grp, rname=rname, source=source: _run(
                                      grp, rname, source, train_keys, res, path, col))
        if rec is not None:
            result.records.append(rec)
    result.notes.extend(res.notes)
    return result


def _run(grp, rname: str, source: str, train_keys: set, res: Resolver, path: Path, col: dict):
    config = {}
    for k in ("wi_seed", "do_seed", "seed"):
        if k in grp.columns:
            v = _constant(grp, k, source, repr(col[k]))
            if v is not None:
                config[k] = as_int(v, f"column {col[k]!r}", source)
    task = _constant(grp, "task", source, repr(col["task"])) if "task" in grp.columns else None
    if "system" in grp.columns:
        v = _constant(grp, "system", source, repr(col["system"]))
        if v is not None:
            config["system"] = str(v)
    ident = res.identity(Path(source), run_dir=path.parent, name=rname,
                         config=config or None, task_hint=task)
    complete = True
    if "complete" in grp.columns:
        v = _constant(grp, "complete", source, repr(col["complete"]))
        complete = True if v is None else _to_bool(v, source)
    is_train = grp["metric"].isin(train_keys).to_numpy()
    tr = grp[is_train]
    ev = grp[~is_train]
    train = Series.of(tr["g"].to_numpy() - 1, tr["value"].to_numpy(), tr["order"].to_numpy()) \
        if len(tr) else None
    evals, explicit = {}, {}
    has_phase = "phase" in ev.columns
    for name, m in ev.groupby("metric", sort=False):
        if has_phase:
            ph = m["phase"].astype(str).str.lower().to_numpy()
            unknown = set(ph) - {"before", "during", "after", "nan", "none"}
            if unknown:
                raise ParseError(source, None, f"column 'phase': expected before, during or "
                                 f"after, got {sorted(unknown)}")
            b, a = m[ph == "before"], m[ph == "after"]
            explicit[name] = (float(b["value"].iloc[-1]) if len(b) else None,
                              float(a["value"].iloc[-1]) if len(a) else None,
                              int(a["g"].iloc[-1]) if len(a) else None)
            m = m[(ph != "before") & (ph != "after")]
        evals[name] = Series.of(m["g"].to_numpy(), m["value"].to_numpy(), m["order"].to_numpy())
    metric, baseline = res.headline(ident, list(evals), source)
    rec = assemble(source=source, ident=ident, metric=metric, baseline=baseline, evals=evals,
                   train=train, train_offset=0, complete=complete)
    if has_phase:
        after_steps = {s for _, _, s in explicit.values() if s is not None}
        for name, (before, after, _) in explicit.items():
            cur = rec.curves.get(name, Curve())
            rec.curves[name] = Curve(before=before, steps=cur.steps, values=cur.values,
                                     after=after)
        if after_steps:
            rec.after_step = max(after_steps) - 1
            rec.n_steps = max(rec.n_steps, max(after_steps))
    return rec

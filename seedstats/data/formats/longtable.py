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
- ``metric``, ``value``: the logged key and its value. Without them (and unmapped) the table
  is **wide**: every other column is a key (``run,step,eval_accuracy,eval_loss,loss``), an empty
  cell a key not logged at that row, ``nan`` a logged NaN; text-only columns are bookkeeping.
  Rows whose metric is the training-loss key (``--map train_loss=NAME``, default
  ``train_loss``; ``train/loss`` is accepted too) form the training loss (see Keys below).
- ``task``, ``system``, ``wi_seed`` (or a column ``wi``), ``do_seed`` (or ``do``), ``seed``,
  ``phase``,
  ``complete``, ``epoch`` (optional): per-run task, system and seeds (each must be constant
  within a run), per-row phase (``before``/``during``/``after``) and epoch, and per-run
  completeness (default: complete).

Steps: ``--map step_is=count`` says the step column counts the updates done, like the
Trainer's ``global_step`` and MLflow's ``step`` (seedstats' step is then ``count - 1``; the
training loss likewise); ``step_is=index`` says it is seedstats' step (the 0-based index of the
update after which the row was logged; -1 before training). Without it the convention is
detected, and the report says which and why: a table that holds a negative step is an index;
a column named ``step``, ``global_step`` (or ending in ``_step``), ``steps``, ``updates`` or
``num_updates`` counts (so a step 0 evaluation is the one before training); ``index``,
``step_index``, ``update_index`` or ``idx`` is an index; any other name is a one-line error
asking for ``step_is``.

Keys: a table whose metrics carry a validation prefix (the Trainer's ``eval_``, ``val_``,
``valid_``, ``validation_``, or a ``<Name>/val`` tag; e.g. ``log_history`` melted to long form)
is read like the sweep readers (:func:`~seedstats.data.formats.sweeps.split_keys`): metric names
lose the prefix, the unprefixed ``loss`` is the training loss, other keys are ignored with a
reason. Otherwise every metric that is neither the training loss nor bookkeeping is a validation
metric under its own name. Bookkeeping (``learning_rate``, ``grad_norm``, runtimes, FLOPs,
``epoch``, ...; :func:`~seedstats.data.formats.sweeps.is_bookkeeping`) is never a metric. An
``epoch`` column, or ``epoch`` rows, give the steps per epoch. When some run of the table logged
the Trainer's end-of-training record (``train_runtime``) and there is no ``complete`` column, a
run without it is incomplete (it was killed).

Without a ``phase`` column the rules of :mod:`seedstats.data.formats.sweeps` apply (the first
step is ``before`` when it is step -1, ``after`` is the evaluation at the run's last step when
the run is complete). With one, ``after`` rows give ``after`` and ``before`` rows ``before``. Seeds
come from the seed columns, else ``--seeds-from`` matched against the run's name, else a
sidecar; the task from the ``task`` column or ``--task``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data.formats.base import IngestOptions, ReadResult, excerpt, parse_error_or_skip
from seedstats.data.formats.sweeps import (
    END_KEY,
    TRAIN_LOSS_KEYS,
    VALIDATION_PREFIXES,
    Resolver,
    Series,
    as_int,
    assemble,
    end_of_training,
    guarded,
    index_steps_per_epoch,
    infer_steps_per_epoch,
    is_bookkeeping,
    split_keys,
)
from seedstats.data.records import Curve
from seedstats.errors import DataError, ParseError

__all__ = ["detect", "read", "REQUIRED", "OPTIONAL"]

REQUIRED = ("run", "step", "metric", "value")
OPTIONAL = ("task", "system", "wi_seed", "do_seed", "seed", "phase", "complete", "epoch")
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
    """A CSV/TSV/Parquet file with ``run``, ``step``, ``metric`` and ``value`` columns, or a
    wide one (``run``, ``step`` and a column per key)."""
    path = Path(path)
    if not path.is_file() or path.suffix not in _SUFFIXES:
        return False
    try:
        names = set(_columns(path))
        return set(REQUIRED) <= names or {"run", "step"} <= names
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


def _is_wide(header, col: dict) -> bool:
    """A wide table: run and step columns, and neither metric nor value (one per key)."""
    return (col["run"] in header and col["step"] in header and col["metric"] not in header
            and col["value"] not in header)


def _melt(df, col: dict, path: Path, res: Resolver):
    """A wide table (every cell text, ``keep_default_na=False``; Parquet as stored) as long
    rows, and the file line of each. An empty cell (a null in Parquet) is a key not logged at
    that row; ``nan`` is a logged NaN, kept. A column of text only (a host name, a date) is
    bookkeeping, counted in the key report; a number column with a text cell is an error."""
    ids = [c for k, c in col.items() if k not in ("metric", "value") and c in df.columns]
    parts, lines = [], []
    base = np.arange(2, len(df) + 2)
    texts = {}
    for j, c in enumerate(c for c in df.columns if c not in ids):
        cells = df[c]
        if cells.dtype == object or pd.api.types.is_string_dtype(cells):
            text = cells.astype(str).str.strip()
            logged = (text != "") & cells.notna()
            vals = pd.to_numeric(text.where(logged), errors="coerce")
            bad = logged & vals.isna() & (text.str.lower() != "nan")
            if logged.any() and bad[logged].all():
                texts[str(c)] = int(logged.sum())
                continue
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise ParseError(path, int(base[i]), f"column {c!r}: expected a number, got "
                                 f"{excerpt(cells.iloc[i])}")
        else:
            logged = cells.notna()
            vals = pd.to_numeric(cells, errors="coerce")
        keep = logged.to_numpy()
        part = df.loc[keep, ids].copy()
        part["metric"] = str(c)
        part["value"] = vals[keep].to_numpy(np.float64)
        part["_order"] = np.flatnonzero(keep) * (len(df.columns) + 1) + j
        parts.append(part)
        lines.append(base[keep])
    res.account_other(texts, "text, not numbers")
    if not parts:
        raise ParseError(path, None, "expected a wide table with a column of numbers besides "
                         f"{ids}")
    long = pd.concat(parts, ignore_index=True)
    order = np.argsort(long["_order"].to_numpy(), kind="stable")
    return (long.iloc[order].drop(columns="_order").reset_index(drop=True),
            np.concatenate(lines)[order])


def _refuse_compressed(path: Path):
    if path.suffix.lower() in _COMPRESSED:
        raise ParseError(path, None, f"expected an uncompressed CSV/TSV/Parquet table, got a "
                         f"{path.suffix} file; decompress it first (compressed tables are not "
                         "read: their size cannot be bounded)")


def _load(path: Path, text: bool = False):
    _refuse_compressed(path)
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if text:  # every cell as written: an empty cell (not logged) is not a 'nan' (logged)
        return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype=str,
                           keep_default_na=False, compression=None)
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
    col = {k: cols.get(k, k) for k in REQUIRED + OPTIONAL}
    _refuse_compressed(path)
    header = guarded(path, "a CSV/TSV/Parquet table", lambda: _columns(path))
    for key, short in (("wi_seed", "wi"), ("do_seed", "do")):  # seed columns named wi, do
        if key not in cols and key not in header and short in header:
            col[key] = short
    wide = _is_wide(header, col)
    df = guarded(path, "a CSV/TSV/Parquet long table", lambda: _load(path, text=wide))
    if wide:  # one column per key: its rows become (metric, value) rows below
        col["metric"], col["value"] = "metric", "value"
    missing = [f"{k} (column {col[k]!r})" for k in REQUIRED if col[k] not in df.columns
               and not (wide and k in ("metric", "value"))]
    for k, c in cols.items():
        if k in OPTIONAL and c not in df.columns:
            missing.append(f"{k} (column {c!r})")
    if missing:
        raise DataError(f"{path}: missing {', '.join(missing)}; columns present: "
                        f"{list(df.columns)[:15]}; map them with --map KEY=COLUMN")
    res = Resolver(path, opts)
    lines = np.arange(2, len(df) + 2)  # the file's line of each row (the header is line 1)
    if wide:
        df, lines = _melt(df, col, path, res)
    steps = pd.to_numeric(df[col["step"]], errors="coerce")
    values = pd.to_numeric(df[col["value"]], errors="coerce")
    bad = steps.isna() | ~np.isfinite(steps) | (steps != np.floor(steps))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ParseError(path, int(lines[i]), f"column {col['step']!r}: expected an integer "
                         "step, got "
                         f"{excerpt(df[col['step']].iloc[i])}")
    bad = values.isna() & df[col["value"]].notna() & ~df[col["value"]].astype(str).str.strip(
    ).str.lower().isin(["nan", ""])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ParseError(path, int(lines[i]), f"column {col['value']!r}: expected a number, got "
                         f"{excerpt(df[col['value']].iloc[i])}")
    for key, what in (("run", "a run name"), ("metric", "a key name")):
        cells = df[col[key]]
        empty = (cells.isna() | (cells.astype(str).str.strip() == "")).to_numpy()
        if empty.any():  # a row of no run or no key: never dropped silently
            where = lines[empty]
            if not opts.skip_bad:
                raise ParseError(path, int(where[0]), f"column {col[key]!r}: expected {what}, "
                                 "got an empty cell (--skip-bad sets such rows aside)")
            res.note(f"set aside {len(where)} row(s) with an empty {col[key]!r} cell (lines "
                     f"{', '.join(map(str, where[:5]))}{', ...' if len(where) > 5 else ''})")
            keep = ~empty
            df, steps, values, lines = df[keep], steps[keep], values[keep], lines[keep]
    names = set(map(str, pd.unique(df[col["metric"]].astype(str))))
    step_is = _step_convention(settings.get("step_is"), str(col["step"]), steps, names, res,
                               path)
    # counts: g = updates done when logged
    g = steps.to_numpy(np.int64) + (0 if step_is == "count" else 1)
    work = pd.DataFrame({"run": df[col["run"]].astype(str), "g": g,
                         "metric": df[col["metric"]].astype(str),
                         "value": values.to_numpy(np.float64),
                         "order": np.arange(len(df), dtype=np.float64)})
    for k in OPTIONAL:
        if col[k] in df.columns:
            work[k] = df[col[k]].to_numpy()
    prefixed = _prefixed(names)
    if "train_loss" in settings:
        train_keys = [settings["train_loss"]]
    elif prefixed:  # a Trainer-style table: its plain 'loss' is the training loss
        train_keys = list(TRAIN_LOSS_KEYS)
    else:
        train_keys = [k for k in TRAIN_LOSS_KEYS if k != "loss"]
    killable = END_KEY in names and "complete" not in work.columns
    if killable:
        res.note(f"the table logs the Trainer's end-of-training record ({END_KEY!r}): runs "
                 "without it are read as incomplete (killed)")
    keys = [k for k in ("system", "task") if k in work.columns] + ["run"]
    result = ReadResult(records=[])
    for key, grp in work.groupby(keys, sort=True, dropna=False):
        rname = key[-1] if isinstance(key, tuple) else key
        source = f"{path}#{rname}"
        rec = parse_error_or_skip(opts, result, source,
                                  lambda grp=grp, rname=rname, source=source: _run(
                                      grp, rname, source, train_keys, res, path, col,
                                      prefixed, killable))
        if rec is not None:
            result.records.append(rec)
    res.finish(result)
    return result


_COUNT_NAMES = ("step", "steps", "updates", "num_updates")
_INDEX_NAMES = ("index", "idx", "step_index", "update_index")


def _step_convention(given, name: str, steps, metrics, res: Resolver, path) -> str:
    """``"count"`` or ``"index"``: ``--map step_is``, else detected (module docstring)."""
    if given is not None:
        return given
    low = name.lower()
    if len(steps) and float(steps.min()) < 0:
        why, step_is = "it holds a negative step (before training)", "index"
    elif low in _COUNT_NAMES or low.endswith(("global_step", "_step")):
        why, step_is = f"by its name{' (a Trainer log)' if END_KEY in metrics else ''}", "count"
    elif low in _INDEX_NAMES:
        why, step_is = "by its name", "index"
    else:
        raise DataError(f"{path}: step column {name!r}: cannot tell whether it counts the "
                        "updates done (the Trainer's global_step, MLflow's step) or is the "
                        "0-based index of the update; give --map step_is=count or "
                        "--map step_is=index")
    how = ("a count of updates done (step = count - 1; a step 0 evaluation is before "
           "training)" if step_is == "count" else "the 0-based update index")
    res.note(f"step column {name!r} read as {how}, {why}; override with "
             "--map step_is=index|count")
    return step_is


def _steps_per_epoch(g, epoch):
    """Updates per epoch from an epoch column beside counts ``g``: the Trainer's progress
    (``epoch = g / spe``, fractional) when every row agrees with one ``spe``, else a 0-based
    epoch index (Lightning's: the epoch a row was logged in), else unknown."""
    spe = infer_steps_per_epoch(Series.of(g, epoch))
    ok = np.isfinite(epoch) & (epoch > 0)
    if spe and ok.any() and np.allclose(g[ok], spe * epoch[ok], rtol=1e-4, atol=0.5):
        return spe
    return index_steps_per_epoch(Series.of(g - 1, epoch))


def _prefixed(names) -> bool:
    """Whether the table's metric names carry a validation prefix (``eval_accuracy``,
    ``val/loss``, ``Accuracy/val``)."""
    heads = ("eval",) + VALIDATION_PREFIXES
    tails = tuple("/" + p for p in VALIDATION_PREFIXES)
    return any(n.startswith(tuple(h + sep for h in heads for sep in "_/")) or n.endswith(tails)
               for n in names)


def _run(grp, rname: str, source: str, train_keys, res: Resolver, path: Path, col: dict,
         prefixed: bool, killable: bool):
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
    counts = grp["metric"].value_counts(sort=False).to_dict()
    complete = True
    if "complete" in grp.columns:
        v = _constant(grp, "complete", source, repr(col["complete"]))
        complete = True if v is None else _to_bool(v, source)
    elif killable:
        complete = END_KEY in counts
    train_key = next((k for k in train_keys if k in counts), None)
    if prefixed:
        prefix, names = split_keys(counts, res.opts.metric or ident.sidecar.get("metric"),
                                   source)
    else:
        prefix, names = None, {k: k for k in counts
                               if k != train_key and not is_bookkeeping(k) and k != END_KEY}
    res.account(counts, names, train_key, prefix)
    tr = grp[grp["metric"] == train_key] if train_key is not None else grp.iloc[:0]
    train = Series.of(tr["g"].to_numpy() - 1, tr["value"].to_numpy(), tr["order"].to_numpy()) \
        if len(tr) else None
    spe = None
    if "epoch" in grp.columns:
        ep = pd.to_numeric(grp["epoch"], errors="coerce").to_numpy(np.float64)
        spe = _steps_per_epoch(grp["g"].to_numpy(), ep)
    elif "epoch" in counts:
        e = grp[grp["metric"] == "epoch"]
        spe = _steps_per_epoch(e["g"].to_numpy(), e["value"].to_numpy(np.float64))
    end = grp[grp["metric"] == END_KEY]
    end_order, _ = end_of_training({END_KEY: Series.of(end["g"].to_numpy(), end["value"],
                                                       end["order"].to_numpy())})
    ev = grp[grp["metric"].isin(list(names))]
    evals, explicit = {}, {}
    has_phase = "phase" in ev.columns
    for key, m in ev.groupby("metric", sort=False):
        name = names[key]
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
                   train=train, train_offset=0, complete=complete, end_order=end_order,
                   n_steps=int(end["g"].max()) if len(end) else None, steps_per_epoch=spe)
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

"""Weights & Biases exports: run-history Parquet and CSVs written from ``scan_history()``.

Read without ``wandb`` itself, so a user's own seed sweep gets the paper's analyses (Dodge et
al. 2020: expected validation performance, Section 3; failed runs, Section 4; early stopping,
Section 5).

Layout
------
One history file (``.parquet``, or ``.csv`` from ``pd.DataFrame(run.scan_history())``) per run,
wide: one row per ``wandb.log`` call, one column per key, empty where a row did not log the
key; W&B's own columns start with ``_`` (``_step``, ``_runtime``, ``_timestamp``). With
``--map run=COLUMN`` one file may hold many runs. ``SRC`` is one file or a directory tree.

Beside a history file ``<name>.<ext>``, the run's config is read from ``<name>.config.json``,
else ``config.json``, ``config.yaml`` or ``files/config.yaml`` (W&B's ``{key: {value: ...}}``
layout) in its directory; its summary from ``<name>.summary.json``, else
``wandb-summary.json`` or ``files/wandb-summary.json``.

Mapping
-------
The Trainer's ``WandbCallback`` logs ``rewrite_logs(logs)`` (``eval/accuracy``, ``train/loss``,
``train/epoch``) with ``train/global_step``; the keys are mapped back to the Trainer's log keys
as for TensorBoard (:func:`seedstats.data.formats.sweeps.hf_key`). The step is ``--map
step=COLUMN`` when given, else ``train/global_step`` when present, else W&B's ``_step`` (a
count of log calls, not of updates: noted). Steps are ``global_step - 1`` in seedstats
(:mod:`seedstats.data.formats.sweeps`). Rows are ordered by ``_step``. Seeds come from the config
(``seed``; ``wi_seed``/``do_seed``), the task from its ``finetuning_task`` (or ``task_name``).

The end of training is the Trainer's end-of-training row (``train/train_runtime``, or a row
that logged only ``train/epoch``); a run is complete when that row is there or its summary has
``train_runtime``; a run the Trainer wrote (it logged ``train/epoch``) without either is
incomplete; other runs are taken as complete (noted). All of this is decided per run: with
``--map run=COLUMN`` one run's end row says nothing of another's, and a summary counts only
when keyed by run (``{run: summary}``) or when the file holds one run (a flat summary beside a
file of several runs is not used: noted). A step that is not a whole number is a ParseError,
never truncated. A NaN that was logged cannot be told from a key that was not logged in a wide
export: both are left out.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data.formats.base import IngestOptions, ReadResult, excerpt, parse_error_or_skip
from seedstats.data.formats.sweeps import (
    END_KEY,
    Resolver,
    Series,
    assemble,
    find_first,
    guarded,
    hf_key,
    infer_steps_per_epoch,
    train_loss,
    walk_files,
)
from seedstats.errors import ParseError

__all__ = ["detect", "read", "history_columns", "read_wandb_config"]

_SIGNATURE = ("_step", "train/global_step")
_TASK_KEYS = ("finetuning_task", "task_name", "task")


def history_columns(path: Path) -> list[str]:
    """Column names of a CSV or Parquet file (cheap: header or schema only)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    with open(path, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), [])


def _is_history(p: Path) -> bool:
    if p.suffix not in (".parquet", ".csv"):
        return False
    try:
        cols = history_columns(p)
    except Exception:  # noqa: BLE001 - detection must never raise
        return False
    return any(c in cols for c in _SIGNATURE)


def detect(path: Path) -> bool:
    """A W&B history export (has ``_step`` or ``train/global_step``), or a tree of them."""
    path = Path(path)
    if path.is_file():
        return _is_history(path)
    return find_first(path, _is_history, max_depth=3, max_entries=2000)


def read_wandb_config(path: Path) -> dict:
    """A W&B ``config.yaml`` (``key:`` then ``  value: <scalar>``) or a flat ``config.json``."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return {k: (v.get("value") if isinstance(v, dict) and "value" in v else v)
                for k, v in data.items()}
    out, key = {}, None
    for line in text.splitlines():
        m = re.match(r"^([^\s#][^:]*):\s*$", line)
        if m:
            key = m.group(1).strip()
            continue
        m = re.match(r"^  value:\s*(.*?)\s*$", line)
        if m and key is not None:
            val = m.group(1)
            if val == "":  # a nested value (W&B's own _wandb block): not a config scalar
                continue
            if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
                val = val[1:-1]
            elif val in ("null", "~"):
                val = None
            out[key] = val
    return out


def _side(f: Path, names) -> Path | None:
    for n in names:
        p = f.parent / n
        if p.is_file():
            return p
    return None


def _run_meta(f: Path, single: bool):
    stem = f.name[: -len(f.suffix)]
    cfg_names = [f"{stem}.config.json"] + (["config.json", "config.yaml", "files/config.yaml"]
                                           if single else [])
    sum_names = [f"{stem}.summary.json"] + (["wandb-summary.json", "files/wandb-summary.json"]
                                            if single else [])
    cfg_file, sum_file = _side(f, cfg_names), _side(f, sum_names)
    config = guarded(cfg_file, "a W&B config", lambda: read_wandb_config(cfg_file)) \
        if cfg_file else None
    summary = None
    if sum_file:
        summary = guarded(sum_file, "a W&B summary (JSON object)",
                          lambda: json.loads(sum_file.read_text("utf-8")))
    return config, summary, sum_file


def _run_summaries(summary, sum_file, run_names, f: Path, run_col: str, res: Resolver) -> dict:
    """The summary of each run of a ``--map run=COLUMN`` file.

    A summary keyed by run (``{run: {...}}``) gives each run its own; a flat one is that of
    the file's only run, and of no run when the file holds several (it cannot say which of
    them finished: noted).
    """
    if not isinstance(summary, dict):
        return {r: None for r in run_names}
    if any(isinstance(summary.get(r), dict) for r in run_names):
        return {r: summary.get(r) if isinstance(summary.get(r), dict) else None
                for r in run_names}
    if len(run_names) == 1:
        return {run_names[0]: summary}
    res.note(f"{sum_file}: one summary for the {len(run_names)} runs of {f} (--map "
             f"run={run_col}) cannot say which of them finished: not used; key it by run "
             "({run: summary}) to use it")
    return {r: None for r in run_names}


def _load(f: Path) -> dict:
    """Columns of a history file: float64 arrays (NaN where not logged); other types as
    object arrays."""
    cols = {}
    if f.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(f, use_threads=False)
        for name, col in zip(table.column_names, table.columns):
            t = col.type
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
                cols[name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
            else:
                cols[name] = np.array(col.to_pylist(), dtype=object)
        return cols

    # every cell as written: pandas' default would turn 'n/a' or '0.6x' into NaN, and a NaN
    # in a wide export is a key not logged, so a malformed value would vanish
    df = pd.read_csv(f, dtype=str, keep_default_na=False, low_memory=False)
    for name in df.columns:
        cells = df[name].str.strip()
        blank = (cells == "").to_numpy()
        low = cells.str.lower()
        vals = pd.to_numeric(cells.where(~blank), errors="coerce").to_numpy(np.float64,
                                                                           copy=True)
        boolean = low.isin(["true", "false"]).to_numpy()
        vals[boolean] = (low[boolean] == "true").to_numpy(np.float64)
        bad = ~blank & np.isnan(vals) & ~low.isin(["nan", "+nan", "-nan"]).to_numpy()
        if bad.any() and (bad | blank).all():  # a text column (a name, a date)
            cols[str(name)] = np.array([None if b else c for b, c in zip(blank, cells)],
                                       dtype=object)
        elif bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParseError(f, i + 2, f"column {excerpt(str(name))}: expected a number, got "
                             f"{excerpt(df[name].iloc[i])}")
        else:
            cols[str(name)] = vals
    return cols


def _numeric(v: np.ndarray) -> np.ndarray:
    if v.dtype == np.float64:
        return v

    return pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype=np.float64,
                                                                 na_value=np.nan)


def _one_run(cols: dict, *, source, run_dir, name, config, summary, step_col, res: Resolver):
    task_hint = None
    if config:
        task_hint = next((config[k] for k in _TASK_KEYS if config.get(k)), None)
    ident = res.identity(Path(source), run_dir=run_dir, name=name, config=config,
                         task_hint=task_hint)
    g_all = _numeric(cols[step_col])
    if np.isinf(g_all).any():
        raise ParseError(source, None, f"column {step_col!r}: expected finite steps, got "
                         f"{g_all[np.isinf(g_all)][0]}")
    fractional = ~np.isnan(g_all) & (g_all != np.round(g_all))
    if fractional.any():
        i = int(np.flatnonzero(fractional)[0])
        where = (f" (row with _step {_numeric(cols['_step'])[i]:g})" if "_step" in cols
                 and step_col != "_step" else "")
        raise ParseError(source, None, f"column {step_col!r}: expected integer steps, got "
                         f"{float(g_all[i])!r}{where}")
    n = len(g_all)
    order = _numeric(cols["_step"]) if "_step" in cols else np.arange(n, dtype=np.float64)
    series, logged = {}, {}
    no_step = np.isnan(g_all)
    if no_step.any():
        valued = [c for c, v in cols.items() if not c.startswith("_") and c != step_col
                  and c != "train/global_step" and (~np.isnan(_numeric(v)) & no_step).any()]
        if valued:
            res.note(f"{source}: {int(no_step.sum())} rows without a {step_col!r} value were "
                     f"not read (they hold {', '.join(sorted(valued)[:3])}"
                     f"{', ...' if len(valued) > 3 else ''})")
    for col, v in cols.items():
        if col.startswith("_") or col == step_col or col == "train/global_step":
            continue
        vals = _numeric(v)
        ok = ~np.isnan(vals) & ~np.isnan(g_all)
        logged[col] = ok
        if ok.any():
            series[hf_key(col)] = Series.of(g_all[ok].astype(np.int64), vals[ok], order[ok])
    evals, metric, baseline = res.validation(ident, series, source)
    # end-of-training row: train/train_runtime, or a row that logged train/epoch and nothing else
    end_rows = logged.get("train/" + END_KEY, np.zeros(n, bool)).copy()
    if "train/epoch" in logged:
        others = np.zeros(n, bool)
        for col, ok in logged.items():
            if col != "train/epoch":
                others |= ok
        end_rows |= logged["train/epoch"] & ~others
    end_order = n_steps = None
    if end_rows.any():
        i = np.flatnonzero(end_rows)[np.argmax(order[end_rows])]
        end_order, n_steps = float(order[i]), int(g_all[i])
    finite = g_all[~np.isnan(g_all)]
    last = int(finite.max()) if len(finite) else None
    if end_order is not None or (isinstance(summary, dict) and END_KEY in summary):
        complete = True
        n_steps = last if n_steps is None else n_steps
    elif "train/epoch" in cols and (~np.isnan(_numeric(cols["train/epoch"]))).any():
        complete = False  # this run logged train/epoch: the Trainer wrote it, and it did not end
    else:
        complete, n_steps = True, last
        res.note("W&B runs without the Trainer's end-of-training row or summary are taken as "
                 "complete")
    return assemble(source=str(source), ident=ident, metric=metric, baseline=baseline,
                    evals=evals, train=train_loss(series), train_offset=-1, end_order=end_order,
                    complete=complete, n_steps=n_steps,
                    steps_per_epoch=infer_steps_per_epoch(series.get("epoch")))


def _read_file(f: Path, single: bool, res: Resolver, opts, result: ReadResult):
    cols = guarded(f, "a W&B history export (CSV or Parquet)", lambda: _load(f))
    mapping = opts.mapping or {}
    step_col = mapping.get("step")
    if step_col is None:
        step_col = "train/global_step" if "train/global_step" in cols else "_step"
        if step_col == "_step":
            res.note("W&B history without train/global_step: W&B's _step (its count of log "
                     "calls) is used as the step; give --map step=COLUMN if that is wrong")
    if step_col not in cols:
        raise ParseError(f, 1, f"expected a step column {step_col!r}; columns: "
                         f"{list(cols)[:12]}")
    config, summary, sum_file = _run_meta(f, single)
    run_col = mapping.get("run")
    if run_col is None:
        result.records.append(_one_run(cols, source=f, run_dir=f.parent, name=None,
                                       config=config, summary=summary, step_col=step_col,
                                       res=res))
        return
    if run_col not in cols:
        raise ParseError(f, 1, f"--map run={run_col}: no such column; columns: "
                         f"{list(cols)[:12]}")
    runs = cols.pop(run_col)
    keys = np.array([str(r) for r in runs], dtype=object)
    run_names = sorted(set(keys))
    summaries = _run_summaries(summary, sum_file, run_names, f, run_col, res)
    for rname in run_names:
        mask = keys == rname
        sub = {c: v[mask] for c, v in cols.items()}
        source = f"{f}#{rname}"
        rec = parse_error_or_skip(opts, result, source, lambda sub=sub, s=source, r=rname:
                                  _one_run(sub, source=s, run_dir=f.parent, name=r,
                                           config=config, summary=summaries[r],
                                           step_col=step_col, res=res))
        if rec is not None:
            result.records.append(rec)


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every W&B history export under ``path`` (rules: module docstring).

    Returns
    -------
    ReadResult
        One record per history file (per run value with ``--map run=COLUMN``).
    """
    path = Path(path)
    res = Resolver(path, opts)
    result = ReadResult(records=[])
    if path.is_file():
        files = [path]
    else:
        files = list(walk_files(path, _is_history))
    if not files:
        raise ParseError(path, None, "expected W&B history exports (.parquet or .csv with a "
                         "_step or train/global_step column)")
    per_dir: dict[Path, int] = {}
    for f in files:
        per_dir[f.parent] = per_dir.get(f.parent, 0) + 1
    for f in files:
        parse_error_or_skip(opts, result, f,
                            lambda f=f: _read_file(f, per_dir[f.parent] == 1, res, opts, result))
    res.finish(result)
    return result

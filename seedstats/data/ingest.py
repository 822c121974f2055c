"""``seedstats ingest`` and ``seedstats replica``: any supported source to a normalized
dataset, and a dataset back to the layouts seedstats reads.

The one module that names every source format (:data:`FORMATS`); each is a module of
:mod:`seedstats.data.formats` implementing the protocol of
:mod:`seedstats.data.formats.base`. :func:`ingest` picks the format, reads, builds the
tables with :func:`seedstats.data.records.build_tables` and returns the dataset with a
report whose counts equal what was read; :func:`export` writes one.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seedstats.data import schema
from seedstats.data.dataset import Dataset
from seedstats.data.formats import rawlog, release
from seedstats.data.formats.base import IngestOptions, special_files, special_kind
from seedstats.data.formats.sweeps import ROLES, SystemPattern
from seedstats.data.records import as_utf8, build_tables, coerce
from seedstats.errors import DataError, SeedstatsError

__all__ = ["FORMATS", "EXPORT_FORMATS", "IngestReport", "KEY_COLUMNS", "FILE_COLUMNS",
           "key_table", "combine_keys", "file_table", "combined_report", "ingest", "merge",
           "detect_format", "report", "export"]

#: Format name -> module implementing ``detect``/``read``, in detection order.
FORMATS = {
    "release": "seedstats.data.formats.release",
    "rawlog": "seedstats.data.formats.rawlog",
    "jsonl": "seedstats.data.formats.jsonl",
    "hf": "seedstats.data.formats.hf_trainer",
    "lightning": "seedstats.data.formats.lightning",
    "ray": "seedstats.data.formats.raytune",
    "tensorboard": "seedstats.data.formats.tensorboard",
    "optuna": "seedstats.data.formats.optuna_storage",
    "mlflow": "seedstats.data.formats.mlflow",
    "wandb-offline": "seedstats.data.formats.wandb_offline",
    "wandb": "seedstats.data.formats.wandb",
    "mosbach": "seedstats.data.formats.mosbach",
    "table": "seedstats.data.formats.longtable",
}


@dataclass
class IngestReport:
    """Counts of one ingest, per task, equal to what was written.

    Attributes
    ----------
    per_task : DataFrame
        Index ``task``; columns ``trials``, ``evals``, ``loss_steps``, ``incomplete``,
        ``flagged``, ``nan_values``, ``diverged``.
    skipped : list of (str, str)
        Files skipped under ``--skip-bad`` and why.
    notes : list of str
    keys : DataFrame
        Every key the sweep readers saw, with columns :data:`KEY_COLUMNS`: the format, the
        key as logged, its role (validation metric, validation loss, training loss,
        bookkeeping, ignored), the runs and values that logged it, and why.
    files : DataFrame
        One row per run read (its file or directory), columns :data:`FILE_COLUMNS`: the
        evaluations and training-loss values kept, the values set aside (repeats of a step,
        ``--duplicates``) and the run's flags.
    """

    per_task: pd.DataFrame
    skipped: list[tuple[str, str]]
    notes: list[str]
    keys: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(
        columns=KEY_COLUMNS))
    files: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(
        columns=FILE_COLUMNS))

    def __str__(self) -> str:
        lines = []
        if len(self.keys):
            for fmt, grp in self.keys.groupby("format", sort=False):
                lines.append(f"keys read (format {fmt}):")
                shown = grp.drop(columns="format").to_string(index=False)
                lines += ["  " + line for line in shown.splitlines()]
        lines.append(self.per_task.to_string())
        tot = self.per_task.sum(numeric_only=True)
        lines.append(f"total: {int(tot.get('trials', 0))} trials, {int(tot.get('evals', 0))} "
                     f"evaluations, {int(tot.get('loss_steps', 0))} loss steps; "
                     f"{int(tot.get('incomplete', 0))} incomplete, {int(tot.get('flagged', 0))} "
                     f"flagged, {len(self.skipped)} files skipped")
        odd = self.files[(self.files["set_aside"] > 0) | (self.files["flags"] != "")]
        if len(odd):
            lines.append(f"runs with values set aside or flags ({len(odd)} of "
                         f"{len(self.files)}):")
            shown = odd.head(20).to_string(index=False)
            lines += ["  " + line for line in shown.splitlines()]
            if len(odd) > 20:
                lines.append(f"  ... and {len(odd) - 20} more (IngestReport.files)")
        lines += [f"skipped {p}: {why}" for p, why in self.skipped]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


#: Columns of :attr:`IngestReport.files`.
FILE_COLUMNS = ["source", "evaluations", "loss_values", "set_aside", "flags"]


def file_table(records) -> pd.DataFrame:
    """What was kept and set aside of each run read (:data:`FILE_COLUMNS`)."""
    rows = [(as_utf8(rec.source),
             sum(len(c.steps) + (c.before is not None) for c in rec.curves.values()),
             len(rec.train_loss), int(rec.set_aside), ",".join(rec.flags)) for rec in records]
    return pd.DataFrame(rows, columns=FILE_COLUMNS).sort_values("source", kind="stable"
                                                                 ).reset_index(drop=True)


#: Columns of :attr:`IngestReport.keys` (and of ``dataset.json``'s ``keys``).
KEY_COLUMNS = ["format", "key", "role", "runs", "values", "reason"]


def key_table(per_format) -> pd.DataFrame:
    """The key classification of every source, ``[(format, {key: [role, reason, runs,
    values]}), ...]``, as one table (:data:`KEY_COLUMNS`), sorted by format, role, key."""
    rows = [(fmt, as_utf8(str(k)), role, runs, values, as_utf8(why)) for fmt, keys in per_format
            for k, (role, why, runs, values) in keys.items()]
    return combine_keys([pd.DataFrame(rows, columns=KEY_COLUMNS)])


def combine_keys(tables) -> pd.DataFrame:
    """Key tables (:data:`KEY_COLUMNS`) as one, the counts of a key of one format added up
    (several sources of one format), sorted by format, role, key."""
    df = pd.concat(list(tables), ignore_index=True)[KEY_COLUMNS]
    if len(df) > 1:
        df = (df.groupby(["format", "key"], sort=False, as_index=False)
              .agg(role=("role", "first"), runs=("runs", "sum"), values=("values", "sum"),
                   reason=("reason", "first")))[KEY_COLUMNS]
    order = {r: i for i, r in enumerate(ROLES)}
    df["_r"] = df["role"].map(order).fillna(len(order))
    return df.sort_values(["format", "_r", "key"], kind="stable").drop(columns="_r"
                                                                    ).reset_index(drop=True)


def report(ds: Dataset, skipped=(), notes=(), keys=None, duplicates="last",
           files=None) -> IngestReport:
    """Count what a dataset holds, per task (the report printed after every ingest)."""
    t = ds.trials
    tasks = ds.tasks
    ev = ds.evals.groupby("task", observed=True).size()
    tl = ds.train_loss.groupby("task", observed=True).size()
    nan_e = ds.evals[ds.evals["value"].isna()].groupby("task", observed=True).size()
    nan_l = ds.train_loss[ds.train_loss["loss"].isna()].groupby("task", observed=True).size()
    rows = []
    for task in tasks:
        tt = t[t["task"] == task]
        rows.append({
            "task": task, "trials": len(tt), "evals": int(ev.get(task, 0)),
            "loss_steps": int(tl.get(task, 0)), "incomplete": int((~tt["complete"]).sum()),
            "flagged": int((tt["flags"] != "").sum()),
            "nan_values": int(nan_e.get(task, 0) + nan_l.get(task, 0)),
            "diverged": int(tt["diverged"].fillna(False).sum()),
        })
    cols = ["task", "trials", "evals", "loss_steps", "incomplete", "flagged", "nan_values",
            "diverged"]
    notes = list(notes)
    tokens = t["flags"].astype(str).str.split(",")
    for flag, what in (("conflicting_steps", "logged a step more than once with different "
                                             "values"),
                       ("duplicate_steps", "logged a step more than once with the same value")):
        n = int(tokens.map(lambda f, flag=flag: flag in f).sum())
        if n:
            notes.append(f"{n} trial(s) {what}: the value logged "
                         f"{'first' if duplicates == 'first' else 'last'} at each step was kept, "
                         f"the earlier ones set aside (flag {flag})")
    keys = pd.DataFrame(columns=KEY_COLUMNS) if keys is None else keys
    files = pd.DataFrame(columns=FILE_COLUMNS) if files is None else files
    return IngestReport(pd.DataFrame(rows, columns=cols).set_index("task"), list(skipped),
                        notes, keys, files)


def combined_report(ds: Dataset, reports, duplicates="last") -> IngestReport:
    """One report for several ingests merged into ``ds`` (``seedstats ingest A B --system a
    --system b``): their skipped files, notes, key tables and runs together."""
    reports = list(reports)
    return report(ds, [s for r in reports for s in r.skipped],
                  list(dict.fromkeys(n for r in reports for n in r.notes)),
                  combine_keys(r.keys for r in reports), duplicates,
                  pd.concat([r.files for r in reports], ignore_index=True))


def _module(name: str):
    return importlib.import_module(FORMATS[name])


def detect_format(src) -> str:
    """Name of the format of ``src`` (the first whose ``detect`` accepts it)."""
    src = Path(src)
    if not src.exists():
        raise DataError(f"SRC {src}: no such file or directory")
    for name in FORMATS:
        try:
            mod = _module(name)
        except ModuleNotFoundError:
            continue
        if mod.detect(src):
            return name
    raise DataError(f"SRC {src}: cannot tell its format; give --format one of "
                    f"{', '.join(FORMATS)}")


class _ArgumentTypeError(SeedstatsError, TypeError):
    """An argument of :func:`ingest` of the wrong type (a user error, and a TypeError)."""


_OPTION_TYPES = {"skip_bad": "True or False", "task": "a string or None",
                 "metric": "a string or None", "baseline": "a finite number or None",
                 "seeds_from": "a string or None", "system": "a non-empty string or None",
                 "systems_from": "a string or None", "lower_is_better": "True, False or None",
                 "duplicates": "'error', 'last' or 'first'",
                 "mapping": "a dict of KEY -> COLUMN strings, e.g. {'run': 'trial'}"}


def _option_ok(name: str, value) -> bool:
    if name == "skip_bad":
        return isinstance(value, bool)
    if name == "duplicates":
        return value in ("error", "last", "first")
    if value is None:
        return True
    if name == "lower_is_better":
        return isinstance(value, bool)
    if name == "system":
        return isinstance(value, str) and bool(value.strip())
    if name == "baseline":
        return (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and math.isfinite(value))
    if name == "mapping":
        return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in value.items())
    return isinstance(value, str)


def _as_options(options) -> IngestOptions:
    """``options`` of :func:`ingest` as checked :class:`IngestOptions`.

    ``None`` gives the defaults; a mapping is taken as the keyword arguments of
    ``IngestOptions`` (an unknown key is an error naming it and the valid ones).
    """
    names = [f.name for f in dataclasses.fields(IngestOptions)]
    if options is None:
        return IngestOptions()
    if isinstance(options, Mapping):
        unknown = [k for k in options if k not in names]
        if unknown:
            close = [m for k in unknown if isinstance(k, str)
                     for m in difflib.get_close_matches(k, names, n=1)]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise DataError(f"options: unknown option(s) {', '.join(map(repr, unknown))}"
                            f"{hint}; expected some of {', '.join(names)}")
        values = dict(options)
    elif isinstance(options, IngestOptions):
        values = {n: getattr(options, n) for n in names}
    else:
        raise _ArgumentTypeError(
            "options: expected seedstats.data.IngestOptions(...) or a dict of its "
            f"fields ({', '.join(names)}), got {type(options).__name__}")
    for name, value in values.items():
        if not _option_ok(name, value):
            flag = "--map" if name == "mapping" else "--" + name.replace("_", "-")
            raise _ArgumentTypeError(f"option {name} ({flag}): expected {_OPTION_TYPES[name]}, "
                                     f"got {value!r}")
    values["mapping"] = dict(values.get("mapping") or {})
    return IngestOptions(**values)


def ingest(src, *, format: str = "auto", options: IngestOptions | Mapping | None = None
           ) -> tuple[Dataset, IngestReport]:
    """Read ``src`` in any supported format into a normalized :class:`Dataset`.

    Parameters
    ----------
    src : str or Path, or a list of them
        A file or directory; several are read with the same options into one dataset (for
        example one directory per system, with ``systems_from``).
    format : str
        ``"auto"`` (detect) or a key of :data:`FORMATS`.
    options : IngestOptions or dict, optional
        Reader options; a dict is taken as ``IngestOptions(**options)``, e.g.
        ``{"task": "rte", "seeds_from": "wi{wi}_do{do}", "system": "bert-base"}``.

    Returns
    -------
    (Dataset, IngestReport)

    Raises
    ------
    DataError, ParseError
        Unreadable or malformed input (the message names file, line and what was
        expected), an unknown format or option name, duplicate trials.
    SeedstatsError (also a TypeError)
        ``src``, ``format`` or an option of the wrong type.
    """
    options = _as_options(options)
    sources = list(src) if isinstance(src, (list, tuple)) else [src]
    if not sources:
        raise _ArgumentTypeError("src: expected a path or a non-empty list of paths")
    for one in sources:
        if not isinstance(one, (str, os.PathLike)):
            raise _ArgumentTypeError(f"src: expected a path (str or pathlib.Path), got "
                                     f"{type(one).__name__}")
    if not isinstance(format, str):
        raise _ArgumentTypeError(f"format: expected 'auto' or one of {', '.join(FORMATS)}, "
                                 f"got {format!r}")
    systems = SystemPattern(options.systems_from) if options.systems_from else None
    records, skipped, notes, formats, keys = [], [], [], [], []
    for one in map(Path, sources):
        fmt, result, special = _read(one, format, options)
        for rec in result.records:
            if rec.system is None and options.system:
                rec.system = options.system
            elif rec.system is None and systems is not None:
                rec.system = _system_of(systems, rec.source, one)
        records += result.records
        skipped += result.skipped
        notes += [n for n in result.notes if n not in notes]
        formats.append(fmt)
        keys.append((fmt, result.keys))
        if special:
            shown = ", ".join(f"{p} ({what})" for p, what in special[:5])
            more = f" and {len(special) - 5} more" if len(special) > 5 else ""
            notes.append(f"not read: {len(special)} entries that are neither regular files "
                         f"nor real directories: {shown}{more}")
    keys = key_table(keys)
    if not any(cur.before is not None or cur.after is not None or len(cur.steps)
               for rec in records for cur in rec.curves.values()):
        steps = sum(len(rec.train_loss) for rec in records)
        seen = ", ".join(f"{k} ({role})" for k, role in zip(keys["key"][:12], keys["role"]))
        more = f" and {len(keys) - 12} more" if len(keys) > 12 else ""
        raise DataError(f"SRC {', '.join(map(str, sources))}: {len(records)} run(s) and {steps} "
                        "training-loss step(s) read, but no validation evaluation: expected "
                        "validation keys such as eval_*, val_*, valid_* or validation_* (or "
                        "--metric KEY, as logged)"
                        + (f"; keys seen: {seen}{more}" if seen else ""))
    lower, direction_notes = _directions(records, options.lower_is_better)
    notes += direction_notes
    trials, evals, loss = build_tables(records, {m for m, low in lower.items() if low})
    provenance = ({"source": str(sources[0]), "format": formats[0]} if len(sources) == 1 else
                  {"sources": [str(p) for p in sources], "formats": formats})
    meta = {
        "synthetic": False,
        "provenance": provenance,
        "skipped": [list(s) for s in skipped],
        "lower_is_better": lower,
        "keys": keys.to_dict(orient="records"),
    }
    ds = Dataset(trials, evals, loss, meta)
    return ds, report(ds, skipped, notes, keys, options.duplicates, file_table(records))


def _read(src: Path, format: str, options: IngestOptions):
    """Read one source: ``(format, ReadResult, special entries not read)``."""
    what = special_kind(src)
    if what:
        raise DataError(f"SRC {src}: is {what}; expected a regular file or a directory")
    if format == "auto":
        try:
            format = detect_format(src)
        except DataError:
            if not (options.mapping and src.suffix in (".csv", ".tsv", ".parquet", ".pq")):
                raise
            format = "table"  # --map names the columns of a table under other names
    elif format not in FORMATS:
        raise DataError(f"--format: expected auto or one of {', '.join(FORMATS)}, got {format!r}")
    if not src.exists():
        raise DataError(f"SRC {src}: no such file or directory")
    special = special_files(src) if src.is_dir() else []
    try:
        mod = _module(format)
    except ModuleNotFoundError as exc:
        raise DataError(f"--format {format}: not available ({exc})") from None
    result = mod.read(src, options)
    if not result.records:
        raise DataError(f"SRC {src}: no trials found in format {format!r}"
                        + (f" ({len(result.skipped)} files skipped)" if result.skipped else ""))
    return format, result, special


def _system_of(pattern: SystemPattern, source: str, root: Path) -> str:
    """``--systems-from`` on a record's source, relative to the parent of the source root."""
    text = Path(source).as_posix()
    try:
        text = Path(source).relative_to(root.parent).as_posix()
    except ValueError:
        pass
    found = pattern.system(text)
    if found is None:
        raise DataError(f"{source}: no system: its path {text!r} does not match "
                        f"--systems-from {pattern.pattern!r}")
    return found


def _directions(records, lower_is_better) -> tuple[dict, list[str]]:
    """Metric -> lower is better, for every metric of ``records``, and the notes to print.

    ``lower_is_better`` (``--lower-is-better``/``--higher-is-better``) sets the headline
    metrics; every other metric, and the headline ones when it is None, go by name
    (:func:`seedstats.data.schema.lower_is_better_default`).
    """
    heads = set()
    for rec in records:
        info = schema.TASKS.get(rec.task)
        head = rec.metric or (info.metric if info else None)
        if head:
            heads.add(head)
    names = heads | {m for rec in records for m in rec.curves}
    out = {m: schema.lower_is_better_default(m) for m in sorted(names)}
    notes = []
    if lower_is_better is not None:
        out.update({m: bool(lower_is_better) for m in heads})
    else:
        low = sorted(m for m in heads if out[m])
        if low:
            notes.append(f"headline metric {', '.join(low)}: lower is better (by its name; "
                         "--higher-is-better to change)")
    return out, notes


def merge(datasets, systems=None) -> Dataset:
    """Combine datasets of different systems into one (``seedstats merge``).

    Parameters
    ----------
    datasets : sequence of Dataset
        Two or more; each keeps its systems, and no system may be in two of them.
    systems : sequence of str, optional
        A new name for each dataset's system, in order (each dataset must then hold one
        system): to compare, say, the embedded replica with your own sweep.

    Returns
    -------
    Dataset
        The tables concatenated; trial ids are prefixed with ``"<system>:"`` when there are
        several systems (as :func:`~seedstats.data.records.build_tables` does), so they stay
        unique. ``meta["provenance"]["merged"]`` lists the inputs.

    Raises
    ------
    DataError
        Fewer than two datasets, a system in two of them, a metric whose direction differs
        between them, or ``systems`` of the wrong length.
    """
    datasets = list(datasets)
    if len(datasets) < 2:
        raise DataError(f"merge: expected at least two datasets, got {len(datasets)}")
    if systems is not None:
        systems = list(systems)
        if len(systems) != len(datasets):
            raise DataError(f"--systems: expected one name per dataset ({len(datasets)}), got "
                            f"{len(systems)}")
    owner: dict[str, str] = {}
    lower: dict[str, bool] = {}
    parts = {name: [] for name in schema.TABLES}
    for i, ds in enumerate(datasets):
        label = str(ds.path) if ds.path is not None else f"dataset {i + 1}"
        tables = [ds.trials, ds.evals, ds.train_loss]
        if systems is not None:
            if len(ds.systems) != 1:
                raise DataError(f"--systems: {label} holds {len(ds.systems)} systems "
                                f"({', '.join(ds.systems)}); it can be renamed only when it "
                                "holds one")
            tables = [t.assign(system=systems[i]) for t in tables]
        for sysname in sorted(set(map(str, tables[0]["system"].unique()))):
            if sysname in owner:
                raise DataError(f"merge: system {sysname!r} is in both {owner[sysname]} and "
                                f"{label}; name them apart (--systems A B, or ingest with "
                                "--system NAME)")
            owner[sysname] = label
        given = ds.meta.get("lower_is_better") or {}
        for metric in set(map(str, ds.evals["metric"].unique())) | set(given):
            low = ds.lower_is_better(metric)
            if lower.setdefault(metric, low) != low:
                raise DataError(f"merge: metric {metric!r} is lower-is-better in one dataset "
                                f"and higher-is-better in another ({label})")
        for name, t in zip(schema.TABLES, tables):
            parts[name].append(t)
    multi = len(owner) > 1
    out = []
    for name, cols in zip(schema.TABLES, (schema.TRIALS_COLUMNS, schema.EVALS_COLUMNS,
                                          schema.TRAIN_LOSS_COLUMNS)):
        df = pd.concat([t.astype({c: "object" for c in ("task", "system", "trial_id",
                                                        "metric", "phase") if c in t})
                        for t in parts[name]], ignore_index=True)
        if multi:
            sysname, tid = df["system"].astype(str), df["trial_id"].astype(str)
            prefixed = [t if t.startswith(f"{s_}:") else f"{s_}:{t}"
                        for s_, t in zip(sysname, tid)]
            df["trial_id"] = prefixed
        out.append(coerce(df, cols))
    dup = out[0]["trial_id"].duplicated()
    if dup.any():
        raise DataError(f"merge: trial {out[0]['trial_id'][dup].iloc[0]!r} is in two datasets")
    kinds = {"synthetic_systems": [], "digitized_systems": []}
    for i, ds in enumerate(datasets):
        names = [systems[i]] if systems is not None else ds.systems
        if ds.synthetic:
            kinds["synthetic_systems"] += names
        if ds.meta.get("digitized"):
            kinds["digitized_systems"] += names
    meta = {
        "synthetic": any(ds.synthetic for ds in datasets),
        "digitized": any(bool(ds.meta.get("digitized")) for ds in datasets),
        **{k: sorted(v) for k, v in kinds.items() if v},
        "provenance": {"merged": [{"dataset": owner_label, "systems": sorted(
            s_ for s_, o in owner.items() if o == owner_label)}
            for owner_label in dict.fromkeys(owner.values())]},
        "lower_is_better": dict(sorted(lower.items())),
    }
    keys = [{**row, "systems": ", ".join(ds.systems if systems is None else [systems[i]])}
            for i, ds in enumerate(datasets) for row in ds.meta.get("keys") or []]
    if keys:  # how each input's ingest read its keys, with the systems it holds
        meta["keys"] = keys
    return Dataset(*out, meta)


#: Layouts :func:`export` writes.
EXPORT_FORMATS = ("parquet", "release", "rawlog")


def export(ds: Dataset, out, format: str = "parquet") -> Path:
    """Write a dataset to ``out`` in one of the layouts seedstats reads back.

    Parameters
    ----------
    ds : Dataset
        For example :func:`seedstats.load` ``()``, the synthetic replica (``seedstats replica``).
    out : str or Path
        Target: a directory (``parquet``, ``rawlog``) or a file (``release``).
    format : {"parquet", "release", "rawlog"}
        ``parquet``: a normalized dataset (the same tables as ``seedstats ingest``);
        ``release``: the released pickle layout (:mod:`seedstats.data.formats.release`);
        ``rawlog``: one text log per trial, the authors' layout.

    Returns
    -------
    Path
        What was written.

    Raises
    ------
    ValueError
        An unknown ``format``.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format: expected one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    out = Path(out)
    if format == "parquet":
        return ds.save(out)
    if format == "release":
        return Path(release.write_release(ds, out))
    return Path(rawlog.write_rawlogs(ds, out))

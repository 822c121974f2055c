"""Read and write normalized datasets: three Parquet files and ``dataset.json``.

Writes are atomic: the dataset is written into a temporary directory beside the
target and renamed into place, so a crash never leaves a half-written dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from seedstats.data import schema
from seedstats.data.records import paper_scores
from seedstats.errors import DataError, SeedstatsNote

__all__ = ["META_FILE", "write_dataset", "read_dataset", "is_dataset", "writing_directory",
           "writing_file", "recover", "lower_is_better_map"]

META_FILE = "dataset.json"


def is_dataset(path) -> bool:
    """Whether ``path`` is a directory holding a normalized dataset."""
    p = Path(path)
    return p.is_dir() and (p / META_FILE).is_file() and (p / "trials.parquet").is_file()


def write_dataset(path, trials, evals, train_loss, meta: dict) -> Path:
    """Write the three tables and their metadata to the directory ``path``, atomically.

    ``meta`` is stored as ``dataset.json`` with ``schema_version`` and, for every metric,
    ``lower_is_better`` (:func:`lower_is_better_map`) added. An existing
    dataset at ``path`` is replaced; an existing non-empty directory that is not a
    dataset, or a dataset directory that also holds other files, is refused, so
    nothing of the user's is overwritten.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if path.exists() and not is_dataset(path) and (not path.is_dir() or any(path.iterdir())):
        raise DataError(f"--out {path}: exists and is not a seedstats dataset; "
                        "choose a new or empty directory")
    meta = {**meta, "schema_version": schema.SCHEMA_VERSION,
            "lower_is_better": lower_is_better_map(trials, evals, meta.get("lower_is_better"))}
    # replace a dataset, but only if it holds nothing besides the dataset's own files
    ours = {META_FILE, *(f"{name}.parquet" for name in schema.TABLES)}
    with writing_directory(path, "--out", overwrite=True,
                           is_ours=lambda p: p.name in ours) as tmp:
        for name, df, cols in (("trials", trials, schema.TRIALS_COLUMNS),
                               ("evals", evals, schema.EVALS_COLUMNS),
                               ("train_loss", train_loss, schema.TRAIN_LOSS_COLUMNS)):
            if list(df.columns) != list(cols):
                raise DataError(f"{name}: columns {list(df.columns)} differ from the "
                                f"schema {list(cols)}")
            table = pa.Table.from_pandas(df, preserve_index=False)
            pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
        with open(tmp / META_FILE, "w") as fh:
            json.dump(meta, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
    return path


@contextmanager
def writing_directory(directory, name: str = "directory", overwrite: bool = False,
                      is_ours=None):
    """Context manager for writers of a directory of files: write, then swap in atomically.

    Yields a temporary directory beside ``directory``; on success it replaces
    ``directory``, on failure it is removed and ``directory`` is untouched. A missing or
    empty ``directory`` is fine; a non-empty one is refused unless ``overwrite`` is true
    and every non-hidden entry in it is a file that passes ``is_ours(path)``. Hidden entries
    of the old directory (``.git``, notes: seedstats writes none) are moved into the new one.

    What an interrupted write left beside ``directory`` is dealt with first, with a
    :class:`~seedstats.errors.SeedstatsNote`: its temporary directory is removed, and the
    previous copy kept during the swap is put back (when ``directory`` is missing) or its
    hidden entries moved into ``directory`` and the rest removed. Leftovers of a process
    that is still running are left alone.

    Raises
    ------
    DataError
        ``directory`` is a file, or holds files that are not ours.
    """
    directory = Path(directory)
    recover(directory)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{name} {directory}: exists and is not a directory")
    if directory.is_dir():
        present = [p for p in directory.iterdir() if not p.name.startswith(".")]
        if present and not (overwrite and is_ours is not None
                            and all(p.is_file() and is_ours(p) for p in present)):
            raise DataError(f"{name} {directory}: exists and is not empty; choose a new or "
                            "empty directory" + ("" if overwrite else " (or overwrite=True)"))
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.{os.getpid()}.", suffix=".tmp",
                                dir=directory.parent))
    try:
        # mkdtemp makes the directory private (0700); give it the permissions of mkdir
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        yield tmp
        if directory.exists():
            old = _backup_name(directory, os.getpid())
            os.replace(directory, old)
            os.replace(tmp, directory)
            _move_hidden(old, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _backup_name(directory: Path, pid: int) -> Path:
    return directory.with_name(f".{directory.name}.old-{pid}")


def _move_hidden(src: Path, dst: Path) -> int:
    """Move the hidden entries of ``src`` into ``dst`` (those ``dst`` lacks); their count."""
    n = 0
    for p in src.iterdir():
        if p.name.startswith(".") and not (dst / p.name).exists():
            os.replace(p, dst / p.name)
            n += 1
    return n


def _dead(pid_text: str) -> bool:
    """Whether the process of a leftover's name has ended (a live one may still be writing)."""
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def recover(directory) -> list[str]:
    """Clean up what an interrupted :func:`writing_directory` left beside ``directory``.

    Returns the notes it issued (each also a :class:`~seedstats.errors.SeedstatsNote`).
    """
    directory = Path(directory)
    parent = directory.parent
    notes = []
    if not parent.is_dir():
        return notes
    for old in sorted(parent.glob(f".{directory.name}.old-*")):
        if not old.is_dir() or not _dead(old.name.rsplit("-", 1)[1]):
            continue
        if not directory.exists():
            os.replace(old, directory)
            notes.append(f"{directory}: restored the previous copy from {old.name}, left by "
                         "an interrupted write")
        else:
            kept = _move_hidden(old, directory)
            shutil.rmtree(old, ignore_errors=True)
            notes.append(f"{directory}: removed {old.name}, the previous copy left by an "
                         "interrupted write" + (f" (moved {kept} hidden entries of it back)"
                                                if kept else ""))
    for tmp in sorted(parent.glob(f".{directory.name}.*.tmp")):
        parts = tmp.name[len(directory.name) + 2:].split(".")
        if tmp.is_dir() and len(parts) >= 3 and _dead(parts[0]):
            shutil.rmtree(tmp, ignore_errors=True)
            notes.append(f"{directory}: removed {tmp.name}, the unfinished output of an "
                         "interrupted write")
    for note in notes:
        warnings.warn(note, SeedstatsNote, stacklevel=3)
    return notes


@contextmanager
def writing_file(path):
    """Context manager for writers of one file: write the yielded temporary path, then swap in.

    The temporary file sits beside ``path`` (same file system, hidden name); on success it
    replaces ``path`` atomically, on failure it is removed and ``path`` is untouched. The
    temporary files of writers that were killed (``kill -9`` leaves them) are removed first,
    with a :class:`~seedstats.errors.SeedstatsNote`.
    """
    path = Path(path)
    _remove_dead_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_dead_temporaries(path: Path) -> None:
    """Remove the ``.<name>.<pid>.tmp`` files that killed writers of ``path`` left, with a note."""
    prefix = f".{path.name}."
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefix) and
                 n.endswith(".tmp")]
    except OSError:
        return
    for n in names:
        pid = n[len(prefix):-len(".tmp")]
        if pid.isdigit() and _dead(pid):
            try:
                os.unlink(path.parent / n)
            except OSError:
                continue
            warnings.warn(f"{path}: removed {n}, the unfinished output of an interrupted "
                          "write", SeedstatsNote, stacklevel=4)


def read_dataset(path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Read a dataset written by :func:`write_dataset`.

    Returns ``(trials, evals, train_loss, meta)``.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"--data {path}: no such directory")
    if not is_dataset(path):
        raise DataError(f"--data {path}: not a seedstats dataset (no {META_FILE} and "
                        "trials.parquet); make one with `seedstats ingest SRC --out DIR`")
    with open(path / META_FILE) as fh:
        try:
            meta = json.load(fh)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path / META_FILE}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path / META_FILE}: expected a JSON object, got "
                        f"{type(meta).__name__}")
    version = meta.get("schema_version")
    if version not in range(1, schema.SCHEMA_VERSION + 1) or isinstance(version, bool):
        raise DataError(f"{path}: schema version {version}, this seedstats reads versions 1 "
                        f"to {schema.SCHEMA_VERSION}; re-create it with `seedstats ingest`")
    tables = []
    for name in schema.TABLES:
        f = path / f"{name}.parquet"
        if not f.is_file():
            raise DataError(f"{path}: missing {name}.parquet")
        try:
            tables.append(pd.read_parquet(f))
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{f}: not a readable Parquet file ({msg})") from None
    if version < 3:  # version 3 added the system column and the metrics' direction
        for t in tables:
            if "system" not in t.columns:
                t.insert(1, "system", schema.DEFAULT_SYSTEM)
                if t is not tables[0]:
                    t["system"] = t["system"].astype("category")
        meta = {**meta, "lower_is_better": lower_is_better_map(tables[0], tables[1],
                                                               meta.get("lower_is_better"))}
    if version == 1:  # version 2 added the paper's score: computed from the evaluations
        trials = tables[0]
        lower = {m for m, low in meta["lower_is_better"].items() if low}
        trials.insert(trials.columns.get_loc("best") + 1, "score",
                      paper_scores(trials, tables[1], lower))
    if version != schema.SCHEMA_VERSION:
        meta = {**meta, "schema_version": schema.SCHEMA_VERSION,
                "upgraded_from_schema": version}
    return (*tables, meta)


def lower_is_better_map(trials, evals, given=None) -> dict:
    """Metric -> whether lower is better, for every metric of the tables (``dataset.json``).

    ``given`` (a mapping of metric names to bools, as recorded at ingest) wins; other metrics
    follow :func:`seedstats.data.schema.lower_is_better_default`.
    """
    given = given if isinstance(given, dict) else {}
    names = set(map(str, evals["metric"].dropna().unique())) | set(
        map(str, trials["metric"].dropna().unique()))
    return {m: bool(given[m]) if isinstance(given.get(m), bool)
            else schema.lower_is_better_default(m) for m in sorted(names | set(given))}

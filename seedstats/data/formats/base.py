"""What every source format shares: reader options and results, the per-file read loop,
the skip-or-raise rule of ``--skip-bad`` and the one headline-metric policy.

Each format is one module of :mod:`seedstats.data.formats` exposing

``detect(path: Path) -> bool``
    Whether ``path`` looks like this format (cheap: names and first bytes).
``read(path: Path, opts: IngestOptions) -> ReadResult``
    The trial records, and the files skipped under ``--skip-bad``.
"""

from __future__ import annotations

import gc
import json
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from seedstats.data import schema
from seedstats.data.records import TrialRecord
from seedstats.errors import DataError, ParseError

__all__ = ["IngestOptions", "ReadResult", "parse_error_or_skip", "read_each", "gc_paused",
           "special_kind", "special_files", "excerpt", "MAX_STEP",
           "headline_metric", "read_json_lines", "json_records", "is_sqlite", "record_keys"]


@dataclass
class IngestOptions:
    """Options shared by every reader (each uses those that apply to it).

    Attributes
    ----------
    skip_bad : bool
        Skip malformed files (listed in the report) instead of stopping at the first.
    task : str, optional
        Task name when the source does not record it.
    metric : str, optional
        Headline metric when it cannot be inferred (e.g. ``eval_accuracy``).
    baseline : float, optional
        Majority baseline for the failed-run verdict when the task is not a paper task.
    seeds_from : str, optional
        Path pattern with ``{wi}``, ``{do}`` or ``{seed}`` fields to read seeds from.
    mapping : dict, optional
        Column mapping for long tables (``run=trial,step=global_step,...``; ``system=COL``);
        ``step=KEY`` also for Ray Tune and W&B runs, ``step_is=count|index`` for Optuna and
        W&B runs.
    system : str, optional
        The system (recipe, model, method) every run of this source ran (``--system``).
    systems_from : str, optional
        Path pattern with a ``{system}`` field to read each run's system from
        (``--systems-from '{system}/seed*'``).
    lower_is_better : bool, optional
        Whether lower is better for the headline metric (``--lower-is-better`` /
        ``--higher-is-better``); default by its name (``loss``, ``wer``, ... are lower).
    duplicates : {"error", "last", "first"}
        A step logged more than once with different values (``--duplicates``): an error
        (default), or keep the value logged last (a resumed run) or first; the others are set
        aside, counted and flagged ``conflicting_steps``. Repeats of the same value are always
        collapsed, with a note.
    """

    skip_bad: bool = False
    task: str | None = None
    metric: str | None = None
    baseline: float | None = None
    seeds_from: str | None = None
    mapping: dict = field(default_factory=dict)
    system: str | None = None
    systems_from: str | None = None
    lower_is_better: bool | None = None
    duplicates: str = "error"



@dataclass
class ReadResult:
    """What a reader returns: records, files skipped (path, reason), notes, and the role of
    every logged key (``key -> [role, reason, runs, values]``, see
    :func:`seedstats.data.formats.sweeps.classify_keys`)."""

    records: list[TrialRecord]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    keys: dict = field(default_factory=dict)



#: Steps (and integers read as numbers) must be below this: exact as a float64 and far inside
#: int64, so no cast can wrap a huge step around into a wrong one.
MAX_STEP = 2 ** 53


def excerpt(value, limit: int = 40) -> str:
    """A short, escaped ``repr`` of a value read from a file, for an error message (the
    value may be huge or hold control characters)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # a NumPy scalar shows as the number it holds
    if isinstance(value, (str, bytes)) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # never format more than a few times what is shown
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def special_kind(path) -> str | None:
    """What ``path`` is when it is neither a regular file nor a directory (following
    symlinks): ``"a FIFO"``, ``"a device"``, ``"a socket"``; ``None`` otherwise (missing
    paths too). Only regular files are read: a FIFO would block the reader for ever and a
    device such as ``/dev/zero`` never ends."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def special_files(root, limit: int = 100_000) -> list[tuple[str, str]]:
    """``(path, what)`` of what the readers do not read under ``root``: special files (a FIFO,
    a device, a socket) and symlinked directories (not followed, so a link cannot loop or lead
    outside the tree); hidden entries are not looked at, at most ``limit`` entries visited."""
    root = Path(root)
    found, stack, seen = [], [root], 0
    while stack and seen < limit:
        d = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            seen += 1
            if e.name.startswith("."):
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
            elif e.is_symlink() and e.is_dir():
                found.append((e.path, "a symlinked directory"))
            else:
                what = special_kind(e.path)
                if what:
                    found.append((e.path, what))
    return found


def record_keys(records) -> dict:
    """The key report of a fixed layout (the released pickle, the authors' raw logs): per
    metric, the values its records hold (before, during, after), and the training losses.
    Computed from the records, so a value the layout held but a record lost (a block read
    twice, say) shows against an independent count of the file."""
    keys: dict[str, list] = {}
    for rec in records:
        rows = [("train_loss", "training loss", len(rec.train_loss))]
        rows += [(name, "validation loss" if name == "loss" else "validation metric",
                  (c.before is not None) + len(c.steps) + (c.after is not None))
                 for name, c in rec.curves.items()]
        for k, role, n in rows:
            row = keys.setdefault(k, [role, "", 0, 0])
            row[2] += 1
            row[3] += n
    return keys


def parse_error_or_skip(opts: IngestOptions, result: ReadResult, path, fn):
    """Run ``fn()``; on a :class:`ParseError` skip ``path`` under ``--skip-bad``, else raise.

    Returns ``fn()``'s value, or None when the file was skipped.
    """
    try:
        return fn()
    except ParseError as exc:
        if not opts.skip_bad:
            raise
        result.skipped.append((str(path), str(exc)))
        return None



def read_each(files, opts: IngestOptions, read_file) -> ReadResult:
    """Read one trial per file with ``read_file(path, opts)``, honouring ``--skip-bad``."""
    result = ReadResult([])
    with gc_paused():
        for f in files:
            rec = parse_error_or_skip(opts, result, f, lambda f=f: read_file(f, opts))
            if rec is not None:
                result.records.append(rec)
    return result


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a loader builds millions of small objects.

    Unpickling or parsing the release creates ~10^6 small lists; with the collector on,
    its repeated passes over them make loading about 3 times slower. Reference counting
    still frees everything; the collector runs again afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()



def headline_metric(task: str, names, opts, where) -> str:
    """The headline metric of a trial: ``--metric``, the paper's (Table 2), or inferred.

    For a task outside the paper's four, the metric is ``opts.metric`` or, when the
    trial logs exactly one metric besides ``loss``, that one.

    Raises
    ------
    DataError
        An unknown task with several candidate metrics and no ``--metric``.
    """
    given = getattr(opts, "metric", None)
    if given:
        return given
    if task in schema.TASKS:
        return schema.TASKS[task].metric
    cands = [n for n in names if n != "loss"]
    if len(cands) == 1:
        return cands[0]
    raise DataError(f"{where}: task {task!r} is not one of the paper's tasks "
                    f"({', '.join(schema.TASKS)}) and logs {len(cands)} metrics besides loss "
                    f"({', '.join(cands) or 'none'}); give the headline metric with --metric")


def read_json_lines(path) -> tuple[list[tuple[int, object]], bool]:
    """``([(line number, value), ...], cut)`` of a JSON Lines file (blank lines skipped); a
    last line cut short, as a killed writer leaves it, is dropped and ``cut`` is True.

    Raises
    ------
    ParseError
        A line that is not JSON, or nested too deeply (naming the line).
    """
    path = Path(path)
    return json_records(path, path.read_bytes())


def json_records(path, data: bytes):
    """``(line_number, value)`` of the JSON lines in ``data`` (read from ``path``, named in
    errors), and whether a cut-off last line (a killed writer) was dropped."""
    lines = data.split(b"\n")
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        return [], False
    try:  # fast: one parse of the whole file; per line only to locate an error
        objs = json.loads(b"[" + b",".join(ln for _, ln in numbered) + b"]")
        if len(objs) == len(numbered):
            return list(zip((n for n, _ in numbered), objs)), False
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    out = []
    cut = False
    last = len(numbered) - 1
    for k, (n, ln) in enumerate(numbered):
        try:
            out.append((n, json.loads(ln)))
        except RecursionError:
            raise ParseError(path, n, "expected one JSON object per line; got one nested too "
                             "deeply to read") from None
        except (ValueError, UnicodeDecodeError) as exc:
            if k == last and not data.endswith(b"\n"):
                cut = True  # the writer was killed in the middle of this line
                break
            raise ParseError(path, n, f"expected one JSON object per line ({exc})") from None
    return out, cut


_SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite(path) -> bool:
    """Whether ``path`` is a SQLite database file (by its 16-byte header)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == _SQLITE_MAGIC
    except OSError:
        return False

"""seedstats' own log format: JSON Lines, one record per event.

A log is one file per trial. Every line is one JSON object keyed by ``"event"``::

    {"event": "header", "format": "seedstats-log", "version": 1, "task": "rte",
     "wi_seed": 12, "do_seed": 3, "seed": null, "metric": "acc", "metrics": ["loss", "acc"],
     "baseline": 0.53, "steps_per_epoch": 156, "n_epochs": 3, "n_steps": 468,
     "config": {...}, "versions": {...}}
    {"event": "train", "step": 0, "loss": 0.6931}
    {"event": "eval", "phase": "before", "step": -1, "epoch": 0.0,
     "metrics": {"loss": 0.70, "acc": 0.47}}
    {"event": "end", "status": "ok", "n_steps": 468}

``step`` follows the convention of :mod:`seedstats.data.schema`: the 0-based index of
the optimizer update after which the event happened (``-1`` for ``"before"``). NaN is
written as the JSON token ``NaN`` (Python's :mod:`json` default) and read back as NaN.
A log without an ``"end"`` record is an incomplete trial (``complete = False``): it is
kept, never dropped. The fine-tuning module streams these logs with
:class:`LogWriter`; :func:`read` turns a file or a directory of them into trial
records for :func:`seedstats.data.ingest.ingest`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from pathlib import Path

import numpy as np

from seedstats.data.formats.base import headline_metric, json_records, read_each, special_kind
from seedstats.data.records import Curve, TrialRecord, dataset_records
from seedstats.data.schema import TASKS, steps_per_epoch_at, trial_id
from seedstats.data.store import writing_directory
from seedstats.errors import ParseError

__all__ = ["FORMAT", "VERSION", "SUFFIX", "LogWriter", "detect", "read", "read_file",
           "write_jsonl"]

#: Value of the header's ``"format"`` field.
FORMAT = "seedstats-log"
#: Version of the log format this module writes and reads.
VERSION = 1
#: File-name suffix of a log.
SUFFIX = ".jsonl"

_PHASES = ("before", "during", "after")


def _plain(value):
    """JSON-ready version of ``value`` (NumPy scalars/arrays to Python; else ``str``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _dumps(obj) -> str:
    return json.dumps(obj, default=_plain, allow_nan=True)


def _check_int(name, value, *, allow_none=False, minimum=None):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int{' or None' if allow_none else ''}, "
                        f"got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def _check_float(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    return float(value)


class LogWriter:
    """Stream one trial's log in the seedstats JSON Lines format.

    The header is written at once; training losses and evaluations follow as they
    happen; :meth:`end` writes the end record. The file is flushed after every
    evaluation and at the end, so a killed run leaves a valid partial log that ingests
    as an incomplete trial. Usable as a context manager (which closes the file, and
    does *not* write an end record: call :meth:`end` when the run finished).

    Parameters
    ----------
    path_or_file : str, Path or text file
        Where to write. A path is created (or overwritten); an open file is written to
        and flushed, but not closed.
    task : str
        Task name (``"rte"``, ... or any name of your own).
    wi_seed, do_seed, seed : int, optional
        The weight-initialization and data-order seeds (the paper's design), or one
        seed for everything. At least one is required.
    **header_fields
        Further header fields, e.g. ``metric``, ``metrics``, ``baseline``,
        ``steps_per_epoch``, ``n_epochs``, ``n_steps``, ``config``, ``versions``.
        Values must be JSON-serializable (NumPy scalars and paths are converted).

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> with LogWriter(buf, task="rte", wi_seed=12, do_seed=3, metric="acc") as log:
    ...     log.train(0, 0.69)
    ...     log.eval("during", 0, 1 / 156, {"loss": 0.7, "acc": 0.5})
    ...     log.end()
    >>> len(buf.getvalue().splitlines())
    4
    """
    def __init__(self, path_or_file, *, task: str, wi_seed=None, do_seed=None, seed=None,
                 **header_fields):
        if not isinstance(task, str) or not task:
            raise TypeError(f"task: expected a non-empty str, got {task!r}")
        wi_seed = _check_int("wi_seed", wi_seed, allow_none=True)
        do_seed = _check_int("do_seed", do_seed, allow_none=True)
        seed = _check_int("seed", seed, allow_none=True)
        if wi_seed is None and do_seed is None and seed is None:
            raise ValueError("wi_seed/do_seed/seed: expected at least one seed, got none")
        reserved = {"event", "format", "version"} & set(header_fields)
        if reserved:
            raise ValueError(f"header_fields: {sorted(reserved)} are set by LogWriter itself")
        header = {"event": "header", "format": FORMAT, "version": VERSION, "task": task,
                  "wi_seed": wi_seed, "do_seed": do_seed, "seed": seed, **header_fields}
        line = _dumps(header)  # fail before creating a file
        if isinstance(path_or_file, (str, os.PathLike)):
            self._fh = open(path_or_file, "w", encoding="utf-8")
            self._owns = True
        elif hasattr(path_or_file, "write"):
            self._fh = path_or_file
            self._owns = False
        else:
            raise TypeError(f"path_or_file: expected a path or a text file, got "
                            f"{type(path_or_file).__name__}")
        self.path = Path(path_or_file) if self._owns else None
        self._ended = False
        self._closed = False
        self._write(line)
        self._fh.flush()

    def _write(self, line: str) -> None:
        if self._closed:
            raise ValueError("LogWriter: the log is closed")
        if self._ended:
            raise ValueError("LogWriter: the log has ended; nothing may follow the end record")
        self._fh.write(line + "\n")

    def train(self, step: int, loss: float) -> None:
        """Log the training loss of optimizer step ``step`` (0-based)."""
        step = _check_int("step", step, minimum=0)
        loss = _check_float("loss", loss)
        self._write(f'{{"event": "train", "step": {step}, "loss": {_dumps(loss)}}}')

    def eval(self, phase: str, step: int, epoch: float, metrics: dict) -> None:
        """Log one validation evaluation and flush.

        Parameters
        ----------
        phase : {"before", "during", "after"}
        step : int
            ``-1`` for ``"before"``; otherwise the index of the last optimizer update.
        epoch : float
            ``(step + 1) / steps_per_epoch``.
        metrics : dict of str to float
            Every metric evaluated (validation ``loss`` included).
        """
        if phase not in _PHASES:
            raise ValueError(f"phase: expected one of {', '.join(_PHASES)}, got {phase!r}")
        step = _check_int("step", step, minimum=-1)
        epoch = _check_float("epoch", epoch)
        if not isinstance(metrics, dict) or not metrics:
            raise TypeError(f"metrics: expected a non-empty dict of name to value, got "
                            f"{metrics!r}")
        vals = {}
        for name, value in metrics.items():
            if not isinstance(name, str):
                raise TypeError(f"metrics: expected str names, got {name!r}")
            vals[name] = _check_float(f"metrics[{name!r}]", value)
        self._write(_dumps({"event": "eval", "phase": phase, "step": step, "epoch": epoch,
                            "metrics": vals}))
        self._fh.flush()

    def end(self, status: str = "ok", n_steps: int | None = None) -> None:
        """Write the end record (the trial is complete when ``status == "ok"``) and flush."""
        if not isinstance(status, str) or not status:
            raise TypeError(f"status: expected a non-empty str, got {status!r}")
        n_steps = _check_int("n_steps", n_steps, allow_none=True, minimum=0)
        self._write(_dumps({"event": "end", "status": status, "n_steps": n_steps}))
        self._ended = True
        self._fh.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        if self._closed:
            return
        self._fh.flush()
        if self._owns:
            self._fh.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# --- reading -----------------------------------------------------------------------------


def _is_header_line(line: bytes) -> bool:
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(rec, dict) and rec.get("event") == "header"


def _first_line(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    return line
                if fh.tell() > 1 << 16:
                    break
    except OSError:
        pass
    return b""


def _log_files(directory: Path) -> list[Path]:
    """Non-hidden regular ``*.jsonl`` files under ``directory`` (recursively), sorted."""
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [Path(root) / f for f in files if f.endswith(SUFFIX) and not f.startswith(".")
                and special_kind(Path(root) / f) is None]   # never a FIFO or a device
    return sorted(out)


def detect(path: Path) -> bool:
    """A ``.jsonl`` file, or a directory of them whose first record is a header."""
    path = Path(path)
    if path.is_file():
        return path.suffix == SUFFIX or _is_header_line(_first_line(path))
    if path.is_dir():
        files = _log_files(path)
        return bool(files) and _is_header_line(_first_line(files[0]))
    return False


def read(path: Path, opts) -> "ReadResult":  # noqa: F821 (ReadResult imported lazily)
    """Read a log file, or every ``*.jsonl`` file under a directory (sorted).

    Parameters
    ----------
    path : Path
    opts : IngestOptions
        ``skip_bad`` skips malformed files (listed in the result); ``metric`` and
        ``baseline`` fill in what a header leaves out.

    Returns
    -------
    ReadResult
    """
    path = Path(path)
    files = _log_files(path) if path.is_dir() else [path]
    keys: dict[str, list] = {}

    def one(f, opts):
        rec, counts = _read_file(f, opts)
        for k, (role, why, n) in counts.items():
            row = keys.setdefault(k, [role, why, 0, 0])
            row[2] += 1
            row[3] += n
        return rec

    result = read_each(files, opts, one)
    result.keys = keys
    return result


def _number(path, n, value, what):
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(path, n, f"expected a number for {what}, got {value!r}")
    return float(value)


def _header(path, records):
    """Check the header record; returns ``(head, task, seeds, steps_per_epoch)``."""
    n, head = records[0]
    if not isinstance(head, dict) or head.get("event") != "header":
        raise ParseError(path, n, 'expected a header record {"event": "header", ...} first, '
                                  f"got {str(head)[:80]!r}")
    if head.get("format") != FORMAT:
        raise ParseError(path, n, f"expected format {FORMAT!r} in the header, got "
                                  f"{head.get('format')!r}")
    if head.get("version") != VERSION:
        raise ParseError(path, n, f"expected log format version {VERSION}, got "
                                  f"{head.get('version')!r} (written by another seedstats?)")
    task = head.get("task")
    if not isinstance(task, str) or not task:
        raise ParseError(path, n, f"expected a task name in the header, got {task!r}")
    seeds = {}
    for key in ("wi_seed", "do_seed", "seed"):
        v = head.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ParseError(path, n, f"expected an integer or null {key}, got {v!r}")
        seeds[key] = v
    if all(v is None for v in seeds.values()):
        raise ParseError(path, n, "expected wi_seed/do_seed or seed in the header, got none")
    spe = head.get("steps_per_epoch")
    if spe is not None and (isinstance(spe, bool) or not isinstance(spe, (int, float))
                            or not spe > 0):
        raise ParseError(path, n, f"expected a positive steps_per_epoch, got {spe!r}")
    return head, task, seeds, spe


class _Events:
    """What the records after the header logged: losses, evaluations and the end record."""

    #: The fields each event has besides its values (anything else is counted as ignored).
    FIELDS = {"train": {"event", "step", "loss"}, "eval": {"event", "phase", "step", "metrics",
                                                           "epoch"}}

    def __init__(self, path, records):
        t_steps, t_loss = [], []
        curves: dict[str, dict] = {}
        keys: dict[str, list] = {}  # the key report: key -> [role, reason, values]

        def count(key, role, why=""):
            keys.setdefault(key, [role, why, 0])[2] += 1
        after_step = None
        end = None
        epoch_hint = None
        for n, rec in records[1:]:
            if end is not None:
                raise ParseError(path, n, "expected nothing after the end record")
            if not isinstance(rec, dict):
                raise ParseError(path, n, f"expected a JSON object, got {str(rec)[:60]!r}")
            event = rec.get("event")
            if event == "train":
                step, loss = rec.get("step"), rec.get("loss")
                if isinstance(step, bool) or not isinstance(step, int) or step < 0:
                    raise ParseError(path, n, f"expected a step >= 0 in the train record, "
                                              f"got {step!r}")
                t_steps.append(step)
                t_loss.append(_number(path, n, loss, "loss"))
                count("train:loss", "training loss", "the loss of train records")
            elif event == "eval":
                phase, step, metrics = rec.get("phase"), rec.get("step"), rec.get("metrics")
                if phase not in _PHASES:
                    raise ParseError(path, n, f"expected phase one of {', '.join(_PHASES)}, "
                                              f"got {phase!r}")
                if isinstance(step, bool) or not isinstance(step, int) or step < -1:
                    raise ParseError(path, n, f"expected an integer step >= -1, got {step!r}")
                if not isinstance(metrics, dict):
                    raise ParseError(path, n, f"expected a metrics object, got {metrics!r}")
                if phase == "after":
                    if after_step is not None:
                        raise ParseError(path, n, "expected one 'after' evaluation, got a second")
                    after_step = step
                elif phase == "during" and step >= 0 and epoch_hint is None:
                    ep = rec.get("epoch")
                    if isinstance(ep, (int, float)) and not isinstance(ep, bool) and ep > 0:
                        epoch_hint = steps_per_epoch_at(step, ep)
                if "epoch" in rec:
                    count("epoch", "bookkeeping", "by its name")
                for name, value in metrics.items():
                    count(name, "validation loss" if name == "loss" else "validation metric",
                          f"as {name!r}")
                    c = curves.setdefault(name, {"before": None, "steps": [], "values": [],
                                                 "after": None})
                    v = _number(path, n, value, f"metric {name!r}")
                    if phase == "during":
                        c["steps"].append(step)
                        c["values"].append(v)
                    elif c[phase] is not None:
                        raise ParseError(path, n, f"expected one {phase!r} value of {name!r}, "
                                                  "got a second")
                    else:
                        c[phase] = v
            elif event == "end":
                nst = rec.get("n_steps")
                if nst is not None and (isinstance(nst, bool) or not isinstance(nst, int)
                                        or nst < 0):
                    raise ParseError(path, n, f"expected n_steps >= 0 or null, got {nst!r}")
                end = rec
            elif event == "header":
                raise ParseError(path, n, "expected one header per file, got a second "
                                          "(one trial per log)")
            else:
                raise ParseError(path, n, f"expected event header, train, eval or end, "
                                          f"got {event!r}")
            for k in set(rec) - self.FIELDS.get(event, set(rec)):  # never silently: counted
                count(f"{event}:{k}", "ignored", f"not a field of {event} records")
        self.t_steps, self.t_loss, self.curves, self.keys = t_steps, t_loss, curves, keys
        self.after_step, self.end, self.epoch_hint = after_step, end, epoch_hint


def read_file(path, opts=None) -> TrialRecord:
    """Read one log into a :class:`~seedstats.data.records.TrialRecord`.

    Three steps: the header (:func:`_header`), the events (:class:`_Events`), the trial.

    Raises
    ------
    ParseError
        Invalid JSON, a missing or foreign header, or a record that breaks the format
        (the message names the file and the line).
    """
    return _read_file(path, opts)[0]


def _read_file(path, opts=None):
    """:func:`read_file`, and the file's key counts (``{key: [role, reason, values]}``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, None, f"cannot read the file ({exc.strerror})") from None
    records, cut = json_records(path, data)
    if not records:
        raise ParseError(path, 1, "expected a header record, found an empty file")
    head, task, seeds, spe = _header(path, records)
    ev = _Events(path, records)
    t_steps, t_loss, curves = ev.t_steps, ev.t_loss, ev.curves
    after_step, end, epoch_hint = ev.after_step, ev.end, ev.epoch_hint
    curve_objs = {name: Curve(c["before"], np.array(c["steps"], dtype=np.int64),
                              np.array(c["values"], dtype=np.float64), c["after"])
                  for name, c in curves.items()}
    opts_metric = getattr(opts, "metric", None)
    metric = head.get("metric") if isinstance(head.get("metric"), str) else None
    if opts_metric or not metric:
        metric = headline_metric(task, list(curve_objs), opts, path)
    baseline = getattr(opts, "baseline", None)
    if baseline is None and isinstance(head.get("baseline"), (int, float)) \
            and not isinstance(head.get("baseline"), bool):
        baseline = float(head["baseline"])
    if spe is None:
        spe = TASKS[task].steps_per_epoch if task in TASKS else epoch_hint
    flags = []
    status = end.get("status") if end is not None else None
    complete = end is not None and status == "ok"
    if end is not None and status != "ok":
        flags.append("status_" + "".join(ch if ch.isalnum() else "_" for ch in str(status)))
    if cut:
        flags.append("cut_line")
    n_steps = end.get("n_steps") if end is not None else None
    if n_steps is None and not complete:
        last = [max(t_steps) if t_steps else -1]
        last += [int(c.steps.max()) for c in curve_objs.values() if len(c.steps)]
        if after_step is not None:
            last.append(after_step)
        n_steps = max(last) + 1
    elif n_steps is None and isinstance(head.get("n_steps"), int):
        n_steps = head["n_steps"]
    train_steps = np.array(t_steps, dtype=np.int64)
    if np.array_equal(train_steps, np.arange(len(train_steps))):
        train_steps = None
    return TrialRecord(
        task=task, wi_seed=seeds["wi_seed"], do_seed=seeds["do_seed"], seed=seeds["seed"],
        curves=curve_objs, train_loss=np.array(t_loss, dtype=np.float64),
        train_steps=train_steps, complete=complete, source=str(path), n_steps=n_steps,
        after_step=after_step, steps_per_epoch=float(spe) if spe else None, metric=metric,
        baseline=baseline, flags=flags,
    ), ev.keys


# --- writing a dataset -------------------------------------------------------------------


def write_jsonl(ds, directory) -> Path:
    """Write every trial of a dataset as one JSON Lines log (``<trial_id>.jsonl``).

    The inverse of :func:`read` (for round trips and for exporting a dataset): an
    incomplete trial gets no end record. ``directory`` must be new or empty.

    Parameters
    ----------
    ds : Dataset
    directory : str or Path

    Returns
    -------
    Path
        ``directory``, holding ``<trial_id>.jsonl`` per trial.
    """
    directory = Path(directory)
    with writing_directory(directory, "directory") as tmp:
        for rec in dataset_records(ds):
            info = TASKS.get(rec.task)
            spe = rec.steps_per_epoch or (info.steps_per_epoch if info else None)
            fields = {"metric": rec.metric, "metrics": list(rec.curves),
                      "baseline": rec.baseline if rec.baseline is not None else
                      (info.baseline if info else None),
                      "steps_per_epoch": spe, "n_epochs": info.n_epochs if info else None,
                      "n_steps": rec.n_steps}
            name = f"{_safe(rec)}{SUFFIX}"
            if (tmp / name).exists():
                raise ValueError(f"ds: two trials map to the file name {name}")
            with LogWriter(tmp / name, task=rec.task, wi_seed=rec.wi_seed, do_seed=rec.do_seed,
                           seed=rec.seed, **fields) as log:
                _write_events(log, rec, spe)
                if rec.complete:
                    log.end("ok", rec.n_steps)
    return directory


def _safe(rec) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_"
                   for ch in trial_id(rec.task, rec.wi_seed, rec.do_seed, rec.seed))


def _write_events(log: LogWriter, rec: TrialRecord, spe) -> None:
    def epoch(step):
        return (step + 1) / spe if spe else math.nan

    names = list(rec.curves)
    before = {m: c.before for m, c in rec.curves.items() if c.before is not None}
    if before:
        log.eval("before", -1, 0.0 if spe else math.nan, before)
    # "during" events: one per step with every metric when the metrics share their
    # steps (the usual case), else one per metric value; merged with the train steps.
    events = []
    steps0 = rec.curves[names[0]].steps if names else np.empty(0, np.int64)
    if names and all(np.array_equal(rec.curves[m].steps, steps0) for m in names):
        for j, s in enumerate(steps0.tolist()):
            events.append((s, {m: float(rec.curves[m].values[j]) for m in names}))
    else:
        for m in names:
            c = rec.curves[m]
            events += [(s, {m: v}) for s, v in zip(c.steps.tolist(), c.values.tolist())]
    tsteps = (np.arange(len(rec.train_loss)) if rec.train_steps is None
              else np.asarray(rec.train_steps)).tolist()
    losses = np.asarray(rec.train_loss, dtype=np.float64).tolist()
    k = 0
    for s, loss in zip(tsteps, losses):
        while k < len(events) and events[k][0] < s:
            log.eval("during", events[k][0], epoch(events[k][0]), events[k][1])
            k += 1
        log.train(s, loss)
    for s, vals in events[k:]:
        log.eval("during", s, epoch(s), vals)
    after = {m: c.after for m, c in rec.curves.items() if c.after is not None}
    if after:
        step = rec.after_step if rec.after_step is not None else rec.n_steps - 1
        log.eval("after", step, epoch(step), after)

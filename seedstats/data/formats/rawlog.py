"""The authors' raw per-trial text logs of Dodge et al. (2020).

One file per trial, in the authors' layout::

    ========================================
    final results
    task: rte
    init seed: 12
    data order seed: 3
    the losses at each train step:
    [0.6931, 0.6897, ...]

    metric: loss
    validation loss of initialized model:
    0.6951
    validation loss throughout training:
    [[0, 0.6946], [1, 0.6930], ...]
    validation loss after training:
    0.5817

    metric: acc
    ...

    indices of examples in batches:
    [[1432, 87, ...], ...]

Lines may carry ISO timestamps (``2019-11-02T17:03:11.123456Z ``) anywhere, inserted
by the log collector; they are stripped wherever they occur. Values written by NumPy 2
(``np.float64(0.5)``) are accepted, NaN is Python's ``nan``. A line
``train_examples_number: <n>`` may appear. The long "indices of examples in batches"
line is skipped without being parsed. Lists are parsed by :func:`json.loads` after a
few string replacements (never ``eval``; ``ast.literal_eval`` is the slow baseline of
``benchmarks/bench_ingest.py``).

A file that stops before its last block (``indices of examples in batches``), or in
the middle of a line, is a truncated run: it is kept with ``complete = False`` and
whatever it holds. Any other departure from the layout is a
:class:`~seedstats.errors.ParseError` naming the file, the line and what was expected.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np

from seedstats.data import schema
from seedstats.data.formats.base import headline_metric, read_each, record_keys
from seedstats.data.records import Curve, TrialRecord, dataset_records
from seedstats.data.store import writing_directory
from seedstats.errors import DataError, ParseError

__all__ = ["detect", "read", "read_file", "parse_rawlog", "format_rawlog", "write_rawlogs",
           "strip_timestamps", "log_files"]

#: An ISO timestamp as the log collector wrote it, with the space that follows it.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
_TIMESTAMP_TAIL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?$")
_VALIDATION = re.compile(
    r"validation (.+) (of initialized model|throughout training|after training):")
_INT = re.compile(r"[+-]?\d+")
_NP_SCALAR = re.compile(r"np\.[a-z]+\d*\((.*)\)")
_NP_OPEN = re.compile(r"np\.[a-z]+\d*\(")
_NP_NAMES = ("np.float64(", "np.float32(", "np.int64(", "np.int32(")
_PHASE_OF = {"of initialized model": "before", "throughout training": "during",
             "after training": "after"}
_INDICES = "indices of examples in batches"
_TRAIN = "the losses at each train step"
_EXPECTED_KEYS = ("'final results', 'task:', 'init seed:', 'data order seed:', "
                  f"'train_examples_number:', '{_TRAIN}:', 'metric:', 'validation ...', "
                  f"'{_INDICES}:'")
_HEAD_BYTES = 4096


def strip_timestamps(line: str) -> str:
    """Remove every ISO timestamp (``2019-11-02T17:03:11.123456Z``) from ``line``.

    Same result as ``_TIMESTAMP.sub("", line)``, but a long line is split at its few
    ``Z`` characters (a number never holds one) instead of being scanned by the regex.
    """
    if "Z" not in line:
        return line
    if len(line) < 256:
        return _TIMESTAMP.sub("", line)
    parts = line.split("Z")
    out = [parts[0]]
    for nxt in parts[1:]:
        tail = out[-1][-48:]
        m = _TIMESTAMP_TAIL.search(tail)
        if m:
            out[-1] = out[-1][: len(out[-1]) - len(tail) + m.start()]
            out.append(nxt[1:] if nxt.startswith(" ") else nxt)
        else:
            out[-1] += "Z" + nxt
    return "".join(out)


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def log_files(directory) -> list[Path]:
    """The non-hidden regular files of ``directory``, in natural order (``wi2`` < ``wi10``)."""
    return sorted((p for p in Path(directory).iterdir()
                   if not p.name.startswith(".") and p.is_file()), key=_natural_key)


def _looks_like_rawlog(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError:
        return False
    for raw in head.split(b"\n"):
        try:
            line = strip_timestamps(raw.decode("utf-8")).strip()
        except UnicodeDecodeError:
            return False
        if line:
            return set(line) == {"="}
    return False


def detect(path: Path) -> bool:
    """A directory whose first file (or a file) starts with a line of ``=`` characters."""
    path = Path(path)
    if path.is_dir():
        files = log_files(path)
        return bool(files) and _looks_like_rawlog(files[0])
    return path.is_file() and _looks_like_rawlog(path)


def read(path: Path, opts) -> "ReadResult":  # noqa: F821 (imported lazily)
    """Read every file of a directory of raw logs (or one raw log).

    Files are read in natural order; hidden files and subdirectories are ignored.

    Parameters
    ----------
    path : Path
    opts : IngestOptions
        ``skip_bad`` skips malformed files (listed in the result); ``metric`` and
        ``baseline`` serve tasks outside the paper's four.

    Returns
    -------
    ReadResult
    """
    path = Path(path)
    files = log_files(path) if path.is_dir() else [path]
    result = read_each(files, opts, read_file)
    result.keys = record_keys(result.records)
    truncated = sum(not r.complete for r in result.records)
    if truncated:
        result.notes.append(f"{truncated} raw log(s) end early (truncated runs, kept with "
                            "complete = False)")
    return result


def read_file(path, opts=None) -> TrialRecord:
    """Read one raw log into a :class:`~seedstats.data.records.TrialRecord`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, None, f"cannot read the file ({exc.strerror})") from None
    return parse_rawlog(data, path, opts)


# --- values ------------------------------------------------------------------------------


class _Bad(Exception):
    """A value line that does not parse (turned into a ParseError by the caller)."""


def _unwrap(s: str) -> str:
    """Drop NumPy 2 reprs: ``np.float64(0.5)`` -> ``0.5``."""
    if "np." not in s:
        return s
    for name in _NP_NAMES:
        s = s.replace(name, "")
    if "np." in s:
        s = _NP_OPEN.sub("", s)
    return s.replace(")", "")


def _json_numbers(s: str):
    for ch in ("t", "l", '"', "{"):  # true, false, null, strings, objects: not numbers
        if ch in s:
            at = s.index(ch)
            raise _Bad(f"{s[max(0, at - 20):at + 20]!r} near column {at + 1}")
    if "n" in s:  # Python prints nan, inf, -inf; JSON says NaN, Infinity
        s = s.replace("nan", "NaN").replace("inf", "Infinity")
    try:
        return json.loads(s)
    except RecursionError:
        raise _Bad(f"{s[:20]!r}...: lists nested too deeply") from None
    except ValueError as exc:
        pos = getattr(exc, "pos", 0)
        raise _Bad(f"{s[max(0, pos - 20):pos + 20]!r} near column {pos + 1}") from None


_FLOAT_BYTES = b"0123456789.eE+-, naif"
_ARROW = {}


def _arrow_floats(s: str):
    """Fast path for a flat list of floats: Arrow's CSV float parser (correctly rounded,
    no Python object per value). None when ``s`` is anything but a plain list of
    numbers, so that :func:`json.loads` judges it and reports the error."""
    if not (s.startswith("[") and s.endswith("]")):
        return None
    body = s[1:-1].encode()
    if body.translate(None, _FLOAT_BYTES):  # characters a number list never holds
        return None
    if not body.strip():
        return np.empty(0, np.float64)
    if not _ARROW:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        _ARROW.update(
            csv=pcsv, error=pa.ArrowInvalid,
            read=pcsv.ReadOptions(column_names=["v"], use_threads=False),
            parse=pcsv.ParseOptions(quote_char=False, double_quote=False, escape_char=False,
                                    ignore_empty_lines=False),
            convert=pcsv.ConvertOptions(column_types={"v": pa.float64()}, null_values=[],
                                        quoted_strings_can_be_null=False))
    try:
        col = _ARROW["csv"].read_csv(
            io.BytesIO(body.replace(b",", b"\n")), read_options=_ARROW["read"],
            parse_options=_ARROW["parse"], convert_options=_ARROW["convert"]).column(0)
    except _ARROW["error"]:
        return None
    if col.null_count or len(col) != body.count(b",") + 1:
        return None
    return col.to_numpy()


def _flat(s: str) -> np.ndarray:
    s = _unwrap(s)
    fast = _arrow_floats(s)
    if fast is not None:
        return fast
    obj = _json_numbers(s)
    if not isinstance(obj, list):
        raise _Bad(f"{s[:40]!r}")
    try:
        arr = np.array(obj)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim != 1 or not (arr.dtype.kind in "iuf" or arr.size == 0):
        raise _Bad("a list holding something other than numbers")
    return arr.astype(np.float64)


def _pairs(s: str) -> tuple[np.ndarray, np.ndarray]:
    obj = _json_numbers(_unwrap(s))
    if not isinstance(obj, list):
        raise _Bad(f"{s[:40]!r}")
    if not obj:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    try:
        arr = np.array(obj)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iuf":
        bad = next((i for i, p in enumerate(obj) if not (isinstance(p, list) and len(p) == 2)),
                   None)
        raise _Bad(f"element {bad} = {obj[bad]!r}" if bad is not None
                   else "pairs holding something other than numbers")
    steps = arr[:, 0].astype(np.float64)
    ok = np.isfinite(steps) & (steps == np.round(steps)) & (steps >= 0) & (steps < 2**31)
    if not ok.all():
        i = int(np.argmin(ok))
        raise _Bad(f"pair {i} with step {arr[i, 0].item()!r} (steps are integers >= 0)")
    return steps.astype(np.int64), arr[:, 1].astype(np.float64)


def _scalar(s: str) -> float:
    m = _NP_SCALAR.fullmatch(s)
    if m:
        s = m.group(1)
    if "_" in s:
        raise _Bad(repr(s))
    try:
        return float(s)
    except ValueError:
        raise _Bad(repr(s[:40])) from None


def _salvage(s: str, pairs: bool) -> str:
    """The complete elements of a list line that was cut off."""
    if pairs:
        k = s.rfind("]")
        return s[:k + 1] + "]" if k > 0 else "[]"
    k = s.rfind(",")
    return s[:k] + "]" if k > 0 else "[]"


def _list_value(line: str, kind: str, at_end: bool):
    """``(value, salvaged)`` of a list line; the last line of a file may be cut off, and
    then its complete elements are kept."""
    parse = _flat if kind == "train" else _pairs
    try:
        return parse(line), False
    except _Bad:
        if not at_end:
            raise
    return parse(_salvage(line, kind == "during")), True


# --- the parser --------------------------------------------------------------------------


class _RawlogParser:
    """The state of one raw log being read, line by line (:func:`parse_rawlog`).

    The layout is a sequence of blocks: the header rule and ids, the training losses, one block
    per metric whose ``validation ...`` lines each announce a value on the next line, and the
    indices line. Three steps: :meth:`value` reads an announced value, :meth:`structure` a
    line of the layout, :meth:`record` checks the end and builds the trial.
    """

    def __init__(self, path, last: int):
        self.path, self.last = path, last
        self.head = {}
        self.saw_rule = self.saw_indices = self.truncated = False
        self.skip_indices = self.cut_line = False
        self.pending = None  # (kind, metric, header line number)
        self.train = None
        self.curves: dict[str, dict] = {}
        self.cur = None
        self.block_line = None

    def need_ids(self, n, where="before the data blocks"):
        missing = [k for k in ("task", "init seed", "data order seed") if k not in self.head]
        if missing:
            raise ParseError(self.path, n, "expected " + ", ".join(f"'{k}:'" for k in missing)
                             + f" lines {where}")

    def value(self, line, n, at_end, partial) -> bool:
        """Read the value a ``validation ...`` or losses line announced; False: stop reading."""
        kind, name, hn = self.pending
        self.pending = None
        try:
            if kind in ("train", "during"):
                value = _list_value(line, kind, at_end)
                if partial or value[1]:
                    self.truncated = self.cut_line = True
                if kind == "train":
                    self.train = value[0]
                else:
                    self.curves[name]["steps"], self.curves[name]["values"] = value[0]
            elif partial:
                self.truncated = self.cut_line = True  # a cut-off number may be wrong: drop it
            else:
                self.curves[name][kind] = _scalar(line)
        except _Bad as exc:
            if at_end:
                self.truncated = self.cut_line = True
                return False
            what = {"train": "a list of numbers like [0.69, 0.68]",
                    "during": "a list of [step, value] pairs like [[0, 0.5], [23, 0.6]]",
                    }.get(kind, "a number")
            raise ParseError(self.path, n, f"expected {what} after line {hn}, got {exc}"
                             ) from None
        return True

    def structure(self, line, n) -> None:
        """Read one line of the layout: the rule, an id, a block header or a validation line."""
        path = self.path
        if set(line) == {"="}:
            if self.saw_rule:
                raise ParseError(path, n, "expected one trial per file, found a second header "
                                          "line of '='")
            self.saw_rule = True
            return
        if not self.saw_rule:
            raise ParseError(path, n, "expected a header line of '=' characters (the authors' "
                                      f"raw log layout), got {line[:60]!r}")
        m = _VALIDATION.fullmatch(line)
        if m:
            name, phase, cur = m.group(1), _PHASE_OF[m.group(2)], self.cur
            if cur is None or name != cur:
                raise ParseError(path, n, f"expected 'metric: {name}' before {line!r}" if cur
                                 is None else f"expected 'validation {cur} ...' lines of metric "
                                 f"{cur!r} (started line {self.block_line}), got {line[:60]!r}")
            if self.curves[cur]["seen"].get(phase):
                raise ParseError(path, n, f"expected one {line!r} line per metric, got a second")
            self.curves[cur]["seen"][phase] = True
            self.pending = (phase, cur, n)
            return
        key, sep, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if line == "final results":
            return
        if not sep:
            raise ParseError(path, n, f"expected one of {_EXPECTED_KEYS}, got {line[:60]!r}")
        if key in ("task", "init seed", "data order seed", "train_examples_number"):
            self._id(key, val, n)
        elif key == _TRAIN and not val:
            self.need_ids(n)
            if self.train is not None or "train" in self.head:
                raise ParseError(path, n, f"expected one '{_TRAIN}:' block, got a second")
            self.head["train"] = n
            self.pending = ("train", None, n)
        elif key == "metric":
            self.need_ids(n)
            if not val:
                raise ParseError(path, n, "expected 'metric: <name>', got no name")
            if val in self.curves:
                raise ParseError(path, n, f"expected one block per metric, got a second "
                                          f"'metric: {val}'")
            self.cur, self.block_line = val, n
            self.curves[val] = {"before": None, "steps": np.empty(0, np.int64),
                                "values": np.empty(0, np.float64), "after": None, "seen": {}}
        elif key == _INDICES and not val:
            self.skip_indices = True
        else:
            raise ParseError(path, n, f"expected one of {_EXPECTED_KEYS}, got {line[:60]!r}")

    def _id(self, key, val, n):
        if key in self.head:
            raise ParseError(self.path, n, f"expected one '{key}:' line, got a second")
        if key == "task":
            if not val:
                raise ParseError(self.path, n, "expected 'task: <name>', got no name")
            self.head[key] = val
            return
        v = _NP_SCALAR.fullmatch(val)
        v = v.group(1) if v else val
        if not _INT.fullmatch(v):
            raise ParseError(self.path, n, f"expected '{key}: <integer>', got {val[:40]!r}")
        self.head[key] = int(v)

    def record(self, opts) -> TrialRecord:
        """Check how the file ended and build the trial record."""
        head = self.head
        if self.pending is not None or self.skip_indices:
            self.truncated = True
        if not self.saw_rule:
            raise ParseError(self.path, 1, "expected a header line of '=' characters (the "
                                           "authors' raw log layout), got an empty file")
        if not all(k in head for k in ("task", "init seed", "data order seed")):
            self.need_ids(self.last + 1, "identifying the trial; the file ends without them")
        task = head["task"]
        curve_objs = {k: Curve(c["before"], c["steps"], c["values"], c["after"])
                      for k, c in self.curves.items()}
        metric = headline_metric(task, list(curve_objs), opts, self.path)
        complete = (self.saw_indices and not self.truncated and self.train is not None
                    and curve_objs.get(metric) is not None
                    and all(c.after is not None for c in curve_objs.values()))
        return TrialRecord(
            task=task, wi_seed=head["init seed"], do_seed=head["data order seed"],
            curves=curve_objs,
            train_loss=self.train if self.train is not None else np.empty(0, np.float64),
            complete=complete, source=str(self.path), metric=metric,
            baseline=getattr(opts, "baseline", None),
            flags=["cut_line"] if self.cut_line else [],
        )


def parse_rawlog(data: bytes, path="<rawlog>", opts=None) -> TrialRecord:
    """Parse the bytes of one raw log.

    Parameters
    ----------
    data : bytes
        The file's content.
    path : str or Path
        Named in errors and stored as ``source``.
    opts : IngestOptions, optional

    Returns
    -------
    TrialRecord

    Raises
    ------
    ParseError
        Malformed content (file, line number, what was expected).
    """
    lines = data.split(b"\n")
    ends_nl = data.endswith(b"\n")
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    st = _RawlogParser(path, last)
    for i, raw in enumerate(lines):
        n = i + 1
        if st.skip_indices:
            if raw.strip():  # the indices line: skipped, never decoded
                st.skip_indices, st.saw_indices = False, True
            continue
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(path, n, "expected UTF-8 text (a raw log), got binary data") from None
        line = strip_timestamps(line).strip()
        if not line:
            continue
        at_end = i == last
        partial = at_end and not ends_nl
        if st.pending is not None:
            if not st.value(line, n, at_end, partial):
                break
            continue
        if partial:
            st.truncated = st.cut_line = True
            break
        st.structure(line, n)
    return st.record(opts)


# --- writing -----------------------------------------------------------------------------


def _fmt(x: float, np2: bool) -> str:
    r = repr(float(x))
    return f"np.float64({r})" if np2 else r


def _fmt_list(values, np2: bool) -> str:
    vals = np.asarray(values, dtype=np.float64).tolist()
    if np2:
        return "[" + ", ".join(f"np.float64({v!r})" for v in vals) + "]"
    return "[" + ", ".join(map(repr, vals)) + "]"


def _fmt_pairs(steps, values, np2: bool) -> str:
    s = np.asarray(steps, dtype=np.int64).tolist()
    v = np.asarray(values, dtype=np.float64).tolist()
    if np2:
        return "[" + ", ".join(f"[{a}, np.float64({b!r})]" for a, b in zip(s, v)) + "]"
    return "[" + ", ".join(f"[{a}, {b!r}]" for a, b in zip(s, v)) + "]"


def _fake_indices(rec: TrialRecord, batches: int, n_train: int) -> str:
    k = np.arange(batches * 16, dtype=np.int64)
    idx = ((k * 7919 + 31 * (rec.wi_seed or 0) + (rec.do_seed or 0)) % max(n_train, 1))
    return "[" + ", ".join("[" + ", ".join(map(str, row)) + "]"
                           for row in idx.reshape(batches, 16).tolist()) + "]"


def format_rawlog(rec: TrialRecord, numpy2_floats: bool = False,
                  index_batches: int | None = 2, batches=None) -> str:
    """The text of one raw log (the authors' layout) for a trial record.

    Floats are written with ``repr``, so they read back exactly. An incomplete trial
    (``rec.complete`` false) is written without its missing ``after`` lines and without
    the final indices block, which is how :func:`parse_rawlog` recognizes a run that
    stopped early.

    Parameters
    ----------
    rec : TrialRecord
        Needs ``wi_seed`` and ``do_seed``.
    numpy2_floats : bool
        Write floats as NumPy 2 prints them (``np.float64(0.5)``).
    index_batches : int or None
        Batches of 16 (fake) example indices in the indices line; None: one per
        optimizer step, as long as the authors' lines.
    batches : sequence of sequences of int, optional
        The real example indices of each batch (a run's own log); replaces the fake ones.
    """
    if rec.wi_seed is None or rec.do_seed is None:
        raise DataError(f"trial {rec.task} (seed {rec.seed}): the raw-log layout needs an "
                        "init seed and a data order seed")
    np2 = bool(numpy2_floats)
    out = ["=" * 40, "final results", f"task: {rec.task}", f"init seed: {rec.wi_seed}",
           f"data order seed: {rec.do_seed}", f"{_TRAIN}:", _fmt_list(rec.train_loss, np2), ""]
    for name, c in rec.curves.items():
        out += [f"metric: {name}"]
        if c.before is not None:
            out += [f"validation {name} of initialized model:", _fmt(c.before, np2)]
        out += [f"validation {name} throughout training:", _fmt_pairs(c.steps, c.values, np2)]
        if c.after is not None:
            out += [f"validation {name} after training:", _fmt(c.after, np2)]
        out.append("")
    if rec.complete and batches is not None:
        out += [f"{_INDICES}:", "[" + ", ".join("[" + ", ".join(str(int(i)) for i in b) + "]"
                                                for b in batches) + "]"]
    elif rec.complete:
        info = schema.TASKS.get(rec.task)
        n_steps = rec.n_steps if rec.n_steps is not None else len(rec.train_loss)
        n_batches = n_steps if index_batches is None else int(index_batches)
        out += [f"{_INDICES}:", _fake_indices(rec, max(n_batches, 1),
                                              info.n_train if info else 1000)]
    return "\n".join(out) + "\n"


def _file_name(rec: TrialRecord) -> str:
    task = re.sub(r"[^\w.-]", "_", rec.task)
    return f"{task}_wi{rec.wi_seed}_do{rec.do_seed}.txt"


def write_rawlogs(ds, directory, numpy2_floats: bool = False, *,
                  index_batches: int | None = 2, overwrite: bool = False) -> Path:
    """Write every trial of a dataset as one raw log (``rte_wi12_do3.txt``), atomically.

    Parameters
    ----------
    ds : Dataset
    directory : str or Path
        Must be new or empty; with ``overwrite``, a directory holding only raw logs is
        replaced.
    numpy2_floats : bool
        Write floats as ``np.float64(...)`` (logs written under NumPy 2).
    index_batches : int or None
        See :func:`format_rawlog`.
    overwrite : bool

    Returns
    -------
    Path
        ``directory``.

    Raises
    ------
    DataError
        A trial without separate WI and DO seeds, or a directory that is not ours.
    """
    directory = Path(directory)
    with writing_directory(directory, "directory", overwrite, _looks_like_rawlog) as tmp:
        for rec in dataset_records(ds):
            text = format_rawlog(rec, numpy2_floats, index_batches)
            name = _file_name(rec)
            if (tmp / name).exists():
                raise DataError(f"two trials map to the raw log {name}")
            (tmp / name).write_text(text, encoding="utf-8")
    return directory

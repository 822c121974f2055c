"""The released pickle of Dodge et al. (2020): a safe loader and a writer .

The authors released their 2,100 trials (Section 3 of the paper; Figures 1-9 are drawn
from it) as one pickled nested dict::

    data[task][wi][do] = {
        "train_loss": {"during": [loss at step 0, loss at step 1, ...]},
        "loss":  {"before": float, "during": [[step, value], ...], "after": float},
        "<metric>": {"before": float, "during": [[step, value], ...], "after": float},
    }

optionally with one more level keyed by the training-set size as a string (usually
``"None"``: ``data[task]["None"][wi][do]``), per-trial extras ``init_seed``,
``data_seed``, ``num_train``, and NumPy scalars or arrays for the numbers.

A pickle can run arbitrary code when loaded, and a downloaded one is untrusted. This
module unpickles through :class:`RestrictedUnpickler`, which admits only plain
containers, numbers, strings and the NumPy scalar/array constructors; any other
global (``os.system``, ``builtins.eval``, ``subprocess.Popen``, ...) is refused with a
:class:`~seedstats.errors.ParseError` naming the file and the global, before anything
runs.
"""

from __future__ import annotations

import builtins
import importlib
import math
import os
import pickle
from pathlib import Path

import numpy as np

from seedstats.data import schema, store
from seedstats.data.formats.base import (
    ReadResult,
    excerpt,
    gc_paused,
    headline_metric,
    parse_error_or_skip,
    record_keys,
)
from seedstats.data.records import Curve, TrialRecord, dataset_records
from seedstats.errors import DataError, ParseError

__all__ = ["RestrictedUnpickler", "ALLOWED_GLOBALS", "detect", "read", "load_pickle",
           "write_release", "release_dict"]

_BUILTINS = ("set", "frozenset", "complex", "bytearray", "list", "dict", "tuple", "int",
             "float", "str", "bytes", "bool")

#: ``(module, name)`` globals a release pickle may reference. Everything else is refused.
ALLOWED_GLOBALS = frozenset(
    {(f"numpy.{core}.multiarray", name) for core in ("core", "_core")
     for name in ("scalar", "_reconstruct")}
    | {(f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")}
    | {("numpy", "dtype"), ("numpy", "ndarray"), ("_codecs", "encode"),
       ("collections", "OrderedDict")}
    | {(mod, name) for mod in ("builtins", "__builtin__") for name in _BUILTINS}
)

_EXTRA_KEYS = ("init_seed", "data_seed", "num_train")
_PICKLE_SUFFIXES = (".pkl", ".pickle")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`, and builds nothing larger
    than the file it reads.

    Three allowed constructors can make an object out of a number alone (``bytes(n)``,
    ``bytearray(n)`` and NumPy's ``_reconstruct(ndarray, shape, dtype)``): a few bytes of
    pickle could then claim gigabytes. They are wrapped so that such an object may be at most
    ``limit`` bytes (by default the size of the file: everything a real release holds comes
    from its own bytes); ``numpy.ndarray`` may only be passed to ``_reconstruct``, not called.

    Parameters
    ----------
    file : binary file
    path : str
        Named in the error message.
    limit : int, optional
        Largest object (bytes) a constructor may build from a size alone; default 1 MiB or
        the file's size, whichever is larger.

    Raises
    ------
    ParseError
        On the first global outside the allow-list (``"module.name"`` in the message), or an
        object over ``limit``; nothing it would have called has run.
    """
    def __init__(self, file, path, limit: int | None = None):
        super().__init__(file, encoding="latin1")
        self._path = path
        if limit is None:
            try:
                limit = os.fstat(file.fileno()).st_size
            except (AttributeError, OSError, ValueError):
                limit = 0
        self._limit = max(1 << 20, int(limit))

    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise ParseError(
                self._path, None,
                f"refused to unpickle global '{module}.{name}': the pickle is untrusted and "
                "may only hold plain containers, numbers, strings and NumPy scalars/arrays "
                "(nothing was run)")
        if module == "__builtin__":
            module = "builtins"
        if module == "builtins" and name in ("bytes", "bytearray"):
            return self._sized(getattr(builtins, name))
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        if name == "_reconstruct":
            return self._reconstruct
        if module.startswith("numpy."):
            sub = module.split(".", 2)[2]
            for base in ("numpy._core", "numpy.core"):
                try:
                    return getattr(importlib.import_module(f"{base}.{sub}"), name)
                except (ImportError, AttributeError):
                    continue
        return getattr(importlib.import_module(module), name)

    def _too_big(self, what, size):
        return ParseError(self._path, None,
                          f"refused to build {what} of {size:,} bytes from a pickle of at most "
                          f"{self._limit:,}: a release pickle holds nothing larger than itself "
                          "(nothing was allocated)")

    def _sized(self, cls):
        def build(*args):
            if args and isinstance(args[0], int) and not isinstance(args[0], bool):
                if args[0] > self._limit:
                    raise self._too_big(cls.__name__, args[0])
            return cls(*args)
        return build

    def _reconstruct(self, subtype, shape, dtype):
        if subtype is not _NDARRAY:
            raise ParseError(self._path, None, "expected numpy.ndarray as the array type of "
                             "numpy's _reconstruct; refused another (nothing was run)")
        dt = np.dtype(dtype)
        try:
            count = math.prod(int(n) for n in shape)
        except (TypeError, ValueError):
            raise ParseError(self._path, None, "expected a shape of integers for numpy's "
                             "_reconstruct") from None
        if count < 0 or count * max(dt.itemsize, 1) > self._limit:
            raise self._too_big("an array", count * max(dt.itemsize, 1))
        return np.ndarray(shape, dt)


class _NdarrayToken:
    """``numpy.ndarray`` as a release pickle may name it: only as the type argument of
    ``_reconstruct``; calling it (an empty array of any size) is refused."""

    def __call__(self, *args, **kwargs):
        raise TypeError("refused to call numpy.ndarray from a pickle: arrays come from their "
                        "pickled data only (nothing was allocated)")


_NDARRAY = _NdarrayToken()


def _head(path: Path, n: int = 2) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def _is_pickle_header(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def detect(path: Path) -> bool:
    """A file that starts with a pickle protocol header, or is named ``*.pkl``/``*.pickle``."""
    path = Path(path)
    if not path.is_file():
        return False
    return path.suffix.lower() in _PICKLE_SUFFIXES or _is_pickle_header(_head(path))


def load_pickle(path):
    """Unpickle ``path`` through :class:`RestrictedUnpickler`.

    Raises
    ------
    ParseError
        A refused global, or a file that is not a readable pickle.
    """
    path = Path(path)
    try:
        fh = open(path, "rb", buffering=1 << 20)
    except OSError as exc:
        raise ParseError(path, None, f"cannot read the file ({exc.strerror})") from None
    with fh, gc_paused():
        try:
            return RestrictedUnpickler(fh, str(path)).load()
        except ParseError:
            raise
        except Exception as exc:  # an untrusted file: any failure means "malformed"
            raise ParseError(path, None, "expected a pickle of the released nested dict; "
                             f"could not unpickle it ({_why(exc)})") from None


def _why(exc) -> str:
    """An exception's type and the start of its message, without formatting what it holds
    (the message of an exception raised on untrusted data may embed a huge object)."""
    arg = exc.args[0] if exc.args else ""
    text = arg[:120] if isinstance(arg, str) else ""
    text = text.encode("unicode_escape", "replace").decode("ascii", "replace")[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- reading -----------------------------------------------------------------------------


def _short(v) -> str:
    return f"{excerpt(v, 60)} ({type(v).__name__})"


def _kr(key) -> str:
    """A key as it appears in a key path (``data['rte'][3]``)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return f"[{int(key)}]"
    return f"[{key!r}]"


def _seed(key, path, kp) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, str) and key.strip().lstrip("-").isdigit():
        return int(key)
    raise ParseError(path, None, f"{kp}: expected an integer seed as key, got {_short(key)}")


def _num(v, path, kp, allow_none=True):
    if v is None and allow_none:
        return None
    if isinstance(v, (bool, np.bool_)):
        raise ParseError(path, None, f"{kp}: expected a number, got {_short(v)}")
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
        return float(v)
    raise ParseError(path, None, f"{kp}: expected a number, got {_short(v)}")


def _asarray(v):
    if not isinstance(v, (list, tuple, np.ndarray)):
        return None
    try:
        arr = np.asarray(v)
    except (ValueError, TypeError):
        return None
    return arr


def _values(v, path, kp) -> np.ndarray:
    """A flat list of numbers (NumPy scalars welcome) as float64."""
    arr = _asarray(v)
    if arr is not None and arr.ndim == 1 and (arr.dtype.kind in "iuf" or arr.size == 0):
        return arr.astype(np.float64)
    if not isinstance(v, (list, tuple, np.ndarray)):
        raise ParseError(path, None, f"{kp}: expected a list of numbers, got {_short(v)}")
    for i, x in enumerate(v):
        _num(x, path, f"{kp}[{i}]", allow_none=False)
    raise ParseError(path, None, f"{kp}: expected a flat list of numbers, got {_short(v)}")


def _pairs(v, path, kp) -> tuple[np.ndarray, np.ndarray]:
    """A list of ``[step, value]`` pairs as (int64 steps, float64 values)."""
    arr = _asarray(v)
    if arr is not None and arr.size == 0 and arr.ndim in (1, 2):
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if not (arr is not None and arr.ndim == 2 and arr.shape[1] == 2
            and arr.dtype.kind in "iuf"):
        if not isinstance(v, (list, tuple, np.ndarray)):
            raise ParseError(path, None, f"{kp}: expected a list of [step, value] pairs, "
                                         f"got {_short(v)}")
        for i, p in enumerate(v):
            if not (isinstance(p, (list, tuple, np.ndarray)) and len(p) == 2):
                raise ParseError(path, None, f"{kp}[{i}]: expected [step, value] pair, "
                                             f"got {_short(p)}")
            _num(p[0], path, f"{kp}[{i}][0]", allow_none=False)
            _num(p[1], path, f"{kp}[{i}][1]", allow_none=False)
        raise ParseError(path, None, f"{kp}: expected a list of [step, value] pairs, "
                                     f"got {_short(v)}")
    steps = arr[:, 0].astype(np.float64)
    ok = np.isfinite(steps) & (steps == np.round(steps)) & (steps >= 0) & (steps < 2**31)
    if not ok.all():
        i = int(np.argmin(ok))
        raise ParseError(path, None, f"{kp}[{i}]: expected [step, value] with an integer "
                                     f"step >= 0, got step {_short(arr[i, 0].item())}")
    return steps.astype(np.int64), arr[:, 1].astype(np.float64)


def _is_trial(d) -> bool:
    if not isinstance(d, dict):
        return False
    if "train_loss" in d:
        return True
    return any(isinstance(v, dict) and {"before", "during", "after"} & set(v) for v in d.values())


def _first(d):
    return next(iter(d.values())) if isinstance(d, dict) and d else None


def _trial(path, kp, task, wi, do, trial, opts, notes) -> TrialRecord:
    if not isinstance(trial, dict):
        raise ParseError(path, None, f"{kp}: expected a dict of metrics, got {_short(trial)}")
    flags = []
    tl = trial.get("train_loss")
    if isinstance(tl, dict):
        loss = _values(tl.get("during", []), path, f"{kp}['train_loss']['during']")
    elif tl is None:
        loss = np.empty(0, np.float64)
        flags.append("no_train_loss")
    else:
        loss = _values(tl, path, f"{kp}['train_loss']")
    curves = {}
    for key, v in trial.items():
        if key == "train_loss":
            continue
        if key in _EXTRA_KEYS or not isinstance(v, dict):
            if key not in _EXTRA_KEYS:
                notes.add(f"ignored non-metric key {key!r} in the trial dicts")
            continue
        mk = f"{kp}[{key!r}]"
        if not isinstance(key, str):
            raise ParseError(path, None, f"{mk}: expected a metric name (str) as key")
        if not {"before", "during", "after"} & set(v):
            raise ParseError(path, None, f"{mk}: expected a dict with 'before', 'during' "
                                         f"and/or 'after', got keys {sorted(map(str, v))}")
        steps, vals = _pairs(v.get("during", []), path, f"{mk}['during']")
        curves[key] = Curve(_num(v.get("before"), path, f"{mk}['before']"), steps, vals,
                            _num(v.get("after"), path, f"{mk}['after']"))
    for key, seed in (("init_seed", wi), ("data_seed", do)):
        v = trial.get(key)
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and int(v) != seed:
            flags.append(f"{key}_mismatch")
    metric = headline_metric(task, list(curves), opts, f"{path}: {kp}")
    head = curves.get(metric)
    return TrialRecord(task=task, wi_seed=wi, do_seed=do, curves=curves, train_loss=loss,
                       complete=head is not None and head.after is not None,
                       source=str(path), metric=metric, baseline=getattr(opts, "baseline", None),
                       flags=flags)


def read(path: Path, opts) -> "ReadResult":  # noqa: F821 (imported lazily)
    """Read a released pickle into trial records.

    Parameters
    ----------
    path : Path
    opts : IngestOptions
        ``skip_bad`` skips malformed trials (listed by key path); ``metric`` and
        ``baseline`` for tasks outside the paper's four.

    Returns
    -------
    ReadResult

    Raises
    ------
    ParseError
        A refused global, an unreadable pickle, or malformed structure; the message
        names the file and the key path, e.g.
        ``rel.pkl: data['rte'][3][7]['acc']['during'][12]: expected [step, value] pair``.
    """
    path = Path(path)
    with gc_paused():
        result = _read(path, load_pickle(path), opts)
    result.keys = record_keys(result.records)
    return result


def _read(path, data, opts):
    if not isinstance(data, dict):
        raise ParseError(path, None, f"data: expected a dict of tasks, got {_short(data)}")
    result = ReadResult([])
    notes: set[str] = set()
    for task, level in data.items():
        kp = f"data{_kr(task)}"
        if not isinstance(task, str):
            raise ParseError(path, None, f"{kp}: expected a task name (str) as key")
        if not isinstance(level, dict):
            raise ParseError(path, None, f"{kp}: expected a dict of WI seeds, got "
                                         f"{_short(level)}")
        if level and not _is_trial(_first(_first(level))) and _is_trial(
                _first(_first(_first(level)))):
            sizes = list(level)
            if len(sizes) > 1:
                raise ParseError(path, None, f"{kp}: expected one training-set-size level "
                                             f"(usually 'None'), got several {sizes}")
            if sizes[0] != "None":
                notes.add(f"{kp}: trials under training-set size {sizes[0]!r} (not the full "
                          "training set)")
            kp += _kr(sizes[0])
            level = level[sizes[0]]
        if task not in schema.TASKS:
            notes.add(f"task {task!r} is not one of the paper's tasks: epochs are unknown "
                      "(NaN)")
        seen = {}
        for wi_key, row in level.items():
            wi = _seed(wi_key, path, f"{kp}{_kr(wi_key)}")
            if not isinstance(row, dict):
                raise ParseError(path, None, f"{kp}{_kr(wi_key)}: expected a dict of DO "
                                             f"seeds, got {_short(row)}")
            for do_key, trial in row.items():
                tkp = f"{kp}{_kr(wi_key)}{_kr(do_key)}"
                do = _seed(do_key, path, tkp)
                if (wi, do) in seen:
                    raise ParseError(path, None, f"{tkp}: duplicate trial (WI {wi}, DO {do}); "
                                                 f"also at {seen[wi, do]}")
                seen[wi, do] = tkp
                rec = parse_error_or_skip(
                    opts, result, f"{path}:{tkp}",
                    lambda: _trial(path, tkp, task, wi, do, trial, opts, notes))
                if rec is not None:
                    result.records.append(rec)
    result.notes.extend(sorted(notes))
    return result


# --- tables back to records, and writing ---------------------------------------------------


def release_dict(ds, nested_none: bool = False) -> dict:
    """A dataset as the released nested dict (``data[task][wi][do]``; see the module doc).

    Parameters
    ----------
    ds : Dataset
    nested_none : bool
        Add the training-set-size level ``"None"`` (``data[task]["None"][wi][do]``).

    Raises
    ------
    DataError
        A trial the layout cannot express: no separate WI and DO seeds, training loss
        not logged at every step from 0, or an ``after`` evaluation not at the last step.
    """
    if not isinstance(nested_none, bool):
        raise TypeError(f"nested_none: expected a bool, got {nested_none!r}")
    data: dict = {}
    for rec in dataset_records(ds):
        tid = schema.trial_id(rec.task, rec.wi_seed, rec.do_seed, rec.seed)
        if rec.wi_seed is None or rec.do_seed is None or rec.seed is not None:
            raise DataError(f"trial {tid}: the release layout needs WI and DO seeds only")
        if rec.train_steps is not None or rec.n_steps != len(rec.train_loss):
            raise DataError(f"trial {tid}: the release layout holds one training loss per step "
                            f"from step 0; this trial has {len(rec.train_loss)} losses over "
                            f"{rec.n_steps} steps")
        if rec.after_step is not None and rec.after_step != rec.n_steps - 1:
            raise DataError(f"trial {tid}: its 'after' evaluation is at step {rec.after_step}, "
                            f"not the last step {rec.n_steps - 1}")
        trial = {"train_loss": {"during": rec.train_loss.tolist()}}
        for name, c in rec.curves.items():
            d = {}
            if c.before is not None:
                d["before"] = float(c.before)
            d["during"] = [[s, v] for s, v in zip(c.steps.tolist(), c.values.tolist())]
            if c.after is not None:
                d["after"] = float(c.after)
            trial[name] = d
        level = data.setdefault(rec.task, {})
        if nested_none:
            level = level.setdefault("None", {})
        level.setdefault(rec.wi_seed, {})[rec.do_seed] = trial
    return data


def write_release(ds, path, nested_none: bool = False) -> Path:
    """Write a dataset in the released pickle layout (atomically).

    ``complete`` is not stored by the layout: a trial reads back as complete when its
    headline metric has an ``after`` value.

    Parameters
    ----------
    ds : Dataset
    path : str or Path
        The pickle to write. An existing file is replaced only if it is a pickle.
    nested_none : bool
        Add the ``"None"`` training-set-size level, as some copies of the release have.

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"path {path}: is a directory; expected a file name such as rel.pkl")
    if path.exists() and not _is_pickle_header(_head(path)):
        raise DataError(f"path {path}: exists and is not a pickle; choose a new file name")
    data = release_dict(ds, nested_none)
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.writing_file(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return path



"""Content-addressed cache of early-stopping results, so that ``seedstats figures`` reuses what
``seedstats earlystop`` (or an earlier figure run) computed.

The key is a SHA-256 of the curves (values, row labels, seeds), every parameter of the search and
a fingerprint of the source of the modules that compute the numbers: new data, other parameters
or edited code never hit a stale entry. An entry is a directory ``<key>/`` holding
``assignments.parquet``, ``best.parquet`` and ``meta.json``, written into a private staging
directory and renamed into place (a crash leaves no half-written entry; when two processes race,
the first rename wins and both results are identical anyway).

Location: ``$SEEDSTATS_CACHE/earlystop`` if ``SEEDSTATS_CACHE`` is set, else
``$XDG_CACHE_HOME/seedstats/earlystop``, else ``~/.cache/seedstats/earlystop``; when that cannot
be written, ``<tempdir>/seedstats-cache-<uid>/earlystop``. ``cache=`` arguments may also name a
directory explicitly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX: processes computing the same entry take turns (see ``computing``)
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, the first rename still wins
    fcntl = None

import numpy as np
import pandas as pd

from seedstats.cache import cache_dir as root
from seedstats.errors import SeedstatsNote

__all__ = ["cache_dir", "cache_key", "code_fingerprint", "computing", "load_entry",
           "store_entry"]

# Relative to this package; exact.py computes the no-early-stopping baseline and p = 0 with
# seedstats.stats.expected_max, so that module is part of the fingerprint too.
_SOURCES = ("curves.py", "grid.py", "exact.py", "montecarlo.py", "sampling.py", "search.py",
            "halving.py", "../stats/expected_max.py")


def cache_dir() -> Path:
    """The default cache directory (see the module docstring); created when missing."""
    return root("earlystop")


def code_fingerprint() -> str:
    """Hash of the source of the modules whose code determines the cached numbers."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _SOURCES:
        try:
            h.update((here / name).read_bytes())
        except OSError:  # pragma: no cover - frozen installs
            h.update(name.encode())
    return h.hexdigest()[:16]


def cache_key(cs, params: dict) -> str:
    """SHA-256 (hex) of the curves, the parameters and :func:`code_fingerprint`."""
    h = hashlib.sha256()
    v = np.ascontiguousarray(cs.values, dtype=np.float64)
    h.update(repr(v.shape).encode())
    h.update(v.tobytes())
    h.update("\x00".join(cs.trial_ids).encode())
    for arr in (cs.wi_seed, cs.do_seed):
        h.update(b"-" if arr is None else np.ascontiguousarray(arr, dtype=np.int64).tobytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    h.update(code_fingerprint().encode())
    return h.hexdigest()


def _root(cache) -> Path | None:
    if cache is False or cache is None:
        return None
    if cache is True:
        return cache_dir()
    if isinstance(cache, (str, os.PathLike)):
        d = Path(cache)
        d.mkdir(parents=True, exist_ok=True)
        return d
    raise TypeError(f"cache: expected True, False or a directory path, got "
                    f"{type(cache).__name__}")


@contextmanager
def computing(cache, key: str | None, wait: bool = True):
    """Hold the entry ``key`` while computing it; yields whether it is held.

    Another process asking for the same entry waits (or, with ``wait=False``, gets ``False``
    at once and can do other work first), then finds it in the cache instead of computing it
    again: ``seedstats figures`` builds Figures 6, 7 and ``halving`` in parallel from one
    search. A lock file ``.<key>.lock`` beside the entries, removed once the entry is stored;
    always held when caching is off or on Windows.
    """
    root = _root(cache)
    if root is None or key is None or fcntl is None:
        yield True
        return
    lock = root / f".{key}.lock"
    with open(lock, "ab") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            # Once the entry exists the lock has done its work: remove it (a process that
            # opens it meanwhile finds the entry; at worst one computes it twice, harmlessly).
            if (root / key / "meta.json").exists():
                lock.unlink(missing_ok=True)
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_entry(cache, key: str):
    """``(assignments, best, meta)`` of a cached entry, or ``None`` when absent or unreadable."""
    root = _root(cache)
    if root is None:
        return None
    d = root / key
    try:
        meta = json.loads((d / "meta.json").read_text())
        a = pd.read_parquet(d / "assignments.parquet")
        b = pd.read_parquet(d / "best.parquet")
    except (OSError, ValueError):
        return None
    a.attrs = dict(meta)
    b.attrs = dict(meta)
    return a, b, meta


def store_entry(cache, key: str, assignments, best, meta: dict) -> Path | None:
    """Write an entry atomically; returns its directory (``None`` when caching is off)."""
    root = _root(cache)
    if root is None:
        return None
    final = root / key
    if (final / "meta.json").exists():
        return final
    try:
        return _store(root, final, key, assignments, best, meta)
    except OSError as exc:  # a full disk, say: the result stands, it is only not cached
        warnings.warn(f"cache {root}: could not keep this early-stopping result there "
                      f"({exc.strerror or exc}); it is not cached. Free some space or set "
                      "SEEDSTATS_CACHE to a directory with room", SeedstatsNote, stacklevel=3)
        return None


def _store(root: Path, final: Path, key: str, assignments, best, meta: dict) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.build-", dir=root))
    try:
        for name, df in (("assignments", assignments), ("best", best)):
            df = df.copy()
            df.attrs = {}
            df.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "meta.json").write_text(json.dumps(meta, sort_keys=True, default=str))
        try:
            os.rename(staging, final)
        except OSError:
            if not (final / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final

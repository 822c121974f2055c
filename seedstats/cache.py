"""Where seedstats caches what it can rebuild (the replica, early-stopping results)."""

from __future__ import annotations

import os
import stat
import tempfile
import warnings
from pathlib import Path

from seedstats.errors import SeedstatsNote

__all__ = ["cache_dir"]


def _writable(d: Path) -> bool:
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=d, prefix=".probe-")
        os.close(fd)
        os.unlink(name)
        return True
    except OSError:
        return False


def cache_dir(sub: str = "") -> Path:
    """A writable cache directory, created when missing.

    ``$SEEDSTATS_CACHE`` if set, else ``$XDG_CACHE_HOME/seedstats``, else
    ``~/.cache/seedstats``; when that cannot be written (a read-only home, say), a per-user
    directory in the system's temporary directory, ``seedstats-cache-<uid>``: created private
    (mode 0700) and used only when it is a real directory owned by this user that nobody
    else can write (another local user could otherwise plant a fake replica in it). When it
    is not, a fresh private directory for this process is used instead, with a
    :class:`~seedstats.errors.SeedstatsNote`. ``sub`` names a subdirectory.
    """
    env = os.environ.get("SEEDSTATS_CACHE")
    if env:
        root = Path(env)
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]) / "seedstats"
    else:
        root = Path.home() / ".cache" / "seedstats"
    d = root / sub if sub else root
    if _writable(d):
        return d
    base = _shared_fallback()
    d = base / sub if sub else base
    d.mkdir(parents=True, exist_ok=True)
    return d


_PRIVATE: list[Path] = []


def _shared_fallback() -> Path:
    """The per-user cache in the temporary directory, if it is safe; else a private one."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    base = Path(tempfile.gettempdir()) / f"seedstats-cache-{uid if uid is not None else 'user'}"
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return _private("it cannot be created")
    try:
        st = os.lstat(base)
    except OSError:
        return _private("it cannot be read")
    if not stat.S_ISDIR(st.st_mode):
        return _private("it is not a directory")
    if uid is not None and st.st_uid != uid:
        return _private(f"it belongs to user {st.st_uid}, not to you ({uid})")
    if st.st_mode & 0o022:
        return _private(f"others may write to it (mode {stat.S_IMODE(st.st_mode):o})")
    return base


def _private(why: str) -> Path:
    if not _PRIVATE:
        d = Path(tempfile.mkdtemp(prefix="seedstats-cache-"))
        shared = Path(tempfile.gettempdir()) / "seedstats-cache-<uid>"
        warnings.warn(f"cache: not using {shared} ({why}); caching in {d} for this run only",
                      SeedstatsNote, stacklevel=3)
        _PRIVATE.append(d)
    return _PRIVATE[0]

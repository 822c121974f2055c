"""Where seedstats caches what it can rebuild (the replica, early-stopping results)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
    directory in the system's temporary directory. ``sub`` names a subdirectory.
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
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    d = Path(tempfile.gettempdir()) / f"seedstats-cache-{uid}" / sub
    d.mkdir(parents=True, exist_ok=True)
    return d

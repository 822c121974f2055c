"""The on-disk cache of the replica: built once per generator source, shared by processes."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

from seedstats.cache import cache_dir
from seedstats.data import schema, store
from seedstats.data.replica import model
from seedstats.data.replica.model import REPLICA_VERSION, build_replica
from seedstats.errors import SeedstatsError

__all__ = ["replica_path", "discard", "PRUNE_GRACE_S", "STALE_BUILD_S"]


def _fingerprint() -> str:
    """Short hash of the generator's source: a stale cache of an edited generator is never used."""
    try:
        data = Path(model.__file__).read_bytes()
    except OSError:  # pragma: no cover - frozen installs
        data = repr(model.PARAMS).encode()
    return hashlib.sha256(data).hexdigest()[:10]


#: Names of the finished replica entries in the cache directory (group 1: the source hash).
_ENTRY = re.compile(r"replica-v\d+-schema\d+-([0-9a-f]{10})")
#: Entries written or used less than this long ago (seconds, by their modification time,
#: which :func:`replica_path` refreshes on every use) are never pruned: another process
#: (running other source) may have just made or found one and be about to read it.
PRUNE_GRACE_S = 600.0
#: Staging directories (``.replica-...build-*``) of builds that crashed are removed once they
#: are this old (seconds); younger ones may be builds in progress.
STALE_BUILD_S = 86400.0


def _prune_stale(root: Path, keep: str) -> list[str]:
    """Remove the replica entries of ``root`` made by other generator sources.

    Each old entry (a finished ``replica-v*-schema*-<hash>`` directory whose hash is not
    ours and which is older than :data:`PRUNE_GRACE_S`) is first renamed to a private
    ``.<name>.trash-*`` name, atomically, so no process ever sees a half-deleted entry under
    its real name and two pruning processes never remove the same one twice, then deleted.
    ``keep`` (the entry just written), entries of our own hash, staging directories of
    builds in progress and anything not named like a replica entry are never touched;
    errors are ignored (another process may be pruning too). Returns the names removed.
    """
    ours = _ENTRY.fullmatch(keep)
    now = time.time()
    removed = []
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return removed
    for name in names:
        path = root / name
        try:
            if name.startswith(".replica-") and ".trash-" in name:
                trash = path  # a pruned entry whose deletion was interrupted: nobody uses it
            else:
                st = path.lstat()
                age = now - st.st_mtime
                if not stat.S_ISDIR(st.st_mode):
                    continue
                if name.startswith(".replica-") and ".build-" in name:
                    stale = age >= STALE_BUILD_S  # a crashed build (a live one is younger)
                else:
                    m = _ENTRY.fullmatch(name)
                    stale = (m is not None and name != keep and age >= PRUNE_GRACE_S
                             and not (ours and m.group(1) == ours.group(1)))
                if not stale:
                    continue
                trash = root / f".{name.lstrip('.')}.trash-{os.getpid()}-{os.urandom(4).hex()}"
                os.rename(path, trash)  # atomic; fails when another process took it first
        except OSError:
            continue
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(name)
    return removed


def replica_path() -> Path:
    """Path of the cached replica (a normalized dataset directory), built on first use.

    The directory is named by :data:`REPLICA_VERSION`, the schema version and a hash
    of the generator's source, inside :func:`seedstats.cache.cache_dir`. It is built into a private
    staging directory and renamed into place; when another process finished first,
    its copy is used and ours discarded. After a build, the entries that earlier
    versions of the generator left in that directory are removed (:func:`_prune_stale`:
    never the one just written, nor one another process wrote or used in the last
    :data:`PRUNE_GRACE_S` seconds).

    Returns
    -------
    Path
    """
    root = cache_dir()
    final = root / (f"replica-v{REPLICA_VERSION}-schema{schema.SCHEMA_VERSION}-"
                    f"{_fingerprint()}")
    if store.is_dataset(final):
        try:  # mark it used: other sources' processes prune by age since last use
            os.utime(final)
        except OSError:
            pass
        return final
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.build-", dir=root))
        build_replica().save(staging / "ds")
        try:
            os.rename(staging / "ds", final)
        except OSError:
            if not store.is_dataset(final):
                raise
    except OSError as exc:  # a full disk, say: name the cache, and how to use another
        raise SeedstatsError(f"cache {root}: cannot write the replica there "
                             f"({exc.strerror or exc}); free some space or set "
                             "SEEDSTATS_CACHE to a directory with room (about 100 MB)") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    _prune_stale(root, final.name)
    return final




def discard(path) -> None:
    """Remove a damaged replica entry (renamed to a private trash name first, atomically, so
    no other process reads it half-deleted); the next :func:`replica_path` rebuilds it."""
    path = Path(path)
    trash = path.with_name(f".{path.name}.trash-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        os.rename(path, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)

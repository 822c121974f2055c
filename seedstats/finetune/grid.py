"""A WI x DO grid of fine-tuning trials: local or Ray launchers, resumable.

The paper's experiment is such a grid: every weight-initialization seed paired with
every data-order seed, 25 x 25 on MRPC, RTE and CoLA and 15 x 15 on SST-2 (Dodge et
al., 2020, Section 2). :func:`run_grid` runs one task's grid:

- resumable: a trial whose log ends with an end record of status ``"ok"`` is skipped;
  a missing, incomplete (killed) or failed log is rerun from scratch;
- a failing trial is recorded (its log ends with status ``"error"``, and the summary
  names the error) and the grid goes on;
- launchers: ``"local"`` runs the trials one after another in this process, or in
  ``workers`` processes (several trials can share one large GPU that way);
  ``"ray"`` runs each trial as a Ray task, on this machine or an existing cluster
  (``address``), with ``gpus_per_trial`` GPUs each when the cluster has GPUs (a
  fraction shares a GPU) and one CPU each otherwise.

A summary (one row per trial) is returned and written to ``OUT/grid_summary.json``.
Logs go to ``OUT`` (on a cluster: a directory every node can write to).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import re
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX: one grid at a time per --out (see _grid_lock)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import pandas as pd

from seedstats.data.schema import trial_id
from seedstats.errors import DataError, SeedstatsError
from seedstats.finetune import train
from seedstats.finetune.train import log_path

__all__ = ["parse_seeds", "log_status", "grid_specs", "run_grid", "SUMMARY_FILE",
           "SUMMARY_COLUMNS"]

#: File name of the grid summary inside the output directory.
SUMMARY_FILE = "grid_summary.json"
#: Columns of the summary DataFrame returned by :func:`run_grid`.
SUMMARY_COLUMNS = ["trial_id", "wi_seed", "do_seed", "status", "seconds", "n_steps", "after",
                   "path", "error"]


def parse_seeds(text, name: str = "--wi") -> list[int]:
    """Seeds from ``"1-25"``, ``"1,3,7-9"``, ``"12"`` or a list of ints.

    Examples
    --------
    >>> parse_seeds("1-3,7")
    [1, 2, 3, 7]
    """
    if isinstance(text, (list, tuple, range)):
        items = list(text)
        if not items or any(isinstance(s, bool) or not isinstance(s, int) or s < 0
                            for s in items):
            raise ValueError(f"{name}: expected non-negative int seeds, got {text!r}")
        out = items
    else:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name}: expected seeds such as '1-25' or '1,3,7-9', got {text!r}")
        out = []
        for part in text.split(","):
            m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if not m:
                raise ValueError(f"{name}: expected seeds such as '1-25' or '1,3,7-9', "
                                 f"got {text!r}")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) is not None else lo
            if hi < lo:
                raise ValueError(f"{name}: expected a range low-high with low <= high, "
                                 f"got {part.strip()!r}")
            out += range(lo, hi + 1)
    dup = sorted(s for s, c in Counter(out).items() if c > 1)
    if dup:
        raise ValueError(f"{name}: expected each seed once, got {dup} twice")
    return [int(s) for s in out]


def log_status(path) -> str:
    """State of a trial's log: ``"missing"``, ``"ok"``, ``"error"`` or ``"incomplete"``.

    ``"ok"`` only when the last record is an end record with status ``"ok"``.
    """
    path = Path(path)
    if not path.exists():
        return "missing"
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read().decode("utf-8", "replace")
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    if not lines or not tail.endswith("\n"):
        return "incomplete"
    try:
        rec = json.loads(lines[-1])
    except ValueError:
        return "incomplete"
    if not isinstance(rec, dict) or rec.get("event") != "end":
        return "incomplete"
    return "ok" if rec.get("status") == "ok" else "error"


def _header(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        try:
            return json.loads(fh.readline())
        except ValueError:
            return {}


def grid_specs(base, wi_seeds, do_seeds) -> list:
    """One :class:`~seedstats.finetune.train.TrialSpec` per (WI, DO), WI-major order."""
    wis = parse_seeds(wi_seeds, "--wi")
    dos = parse_seeds(do_seeds, "--do")
    return [dataclasses.replace(base, wi_seed=w, do_seed=d) for w in wis for d in dos]


def _check_same_settings(spec, path: Path) -> None:
    """A completed log made with other settings must not be taken as done."""
    head = _header(path)
    cfg = head.get("config") or {}
    mine = spec.recipe.to_dict()
    if cfg.get("recipe") != mine or cfg.get("model") != spec.model:
        raise DataError(f"{path}: a completed log of this trial made with other settings "
                        f"(model {cfg.get('model')!r}, recipe {cfg.get('recipe', {}).get('name')!r}"
                        f" with other values); use another --out, or remove the old logs")


def _run_one(spec) -> dict:
    """Run one trial, never raising: a summary row (used by every launcher)."""
    row = {"trial_id": trial_id(spec.task_name, spec.wi_seed, spec.do_seed),
           "wi_seed": spec.wi_seed, "do_seed": spec.do_seed,
           "path": str(train.log_path(spec)), "error": "", "n_steps": 0,
           "after": float("nan")}
    t0 = time.perf_counter()
    try:
        res = train.run_trial(spec)
    except Exception as exc:  # noqa: BLE001 (recorded; the grid goes on)
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row.update(status="error", error=f"{type(exc).__name__}: {msg}",
                   traceback="".join(tb[-6:]))
    else:
        after = [e for e in res.evals if e["phase"] == "after"]
        head = after[0]["metrics"] if after else {}
        row.update(status="ok", n_steps=res.n_steps)
        metric = _metric_of(res.path)
        if metric in head:
            row["after"] = float(head[metric])
    row["seconds"] = time.perf_counter() - t0
    return row


def _metric_of(path) -> str | None:
    return _header(Path(path)).get("metric")


def _worker_init():
    # worker processes: no inherited signal handlers matter; keep torch quiet
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _describe(row) -> str:
    if row["status"] == "ok":
        a = row.get("after")
        tail = f", after {a:.4f}" if a == a else ""
        return f"ok in {row['seconds']:.1f} s ({row['n_steps']} steps{tail})"
    if row["status"] == "skipped":
        return "already complete, skipped"
    return f"FAILED: {row['error']}"


def run_grid(base, wi_seeds, do_seeds, *, launcher: str = "local", workers: int = 1,
             address: str | None = None, gpus_per_trial: float = 1.0, echo=None):
    """Run (or resume) a WI x DO grid of trials.

    Parameters
    ----------
    base : TrialSpec
        Settings shared by every trial (its seeds are replaced).
    wi_seeds, do_seeds : str or list of int
        ``"1-25"``, ``"1,3,7-9"``, or lists.
    launcher : {"local", "ray"}
    workers : int
        Local: processes running trials at once (1: in this process). Ray without a
        cluster address: the CPUs of the local Ray instance.
    address : str, optional
        Address of an existing Ray cluster (``"auto"`` or ``"host:port"``).
    gpus_per_trial : float
        Ray, when the cluster has GPUs: GPUs reserved per trial (0.25 puts four
        trials on one GPU).
    echo : callable, optional
        Called with one line per finished trial and a final summary line.

    Returns
    -------
    DataFrame
        One row per trial, WI-major; columns ``trial_id``, ``wi_seed``, ``do_seed``,
        ``status`` (``"ok"``, ``"skipped"``: already complete, ``"error"``),
        ``seconds`` (wall clock), ``n_steps``, ``after`` (final headline score),
        ``path`` (the log), ``error`` (``""`` unless it failed). Also written to
        ``OUT/grid_summary.json`` with tracebacks of failures.
    """
    echo = echo or (lambda line: None)
    if launcher not in ("local", "ray"):
        raise ValueError(f"--launcher: expected 'local' or 'ray', got {launcher!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers: expected an int >= 1, got {workers!r}")
    if not gpus_per_trial > 0:
        raise ValueError(f"--gpus-per-trial: expected a number > 0, got {gpus_per_trial!r}")
    specs = grid_specs(base, wi_seeds, do_seeds)
    out = Path(base.out)
    out.mkdir(parents=True, exist_ok=True)
    with _grid_lock(out):
        return _run_grid(specs, out, launcher, workers, address, gpus_per_trial, echo)


@contextmanager
def _grid_lock(out: Path):
    """One grid at a time per ``--out``: a second run refuses in one line instead of running
    every trial again beside the first (POSIX; no lock on Windows)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path = out / ".grid.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()[:20] or "?"
            raise DataError(f"--out {out}: another `seedstats finetune grid` is running on it "
                            f"(pid {holder}); wait for it to finish or choose another --out")\
                from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_grid(specs, out, launcher, workers, address, gpus_per_trial, echo):
    rows: dict[int, dict] = {}
    todo = []
    for i, spec in enumerate(specs):
        p = log_path(spec)
        if log_status(p) == "ok":
            _check_same_settings(spec, p)
            rows[i] = {"trial_id": trial_id(spec.task_name, spec.wi_seed, spec.do_seed),
                       "wi_seed": spec.wi_seed, "do_seed": spec.do_seed, "status": "skipped",
                       "seconds": 0.0, "n_steps": int(_header(p).get("n_steps") or 0),
                       "after": float("nan"), "path": str(p), "error": ""}
        else:
            todo.append(i)
    n = len(specs)
    echo(f"grid {specs[0].task_name}: {n} trials, {n - len(todo)} already complete, "
         f"{len(todo)} to run ({launcher}"
         + (f", {workers} workers" if launcher == "local" and workers > 1 else "") + ")")
    done = [n - len(todo)]

    def finish(i, row):
        rows[i] = row
        done[0] += 1
        echo(f"[{done[0]}/{n}] {row['trial_id']}: {_describe(row)}")

    t0 = time.perf_counter()
    if todo and launcher == "local":
        _run_local(specs, todo, workers, finish)
    elif todo:
        _run_ray(specs, todo, workers, address, gpus_per_trial, finish)
    wall = time.perf_counter() - t0

    ordered = [rows[i] for i in range(n)]
    summary = pd.DataFrame([{c: r.get(c) for c in SUMMARY_COLUMNS} for r in ordered],
                           columns=SUMMARY_COLUMNS)
    counts = summary["status"].value_counts().to_dict()
    doc = {"task": specs[0].task_name, "launcher": launcher, "workers": workers,
           "wall_seconds": wall, "counts": {k: int(v) for k, v in counts.items()},
           "trials": [{k: (None if isinstance(v, float) and v != v else v)
                       for k, v in r.items()} for r in ordered]}
    tmp = out / f".{SUMMARY_FILE}.tmp"
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(out / SUMMARY_FILE)
    failed = summary[summary["status"] == "error"]
    echo(f"grid {specs[0].task_name}: {counts.get('ok', 0)} run, {counts.get('skipped', 0)} "
         f"skipped, {len(failed)} failed in {wall:.1f} s; summary {out / SUMMARY_FILE}")
    for _, r in failed.iterrows():
        echo(f"  failed {r['trial_id']}: {r['error']}")
    return summary


def _cpu_threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def _run_local(specs, todo, workers, finish):
    if workers == 1:
        for i in todo:
            finish(i, _run_one(specs[i]))
        return

    n_gpu = _local_gpus(specs[0])
    jobs = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init) as pool:
        for k, i in enumerate(todo):
            spec = specs[i]
            if n_gpu > 1 and spec.device == "auto":
                spec = dataclasses.replace(spec, device=f"cuda:{k % n_gpu}")
            if n_gpu == 0 and spec.threads is None:
                spec = dataclasses.replace(spec, threads=_cpu_threads(workers))
            jobs[pool.submit(_run_one, spec)] = i
        for fut in as_completed(jobs):
            finish(jobs[fut], fut.result())


def _local_gpus(spec) -> int:
    if spec.device not in ("auto",) and not str(spec.device).startswith("cuda"):
        return 0
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _run_ray(specs, todo, workers, address, gpus_per_trial, finish):
    try:
        import ray
    except ImportError:
        raise SeedstatsError("--launcher ray needs Ray: pip install 'seedstats[cluster]'") \
            from None
    started = False
    if not ray.is_initialized():
        kw = {"include_dashboard": False, "log_to_driver": False}
        if address:
            ray.init(address=address, **kw)
        else:
            ray.init(num_cpus=workers, **kw)
        started = True
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        opts = ({"num_gpus": gpus_per_trial, "num_cpus": 1} if gpus else {"num_cpus": 1})
        remote = ray.remote(_run_one).options(**opts)
        pending = {}
        for i in todo:
            spec = specs[i]
            if not gpus and spec.threads is None:
                spec = dataclasses.replace(spec, threads=1)
            pending[remote.remote(spec)] = i
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    row = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 (a worker died: recorded)
                    spec = specs[i]
                    row = {"trial_id": trial_id(spec.task_name, spec.wi_seed, spec.do_seed),
                           "wi_seed": spec.wi_seed, "do_seed": spec.do_seed,
                           "status": "error", "seconds": float("nan"), "n_steps": 0,
                           "after": float("nan"), "path": str(log_path(spec)),
                           "error": f"{type(exc).__name__}: "
                                    f"{(str(exc).strip().splitlines() or [''])[0]}"}
                finish(i, row)
    finally:
        if started:
            ray.shutdown()

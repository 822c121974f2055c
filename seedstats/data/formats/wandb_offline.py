"""W&B offline run directories: ``wandb/offline-run-<date>-<id>/run-<id>.wandb``.

A seed sweep logged with ``wandb.init(mode="offline")`` (or ``WANDB_MODE=offline`` under the
Trainer's ``report_to="wandb"``) gets the paper's analyses (Dodge et al. 2020: expected
validation performance, Section 3; failed runs, Section 4; early stopping, Section 5) without
``wandb sync``.

Reader
------
wandb (0.31 here) keeps an offline run's config, history and summary only in its transaction
log, ``run-<id>.wandb`` (LevelDB-log framed protobuf records). It is read through wandb's own
reader of that log, ``wandb leet inspect --json`` (the ``wandb-core`` binary that ships in the
wheel; one JSON object per record), never decoded by hand: needs the optional extra
``seedstats[wandb]`` (wandb >= 0.31; older releases have no ``--json``). The binary runs with
its telemetry off, on one file at a time, under a time limit, several files in parallel.
A file the reader reports as damaged ("skipped corrupt data") is an error (its records after
the damage are gone); one that ends inside a record (a run killed, or still running) is read
up to there, with a note.

Mapping
-------
``history`` records are the logged rows (W&B flattens ``{"eval": {"acc": x}}`` to
``eval.acc``; a NaN or infinity logged is kept as such); ``run`` and ``config`` records the
config (seeds: ``seed``, ``wi_seed``/``do_seed``; task: ``task``, ``task_name``,
``finetuning_task``); ``summary`` records the summary; ``exit`` the exit code. W&B's own keys
(``_step``, ``_runtime``, ``_timestamp``), text, media and nested values are bookkeeping;
keys only in the summary are listed as such in the key report.

The step of a row is ``--map step=KEY`` when given, else the Trainer's ``train/global_step``
(its ``WandbCallback``; keys are then mapped back to the Trainer's log keys as for
TensorBoard, :func:`~seedstats.data.formats.sweeps.hf_key`), else Lightning's
``trainer/global_step`` (its ``WandbLogger``), else W&B's ``_step``. The Trainer's step and a
``step=`` passed to ``wandb.log`` (W&B records that it was passed) are read as the count of
updates done (seedstats' step is ``count - 1``); Lightning's as the 0-based index of the update
(as its CSV and TensorBoard loggers write it; its ``epoch`` is a 0-based index too); without
``step=``, ``_step`` only numbers the log calls from 0 and is read as a 0-based index (noted).
``--map step_is=count|index`` overrides any of them.

Completeness: a run is complete when its log ends with an ``exit`` record of code 0 (and, for
a Trainer run, its end-of-training row: ``train/train_runtime``, or the row that logs only
``train/epoch``); a non-zero exit is incomplete and flagged ``failed``; a run without an
``exit`` record was killed (or is still running) and is incomplete. W&B writes its log in
32 KiB blocks, so a run killed by SIGKILL keeps only the blocks it had filled.
``--seeds-from`` and ``--systems-from`` patterns match ``<run directory>/<run name>``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from seedstats.data.formats.base import (
    IngestOptions,
    ReadResult,
    excerpt,
    json_records,
    parse_error_or_skip,
)
from seedstats.data.formats.sweeps import (
    END_KEY,
    Resolver,
    Series,
    assemble,
    find_first,
    guarded,
    hf_key,
    index_steps_per_epoch,
    infer_steps_per_epoch,
    note_unread,
    series_from_rows,
    train_loss,
    walk_files,
)
from seedstats.errors import DataError, ParseError

__all__ = ["detect", "read", "EXTRA", "MIN_WANDB", "inspect_records"]

EXTRA = "seedstats[wandb]"
#: The first wandb release whose ``wandb leet inspect`` prints JSON.
MIN_WANDB = (0, 31)
_TASK_KEYS = ("task", "task_name", "finetuning_task")
_TRAINER_STEP = "train/global_step"  # the Trainer's WandbCallback: a count of updates
_LIGHTNING_STEP = "trainer/global_step"  # Lightning's WandbLogger: the update's 0-based index
#: W&B's special strings for the floats JSON cannot hold
_FLOATS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
#: W&B's name for a run directory (``offline-run-20261205_144321-76g8vn47``)
_RUN_DIR = re.compile(r"^(offline-)?run-\d{8}_\d{6}-[A-Za-z0-9]+$")


def _is_run_file(p: Path) -> bool:
    return p.suffix == ".wandb"


def detect(path: Path) -> bool:
    """A W&B run log (``run-<id>.wandb``, any ``.wandb`` file), or a tree holding one (cheap:
    names only)."""
    path = Path(path)
    if path.is_file():
        return _is_run_file(path)
    return find_first(path, _is_run_file)


def _core() -> str:
    """The ``wandb-core`` binary of the installed wandb, or a DataError saying what to install.

    Found where ``wandb.util.get_core_path()`` finds it (``wandb/bin/wandb-core``) without
    importing wandb, which would start its telemetry and settings machinery for nothing.
    """
    need = f"pip install '{EXTRA}' (wandb >= {'.'.join(map(str, MIN_WANDB))})"
    try:
        version = importlib.metadata.version("wandb")
    except importlib.metadata.PackageNotFoundError:
        raise DataError(f"W&B offline runs are read through wandb's own reader: {need}"
                        ) from None
    parts = tuple(int(x) for x in re.findall(r"\d+", version)[:2])
    if parts < MIN_WANDB:
        raise DataError(f"W&B offline runs need wandb's `leet inspect --json` (wandb >= "
                        f"{'.'.join(map(str, MIN_WANDB))}); wandb {version} is installed: "
                        f"{need}")
    spec = importlib.util.find_spec("wandb")
    where = next(iter(spec.submodule_search_locations or []), "") if spec else ""
    core = Path(where) / "bin" / "wandb-core"
    if not core.is_file():
        raise DataError(f"wandb {version} is installed without its wandb-core binary "
                        f"({core}): reinstall it, {need}")
    return str(core)


#: wandb-core's environment: one thread of Go code each (several run at once), and its garbage
#: collector only near a memory cap (a run's records are short-lived; collecting them as they
#: go cost a fifth of the reader's time here), so a huge log cannot take the machine's memory
_GO_ENV = {"GOMAXPROCS": "1", "GOGC": "off", "GOMEMLIMIT": "512MiB"}


def inspect_records(path, core: str | None = None) -> tuple[list[dict], list[str]]:
    """The records of one ``run-<id>.wandb`` as wandb's own reader prints them
    (``wandb leet inspect --json``), and its warnings.

    Raises
    ------
    ParseError
        wandb's reader failed, timed out or found damaged data (records would be lost).
    DataError
        wandb (>= 0.31) is not installed.
    """
    path = Path(path).resolve()
    core = core or _core()
    # the reader is linear in the file; the limit only stops a reader that hangs
    limit = 60 + path.stat().st_size / 2**20
    try:
        done = subprocess.run([core, "leet", "inspect", "--no-observability", "--json",
                               "--run-file", str(path)], capture_output=True,
                              env={**os.environ, **_GO_ENV},
                              timeout=limit, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise ParseError(path, None, f"wandb's reader did not finish in {limit:.0f} s"
                         ) from None
    err = [ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines()
           if ln.strip()]
    if done.returncode != 0:
        raise ParseError(path, None, f"wandb's reader could not read it (exit "
                         f"{done.returncode}: {excerpt(' '.join(err) or 'no message', 160)})")
    corrupt = [e for e in err if "corrupt" in e.lower()]
    if corrupt:
        raise ParseError(path, None, f"damaged: wandb's reader skipped records "
                         f"({excerpt(corrupt[0], 160)}); what followed the damage is lost")
    rows, _ = json_records(path, done.stdout)
    records = [r for _, r in rows if isinstance(r, dict)]
    if len(records) != len(rows):
        raise ParseError(path, None, "wandb's reader printed a line that is not a record")
    return records, err


def _keys(v) -> list[str]:
    """The key names of a record's ``remove`` list (anything else removes nothing)."""
    return [k for k in v if isinstance(k, str)] if isinstance(v, list) else []


def _floats(v):
    return _FLOATS.get(v, v) if isinstance(v, str) else v


class _Log:
    """What one run's records hold."""

    def __init__(self, records: list[dict], path: Path):
        self.config: dict = {}
        self.summary: dict = {}
        self.rows: list[dict] = []
        self.exit_code = None
        self.name = None
        self.step_given = False
        self.n_stats = 0
        seen_run = False
        for rec in records:
            kind = rec.get("type")
            body = rec.get(kind) if isinstance(rec.get(kind), dict) else {}
            if kind == "run":
                seen_run = True
                self.name = body.get("display_name")
                self._config(body.get("config"))
                self._telemetry(body.get("telemetry"))
            elif kind == "config":
                self._config(body)
            elif kind == "history":
                item = body.get("item")
                if isinstance(item, dict):
                    self.rows.append({k: _floats(v) for k, v in item.items()})
            elif kind == "summary":
                upd = body.get("update")
                if isinstance(upd, dict):
                    self.summary.update(upd)
                for k in _keys(body.get("remove")):
                    self.summary.pop(k, None)
            elif kind == "telemetry":
                self._telemetry(body)
            elif kind == "stats":
                self.n_stats += 1
            elif kind == "exit":
                code = body.get("exit_code", 0)  # proto3's JSON leaves a zero out
                if isinstance(code, bool) or not isinstance(code, int):
                    raise ParseError(path, None, f"exit record: expected an integer exit code, "
                                     f"got {excerpt(code)}")
                self.exit_code = code
        if not seen_run:
            raise ParseError(path, None, f"expected a W&B run record; wandb's reader found "
                             f"{len(records)} record(s) and none describes the run (a run "
                             "killed before W&B wrote its first 32 KiB block holds nothing)")

    def _config(self, body):
        if not isinstance(body, dict):
            return
        upd = body.get("update")
        if isinstance(upd, dict):
            self.config.update({k: v for k, v in upd.items() if k != "_wandb"})
        for k in _keys(body.get("remove")):
            self.config.pop(k, None)

    def _telemetry(self, body):
        feature = body.get("feature") if isinstance(body, dict) else None
        if isinstance(feature, dict) and feature.get("set_step_log"):
            self.step_given = True


def _steps(log: _Log, path: Path, res: Resolver):
    """``(step key, [count of updates per row or None], logger)``: ``logger`` is
    ``"trainer"`` or ``"lightning"`` when their step key is there (module docstring)."""
    mapping = res.opts.mapping or {}
    logger = next((name for name, k in (("trainer", _TRAINER_STEP),
                                        ("lightning", _LIGHTNING_STEP))
                   if any(k in r for r in log.rows)), None)
    key = mapping.get("step") or {"trainer": _TRAINER_STEP,
                                  "lightning": _LIGHTNING_STEP}.get(logger, "_step")
    step_is = mapping.get("step_is")
    if step_is is not None and step_is not in ("index", "count"):
        raise DataError(f"--map step_is: expected 'index' or 'count', got {step_is!r}")
    if step_is is None:
        step_is = ("index" if key == _LIGHTNING_STEP
                   or key == "_step" and not log.step_given else "count")
        if key == "_step":
            res.note("W&B runs logged with wandb.log(..., step=N): N is read as the count of "
                     "updates done" if log.step_given else
                     "W&B runs logged without step=: W&B's _step numbers the log calls from 0 "
                     "and is read as a 0-based index, not a count of updates; log "
                     "step=global_step or give --map step=KEY")
    shift = 0 if step_is == "count" else 1
    steps, missing = [], 0
    for i, r in enumerate(log.rows):
        v = r.get(key)
        if v is None:
            steps.append(None)
            missing += any(not k.startswith("_") and k != key for k in r)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or float(v) != int(v):
            raise ParseError(path, None, f"history row {i} (_step {excerpt(r.get('_step'))}): "
                             f"expected an integer {key!r}, got {excerpt(v)}")
        steps.append(int(v) + shift)
    flag = f"--map step={key}: " if mapping.get("step") else ""
    if missing:
        raise ParseError(path, None, f"{flag}{missing} history row(s) hold values but no "
                         f"{key!r}")
    if not log.rows and mapping.get("step"):
        raise ParseError(path, None, f"--map step={key}: the run logged no history")
    return key, steps, logger


def _run(f: Path, records, warnings, res: Resolver):
    log = _Log(records, f)
    if any("incomplete" in w for w in warnings):
        res.note("W&B run logs that end inside a record (a run killed, or still running) were "
                 "read up to there")
    key, steps, logger = _steps(log, f, res)
    trainer = logger == "trainer"
    rows, kept = [], []
    own: dict[str, int] = {}
    for r, g in zip(log.rows, steps):
        if g is None:
            continue
        row = {}
        for k, v in r.items():
            if k.startswith("_") or k == key:
                own[k] = own.get(k, 0) + 1
            else:
                row[hf_key(k) if trainer else k] = v
        rows.append(row)
        kept.append(g)
    series, other = series_from_rows(rows, kept, f, lambda i: (None, f"history row {i}"))
    res.account_other(own, "W&B's own key or the step")
    res.account_other(other, "not a number (text, media or nested)")
    logged = {k for r in log.rows for k in r}
    only_summary = {k: 1 for k in log.summary if not k.startswith("_") and k not in logged}
    res.account_other(only_summary, "in the run's summary only, not logged at a step")
    if log.n_stats:
        res.account_other({"<system metrics>": log.n_stats}, "W&B's system monitor")
    cfg = log.config
    task = next((cfg[k] for k in _TASK_KEYS if isinstance(cfg.get(k), str) and cfg[k]), None)
    run_dir = f.parent
    name = res.relative(run_dir) + ("/" + str(log.name) if log.name else "")
    ident = res.identity(run_dir, run_dir=run_dir, name=name, config=cfg, task_hint=task)
    evals, metric, baseline = res.validation(ident, series, f)
    # the Trainer's end of training: a row with train_runtime, or one that logs only the epoch
    end_order = n_steps = None
    if trainer:
        for i, row in enumerate(rows):
            if END_KEY in row or set(row) == {"epoch"}:
                end_order, n_steps = float(i), kept[i]
    flags = []
    if log.exit_code is None:
        complete = False
        res.note("W&B runs without an exit record (killed, or still running) are incomplete")
    elif log.exit_code != 0:
        complete = False
        flags.append("failed")
    else:
        complete = not trainer or end_order is not None or END_KEY in log.summary
    if n_steps is None and kept:
        n_steps = max(kept)
    epoch = series.get("epoch")
    if logger == "lightning" and epoch is not None:  # its epoch index, at update indices
        spe = index_steps_per_epoch(Series(epoch.g - 1, epoch.v, epoch.order))
    else:
        spe = infer_steps_per_epoch(epoch)
    return assemble(source=str(f), ident=ident, metric=metric, baseline=baseline,
                    evals=evals, train=train_loss(series), train_offset=-1,
                    end_order=end_order, complete=complete, n_steps=n_steps,
                    steps_per_epoch=spe, flags=flags)


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every W&B offline run under ``path`` (rules: module docstring).

    Returns
    -------
    ReadResult
        One record per ``run-<id>.wandb``; under ``--skip-bad`` unreadable runs are listed
        in ``skipped``.
    """
    path = Path(path)
    res = Resolver(path, opts)
    files = [path] if path.is_file() else list(walk_files(path, _is_run_file))
    if not files:
        raise ParseError(path, None, "expected W&B offline runs (run-<id>.wandb)")
    # wandb's latest-run link to the newest run becomes a second copy of it when a tree is
    # copied with its links followed: that run is read once
    names = {f.name for f in files if f.parent.name != "latest-run"}
    copies = [f for f in files if f.parent.name == "latest-run" and f.name in names]
    if copies:
        files = [f for f in files if f not in copies]
        res.note(f"{copies[0].parent}: a copy of W&B's latest-run link (the newest run), read "
                 "once under its own directory")
    core = _core()
    dirs = {f.parent for f in files}
    note_unread(res, sorted(dirs), lambda n: n.endswith(".wandb"), "W&B run directories")
    # a run directory beside the others whose log is gone is named, not left unseen
    empty = [] if path.is_file() else sorted(
        {d for parent in {d.parent for d in dirs} for d in parent.iterdir()
         if _RUN_DIR.match(d.name) and d.is_dir() and not any(d.glob("*.wandb"))})
    if empty:
        res.note(f"not read: {len(empty)} W&B run director(ies) without a .wandb run log "
                 f"({', '.join(repr(d.name) for d in empty[:3])}"
                 f"{', ...' if len(empty) > 3 else ''})")
    # one wandb-core process per run: run several at once (they are independent processes)
    workers = max(1, min(8, os.cpu_count() or 1, len(files)))

    def inspect(f):
        try:
            return inspect_records(f, core), None
        except ParseError as exc:
            return None, exc

    result = ReadResult(records=[])
    pool = ThreadPoolExecutor(workers)
    try:  # each run is built while the next ones are read
        for f, (out, exc) in zip(files, pool.map(inspect, files)):
            def build(f=f, out=out, exc=exc):
                if exc is not None:
                    raise exc
                return guarded(f, "a W&B run log", lambda: _run(f, *out, res))

            rec = parse_error_or_skip(opts, result, f, build)
            if rec is not None:
                result.records.append(rec)
    finally:  # an error stops at once: the runs not yet read are not read
        pool.shutdown(wait=True, cancel_futures=True)
    res.finish(result)
    return result


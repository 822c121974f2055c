"""Hugging Face Trainer output: ``trainer_state.json`` of each run directory.

Reads the ``log_history`` the Trainer keeps in ``trainer_state.json`` (written with
``json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True)``), so a user's own seed
sweep gets the paper's analyses (Dodge et al. 2020: expected validation performance, Section 3;
failed runs, Section 4; early stopping, Section 5).

Layout
------
A run directory is a Trainer ``output_dir``: its top-level ``trainer_state.json`` (written by
``trainer.save_state()``) is taken when present, else the one of the highest
``checkpoint-<N>/`` (a run that was killed keeps only its checkpoints). ``SRC`` may be one
``trainer_state.json``, one run directory, or a directory holding many of them at any depth.
``training_args.bin`` is a pickle and is never read.

``log_history`` mixes three kinds of entries, told apart by their keys:

- training logs: ``loss`` (with ``learning_rate``, ``grad_norm``, ``epoch``, ``step``);
- evaluation logs: ``<prefix>_<metric>`` with ``<prefix>_runtime`` & co; the prefix is ``eval``
  unless the run used a custom ``metric_key_prefix`` (see
  :func:`seedstats.data.formats.sweeps.split_keys`);
- the end-of-training record: ``train_runtime``, ``train_loss``, ``total_flos``, ...

Each entry's ``step`` is the Trainer's ``global_step`` (updates done): seedstats' step is
``global_step - 1``. A ``step`` (or the state's ``global_step``) that is not a whole number
(``12`` and ``12.0`` are; ``12.5``, NaN, ``"12"`` are not) is a ParseError naming the file and
the entry, never truncated; ``--skip-bad`` skips that run. Entries repeated after a resume
are deduplicated, keeping the last per kind and step. Phases, ``after`` and seeds follow
:mod:`seedstats.data.formats.sweeps`; seeds come from ``--seeds-from``, a ``seedstats.json`` sidecar or
``trial_params`` (the Trainer does not record its seed in this file). The task comes from
``--task``, the sidecar, or ``finetuning_task`` in the run's ``config.json`` (the model config
``run_glue.py`` saves).

A run is complete when its log has the end-of-training record, or its ``global_step`` reached
``max_steps``; the number of steps is the state's ``global_step``; updates per epoch are
``global_step / epoch`` of the state.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from seedstats.data.formats.base import (
    MAX_STEP,
    IngestOptions,
    ReadResult,
    excerpt,
    parse_error_or_skip,
)
from seedstats.data.formats.sweeps import (
    END_KEY,
    Resolver,
    Series,
    assemble,
    find_first,
    guarded,
    infer_steps_per_epoch,
    series_from_rows,
    walk_files,
)
from seedstats.errors import ParseError

__all__ = ["detect", "read", "find_runs", "read_state", "read_run"]

STATE = "trainer_state.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def detect(path: Path) -> bool:
    """Whether ``path`` is, or holds, a ``trainer_state.json``."""
    path = Path(path)
    if path.is_file():
        return path.name == STATE
    return find_first(path, lambda p: p.name == STATE)


def find_runs(src: Path) -> list[tuple[Path, Path]]:
    """``(run_dir, state_file)`` of every run under ``src``, newest state per run.

    The top-level ``trainer_state.json`` of a run directory wins over its checkpoints; among
    checkpoints the highest ``checkpoint-<N>``.
    """
    src = Path(src)
    best: dict[Path, tuple[float, Path]] = {}
    for f in walk_files(src, lambda p: p.name == STATE):
        m = _CKPT.match(f.parent.name)
        run_dir, rank = (f.parent.parent, float(m.group(1))) if m else (f.parent, float("inf"))
        if run_dir not in best or rank > best[run_dir][0]:
            best[run_dir] = (rank, f)
    return [(d, best[d][1]) for d in sorted(best)]


def read_state(path: Path) -> dict:
    """Load a ``trainer_state.json``; a ParseError names the file when it is not one."""
    path = Path(path)
    state = guarded(path, "a trainer_state.json (JSON)",
                    lambda: json.loads(path.read_text(encoding="utf-8")))
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise ParseError(path, None, "expected a trainer_state.json: a JSON object with a "
                         "'log_history' list")
    return state


def _integer(value) -> int | None:
    """``value`` as an int when it is a whole number (``12`` or ``12.0``), else None.

    A fractional step (``12.5``) is not a ``global_step``: it is never truncated.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def _series(log_history, path):
    """Per-key series of a log history, the order and step of its end-of-training record, and
    the keys that hold no numbers (:func:`~seedstats.data.formats.sweeps.series_from_rows`)."""
    end_order = end_step = None
    steps = []
    for i, entry in enumerate(log_history):
        if not isinstance(entry, dict):
            raise ParseError(path, None, f"log_history[{i}]: expected an object, got "
                             f"{type(entry).__name__}")
        step = _integer(entry.get("step"))
        if step is None:
            raise ParseError(path, None, f"log_history[{i}]: expected an integer 'step', "
                             f"got {excerpt(entry.get('step'))}")
        if not 0 <= step < MAX_STEP:
            raise ParseError(path, None, f"log_history[{i}]: expected a 'step' from 0 to "
                             f"{MAX_STEP - 1}, got {excerpt(step)}")
        if END_KEY in entry:
            end_order, end_step = float(i), step
        steps.append(step)
    rows = [{k: v for k, v in e.items() if k != "step"} for e in log_history]
    series, other = series_from_rows(rows, steps, path, lambda i: (None, f"log_history[{i}]"))
    return series, end_order, end_step, other


def _task_hint(run_dir: Path, state_file: Path):
    for d in (run_dir, state_file.parent):
        cfg = d / "config.json"
        if cfg.is_file():
            data = guarded(cfg, "a model config.json", lambda: json.loads(cfg.read_text("utf-8")))
            if isinstance(data, dict) and data.get("finetuning_task"):
                return data["finetuning_task"]
    return None


def read_run(run_dir: Path, state_file: Path, res: Resolver):
    """One run directory's :class:`~seedstats.data.records.TrialRecord`."""
    state = read_state(state_file)
    series, end_order, end_step, other = _series(state["log_history"], state_file)
    res.account_other(other, "not a number (text, null or nested)")
    ident = res.identity(run_dir, run_dir=run_dir, trial_params=state.get("trial_params"),
                         task_hint=_task_hint(run_dir, state_file))
    evals, metric, baseline = res.validation(ident, series, state_file)
    gstep = state.get("global_step")
    if gstep is not None and _integer(gstep) is None:
        raise ParseError(state_file, None, f"expected an integer 'global_step', got {gstep!r}")
    max_steps = state.get("max_steps")
    n_steps = int(gstep) if gstep is not None and gstep > 0 else end_step
    complete = end_order is not None or (
        isinstance(max_steps, (int, float)) and max_steps > 0 and n_steps is not None
        and n_steps >= max_steps)
    epoch = state.get("epoch")
    spe = None
    if isinstance(epoch, (int, float)) and epoch > 0 and n_steps:
        spe = infer_steps_per_epoch(Series.of([n_steps], [epoch]))
    if spe is None:
        spe = infer_steps_per_epoch(series.get("epoch"))
    flags = []
    if state_file.parent != run_dir:
        flags.append("from_checkpoint")
    source = str(run_dir)
    return assemble(source=source, ident=ident, metric=metric, baseline=baseline, evals=evals,
                    train=series.get("loss"), train_offset=-1, end_order=end_order,
                    complete=complete, n_steps=n_steps, steps_per_epoch=spe, flags=flags)


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every Trainer run under ``path`` (see the module docstring for the rules).

    Returns
    -------
    ReadResult
        One record per run directory; under ``--skip-bad`` the runs that failed to parse
        (or lacked a seed or task) are listed in ``skipped``.
    """
    path = Path(path)
    res = Resolver(path, opts)
    result = ReadResult(records=[])
    runs = find_runs(path)
    if not runs:
        raise ParseError(path, None, f"expected {STATE} files (Hugging Face Trainer output)")
    for run_dir, state_file in runs:
        rec = parse_error_or_skip(opts, result, run_dir,
                                  lambda: read_run(run_dir, state_file, res))
        if rec is not None:
            result.records.append(rec)
    # a Trainer directory (it saved training_args.bin) with no state anywhere is never left
    # out silently: Trainer.save_model() without save_state() and no checkpoint, or a damage
    known = {d for d, _ in runs}
    blind = sorted({f.parent.parent if _CKPT.match(f.parent.name) else f.parent
                    for f in walk_files(path, lambda p: p.name == "training_args.bin")} - known)
    if blind:
        shown = ", ".join(str(d) for d in blind[:3]) + (", ..." if len(blind) > 3 else "")
        res.note(f"not read: {len(blind)} Trainer director(ies) without a {STATE} (call "
                 f"trainer.save_state(), or keep a checkpoint): {shown}")
    n_ckpt = sum(1 for d, f in runs if f.parent != d)
    if n_ckpt:
        res.note(f"{n_ckpt} run(s) had no top-level {STATE}: read from their highest "
                 "checkpoint (flag from_checkpoint)")
    res.finish(result)
    return result

"""The follow-up study's logs: ``train_results.tsv`` and ``eval_results.tsv`` per run.

Mosbach et al. (2021), "On the Stability of Fine-tuning BERT" (``seeds/002``; code:
``uds-lsv/bert-stable-fine-tuning``, ``examples/bert_stable_fine_tuning/run_finetuning.py``)
revisits the failed runs of Dodge et al. (2020, Section 4) with one seed per run. Its script
writes, per run, into a directory named
``<log_dir>/<timestamp>_<model>_..._<seed>`` (``create_unique_dir``; ``log_dir`` ends with the
task, e.g. ``/logfiles/stable-fine-tuning/rte``):

- ``train_results.tsv``: header ``global_step  loss  learning_rate``, then one row every
  ``train_logging_steps`` updates. A row is written *before* the update with index
  ``global_step`` and averages the losses up to it, so its seedstats step is ``global_step``.
  The file is opened for appending: a repeated header (a restart) is skipped.
- ``eval_results.tsv``: header ``global_step`` plus the task's metrics (``acc``; ``acc``, ``f1``,
  ``acc_and_f1`` for MRPC; ``mcc`` for CoLA; no validation loss), one row per evaluation:
  ``global_step`` 0 is the evaluation before training (phase ``"before"``), ``g > 0`` ran after
  ``g`` updates (step ``g - 1``); an end-of-epoch evaluation and a periodic one can share a
  step (the later row is kept). A final row with ``global_step`` -1 is the checkpoint saved at
  the end (``--do_eval``): the final model, or the best one when the recipe stops early. It is
  kept as metric ``checkpoint_<name>`` (phase ``"after"`` only), not mixed into the curve.

One seed drives weight initialization and data order together: it is recorded as ``seed``
(the last ``_``-separated part of the run directory's name, unless ``--seeds-from`` or a
sidecar says otherwise). The task is ``--task``, the sidecar's, or the run directory's parent
when that is a GLUE task name (``sst-2`` is ``sst``). A run is complete when its ``-1`` row is
there; then ``after`` is the evaluation at the largest step (rules:
:mod:`seedstats.data.formats.sweeps`). Updates per epoch are the paper task's (batch size 16, as in
the study's configurations); other tasks have NaN epochs.
"""

from __future__ import annotations

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
    Resolver,
    Series,
    assemble,
    find_first,
    guarded,
    walk_files,
)
from seedstats.data.records import Curve
from seedstats.errors import ParseError

__all__ = ["detect", "read", "read_run", "read_tsv", "GLUE_TASKS"]

EVAL, TRAIN = "eval_results.tsv", "train_results.tsv"

#: Task names of the study's GLUE processors.
GLUE_TASKS = ("cola", "sst-2", "mrpc", "sts-b", "qqp", "mnli", "qnli", "rte", "wnli")


def _is_eval(p: Path) -> bool:
    if p.name != EVAL:
        return False
    try:
        with open(p, encoding="utf-8") as fh:
            return fh.readline().startswith("global_step\t")
    except (OSError, UnicodeDecodeError):
        return False


def detect(path: Path) -> bool:
    """Whether ``path`` is, or holds, an ``eval_results.tsv`` of the study's script."""
    path = Path(path)
    if path.is_file():
        return _is_eval(path)
    return find_first(path, _is_eval)


def read_tsv(path: Path) -> tuple[list[str], list[list[float]]]:
    """Header and numeric rows of one results file (repeated headers skipped).

    Raises
    ------
    ParseError
        A row that is not numbers, has another width than the header, or whose
        ``global_step`` is not an integer.
    """
    path = Path(path)
    header, rows = None, []
    lines = guarded(path, "a tab-separated results file",
                    lambda: path.read_text(encoding="utf-8").splitlines())
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cells = line.split("\t")
        if cells[0] == "global_step":
            if header is not None and cells != header:
                raise ParseError(path, i, f"expected the header {excerpt(header, 120)}, got "
                                 f"{excerpt(cells, 120)}")
            header = cells
            continue
        if header is None:
            raise ParseError(path, i, "expected a header line starting with 'global_step'")
        if len(cells) != len(header):
            raise ParseError(path, i, f"expected {len(header)} tab-separated fields "
                             f"({', '.join(header)}), got {len(cells)}")
        try:
            vals = [float(c) for c in cells]
        except ValueError:
            raise ParseError(path, i, f"expected numbers, got {excerpt(line, 80)}") from None
        if not (math.isfinite(vals[0]) and vals[0].is_integer()):
            raise ParseError(path, i, f"expected an integer global_step, got "
                             f"{excerpt(cells[0])}")
        if not -1 <= vals[0] < MAX_STEP:  # -1: the script's evaluation after training
            raise ParseError(path, i, f"expected a global_step from -1 to {MAX_STEP - 1}, got "
                             f"{excerpt(cells[0])}")
        rows.append(vals)
    if header is None:
        raise ParseError(path, 1, "expected a header line starting with 'global_step'")
    return header, rows


def _seed_config(run_dir: Path):
    last = run_dir.name.rsplit("_", 1)[-1]
    return {"seed": int(last)} if re.fullmatch(r"-?\d+", last) else None


def read_run(run_dir: Path, res: Resolver):
    """One run directory's :class:`~seedstats.data.records.TrialRecord`."""
    parent = run_dir.parent.name.lower()
    ident = res.identity(run_dir, run_dir=run_dir, config=_seed_config(run_dir),
                         task_hint=parent if parent in GLUE_TASKS else None)
    if ident.duplicates == "error":  # the format's own rule (module docstring): the later
        ident.duplicates = "last"     # of an epoch's end and a periodic evaluation is kept
    if not (run_dir / EVAL).is_file():
        raise ParseError(run_dir, None, f"expected {EVAL} beside {TRAIN}")
    header, rows = read_tsv(run_dir / EVAL)
    names = header[1:]
    evals = {n: ([], [], []) for n in names}
    saved = {}
    for i, row in enumerate(rows):
        g = int(row[0])
        if g == -1:
            saved = dict(zip(names, row[1:]))
            continue
        if g < -1:
            raise ParseError(run_dir / EVAL, None, f"expected global_step >= -1, got {g}")
        for n, v in zip(names, row[1:]):
            evals[n][0].append(g)
            evals[n][1].append(v)
            evals[n][2].append(i)
    evals = {n: Series.of(*c) for n, c in evals.items()}
    counts = {n: len(rows) for n in names}  # the key report: every cell of both files
    train = None
    tfile = run_dir / TRAIN
    if tfile.is_file():
        theader, trows = read_tsv(tfile)
        if "loss" not in theader:
            raise ParseError(tfile, 1, f"expected a 'loss' column, got {theader}")
        j = theader.index("loss")
        train = Series.of([int(r[0]) for r in trows], [r[j] for r in trows])
        counts.update({("train:" + n if n in counts else n): len(trows) for n in theader[1:]})
    res.account(counts, {n: n for n in names}, "loss" if train is not None else None)
    metric, baseline = res.headline(ident, names, run_dir)
    complete = bool(saved)
    extra = {f"checkpoint_{n}": Curve(after=float(v)) for n, v in saved.items()}
    flags = [] if complete else ["no_final_checkpoint"]
    return assemble(source=str(run_dir), ident=ident, metric=metric, baseline=baseline,
                    evals=evals, train=train, train_offset=0, complete=complete,
                    flags=flags, extra_curves=extra)


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every run directory holding an ``eval_results.tsv`` under ``path``.

    Returns
    -------
    ReadResult
        One record per run directory (MNLI's ``-MM`` mismatched directories left out).
    """
    path = Path(path)
    res = Resolver(path, opts)
    if not any(True for _ in walk_files(path, _is_eval)):
        raise ParseError(path, None, f"expected run directories with {EVAL} (global_step "
                         "header) from the follow-up study's script")
    # every directory holding either log is a run: a damaged or missing eval_results.tsv is
    # an error (or skipped and listed), never a run left out silently
    dirs = sorted({f.parent for f in walk_files(path, lambda p: p.name in (EVAL, TRAIN))})
    run_dirs = [d for d in dirs if not d.name.endswith("-MM")]
    if len(run_dirs) < len(dirs):
        res.note(f"{len(dirs) - len(run_dirs)} MNLI mismatched (-MM) run directories left out")
    if not run_dirs:
        raise ParseError(path, None, f"expected run directories with {EVAL} (global_step "
                         "header) from the follow-up study's script")
    result = ReadResult(records=[])
    for run_dir in run_dirs:
        rec = parse_error_or_skip(opts, result, run_dir, lambda: read_run(run_dir, res))
        if rec is not None:
            result.records.append(rec)
    if any(not r.complete for r in result.records):
        res.note("runs without the final global_step -1 row (saved checkpoint) are incomplete:"
                 " no 'after' score")
    res.finish(result)
    return result

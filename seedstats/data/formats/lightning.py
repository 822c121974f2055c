"""PyTorch Lightning's ``CSVLogger``: ``metrics.csv`` and ``hparams.yaml`` per run.

A Lightning sweep gets the paper's analyses (Dodge et al. 2020: expected validation
performance, Section 3; failed runs, Section 4; early stopping, Section 5).

Layout
------
``CSVLogger(save_dir, name=...)`` writes ``<save_dir>/<name>/version_<n>/metrics.csv`` (one
column per logged key plus ``epoch`` and ``step``; a row per logging call, empty cells for the
keys it did not log) and ``hparams.yaml`` (the module's ``save_hyperparameters()``). ``SRC``
may be one run directory, one ``metrics.csv`` or a tree of them.

Steps
-----
Lightning's ``step`` is the 0-based index of the update (``trainer.global_step`` when the
training step ran, before its update): a training loss at ``step`` 7 is the loss of update 7,
and the validation at the end of an epoch of 8 updates is logged at ``step`` 7, after that
update. Both are seedstats' step as written. ``epoch`` is the 0-based epoch; the updates per epoch
are the steps at which the epochs ended (when a row was logged at each end, as validation
rows are), else unknown.

Keys, seeds, completeness
-------------------------
Keys follow :func:`~seedstats.data.formats.sweeps.split_keys` (``val_acc``, ``val_loss``;
``train_loss`` or Lightning's ``train_loss_step`` is the training loss; ``epoch``, ``step``,
``lr-*`` are bookkeeping). An empty cell is a key not logged in that row; a written ``nan`` is
kept as NaN. Seeds and the task come from ``hparams.yaml`` (``seed``, ``wi_seed``/``do_seed``,
``task``), else the usual sources (:mod:`seedstats.data.formats.sweeps`). Lightning writes no
end-of-training mark, so a run whose last step is below its sweep's last is read as incomplete
(:func:`~seedstats.data.formats.sweeps.complete_by_schedule`, noted).
"""

from __future__ import annotations

import csv
from pathlib import Path

from seedstats.data.formats.base import IngestOptions, ReadResult, excerpt, parse_error_or_skip
from seedstats.data.formats.sweeps import (
    Resolver,
    Series,
    assemble,
    complete_by_schedule,
    find_first,
    guarded,
    index_steps_per_epoch,
    note_unread,
    read_flat_yaml,
    train_loss,
    walk_files,
    wide_columns,
)
from seedstats.errors import ParseError

__all__ = ["detect", "read", "METRICS", "HPARAMS"]

METRICS = "metrics.csv"
HPARAMS = "hparams.yaml"
_TASK_KEYS = ("task", "task_name", "finetuning_task")


def _header(p: Path) -> list[str]:
    with open(p, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), [])


def _is_metrics(p: Path) -> bool:
    if p.name != METRICS:
        return False
    try:
        header = _header(p)
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return "step" in header and ("epoch" in header or (p.parent / HPARAMS).is_file())


def detect(path: Path) -> bool:
    """A Lightning ``metrics.csv`` (a ``step`` column and ``epoch`` or ``hparams.yaml``
    beside it), or a tree holding one."""
    path = Path(path)
    if path.is_file():
        return _is_metrics(path)
    return find_first(path, _is_metrics)


def _load(metrics: Path, res: Resolver):
    other: dict[str, int] = {}
    series = guarded(metrics, "a Lightning metrics.csv",
                     lambda: wide_columns(metrics, "step", other=other))
    res.account_other(other, "not a number (text)")
    run_dir = metrics.parent
    hp = run_dir / HPARAMS
    config = guarded(hp, "a flat hparams.yaml", lambda: read_flat_yaml(hp)) if hp.is_file() \
        else {}
    task = next((config[k] for k in _TASK_KEYS if config.get(k)), None)
    ident = res.identity(run_dir, run_dir=run_dir, config=config, task_hint=task)
    steps = [int(s.g.max()) for s in series.values() if len(s.g)]
    return ident, series, (max(steps) if steps else -1)


def _damaged(f: Path):
    try:
        head = _header(f)[:8]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ParseError(f, 1, f"expected a Lightning metrics.csv; got {type(exc).__name__}"
                         ) from None
    raise ParseError(f, 1, f"expected a Lightning metrics.csv header with a 'step' column, got "
                     f"{excerpt(head, 80)}")


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every ``CSVLogger`` run under ``path`` (rules: module docstring).

    Returns
    -------
    ReadResult
        One record per run directory; under ``--skip-bad`` damaged runs are listed in
        ``skipped``.
    """
    path = Path(path)
    res = Resolver(path, opts)
    files = list(walk_files(path, _is_metrics))
    if not files:
        raise ParseError(path, None, f"expected Lightning CSVLogger output ({METRICS} with a "
                         "'step' column)")
    result = ReadResult(records=[])
    note_unread(res, [f.parent for f in files], lambda n: n in (METRICS, HPARAMS)
                or "tfevents" in n, "Lightning log directories")
    for f in walk_files(path, lambda p: p.name == METRICS and not _is_metrics(p)):
        # a damaged metrics.csv (its header lost, say) is never left out silently
        parse_error_or_skip(opts, result, f.parent, lambda f=f: _damaged(f))
    loaded = {}
    for f in files:
        one = parse_error_or_skip(opts, result, f.parent, lambda f=f: _load(f, res))
        if one is not None:
            loaded[f] = one
    done = complete_by_schedule({f: ((i.task, i.system), last) for f, (i, _, last)
                                 in loaded.items()}, res, "Lightning's CSVLogger")
    for f, (ident, series, last) in loaded.items():
        def build(ident=ident, series=series, last=last, f=f):
            evals, metric, baseline = res.validation(ident, series, f)
            # Lightning's step is the update's 0-based index: a count is step + 1
            evals = {k: Series(s.g + 1, s.v, s.order) for k, s in evals.items()}
            return assemble(source=str(f.parent), ident=ident, metric=metric,
                            baseline=baseline, evals=evals, train=train_loss(series),
                            train_offset=0, complete=done[f], n_steps=last + 1,
                            steps_per_epoch=index_steps_per_epoch(series.get("epoch")))

        rec = parse_error_or_skip(opts, result, f.parent, build)
        if rec is not None:
            result.records.append(rec)
    res.finish(result)
    return result

"""Ray Tune trial directories: ``params.json`` with ``result.json`` or ``progress.csv``.

A seed sweep run with Ray Tune (``param_space={"seed": tune.grid_search([...])}``) gets the
paper's analyses (Dodge et al. 2020: expected validation performance, Section 3; failed runs,
Section 4; early stopping, Section 5). Read without Ray.

Layout
------
``<storage_path>/<experiment>/<trial>/`` per trial, with ``params.json`` (the trial's
config), ``result.json`` (one JSON object per ``tune.report()``, with Ray's own keys:
``training_iteration``, ``time_*``, ``timestamp``, ``done``, ``trial_id``, ``config``...) and
``progress.csv`` (the same rows as a table; read when ``result.json`` is missing), and
``error.txt`` when the trial failed. The tensorboardX event files Ray writes beside them are not
read: their step is Ray's report counter, not the trainable's step.

Steps
-----
The step of a report is the key the trainable reported its step under: ``--map step=KEY``,
else ``step`` or ``global_step`` when every report of the trial has it, read as the count of
updates done (seedstats' step is ``count - 1``, the Trainer's convention); else Ray's
``training_iteration`` (the number of reports so far, noted).

Keys, seeds, completeness
-------------------------
Reported keys follow :func:`~seedstats.data.formats.sweeps.split_keys` (``val_acc``,
``eval_accuracy``; ``train_loss`` is the training loss); Ray's own keys are bookkeeping and
nested values (``config``) are left out. Seeds and the task come from ``params.json`` (``seed``,
``wi_seed``/``do_seed``, ``task``), else ``--seeds-from`` on the trial directory's name (Ray
names it ``..._seed=3,lr=0.01_...``) and the other usual sources. A trial with ``error.txt`` is
incomplete (flag ``failed``); one whose last result says ``done`` is complete; otherwise a trial
whose last step is below its sweep's last stopped early (a scheduler's or a kill: incomplete,
:func:`~seedstats.data.formats.sweeps.complete_by_schedule`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from seedstats.data.formats.base import (
    IngestOptions,
    ReadResult,
    excerpt,
    parse_error_or_skip,
    read_json_lines,
)
from seedstats.data.formats.sweeps import (
    Resolver,
    Series,
    assemble,
    complete_by_schedule,
    find_first,
    guarded,
    note_unread,
    series_from_rows,
    train_loss,
    walk_files,
    wide_columns,
)
from seedstats.errors import ParseError

__all__ = ["detect", "read", "PARAMS", "RESULT", "PROGRESS"]

PARAMS, RESULT, PROGRESS, ERROR = "params.json", "result.json", "progress.csv", "error.txt"
#: What else Ray Tune writes in a trial directory (not read: pickles, event files, checkpoints)
_RAY_OWN = re.compile(r"^(params\.pkl|error\.pkl|events\.out\.tfevents\..*|checkpoint_.*"
                      r"|\.is_checkpoint|rank_\d+|.*\.log)$")
_STEP_KEYS = ("step", "global_step")
_TASK_KEYS = ("task", "task_name", "finetuning_task")


def _is_trial(p: Path) -> bool:
    return p.name == PARAMS and ((p.parent / RESULT).is_file()
                                 or (p.parent / PROGRESS).is_file())


def detect(path: Path) -> bool:
    """A Ray Tune trial directory (``params.json`` beside ``result.json`` or
    ``progress.csv``), or a tree holding one."""
    path = Path(path)
    if path.is_file():
        return path.name in (PARAMS, RESULT, PROGRESS) and _is_trial(path.parent / PARAMS)
    return find_first(path, _is_trial)


def _results(trial: Path, res: Resolver) -> dict[str, Series]:
    """Every numeric reported key of a trial, steps as its report number (1, 2, ...)."""
    f = trial / RESULT
    if f.is_file():
        rows, cut = read_json_lines(f)
        if cut:
            res.note(f"{f}: its last line was cut short (a killed writer) and left out")
        for n, row in rows:
            if not isinstance(row, dict):
                raise ParseError(f, n, f"expected a JSON object per line, got {excerpt(row)}")
        series, other = series_from_rows([r for _, r in rows], list(range(1, len(rows) + 1)),
                                         f, lambda i: (rows[i][0], "result"))
        res.account_other(other, "not a number (text, null or nested)")
        return series
    f = trial / PROGRESS
    other: dict[str, int] = {}
    series = guarded(f, "a Ray Tune progress.csv", lambda: wide_columns(f, None, other=other))
    res.account_other(other, "not a number (text)")
    return series


def _reindex(series: dict, step_key: str, where) -> dict:
    """Series re-stepped by the values of ``step_key`` reported at the same report."""
    st = series[step_key]
    by_report = dict(zip(st.g.tolist(), st.v.tolist()))
    out = {}
    for k, s in series.items():
        g = []
        for r in s.g.tolist():
            v = by_report.get(r)
            if v is None or not math.isfinite(v) or not float(v).is_integer():
                raise ParseError(where, r, f"report {r}: expected an integer {step_key!r} "
                                 f"beside {k!r}, got {excerpt(v)}")
            g.append(int(v))
        out[k] = Series.of(g, s.v, s.order)
    return out


def _load(trial: Path, res: Resolver):
    params = guarded(trial / PARAMS, "a JSON object",
                     lambda: json.loads((trial / PARAMS).read_text("utf-8")))
    if not isinstance(params, dict):
        raise ParseError(trial / PARAMS, 1, f"expected a JSON object, got "
                         f"{type(params).__name__}")
    series = guarded(trial, "a Ray Tune trial", lambda: _results(trial, res))
    n_reports = max((int(s.g.max()) for s in series.values() if len(s.g)), default=0)
    wanted = (res.opts.mapping or {}).get("step")
    step_key = wanted or next((k for k in _STEP_KEYS if k in series
                               and len(series[k].g) == n_reports), None)
    if wanted and wanted not in series:
        raise ParseError(trial, None, f"--map step={wanted}: the trial reported no {wanted!r}; "
                         f"it reported {sorted(series)[:12]}")
    if step_key is not None:
        series = _reindex(series, step_key, trial / RESULT)
        res.note(f"Ray Tune: the step of each report is the trainable's {step_key!r} (a count "
                 "of updates done); --map step=KEY names another")
    else:
        res.note("Ray Tune: no step reported; the step of each report is Ray's "
                 "training_iteration (the number of reports)")
    task = next((params[k] for k in _TASK_KEYS if params.get(k)), None)
    ident = res.identity(trial, run_dir=trial, config=params, task_hint=task)
    done = series.get("done")
    finished = bool(done is not None and len(done.v) and done.v[np.argmax(done.order)] == 1)
    failed = (trial / ERROR).is_file()
    last = max((int(s.g.max()) for s in series.values() if len(s.g)), default=0)
    return ident, series, last, failed, finished


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every Ray Tune trial under ``path`` (rules: module docstring).

    Returns
    -------
    ReadResult
        One record per trial directory; under ``--skip-bad`` damaged trials are listed in
        ``skipped``.
    """
    path = Path(path)
    if path.is_file():
        path = path.parent
    res = Resolver(path, opts)
    trials = [f.parent for f in walk_files(path, _is_trial)]
    if not trials:
        raise ParseError(path, None, f"expected Ray Tune trial directories ({PARAMS} with "
                         f"{RESULT} or {PROGRESS})")
    result = ReadResult(records=[])
    note_unread(res, trials, lambda n: n in (PARAMS, RESULT, PROGRESS, ERROR)
                or bool(_RAY_OWN.match(n)), "Ray Tune trial directories")
    loaded = {}
    for t in trials:
        one = parse_error_or_skip(opts, result, t, lambda t=t: _load(t, res))
        if one is not None:
            loaded[t] = one
    open_ = {t: ((i.task, i.system), last) for t, (i, _, last, failed, finished)
             in loaded.items() if not failed and not finished}
    by_schedule = complete_by_schedule(open_, res, "Ray Tune")
    for t, (ident, series, last, failed, finished) in loaded.items():
        def build(t=t, ident=ident, series=series, last=last, failed=failed,
                  finished=finished):
            evals, metric, baseline = res.validation(ident, series, t)
            complete = finished or (not failed and by_schedule.get(t, True))
            return assemble(source=str(t), ident=ident, metric=metric, baseline=baseline,
                            evals=evals, train=train_loss(series), train_offset=-1,
                            complete=complete, n_steps=last,
                            flags=["failed"] if failed else [])

        rec = parse_error_or_skip(opts, result, t, build)
        if rec is not None:
            result.records.append(rec)
    res.finish(result)
    return result

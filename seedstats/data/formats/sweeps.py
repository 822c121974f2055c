"""What the sweep loaders share: who a run is, and how its logged series become a trial.

Most users' runs are not the paper's 2,100 trials (Dodge et al. 2020) but their own sweeps,
logged by the Hugging Face Trainer, TensorBoard, MLflow or Weights & Biases. The
loaders :mod:`~seedstats.data.formats.hf_trainer`, :mod:`~seedstats.data.formats.tensorboard`,
:mod:`~seedstats.data.formats.mlflow`, :mod:`~seedstats.data.formats.wandb`,
:mod:`~seedstats.data.formats.wandb_offline`, :mod:`~seedstats.data.formats.mosbach`
and :mod:`~seedstats.data.formats.longtable` read their source into per-key series and hand them to
:func:`assemble`, so that every source follows the same rules, written down here once.

Seeds (first source that yields one wins)
-----------------------------------------
1. ``--seeds-from PATTERN`` (:attr:`IngestOptions.seeds_from`): a pattern with ``{wi}``,
   ``{do}`` and/or ``{seed}`` fields, e.g. ``'wi{wi}_do{do}'`` or ``'seed{seed}'``, searched in
   the run's path relative to the parent of the source root (so the root's own name counts).
   A field matches an integer; ``*`` matches any characters within one path component. When
   the pattern occurs several times, the last (deepest) occurrence wins. A field may follow an
   ``=`` its pattern does not spell: ``seed{seed}`` also reads Ray Tune's ``seed=3``.
2. A ``seedstats.json`` sidecar in the run directory or any parent up to the source root
   (nearest first, key by key): ``{"wi_seed": 3, "do_seed": 7}`` or ``{"seed": 42}``; it may
   also give ``"task"``, ``"metric"`` and ``"baseline"``.
3. ``trial_params`` of a Trainer hyperparameter search (``trainer_state.json``).
4. The run's recorded configuration (TensorBoard ``args`` text, MLflow params, W&B config,
   the follow-up study's run-directory name).

In 2-4 the keys ``wi_seed``/``init_seed``/``weight_init_seed`` give the weight-initialization
(WI) seed, ``do_seed``/``data_order_seed``/``data_seed`` the data-order (DO) seed and ``seed``
the single seed. A DO key counts only beside a WI key: the Trainer's own ``data_seed`` only
re-seeds the sampler while ``seed`` still drives initialization *and* dropout, which is not the
paper's WI/DO split, so such a run carries ``seed`` only. Runs without separate WI and DO seeds
carry a single ``seed``; analyses that need the WI x DO grid refuse them with a clear message.

Steps
-----
The Trainer (and TensorBoard, W&B, MLflow through its callbacks) logs ``global_step``: the
number of optimizer updates done. seedstats' ``step`` is the 0-based index of the update after
which an evaluation ran (:mod:`seedstats.data.schema`), so **step = global_step - 1**; an
evaluation at ``global_step == 0`` (``eval_on_start``) is the ``"before"`` evaluation (step -1).
A training loss logged at ``global_step == g`` averages the updates up to the ``g``-th, so its
step is ``g - 1`` too (the follow-up study's ``train_results.tsv`` logs *before* the update,
so there the loss's step is ``g``).

Phases
------
- ``"before"``: the evaluation at ``global_step == 0``, if any.
- ``"during"``: every other evaluation logged until the end of training (the Trainer's
  end-of-training record, ``train_runtime``), deduplicated on the step: when a resumed run
  logged a step twice, the entry logged last wins.
- ``"after"``: the score after the last update (the paper's ``after``). When training
  completed and an evaluation ran at the final step, that evaluation is ``after`` **and stays
  in ``"during"``** (it is the last point of the curve; dropping it would hide the final
  checkpoint from ``best`` and from the early-stopping simulator). When no evaluation ran during
  training at all, the first evaluation logged after the end of training at the final step is
  ``after``. Evaluations logged after the end of training are otherwise left out: with
  ``load_best_model_at_end`` they score the best checkpoint, not the final model. An
  incomplete run has no ``after`` (NaN), and its ``diverged`` is NA.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seedstats.data import schema
from seedstats.data.formats.base import MAX_STEP, excerpt
from seedstats.data.records import Curve, TrialRecord
from seedstats.errors import DataError, ParseError, SeedstatsError

__all__ = [
    "SIDECAR",
    "END_KEY",
    "end_of_training",
    "METRIC_ALIASES",
    "Identity",
    "Series",
    "SeedPattern",
    "SystemPattern",
    "Resolver",
    "normalize_task",
    "split_keys",
    "VALIDATION_PREFIXES",
    "TRAIN_LOSS_KEYS",
    "train_loss",
    "train_loss_key",
    "ROLES",
    "is_bookkeeping",
    "classify_keys",
    "infer_steps_per_epoch",
    "index_steps_per_epoch",
    "read_flat_yaml",
    "series_from_rows",
    "wide_columns",
    "complete_by_schedule",
    "note_unread",
    "DUPLICATES",
    "assemble",
    "guarded",
    "walk_files",
    "find_first",
    "as_int",
    "max_step",
]

#: File name of the per-run (or per-sweep) sidecar with seeds and task metadata.
SIDECAR = "seedstats.json"

_WI_KEYS = ("wi_seed", "init_seed", "weight_init_seed", "wi")
_DO_KEYS = ("do_seed", "data_order_seed", "data_seed", "do")
_SEED_KEYS = ("seed",)

_TASK_ALIASES = {"sst-2": "sst", "sst2": "sst", "sst": "sst", "mrpc": "mrpc", "rte": "rte",
                 "cola": "cola", "glue/sst2": "sst", "glue/mrpc": "mrpc", "glue/rte": "rte",
                 "glue/cola": "cola"}

#: The paper's metric names and what Hugging Face's ``evaluate``/``run_glue`` call them.
METRIC_ALIASES = {"acc": ("acc", "accuracy"), "mcc": ("mcc", "matthews_correlation"),
                  "acc_and_f1": ("acc_and_f1", "combined_score")}

# Keys of an evaluation log that are not validation metrics.
_NOT_METRICS = {"runtime", "samples_per_second", "steps_per_second", "model_preparation_time",
                "jit_compilation_time", "epoch", "step", "global_step", "num_input_tokens_seen",
                "total_flos"}

#: Key of the Trainer's end-of-training record.
END_KEY = "train_runtime"


def normalize_task(name) -> str:
    """``"SST-2"``, ``"sst2"``, ``"glue/sst2"`` -> ``"sst"``; other names are kept as given.

    >>> normalize_task("SST-2"), normalize_task("boolq")
    ('sst', 'boolq')
    """
    text = str(name).strip()
    return _TASK_ALIASES.get(text.lower(), text)


def as_int(value, what: str, path) -> int:
    """An integer seed from a JSON/params value (``3``, ``"3"``, ``3.0``), or a ParseError."""
    if isinstance(value, bool):
        raise ParseError(path, None, f"{what}: expected an integer, got {excerpt(value)}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ParseError(path, None, f"{what}: expected an integer, got {excerpt(value)}")


def guarded(path, what: str, fn):
    """Run ``fn()``; turn any low-level failure into a one-line :class:`ParseError`.

    ``what`` says what was expected in ``path`` ("a trainer_state.json", ...).
    """
    try:
        return fn()
    except SeedstatsError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OSError,
            sqlite3.Error, csv.Error, UnicodeDecodeError, RecursionError, OverflowError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise ParseError(path, None, f"expected {what}; got {type(exc).__name__}"
                         + (f": {msg}" if msg else "")) from None


def walk_files(root: Path, predicate, *, max_depth: int | None = None,
               max_entries: int | None = None):
    """Files under ``root`` (a file yields itself) for which ``predicate(path)`` holds.

    Hidden directories (``.trash``, ``.ipynb_checkpoints``, ...) are skipped; entries are
    visited in sorted order, so the result is deterministic. ``max_depth``/``max_entries``
    bound the walk (``detect`` must stay cheap on large trees).
    """
    root = Path(root)
    if root.is_file():
        if predicate(root):
            yield root
        return
    seen = 0
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            seen += 1
            if max_entries is not None and seen > max_entries:
                return
            if e.is_dir(follow_symlinks=False):
                if not e.name.startswith(".") and (max_depth is None or depth < max_depth):
                    subdirs.append(Path(e.path))
            elif e.is_file() and predicate(Path(e.path)):
                yield Path(e.path)
        stack.extend((s, depth + 1) for s in reversed(subdirs))


def find_first(root: Path, predicate, *, max_depth: int = 4, max_entries: int = 5000) -> bool:
    """Whether some file under ``root`` satisfies ``predicate`` (a bounded, cheap search)."""
    return next(walk_files(root, predicate, max_depth=max_depth, max_entries=max_entries),
                None) is not None


# --- seeds ---------------------------------------------------------------------------------


class SeedPattern:
    """A ``--seeds-from`` pattern such as ``'wi{wi}_do{do}'`` or ``'seed{seed}'``.

    Examples
    --------
    >>> SeedPattern("wi{wi}_do{do}").match("sweep/wi12_do3/runs/Nov01")
    {'wi_seed': 12, 'do_seed': 3}
    >>> SeedPattern("seed{seed}").match("seed1/retry/seed7")  # the deepest occurrence
    {'seed': 7}
    >>> SeedPattern("seed{seed}").match("runs/seed4_dataseed7")  # where a name starts
    {'seed': 4}
    >>> SeedPattern("seed{seed}").match("ray/train_fn_0a1b2_00001_1_seed=3,lr=0.01_2026-12-01")
    {'seed': 3}

    Raises
    ------
    DataError
        The pattern has no field, an unknown field, or a field twice.
    """
    _FIELDS = {"wi": "wi_seed", "do": "do_seed", "seed": "seed"}
    flag, _EXAMPLE, _VALUE = "--seeds-from", "'wi{wi}_do{do}' or 'seed{seed}'", r"-?\d+"

    def __init__(self, pattern: str):
        if not isinstance(pattern, str) or not pattern:
            raise DataError(f"{self.flag}: expected a pattern such as {self._EXAMPLE}, got "
                            f"{pattern!r}")
        parts, names, pos = [], [], 0
        for m in re.finditer(r"\{([^{}]*)\}", pattern):
            parts.append(self._literal(pattern[pos:m.start()]))
            name = m.group(1)
            if name not in self._FIELDS:
                fields = ", ".join("{" + f + "}" for f in self._FIELDS)
                raise DataError(f"{self.flag}: unknown field {{{name}}} in {pattern!r}; "
                                f"expected {fields}")
            if name in names:
                raise DataError(f"{self.flag}: field {{{name}}} twice in {pattern!r}")
            names.append(name)
            # 'seed{seed}' also reads Ray Tune's 'seed=1' (a name=value directory)
            sep = "=?" if parts[-1] and not parts[-1].endswith("=") else ""
            parts.append(rf"{sep}(?P<{name}>{self._VALUE})")
            pos = m.end()
        parts.append(self._literal(pattern[pos:]))
        if not names:
            raise DataError(f"{self.flag}: expected a pattern with a field, such as "
                            f"{self._EXAMPLE}, got {pattern!r}")
        self.pattern = pattern
        # A match starts where a name does (a path component, or after a character that is
        # neither a letter nor a digit): 'seed{seed}' finds seed 4 in 'seed4_dataseed7', not
        # the 'seed7' inside 'dataseed7'.
        self.regex = re.compile(r"(?<![A-Za-z0-9])" + "".join(parts))

    @staticmethod
    def _literal(text: str) -> str:
        return "[^/]*".join(re.escape(p) for p in text.split("*"))

    def match(self, text: str) -> dict | None:
        """Seeds found in ``text`` (the last occurrence), or None."""
        last = None
        for m in self.regex.finditer(text):
            last = m
        if last is None:
            return None
        return {self._FIELDS[k]: self._convert(v) for k, v in last.groupdict().items()}

    _convert = staticmethod(int)


class SystemPattern(SeedPattern):
    """A ``--systems-from`` pattern: ``{system}`` matches a name within one path component.

    Examples
    --------
    >>> SystemPattern("{system}/seed*").match("runs/bert-base/seed3/trainer_state.json")
    {'system': 'bert-base'}
    >>> SystemPattern("sys-{system}").match("sweep/sys-roberta_large/run1")
    {'system': 'roberta_large'}
    """
    _FIELDS = {"system": "system"}
    flag, _EXAMPLE, _VALUE = "--systems-from", "'{system}/seed*' or 'sys-{system}'", r"[^/]+"
    _convert = staticmethod(str)

    def system(self, text: str) -> str | None:
        """The system named in ``text`` (the last occurrence), or None."""
        found = self.match(text)
        return None if found is None else found["system"]


def _seeds_from_mapping(d: dict, path, origin: str) -> dict | None:
    """WI/DO/seed from a flat dict (sidecar, trial_params, config), or None if it has none."""
    if not isinstance(d, dict):
        return None

    def first(keys):
        for k in keys:
            v = d.get(k)
            if v is not None and not (isinstance(v, str) and v.strip().lower() in ("", "none",
                                                                                     "null")):
                return as_int(v, f"{origin} key {k!r}", path)
        return None

    wi, do, seed = first(_WI_KEYS), first(_DO_KEYS), first(_SEED_KEYS)
    if wi is None:
        do = None
    if wi is None and seed is None:
        return None
    return {"wi_seed": wi, "do_seed": do, "seed": seed}


@dataclass
class Identity:
    """Who a run is: task, seeds, headline metric and majority baseline."""
    task: str
    wi_seed: int | None
    do_seed: int | None
    seed: int | None
    origin: str
    sidecar: dict = field(default_factory=dict)
    system: str | None = None
    #: the ``--duplicates`` policy the run is read under (:func:`assemble`)
    duplicates: str = "error"


class Resolver:
    """Resolves each run's task, seeds, headline metric and baseline under one source root.

    Parameters
    ----------
    root : Path
        The source given to ``seedstats ingest``.
    opts : IngestOptions
    """
    def __init__(self, root: Path, opts):
        self.root = Path(root)
        self.opts = opts
        self.pattern = SeedPattern(opts.seeds_from) if opts.seeds_from else None
        self.system_pattern = (SystemPattern(opts.systems_from)
                               if getattr(opts, "systems_from", None) else None)
        self.notes: list[str] = []
        #: key -> [role, reason, runs, values]: the key classification of every run read
        self.keys: dict[str, list] = {}
        self._sidecar_cache: dict[Path, dict] = {}
        base = self.root.parent if self.root.is_dir() else self.root.parent.parent
        self._base = base

    def note(self, text: str) -> None:
        """Record a note once (shown in the ingest report)."""
        if text not in self.notes:
            self.notes.append(text)

    def account(self, series: dict, names: dict, train_key: str | None,
                prefix: str | None = None, same: dict | None = None) -> None:
        """Add one run's keys to :attr:`keys` (:func:`classify_keys`; counts of runs and
        values per key); ``same`` maps a key to the key of its metric that was kept."""
        roles = classify_keys(series, names, train_key, prefix)
        for k, other in (same or {}).items():
            roles[k] = ("bookkeeping", f"the same values as {other!r}")
        for k, (role, why) in roles.items():
            row = self.keys.setdefault(k, [role, why, 0, 0])
            if row[0] != role:  # a key read in two roles in two runs: say both
                row[0], row[1] = "mixed", f"{row[0]} in some runs, {role} in others"
            row[2] += 1
            row[3] += len(series[k].v) if hasattr(series[k], "v") else int(series[k])

    def account_other(self, counts: dict, reason: str) -> None:
        """Add keys that hold no numbers (text, null, nested values: ``{key: values}``) to
        :attr:`keys` as bookkeeping, with ``reason``."""
        for k, n in counts.items():
            row = self.keys.setdefault(k, ["bookkeeping", reason, 0, 0])
            row[2] += 1
            row[3] += int(n)

    def finish(self, result) -> None:
        """Hand the notes and key classification over to a reader's ``ReadResult``."""
        result.notes.extend(n for n in self.notes if n not in result.notes)
        for k, row in self.keys.items():
            result.keys[k] = list(row)

    def _one_sidecar(self, d: Path) -> dict:
        if d not in self._sidecar_cache:
            f = d / SIDECAR
            data = {}
            if f.is_file():
                data = guarded(f, "a JSON object", lambda: json.loads(f.read_text("utf-8")))
                if not isinstance(data, dict):
                    raise ParseError(f, 1, f"expected a JSON object, got {type(data).__name__}")
            self._sidecar_cache[d] = data
        return self._sidecar_cache[d]

    def sidecar(self, run_dir: Path) -> dict:
        """The merged ``seedstats.json`` of ``run_dir`` and its parents up to the root."""
        run_dir = Path(run_dir)
        chain = [run_dir]
        root = self.root if self.root.is_dir() else self.root.parent
        try:
            rel = run_dir.relative_to(root)
            for _ in rel.parts:
                chain.append(chain[-1].parent)
        except ValueError:
            pass
        merged: dict = {}
        for d in reversed(chain):  # farthest first, nearest overrides
            merged.update(self._one_sidecar(d))
        return merged

    def relative(self, path: Path) -> str:
        """``path`` relative to the parent of the source root (what patterns match)."""
        try:
            return Path(path).relative_to(self._base).as_posix()
        except ValueError:
            return Path(path).as_posix()

    def identity(self, run_path: Path, *, run_dir: Path | None = None, name: str | None = None,
                 trial_params=None, config=None, task_hint=None) -> Identity:
        """Resolve task and seeds of one run (order: module docstring).

        Parameters
        ----------
        run_path : Path
            Names the run in messages; its path is matched by ``--seeds-from`` unless
            ``name`` is given (long tables match the run's name instead).
        run_dir : Path, optional
            Where its sidecar lives; default ``run_path`` if a directory, else its parent.
        trial_params, config : dict, optional
            The run's hyperparameter-search parameters and recorded configuration.
        task_hint : str, optional
            The task as the source records it (config, directory name).

        Raises
        ------
        ParseError
            No seed, or no task, could be found for the run.
        """
        run_path = Path(run_path)
        if run_dir is None:
            run_dir = run_path if run_path.is_dir() else run_path.parent
        side = self.sidecar(run_dir)
        seeds, origin = None, None
        if self.pattern is not None:
            seeds = self._match(self.pattern, "seed", run_path, name)
            seeds = {"wi_seed": seeds.get("wi_seed"), "do_seed": seeds.get("do_seed"),
                     "seed": seeds.get("seed")}
            origin = "--seeds-from"
        for src, d in (("seedstats.json", side), ("trial_params", trial_params),
                       ("run config", config)):
            if seeds is None:
                seeds = _seeds_from_mapping(d, run_path, src)
                origin = src
        if seeds is None:
            seen = sorted(str(k) for k in (config or {}))
            more = ", ..." if len(seen) > 8 else ""
            cfg = (f"the run's config (keys {', '.join(seen[:8])}{more})" if seen
                   else "the run's config (none recorded)")
            raise ParseError(run_path, None, "no seed for this run: looked in a seedstats.json "
                             f"({'none found' if not side else 'no seed key'}), the "
                             f"trial_params{'' if trial_params else ' (none)'} and {cfg}, for "
                             f"{'/'.join(_WI_KEYS)} (WI), {'/'.join(_DO_KEYS)} (DO, beside a "
                             "WI) or seed; or give --seeds-from PATTERN (e.g. 'wi{wi}_do{do}' "
                             "or 'seed{seed}')")
        task = self.opts.task or side.get("task") or task_hint
        if not task:
            raise ParseError(run_path, None, "cannot tell the task of this run: expected "
                             "--task NAME (or \"task\" in seedstats.json)")
        return Identity(normalize_task(task), seeds["wi_seed"], seeds["do_seed"], seeds["seed"],
                        origin, side, self._system(run_path, name, side, config),
                        getattr(self.opts, "duplicates", "error"))

    def _match(self, pattern: SeedPattern, what: str, run_path: Path, name) -> dict:
        """``pattern`` matched against the run's name or relative path, or a ParseError."""
        text = name if name is not None else self.relative(run_path)
        found = pattern.match(text)
        if found is None:
            raise ParseError(run_path, None, f"no {what}: the run's path {text!r} does not "
                             f"match {pattern.flag} {pattern.pattern!r}")
        return found

    def _system(self, run_path: Path, name, side: dict, config) -> str | None:
        """The run's system: ``--system``, ``--systems-from``, the sidecar's or the config's
        ``system`` key, else None (:data:`seedstats.data.schema.DEFAULT_SYSTEM`)."""
        if getattr(self.opts, "system", None):
            return self.opts.system
        if self.system_pattern is not None:
            return self._match(self.system_pattern, "system", run_path, name)["system"]
        for d in (side, config):
            v = d.get("system") if isinstance(d, dict) else None
            if v is not None and str(v).strip():
                return str(v).strip()
        return None

    def validation(self, ident: Identity, series: dict, source):
        """The validation series of a run (:func:`split_keys`), its headline metric and
        baseline (:meth:`headline`): ``(evals, metric, baseline)``."""
        prefix, names = split_keys(series, self.opts.metric or ident.sidecar.get("metric"),
                                   source)
        names, same = self._one_key_per_metric(series, names, source)
        self.account(series, names, train_loss_key(series), prefix, same)
        evals = {name: series[k] for k, name in names.items()}
        return (evals, *self.headline(ident, evals, source))

    def _one_key_per_metric(self, series: dict, names: dict, source):
        """``(names, same)``: ``names`` with one key per metric, and ``{key: the key kept}``
        for the others: two keys naming one metric (``eval_accuracy``
        and ``eval/accuracy``, as two loggers of one run write them) must hold the same
        values; the second is then bookkeeping. Different values are an error, never one
        overwriting the other."""
        first: dict[str, str] = {}
        out, same = {}, {}
        for k, name in names.items():
            other = first.setdefault(name, k)
            if other == k:
                out[k] = name
                continue
            a, b = series[other].dedupe(), series[k].dedupe()
            if not (np.array_equal(a.g, b.g) and np.array_equal(a.v, b.v, equal_nan=True)):
                raise ParseError(source, None, f"keys {other!r} and {k!r} both name metric "
                                 f"{name!r} but hold different values; give --metric KEY to "
                                 "choose one")
            same[k] = other
        return out, same

    def headline(self, ident: Identity, names, source) -> tuple[str | None, float | None]:
        """Headline metric and majority baseline of a run whose metrics are ``names``.

        Metric: ``--metric`` (an evaluation prefix such as ``eval_`` is stripped), the
        sidecar's ``metric``, the paper task's metric under its own or Hugging Face's name
        (``accuracy``, ``matthews_correlation``, ``combined_score``), or the only metric besides
        ``loss``; the user's spelling is kept (``accuracy`` stays ``accuracy``). Baseline:
        ``--baseline``, the sidecar's ``baseline``, or Table 2's when the task is a paper task
        and the metric is its metric; otherwise None (``diverged`` is NA).

        Raises
        ------
        ParseError
            Several candidate metrics and nothing to choose between them.
        """
        names = list(names)
        info = schema.TASKS.get(ident.task)
        aliases = METRIC_ALIASES.get(info.metric, (info.metric,)) if info else ()
        wanted = self.opts.metric or ident.sidecar.get("metric")
        if wanted:
            metric = _strip_prefix(str(wanted), names)
        else:
            metric = next((n for a in aliases for n in names if _is(n, a)), None)
            if metric is None:
                others = [n for n in names if not _is(n, "loss")]
                if len(others) == 1:
                    metric = others[0]
                elif not others:
                    metric = info.metric if info else None
                else:
                    raise ParseError(source, None, "cannot tell the headline metric among "
                                     f"{sorted(others)}: expected --metric NAME")
        if self.opts.baseline is not None:
            baseline = float(self.opts.baseline)
        elif ident.sidecar.get("baseline") is not None:
            baseline = float(ident.sidecar["baseline"])
        elif info is not None and any(_is(metric, a) for a in aliases):
            baseline = info.baseline
        else:
            baseline = None
            if info is None:
                self.note(f"task {ident.task!r} is not a paper task and no --baseline was given:"
                          " 'diverged' is NA")
        return metric, baseline


def _is(name: str, base: str) -> bool:
    """``name`` is ``base``, possibly with a prefix (``eval_loss``, ``val/accuracy``)."""
    return name == base or name.endswith(("_" + base, "/" + base))


def _strip_prefix(metric: str, names) -> str:
    if metric in names:
        return metric
    for sep in ("_", "/"):
        head, s, rest = metric.partition(sep)
        if s and rest and (rest in names or head in ("eval", "val", "validation", "dev")):
            return rest
    return metric


# --- series -> TrialRecord -------------------------------------------------------------------


@dataclass
class Series:
    """One logged key of one run: ``g`` (global steps as logged), values, and log order."""
    g: np.ndarray
    v: np.ndarray
    order: np.ndarray

    @classmethod
    def of(cls, g, v, order=None) -> "Series":
        """A series from steps ``g``, values ``v`` and log ``order`` (default: as given).

        Raises
        ------
        ValueError
            A step that is not a whole number below :data:`~seedstats.data.formats.base.MAX_STEP`
            (a fractional step is never truncated); readers turn it into a one-line error
            naming their file (:func:`guarded`).
        """
        raw = np.asarray(g)
        if raw.dtype.kind in "iub":
            bad = np.abs(raw.astype(np.int64)) >= MAX_STEP
        else:
            f = np.asarray(raw, dtype=np.float64)
            bad = ~(np.isfinite(f) & (f == np.floor(f)) & (np.abs(f) < MAX_STEP))
        if bad.any():
            raise ValueError(f"steps: expected whole numbers below 2**53, got "
                             f"{excerpt(raw[bad][0])}")
        g = np.asarray(raw, dtype=np.int64)
        v = np.asarray(v, dtype=np.float64)
        o = np.arange(len(g), dtype=np.float64) if order is None else np.asarray(order,
                                                                                 np.float64)
        return cls(g, v, o)

    def dedupe(self) -> "Series":
        """Sorted by step, one value per step: the one logged last."""
        return self.deduped()[0]

    def deduped(self, keep: str = "last") -> tuple["Series", int, int]:
        """Sorted by step, one value per step: the one logged last (``keep="last"``) or first;
        with the number of values set aside and how many of them differ from the value kept at
        their step (NaN equals NaN)."""
        if len(self.g) < 2:
            return self, 0, 0
        idx = np.lexsort((self.order if keep == "last" else -self.order, self.g))
        g, v = self.g[idx], self.v[idx]
        keep = np.ones(len(g), dtype=bool)
        keep[:-1] = g[1:] != g[:-1]
        n_set_aside = int((~keep).sum())
        n_differ = 0
        if n_set_aside:
            # the value kept at a set-aside row's step: the next kept row (the last logged)
            nxt = np.flatnonzero(keep)
            kv = v[nxt[np.searchsorted(nxt, np.flatnonzero(~keep))]]
            dv = v[~keep]
            n_differ = int((~((kv == dv) | (np.isnan(kv) & np.isnan(dv)))).sum())
        idx = idx[keep]
        return Series(self.g[idx], self.v[idx], self.order[idx]), n_set_aside, n_differ


def split_keys(keys, metric: str | None, source) -> tuple[str, dict[str, str]]:
    """Find the validation keys among flat Trainer-style log keys.

    Besides ``eval``, the prefixes ``val``, ``valid`` and ``validation`` (Lightning's and
    MLflow users' ``val_acc``) are recognized, and without any prefix the suffix form
    ``<Name>/val`` (the PyTorch TensorBoard tutorial's ``Accuracy/val``: metric ``accuracy``).

    The Trainer logs validation metrics as ``<prefix>_<name>`` (``eval_accuracy``; a custom
    ``metric_key_prefix`` such as ``val`` gives ``val_accuracy``, and a dict of evaluation sets
    ``eval_<set>_<name>``). The prefix is taken from ``--metric`` when it names one
    (``val_accuracy``), else ``eval`` when present, else the only prefix seen (a prefix is
    recognized by its ``<prefix>_runtime`` key or a ``<prefix>/`` tag); ``test`` counts only
    when nothing else is there. ``runtime``, ``samples_per_second`` and the like are dropped.

    Returns
    -------
    (str, dict)
        The prefix and ``{key: metric name}``.
    """
    keys = list(keys)
    cands = []
    if any(k.startswith(("eval_", "eval/")) for k in keys):
        cands.append("eval")
    # Lightning's and MLflow users' habit: val_acc, val/loss, valid_f1, validation_loss
    for p in VALIDATION_PREFIXES:
        if p not in cands and any(k.startswith((p + "_", p + "/")) for k in keys):
            cands.append(p)
    # the PyTorch TensorBoard tutorial's tags: Accuracy/val, Loss/val (Loss/train: training)
    tails = tuple("/" + p for p in VALIDATION_PREFIXES)
    suffixed = {k: k[:k.rindex("/")].lower() for k in keys if k.endswith(tails)}
    if not cands and suffixed and not metric:
        return "", suffixed
    for k in keys:
        m = re.match(r"^(.+)_runtime$", k)
        if m and m.group(1) != "train" and m.group(1) not in cands:
            cands.append(m.group(1))
        if "/" in k:
            head = k.split("/", 1)[0]
            if head not in cands and head != "train":
                cands.append(head)
    prefix = None
    if metric:
        for p in cands + ["eval"]:
            if metric.startswith((p + "_", p + "/")) and len(metric) > len(p) + 1:
                prefix = p
                break
        if prefix is None:
            prefix = next((p for p in cands if (p + "_" + metric) in keys
                           or (p + "/" + metric) in keys), None)
    if prefix is None:
        if "eval" in cands or not cands:
            prefix = "eval"
        else:
            real = [p for p in cands if p != "test"] or cands
            if len(real) > 1:
                raise ParseError(source, None, f"several evaluation prefixes {real}: expected "
                                 "--metric PREFIX_NAME (e.g. --metric val_accuracy)")
            prefix = real[0]
    names = {}
    for k in keys:
        if k.startswith((prefix + "_", prefix + "/")):
            name = k[len(prefix) + 1:]
            if name and name not in _NOT_METRICS and not is_bookkeeping(name):
                names[k] = name
    return prefix, names


#: Prefixes of validation keys besides the Trainer's ``eval``, in the order they are preferred.
VALIDATION_PREFIXES = ("val", "valid", "validation")

#: Keys of the training loss, in the order they are preferred: the Trainer's ``loss``,
#: Lightning's and MLflow users' ``train_loss``, ``train/loss``, the PyTorch tutorial's
#: ``Loss/train``, Lightning's ``train_loss_step`` (``self.log(..., on_step=True,
#: on_epoch=True)``).
TRAIN_LOSS_KEYS = ("loss", "train_loss", "train/loss", "Loss/train", "train_loss_step")


def train_loss_key(keys) -> str | None:
    """The training-loss key among a run's keys (the first of :data:`TRAIN_LOSS_KEYS`)."""
    return next((k for k in TRAIN_LOSS_KEYS if k in keys), None)


def train_loss(series: dict):
    """The training-loss series among a run's keys (:data:`TRAIN_LOSS_KEYS`), or None."""
    key = train_loss_key(series)
    return None if key is None else series[key]


#: The roles of a logged key in the ingest report's key classification.
ROLES = ("validation metric", "validation loss", "training loss", "bookkeeping", "ignored")

# Bookkeeping, never a metric, by the name after any prefix (eval_, val/, train/, tune/...):
# the Trainer's timings and counters, learning-rate monitors (Lightning's lr-Adam), gradient
# norms, FLOPs, Ray Tune's and W&B's own keys, MLflow's system metrics.
_BOOKKEEPING = re.compile(
    r"^(?:(?:eval|val|valid|validation|test|train|trainer|tune)[/_])?(?:epoch|step|global_step|steps?|iteration|iter|learning_rate|lr(?:[-_].*)?"
    r"|momentum|weight_decay|grad_norm|grad_norm_.*|total_flos|flos|num_input_tokens_seen"
    r"|runtime|samples_per_second|steps_per_second|model_preparation_time"
    r"|jit_compilation_time|timestamp|done|training_iteration|trial_id|date|pid|hostname"
    r"|node_ip|time_this_iter_s|time_total_s|time_since_restore|iterations_since_restore"
    r"|timesteps_total|timesteps_since_restore|episodes_total|experiment_id|experiment_tag"
    r"|checkpoint_dir_name|should_checkpoint|warmup_time|_runtime|_timestamp|_step"
    r"|hp_metric)$"
    r"|^(?:tune|system|config|_wandb|perf|time)/|^time_")


def is_bookkeeping(key: str) -> bool:
    """Whether a logged key is bookkeeping (a step, epoch, learning rate, timing, FLOPs, a
    tracking tool's own key), never a metric.

    >>> [is_bookkeeping(k) for k in ("learning_rate", "lr-Adam", "eval_runtime",
    ...                              "time_total_s", "tune/done", "eval_accuracy", "val_loss")]
    [True, True, True, True, True, False, False]
    """
    return bool(_BOOKKEEPING.search(key))


def classify_keys(keys, names: dict, train_key: str | None,
                  prefix: str | None = None) -> dict[str, tuple[str, str]]:
    """The role of every key a run logged (:data:`ROLES`) and why, for the ingest report.

    Parameters
    ----------
    keys : iterable of str
        Every key the run logged.
    names : dict of str to str
        The validation keys and their metric names (:func:`split_keys`).
    train_key : str or None
        The training-loss key used.
    prefix : str, optional
        The evaluation prefix chosen (named in the reason a key of another prefix is ignored).

    Returns
    -------
    dict of str to (role, reason)

    Examples
    --------
    >>> c = classify_keys(["eval_accuracy", "eval_loss", "loss", "learning_rate", "test_f1"],
    ...                   {"eval_accuracy": "accuracy", "eval_loss": "loss"}, "loss", "eval")
    >>> [c[k][0] for k in ("eval_accuracy", "eval_loss", "loss", "learning_rate", "test_f1")]
    ['validation metric', 'validation loss', 'training loss', 'bookkeeping', 'ignored']
    """
    out = {}
    for k in keys:
        if k in names:
            role = "validation loss" if names[k] == "loss" else "validation metric"
            out[k] = (role, f"as {names[k]!r}")
        elif k == train_key:
            out[k] = ("training loss", "")
        elif k == END_KEY:
            out[k] = ("bookkeeping", "the end-of-training record")
        elif is_bookkeeping(k):
            out[k] = ("bookkeeping", "by its name")
        elif k in TRAIN_LOSS_KEYS:
            out[k] = ("ignored", f"another training loss ({train_key!r} is used)")
        elif prefix is not None and k.startswith(("eval_", "eval/", "test_", "test/", "val_",
                                                  "val/", "valid_", "validation_")):
            out[k] = ("ignored", f"not of the validation prefix used ({prefix!r}); "
                                 "--metric KEY chooses another")
        else:
            out[k] = ("ignored", "neither a validation metric nor the training loss")
    return out


def end_of_training(series: dict) -> tuple[float | None, int | None]:
    """Order and step of the Trainer's end-of-training record (:data:`END_KEY`), or Nones."""
    end = series.get(END_KEY)
    if end is None or not len(end.g):
        return None, None
    i = int(np.argmax(end.order))
    return float(end.order[i]), int(end.g[i])


def max_step(series: dict) -> int | None:
    """The largest step logged under any key (None when nothing was logged)."""
    steps = [int(s.g.max()) for s in series.values() if len(s.g)]
    return max(steps) if steps else None


def infer_steps_per_epoch(epoch: Series | None) -> float | None:
    """Optimizer updates per epoch from a logged ``epoch`` key: ``g / epoch`` at the last log.

    Within 1e-4 (relative) of an integer it is rounded (TensorBoard stores float32). This
    deliberately differs from :func:`seedstats.data.schema.steps_per_epoch_at` (1e-6 absolute,
    for seedstats' own float64 logs): a float32 epoch puts the ratio off by more than
    1e-6 steps, and ``g`` here already counts updates (``step + 1``).
    """
    if epoch is None or not len(epoch.g):
        return None
    ok = (epoch.v > 0) & (epoch.g > 0) & np.isfinite(epoch.v)
    if not ok.any():
        return None
    i = np.flatnonzero(ok)[np.argmax(epoch.g[ok])]
    spe = float(epoch.g[i] / epoch.v[i])
    r = round(spe)
    return float(r) if r > 0 and abs(spe - r) <= 1e-4 * spe else spe


def index_steps_per_epoch(epoch: Series | None) -> float | None:
    """Updates per epoch from a 0-based epoch index logged at 0-based update indices
    (Lightning's ``epoch``): every epoch before the last must have ended at
    ``(e + 1) * spe - 1``; None unless they agree (or no epoch has ended).

    >>> index_steps_per_epoch(Series.of([1, 3, 7, 9, 15, 17], [0, 0, 0, 1, 1, 2]))
    8.0
    """
    if epoch is None or not len(epoch.g):
        return None
    e = epoch.v
    ok = np.isfinite(e)
    last = np.nanmax(e) if ok.any() else None
    cands = set()
    for k in np.unique(e[ok]):
        if k == last:
            continue
        end = int(epoch.g[e == k].max()) + 1
        if end % (int(k) + 1):
            return None
        cands.add(end // (int(k) + 1))
    return float(cands.pop()) if len(cands) == 1 else None


def read_flat_yaml(path: Path) -> dict:
    """The top-level ``key: value`` scalars of a YAML file (MLflow's ``meta.yaml``,
    Lightning's ``hparams.yaml``); nested values are skipped.

    Written here rather than taken from PyYAML (not a dependency) because these files hold
    flat scalars, and a parser that builds only strings and ints cannot be made to construct
    objects or expand aliases from an untrusted file. Quoted strings are unquoted, ``null``
    and ``~`` are None, integers are ints, anything else stays a string (``"0.1"``).
    """
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line or line[0] in " \t-#":
            continue
        key, sep, val = line.partition(":")
        if not sep:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
            val = val[1:-1].replace("''", "'") if val[0] == "'" else val[1:-1]
        elif val in ("", "null", "~"):
            val = None
        else:
            try:
                val = int(val)
            except ValueError:
                pass
        out[key.strip()] = val
    return out


def series_from_rows(rows, steps, path, where=None) -> tuple[dict[str, "Series"], dict]:
    """Per-key series of JSON objects (one per log call: the Trainer's ``log_history``, Ray
    Tune's ``result.json``), ``steps[i]`` the step of ``rows[i]``.

    Numbers are kept (booleans as 1/0, ``null`` as NaN: a logged missing value); a key that
    holds only text, lists or objects (a date, a host name, Ray's ``config``) is not a series
    and is returned with its count of values, for the key report; a key that holds numbers
    in some rows and text in others is an error. ``where(i)`` gives ``(line, label)`` of row
    ``i`` for messages (default: no line, ``row i``).

    Returns
    -------
    (dict of str to Series, dict of str to int)

    Raises
    ------
    ParseError
        A number too large to be exact as a float, or text in a key of numbers.
    """
    where = where or (lambda i: (None, f"row {i}"))
    cols: dict[str, tuple[list, list, list]] = {}
    text: dict[str, list] = {}
    for i, row in enumerate(rows):
        for k, v in row.items():
            if v is None:
                x = math.nan
            elif isinstance(v, bool):
                x = float(v)
            elif isinstance(v, (int, float)):
                if isinstance(v, int) and abs(v) >= MAX_STEP:
                    line, label = where(i)
                    raise ParseError(path, line, f"{label}[{excerpt(k)}]: expected a number a "
                                     f"float can hold, got {excerpt(v)}")
                x = float(v)
            else:
                text.setdefault(k, []).append(i)
                continue
            c = cols.setdefault(k, ([], [], []))
            c[0].append(steps[i])
            c[1].append(x)
            c[2].append(i)
    other = {}
    for k, idx in text.items():
        if k in cols and not all(math.isnan(x) for x in cols[k][1]):
            line, label = where(idx[0])
            raise ParseError(path, line, f"{label}[{excerpt(k)}]: expected a number, got "
                             f"{excerpt(rows[idx[0]][k])}")
        other[k] = len(idx) + len(cols.pop(k, ((), (), ()))[0])
    for k in [k for k, c in cols.items() if all(math.isnan(x) for x in c[1])]:
        other[k] = len(cols.pop(k)[0])  # only nulls: nothing to read
    return {k: Series.of(*c) for k, c in cols.items()}, other


def wide_columns(path, step_col: str, *, skip=(), other=None) -> dict[str, "Series"]:
    """The series of a wide CSV (one column per key, empty cells where a key was not logged;
    Lightning's ``metrics.csv``, Ray Tune's ``progress.csv``). Every cell is read as written,
    so an empty cell (not logged) is told apart from a logged ``nan`` (kept as NaN);
    ``true``/``false`` are 1/0.

    Columns in ``skip`` and columns holding text (host names, dates: bookkeeping) are left
    out; the count of non-empty cells of each text column is added to ``other`` (a dict)
    when given. Steps are the ``step_col`` column as written, or the row
    number (1, 2, ...) when ``step_col`` is None. Read with the csv module, not pandas: these
    files are small and many, and pandas' per-call overhead made reading 5 times slower.

    Raises
    ------
    ParseError
        A row of another length than the header, a step that is not an integer, or a cell of
        a numeric column that is not a number (naming the line: the header is line 1).
    """
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ParseError(path, 1, "expected a header line, got an empty file")
    header, rows = rows[0], rows[1:]
    width = len(header)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ParseError(path, i + 2, f"expected {width} cells as in the header, got "
                             f"{len(r)}")
    if step_col is None:
        steps = list(range(1, len(rows) + 1))
    else:
        if step_col not in header:
            raise ParseError(path, 1, f"expected a {step_col!r} column, got {header[:10]}")
        j = header.index(step_col)
        steps = []
        for i, r in enumerate(rows):
            try:
                f = float(r[j])
            except ValueError:
                f = float("nan")
            if not (math.isfinite(f) and f.is_integer() and abs(f) < MAX_STEP):
                raise ParseError(path, i + 2, f"column {step_col!r}: expected an integer step, "
                                 f"got {excerpt(r[j])}")
            steps.append(int(f))
    out = {}
    for j, c in enumerate(header):
        if c == step_col or c in skip:
            continue
        g, v, idx, bad = [], [], [], None
        for i, r in enumerate(rows):
            cell = r[j].strip()
            if not cell:
                continue
            try:
                x = float(cell)
            except ValueError:
                low = cell.lower()
                if low not in ("true", "false"):
                    bad = i if bad is None else bad
                    continue
                x = float(low == "true")
            g.append(steps[i])
            v.append(x)
            idx.append(i)
        if bad is not None:
            if not v or is_bookkeeping(c):  # a text column (trial_id, date): not a series
                if other is not None:
                    other[c] = sum(1 for r in rows if r[j].strip())
                continue
            raise ParseError(path, bad + 2, f"column {c!r}: expected a number, got "
                             f"{excerpt(rows[bad][j])}")
        if v:
            out[c] = Series.of(g, v, idx)
    return out


def note_unread(res: "Resolver", dirs, known, what: str) -> None:
    """Note the files directly in run directories ``dirs`` that the reader does not read
    (``known(name)`` is False): a renamed or foreign file inside a run is never left unseen."""
    strange = []
    for d in dirs:
        try:
            strange += [e.name for e in os.scandir(d) if e.is_file(follow_symlinks=False)
                        and not e.name.startswith(".") and not known(e.name)]
        except OSError:
            continue
    if strange:
        shown = ", ".join(repr(n) for n in sorted(strange)[:3])
        res.note(f"not read: {len(strange)} file(s) in {what} that its reader does not read "
                 f"({shown}{', ...' if len(strange) > 3 else ''})")


def complete_by_schedule(last_steps: dict, res: "Resolver", what: str) -> dict:
    """Which runs completed, for sources that record no end of training (Lightning's loggers,
    Ray Tune without an ``error.txt``): a run of a seed sweep runs the same schedule as the
    others, so one whose last step is below the sweep's largest stopped early (killed).

    ``last_steps`` maps a run (any key) to ``(group, last step)``: runs are compared within
    their group (task and system). Returns ``{run: complete}``; a note says when a run was
    read as incomplete this way.
    """
    top: dict = {}
    for group, last in last_steps.values():
        top[group] = max(top.get(group, last), last)
    out = {run: last >= top[group] for run, (group, last) in last_steps.items()}
    short = sum(not c for c in out.values())
    if short:
        res.note(f"{what} records no end of training: {short} run(s) whose last step is below "
                 "their sweep's last were read as incomplete (killed or failed)")
    return out


#: ``--duplicates`` policies for a step logged more than once with different values.
DUPLICATES = ("error", "last", "first")


def _conflict(source, what: str, s: Series, offset: int = -1):
    """Raise the one-line error for a step of ``s`` logged twice with different values."""
    idx = np.lexsort((s.order, s.g))
    g, v = s.g[idx], s.v[idx]
    same = g[1:] == g[:-1]
    differ = same & ~((v[1:] == v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1])))
    i = int(np.flatnonzero(differ)[0])
    n = len({int(x) for x in g[1:][differ]})
    raise ParseError(source, None, f"{what}: {n} step(s) logged more than once with different "
                     f"values (step {int(g[i]) + offset}: {v[i]:.6g}, then {v[i + 1]:.6g}); "
                     "choose --duplicates last (keep the value logged last, as a resumed run "
                     "wants) or --duplicates first")


def assemble(*, source: str, ident: Identity, metric, baseline, evals: dict[str, Series],
             train: Series | None = None, train_offset: int = -1, end_order: float | None = None,
             complete: bool = True, n_steps: int | None = None,
             steps_per_epoch: float | None = None, flags=(), extra_curves=None) -> TrialRecord:
    """Turn one run's series into a :class:`TrialRecord` (rules: module docstring).

    Parameters
    ----------
    evals : dict of str to Series
        Metric name -> evaluations, ``g`` = updates done when the evaluation ran.
    train : Series, optional
        Training loss; its step is ``g + train_offset``.
    end_order : float, optional
        Log order of the end-of-training record; later evaluations are post-training.
    complete : bool
        Whether training finished (only then is there an ``after``).
    n_steps : int, optional
        Updates run; default the end record's step or the largest step logged.
    extra_curves : dict of str to Curve, optional
        Curves added as they are (e.g. the follow-up study's saved-checkpoint score).
    """
    for name, s in evals.items():
        if len(s.g) and int(s.g.min()) < 0:  # before step 0 of a count: never dropped
            raise ParseError(source, None, f"metric {name!r}: an evaluation logged before "
                             f"training began (step {int(s.g.min())} as a count of updates "
                             "done); expected steps from 0 (before training) on")
    if train is not None and len(train.g) and int(train.g.min()) + train_offset < -1:
        raise ParseError(source, None, "training loss logged before training began (step "
                         f"{int(train.g.min()) + train_offset}); expected steps from 0 on")
    pre, post = {}, {}
    set_aside = differ = 0
    keep = ident.duplicates
    for name, s in evals.items():
        m = (s.order <= end_order) if end_order is not None else np.ones(len(s.g), bool)
        pre[name], a, d = Series(s.g[m], s.v[m], s.order[m]).deduped(keep)
        post[name] = Series(s.g[~m], s.v[~m], s.order[~m])
        set_aside, differ = set_aside + a, differ + d
        if d and keep == "error":
            _conflict(source, f"metric {name!r}", s)
    tr = None
    if train is not None and len(train.g):
        tr, a, d = train.deduped(keep)
        set_aside, differ = set_aside + a, differ + d
        if d and keep == "error":
            _conflict(source, "the training loss", train, train_offset)
    flags = list(flags)
    if differ:
        flags.append("conflicting_steps")   # a step logged twice with different values
    elif set_aside:
        flags.append("duplicate_steps")     # a step logged twice with the same value
    if n_steps is None:
        cand = [0] + [int(s.g.max()) for s in pre.values() if len(s.g)]
        if tr is not None:
            cand.append(int(tr.g.max()) + train_offset + 1)
        n_steps = max(cand)
    any_during = any((s.g > 0).any() for s in pre.values())
    curves = {}
    for name, s in pre.items():
        bmask, dmask = s.g == 0, s.g > 0
        before = float(s.v[bmask][-1]) if bmask.any() else None
        after = None
        if complete:
            at_end = dmask & (s.g == n_steps)
            if at_end.any():
                after = float(s.v[at_end][-1])
            elif not any_during:
                p = post[name]
                late = p.g == n_steps
                if late.any():
                    after = float(p.v[np.flatnonzero(late)[np.argmin(p.order[late])]])
        curves[name] = Curve(before=before, steps=s.g[dmask] - 1, values=s.v[dmask],
                             after=after)
    if extra_curves:
        curves.update(extra_curves)
    rec = TrialRecord(
        task=ident.task, wi_seed=ident.wi_seed, do_seed=ident.do_seed, seed=ident.seed,
        system=ident.system, curves=curves, complete=bool(complete), source=source, n_steps=int(n_steps),
        steps_per_epoch=steps_per_epoch, metric=metric, baseline=baseline, flags=list(flags),
    )
    if tr is not None:
        rec.train_loss = tr.v
        rec.train_steps = tr.g + train_offset
    rec.set_aside = set_aside
    return rec


def hf_key(tag: str) -> str:
    """The Trainer log key behind a tag its callbacks write (``rewrite_logs`` inverted)."""
    if tag.startswith("eval/"):
        return "eval_" + tag[5:]
    if tag.startswith("test/"):
        return "test_" + tag[5:]
    if tag.startswith("train/"):
        return tag[6:]
    return tag

"""Column names, dtypes and task metadata of the normalized dataset.

This module is the single place where the dataset's contracts (README: "The normalized
dataset") live in code: the three tables (``trials``, ``evals``, ``train_loss``), their column dtypes, the
per-task metadata of Table 2 of Dodge et al. (2020), and the evaluation schedules
of the released curves.

Step convention
---------------
``step`` is the 0-based index of the optimizer update *after which* an evaluation
ran, exactly as in the released ``"during"`` lists. The evaluation of the untrained
model (``phase == "before"``) has ``step == -1``; the evaluation after training
(``phase == "after"``) has the index of the last update, ``n_steps - 1``. The
epoch of an evaluation is ``(step + 1) / steps_per_epoch``, so ``before`` is at
epoch 0 and ``after`` at epoch 3 for the paper's regime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "SCHEMA_VERSION",
    "SCORES",
    "DEFAULT_SYSTEM",
    "LOWER_IS_BETTER_NAMES",
    "lower_is_better_default",
    "TaskInfo",
    "TASKS",
    "TABLES",
    "TRIALS_COLUMNS",
    "EVALS_COLUMNS",
    "TRAIN_LOSS_COLUMNS",
    "PHASES",
    "task_info",
    "steps_per_epoch_at",
    "trial_id",
    "is_failed",
]

#: The per-trial scores of the seed analyses -> the ``trials`` column that holds it. ``"paper"``:
#: the best validation score on the task's regular evaluation grid, as Dodge et al. (2020)
#: compute Tables 3 and 4 and Figures 2, 3 and 8 (the default everywhere); ``"final"``: the
#: score after training.
SCORES = {"paper": "score", "final": "after"}

#: Version of the on-disk layout; bumped whenever a column or a dtype changes. Version 2 added
#: the trials' ``score`` (the paper's score); version 3 the ``system`` column of every table and
#: the metrics' direction in ``dataset.json``. Older datasets are upgraded on reading (one
#: system, :data:`DEFAULT_SYSTEM`; directions by name).
SCHEMA_VERSION = 3

#: The ``system`` of trials whose source names none (a sweep with nothing to compare, the
#: replica, ``dodge2020``).
DEFAULT_SYSTEM = "default"

#: Metric names (or name endings such as ``eval_loss``, ``val/wer``) for which lower is better
#: unless the dataset says otherwise (``--lower-is-better`` / ``--higher-is-better``).
LOWER_IS_BETTER_NAMES = ("loss", "perplexity", "ppl", "wer", "cer", "error", "err")

#: The three tables of a normalized dataset, in the order they are written.
TABLES = ("trials", "evals", "train_loss")

#: ``phase`` values of the ``evals`` table.
PHASES = ("before", "during", "after")

# Column -> dtype, in pandas terms. ``best`` is the best ``during`` value of the headline
# metric; ``score`` the paper's score (Dodge et al. 2020, Section 4; the authors' notebook):
# the best ``during`` value on the task's regular evaluation grid (``TaskInfo.schedule``) when
# the trial was evaluated at every step of it, else over every ``during`` evaluation (users'
# sweeps, whose grid is what they logged). Seeds are nullable: a sweep with one seed for
# everything fills ``seed`` and leaves ``wi_seed``/``do_seed`` missing, and the
# released grid does the opposite. ``task``/``metric``/``phase`` are categorical,
# ``trial_id`` is categorical in the long tables (millions of repeated labels).
TRIALS_COLUMNS = {
    "task": "category",
    "system": "str",
    "wi_seed": "Int32",
    "do_seed": "Int32",
    "seed": "Int32",
    "trial_id": "str",
    "metric": "category",
    "before": "float64",
    "after": "float64",
    "best": "float64",
    "score": "float64",
    "n_evals": "int32",
    "n_steps": "int32",
    "complete": "bool",
    "diverged": "boolean",
    "flags": "str",
    "source": "str",
}

EVALS_COLUMNS = {
    "task": "category",
    "system": "category",
    "trial_id": "category",
    "wi_seed": "Int32",
    "do_seed": "Int32",
    "seed": "Int32",
    "step": "int32",
    "epoch": "float64",
    "metric": "category",
    "value": "float64",
    "phase": "category",
}

TRAIN_LOSS_COLUMNS = {
    "task": "category",
    "system": "category",
    "trial_id": "category",
    "wi_seed": "Int32",
    "do_seed": "Int32",
    "seed": "Int32",
    "step": "int32",
    "loss": "float64",
}


def _every(stop: int, stride: int, start: int = 0) -> tuple[int, ...]:
    return tuple(range(start, stop, stride))


@dataclass(frozen=True)
class TaskInfo:
    """Metadata of one GLUE task as used by Dodge et al. (2020), Table 2.

    Attributes
    ----------
    name : str
        Short task name used everywhere (``"mrpc"``, ``"rte"``, ``"cola"``, ``"sst"``).
    metric : str
        The headline validation metric (``acc_and_f1`` for MRPC, ``mcc`` for CoLA,
        ``acc`` otherwise).
    metrics : tuple of str
        Every metric logged for the task, validation ``loss`` first.
    baseline : float
        Score of the majority-class classifier (Table 2). A run whose final score is
        no better than this has failed (diverged).
    n_train, n_val : int
        Training and validation examples.
    steps_per_epoch : int
        Optimizer steps per epoch at batch size 16.
    n_epochs : int
        Epochs of the paper's regime (3).
    grid_size : int
        Seeds per factor in the paper's grid (N, seeds 1..N).
    schedule : tuple of int
        The regular evaluation schedule of the released curves (10 evaluations per
        epoch; SST every 100 steps) as ``"during"`` step indices.
    es_steps : tuple of int
        The 30 evaluation steps used by the paper's early-stopping analysis (Section 5).
    """

    name: str
    metric: str
    metrics: tuple[str, ...]
    baseline: float
    n_train: int
    n_val: int
    steps_per_epoch: int
    n_epochs: int
    grid_size: int
    schedule: tuple[int, ...] = field(repr=False)
    es_steps: tuple[int, ...] = field(repr=False)

    @property
    def n_steps(self) -> int:
        """Optimizer steps of one full run (``steps_per_epoch * n_epochs``)."""
        return self.steps_per_epoch * self.n_epochs

    @property
    def per_epoch_steps(self) -> tuple[int, ...]:
        """Step index of the last update of each epoch."""
        return tuple(self.steps_per_epoch * (e + 1) - 1 for e in range(self.n_epochs))


_RTE = (0, 21, 36, 51, 66, 81, 96, 111, 126, 141, 156, 171, 186, 201, 216, 231, 246, 261,
        276, 291, 306, 327, 342, 357, 372, 387, 402, 417, 432, 447, 462)
_COLA = (0, 53, 106, 159, 212, 265, 318, 371, 424, 477, 530, 588, 641, 694, 747, 800, 853,
         906, 959, 1012, 1065, 1123, 1176, 1229, 1282, 1335, 1388, 1441, 1494, 1547, 1600)
_SST = _every(4201, 100) + _every(8411, 100, 4310) + _every(12621, 100, 8520)
_SST_ES = (0, 400, 800, 1300, 1700, 2100, 2600, 3000, 3400, 3900, 4310, 4710, 5210, 5610,
           6010, 6510, 6910, 7310, 7810, 8210, 8620, 9120, 9520, 9920, 10420, 10820, 11220,
           11720, 12120, 12620)

#: Table 2 of the paper plus the evaluation schedules of the released curves.
TASKS: dict[str, TaskInfo] = {
    "mrpc": TaskInfo("mrpc", "acc_and_f1", ("loss", "acc", "f1", "acc_and_f1"), 0.75,
                     3668, 408, 230, 3, 25, _every(668, 23), _every(668, 23)),
    "rte": TaskInfo("rte", "acc", ("loss", "acc"), 0.53, 2490, 277, 156, 3, 25,
                    _RTE, tuple(s for s in _RTE if s != 246)),
    "cola": TaskInfo("cola", "mcc", ("loss", "mcc"), 0.0, 8551, 1043, 535, 3, 25,
                     _COLA, tuple(s for s in _COLA if s != 1176)),
    "sst": TaskInfo("sst", "acc", ("loss", "acc"), 0.51, 67349, 872, 4210, 3, 15,
                    _SST, _SST_ES),
}


def task_info(task: str) -> TaskInfo:
    """Return the :class:`TaskInfo` of a paper task, with a clear error otherwise."""
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(
            f"task: expected one of {', '.join(TASKS)}, got {task!r}"
        ) from None


def steps_per_epoch_at(step, epoch):
    """Optimizer steps per epoch implied by one evaluation, by the step convention.

    Inverts ``epoch = (step + 1) / steps_per_epoch`` (module docstring). A result within
    1e-6 (absolute) of an integer is rounded to it, so that logs written with a whole number
    of steps per epoch read back exactly.

    Parameters
    ----------
    step : int or numpy integer
        0-based index of the last optimizer update before the evaluation (``>= 0``).
    epoch : float or numpy floating
        Its logged epoch (finite, ``> 0``); the caller checks both.

    Returns
    -------
    float
        ``(step + 1) / epoch``, rounded when within 1e-6 of an integer (then a Python
        float); otherwise the quotient as computed (a NumPy float for NumPy inputs).

    Examples
    --------
    >>> steps_per_epoch_at(155, 1.0)
    156.0
    >>> steps_per_epoch_at(9, 10 / 7.0)
    7.0
    >>> steps_per_epoch_at(5, 6 / 3.3)
    3.3
    """
    spe = (step + 1) / epoch
    if abs(spe - round(spe)) < 1e-6:
        spe = float(round(spe))
    return spe


def trial_id(task: str, wi_seed=None, do_seed=None, seed=None) -> str:
    """The canonical identifier of a trial: ``"rte-wi12-do3"`` or ``"rte-s42"``."""
    if wi_seed is not None or do_seed is not None:
        parts = [task]
        if wi_seed is not None:
            parts.append(f"wi{int(wi_seed)}")
        if do_seed is not None:
            parts.append(f"do{int(do_seed)}")
        if seed is not None:
            parts.append(f"s{int(seed)}")
        return "-".join(parts)
    if seed is not None:
        return f"{task}-s{int(seed)}"
    raise ValueError(f"trial of task {task!r} has no seed: give wi_seed/do_seed or seed")


def lower_is_better_default(metric) -> bool:
    """Whether lower is better for a metric of this name, by default.

    True for the names of :data:`LOWER_IS_BETTER_NAMES` and names ending in one of them after
    ``_``, ``-``, ``/`` or ``.`` (``eval_loss``, ``val/wer``); false otherwise.

    Examples
    --------
    >>> [lower_is_better_default(m) for m in ("loss", "eval_loss", "val/wer", "acc", "mcc")]
    [True, True, True, False, False]
    """
    if not isinstance(metric, str):
        return False
    tail = re.split(r"[_\-/.]", metric.lower())[-1]
    return tail in LOWER_IS_BETTER_NAMES


def is_failed(score: float, baseline: float, metric: str, lower_is_better: bool = False) -> bool:
    """Whether a final score is no better than the majority baseline.

    Follows Mosbach et al. (2021) and Section 4 of Dodge et al. (2020): a run has
    failed (diverged) when its final score is at or below the majority-class
    classifier's (Table 2); for MCC, at or below 0; for a metric where lower is better, at or
    above the baseline. NaN is not a failure verdict: it returns False and the loaders flag
    the trial instead.
    """
    if score != score:  # NaN
        return False
    limit = 0.0 if metric == "mcc" else baseline
    if lower_is_better:
        return bool(score >= limit - 1e-12)
    return bool(score <= limit + 1e-12)

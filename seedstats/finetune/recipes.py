"""Fine-tuning recipes: the paper's regime and the follow-up study's stable one.

A :class:`Recipe` holds every setting that changes what a trial computes (batch size,
learning rate and its schedule, optimizer, dropout, evaluation schedule); speed
settings (precision, evaluation batch size, device) live apart, in
:func:`seedstats.finetune.train.run_trial`. The recipe is written into every log's
header, so a log says how it was made.

``paper``
    Dodge et al. (2020), Section 2: BERT fine-tuned with batch size 16, learning rate
    2e-5, dropout 0.1, 3 epochs, maximum sequence length 128, a new linear head drawn
    from N(0, 0.02); AdamW as in the original BERT recipe (no bias correction, weight
    decay 0.01 except biases and LayerNorm weights, epsilon 1e-6, gradients clipped
    at norm 1.0) with a linear decay of the learning rate; validation before
    training, 10 times per epoch (SST-2: every 100 steps) and after training.
``stable``
    Mosbach et al. (2021), the follow-up study's "simple but strong baseline":
    the same, plus Adam's bias correction, a linear warmup over the first 10% of
    steps, 20 epochs and 3 evaluations per epoch.

The warmup of the paper recipe is a judgement call: the original BERT recipe warms up
over 10% of the steps, the paper's Hugging Face defaults of the time did not; this
recipe decays linearly from the first step. ``--warmup 0.1`` gives the
follow-up study's "unstable baseline" configuration exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from seedstats.data.schema import TASKS

__all__ = ["Recipe", "RECIPES", "get_recipe", "lr_factor", "eval_steps"]


@dataclass(frozen=True)
class Recipe:
    """Every setting of a fine-tuning regime that changes what is computed.

    Attributes
    ----------
    name : str
        ``"paper"``, ``"stable"``, or the base name when overridden.
    batch_size : int
        Training examples per optimizer step.
    lr : float
        Peak learning rate.
    epochs : int
        Passes over the training set.
    dropout : float
        Dropout probability of the encoder (hidden and attention) and the head.
    max_length : int
        Maximum tokens per example (pairs truncated longest-first).
    weight_decay : float
        Decoupled weight decay (not applied to biases and LayerNorm weights).
    adam_eps : float
    adam_betas : tuple of float
    correct_bias : bool
        Adam's bias correction (False in the original BERT optimizer).
    warmup : float
        Fraction of the steps with a linear warmup of the learning rate (0 to 1).
    max_grad_norm : float
        Global gradient-norm clipping threshold; 0 disables clipping.
    evals_per_epoch : int
        Validation evaluations per epoch during training.
    schedule : str
        ``"paper"``: the step indices of the released curves when the run has the
        paper's steps per epoch, 3 epochs and 10 evaluations per epoch (so the rest of
        seedstats, e.g. the early-stopping steps of Section 5, finds the same steps),
        else ``"uniform"``: ``floor(k * steps_per_epoch / evals_per_epoch)`` within
        each epoch.
    head_std : float
        Standard deviation of the head's initial weights (biases start at 0).
    """
    name: str = "paper"
    batch_size: int = 16
    lr: float = 2e-5
    epochs: int = 3
    dropout: float = 0.1
    max_length: int = 128
    weight_decay: float = 0.01
    adam_eps: float = 1e-6
    adam_betas: tuple[float, float] = (0.9, 0.999)
    correct_bias: bool = False
    warmup: float = 0.0
    max_grad_norm: float = 1.0
    evals_per_epoch: int = 10
    schedule: str = "paper"
    head_std: float = 0.02

    def __post_init__(self):
        def bad(field, expected, got):
            raise ValueError(f"{field}: expected {expected}, got {got!r}")

        for f in ("batch_size", "epochs", "max_length", "evals_per_epoch"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{f}: expected an int, got {type(v).__name__} {v!r}")
            if v < 1:
                bad(f, "an int >= 1", v)
        if self.max_length < 8:
            bad("max_length", "an int >= 8", self.max_length)
        for f in ("lr", "dropout", "weight_decay", "adam_eps", "warmup", "max_grad_norm",
                  "head_std"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{f}: expected a number, got {type(v).__name__} {v!r}")
            if f == "lr" and not v > 0:
                bad(f, "a number > 0", v)
            if not v >= 0:
                bad(f, "a number >= 0", v)
        if not self.dropout < 1:
            bad("dropout", "a probability in [0, 1)", self.dropout)
        if not self.warmup <= 1:
            bad("warmup", "a fraction of the steps in [0, 1]", self.warmup)
        b = self.adam_betas
        if len(b) != 2 or not all(0 <= x < 1 for x in b):
            bad("adam_betas", "two numbers in [0, 1)", b)
        if self.schedule not in ("paper", "uniform"):
            bad("schedule", "'paper' or 'uniform'", self.schedule)

    def to_dict(self) -> dict:
        """The recipe as a JSON-ready dict (for the log header)."""
        d = dataclasses.asdict(self)
        d["adam_betas"] = list(self.adam_betas)
        return d


#: The two named regimes (see the module docstring).
RECIPES = {
    "paper": Recipe(),
    "stable": Recipe(name="stable", epochs=20, correct_bias=True, warmup=0.1,
                     evals_per_epoch=3, schedule="uniform"),
}


def get_recipe(name: str = "paper", **overrides) -> Recipe:
    """A named recipe with individual settings overridden.

    Parameters
    ----------
    name : str
        ``"paper"`` or ``"stable"``.
    **overrides
        Fields of :class:`Recipe`; ``None`` values are ignored (unset CLI options).

    Returns
    -------
    Recipe

    Examples
    --------
    >>> r = get_recipe("stable", lr=1e-5)
    >>> r.epochs, r.lr, r.correct_bias, r.name
    (20, 1e-05, True, 'stable')
    """
    if name not in RECIPES:
        raise ValueError(f"recipe: expected one of {', '.join(RECIPES)}, got {name!r}")
    fields = {f.name for f in dataclasses.fields(Recipe)} - {"name"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"get_recipe: unknown setting(s) {', '.join(unknown)}; expected "
                        f"some of {', '.join(sorted(fields))}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if "adam_betas" in given:
        given["adam_betas"] = tuple(given["adam_betas"])
    return dataclasses.replace(RECIPES[name], **given)


def lr_factor(step: int, n_steps: int, warmup: float) -> float:
    """Learning-rate multiplier of optimizer update ``step`` (0-based).

    Linear warmup over the first ``w = int(warmup * n_steps)`` updates, then linear
    decay to 0 at ``n_steps``: ``step / w`` before ``w``, ``(n_steps - step) /
    (n_steps - w)`` after (the schedule of
    ``transformers.get_linear_schedule_with_warmup``, evaluated at the update's index).

    Examples
    --------
    >>> [lr_factor(s, 4, 0.0) for s in range(4)]
    [1.0, 0.75, 0.5, 0.25]
    >>> [lr_factor(s, 10, 0.2) for s in range(4)]
    [0.0, 0.5, 1.0, 0.875]
    """
    w = int(warmup * n_steps)
    if step < w:
        return step / max(1, w)
    return max(0.0, (n_steps - step) / max(1, n_steps - w))


def eval_steps(steps_per_epoch: int, epochs: int, evals_per_epoch: int,
               task: str | None = None, schedule: str = "paper") -> list[int]:
    """``"during"`` evaluation steps of a run (0-based index of the preceding update).

    Parameters
    ----------
    steps_per_epoch, epochs, evals_per_epoch : int
    task : str, optional
        A paper task: with ``schedule="paper"`` and the paper's regime (its steps
        per epoch, 3 epochs, 10 evaluations per epoch) the released curves' regular
        schedule is used (``TASKS[task].schedule``; SST-2 every 100 steps).
    schedule : {"paper", "uniform"}

    Returns
    -------
    list of int
        Sorted, unique, all below ``steps_per_epoch * epochs``.

    Examples
    --------
    >>> eval_steps(10, 2, 3, schedule="uniform")
    [0, 3, 6, 10, 13, 16]
    >>> eval_steps(230, 3, 10, task="mrpc")[:3], len(eval_steps(230, 3, 10, task="mrpc"))
    ([0, 23, 46], 30)
    """
    info = TASKS.get(task) if task else None
    if (schedule == "paper" and info is not None and steps_per_epoch == info.steps_per_epoch
            and epochs == info.n_epochs and evals_per_epoch == 10):
        return list(info.schedule)
    per = min(evals_per_epoch, steps_per_epoch)
    offs = sorted({k * steps_per_epoch // per for k in range(per)})
    return [e * steps_per_epoch + o for e in range(epochs) for o in offs]

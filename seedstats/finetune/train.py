"""One fine-tuning trial: a (WI, DO) seed pair trained and evaluated, streamed to a log.

Reproduces the experimental design of Dodge et al. (2020), Sections 2 and 4: a new
classification head initialized from the weight-initialization (WI) seed, training
examples ordered by the data-order (DO) seed, validation before training, 10 times per
epoch and after training. The log is seedstats' JSON Lines format
(:class:`seedstats.data.formats.jsonl.LogWriter`), flushed after every evaluation, so a killed
run leaves a partial log that ingests as an incomplete trial; with ``"rawlog"`` among
the formats the authors' text layout is written too when the trial completes.

Seeds, exactly
--------------
- WI: only the head's initial weights (:func:`seedstats.finetune.model.init_head`).
- DO: only the order of the training examples
  (:func:`seedstats.finetune.data.epoch_order`).
- Dropout masks: torch's generator re-seeded just before training with the DO seed
  (``dropout_seed="do"``, as in the authors' code), the WI seed (``"wi"``) or a fixed
  integer; on a forked generator, so the caller's global random state is unchanged.

torch and transformers are imported inside the functions (the ``finetune`` extra).
"""

from __future__ import annotations

import inspect
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seedstats import __version__
from seedstats.data.formats.jsonl import LogWriter
from seedstats.data.formats.rawlog import format_rawlog
from seedstats.data.records import Curve, TrialRecord
from seedstats.data.schema import trial_id
from seedstats.data.store import writing_file
from seedstats.errors import SeedstatsError
from seedstats.finetune.data import encode, epoch_batches, load_task, pad_batch
from seedstats.finetune.metrics import compute_metrics
from seedstats.finetune.model import init_head, load_model, require_torch
from seedstats.finetune.optim import ScheduledAdamW
from seedstats.finetune.recipes import Recipe, eval_steps, get_recipe

__all__ = ["TrialSpec", "TrialResult", "Trainer", "run_trial", "log_path", "rawlog_path",
           "resolve_device", "versions"]


@dataclass
class TrialSpec:
    """Everything that defines one trial (picklable: it travels to grid workers).

    Attributes
    ----------
    task : str or None
        GLUE task (``"mrpc"``, ``"rte"``, ``"cola"``, ``"sst"``); None or
        ``"synthetic"`` with ``data="synthetic"``.
    wi_seed, do_seed : int
        Weight-initialization and data-order seeds (>= 0).
    out : str or Path
        Directory of the logs.
    model : str
        ``"random-tiny"``, ``"random-bert-large"``, a path or a model name.
    data : {"glue", "synthetic"}
    glue_dir : str or Path, optional
    recipe : Recipe or str
        A :class:`~seedstats.finetune.recipes.Recipe` or a recipe name.
    dropout_seed : {"do", "wi"} or int
    formats : tuple of str
        ``("jsonl",)`` or ``("jsonl", "rawlog")``.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    precision : {"auto", "fp32", "bf16"}
        ``"auto"``: bf16 autocast on a GPU that supports it, fp32 otherwise.
    eval_batch_size : int, optional
        Default 256 on a GPU, 64 on a CPU.
    max_train, max_val : int, optional
        Keep only the first examples of each split (smoke runs).
    body_seed : int
        Seed of a random model's encoder (not a trial seed).
    threads : int, optional
        CPU threads for torch in a worker process (set by the grid launchers).
    """
    task: str | None
    wi_seed: int
    do_seed: int
    out: str | Path = "runs"
    model: str = "random-tiny"
    data: str = "glue"
    glue_dir: str | Path | None = None
    recipe: Recipe | str = "paper"
    dropout_seed: str | int = "do"
    formats: tuple[str, ...] = ("jsonl",)
    device: str = "auto"
    precision: str = "auto"
    eval_batch_size: int | None = None
    max_train: int | None = None
    max_val: int | None = None
    body_seed: int = 0
    threads: int | None = None

    def __post_init__(self):
        for name in ("wi_seed", "do_seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name}: expected an int >= 0, got {v!r}")
            setattr(self, name, int(v))
        if isinstance(self.recipe, str):
            self.recipe = get_recipe(self.recipe)
        elif not isinstance(self.recipe, Recipe):
            raise TypeError(f"recipe: expected a Recipe or a recipe name, got "
                            f"{type(self.recipe).__name__}")
        ds = self.dropout_seed
        if not (ds in ("do", "wi") or (isinstance(ds, (int, np.integer))
                                       and not isinstance(ds, bool) and ds >= 0)):
            raise ValueError(f"dropout_seed: expected 'do', 'wi' or an int >= 0, got {ds!r}")
        self.formats = tuple(self.formats)
        bad = [f for f in self.formats if f not in ("jsonl", "rawlog")]
        if bad or "jsonl" not in self.formats:
            raise ValueError(f"formats: expected ('jsonl',) or ('jsonl', 'rawlog'), got "
                             f"{self.formats!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision: expected 'auto', 'fp32' or 'bf16', got "
                             f"{self.precision!r}")
        if self.data not in ("glue", "synthetic"):
            raise ValueError(f"data: expected 'glue' or 'synthetic', got {self.data!r}")
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size: expected an int >= 1, got "
                             f"{self.eval_batch_size!r}")

    @property
    def task_name(self) -> str:
        """The task name written to the log."""
        return "synthetic" if self.data == "synthetic" else str(self.task)

    @property
    def dropout_seed_value(self) -> int:
        """The integer the dropout generator is seeded with."""
        if self.dropout_seed == "do":
            return self.do_seed
        if self.dropout_seed == "wi":
            return self.wi_seed
        return int(self.dropout_seed)


def _stem(task: str, wi: int, do: int) -> str:
    return f"{task}_wi{wi}_do{do}"


def log_path(spec: TrialSpec) -> Path:
    """Where the trial's JSON Lines log goes: ``OUT/<task>_wi<WI>_do<DO>.jsonl``."""
    return Path(spec.out) / f"{_stem(spec.task_name, spec.wi_seed, spec.do_seed)}.jsonl"


def rawlog_path(spec: TrialSpec) -> Path:
    """Where the authors' text layout goes: ``OUT/rawlog/<task>_wi<WI>_do<DO>.txt``."""
    return Path(spec.out) / "rawlog" / f"{_stem(spec.task_name, spec.wi_seed, spec.do_seed)}.txt"


@dataclass
class TrialResult:
    """What one trial did (timings live here, never in the log).

    Attributes
    ----------
    trial_id : str
    path : Path
        The JSON Lines log.
    rawlog : Path or None
    n_steps : int
        Optimizer updates run.
    evals : list of dict
        ``{"phase", "step", "epoch", "metrics"}`` per evaluation, as logged.
    train_loss : ndarray of float64, shape (n_steps,)
    batches : list of ndarray of int
        Training example indices of every batch, in order (the data order).
    seconds : float
        Wall-clock time of the trial (model loading included).
    train_seconds : float
        Wall-clock time of the training loop (evaluations included).
    samples_per_s : float
        Training examples per second of the training loop.
    """
    trial_id: str
    path: Path
    rawlog: Path | None
    n_steps: int
    evals: list[dict]
    train_loss: np.ndarray
    batches: list[np.ndarray] = field(repr=False)
    seconds: float = 0.0
    train_seconds: float = 0.0
    samples_per_s: float = 0.0


def resolve_device(device: str):
    """``"auto"`` -> CUDA when available, else CPU; returns a ``torch.device``."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SeedstatsError(f"--device {device}: CUDA is not available in this torch build")
    return dev


def versions() -> dict:
    """Library versions recorded in every log header."""
    import torch
    import transformers

    return {"seedstats": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


class Trainer:
    """The training step and the evaluation of one model (shared with the benchmark).

    Parameters
    ----------
    model : torch.nn.Module
    recipe : Recipe
    n_steps : int
    device : torch.device
    bf16 : bool
        bf16 autocast for the forward pass (the loss in float32).
    pad_id : int
    fused : bool, optional
        Fused AdamW (default: on CUDA).
    pad_multiple : int, optional
        Round dynamic padding up to a multiple of this (default: 8 on CUDA, else 1).
    """
    def __init__(self, model, recipe: Recipe, n_steps: int, device, bf16: bool = False,
                 pad_id: int = 0, fused: bool | None = None, pad_multiple: int | None = None):


        self.model, self.recipe, self.device = model, recipe, device
        self.bf16 = bool(bf16)
        self.pad_id = int(pad_id)
        if pad_multiple is None:
            pad_multiple = 8 if device.type == "cuda" else 1
        self.pad_multiple = int(pad_multiple)
        self.opt = ScheduledAdamW(model, recipe, n_steps, fused=fused)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.use_types = "token_type_ids" in inspect.signature(model.forward).parameters

    def _inputs(self, ids, types, mask):
        import torch

        nb = self.device.type == "cuda"
        kw = {"input_ids": torch.from_numpy(ids).to(self.device, non_blocking=nb),
              "attention_mask": torch.from_numpy(mask).to(self.device, non_blocking=nb)}
        if self.use_types:
            kw["token_type_ids"] = torch.from_numpy(types).to(self.device, non_blocking=nb)
        return kw

    def _autocast(self):
        import torch

        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def train_step(self, step: int, enc, idx, pad_to: int | None = None):
        """One optimizer update on the examples ``idx``; returns the loss (a 0-d tensor)."""
        import torch
        import torch.nn.functional as F


        ids, types, mask, y = pad_batch(enc, idx, self.pad_id, pad_to, self.pad_multiple)
        kw = self._inputs(ids, types, mask)
        labels = torch.from_numpy(y).to(self.device, non_blocking=self.device.type == "cuda")
        with self._autocast():
            logits = self.model(**kw).logits
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        if self.recipe.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.recipe.max_grad_norm)
        self.opt.step(step)
        self.opt.zero_grad()
        return loss.detach()

    def prepare_eval(self, enc, batch_size: int, sort: bool = True,
                     pad_to: int | None = None) -> list:
        """Pad the validation set once, in batches of similar length, on the device.

        ``sort=False, pad_to=128`` gives the plain layout (for speed comparisons).
        """
        import torch


        order = (np.argsort(enc.lengths, kind="stable") if sort
                 else np.arange(len(enc), dtype=np.int64))
        out = []
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            ids, types, mask, y = pad_batch(enc, idx, self.pad_id, pad_to, self.pad_multiple)
            out.append((self._inputs(ids, types, mask), torch.from_numpy(y).to(self.device)))
        return out

    def evaluate(self, prepared, metric_names) -> dict[str, float]:
        """Validation loss (mean cross-entropy) and the task metrics, in eval mode."""
        import torch
        import torch.nn.functional as F


        was_training = self.model.training
        self.model.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        preds, labels = [], []
        with torch.inference_mode(), self._autocast():
            for kw, y in prepared:
                logits = self.model(**kw).logits.float()
                total += F.cross_entropy(logits, y, reduction="sum").double()
                preds.append(logits.argmax(-1))
                labels.append(y)
        self.model.train(was_training)
        p = torch.cat(preds).cpu().numpy()
        t = torch.cat(labels).cpu().numpy()
        out = {"loss": float(total.item()) / len(t)}
        out.update(compute_metrics(metric_names, t, p))
        return {m: out[m] for m in metric_names if m in out}


_DATA_CACHE: dict = {}


def _task_data(spec: TrialSpec):
    """The task's data, read once per process (grid trials share it)."""
    key = ("task", spec.task_name, spec.data, str(spec.glue_dir), spec.max_train, spec.max_val)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = load_task(None if spec.data == "synthetic" else spec.task,
                                     spec.data, spec.glue_dir, spec.max_train, spec.max_val)
    return _DATA_CACHE[key]


def _encoded(spec: TrialSpec, td, tokenizer):
    """The splits tokenized once per process, model and maximum length."""
    key = ("enc", spec.task_name, spec.data, str(spec.glue_dir), spec.max_train, spec.max_val,
           spec.model, spec.recipe.max_length)
    if key not in _DATA_CACHE:
        for k in [k for k in _DATA_CACHE if k[0] == "enc"]:
            del _DATA_CACHE[k]
        ml = spec.recipe.max_length
        _DATA_CACHE[key] = (encode(td.train, tokenizer, ml), encode(td.dev, tokenizer, ml))
    return _DATA_CACHE[key]


def _record(task: str, spec, train_loss, evals, metrics) -> TrialRecord:
    """The trial as a :class:`~seedstats.data.TrialRecord` (for the raw-log writer)."""
    by_phase = {e["phase"]: e for e in evals if e["phase"] != "during"}
    during = [e for e in evals if e["phase"] == "during"]
    steps = np.array([int(e["step"]) for e in during], dtype=np.int64)

    def end(phase, m):
        e = by_phase.get(phase)
        return float(e["metrics"][m]) if e is not None else None

    curves = {m: Curve(end("before", m), steps,
                       np.array([float(e["metrics"][m]) for e in during], dtype=np.float64),
                       end("after", m)) for m in metrics}
    return TrialRecord(task, spec.wi_seed, spec.do_seed, None, curves,
                       np.asarray(train_loss, dtype=np.float64), complete=True,
                       n_steps=len(train_loss))


def _setup(spec: TrialSpec, torch):
    """Device, precision, data, model and trainer of a trial (data errors surface first)."""
    recipe = spec.recipe
    device = resolve_device(spec.device)
    if spec.threads:
        torch.set_num_threads(int(spec.threads))
    if spec.precision == "auto":
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    else:
        bf16 = spec.precision == "bf16"
    td = _task_data(spec)  # data errors surface before a large model is loaded
    model, tok = load_model(spec.model, num_labels=2, dropout=recipe.dropout,
                            body_seed=spec.body_seed, device=device)
    init_head(model, spec.wi_seed, recipe.head_std)
    enc_train, enc_dev = _encoded(spec, td, tok)
    n_steps = math.ceil(len(enc_train) / recipe.batch_size) * recipe.epochs
    pad_id = getattr(tok, "pad_token_id", None) or 0
    trainer = Trainer(model, recipe, n_steps, device, bf16=bf16, pad_id=pad_id)
    return device, bf16, td, trainer, enc_train, enc_dev


def _run_config(spec, td, trainer, device, bf16, n_train, n_val, ebs, torch) -> dict:
    """The recipe and run settings recorded under ``config`` in the log header."""
    recipe = spec.recipe
    config = {
        "recipe": recipe.to_dict(), "model": spec.model, "data": td.source,
        "n_train": n_train, "n_val": n_val, "dropout_seed": spec.dropout_seed_value,
        "dropout_seed_rule": str(spec.dropout_seed), "body_seed": spec.body_seed,
        "device": device.type, "precision": "bf16" if bf16 else "fp32",
        "eval_batch_size": ebs, "fused_optimizer": trainer.opt.fused,
        "pad_multiple": trainer.pad_multiple,
        "head_init": f"numpy.random.default_rng(wi_seed).normal(0, {recipe.head_std})",
        "data_order": "numpy.random.default_rng(SeedSequence([do_seed, epoch])).permutation",
    }
    if device.type == "cuda":
        config["device_name"] = torch.cuda.get_device_name(device)
    return config


def run_trial(spec: TrialSpec, *, on_step=None, on_eval=None) -> TrialResult:
    """Fine-tune one (WI, DO) trial and stream its log.

    Parameters
    ----------
    spec : TrialSpec
    on_step : callable, optional
        Called as ``on_step(step)`` after every optimizer update (progress, tests).
    on_eval : callable, optional
        Called as ``on_eval(record)`` after every evaluation with the logged record.

    Returns
    -------
    TrialResult

    Raises
    ------
    SeedstatsError
        torch/transformers missing, unknown model, missing data (one-line messages).

    Notes
    -----
    The log (``log_path(spec)``) holds a header (task, seeds, metric, baseline, steps
    per epoch, epochs, steps, the recipe and run settings under ``config``, library
    versions), the training loss of every update, every evaluation (all task metrics
    and the validation loss, with step and epoch) and an end record with status
    ``"ok"``. If the trial raises, an end record with status ``"error"`` is written
    (the trial ingests as incomplete, flagged ``status_error``) and the exception is
    re-raised; a killed process leaves no end record (incomplete). Nothing in the log
    depends on the wall clock: the same trial on a CPU gives the same file (on a GPU,
    non-deterministic kernels can change the last bits of later values).
    """
    torch, _ = require_torch()
    t0 = time.perf_counter()
    recipe = spec.recipe
    device, bf16, td, trainer, enc_train, enc_dev = _setup(spec, torch)
    n_train = len(enc_train)
    spe = math.ceil(n_train / recipe.batch_size)
    n_steps = spe * recipe.epochs
    sched = set(eval_steps(spe, recipe.epochs, recipe.evals_per_epoch, td.name,
                           recipe.schedule))
    ebs = spec.eval_batch_size or (256 if device.type == "cuda" else 64)
    prepared = trainer.prepare_eval(enc_dev, ebs)
    metrics = list(td.metrics)
    config = _run_config(spec, td, trainer, device, bf16, n_train, len(enc_dev), ebs, torch)
    path = log_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tid = trial_id(td.name, spec.wi_seed, spec.do_seed)
    evals: list[dict] = []
    losses: list[float] = []
    batches: list[np.ndarray] = []
    pending: list = []  # loss tensors not yet written (one device sync per evaluation)
    state = {"step": 0, "first_pending": 0, "ended": False}

    writer = LogWriter(path, task=td.name, wi_seed=spec.wi_seed, do_seed=spec.do_seed,
                       seed=None, metric=td.metric, metrics=metrics, baseline=td.baseline,
                       steps_per_epoch=spe, n_epochs=recipe.epochs, n_steps=n_steps,
                       config=config, versions=versions())

    def flush_losses():
        if pending:
            vals = torch.stack(pending).float().cpu().tolist()
            for k, v in enumerate(vals):
                writer.train(state["first_pending"] + k, v)
            losses.extend(vals)
            pending.clear()

    def record(phase, at, epoch, vals):
        writer.eval(phase, at, epoch, vals)
        rec = {"phase": phase, "step": at, "epoch": epoch, "metrics": vals}
        evals.append(rec)
        if on_eval is not None:
            on_eval(rec)

    cuda_devs = ([device.index if device.index is not None else torch.cuda.current_device()]
                 if device.type == "cuda" else [])
    t_train = 0.0
    try:
        record("before", -1, 0.0, trainer.evaluate(prepared, metrics))
        last_eval = None
        t1 = time.perf_counter()
        with torch.random.fork_rng(devices=cuda_devs):
            torch.manual_seed(spec.dropout_seed_value)
            trainer.model.train()
            for epoch in range(recipe.epochs):
                for idx in epoch_batches(spec.do_seed, epoch, n_train, recipe.batch_size):
                    step = state["step"]
                    if not pending:
                        state["first_pending"] = step
                    pending.append(trainer.train_step(step, enc_train, idx))
                    batches.append(idx)
                    state["step"] = step + 1
                    if on_step is not None:
                        on_step(step)
                    if step in sched:
                        flush_losses()
                        last_eval = trainer.evaluate(prepared, metrics)
                        record("during", step, (step + 1) / spe, last_eval)
                    else:
                        last_eval = None
            flush_losses()
            after = last_eval if last_eval is not None else trainer.evaluate(prepared, metrics)
        t_train = time.perf_counter() - t1
        record("after", n_steps - 1, n_steps / spe, after)
        writer.end("ok", n_steps)
        state["ended"] = True
    except Exception:
        # record what was done and that it failed; a killed process leaves no end record
        try:
            flush_losses()
            if not state["ended"]:
                writer.end("error", state["step"])
        except Exception:  # noqa: BLE001 (the original error is the one to report)
            pass
        raise
    finally:
        writer.close()

    raw = None
    if "rawlog" in spec.formats:
        raw = rawlog_path(spec)
        raw.parent.mkdir(parents=True, exist_ok=True)
        text = format_rawlog(_record(td.name, spec, losses, evals, metrics), batches=batches)
        with writing_file(raw) as tmp:
            tmp.write_text(text, encoding="utf-8")
    seconds = time.perf_counter() - t0
    return TrialResult(tid, path, raw, n_steps, evals, np.asarray(losses, dtype=np.float64),
                       batches, seconds, t_train,
                       n_train * recipe.epochs / t_train if t_train > 0 else 0.0)

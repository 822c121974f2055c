"""AdamW with or without Adam's bias correction, on torch's fast implementations.

The paper's regime uses the original BERT optimizer: AdamW whose update is
``lr * m / (sqrt(v) + eps)`` with the raw moving averages ``m`` and ``v`` (no bias
correction), plus decoupled weight decay ``lr * wd * p``. The follow-up study's stable
recipe turns the bias correction on (Mosbach et al., 2021). ``torch.optim.AdamW``
always corrects the bias; since its per-group ``lr``, ``eps`` and ``weight_decay``
are read at every step, the uncorrected update of step ``t`` is obtained exactly
(up to rounding) by giving it, for that step,

    lr'  = lr_t * (1 - b1^t) / sqrt(1 - b2^t)
    eps' = eps / sqrt(1 - b2^t)
    wd'  = wd * sqrt(1 - b2^t) / (1 - b1^t)      (so that lr' * wd' = lr_t * wd)

which keeps torch's fused (CUDA) and multi-tensor kernels. The tests compare it with a
plain reimplementation of the BERT optimizer.

torch is imported inside the functions (the ``finetune`` extra).
"""

from __future__ import annotations

import math

from seedstats.finetune.recipes import Recipe, lr_factor

__all__ = ["param_groups", "ScheduledAdamW"]


def param_groups(model, weight_decay: float) -> list[dict]:
    """Two parameter groups: with weight decay, and without (biases, LayerNorm weights).

    The BERT recipe's rule: no decay for any bias and for every parameter of a
    normalization layer (``LayerNorm``).
    """
    import torch

    no_decay_ids = set()
    for mod in model.modules():
        is_norm = isinstance(mod, torch.nn.LayerNorm) or "LayerNorm" in type(mod).__name__
        for pname, p in mod.named_parameters(recurse=False):
            if is_norm or pname == "bias":
                no_decay_ids.add(id(p))
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if id(p) in no_decay_ids else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


class ScheduledAdamW:
    """AdamW with the recipe's learning-rate schedule and optional bias correction.

    Parameters
    ----------
    model : torch.nn.Module
    recipe : Recipe
        ``lr``, ``adam_betas``, ``adam_eps``, ``weight_decay``, ``correct_bias``,
        ``warmup``.
    n_steps : int
        Total optimizer updates (for the schedule).
    fused : bool, optional
        torch's fused kernel (default: on CUDA).

    Call :meth:`step` once per update with the update's 0-based index.
    """

    def __init__(self, model, recipe: Recipe, n_steps: int, fused: bool | None = None):
        import torch

        self.recipe = recipe
        self.n_steps = int(n_steps)
        groups = param_groups(model, recipe.weight_decay)
        for g in groups:
            g["base_wd"] = g["weight_decay"]
        dev = next(model.parameters()).device
        if fused is None:
            fused = dev.type == "cuda"
        kw = {"fused": True} if fused else {"foreach": dev.type == "cuda"}
        self.opt = torch.optim.AdamW(groups, lr=recipe.lr, betas=tuple(recipe.adam_betas),
                                     eps=recipe.adam_eps, weight_decay=recipe.weight_decay,
                                     **kw)
        self.fused = bool(fused)
        self._t = 0

    def lr_at(self, step: int) -> float:
        """Learning rate of update ``step``."""
        return self.recipe.lr * lr_factor(step, self.n_steps, self.recipe.warmup)

    def step(self, step: int) -> None:
        """Apply update number ``step`` (0-based) with its scheduled learning rate."""
        self._t += 1
        t = self._t
        lr = self.lr_at(step)
        b1, b2 = self.recipe.adam_betas
        if self.recipe.correct_bias:
            lr_, eps_, wd_scale = lr, self.recipe.adam_eps, 1.0
        else:
            bc1, bc2 = 1.0 - b1 ** t, math.sqrt(1.0 - b2 ** t)
            lr_ = lr * bc1 / bc2
            eps_ = self.recipe.adam_eps / bc2
            wd_scale = bc2 / bc1
        for g in self.opt.param_groups:
            g["lr"] = lr_
            g["eps"] = eps_
            g["weight_decay"] = g["base_wd"] * wd_scale
        self.opt.step()

    def zero_grad(self) -> None:
        self.opt.zero_grad(set_to_none=True)

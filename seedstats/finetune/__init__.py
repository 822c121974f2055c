"""Fine-tuning: regenerate raw logs for any WI x DO seed grid (optional extra).

Reruns the experiment of Dodge et al. (2020) -- BERT fine-tuned on GLUE tasks with
separate weight-initialization (WI) and data-order (DO) seeds -- or a seed sweep of your
own, and writes logs that ``seedstats ingest`` reads (seedstats' JSON Lines format,
optionally the authors' raw text layout).

Needs the ``finetune`` extra (``pip install 'seedstats[finetune]'``: torch,
transformers); ``seedstats[cluster]`` adds Ray. torch is imported lazily, only when a
trial runs: importing this package or any of its modules does not import it.

Modules: :mod:`~seedstats.finetune.recipes` (the paper's and the stable regime),
:mod:`~seedstats.finetune.data` (GLUE TSV reader, synthetic task, data order),
:mod:`~seedstats.finetune.model` (models, the WI head initialization),
:mod:`~seedstats.finetune.optim` (AdamW with or without bias correction),
:mod:`~seedstats.finetune.metrics`, :mod:`~seedstats.finetune.train` (one trial),
:mod:`~seedstats.finetune.grid` (launchers, resume), :mod:`~seedstats.cli.finetune`.
"""

from __future__ import annotations

import importlib

_API = {
    "Recipe": "seedstats.finetune.recipes",
    "RECIPES": "seedstats.finetune.recipes",
    "get_recipe": "seedstats.finetune.recipes",
    "TrialSpec": "seedstats.finetune.train",
    "TrialResult": "seedstats.finetune.train",
    "run_trial": "seedstats.finetune.train",
    "run_grid": "seedstats.finetune.grid",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seedstats.finetune' has no attribute {name!r}")


def __dir__():
    return __all__

"""seedstats: how much of a fine-tuning result is the random seed?

Reproduces and extends Dodge et al. (2020), "Fine-Tuning Pretrained Language Models:
Weight Initializations, Data Orders, and Early Stopping".

The public API is imported lazily, so ``import seedstats`` stays fast and changes
nothing global (no plotting style, no random state).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    "load": "seedstats.data",
    "Dataset": "seedstats.data",
    "ingest": "seedstats.data",
    "merge": "seedstats.data",
    "TASKS": "seedstats.data",
    "expected_max": "seedstats.stats",
    "expected_max_curve": "seedstats.stats",
    "expected_best": "seedstats.stats",
    "compare": "seedstats.stats",
    "plan": "seedstats.stats",
    "report": "seedstats.figures.report",
    "budget_search": "seedstats.earlystop",
}

__all__ = sorted([*_API, "__version__"])


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seedstats' has no attribute {name!r}")


def __dir__():
    return __all__

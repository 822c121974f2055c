"""Shared test set-up: a headless matplotlib backend and small datasets."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

from seedstats.data.records import Curve, TrialRecord, build_tables


def make_records(tasks=("mrpc", "rte"), n=3, seed=0):
    """A small WI x DO grid per task with short curves, built by hand."""
    rng = np.random.default_rng(seed)
    recs = []
    for task in tasks:
        for wi in range(1, n + 1):
            before = round(float(rng.uniform(0.3, 0.6)), 4)
            for do in range(1, n + 1):
                steps = np.array([0, 10, 20])
                vals = np.round(rng.uniform(0.5, 0.9, 3), 4)
                curves = {
                    "loss": Curve(0.7, steps, np.round(rng.uniform(0.3, 0.7, 3), 4), 0.35),
                    "acc": Curve(before, steps, vals, float(vals[-1])),
                }
                recs.append(TrialRecord(task, wi, do, None, curves,
                                        np.round(rng.uniform(0.1, 0.7, 30), 4),
                                        metric="acc", source=f"{task}/{wi}/{do}"))
    return recs


@pytest.fixture
def small_tables():
    return build_tables(make_records())

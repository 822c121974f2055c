"""Benchmark ``seedstats compare`` and ``seedstats plan`` against their targets (issue 16).

Targets: compare of 2 systems x 4 tasks x 25 seeds with 10,000 bootstrap resamples and ASO in
under 1 s; ASO at least 50x faster than deep-significance's ``aso`` on the same input (measured
in the same run; when ``deepsig`` is not installed, against a straightforward loop
implementation of the same definition); ``plan`` by simulation with 10,000 replicates in under
5 s. Every timing is the median of ``--repeat`` runs (``time.perf_counter``).

Run from the repository root::

    python benchmarks/bench_compare.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from seedstats.data.dataset import Dataset
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.stats.compare import compare
from seedstats.stats.plan import plan
from seedstats.stats.significance import aso

__all__ = ["loop_aso", "main", "two_systems"]


def two_systems(n_seeds=25, seed=0) -> Dataset:
    """2 systems x 4 paper tasks x ``n_seeds`` single-seed trials with a 10-point curve each."""
    rng = np.random.default_rng(seed)
    recs = []
    for task, mu in (("mrpc", 0.83), ("rte", 0.65), ("cola", 0.58), ("sst", 0.94)):
        for system, shift in (("base", 0.0), ("new", 0.01)):
            for s in range(n_seeds):
                v = np.clip(mu + shift + rng.normal(0, 0.03, 10).cumsum() / 5, 0, 1)
                recs.append(TrialRecord(task=task, seed=s, system=system, source=f"{system}{s}",
                                        curves={"acc": Curve(steps=np.arange(10), values=v,
                                                             after=v[-1])},
                                        metric="acc", train_loss=np.zeros(10)))
    return Dataset(*build_tables(recs), {})


def loop_aso(a, b, n_boot=1000, dt=0.005, seed=0):
    """ASO by its definition with Python loops over the integration grid and the bootstrap
    (the shape of the reference implementations), for when deepsig is not installed."""
    rng = np.random.default_rng(seed)

    def ratio(x, y):
        xs, ys = sorted(x), sorted(y)
        num = den = 0.0
        t = dt
        while t < 1:
            qa = xs[min(int(np.ceil(len(xs) * t)) - 1, len(xs) - 1)]
            qb = ys[min(int(np.ceil(len(ys) * t)) - 1, len(ys) - 1)]
            d2 = (qa - qb) ** 2 * dt
            den += d2
            num += d2 if qb < qa else 0.0
            t += dt
        return num / den if den else 0.5

    eps = ratio(a, b)
    boots = [ratio(rng.choice(a, len(a)), rng.choice(b, len(b))) for _ in range(n_boot)]
    c = np.sqrt(len(a) * len(b) / (len(a) + len(b)))
    return eps + np.std(c * (np.array(boots) - eps)) / c * 1.6448536269514722


def _median(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    ds = two_systems()
    compare(ds, n_boot=200)  # warm the imports (statsmodels, scipy)
    t_cmp = _median(lambda: compare(ds, n_boot=10_000), args.repeat)
    print(f"compare, 2 systems x 4 tasks x 25 seeds, 10,000 resamples + ASO: median "
          f"{t_cmp:.3f} s (target < 1 s)")

    rng = np.random.default_rng(1)
    a, b = rng.normal(0.80, 0.03, 25), rng.normal(0.81, 0.03, 25)
    t_ours = _median(lambda: aso(a, b, n_boot=1000), args.repeat)
    try:
        import deepsig

        def theirs():
            deepsig.aso(b, a, num_bootstrap_iterations=1000, seed=0, show_progress=False)

        name, reps = f"deepsig {deepsig.__version__} aso", max(1, args.repeat // 2)
    except ImportError:
        def theirs():
            loop_aso(a, b)

        name, reps = "loop implementation of ASO", max(1, args.repeat // 2)
    t_theirs = _median(theirs, reps)
    print(f"ASO, 25 vs 25 seeds, 1,000 bootstrap iterations: seedstats {t_ours * 1e3:.1f} ms, "
          f"{name} {t_theirs * 1e3:.0f} ms: {t_theirs / t_ours:.0f}x faster (target >= 50x)")

    from seedstats.data import load

    real = load("dodge2020").select(task="mrpc")
    t_plan = _median(lambda: plan(real, effect=0.02, n_sim=10_000), args.repeat)
    print(f"plan, MRPC pilot of 625, effect 0.02, 10,000 replicates per n: median "
          f"{t_plan:.3f} s (target < 5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark ``seedstats tables`` on the replica.

Target: all tables, including the 10,000-permutation tests for every task (Table 4: WI and DO
of four tasks; the cross-task global-seed test), in at most 10 s on the replica; memory at most
1 GB. Every timing is the median of several runs (``time.perf_counter``) in one process; the
dataset is loaded once, before timing (its load time is printed apart).

Baseline, measured in the same run: ``loop permutation test``, the obvious implementation of
the same within-level permutation test (per permutation, a Python loop over the other factor's
levels, each shuffled with ``Generator.permutation``, then the seed means), for the same eight
(task, factor) tests. It is timed at 1,000 permutations and scaled x10 to 10,000 (the cost is
linear in permutations; labelled "extrapolated"); ``--full-baseline`` times it at 10,000.

Memory: peak traced allocations during one ``compute_tables`` (``tracemalloc``, which NumPy
reports to) and the process's peak resident set size (includes the loaded dataset).

Run from the repository root::

    /work/venv/bin/python benchmarks/bench_tables.py [--repeat 5] [--full-baseline]
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc

import numpy as np

__all__ = ["loop_permutation_test", "main"]


def loop_permutation_test(Y, n_perm, rng):
    """Within-column permutation p-value of the variance of row means, one loop per column."""
    I, J = Y.shape
    obs = Y.mean(axis=1).var()
    count = 0
    for _ in range(n_perm):
        P = np.empty_like(Y)
        for j in range(J):
            P[:, j] = Y[rng.permutation(I), j]
        count += P.mean(axis=1).var() >= obs - 1e-9 * obs
    return (1 + count) / (1 + n_perm)


def _median_time(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--full-baseline", action="store_true")
    ap.add_argument("--n-perm", type=int, default=10_000)
    args = ap.parse_args(argv)

    import seedstats
    from seedstats.data.dataset import score_grid
    from seedstats.figures.tables import write_tables
    from seedstats.stats.seeds import seed_permutation_test
    from seedstats.stats.tables import compute_tables

    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, {platform.processor() or '?'}")
    t0 = time.perf_counter()
    ds = seedstats.load()
    ds.trials, ds.evals  # noqa: B018 (loaded eagerly)
    print(f"load replica: {time.perf_counter() - t0:.2f} s ({len(ds.trials)} trials, "
          f"{len(ds.evals)} evaluations; synthetic={ds.synthetic})")
    compute_tables(ds, n_perm=100)  # warm-up: imports (scipy.stats, ...) out of the timings

    n = args.n_perm
    med, times, (tables, _) = _median_time(lambda: compute_tables(ds, n_perm=n), args.repeat)
    print(f"compute_tables (all tables, {n} permutations per test): median {med:.2f} s "
          f"over {args.repeat} runs [{', '.join(f'{t:.2f}' for t in times)}]  "
          f"(target <= 10 s: {'OK' if med <= 10 else 'MISSED'})")
    with tempfile.TemporaryDirectory() as tmp:
        w_med, _, _ = _median_time(lambda: write_tables(ds, tmp, n_perm=n), 3)
    print(f"write_tables (compute + CSV + Markdown): median {w_med:.2f} s over 3 runs")

    grids = {t: score_grid(ds.trials, t).to_numpy(float) for t in ds.tasks}

    def vectorized():
        gen = np.random.default_rng(0)
        for Y in grids.values():
            for f in ("wi", "do"):
                seed_permutation_test(Y, f, n_perm=n, rng=gen)

    v_med, _, _ = _median_time(vectorized, args.repeat)
    base_perm = n if args.full_baseline else max(1, n // 10)

    def baseline():
        gen = np.random.default_rng(0)
        for Y in grids.values():
            for M in (Y, Y.T):
                loop_permutation_test(M, base_perm, gen)

    b_med, _, _ = _median_time(baseline, 1 if args.full_baseline else 3)
    scale = n / base_perm
    label = "measured" if scale == 1 else f"extrapolated x{scale:g} from {base_perm}"
    print(f"permutation tests, {2 * len(grids)} (task, factor) x {n} permutations: "
          f"vectorized median {v_med:.3f} s; loop baseline {b_med * scale:.2f} s ({label}); "
          f"ratio {b_med * scale / v_med:.0f}x")

    tracemalloc.start()
    compute_tables(ds, n_perm=n)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / 1024 if sys.platform != "darwin" else rss / 2**20
    print(f"memory: peak traced during compute_tables {peak / 2**20:.0f} MiB; process peak RSS "
          f"{rss_mb:.0f} MiB (includes the loaded dataset; target <= 1024 MiB: "
          f"{'OK' if rss_mb <= 1024 else 'MISSED'})")
    t4 = tables["table4"]
    print("table4 p_perm_var:", ", ".join(f"{r.task}/{r.factor} {r.p_perm_var:.4g}"
                                            for r in t4.itertuples()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

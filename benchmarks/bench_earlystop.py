"""Benchmark of the early-stopping simulator against a per-sample Python loop.

What it measures, all in this one run, on the embedded replica (4 tasks x 4,408 assignments):

1. Monte Carlo, the whole grid at ``--samples`` (default 50,000) per assignment: median wall
   time over ``--repeats`` runs, the four tasks together (rank draws shared, as the CLI does)
   with ``n_jobs=1`` and ``n_jobs=2``, and one task at a time; peak traced memory.
2. Exact mode, the whole grid: median wall time; peak traced memory.
3. The baseline: a straightforward per-sample loop of the same rule (draw t trials, rank them,
   continue the top p, take the best), timed on a random subset of MRPC assignments at
   ``--loop-samples`` samples each. Reported two ways:
   a. at equal samples on that subset: loop time / fast Monte Carlo time on the same
      assignments and the same number of samples;
   b. for the whole grid: the loop's measured time per assignment-sample times the grid's
      assignment-samples, divided by the measured Monte Carlo time of 1.

Run::

    /work/venv/bin/python benchmarks/bench_earlystop.py            # full (a few minutes)
    /work/venv/bin/python benchmarks/bench_earlystop.py --quick    # fewer repeats/samples

Nothing is cached (``cache=False``). The machine's load average is printed: on a shared machine
the numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

import numpy as np


def loop_rule(curves, t, p, k, samples, rng):
    """The per-sample loop: the rule as one would write it first (the authors' approach)."""
    partial = curves[:, :k].max(axis=1)
    final = curves.max(axis=1)
    n = len(curves)
    out = np.empty(samples)
    for i in range(samples):
        idx = rng.integers(0, n, t)
        if p == 0:
            out[i] = partial[idx].max()
            continue
        order = np.lexsort((idx, -partial[idx]))  # partial score desc, then row: the tie rule
        out[i] = final[idx[order[:p]]].max()
    return out.mean()


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def peak_mem(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2 ** 20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loop-assignments", type=int, default=20)
    ap.add_argument("--loop-samples", type=int, default=5_000)
    ap.add_argument("--quick", action="store_true", help="1 repeat, 10,000 samples")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.samples, args.loop_samples = 1, 10_000, 1_000

    import seedstats
    from seedstats.earlystop import (
        as_curves,
        expected_best_exact,
        expected_best_mc,
        expected_best_mc_tasks,
    )
    from seedstats.earlystop.grid import feasible_assignments

    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()}")
    ds = seedstats.load()
    tasks = [t for t in ("mrpc", "rte", "cola", "sst") if t in ds.tasks]
    curves = {t: as_curves(ds, t) for t in tasks}
    grid = feasible_assignments()
    n_total = len(grid) * len(tasks)
    print(f"tasks {tasks}, {len(grid)} assignments per task, {n_total} in all")

    # 1. Monte Carlo, whole grid: the four tasks together (draws shared, what the CLI does)
    #    and one task at a time (what budget_search per task does)
    mc = {}
    for n_jobs in (1, 2):
        def run_mc(n_jobs=n_jobs):
            expected_best_mc_tasks([curves[t] for t in tasks], [grid] * len(tasks),
                                   samples=args.samples, rng=0, n_jobs=n_jobs)
        med, times = timed(run_mc, args.repeats)
        mc[n_jobs] = med
        print(f"MC {args.samples} samples, whole grid, tasks together, n_jobs={n_jobs}: median "
              f"{med:.2f} s (runs {', '.join(f'{x:.2f}' for x in times)}; target <= 30 s)")

    def run_mc_sep():
        for t in tasks:
            expected_best_mc(curves[t], grid, samples=args.samples, rng=0, n_jobs=1)
    med, times = timed(run_mc_sep, args.repeats)
    print(f"MC {args.samples} samples, whole grid, one task at a time, n_jobs=1: median "
          f"{med:.2f} s (runs {', '.join(f'{x:.2f}' for x in times)})")
    mem = peak_mem(lambda: expected_best_mc(curves[tasks[0]], grid, samples=args.samples,
                                            rng=0, n_jobs=1))
    print(f"MC peak traced memory, one task: {mem:.0f} MiB (target <= 2048 MiB)")

    # 2. exact, whole grid
    def run_exact():
        for t in tasks:
            expected_best_exact(curves[t], grid)
    med, times = timed(run_exact, args.repeats)
    print(f"exact, whole grid: median {med:.2f} s (runs {', '.join(f'{x:.2f}' for x in times)}"
          f"; target <= 60 s)")
    mem = peak_mem(lambda: expected_best_exact(curves[tasks[0]], grid))
    print(f"exact peak traced memory, one task: {mem:.0f} MiB")

    # 3. the per-sample loop on a subset of MRPC assignments
    rng = np.random.default_rng(0)
    sub = grid.iloc[np.sort(rng.choice(len(grid), args.loop_assignments, replace=False))]
    vals = curves[tasks[0]].values
    lrng = np.random.default_rng(1)

    def run_loop():
        for t, p, k in sub[["t", "p", "k"]].itertuples(index=False):
            loop_rule(vals, int(t), int(p), int(k), args.loop_samples, lrng)
    loop_med, loop_times = timed(run_loop, args.repeats)

    def run_fast_subset():
        expected_best_mc(curves[tasks[0]], sub, samples=args.loop_samples, rng=0, n_jobs=1)
    fast_med, _ = timed(run_fast_subset, max(args.repeats, 5))
    per_sample = loop_med / (len(sub) * args.loop_samples)
    print(f"loop on {len(sub)} MRPC assignments x {args.loop_samples} samples: median "
          f"{loop_med:.2f} s ({per_sample * 1e6:.1f} us per assignment-sample)")
    print(f"fast MC on the same assignments and samples: median {fast_med:.4f} s -> "
          f"speed-up at equal samples {loop_med / fast_med:.0f}x")
    est_loop = per_sample * n_total * args.samples
    print(f"loop extrapolated to the whole grid at {args.samples} samples: {est_loop / 60:.0f} "
          f"min; MC n_jobs=1 measured {mc[1]:.2f} s -> speed-up {est_loop / mc[1]:.0f}x "
          f"(n_jobs=2: {est_loop / mc[2]:.0f}x; target >= 600x)")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()

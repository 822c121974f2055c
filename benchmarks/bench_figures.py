"""Benchmark: ``seedstats figures --all`` on the embedded replica, cold and warm cache.

Targets: with the early-stopping cache cold, at most 10 s on 2 cores; warm, at most
8 s; peak memory at most 2 GB. The baseline of the ratio is the same cold run drawn in one
process (``--jobs 1``), measured in the same invocation.

Each run is the command line in a fresh Python process (``python -m seedstats figures --all
--out TMP``), so imports, loading the replica, the statistics, the early-stopping search,
drawing, saving and the tables are all counted. The runs use a private cache root
(``SEEDSTATS_CACHE``) in which the replica is materialized once before timing (an untimed
``seedstats info``: building the replica is a one-time cost of the first use, not of the
figures). "Cold" runs start with the early-stopping cache (``<root>/earlystop``) removed;
"warm" runs reuse what the last cold run stored. The package is copied to a temporary directory
first (and byte-compiled, as pip installs it) and run from there, so edits made to the checkout
while the benchmark runs cannot change the code (or the cache keys, which hash the code)
between runs. The baseline named in the ratio
is the cold run, measured in the same invocation. Peak memory is the maximum resident set size
of the child processes (``getrusage(RUSAGE_CHILDREN)``).

Usage::

    python benchmarks/bench_figures.py            # 3 cold and 3 warm runs
    python benchmarks/bench_figures.py --repeat 1 # quicker
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLD_LIMIT_S, WARM_LIMIT_S, MEMORY_LIMIT_GB = 10.0, 8.0, 2.0


def run(args, cache: Path, code: Path) -> float:
    env = dict(os.environ, SEEDSTATS_CACHE=str(cache), MPLBACKEND="Agg",
               PYTHONPATH=str(code))
    cmd = [sys.executable, "-m", "seedstats", *args]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=code)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"seedstats {' '.join(args)} failed (exit {res.returncode}):\n"
                 f"{res.stdout}\n{res.stderr}")
    return elapsed


def peak_child_rss_gb() -> float:
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return kb / 1024 ** 2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each kind (default 3)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as tmp:
        tmp = Path(tmp)
        code, cache = tmp / "code", tmp / "cache"
        shutil.copytree(Path(__file__).resolve().parents[1] / "seedstats", code / "seedstats",
                        ignore=shutil.ignore_patterns("__pycache__"))
        compileall.compile_dir(code, quiet=1)  # as an installed package is (untimed)
        run(["info"], cache, code)  # materialize the replica (untimed)
        cold, warm, serial = [], [], []
        for i in range(args.repeat):
            shutil.rmtree(cache / "earlystop", ignore_errors=True)
            cold.append(run(["figures", "--all", "--out", str(tmp / f"cold-{i}")], cache, code))
            print(f"cold run {i + 1}: {cold[-1]:.1f} s", flush=True)
            shutil.rmtree(cache / "earlystop", ignore_errors=True)
            serial.append(run(["figures", "--all", "--jobs", "1", "--out",
                               str(tmp / f"serial-{i}")], cache, code))
            print(f"cold run {i + 1}, one process: {serial[-1]:.1f} s", flush=True)
        for i in range(args.repeat):
            warm.append(run(["figures", "--all", "--out", str(tmp / f"warm-{i}")], cache, code))
            print(f"warm run {i + 1}: {warm[-1]:.1f} s", flush=True)
        files = sorted(p.name for p in (tmp / "warm-0").iterdir())
    peak = peak_child_rss_gb()
    c, w, s1 = (statistics.median(x) for x in (cold, warm, serial))
    print()
    print(f"seedstats figures --all on the replica ({len(files)} files, {os.cpu_count()} CPUs)")
    print(f"  cold cache: median {c:6.1f} s of {len(cold)} (limit {COLD_LIMIT_S:.0f} s)  "
          f"{'ok' if c <= COLD_LIMIT_S else 'OVER'}")
    print(f"  warm cache: median {w:6.1f} s of {len(warm)} (limit {WARM_LIMIT_S:.0f} s)  "
          f"{'ok' if w <= WARM_LIMIT_S else 'OVER'}")
    print(f"  cold, one process (--jobs 1): median {s1:6.1f} s; speed-up of the default "
          f"{s1 / c:.2f}x")
    print(f"  warm / cold (baseline: cold cache, same run): {w / c:.2f}")
    print(f"  peak memory of a run: {peak:.2f} GB (limit {MEMORY_LIMIT_GB:.0f} GB)  "
          f"{'ok' if peak <= MEMORY_LIMIT_GB else 'OVER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

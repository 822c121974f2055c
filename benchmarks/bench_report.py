"""Benchmark ``seedstats report`` (issue 17): whole ``seedstats report`` processes.

Targets: the report of the embedded replica in under 15 s with a cold cache (a fresh
``SEEDSTATS_CACHE`` in which the replica is materialized, untimed, before each run, so that the
early-stopping search is computed), and of a 2-system, 4-task, 25-seed sweep in under 5 s.
The baseline of the ratio, measured in the same run, is the warm replica report (everything
cached). Every figure is the median of ``--repeat`` runs.

Run from the repository root::

    python benchmarks/bench_report.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]


def _run(args, cache):
    env = dict(os.environ, SEEDSTATS_CACHE=str(cache), MPLBACKEND="Agg")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "seedstats", *args], check=True, env=env,
                   capture_output=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_compare import two_systems

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        two_systems().save(tmp / "sweep")
        cold, warm, sweep = [], [], []
        for i in range(args.repeat):
            cache = tmp / f"cache{i}"
            _run(["info"], cache)  # materialize the replica (untimed)
            cold.append(_run(["report", "--out", str(tmp / f"r{i}.html")], cache))
            warm.append(_run(["report", "--out", str(tmp / f"w{i}.html")], cache))
            sweep.append(_run(["report", "--data", str(tmp / "sweep"), "--out",
                               str(tmp / f"s{i}.html")], cache))
    c, w, s = (statistics.median(x) for x in (cold, warm, sweep))
    print(f"report, replica, cold cache: median {c:.1f} s of {len(cold)} (target < 15 s)")
    print(f"report, replica, warm cache: median {w:.1f} s (baseline); cold / warm {c / w:.2f}")
    print(f"report, 2 systems x 4 tasks x 25 seeds: median {s:.1f} s (target < 5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

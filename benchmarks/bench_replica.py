"""Benchmark of the synthetic replica: build time and cached-load time.

Usage::

    python benchmarks/bench_replica.py [--repeat 3] [--rawlog]

Prints, each as the median of ``--repeat`` runs:

* ``build``: :func:`seedstats.data.replica.build_replica` (target: at most 20 s on
  2 cores), against the baseline ``build_tables only`` (assembling the same trial
  records into tables, which the build includes), measured in the same run;
* ``cached load``: ``seedstats.load()`` with the cache warm, against the baseline
  ``first use`` (build and write the cache), measured once in the same run;
* with ``--rawlog``: writing the 2,100 raw logs and ingesting them (target:
  ingest at most 30 s), measured once.

The cache goes to a temporary directory (``SEEDSTATS_CACHE``), never the user's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rawlog", action="store_true", help="also time raw-log write and ingest")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-replica-") as tmp:
        os.environ["SEEDSTATS_CACHE"] = str(Path(tmp) / "cache")
        import seedstats
        from seedstats.data import replica, schema
        from seedstats.data.records import build_tables

        replica.build_replica()  # warm-up (imports, first-touch allocations), not timed
        t_build, ds = _time(replica.build_replica, args.repeat)
        records = []
        for task in schema.TASKS:
            records += replica.trial_records(task, replica.simulate_task(task))
        t_tables, _ = _time(lambda: build_tables(records), args.repeat)
        del records
        print(f"replica build ({len(ds.trials)} trials, {len(ds.train_loss):,} loss steps): "
              f"median of {args.repeat}: {t_build:.2f} s")
        print(f"  baseline 'build_tables only' (same records): {t_tables:.2f} s; "
              f"ratio build / baseline = {t_build / t_tables:.2f}")

        t_first, _ = _time(replica.replica_path, 1)
        t_load, loaded = _time(seedstats.load, max(args.repeat, 5))
        print(f"cached load (seedstats.load(), warm cache): median of {max(args.repeat, 5)}: "
              f"{t_load:.2f} s")
        print(f"  baseline 'first use' (build + write cache), once: {t_first:.2f} s; "
              f"ratio load / baseline = {t_load / t_first:.3f}")

        if args.rawlog:
            from seedstats.data.ingest import ingest

            t_write, path = _time(lambda: replica.write_replica(Path(tmp) / "raw",
                                                                format="rawlog"), 1)
            t_ingest, (back, _) = _time(lambda: ingest(path, format="rawlog"), 1)
            print(f"raw logs: write {len(list(path.iterdir()))} files {t_write:.2f} s; "
                  f"ingest {t_ingest:.2f} s (once each; {len(back.trials)} trials back)")
        del loaded


if __name__ == "__main__":
    main()

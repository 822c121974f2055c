"""Benchmark: ingest time and peak memory grow in proportion to the input (issue 15).

Two inputs at two sizes each, every ingest in a fresh subprocess (so that the peak memory,
``VmHWM``, is its own):

- JSON Lines trial logs (:mod:`seedstats.data.formats.jsonl`): ``--jsonl`` trials (default
  20,000) and a tenth of them, 20 evaluations and 100 loss steps each;
- a long CSV table (:mod:`seedstats.data.formats.longtable`): ``--rows`` rows (default
  10,000,000: 10,000 runs x 500 steps x 2 metrics) and a tenth of them.

Prints, per input, the median time of ``--repeat`` runs and the peak memory at both sizes, and
the ratios large / small: proportional growth gives about 10x (the baseline is the small
input measured in the same run). Issue 15 measured 22 s / 1.2 GB (20,000 JSONL trials) and
58 s / 3.1 GB (10^7 rows) before its changes.

Usage::

    python benchmarks/bench_scale.py [--jsonl 20000] [--rows 10000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from seedstats.data import ingest
src, fmt, opts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t1 = time.perf_counter()
ds, rep = ingest(src, format=fmt, options=opts)
t2 = time.perf_counter()
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"s": t2 - t1, "peak_mb": hwm / 1024, "trials": len(ds.trials),
                  "rows": len(ds.evals) + len(ds.train_loss)}))
"""


def write_jsonl(root: Path, n: int) -> Path:
    from seedstats.data.dataset import Dataset
    from seedstats.data.formats.jsonl import write_jsonl as write
    from seedstats.data.records import Curve, TrialRecord, build_tables

    rng = np.random.default_rng(0)
    recs = []
    for i in range(n):
        steps = np.arange(1, 21) * 5 - 1
        recs.append(TrialRecord(task="rte", wi_seed=1 + i // 200, do_seed=1 + i % 200,
                                curves={"acc": Curve(before=0.5, steps=steps,
                                                     values=rng.uniform(0.4, 0.9, 20),
                                                     after=0.7)},
                                train_loss=rng.uniform(0.1, 0.7, 100), source="bench"))
    ds = Dataset(*build_tables(recs), {"synthetic": True})
    return Path(write(ds, root))


def write_table(root: Path, rows: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    steps = 500
    runs = max(1, rows // (2 * steps))
    f = root / "table.csv"
    rng = np.random.default_rng(0)
    with open(f, "w") as fh:
        fh.write("run,wi,do,step,metric,value\n")
        g = np.arange(1, steps + 1) * 10
        for r in range(runs):
            wi, do = 1 + r // 100, 1 + r % 100
            acc = rng.uniform(0.4, 0.9, steps)
            loss = rng.uniform(0.1, 0.7, steps)
            block = pd.DataFrame({"run": f"r{r}", "wi": wi, "do": do,
                                  "step": np.concatenate([g, g]),
                                  "metric": ["eval_accuracy"] * steps + ["train_loss"] * steps,
                                  "value": np.concatenate([acc, loss])})
            block.to_csv(fh, header=False, index=False, float_format="%.6f")
    return f


def measure(src: Path, fmt: str, opts: dict, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, str(src), fmt, json.dumps(opts)],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"s": statistics.median(r["s"] for r in runs),
            "peak_mb": max(r["peak_mb"] for r in runs), "trials": runs[0]["trials"],
            "rows": runs[0]["rows"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jsonl", type=int, default=20_000, help="JSONL trials (large size)")
    ap.add_argument("--rows", type=int, default=10_000_000, help="long-table rows (large)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    table_opts = {"task": "rte", "mapping": {"wi": "wi", "do": "do"}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, make, size, fmt, opts in (
                ("jsonl trials", write_jsonl, args.jsonl, "jsonl", {}),
                ("long-table rows", write_table, args.rows, "table", table_opts)):
            res = {}
            for label, n in (("small", size // 10), ("large", size)):
                src = make(tmp / f"{fmt}-{n}", n)
                res[label] = measure(src, fmt, opts, args.repeat)
                r = res[label]
                print(f"{name:16s} {n:>10,d}: {r['s']:7.2f} s, peak {r['peak_mb']:7.0f} MB "
                      f"({r['trials']} trials, {r['rows']:,d} rows)")
                sys.stdout.flush()
            print(f"{name:16s} large/small (10x the input): time "
                  f"{res['large']['s'] / res['small']['s']:.1f}x, peak memory "
                  f"{res['large']['peak_mb'] / res['small']['peak_mb']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: ingest of the 2,100 trials of Dodge et al. (2020) at the paper's size.

Generates 2,100 raw logs of the paper's size (Table 2 schedules: mrpc 625 trials x 690
loss steps, rte 625 x 468, cola 625 x 1,605, sst 225 x 12,630; dense-early "during"
evaluations, about 78/107/83/202 per trial and metric; an indices line of one batch of
16 example indices per step, capped at 2,000 batches, i.e. up to ~200 KB per file) and
the same trials as one release pickle, in a temporary directory. Then it measures, each
run in a fresh subprocess (so that peak memory is per measurement):

- ``ingest`` of the raw-log directory (parse + build the tables), and ingest + write of
  the Parquet dataset (what ``seedstats ingest`` does), target <= 30 s;
- the raw-log reader alone against the baseline, a plain line-by-line parse that
  ``ast.literal_eval``\\ s every value list, on the same subset of files (every
  ``--subset``-th file) in the same run -> ratio;
- ``ingest`` of the release pickle, target <= 10 s;
- ``seedstats.load()`` of the written Parquet dataset, target <= 1 s (in a process that
  has imported pandas/pyarrow, and as the first call of a fresh interpreter);
- peak memory (``VmHWM`` of the child process) of each, target <= 2 GB;
- ``python -c "import seedstats"`` against ``python -c "pass"`` (wall time).

Times are medians of ``--runs`` runs (3 by default), taken inside the child after its
imports (numpy, pandas, pyarrow, seedstats), except the rows marked "wall" or
"imports included", which time the whole process or include the imports.

Usage::

    /work/venv/bin/python benchmarks/bench_ingest.py [--runs 3] [--subset 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# extra dense-early "during" points per task: every step < 50, every STRIDE steps below
# 300, plus the regular schedule (paper-facts: ~77 / 107 / 82 / 201 points per trial)
STRIDE = {"mrpc": None, "rte": 9, "cola": 100, "sst": 9}
INDEX_CAP = 2000


def eval_steps(task):
    from seedstats.data.schema import TASKS

    info = TASKS[task]
    steps = set(range(50)) | set(info.schedule)
    if STRIDE[task]:
        steps |= set(range(50, 300, STRIDE[task]))
    return sorted(steps)


def make_task(task, rng):
    import numpy as np

    from seedstats.data.dataset import Dataset
    from seedstats.data.records import Curve, TrialRecord, build_tables
    from seedstats.data.schema import TASKS

    info = TASKS[task]
    steps = np.array(eval_steps(task))
    recs = []
    n = info.grid_size
    for wi in range(1, n + 1):
        before = {m: float(rng.integers(0, info.n_val) / info.n_val) for m in info.metrics}
        for do in range(1, n + 1):
            curves = {}
            for m in info.metrics:
                vals = rng.integers(0, info.n_val, len(steps)) / info.n_val
                curves[m] = Curve(before[m], steps, vals, float(vals[-1]))
            loss = rng.uniform(0.01, 0.9, info.n_steps)
            if (wi * 31 + do) % 97 == 0:  # a few NaNs, as diverged runs can log
                loss[rng.integers(0, info.n_steps)] = np.nan
            recs.append(TrialRecord(task, wi, do, None, curves, loss))
    return Dataset(*build_tables(recs), {"synthetic": True})


def generate(root: Path):
    import numpy as np
    import pandas as pd

    from seedstats.data.dataset import Dataset
    from seedstats.data.formats.rawlog import write_rawlogs
    from seedstats.data.formats.release import write_release
    from seedstats.data.schema import TASKS

    rng = np.random.default_rng(2020)
    raw = root / "raw"
    raw.mkdir()
    parts = []
    for task, info in TASKS.items():
        ds = make_task(task, rng)
        sub = root / f"raw-{task}"
        write_rawlogs(ds, sub, index_batches=min(info.n_steps, INDEX_CAP))
        for f in sub.iterdir():
            f.rename(raw / f.name)
        sub.rmdir()
        parts.append(ds)
    full = Dataset(*(pd.concat([getattr(d, t) for d in parts], ignore_index=True)
                     for t in ("trials", "evals", "train_loss")), {"synthetic": True})
    write_release(full, root / "rel.pkl")
    return full


# --- the baseline: line by line, ast.literal_eval on every value list -----------------------


def baseline_read(files):
    import ast
    import re

    import numpy as np

    from seedstats.data.records import Curve, TrialRecord

    ts = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
    phase_of = {"of initialized model": "before", "throughout training": "during",
                "after training": "after"}
    val_re = re.compile(r"validation (.+) (of initialized model|throughout training|"
                        r"after training):")

    def lit(s):
        s = s.replace("np.float64(", "").replace(")", "").replace("nan", "None")
        return ast.literal_eval(s)

    out = []
    for f in files:
        head, curves, train, pending, cur, skip = {}, {}, None, None, None, False
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if skip:
                    if line.strip():
                        skip = False
                    continue
                line = ts.sub("", line).strip()
                if not line or set(line) == {"="} or line == "final results":
                    continue
                if pending:
                    if pending == "train":
                        train = np.array(lit(line), dtype=float)
                    elif pending == "during":
                        a = np.array(lit(line), dtype=float).reshape(-1, 2)
                        curves[cur].steps, curves[cur].values = a[:, 0].astype(int), a[:, 1]
                    else:
                        setattr(curves[cur], pending, float(line))
                    pending = None
                    continue
                m = val_re.fullmatch(line)
                if m:
                    pending = phase_of[m.group(2)]
                    continue
                key, _, val = line.partition(":")
                if key == "the losses at each train step":
                    pending = "train"
                elif key == "metric":
                    cur = val.strip()
                    curves[cur] = Curve()
                elif key == "indices of examples in batches":
                    skip = True
                else:
                    head[key] = val.strip()
        out.append(TrialRecord(head["task"], int(head["init seed"]),
                               int(head["data order seed"]), None, curves, train,
                               source=str(f)))
    return out


# --- child measurements ----------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss survives exec on Linux
    and would report the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind, root):
    root = Path(root)
    if kind == "load_cold":  # a fresh interpreter's first seedstats.load(), imports included
        t0 = time.perf_counter()
        import seedstats

        ds = seedstats.load(root / "out-raw")
        print(json.dumps({"t": time.perf_counter() - t0, "rss_mb": peak_rss_mb(),
                          "rows": len(ds.train_loss)}))
        return
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from seedstats.data.embedded import load
    from seedstats.data.formats import rawlog
    from seedstats.data.formats.base import IngestOptions
    from seedstats.data.ingest import ingest

    subset = int(os.environ.get("BENCH_SUBSET", "5"))
    t0 = time.perf_counter()
    info = {}
    if kind == "ingest_raw":
        ds, rep = ingest(root / "raw")
        dt = time.perf_counter() - t0
        g = ds.trials.groupby("task", observed=True)["n_evals"]
        info["shape"] = ", ".join(f"{t} {n} x {m:.0f}" for (t, n), m in
                                  zip(g.size().items(), g.mean()))
        info["shape"] += (f"; {len(ds.train_loss):,} loss steps, {len(ds.evals):,} "
                          "evaluations")
        print(json.dumps({"t": dt, "rss_mb": peak_rss_mb(), **info}))
        return
    elif kind == "ingest_raw_save":
        ds, _ = ingest(root / "raw")
        ds.save(root / "out-raw")
    elif kind == "read_subset":
        files = rawlog.log_files(root / "raw")[::subset]
        recs = rawlog.read(root / "raw" if subset == 1 else _subset_dir(root, files),
                           IngestOptions()).records
        info["trials"] = len(recs)
    elif kind == "read_stamped":
        files = rawlog.log_files(root / "raw")[::subset]
        d = _stamped_dir(root, files)  # made by the parent before timing
        info["trials"] = len(rawlog.read(d, IngestOptions()).records)
    elif kind == "baseline_subset":
        files = rawlog.log_files(root / "raw")[::subset]
        info["trials"] = len(baseline_read(files))
    elif kind == "ingest_release":
        ds, _ = ingest(root / "rel.pkl")
        info["trials"] = len(ds.trials)
    elif kind == "ingest_release_save":
        ds, _ = ingest(root / "rel.pkl")
        ds.save(root / "out-rel")
    elif kind == "load":
        ds = load(root / "out-raw")
        info["rows"] = len(ds.train_loss)
    else:
        raise SystemExit(f"unknown measurement {kind}")
    dt = time.perf_counter() - t0
    print(json.dumps({"t": dt, "rss_mb": peak_rss_mb(), **info}))


TS = "2019-11-02T17:03:11.123456Z "


def cluster_style(text: str) -> str:
    """The same log as collected from a cluster under NumPy 2: ``np.float64(...)`` values,
    an ISO timestamp before every line and one inside every long line."""
    import re

    out = []
    for ln in text.split("\n"):
        if ln.startswith("[[") and not ln.startswith("[[0, 1") and "." in ln:  # during pairs
            ln = re.sub(r"\[(\d+), ([^\]]+)\]", r"[\1, np.float64(\2)]", ln)
        elif ln.startswith("[") and not ln.startswith("[["):  # the training losses
            ln = "[np.float64(" + ln[1:-1].replace(", ", "), np.float64(") + ")]"
        elif re.fullmatch(r"-?\d+\.\d+(e-?\d+)?|nan", ln):
            ln = f"np.float64({ln})"
        if len(ln) > 1000:
            ln = ln[: len(ln) // 2] + TS + ln[len(ln) // 2:]
        out.append(TS + ln if ln else ln)
    return "\n".join(out)


def _stamped_dir(root: Path, files):
    d = root / f"stamped-{len(files)}"
    if not d.exists():
        d.mkdir()
        for f in files:
            (d / f.name).write_text(cluster_style(f.read_text()))
    return d


def _subset_dir(root: Path, files):
    """A directory of symlinks to the subset (read() takes a directory)."""
    d = root / f"subset-{len(files)}"
    if not d.exists():
        d.mkdir()
        for f in files:
            (d / f.name).symlink_to(f)
    return d


def rawlog_files(root):
    from seedstats.data.formats.rawlog import log_files

    return log_files(root / "raw")


def measure(kind, root, runs, env=None):
    out = []
    for _ in range(runs):
        res = subprocess.run([sys.executable, __file__, "--child", kind, str(root)],
                             capture_output=True, text=True, env=env)
        if res.returncode:
            raise SystemExit(f"{kind} failed:\n{res.stderr}")
        out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def wall(cmd, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        ts.append(time.perf_counter() - t0)
    return ts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--subset", type=int, default=5,
                   help="baseline comparison on every N-th file (default 5)")
    p.add_argument("--keep", type=Path, help="generate into this directory and keep it "
                   "(reused by later runs with the same --keep)")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(*a.child)

    root = Path(tempfile.mkdtemp(prefix="bench_ingest.")) if a.keep is None else a.keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        if not ((root / "raw").is_dir() and (root / "rel.pkl").is_file()):
            generate(root)
        gen = time.perf_counter() - t0
        files = rawlog_files(root)
        size = sum(f.stat().st_size for f in files)
        print(f"{len(files)} raw logs ({size / 2**20:.0f} MiB) and rel.pkl "
              f"({(root / 'rel.pkl').stat().st_size / 2**20:.0f} MiB) generated in {gen:.1f} s "
              f"in {root}")
        env = {**os.environ, "BENCH_SUBSET": str(a.subset)}
        rows = []

        def row(name, results, target=None, note=""):
            ts = [r["t"] for r in results]
            med = statistics.median(ts)
            rss = max(r.get("rss_mb", float("nan")) for r in results)
            ok = "" if target is None else ("yes" if med <= target else "NO")
            rows.append((name, med, min(ts), max(ts), rss, target, ok, note))
            return med

        first = measure("ingest_raw", root, a.runs, env)
        print("trials per task and mean 'during' points per trial and metric: "
              + first[0]["shape"])
        r_ing = row("ingest raw logs (parse + tables)", first, 30)
        row("ingest raw logs + write Parquet", measure("ingest_raw_save", root, a.runs, env), 30)
        ours = row(f"raw-log reader, every {a.subset}th file",
                   measure("read_subset", root, a.runs, env))
        _stamped_dir(root, rawlog_files(root)[::a.subset])
        row("  same, timestamps + np.float64(...) values",
            measure("read_stamped", root, a.runs, env))
        base = row(f"baseline literal_eval, every {a.subset}th file",
                   measure("baseline_subset", root, a.runs, env))
        row("ingest release pickle (parse + tables)", measure("ingest_release", root, a.runs,
                                                              env), 10)
        row("ingest release pickle + write Parquet",
            measure("ingest_release_save", root, a.runs, env), 10)
        row("seedstats.load() of the Parquet dataset (warm)", measure("load", root, a.runs, env),
            1)
        row("seedstats.load() first call (imports included)",
            measure("load_cold", root, a.runs, env), 1)
        imp = wall([sys.executable, "-c", "import seedstats"], a.runs)
        nop = wall([sys.executable, "-c", "pass"], a.runs)
        row("python -c 'import seedstats' (wall)", [{"t": t} for t in imp], 1)
        row("python -c 'pass' (wall, reference)", [{"t": t} for t in nop])
        cli = wall([sys.executable, "-m", "seedstats", "ingest", str(root / "raw"), "--out",
                    str(root / "out-cli")], 1)
        row("seedstats ingest RAW --out DIR (CLI, wall, 1 run)", [{"t": t} for t in cli], 30)

        print(f"\n{'measurement':52s} {'median s':>9s} {'min':>7s} {'max':>7s} "
              f"{'peak MB':>8s} {'target s':>8s} ok")
        for name, med, lo, hi, rss, target, ok, _ in rows:
            tgt = "" if target is None else f"{target:g}"
            rs = "" if rss != rss else f"{rss:.0f}"
            print(f"{name:52s} {med:9.2f} {lo:7.2f} {hi:7.2f} {rs:>8s} {tgt:>8s} {ok}")
        print(f"\nraw-log reader vs literal_eval baseline (same {len(files[::a.subset])} files, "
              f"same run): {base / ours:.1f}x faster; baseline extrapolated to all "
              f"{len(files)} files: ~{base * a.subset:.0f} s against ingest {r_ing:.1f} s")
        print(f"peak memory limit 2048 MB: max over measurements "
              f"{max(r[4] for r in rows if r[4] == r[4]):.0f} MB")
    finally:
        if a.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

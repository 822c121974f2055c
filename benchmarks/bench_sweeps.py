"""Benchmark: ``seedstats ingest`` of 2,000 runs x 100 evaluations from each sweep format.

Issue 8 asks for at most 30 s per format (at 1,000 runs); issue 14 for 2,000 runs and the ratio
against the library's own reader where one is installed (TensorBoard's ``EventAccumulator``;
for W&B offline runs, wandb's ``leet inspect`` run on each log in turn). Each format's sweep is written once into a temporary
directory (10 distinct runs, copied to 1,000 run directories with seeds in their names, so
writing stays quick while every file is read and parsed in full), then ``ingest()`` (reading
plus :func:`seedstats.data.records.build_tables`) is timed ``--repeat`` times.

Baseline, measured in the same run: ``build_tables`` alone on the same 1,000 trial records
(what any loader must pay at least); the ratio says how much reading adds on top.

Usage::

    python benchmarks/bench_sweeps.py [--runs 1000] [--evals 100] [--repeat 3]
                                      [--formats hf,tensorboard,...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.data.records import build_tables

TEMPLATES = 10
SPE = 50  # updates between evaluations; steps per epoch = 5 * SPE


def seeds(i):
    return 1 + i // 40, 1 + i % 40  # up to 40 x 40 runs: WI, DO


def hf_log(rng, n_evals):
    hist = []
    for k in range(1, n_evals + 1):
        g = k * SPE
        hist.append({"epoch": g / (5 * SPE), "grad_norm": 2.0, "learning_rate": 2e-5,
                     "loss": float(rng.uniform(0.1, 0.7)), "step": g})
        hist.append({"epoch": g / (5 * SPE), "eval_accuracy": float(rng.uniform(0.4, 0.9)),
                     "eval_loss": float(rng.uniform(0.2, 0.8)), "eval_runtime": 1.0,
                     "eval_samples_per_second": 200.0, "eval_steps_per_second": 12.5,
                     "step": g})
    g = n_evals * SPE
    hist.append({"epoch": g / (5 * SPE), "step": g, "total_flos": 1e12, "train_loss": 0.4,
                 "train_runtime": 60.0, "train_samples_per_second": 8.0,
                 "train_steps_per_second": 0.5})
    return hist


def _fanout(root: Path, n_runs: int, write_template, name=lambda i: "wi{}_do{}".format(*seeds(i))):
    root.mkdir(parents=True)
    tdir = root.parent / (root.name + "_templates")
    for t in range(TEMPLATES):
        write_template(tdir / str(t), t)
    for i in range(n_runs):
        shutil.copytree(tdir / str(i % TEMPLATES), root / name(i))
    shutil.rmtree(tdir)


# --- writers, one per format -------------------------------------------------------------------

def write_hf(root, n_runs, n_evals):
    def tpl(d, t):
        d.mkdir(parents=True)
        g = n_evals * SPE
        state = {"best_metric": None, "best_model_checkpoint": None, "epoch": g / (5 * SPE),
                 "eval_steps": SPE, "global_step": g, "is_hyper_param_search": False,
                 "log_history": hf_log(np.random.default_rng(t), n_evals), "logging_steps": SPE,
                 "max_steps": g, "num_train_epochs": n_evals // 5, "save_steps": g,
                 "total_flos": 1e12, "train_batch_size": 16, "trial_name": None,
                 "trial_params": None}
        (d / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")

    _fanout(root, n_runs, tpl)
    return IngestOptions(task="rte", seeds_from="wi{wi}_do{do}")


def write_tensorboard(root, n_runs, n_evals):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    from seedstats.data.formats.tensorboard import masked_crc32c

    def frame(ev):
        b = ev.SerializeToString()
        head = struct.pack("<Q", len(b))
        return head + struct.pack("<I", masked_crc32c(head)) + b + struct.pack(
            "<I", masked_crc32c(b))

    def tpl(d, t):
        d.mkdir(parents=True)
        out = [frame(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2"))]
        wall = 1.7e9
        for entry in hf_log(np.random.default_rng(t), n_evals):
            g = entry["step"]
            for k, v in entry.items():
                if k == "step":
                    continue
                tag = ("eval/" + k[5:]) if k.startswith("eval_") else "train/" + k
                wall += 0.01
                summ = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag,
                                                                           simple_value=v)])
                out.append(frame(event_pb2.Event(wall_time=wall, step=g, summary=summ)))
        (d / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"".join(out))

    _fanout(root, n_runs, tpl)
    return IngestOptions(task="rte", seeds_from="wi{wi}_do{do}")


def _mlflow_rows(t, n_evals):
    rows, ts = [], 1_700_000_000_000
    for entry in hf_log(np.random.default_rng(t), n_evals):
        ts += 1000
        for k, v in entry.items():
            if k != "step":
                rows.append((k, v, ts, entry["step"]))
    return rows


def write_mlflow_files(root, n_runs, n_evals):
    def tpl(d, t):
        for sub in ("metrics", "params", "tags", "artifacts"):
            (d / sub).mkdir(parents=True)
        # no run_name: the run directory's name (with the seeds) names the run
        (d / "meta.yaml").write_text("experiment_id: '1'\nlifecycle_stage: active\n"
                                     "status: 3\ntags: []\n")
        files: dict[str, list[str]] = {}
        for k, v, ts, g in _mlflow_rows(t, n_evals):
            files.setdefault(k, []).append(f"{ts} {v} {g}\n")
        for k, lines in files.items():
            (d / "metrics" / k).write_text("".join(lines))
        (d / "params" / "finetuning_task").write_text("rte")

    exp = root / "1"
    _fanout(exp, n_runs, tpl)
    return IngestOptions(seeds_from="wi{wi}_do{do}", task="rte")


def write_mlflow_sqlite(root, n_runs, n_evals):
    root.mkdir(parents=True)
    db = root / "mlflow.db"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256));
        CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250),
          status VARCHAR(9), lifecycle_stage VARCHAR(20), experiment_id INTEGER);
        CREATE TABLE metrics (key VARCHAR(250), value FLOAT NOT NULL, timestamp BIGINT,
          run_uuid VARCHAR(32), step BIGINT DEFAULT 0 NOT NULL, is_nan BOOLEAN DEFAULT 0 NOT NULL,
          PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
        CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid);
        CREATE TABLE params (key VARCHAR(250), value VARCHAR(8000), run_uuid VARCHAR(32));
        CREATE TABLE tags (key VARCHAR(250), value VARCHAR(5000), run_uuid VARCHAR(32));
    """)
    tpl_rows = [_mlflow_rows(t, n_evals) for t in range(TEMPLATES)]
    for i in range(n_runs):
        rid = f"{i:032x}"
        con.execute("INSERT INTO runs VALUES (?, ?, 'FINISHED', 'active', 0)",
                    (rid, "wi{}_do{}".format(*seeds(i))))
        con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, 0)",
                        [(k, v, ts, rid, g) for k, v, ts, g in tpl_rows[i % TEMPLATES]])
        con.execute("INSERT INTO params VALUES ('finetuning_task', 'rte', ?)", (rid,))
    con.commit()
    con.close()
    return db, IngestOptions(seeds_from="wi{wi}_do{do}")


def write_wandb(root, n_runs, n_evals):
    def tpl(d, t):
        d.mkdir(parents=True)
        rows = []
        for entry in hf_log(np.random.default_rng(t), n_evals):
            if "train_runtime" in entry:
                row = {"train/epoch": entry["epoch"]}
            else:
                row = {("eval/" + k[5:]) if k.startswith("eval_") else "train/" + k: v
                       for k, v in entry.items() if k != "step"}
            row.update({"train/global_step": entry["step"], "_step": len(rows),
                        "_runtime": float(len(rows)), "_timestamp": 1.7e9 + len(rows)})
            rows.append(row)
        pd.DataFrame(rows).to_parquet(d / "history.parquet")
        (d / "config.json").write_text(json.dumps({"finetuning_task": "rte"}))

    _fanout(root, n_runs, tpl)
    return IngestOptions(seeds_from="wi{wi}_do{do}")


_WANDB_WRITE = r"""
import json, sys, wandb
out, logs = sys.argv[1], json.load(sys.stdin)
for t, hist in enumerate(logs):  # the Trainer's WandbCallback rows (rewrite_logs keys)
    r = wandb.init(project="bench", mode="offline", dir=f"{out}/{t}", name=f"run{t}",
                   config={"finetuning_task": "rte"})
    for entry in hist:
        if "train_runtime" in entry:
            row = {"train/epoch": entry["epoch"]}
        else:
            row = {("eval/" + k[5:]) if k.startswith("eval_") else "train/" + k: v
                   for k, v in entry.items() if k != "step"}
        row["train/global_step"] = entry["step"]
        r.log(row)
    r.finish()
"""


def write_wandb_offline(root, n_runs, n_evals):
    """Offline runs written by wandb itself (10 of them, in a child process), fanned out."""
    import os
    import subprocess

    tdir = root.parent / (root.name + "_templates")
    logs = [hf_log(np.random.default_rng(t), n_evals) for t in range(TEMPLATES)]
    subprocess.run([sys.executable, "-c", _WANDB_WRITE, str(tdir)], input=json.dumps(logs),
                   text=True, check=True, env={**os.environ, "WANDB_SILENT": "true"})
    root.mkdir(parents=True)
    for i in range(n_runs):
        shutil.copytree(tdir / str(i % TEMPLATES), root / "wi{}_do{}".format(*seeds(i)),
                        symlinks=True)
    shutil.rmtree(tdir)
    return IngestOptions(seeds_from="wi{wi}_do{do}")


def write_mosbach(root, n_runs, n_evals):
    def tpl(d, t):
        d.mkdir(parents=True)
        rng = np.random.default_rng(t)
        train = ["global_step\tloss\tlearning_rate"] + [
            f"{g}\t{rng.uniform(0.1, 0.7)}\t2e-05" for g in range(0, n_evals * SPE, 10)]
        ev = ["global_step\tacc"] + [f"{k * SPE}\t{rng.uniform(0.4, 0.9)}"
                                     for k in range(n_evals + 1)] + [f"-1\t{0.7}"]
        (d / "train_results.tsv").write_text("\n".join(train) + "\n")
        (d / "eval_results.tsv").write_text("\n".join(ev) + "\n")

    _fanout(root / "rte", n_runs, tpl,
            name=lambda i: "10-01-12-00-00_bert-large-uncased_0.02_{}".format(i + 1))
    return IngestOptions()


def write_table(root, n_runs, n_evals):
    root.mkdir(parents=True)
    parts = []
    for t in range(TEMPLATES):
        rng = np.random.default_rng(t)
        g = np.arange(1, n_evals + 1) * SPE
        parts.append(pd.DataFrame({
            "global_step": np.concatenate([g, g, g]),
            "metric": ["eval_accuracy"] * n_evals + ["eval_loss"] * n_evals
            + ["train_loss"] * n_evals,
            "value": rng.uniform(0.1, 0.9, 3 * n_evals)}))
    frames = []
    for i in range(n_runs):
        wi, do = seeds(i)
        frames.append(parts[i % TEMPLATES].assign(run=f"run{i}", wi=wi, do=do))
    f = root / "sweep.csv"
    pd.concat(frames).to_csv(f, index=False)
    return f, IngestOptions(task="rte", mapping={"wi": "wi", "do": "do", "step": "global_step"})


def write_lightning(root, n_runs, n_evals):
    def tpl(d, t):
        d = d / "version_0"
        d.mkdir(parents=True)
        rng = np.random.default_rng(t)
        rows = ["epoch,step,train_loss,val_acc,val_loss"]
        for k in range(1, n_evals + 1):
            g = k * SPE - 1  # Lightning: the update's 0-based index
            e = g // (5 * SPE)
            rows.append(f"{e},{g},{rng.uniform(0.1, 0.7)},,")
            rows.append(f"{e},{g},,{rng.uniform(0.4, 0.9)},{rng.uniform(0.2, 0.8)}")
        (d / "metrics.csv").write_text("\n".join(rows) + "\n")
        (d / "hparams.yaml").write_text("lr: 2.0e-05\ntask: rte\n")

    _fanout(root, n_runs, tpl)
    return IngestOptions(seeds_from="wi{wi}_do{do}")


def write_ray(root, n_runs, n_evals):
    def tpl(d, t):
        d.mkdir(parents=True)
        rng = np.random.default_rng(t)
        lines = [json.dumps({"step": k * SPE, "train_loss": rng.uniform(0.1, 0.7),
                             "val_acc": rng.uniform(0.4, 0.9), "val_loss": rng.uniform(0.2, 0.8),
                             "timestamp": 1_700_000_000 + k, "done": k == n_evals,
                             "training_iteration": k, "trial_id": f"t{t}",
                             "date": "2026-12-02_05-00-00", "time_this_iter_s": 0.1,
                             "config": {"lr": 2e-5}}) for k in range(1, n_evals + 1)]
        (d / "result.json").write_text("\n".join(lines) + "\n")
        (d / "params.json").write_text(json.dumps({"lr": 2e-5, "task": "rte"}))

    _fanout(root, n_runs, tpl,
            name=lambda i: "trainable_00000_{}_wi={},do={}_2026".format(i, *seeds(i)))
    return IngestOptions(seeds_from="wi{wi},do{do}")


def write_wide(root, n_runs, n_evals):
    root.mkdir(parents=True)
    frames = []
    for i in range(n_runs):
        rng = np.random.default_rng(i % TEMPLATES)
        wi, do = seeds(i)
        frames.append(pd.DataFrame({
            "run": f"run{i}", "wi": wi, "do": do, "step": np.arange(1, n_evals + 1) * SPE,
            "eval_accuracy": rng.uniform(0.4, 0.9, n_evals),
            "eval_loss": rng.uniform(0.2, 0.8, n_evals), "loss": rng.uniform(0.1, 0.7, n_evals),
            "learning_rate": 2e-5}))
    f = root / "wide.csv"
    pd.concat(frames).to_csv(f, index=False)
    return f, IngestOptions(task="rte")


WRITERS = {
    "hf": write_hf, "tensorboard": write_tensorboard, "mlflow": write_mlflow_files,
    "mlflow-sqlite": write_mlflow_sqlite, "wandb": write_wandb, "mosbach": write_mosbach,
    "table": write_table, "lightning": write_lightning, "ray": write_ray, "wide": write_wide,
    "wandb-offline": write_wandb_offline,
}
FORMAT = {"mlflow-sqlite": "mlflow", "wide": "table"}


def tensorboard_reader(root):
    """TensorBoard's own reader on every run: ``EventAccumulator`` keeping every scalar
    (``size_guidance={"scalars": 0}``), each tag's events read out."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    n = 0
    for d in sorted({p.parent for p in Path(root).rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(d), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            n += len(acc.Scalars(tag))
    return n


def wandb_reader(root):
    """wandb's own reader of its run logs (``wandb leet inspect --json``, what seedstats runs),
    one run after another, its JSON parsed: what reading them costs without seedstats."""
    from seedstats.data.formats.wandb_offline import inspect_records

    return sum(len(inspect_records(f)[0]) for f in sorted(Path(root).rglob("run-*.wandb")))


#: A library's own reader of a format, timed on the same files (where one is installed).
LIBRARY_READERS = {"tensorboard": ("tensorboard EventAccumulator", tensorboard_reader),
                   "wandb-offline": ("wandb leet inspect, one run at a time", wandb_reader)}


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--evals", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default=",".join(WRITERS))
    args = ap.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    unknown = set(formats) - set(WRITERS)
    if unknown:
        ap.error(f"--formats: unknown {sorted(unknown)}; expected some of {list(WRITERS)}")
    print(f"ingest of {args.runs} runs x {args.evals} evaluations, median of {args.repeat}")
    results, library = {}, {}
    base_records = None
    with tempfile.TemporaryDirectory() as tmp:
        for name in formats:
            root = Path(tmp) / name
            t0 = time.perf_counter()
            made = WRITERS[name](root, args.runs, args.evals)
            src, opts = made if isinstance(made, tuple) else (root, made)
            write_s = time.perf_counter() - t0
            fmt = FORMAT.get(name, name)
            med, (ds, rep) = timed(lambda: ingest(src, format=fmt, options=opts), args.repeat)
            if name in LIBRARY_READERS:
                label, reader = LIBRARY_READERS[name]
                try:
                    lib, _ = timed(lambda: reader(src), args.repeat)
                except ImportError as exc:
                    print(f"  {name}: {label} not timed ({exc})")
                else:
                    library[name] = (label, lib)
            n_ev = int(ds.trials["n_evals"].median())
            assert len(ds.trials) == args.runs, (name, len(ds.trials))
            results[name] = med
            print(f"  {name:14s} {med:7.2f} s  ({len(ds.trials)} trials, {len(ds.evals)} eval "
                  f"rows, {n_ev} evaluations/run; writing took {write_s:.1f} s)")
            sys.stdout.flush()
            if base_records is None:
                from seedstats.data.formats import hf_trainer  # noqa: F401  (records for the baseline)
                from seedstats.data.formats.hf_trainer import find_runs, read_run
                from seedstats.data.formats.sweeps import Resolver

                if name == "hf":
                    res = Resolver(root, opts)
                    base_records = [read_run(d, f, res) for d, f in find_runs(root)]
        if base_records is None:
            root = Path(tmp) / "baseline-hf"
            opts = write_hf(root, args.runs, args.evals)
            from seedstats.data.formats.hf_trainer import find_runs, read_run
            from seedstats.data.formats.sweeps import Resolver

            res = Resolver(root, opts)
            base_records = [read_run(d, f, res) for d, f in find_runs(root)]
        base, _ = timed(lambda: build_tables(base_records), args.repeat)
    print(f"  baseline: build_tables alone on the same {len(base_records)} records: "
          f"{base:.2f} s")
    worst = max(results.values())
    for name, med in results.items():
        print(f"  {name:14s} ratio to baseline {med / base:6.1f}x")
    for name, (label, lib) in library.items():
        print(f"  {name:14s} {label}: {lib:.2f} s; seedstats ingest / library reader = "
              f"{results[name] / lib:.2f}x (the library only reads; ingest also builds the "
              "tables)")
    print(f"slowest format {max(results, key=results.get)}: {worst:.2f} s "
          f"({'within' if worst <= 30 else 'OVER'} the 30 s budget)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fuzzing harness for the readers: mutated inputs of every format must end cleanly.

Usage::

    python benchmarks/fuzz_readers.py                    # 200 cases per format, seed 0
    python benchmarks/fuzz_readers.py --cases 2000 --seed 7 --json out.json

For each format (the released pickle, raw text logs, JSON Lines logs, long tables, Hugging Face
``trainer_state.json`` runs, the follow-up study's TSV logs, TensorBoard event files from
torch's ``SummaryWriter``) it writes one small valid input with the project's own writers (or
the real library's: the Trainer, and the committed files of ``tests/fixtures/real`` written by
Lightning, Ray Tune, MLflow, Optuna and wandb's offline mode), then, per case, copies it and
mutates one of its files with a seeded random choice of: truncation, byte flips, a deleted or
duplicated line, a number replaced by a huge, negative, NaN/inf or malformed one, deep nesting,
an empty or binary file, and a file name with a newline, unicode or bytes that are not UTF-8.
Each case is ingested in this process (under a memory limit and a timer) and classified:

- ``ok``: the ingest returned a dataset;
- ``error``: a :class:`~seedstats.errors.SeedstatsError` whose message is one line of at most 500
  characters (what a user should see);
- ``bad error``: a SeedstatsError with a multi-line or huge message;
- ``traceback``: any other exception (a bug);
- ``hang``: no answer within the per-case time limit (a bug);
- ``silent loss``: the ingest succeeded, but its key report (every key read, with its count of
  values: kept, bookkeeping or ignored) accounts for fewer values than an independent count of
  the mutated input holds (:data:`COUNTERS`: the standard library's csv/json/sqlite3 on the
  table, wide, Lightning, Trainer, Ray, MLflow and the follow-up study's inputs, TensorBoard's
  ``EventAccumulator`` on event files, sqlite3 on Optuna storages, json on JSON Lines logs and the
  authors' raw logs, a walk of the released pickle's trials). W&B offline runs have no such
  count: their only reader is wandb's own, which checks every chunk of the log against its
  checksum and reports the damaged ones (an error in seedstats); they are checked for
  tracebacks, hangs and bad errors only.

Prints a table of counts per format and outcome and the first failing cases, and exits 1 when
any case was a traceback, a hang, a bad error or a silent loss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

OUTCOMES = ("ok", "error", "bad error", "traceback", "hang", "silent loss")
#: Seconds per case and address-space limit of the whole run (a memory bomb ends in a clean
#: error or a MemoryError, which counts as a traceback, instead of taking the machine).
TIME_LIMIT_S, MEMORY_LIMIT = 20, 6 << 30
_NUMBER = re.compile(rb"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_REPLACEMENTS = (b"1e400", b"-1e400", b"99999999999999999999999999999999", b"-5", b"nan",
                 b"NaN", b"inf", b"-inf", b"0.6x", b"n/a", b"", b"1" * 5000, b"true", b"null",
                 b'"x"', b"[]", b"{}")


# --- valid inputs -----------------------------------------------------------------------------


def _small_dataset():
    from test_release import make_dataset

    return make_dataset(n=2)


def _release(d: Path) -> Path:
    from seedstats.data import export

    return export(_small_dataset(), d / "release.pkl", format="release")


def _rawlog(d: Path) -> Path:
    from seedstats.data import export

    return export(_small_dataset(), d / "logs", format="rawlog")


def _jsonl(d: Path) -> Path:
    from seedstats.data.formats.jsonl import write_jsonl

    return write_jsonl(_small_dataset(), d / "jsonl")


def _table(d: Path) -> Path:
    rows = ["run,step,metric,value"]
    for run in ("seed1", "seed2", "seed3"):
        for step in range(0, 100, 10):
            rows.append(f"{run},{step},accuracy,{0.5 + step / 400:.4f}")
            rows.append(f"{run},{step},loss,{0.7 - step / 400:.4f}")
    p = d / "long.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def _hf(d: Path) -> Path:
    from transformers import TrainerState

    root = d / "hf"
    for seed in (1, 2, 3):
        hist = []
        for g in range(10, 110, 10):
            hist.append({"epoch": g / 100, "grad_norm": 1.5, "learning_rate": 2e-5,
                         "loss": 0.7 - g / 400, "step": g})
            hist.append({"eval_accuracy": 0.5 + g / 400, "eval_loss": 0.6, "epoch": g / 100,
                         "eval_runtime": 1.0, "step": g})
        run = root / f"seed{seed}"
        run.mkdir(parents=True)
        TrainerState(epoch=1.0, global_step=100, max_steps=100, logging_steps=10,
                     eval_steps=10, log_history=hist).save_to_json(str(run /
                                                                       "trainer_state.json"))
    return root


def _mosbach(d: Path) -> Path:
    import numpy as np
    from test_sweeps_mosbach import write_run

    root = d / "logfiles"
    rng = np.random.default_rng(0)
    for seed in (1, 2, 3):
        write_run(root / "rte" / f"bert_False_1.0_16_wd_0.01_wup_0.1_{seed}", rng)
    return root


def _tensorboard(d: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    root = d / "tb"
    for seed in (1, 2, 3):
        w = SummaryWriter(str(root / f"seed{seed}"))
        for g in range(10, 110, 10):
            w.add_scalar("train/loss", 0.7 - g / 400, g)
            w.add_scalar("eval/accuracy", 0.5 + g / 400, g)
        w.close()
    return root


REAL = ROOT / "tests" / "fixtures" / "real"


def _real(form: str, inside: str = ""):
    """A valid input written by the real library (``tests/fixtures/real``; SQLite unpacked)."""
    import gzip

    def make(d: Path) -> Path:
        root = d / form
        shutil.copytree(REAL / form, root)
        (root / "truth.json").unlink()
        for gz in root.rglob("*.db.gz"):
            gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
            gz.unlink()
        return root / inside if inside else root
    return make


def _wandb_offline(d: Path) -> Path:
    """The real W&B offline runs; they are read through wandb's own reader, so without wandb
    the format is skipped like a form whose writer is missing."""
    import importlib.util

    if importlib.util.find_spec("wandb") is None:
        raise ImportError("reading W&B offline runs needs wandb")
    return _real("wandb_offline")(d)


def _wide(d: Path) -> Path:
    rows = ["run,step,eval_accuracy,eval_loss,loss,learning_rate"]
    for run in ("seed1", "seed2", "seed3"):
        for step in range(10, 110, 10):
            rows.append(f"{run},{step},{0.5 + step / 400:.4f},{0.7 - step / 400:.4f},"
                        f"{0.6 - step / 500:.4f},2e-5")
    p = d / "wide.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


#: format -> (writer of a valid input, the --format name, ingest options)
_SEED = {"seeds_from": "seed{seed}", "task": "rte"}
_SYN = {"task": "syn"}
SOURCES = {"release": (_release, "release", {}), "rawlog": (_rawlog, "rawlog", {}),
           "jsonl": (_jsonl, "jsonl", {}), "table": (_table, "table", _SEED),
           "wide": (_wide, "table", _SEED),
           "hf": (_hf, "hf", _SEED), "mosbach": (_mosbach, "mosbach", {}),
           "tensorboard": (_tensorboard, "tensorboard", _SEED),
           "lightning": (_real("lightning_csv"), "lightning", _SYN),
           "ray": (_real("ray_tune"), "ray", _SYN),
           "mlflow": (_real("mlflow_files", "mlruns"), "mlflow", _SYN),
           "mlflow-sqlite": (_real("mlflow_sqlite", "mlflow.db"), "mlflow", _SYN),
           "optuna": (_real("optuna", "optuna.db"), "optuna", _SYN),
           "wandb-offline": (_wandb_offline, "wandb-offline", _SYN)}
#: Binary formats: only byte-level mutations.
BINARY = ("release", "tensorboard", "mlflow-sqlite", "optuna", "wandb-offline")


# --- an independent count of the values an input holds ----------------------------------------
# Each counts, with the standard library only, every value the input logs; an ingest that
# succeeds must account for all of them in its key report (kept, bookkeeping or ignored, each
# counted), or it lost some without a word. None: the counter cannot read the input either.

def _csv_cells(path: Path, skip) -> int:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    head = rows[0]
    keep = [j for j, c in enumerate(head) if c not in skip]
    return sum(1 for r in rows[1:] for j in keep if j < len(r) and r[j].strip())


def _count_table(src: Path) -> int:
    import csv

    with open(src, encoding="utf-8", newline="") as fh:
        return sum(1 for r in list(csv.reader(fh))[1:] if any(c.strip() for c in r))


def _count_hf(src: Path) -> int:
    n = 0
    for f in src.rglob("trainer_state.json"):
        if any(p.name.startswith("checkpoint-") for p in f.relative_to(src).parents):
            continue  # a run with a top-level state: checkpoints are not read
        n += sum(len([k for k in e if k != "step"]) for e in json.loads(f.read_text())
                 ["log_history"])
    return n


def _count_ray(src: Path) -> int:
    n = 0
    for params in src.rglob("params.json"):
        f = params.parent / "result.json"
        if f.is_file():
            n += sum(len(json.loads(line)) for line in f.read_text().splitlines()
                     if line.strip())
        elif (params.parent / "progress.csv").is_file():
            n += _csv_cells(params.parent / "progress.csv", ())
    return n


def _count_mlflow_files(src: Path) -> int:
    n = 0
    for f in src.rglob("*"):
        if f.is_file() and f.parent.name == "metrics" or "metrics" in f.parts[len(src.parts):-1]:
            n += sum(1 for line in f.read_text().splitlines() if line.strip())
    return n


def _count_sqlite(src: Path) -> int:
    import sqlite3

    con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM metrics m JOIN runs r ON m.run_uuid = "
                           "r.run_uuid WHERE r.lifecycle_stage != 'deleted'").fetchone()[0]
    finally:
        con.close()


def _count_tensorboard(src: Path) -> int:
    """TensorBoard's own reader, keeping every scalar."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    n = 0
    for f in src.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        n += sum(len(acc.Scalars(t)) for t in acc.Tags()["scalars"])
    return n


def _count_mosbach(src: Path) -> int:
    """Every number of the study's TSV files but their global_step column (headers,
    repeated by a restart, and blank lines skipped)."""
    n = 0
    for f in list(src.rglob("eval_results.tsv")) + list(src.rglob("train_results.tsv")):
        for line in f.read_text().splitlines():
            cells = line.split("\t")
            if line.strip() and cells[0] != "global_step":
                n += len(cells) - 1
    return n


def _count_optuna(src: Path) -> int:
    """Every intermediate value and objective value in the storage."""
    import sqlite3

    con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        return sum(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                   for t in ("trial_intermediate_values", "trial_values"))
    finally:
        con.close()


def _count_jsonl(src: Path) -> int:
    """Every value of the train and eval records (their loss, metrics, epoch and any other
    field besides event, step and phase); header and end records hold metadata."""
    n = 0
    for f in sorted(src.rglob("*.jsonl")) if src.is_dir() else [src]:
        for line in f.read_bytes().splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("event") == "train":
                n += len(set(rec) - {"event", "step"})
            elif rec.get("event") == "eval":
                n += len(rec["metrics"]) + len(set(rec) - {"event", "step", "phase", "metrics"})
    return n


def _count_rawlog(src: Path) -> int:
    """Every value of the authors' layout: the losses list, and per metric the values after
    its 'of initialized model', 'throughout training' and 'after training' lines."""
    n = 0
    for f in sorted(p for p in src.iterdir() if p.is_file()) if src.is_dir() else [src]:
        text = f.read_text()
        lines = text.splitlines()
        if not text.endswith("\n"):  # a line cut short: a truncated run, read up to it
            lines = lines[:-1]
        for i, line in enumerate(lines[:-1]):
            nxt = lines[i + 1].replace("nan", "NaN")
            if line == "the losses at each train step:" or line.endswith("throughout training:"):
                n += len(json.loads(nxt))
            elif line.endswith(("of initialized model:", "after training:")):
                float(nxt)
                n += 1
    return n


def _count_release(src: Path) -> int:
    """Every value of the pickle's trials, walked from the unpickled dict (through the
    restricted unpickler: a mutated pickle must not run code here either)."""
    from seedstats.data.formats.release import load_pickle

    def trials(d):
        if isinstance(d, dict) and any(isinstance(v, dict) and "during" in v
                                       for v in d.values()):
            yield d
        elif isinstance(d, dict):
            for v in d.values():
                yield from trials(v)

    n = 0
    for t in trials(load_pickle(src)):
        for v in t.values():
            if isinstance(v, dict) and "during" in v:
                n += len(v["during"]) + sum(v.get(k) is not None for k in ("before", "after"))
    return n


COUNTERS = {
    "release": _count_release, "jsonl": _count_jsonl, "rawlog": _count_rawlog,
    "tensorboard": _count_tensorboard, "mosbach": _count_mosbach, "optuna": _count_optuna,
    "table": _count_table,
    "wide": lambda src: _csv_cells(src, ("run", "step")),
    "lightning": lambda src: sum(_csv_cells(f, ("step",)) for f in src.rglob("metrics.csv")),
    "hf": _count_hf, "ray": _count_ray, "mlflow": _count_mlflow_files,
    "mlflow-sqlite": _count_sqlite,
}


def count_values(fmt: str, src: Path) -> int | None:
    """The independent count of ``src``'s values, or None (no counter, or it cannot read it)."""
    fn = COUNTERS.get(fmt)
    if fn is None:
        return None
    try:
        return int(fn(src))
    except Exception:  # noqa: BLE001 - a damaged input the counter cannot read either
        return None


# --- mutations --------------------------------------------------------------------------------


def _files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    return sorted(p for p in src.rglob("*") if p.is_file())


def mutate(data: bytes, rng: random.Random, text: bool) -> tuple[str, bytes]:
    """One seeded mutation of a file's bytes: ``(what, new bytes)``."""
    kinds = ["truncate", "flip", "empty", "binary"]
    if text:
        kinds += ["delete line", "duplicate line", "number", "number", "number", "nest"]
    kind = rng.choice(kinds)
    if kind == "truncate":
        return kind, data[:rng.randrange(len(data) + 1)]
    if kind == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        return kind, bytes(b)
    if kind == "empty":
        return kind, b""
    if kind == "binary":
        return kind, bytes(rng.randrange(256) for _ in range(min(len(data), 4096)))
    lines = data.splitlines(keepends=True)
    if kind in ("delete line", "duplicate line") and lines:
        i = rng.randrange(len(lines))
        lines[i:i + 1] = [] if kind == "delete line" else [lines[i], lines[i]]
        return kind, b"".join(lines)
    numbers = list(_NUMBER.finditer(data))
    if not numbers:
        return "truncate", data[: len(data) // 2]
    m = rng.choice(numbers)
    new = (b"[" * 100_000 + b"1" + b"]" * 100_000 if kind == "nest"
           else rng.choice(_REPLACEMENTS))
    return f"{kind} {new[:12]!r}", data[:m.start()] + new + data[m.end():]


def _rename(path: Path, rng: random.Random) -> tuple[str, Path]:
    name = rng.choice(["wi1\ndo1", "wi1_dö1_ünï", "wi1\u202edo1"])
    if rng.random() < 0.3:
        new = Path(os.fsdecode(bytes(path.parent).rstrip(b"/") + b"/" + b"wi\xff" +
                               os.fsencode(path.suffix)))
    else:
        new = path.with_name(name + path.suffix)
    path.rename(new)
    return f"rename {new.name!r}", new


# --- running ----------------------------------------------------------------------------------


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def run_case(fmt: str, valid: Path, work: Path, rng: random.Random) -> tuple[str, str, str]:
    """Mutate a copy of ``valid`` and ingest it: ``(outcome, mutation, detail)``."""
    from seedstats.data import ingest
    from seedstats.errors import SeedstatsError

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    src = work / valid.name
    if valid.is_dir():
        shutil.copytree(valid, src)
    else:
        shutil.copy2(valid, src)
    target = rng.choice(_files(src))
    text = fmt not in BINARY
    if rng.random() < 0.08 and src.is_dir():
        what, _ = _rename(target, rng)
    else:
        what, data = mutate(target.read_bytes(), rng, text)
        target.write_bytes(data)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        expected = count_values(fmt, src)
        ds, rep = ingest(src, format=SOURCES[fmt][1], options=SOURCES[fmt][2])
        outcome, detail = "ok", ""
        read = int(rep.keys["values"].sum()) if len(rep.keys) else None
        if expected is not None and read is not None and read < expected:
            outcome = "silent loss"
            detail = f"the input holds {expected} values, the key report accounts for {read}"
    except _Timeout:
        outcome, detail = "hang", f"no answer in {TIME_LIMIT_S} s"
    except SeedstatsError as exc:
        msg = str(exc)
        outcome = "error" if "\n" not in msg and len(msg) <= 500 else "bad error"
        detail = msg[:300]
    except BaseException as exc:  # noqa: BLE001 - what the harness is looking for
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome = "traceback"
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        detail = f"{type(exc).__name__}: {str(exc)[:200]} at {tb.filename}:{tb.lineno}"
    finally:
        signal.alarm(0)
    return outcome, what, detail


def fuzz(cases: int, seed: int, formats=None, echo=print) -> dict:
    """Run ``cases`` cases per format; returns ``{format: {outcome: count}, "failures": [...]}``."""
    import warnings

    warnings.simplefilter("ignore")
    formats = list(SOURCES) if formats is None else list(formats)
    out = {"cases": cases, "seed": seed, "counts": {}, "failures": []}
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        tmp = Path(tmp)
        for fmt in formats:
            d = tmp / fmt / "valid"
            d.mkdir(parents=True)
            try:
                valid = SOURCES[fmt][0](d)
            except ImportError as exc:  # the real library that writes it is not installed
                echo(f"{fmt:8s} skipped ({exc})")
                continue
            rng = random.Random(f"{seed}-{fmt}")
            counts = Counter()
            for i in range(cases):
                outcome, what, detail = run_case(fmt, valid, tmp / fmt / "case", rng)
                counts[outcome] += 1
                if outcome in ("traceback", "hang", "bad error", "silent loss"):
                    out["failures"].append({"format": fmt, "case": i, "outcome": outcome,
                                            "mutation": what, "detail": detail})
            out["counts"][fmt] = {k: counts.get(k, 0) for k in OUTCOMES}
            echo(f"{fmt:8s} " + "  ".join(f"{k} {counts.get(k, 0):4d}" for k in OUTCOMES))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200, help="cases per format (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", action="append", choices=list(SOURCES))
    ap.add_argument("--json", type=Path, help="write the counts and failures here")
    args = ap.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    res = fuzz(args.cases, args.seed, args.format)
    bad = res["failures"]
    total = {k: sum(c[k] for c in res["counts"].values()) for k in OUTCOMES}
    print("all      " + "  ".join(f"{k} {v:4d}" for k, v in total.items()))
    for f in bad[:20]:
        print(f"  {f['format']} case {f['case']}: {f['outcome']} after {f['mutation']}: "
              f"{f['detail']}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

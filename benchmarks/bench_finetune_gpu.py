"""Benchmark fine-tuning speed: one paper-regime trial per task, and the 2,100-trial grid.

Measures the training step and the validation pass of ``seedstats.finetune`` (the code
the trials run: :class:`seedstats.finetune.train.Trainer`) on BERT-large's architecture,
randomly initialized (``random-bert-large``: no weights download, the same compute as
``bert-large-uncased``), in the paper's regime (batch 16, sequences up to 128 tokens,
AdamW, Dodge et al. 2020, Section 2), and estimates:

- samples/s of training and of evaluation per task, optimized against a named baseline
  measured in the same run (ratio);
- the time of one paper-regime trial per task: ``n_steps * t_step + n_evals * t_eval``
  (``n_steps``: 690 MRPC, 468 RTE, 1,605 CoLA, 12,630 SST-2; ``n_evals``: the released
  schedule plus before and after), model set-up not included (reported apart);
- the same with K trials sharing the GPU (K processes, each its own model), from the
  aggregate training throughput of K processes stepping at once;
- the whole grid of the paper (625 trials each of MRPC, RTE, CoLA; 225 of SST-2).

Optimized: bf16 autocast, dynamic padding (rounded up to a multiple of 8), fused AdamW
(BERT's, without bias correction, via torch's fused kernel), validation in batches of
256 sorted by length. Baseline: fp32, every batch padded to 128 tokens, torch's default
multi-tensor AdamW, validation in batches of 16 in file order.

The data are random token ids whose lengths follow each task's approximate BERT
WordPiece length distribution (an assumption, stated in the output: GLUE is not
downloaded here); labels are random. Every timing is the median of ``--repeats``
windows of ``--steps`` updates (after warm-up), with the device synchronized.

Run from the repository root (GPU: about 3 minutes with --quick)::

    python benchmarks/bench_finetune_gpu.py --quick
    python benchmarks/bench_finetune_gpu.py                 # more steps, K up to 8
    python benchmarks/bench_finetune_gpu.py --quick --json results.json

Without CUDA it runs a smoke check with the tiny model (numbers not meaningful).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import platform
import statistics
import sys
import time

import numpy as np

from seedstats.data.schema import TASKS
from seedstats.finetune.data import Encoded, epoch_batches
from seedstats.finetune.recipes import get_recipe

__all__ = ["LENGTHS", "synthetic_encoded", "main"]

# Approximate token counts ([CLS]/[SEP] included) of BERT's uncased WordPiece on each
# GLUE split: (kind, center, spread, min, max) per split. Assumptions, not measurements.
LENGTHS = {
    "mrpc": {"train": ("normal", 53, 12, 20, 110), "dev": ("normal", 53, 12, 20, 110)},
    "rte": {"train": ("lognormal", 62, 0.45, 16, 128), "dev": ("lognormal", 62, 0.45, 16, 128)},
    "cola": {"train": ("normal", 11, 4, 4, 48), "dev": ("normal", 11, 4, 4, 48)},
    "sst": {"train": ("lognormal", 10, 0.7, 3, 66), "dev": ("normal", 25, 9, 5, 66)},
}


def synthetic_encoded(task: str, split: str, n: int, vocab: int, seed: int = 0) -> Encoded:
    """Random token ids with the task's assumed length distribution (:data:`LENGTHS`)."""
    kind, center, spread, lo, hi = LENGTHS[task][split]
    rng = np.random.default_rng([seed, len(task), n])
    if kind == "normal":
        lens = rng.normal(center, spread, n)
    else:
        lens = center * np.exp(rng.normal(0, spread, n))
    lens = np.clip(np.round(lens), lo, hi).astype(np.int64)
    ids = [np.concatenate([[2], rng.integers(4, vocab, k - 2), [3]]).astype(np.int64)
           for k in lens]
    types = [np.zeros(k, dtype=np.int64) for k in lens]
    return Encoded(ids, types, rng.integers(0, 2, n).astype(np.int64), lens)


def _sync(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_train(torch, trainer, enc, steps, repeats, pad_to=None, warmup=3):
    """Median seconds per update over ``repeats`` windows of ``steps`` updates."""
    batches = epoch_batches(1, 0, len(enc), 16)
    k = 0
    for _ in range(warmup):
        trainer.train_step(k, enc, batches[k % len(batches)], pad_to)
        k += 1
    _sync(torch, trainer.device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(k, enc, batches[k % len(batches)], pad_to)
            k += 1
        _sync(torch, trainer.device)
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def _time_eval(torch, trainer, enc, batch, repeats, sort=True, pad_to=None):
    """Median seconds of one validation pass (loss and accuracy)."""
    prepared = trainer.prepare_eval(enc, batch, sort=sort, pad_to=pad_to)
    trainer.evaluate(prepared, ["loss", "acc"])  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        trainer.evaluate(prepared, ["loss", "acc"])  # ends with a copy to the host
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _n_evals(task):
    return len(TASKS[task].schedule) + 2


def single_process(model_name, device_name, tasks, steps, repeats):
    """Per task: optimized and baseline step and evaluation times, in one process."""
    import torch

    from seedstats.finetune.model import init_head, load_model
    from seedstats.finetune.train import Trainer

    device = torch.device(device_name)
    cuda = device.type == "cuda"
    t0 = time.perf_counter()
    model, tok = load_model(model_name, device=device)
    init_head(model, 1)
    _sync(torch, device)
    setup = time.perf_counter() - t0
    vocab = tok.vocab_size
    recipe = get_recipe("paper")
    data = {t: (synthetic_encoded(t, "train", 4096, vocab),
                synthetic_encoded(t, "dev", TASKS[t].n_val, vocab)) for t in tasks}
    res = {t: {"train_tokens_mean": float(data[t][0].lengths.mean()),
               "dev_tokens_mean": float(data[t][1].lengths.mean())} for t in tasks}
    bf16 = cuda and torch.cuda.is_bf16_supported()
    configs = [("opt", dict(bf16=bf16, fused=None, pad_multiple=None), None, 256, True),
               ("base", dict(bf16=False, fused=False, pad_multiple=1), 128, 16, False)]
    mem = 0
    for name, kw, pad_to, ebs, sort in configs:
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        trainer = Trainer(model, recipe, 10 ** 7, device, **kw)
        for t in tasks:
            enc_tr, enc_dev = data[t]
            step = _time_train(torch, trainer, enc_tr, steps, repeats, pad_to)
            ev = _time_eval(torch, trainer, enc_dev, ebs, repeats, sort=sort,
                            pad_to=pad_to)
            res[t][f"{name}_step_s"] = step
            res[t][f"{name}_eval_s"] = ev
            res[t][f"{name}_train_sps"] = 16 / step
            res[t][f"{name}_eval_sps"] = TASKS[t].n_val / ev
            res[t][f"{name}_trial_s"] = TASKS[t].n_steps * step + _n_evals(t) * ev
        if cuda and name == "opt":
            mem = torch.cuda.max_memory_allocated(device)
        del trainer
        if cuda:
            torch.cuda.empty_cache()
    n_params = sum(p.numel() for p in model.parameters())
    return {"tasks": res, "setup_s": setup, "peak_mem_bytes": mem, "n_params": n_params,
            "bf16": bf16}


def _proc_worker(rank, model_name, device_name, tasks, steps, barrier, queue):
    """One of K processes: step through each task's batches in lock-step windows."""
    try:
        import torch

        from seedstats.finetune.model import init_head, load_model
        from seedstats.finetune.train import Trainer

        device = torch.device(device_name)
        model, tok = load_model(model_name, device=device)
        init_head(model, rank + 1)
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        trainer = Trainer(model, get_recipe("paper"), 10 ** 7, device, bf16=bf16)
        if device.type == "cpu":
            torch.set_num_threads(1)
        encs = {t: synthetic_encoded(t, "train", 2048, tok.vocab_size, seed=rank)
                for t in tasks}
        for t in tasks:  # warm-up on every shape family
            _time_train(torch, trainer, encs[t], 1, 1, warmup=3)
        for t in tasks:
            batches = epoch_batches(rank, 0, len(encs[t]), 16)
            barrier.wait(timeout=900)
            t0 = time.perf_counter()
            for k in range(steps):
                trainer.train_step(k, encs[t], batches[k % len(batches)])
            _sync(torch, device)
            queue.put((rank, t, t0, time.perf_counter()))
        queue.put((rank, "done", 0.0, 0.0))
    except BaseException as exc:  # noqa: BLE001 (reported to the parent)
        queue.put((rank, "error", repr(exc), 0.0))
        barrier.abort()


def multi_process(model_name, device_name, tasks, k, steps):
    """Aggregate training samples/s per task with K processes stepping at once.

    CLOCK_MONOTONIC (``time.perf_counter`` on Linux) is system-wide, so the window of a
    task runs from the first process's start to the last process's end.
    """
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(k)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_proc_worker,
                         args=(r, model_name, device_name, tasks, steps, barrier, queue))
             for r in range(k)]
    for p in procs:
        p.start()
    spans = {t: [] for t in tasks}
    done, error = 0, None
    deadline = time.time() + 1200
    while done < k and error is None and time.time() < deadline:
        try:
            rank, what, a, b = queue.get(timeout=30)
        except Exception:  # noqa: BLE001 (queue.Empty: check the processes)
            if not any(p.is_alive() for p in procs):
                error = "all worker processes exited"
            continue
        if what == "done":
            done += 1
        elif what == "error":
            error = f"process {rank}: {a}"
        else:
            spans[what].append((a, b))
    for p in procs:
        p.join(timeout=60)
        if p.is_alive():
            p.kill()
    if error or done < k:
        return {"error": error or "timed out"}
    out = {}
    for t in tasks:
        start = min(a for a, _ in spans[t])
        end = max(b for _, b in spans[t])
        out[t] = k * steps * 16 / (end - start)
    return out


def _fmt_s(s):
    if s >= 3600:
        return f"{s / 3600:.2f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps, K in 1,2,4 (< 5 min)")
    ap.add_argument("--model", help="default: random-bert-large on a GPU, random-tiny on CPU")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tasks", default="mrpc,rte,cola,sst")
    ap.add_argument("--procs", help="numbers of processes sharing the device, e.g. 1,2,4,8")
    ap.add_argument("--steps", type=int, help="timed updates per window")
    ap.add_argument("--repeats", type=int, help="windows per measurement (median)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)

    try:
        import torch
        import transformers
    except ImportError:
        print("this benchmark needs the finetune extra: pip install 'seedstats[finetune]'",
              file=sys.stderr)
        return 2

    cuda = (args.device.startswith("cuda") or
            (args.device == "auto" and torch.cuda.is_available()))
    device = (args.device if args.device != "auto" else ("cuda" if cuda else "cpu"))
    model = args.model or ("random-bert-large" if cuda else "random-tiny")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        ap.error(f"--tasks: expected some of {', '.join(TASKS)}, got {', '.join(bad)}")
    if cuda:
        steps = args.steps or (10 if args.quick else 30)
        repeats = args.repeats or (3 if args.quick else 5)
        procs = args.procs or ("1,2,4" if args.quick else "1,2,4,8")
    else:
        steps = args.steps or 4
        repeats = args.repeats or 3
        procs = args.procs or "1,2"
        torch.set_num_threads(1)  # as each of the K processes: comparable numbers
    ks = sorted({int(x) for x in procs.split(",")} | {1})

    print(f"seedstats fine-tuning benchmark: model {model}, device {device}"
          + (f" ({torch.cuda.get_device_name(0)})" if cuda else " (CPU smoke check: numbers "
             "are not meaningful for planning)"))
    print(f"python {platform.python_version()}, torch {torch.__version__}, transformers "
          f"{transformers.__version__}; {steps} timed updates x median of {repeats} windows")
    print("data: random tokens, assumed BERT WordPiece lengths per task "
          + "; ".join(f"{t} train ~{LENGTHS[t]['train'][1]}" for t in tasks))
    t_all = time.perf_counter()
    single = single_process(model, device, tasks, steps, repeats)
    print(f"\nmodel: {single['n_params'] / 1e6:.1f}M parameters, set-up {single['setup_s']:.1f} s"
          + (f", peak memory {single['peak_mem_bytes'] / 2**30:.1f} GiB (optimized, one "
             "process)" if cuda else "") + f"; bf16 autocast: {single['bf16']}")
    print(f"optimized: {'bf16 autocast' if single['bf16'] else 'fp32'} + dynamic padding "
          f"(x{8 if cuda else 1}) + {'fused' if cuda else 'single-tensor'} AdamW + eval batch "
          f"256 sorted by length\nbaseline:  fp32 + pad to 128 + "
          f"{'multi-tensor' if cuda else 'single-tensor'} AdamW + eval batch 16 in file order\n")
    hdr = (f"{'task':5s} {'tok':>4s} | {'train samples/s':>22s} | {'eval samples/s':>22s} | "
           f"{'one paper-regime trial':>24s}")
    print(hdr)
    print(f"{'':5s} {'':>4s} | {'opt':>7s} {'base':>7s} {'ratio':>6s} | {'opt':>7s} {'base':>7s} "
          f"{'ratio':>6s} | {'opt':>10s} {'base':>10s} {'ratio':>2s}")
    for t in tasks:
        r = single["tasks"][t]
        print(f"{t:5s} {r['train_tokens_mean']:4.0f} | {r['opt_train_sps']:7.1f} "
              f"{r['base_train_sps']:7.1f} {r['opt_train_sps'] / r['base_train_sps']:5.2f}x | "
              f"{r['opt_eval_sps']:7.0f} {r['base_eval_sps']:7.0f} "
              f"{r['opt_eval_sps'] / r['base_eval_sps']:5.2f}x | {_fmt_s(r['opt_trial_s']):>10s} "
              f"{_fmt_s(r['base_trial_s']):>10s} {r['base_trial_s'] / r['opt_trial_s']:.2f}x")

    multi = {}
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        free, _ = torch.cuda.mem_get_info()
        per_proc = single["peak_mem_bytes"] + 1.5 * 2**30  # + CUDA context, allocator slack
    for k in ks:
        if cuda and k * per_proc > 0.95 * free:
            multi[k] = {"error": f"skipped: {k} x {per_proc / 2**30:.1f} GiB does not fit "
                                 f"in the {free / 2**30:.0f} GiB free"}
            continue
        multi[k] = multi_process(model, device, tasks, k, steps * repeats)

    grid_n = {t: TASKS[t].grid_size ** 2 for t in tasks}
    print(f"\ntrials sharing the device (K processes, each its own model; aggregate training "
          f"samples/s over {steps * repeats} updates each, and speed-up against K = 1):")
    print(f"{'K':>3s} | " + " | ".join(f"{t:>15s}" for t in tasks) + " | grid of the paper")
    base1 = multi.get(1, {})
    grids = {}
    for k in ks:
        m = multi[k]
        if "error" in m or "error" in base1:
            print(f"{k:3d} | {m.get('error') or base1.get('error')}")
            continue
        cells = [f"{m[t]:7.1f} ({m[t] / base1[t]:4.2f}x)" for t in tasks]
        # trial time with K sharing: one trial's time divided by the aggregate speed-up
        total_s = sum(grid_n[t] * single["tasks"][t]["opt_trial_s"] / (m[t] / base1[t])
                      for t in tasks)
        grids[k] = total_s
        print(f"{k:3d} | " + " | ".join(cells) + f" | {_fmt_s(total_s)}")
    if grids:
        best = min(grids, key=grids.get)
        seq_base = sum(grid_n[t] * single["tasks"][t]["base_trial_s"] for t in tasks)
        n_trials = sum(grid_n.values())
        print(f"\nwhole grid ({n_trials} trials: "
              + ", ".join(f"{t} {grid_n[t]}" for t in tasks) + ")")
        print(f"  baseline, one trial at a time:  {_fmt_s(seq_base)}")
        print(f"  optimized, one trial at a time: {_fmt_s(grids[1])}")
        print(f"  optimized, {best} trials at a time: {_fmt_s(grids[best])}"
              + ("  (target: at most 24 h: " + ("met" if grids[best] <= 86400 else "NOT met")
                 + ")" if cuda and model == "random-bert-large" and len(tasks) == 4 else ""))
        print("  (evaluation time assumed to scale like training; model loading per trial "
              f"not included: {single['setup_s']:.0f} s here, random init)")
    print(f"\nbenchmark wall time {time.perf_counter() - t_all:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model": model, "device": device, "steps": steps, "repeats": repeats,
                       "single": single, "multi": {str(k): v for k, v in multi.items()},
                       "grid_seconds": {str(k): v for k, v in grids.items()},
                       "lengths": LENGTHS}, fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

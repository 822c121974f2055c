"""``seedstats finetune run|grid``: regenerate raw logs (thin over train/grid).

Imports nothing heavy: the parser is built without torch, and a missing torch or
transformers ends in the one-line message of
:data:`seedstats.finetune.model.MISSING_EXTRA`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seedstats.errors import SeedstatsError

__all__ = ["register", "add_arguments", "cmd_finetune", "spec_from_args"]


def _dropout_seed(text: str):
    if text in ("do", "wi"):
        return text
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'do', 'wi' or an int >= 0, got {text!r}") \
            from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected 'do', 'wi' or an int >= 0, got {text!r}")
    return v


def _common(sp: argparse.ArgumentParser) -> None:
    g = sp.add_argument_group("what to train")
    g.add_argument("--task", choices=["mrpc", "rte", "cola", "sst"],
                   help="GLUE task (not with --data synthetic)")
    g.add_argument("--model", required=True,
                   help="a local path, a model name transformers can load "
                        "(the paper: bert-large-uncased), random-tiny (tests) or "
                        "random-bert-large (benchmarks)")
    g.add_argument("--data", choices=["glue", "synthetic"], default="glue",
                   help="GLUE TSV files from --glue-dir (default) or a small synthetic task")
    g.add_argument("--glue-dir", type=Path, metavar="DIR",
                   help="GLUE folder (MRPC/, RTE/, CoLA/, SST-2/ with train.tsv, dev.tsv)")
    g.add_argument("--max-train", type=int, metavar="N", help="first N training examples only")
    g.add_argument("--max-val", type=int, metavar="N", help="first N validation examples only")
    g.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory of the logs")
    g.add_argument("--format", choices=["jsonl", "rawlog"], default="jsonl",
                   help="jsonl (default), or rawlog: also the authors' text layout in "
                        "DIR/rawlog/")

    r = sp.add_argument_group("recipe (default: the paper's; overrides below)")
    r.add_argument("--recipe", choices=["paper", "stable"], default="paper",
                   help="paper: Dodge et al. 2020 (batch 16, lr 2e-5, 3 epochs, BERT's AdamW "
                        "without bias correction, 10 evaluations per epoch); stable: Mosbach "
                        "et al. 2021 (bias correction, 10%% warmup, 20 epochs, 3 per epoch)")
    r.add_argument("--lr", type=float)
    r.add_argument("--epochs", type=int)
    r.add_argument("--batch-size", type=int)
    r.add_argument("--evals-per-epoch", type=int)
    r.add_argument("--warmup", type=float, help="fraction of the steps with a linear warmup")
    r.add_argument("--weight-decay", type=float)
    r.add_argument("--adam-eps", type=float)
    r.add_argument("--correct-bias", action=argparse.BooleanOptionalAction, default=None,
                   help="Adam's bias correction")
    r.add_argument("--max-grad-norm", type=float, help="gradient clipping (0: none)")
    r.add_argument("--dropout", type=float)
    r.add_argument("--max-length", type=int)
    r.add_argument("--schedule", choices=["paper", "uniform"],
                   help="evaluation steps: the released curves' (paper) or evenly spaced")
    r.add_argument("--dropout-seed", type=_dropout_seed, default="do", metavar="do|wi|INT",
                   help="what seeds the dropout masks (default: do, as in the authors' code)")

    x = sp.add_argument_group("how to run")
    x.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, ...")
    x.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="auto: bf16 autocast on a GPU, fp32 on a CPU")
    x.add_argument("--eval-batch-size", type=int, metavar="N")
    x.add_argument("--threads", type=int, metavar="N", help="torch CPU threads")


def add_arguments(sp: argparse.ArgumentParser) -> None:
    """Add the ``run`` and ``grid`` sub-commands to the ``finetune`` parser."""
    sub = sp.add_subparsers(dest="finetune_command", metavar="{run,grid}")
    p = sub.add_parser("run", help="fine-tune one (WI, DO) trial")
    p.add_argument("--wi", type=int, required=True, metavar="SEED",
                   help="weight-initialization seed (the head's initial weights)")
    p.add_argument("--do", type=int, required=True, metavar="SEED",
                   help="data-order seed (the order of the training examples)")
    _common(p)
    p.add_argument("--quiet", action="store_true", help="print only what was written")

    g = sub.add_parser("grid", help="a WI x DO grid of trials (resumable)")
    g.add_argument("--wi", required=True, metavar="SEEDS", help="e.g. 1-25 or 1,3,7-9")
    g.add_argument("--do", required=True, metavar="SEEDS", help="e.g. 1-25")
    _common(g)
    g.add_argument("--launcher", choices=["local", "ray"], default="local")
    g.add_argument("--workers", type=int, default=1, metavar="N",
                   help="local: trials at once in N processes (they may share one GPU); "
                        "ray without --address: CPUs of the local Ray instance")
    g.add_argument("--address", help="Ray cluster address (auto or host:port)")
    g.add_argument("--gpus-per-trial", type=float, default=1.0, metavar="G",
                   help="ray: GPUs per trial when the cluster has GPUs (0.25: four per GPU)")


def spec_from_args(args, wi: int = 0, do: int = 0):
    """The :class:`~seedstats.finetune.train.TrialSpec` that the options describe."""
    from seedstats.finetune.recipes import get_recipe
    from seedstats.finetune.train import TrialSpec

    recipe = get_recipe(args.recipe, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                        evals_per_epoch=args.evals_per_epoch, warmup=args.warmup,
                        weight_decay=args.weight_decay, adam_eps=args.adam_eps,
                        correct_bias=args.correct_bias, max_grad_norm=args.max_grad_norm,
                        dropout=args.dropout, max_length=args.max_length,
                        schedule=args.schedule)
    if args.data == "glue" and args.task is None:
        raise ValueError("--task: expected one of mrpc, rte, cola, sst with GLUE data "
                         "(or give --data synthetic)")
    if args.data == "glue" and args.glue_dir is None:
        raise ValueError("--glue-dir: expected the GLUE data folder (or give --data "
                         "synthetic), got none")
    if args.data == "synthetic" and args.task is not None:
        raise ValueError(f"--task: the synthetic data is logged as task 'synthetic'; "
                         f"got --task {args.task} with --data synthetic")
    # the minimums of load_task (2 examples per split) and TrialSpec, checked up front so
    # a bad value ends in one line instead of a traceback from inside the trial
    for opt, low in (("max_train", 2), ("max_val", 2), ("eval_batch_size", 1), ("threads", 1)):
        v = getattr(args, opt)
        if v is not None and v < low:
            raise ValueError(f"--{opt.replace('_', '-')}: expected an int >= {low}, got {v}")
    formats = ("jsonl", "rawlog") if args.format == "rawlog" else ("jsonl",)
    return TrialSpec(args.task, wi, do, out=args.out, model=args.model, data=args.data,
                     glue_dir=args.glue_dir, recipe=recipe, dropout_seed=args.dropout_seed,
                     formats=formats, device=args.device, precision=args.precision,
                     eval_batch_size=args.eval_batch_size, max_train=args.max_train,
                     max_val=args.max_val, threads=args.threads)


def _fmt(rec) -> str:
    vals = " ".join(f"{k} {v:.4f}" for k, v in rec["metrics"].items())
    where = "before training" if rec["phase"] == "before" else (
        f"step {rec['step']} (epoch {rec['epoch']:.2f})" if rec["phase"] == "during"
        else "after training")
    return f"  {where}: {vals}"


def cmd_finetune(args) -> int:
    """Run ``seedstats finetune run|grid``; returns the exit status."""
    cmd = getattr(args, "finetune_command", None)
    if cmd is None:
        args.finetune_parser.print_help()
        return 2
    from seedstats.finetune.model import require_torch

    require_torch()
    try:
        if cmd == "run":
            spec = spec_from_args(args, args.wi, args.do)
        else:
            from seedstats.finetune.grid import grid_specs

            spec = spec_from_args(args)
            grid_specs(spec, args.wi, args.do)  # validate the seeds before anything runs
    except (ValueError, TypeError) as exc:
        raise SeedstatsError(str(exc)) from None

    if cmd == "run":
        from seedstats.finetune.train import run_trial

        echo = (lambda rec: None) if args.quiet else (lambda rec: print(_fmt(rec), flush=True))
        res = run_trial(spec, on_eval=echo)
        print(f"{res.trial_id}: {res.n_steps} steps, {len(res.evals)} evaluations in "
              f"{res.seconds:.1f} s ({res.samples_per_s:.1f} training examples/s)")
        print(f"wrote {res.path}")
        if res.rawlog is not None:
            print(f"wrote {res.rawlog}")
        return 0

    from seedstats.finetune.grid import run_grid

    try:
        summary = run_grid(spec, args.wi, args.do, launcher=args.launcher,
                           workers=args.workers, address=args.address,
                           gpus_per_trial=args.gpus_per_trial,
                           echo=lambda line: print(line, flush=True))
    except ValueError as exc:
        if isinstance(exc, SeedstatsError):
            raise
        raise SeedstatsError(str(exc)) from None
    return 1 if (summary["status"] == "error").any() else 0


def register(sub) -> None:
    """Add ``finetune`` and its ``run`` and ``grid`` sub-commands to ``sub``."""
    sp = sub.add_parser("finetune", help="regenerate raw logs (needs seedstats[finetune])")
    sp.set_defaults(func=cmd_finetune, finetune_parser=sp)
    add_arguments(sp)

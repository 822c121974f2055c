"""``seedstats compare`` and ``seedstats plan``: systems compared over seeds, and the seeds
a comparison needs."""

from __future__ import annotations

from pathlib import Path

from seedstats.cli.common import add_data_arg, add_score_arg, banner, load_data

__all__ = ["cmd_compare", "cmd_plan", "register"]


def cmd_compare(args) -> int:
    from seedstats.data import score_column
    from seedstats.figures.comparison import write_compare

    score_column(args.score)
    ds = load_data(args, several=True)
    print(banner(ds))
    df, paths = write_compare(ds, args.out, tasks=args.task, systems=args.systems,
                              score=args.score, level=args.level, correction=args.correction,
                              n_boot=args.n_boot, rng=args.seed)
    for line in df.lines():  # one verdict per task and pair, as Jupyter and the report show
        print(line)
    for p in paths:
        print(f"wrote {p}")
    return 0


def cmd_plan(args) -> int:
    from seedstats.data import score_column
    from seedstats.figures.comparison import write_plan

    score_column(args.score)
    ds = load_data(args, several=True)
    print(banner(ds))
    df, paths = write_plan(ds, args.out, effect=args.effect, tasks=args.task,
                           system=args.system, power=args.power, alpha=args.alpha,
                           score=args.score, n=args.n, budget=args.budget, rng=args.seed)
    for r in df.itertuples():
        line = (f"{r.task} ({r.system}): {r.n_simulated:.0f} seeds per system by simulation, "
                f"{r.n_welch:.0f} by Welch's formula ({r.n_welch_low:.0f}-{r.n_welch_high:.0f} "
                f"over the SD's 95% interval)")
        print(line + (f"; warning: {r.warning}" if r.warning else ""))
    for p in paths:
        print(f"wrote {p}")
    return 0


def register(sub) -> None:
    """Add ``compare`` and ``plan`` to ``sub`` (an ``add_subparsers`` object)."""
    sp = sub.add_parser("compare", help="is one system better than another, given the seeds?")
    add_data_arg(sp, system=False)
    sp.add_argument("--task", action="append", metavar="T", help="a task (repeatable)")
    sp.add_argument("--systems", nargs="+", metavar="S", help="systems to compare (all pairs)")
    sp.add_argument("--out", type=Path, default=Path("compare"), metavar="DIR")
    add_score_arg(sp)
    sp.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    sp.add_argument("--correction", default="holm", metavar="holm|fdr_bh|bonferroni|none",
                    help="multiple-testing correction over tasks and pairs (holm)")
    sp.add_argument("--n-boot", type=int, default=10_000, help="bootstrap resamples")
    sp.add_argument("--seed", type=int, default=0, help="seed of every resample (0)")
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("plan", help="how many seeds a comparison needs, from a pilot sweep")
    add_data_arg(sp)
    sp.add_argument("--task", action="append", metavar="T", help="a task (repeatable)")
    sp.add_argument("--effect", type=float, required=True, metavar="DELTA",
                    help="difference to detect, in the metric's units (0.01 = 1 point)")
    sp.add_argument("--power", type=float, default=0.8)
    sp.add_argument("--alpha", type=float, default=0.05)
    sp.add_argument("--n", type=int, default=None,
                    help="seeds per system at which to give the minimum detectable effect")
    sp.add_argument("--budget", type=int, default=100,
                    help="runs to spread over WI and DO seeds in the design table (100)")
    sp.add_argument("--out", type=Path, default=Path("plan"), metavar="DIR")
    add_score_arg(sp)
    sp.add_argument("--seed", type=int, default=0, help="seed of the simulation (0)")
    sp.set_defaults(func=cmd_plan)

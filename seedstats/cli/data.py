"""``seedstats ingest``, ``info`` and ``replica``: data in and out."""

from __future__ import annotations

from pathlib import Path

from seedstats.cli.common import UsageError, add_data_arg, banner, load_data

__all__ = ["register", "cmd_ingest", "cmd_merge", "cmd_info", "cmd_replica"]


def cmd_ingest(args) -> int:
    from seedstats.data import IngestOptions, ingest, merge
    from seedstats.data.ingest import combined_report

    mapping = {}
    for item in args.map or []:
        for pair in item.split(","):
            key, sep, val = pair.partition("=")
            if not sep or not key or not val:
                raise UsageError(f"--map: expected KEY=COLUMN pairs, got {pair!r}")
            mapping[key.strip()] = val.strip()
    systems = args.system or []
    if len(systems) > 1 and len(systems) != len(args.src):
        raise UsageError(f"--system: give one name for every source, or one per source "
                         f"({len(args.src)}); got {len(systems)}")
    if systems and args.systems_from:
        raise UsageError("--system and --systems-from: give one of them")

    def options(system):
        return IngestOptions(skip_bad=args.skip_bad, task=args.task, metric=args.metric,
                             baseline=args.baseline, seeds_from=args.seeds_from,
                             mapping=mapping, system=system, systems_from=args.systems_from,
                             lower_is_better=args.lower_is_better, duplicates=args.duplicates)

    if len(systems) > 1:  # one system per source: read each, then merge
        parts = [ingest(src, format=args.format, options=options(name))
                 for src, name in zip(args.src, systems)]
        ds = merge([d for d, _ in parts])
        ds.meta["provenance"] = {"sources": [str(p) for p in args.src],
                                 "systems": systems}
        ds.meta["skipped"] = [s for _, r in parts for s in map(list, r.skipped)]
        rep = combined_report(ds, [r for _, r in parts], args.duplicates)
    else:
        ds, rep = ingest(list(args.src), format=args.format,
                         options=options(systems[0] if systems else None))
    path = ds.save(args.out)
    print(rep)
    print(f"wrote {path}")
    return 0


def cmd_merge(args) -> int:
    from seedstats.data import load, merge

    ds = merge([load(p) for p in args.datasets], systems=args.systems)
    path = ds.save(args.out)
    counts = ds.trials.groupby("system").size()
    print("systems: " + ", ".join(f"{k} ({v} trials)" for k, v in counts.items()))
    print(f"wrote {path}")
    return 0


def cmd_info(args) -> int:
    from seedstats.data import EMBEDDED, summarize

    ds = load_data(args, several=True)
    print(banner(ds))
    print(summarize(ds).to_string())
    for name, what in EMBEDDED.items():
        print(f"embedded dataset --data {name}: {what}")
    return 0


def cmd_replica(args) -> int:
    from seedstats.data import export, load

    out = export(load(), args.out, format=args.format)
    print(f"wrote {out} (synthetic replica, format {args.format})")
    return 0


def register(sub) -> None:
    """Add the sub-commands of this module to ``sub`` (an ``add_subparsers`` object)."""
    sp = sub.add_parser("ingest", help="read logs or a released pickle into a dataset")
    sp.add_argument("src", type=Path, metavar="SRC", nargs="+")
    sp.add_argument("--out", type=Path, required=True, metavar="DIR")
    sp.add_argument("--format", default="auto", help="auto (default) or one of the formats")
    sp.add_argument("--skip-bad", action="store_true",
                    help="skip malformed files (listed in the report) instead of stopping")
    sp.add_argument("--task", help="task name when the source does not record it")
    sp.add_argument("--metric", help="headline metric when it cannot be inferred")
    sp.add_argument("--baseline", type=float, help="majority baseline of the task")
    sp.add_argument("--seeds-from", help="path pattern such as 'wi{wi}_do{do}' or 'seed{seed}'")
    sp.add_argument("--map", action="append", metavar="KEY=COL,...",
                    help="column mapping for long tables, e.g. run=trial,step=global_step; "
                         "step=KEY also for Ray Tune and W&B runs, step_is=count|index for "
                         "Optuna and W&B runs")
    sp.add_argument("--system", action="append", metavar="NAME",
                    help="the system (recipe, model, method) these runs are: once for all "
                         "sources, or once per SRC in order")
    sp.add_argument("--systems-from", metavar="PATTERN",
                    help="read each run's system from its path, e.g. '{system}/seed*'")
    sp.add_argument("--duplicates", choices=("error", "last", "first"), default="error",
                    help="a step logged twice with different values: an error (default), or "
                         "keep the value logged last (a resumed run) or first")
    way = sp.add_mutually_exclusive_group()
    way.add_argument("--lower-is-better", action="store_const", const=True, default=None,
                     help="lower is better for the headline metric (default: by its name, "
                          "lower for loss, perplexity, wer, error)")
    way.add_argument("--higher-is-better", dest="lower_is_better", action="store_const",
                     const=False, help="higher is better for the headline metric")
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("merge", help="combine datasets of different systems into one")
    sp.add_argument("datasets", nargs="+", metavar="DS", help="dataset directories or names")
    sp.add_argument("--out", type=Path, required=True, metavar="DIR")
    sp.add_argument("--systems", nargs="+", metavar="NAME",
                    help="a new system name for each DS, in order (each must hold one system)")
    sp.set_defaults(func=cmd_merge)

    sp = sub.add_parser("info", help="per task: trials, seed grid, evaluations, flags")
    add_data_arg(sp)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("replica", help="write the synthetic replica of the 2,100 trials")
    sp.add_argument("--out", type=Path, required=True, metavar="PATH")
    sp.add_argument("--format", choices=["parquet", "release", "rawlog"], default="parquet")
    sp.set_defaults(func=cmd_replica)

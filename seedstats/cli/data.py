"""``seedstats ingest``, ``info`` and ``replica``: data in and out."""

from __future__ import annotations

from pathlib import Path

from seedstats.cli.common import UsageError, add_data_arg, banner, load_data

__all__ = ["register", "cmd_ingest", "cmd_info", "cmd_replica"]


def cmd_ingest(args) -> int:
    from seedstats.data import IngestOptions, ingest

    mapping = {}
    for item in args.map or []:
        for pair in item.split(","):
            key, sep, val = pair.partition("=")
            if not sep or not key or not val:
                raise UsageError(f"--map: expected KEY=COLUMN pairs, got {pair!r}")
            mapping[key.strip()] = val.strip()
    opts = IngestOptions(skip_bad=args.skip_bad, task=args.task, metric=args.metric,
                         baseline=args.baseline, seeds_from=args.seeds_from, mapping=mapping)
    ds, rep = ingest(args.src, format=args.format, options=opts)
    path = ds.save(args.out)
    print(rep)
    print(f"wrote {path}")
    return 0


def cmd_info(args) -> int:
    from seedstats.data import EMBEDDED, summarize

    ds = load_data(args)
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
    sp.add_argument("src", type=Path, metavar="SRC")
    sp.add_argument("--out", type=Path, required=True, metavar="DIR")
    sp.add_argument("--format", default="auto", help="auto (default) or one of the formats")
    sp.add_argument("--skip-bad", action="store_true",
                    help="skip malformed files (listed in the report) instead of stopping")
    sp.add_argument("--task", help="task name when the source does not record it")
    sp.add_argument("--metric", help="headline metric when it cannot be inferred")
    sp.add_argument("--baseline", type=float, help="majority baseline of the task")
    sp.add_argument("--seeds-from", help="path pattern such as 'wi{wi}_do{do}' or 'seed{seed}'")
    sp.add_argument("--map", action="append", metavar="KEY=COL,...",
                    help="column mapping for long tables, e.g. run=trial,step=global_step")
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("info", help="per task: trials, seed grid, evaluations, flags")
    add_data_arg(sp)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("replica", help="write the synthetic replica of the 2,100 trials")
    sp.add_argument("--out", type=Path, required=True, metavar="PATH")
    sp.add_argument("--format", choices=["parquet", "release", "rawlog"], default="parquet")
    sp.set_defaults(func=cmd_replica)

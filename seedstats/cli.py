"""The ``seedstats`` command: thin wrappers that parse, call a public function, write,
and print what they wrote. A user error ends in one line and exit status 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _load(args):
    from seedstats.data.dataset import load

    return load(args.data)


def _banner(ds) -> str:
    return ("data: synthetic replica of the Dodge et al. 2020 release (not the real runs)"
            if ds.synthetic else f"data: {ds.path}")


# --- commands ---------------------------------------------------------------------------


def cmd_ingest(args) -> int:
    from seedstats.data.ingest import IngestOptions, ingest

    mapping = {}
    for item in args.map or []:
        for pair in item.split(","):
            key, sep, val = pair.partition("=")
            if not sep or not key or not val:
                raise _usage(f"--map: expected KEY=COLUMN pairs, got {pair!r}")
            mapping[key.strip()] = val.strip()
    opts = IngestOptions(skip_bad=args.skip_bad, task=args.task, metric=args.metric,
                         baseline=args.baseline, seeds_from=args.seeds_from, mapping=mapping)
    ds, rep = ingest(args.src, format=args.format, options=opts)
    path = ds.save(args.out)
    print(rep)
    print(f"wrote {path}")
    return 0


def cmd_info(args) -> int:
    from seedstats.data.info import summarize

    ds = _load(args)
    print(_banner(ds))
    print(summarize(ds).to_string())
    return 0


def cmd_replica(args) -> int:
    from seedstats.data.replica import write_replica

    out = write_replica(args.out, format=args.format)
    print(f"wrote {out} (synthetic replica, format {args.format})")
    return 0


def cmd_tables(args) -> int:
    from seedstats.stats.tables import write_tables

    ds = _load(args)
    print(_banner(ds))
    for path, text in write_tables(ds, args.out):
        print(text)
        print(f"wrote {path}\n")
    return 0


def cmd_figures(args) -> int:
    from seedstats.figures import registry

    if args.list:
        for name, fig in registry.FIGURES.items():
            print(f"{name:12s} {fig.paper_ref:12s} {fig.title}")
        return 0
    names = list(registry.FIGURES) if args.all else args.names
    if not names:
        raise _usage("name figures to make, or give --all or --list")
    unknown = [n for n in names if n not in registry.FIGURES]
    if unknown:
        raise _usage(f"unknown figure {', '.join(unknown)}; "
                     f"`seedstats figures --list` shows {', '.join(registry.FIGURES)}")
    ds = _load(args)
    print(_banner(ds))
    failed = registry.make_all(ds, names, out=args.out, fmt=args.format, echo=print)
    return 1 if failed else 0


def cmd_earlystop(args) -> int:
    from seedstats.earlystop.cli import run

    ds = _load(args)
    print(_banner(ds))
    return run(ds, args)


def cmd_finetune(args) -> int:
    from seedstats.finetune.cli import run

    return run(args)


# --- parser ------------------------------------------------------------------------------


class _UsageError(Exception):
    pass


def _usage(msg: str) -> _UsageError:
    return _UsageError(msg)


def build_parser() -> argparse.ArgumentParser:
    from seedstats import __version__

    p = argparse.ArgumentParser(
        prog="seedstats",
        description="How much of a fine-tuning result is the random seed? "
                    "Reproduces Dodge et al. (2020) on the embedded synthetic replica or on "
                    "your own runs.")
    p.add_argument("--version", action="version", version=f"seedstats {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def data_arg(sp):
        sp.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="normalized dataset (default: the embedded synthetic replica)")

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
    data_arg(sp)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("replica", help="write the synthetic replica of the 2,100 trials")
    sp.add_argument("--out", type=Path, required=True, metavar="PATH")
    sp.add_argument("--format", choices=["parquet", "release", "rawlog"], default="parquet")
    sp.set_defaults(func=cmd_replica)

    sp = sub.add_parser("tables", help="Tables 1-4 and the further seed analyses")
    data_arg(sp)
    sp.add_argument("--out", type=Path, default=Path("tables"), metavar="DIR")
    sp.set_defaults(func=cmd_tables)

    sp = sub.add_parser("figures", help="the paper's figures (and ours)")
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--all", action="store_true", help="every figure and table")
    sp.add_argument("--list", action="store_true", help="list the figures")
    data_arg(sp)
    sp.add_argument("--out", type=Path, default=Path("figures"), metavar="DIR")
    sp.add_argument("--format", choices=["png", "pdf", "svg"], default="png")
    sp.set_defaults(func=cmd_figures)

    sp = sub.add_parser("earlystop", help="the early-stopping simulator (Section 5)")
    data_arg(sp)
    sp.add_argument("--task", action="append", help="task(s); default: all")
    sp.add_argument("--samples", type=int, default=50_000)
    sp.add_argument("--max-budget", type=int, default=30)
    sp.add_argument("--exact", action="store_true", help="exact expectation, no sampling")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", type=Path, default=Path("earlystop"), metavar="DIR")
    sp.set_defaults(func=cmd_earlystop)

    sp = sub.add_parser("finetune", help="regenerate raw logs (needs seedstats[finetune])")
    sp.set_defaults(func=cmd_finetune, finetune_parser=sp)
    try:
        from seedstats.finetune.cli import add_arguments
    except ImportError:
        pass
    else:
        add_arguments(sp)
    return p


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    from seedstats.errors import SeedstatsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (SeedstatsError, _UsageError) as exc:
        print(f"seedstats {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seedstats: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # unreadable input, unwritable --out, disk full: one line
        print(f"seedstats {args.command}: error: {exc}", file=sys.stderr)
        return 2

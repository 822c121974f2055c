"""``seedstats tables``, ``figures`` and ``report``: the paper's tables and figures, and the
one-page HTML report, written to files.

Drawing imports matplotlib, so the figure and table modules are imported when a command
runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from seedstats.cli.common import UsageError, add_data_arg, add_score_arg, banner, load_data

__all__ = ["register", "cmd_tables", "cmd_figures", "cmd_report"]


def cmd_tables(args) -> int:
    from seedstats.data import score_column
    from seedstats.figures.tables import write_tables

    score_column(args.score)  # a bad choice ends here, before anything is read or written
    ds = load_data(args)
    print(banner(ds))
    for path, text in write_tables(ds, args.out, score=args.score):
        print(text)
        print(f"wrote {path}\n")
    return 0


#: BLAS libraries read these when numpy loads. Figures are drawn in several processes and
#: their matrix products are small: threads of their own only fight over the same cores
#: (measured: the early-stopping search 2.5x slower in two processes, 1.2x slower alone).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cmd_figures(args) -> int:
    if "numpy" not in sys.modules:  # the library is not loaded yet: set its threads first
        for name in BLAS_THREADS:
            os.environ.setdefault(name, "1")
    from seedstats.data import score_column
    from seedstats.figures import registry

    if args.list:
        for name, fig in registry.FIGURES.items():
            print(f"{name:12s} {fig.paper_ref:12s} {fig.title}")
        return 0
    names = list(registry.FIGURES) if args.all else args.names
    if not names:
        raise UsageError("name figures to make, or give --all or --list")
    unknown = [n for n in names if n not in registry.FIGURES]
    if unknown:
        raise UsageError(f"unknown figure {', '.join(unknown)}; "
                         f"`seedstats figures --list` shows {', '.join(registry.FIGURES)}")
    score_column(args.score)  # a bad choice ends here, before anything is read or written
    ds = load_data(args)
    print(banner(ds))
    failed = registry.make_all(ds, names, out=args.out, fmt=args.format, echo=print,
                               score=args.score, jobs=args.jobs)
    if failed and args.all and len(failed) < len(names) + 1:
        # --all on data that supports only some analyses (a short sweep, no seed grid): what
        # could be made was, and what could not is said above and in index.md
        print(f"{len(failed)} of {len(names) + 1} outputs are not made for this data: "
              f"{', '.join(failed)} (the reasons are above and in {args.out / 'index.md'})")
        return 0
    return 1 if failed else 0


def cmd_report(args) -> int:
    from seedstats.data import score_column
    from seedstats.figures.report import report

    score_column(args.score)
    ds = load_data(args, several=True)
    print(banner(ds))
    if args.out.is_dir():
        raise UsageError(f"--out {args.out}: is a directory; give a file such as report.html")
    report(ds, args.out, score=args.score, effect=args.effect)
    print(f"wrote {args.out}")
    return 0


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def default_jobs() -> int:
    """Processes ``figures`` draws in by default: the CPUs this process may use, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def register(sub) -> None:
    """Add the sub-commands of this module to ``sub`` (an ``add_subparsers`` object)."""
    sp = sub.add_parser("tables", help="Tables 1-4 and the further seed analyses")
    add_data_arg(sp)
    add_score_arg(sp)
    sp.add_argument("--out", type=Path, default=Path("tables"), metavar="DIR")
    sp.set_defaults(func=cmd_tables)

    sp = sub.add_parser("figures", help="the paper's figures (and ours)")
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--all", action="store_true", help="every figure and table")
    sp.add_argument("--list", action="store_true", help="list the figures")
    add_data_arg(sp)
    add_score_arg(sp)
    sp.add_argument("--out", type=Path, default=Path("figures"), metavar="DIR")
    sp.add_argument("--format", choices=["png", "pdf", "svg"], default="png")
    sp.add_argument("--jobs", type=positive_int, default=default_jobs(), metavar="N",
                    help="processes to draw in (default: the CPUs, at most 4; the files are "
                         "the same whatever N is)")
    sp.set_defaults(func=cmd_figures)

    sp = sub.add_parser("report", help="one self-contained HTML page: the sweep, the seed "
                                       "analyses, compare and plan, a reporting paragraph")
    add_data_arg(sp, system=False)
    add_score_arg(sp)
    sp.add_argument("--out", type=Path, default=Path("report.html"), metavar="FILE.html")
    sp.add_argument("--effect", type=float, default=None, metavar="DELTA",
                    help="the difference the plan section sizes for (default 0.01)")
    sp.set_defaults(func=cmd_report)

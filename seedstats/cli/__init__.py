"""The ``seedstats`` command: thin wrappers that parse, call a public function, write,
and print what they wrote. A user error ends in one line and exit status 2.

One module per group of verbs: :mod:`~seedstats.cli.data` (ingest, info, replica),
:mod:`~seedstats.cli.outputs` (tables, figures), :mod:`~seedstats.cli.earlystop`,
:mod:`~seedstats.cli.compare` (compare, plan), :mod:`~seedstats.cli.finetune`. The library packages import no argparse.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from seedstats import __version__
from seedstats.cli import compare, data, earlystop, finetune, outputs
from seedstats.cli.common import UsageError
from seedstats.errors import SeedstatsError, SeedstatsNote

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``seedstats`` argument parser: one sub-command per verb (see each verb's module)."""
    p = argparse.ArgumentParser(
        prog="seedstats",
        description="How much of a fine-tuning result is the random seed? "
                    "Reproduces Dodge et al. (2020) on the embedded synthetic replica or on "
                    "your own runs.")
    p.add_argument("--version", action="version", version=f"seedstats {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for verbs in (data, outputs, earlystop, compare, finetune):
        verbs.register(sub)
    return p


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with warnings.catch_warnings():  # restores both on the way out
        warnings.simplefilter("always", SeedstatsNote)
        shown, said = warnings.showwarning, set()

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, SeedstatsNote):  # one line, once, no source location
                if str(message) not in said:
                    said.add(str(message))
                    print(f"seedstats {args.command}: note: {message}", file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return _run(args)


def _run(args) -> int:
    try:
        return int(args.func(args) or 0)
    except (SeedstatsError, UsageError) as exc:
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

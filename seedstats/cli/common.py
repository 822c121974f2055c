"""What every verb of the command line shares: the ``--data`` option, loading, the banner."""

from __future__ import annotations

from pathlib import Path

from seedstats.data import load

__all__ = ["UsageError", "add_data_arg", "load_data", "banner"]


class UsageError(Exception):
    """A mistake in the command line itself (reported in one line, exit status 2)."""


def add_data_arg(sp) -> None:
    """Add ``--data DIR`` to the sub-command parser ``sp``."""
    sp.add_argument("--data", type=Path, default=None, metavar="DIR",
                    help="normalized dataset (default: the embedded synthetic replica)")


def load_data(args):
    """The dataset ``--data`` names (the embedded replica by default)."""
    return load(args.data)


def banner(ds) -> str:
    """The first line every analysis prints: which data it ran on."""
    return ("data: synthetic replica of the Dodge et al. 2020 release (not the real runs)"
            if ds.synthetic else f"data: {ds.path}")

"""What every verb of the command line shares: the ``--data`` option, loading, the banner."""

from __future__ import annotations

__all__ = ["UsageError", "add_data_arg", "add_score_arg", "load_data", "banner"]


class UsageError(Exception):
    """A mistake in the command line itself (reported in one line, exit status 2)."""


def add_data_arg(sp) -> None:
    """Add ``--data DIR|NAME`` to the sub-command parser ``sp``."""
    sp.add_argument("--data", default=None, metavar="DIR|NAME",
                    help="a dataset directory, or an embedded dataset: replica (the default, "
                         "synthetic) or dodge2020 (real scores digitized from the paper)")


def add_score_arg(sp) -> None:
    """Add ``--score paper|final`` to the sub-command parser ``sp`` (checked by the library,
    :func:`seedstats.data.score_column`, so that parsing imports nothing heavy)."""
    sp.add_argument("--score", default="paper", metavar="paper|final",
                    help="per-trial score of the seed analyses: the paper's (best on the "
                         "regular evaluation grid; default) or the final one")


def load_data(args):
    """The dataset ``--data`` names (the embedded replica by default)."""
    from seedstats.data import load  # pandas: loaded when a command runs, not to parse

    return load(args.data)


def banner(ds) -> str:
    """The first line every analysis prints: which data it ran on."""
    if ds.synthetic:
        return "data: synthetic replica of the Dodge et al. 2020 release (not the real runs)"
    if ds.note:
        return f"data: {ds.note}"
    return f"data: {ds.path}"

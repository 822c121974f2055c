"""What every verb of the command line shares: the ``--data`` option, loading, the banner."""

from __future__ import annotations

__all__ = ["UsageError", "add_data_arg", "add_score_arg", "load_data", "banner"]


class UsageError(Exception):
    """A mistake in the command line itself (reported in one line, exit status 2)."""


def add_data_arg(sp, system: bool = True) -> None:
    """Add ``--data DIR|NAME`` (and ``--system NAME`` unless ``system`` is false) to the
    sub-command parser ``sp``."""
    sp.add_argument("--data", default=None, metavar="DIR|NAME",
                    help="a dataset directory, or an embedded dataset: replica (the default, "
                         "synthetic) or dodge2020 (real scores digitized from the paper)")
    if system:
        sp.add_argument("--system", default=None, metavar="NAME",
                        help="analyse one system of a dataset that holds several")


def add_score_arg(sp) -> None:
    """Add ``--score paper|final`` to the sub-command parser ``sp`` (checked by the library,
    :func:`seedstats.data.score_column`, so that parsing imports nothing heavy)."""
    sp.add_argument("--score", default="paper", metavar="paper|final",
                    help="per-trial score of the seed analyses: the paper's (best on the "
                         "regular evaluation grid; default) or the final one")


def load_data(args, several: bool = False):
    """The dataset ``--data`` names (the embedded replica by default), narrowed to
    ``--system``. Unless ``several``, a dataset of several systems needs ``--system``: the
    seed analyses describe one system at a time."""
    from seedstats.data import load  # pandas: loaded when a command runs, not to parse

    ds = load(args.data)
    system = getattr(args, "system", None)
    if system is not None:
        return ds.select(system=system)
    if not several and len(ds.systems) > 1:
        raise UsageError(f"--data {args.data}: holds {len(ds.systems)} systems "
                         f"({', '.join(ds.systems)}); choose one with --system NAME, or "
                         "compare them with `seedstats compare`")
    return ds


def banner(ds) -> str:
    """The first line every analysis prints: which data it ran on."""
    if ds.meta.get("synthetic_systems") or ds.meta.get("digitized_systems"):
        return f"data: {ds.path} ({ds.note})"
    if ds.synthetic:
        return "data: synthetic replica of the Dodge et al. 2020 release (not the real runs)"
    if ds.note:
        return f"data: {ds.note}"
    return f"data: {ds.path}"

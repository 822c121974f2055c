"""Every figure by name, and :func:`make_all`, which the CLI, the tests and the README use.

``FIGURES`` maps a name (``fig1`` ... ``fig9``, then ours) to a
:class:`~seedstats.figures.spec.FigureSpec` with ``.paper_ref``, ``.title``,
``.caption`` and ``.build(ds) -> matplotlib.figure.Figure``.

Examples
--------
>>> from seedstats.figures.registry import FIGURES
>>> FIGURES["fig2"].paper_ref
'Figure 2'
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from seedstats.errors import SeedstatsError
from seedstats.figures import ours, paper  # noqa: F401  (they register the figures)
from seedstats.figures.spec import SPECS, FigureSpec
from seedstats.figures.tables import write_tables
from seedstats.plots.style import style

__all__ = ["FIGURES", "FigureSpec", "make_all", "write_index", "FORMATS"]

#: Name -> figure, the paper's in order first, then ours.
FIGURES: dict[str, FigureSpec] = dict(
    sorted(SPECS.items(), key=lambda kv: (kv[1].paper_ref == "ours",
                                          kv[1].paper_ref if kv[1].paper_ref != "ours" else "",
                                          list(SPECS).index(kv[0]))))

#: Output formats ``make_all`` writes.
FORMATS = ("png", "pdf", "svg")


def make_all(ds, names=None, out="figures", fmt="png", echo=print, *, tables=None,
             progress=None, score="paper"):
    """Build figures, save them, write the tables and an ``index.md`` with captions.

    A figure the data cannot support (e.g. no WI x DO grid) is reported in one line
    through ``echo`` and the others are still made.

    Parameters
    ----------
    ds : Dataset
        The data (``seedstats.load()``).
    names : sequence of str, optional
        Figures to make, default all of :data:`FIGURES`.
    out : str or Path
        Output directory (created).
    fmt : {"png", "pdf", "svg"}
        File format.
    echo : callable
        Receives one line per file written and per figure that could not be made.
    tables : bool, optional
        Also write the statistics tables (``seedstats.figures.tables.write_tables``).
        Default: when every registered figure is requested (``figures --all``).
    progress : file-like, optional
        Where the progress lines go (default ``sys.stderr``).
    score : {"paper", "final"}, default "paper"
        Per-trial score of the figures and tables of scores (:data:`seedstats.data.SCORES`).

    Returns
    -------
    list of str
        Names of the figures (and ``"tables"``) that could not be made; empty on success.

    Raises
    ------
    ValueError
        An unknown figure name or format.
    """
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"names: unknown figure(s) {', '.join(unknown)}; "
                         f"expected some of {', '.join(FIGURES)}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if tables is None:
        tables = set(FIGURES) <= set(names)
    progress = sys.stderr if progress is None else progress
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    failed, made, table_files = [], [], []
    total = len(names) + bool(tables)
    for i, name in enumerate(names, 1):
        spec = FIGURES[name]
        t0 = time.perf_counter()
        _progress(progress, i, total, name, "...", pending=True)
        try:
            fig = spec.build(ds, score)
        except (SeedstatsError, ValueError) as exc:
            failed.append(name)
            _progress(progress, i, total, name, "failed", time.perf_counter() - t0)
            echo(f"{name}: cannot be made for this data: {exc}")
            continue
        path = out / f"{name}.{fmt}"
        with style():
            fig.savefig(path, format=fmt, metadata=_metadata(fmt, spec))
        skipped = getattr(fig, "seedstats_skipped", {})
        del fig
        made.append((spec, path, skipped))
        _progress(progress, i, total, name, "done", time.perf_counter() - t0)
        echo(f"wrote {path}")
        for task, reason in skipped.items():
            echo(f"{name}: left out task {task}: {reason}")
    if tables:
        t0 = time.perf_counter()
        _progress(progress, total, total, "tables", "...", pending=True)
        try:
            for path, _text in write_tables(ds, out, score=score):
                table_files.append(Path(path))
        except (SeedstatsError, ValueError) as exc:
            failed.append("tables")
            echo(f"tables: cannot be made for this data: {exc}")
        else:
            echo(f"wrote {len(table_files)} table files to {out}")
        _progress(progress, total, total, "tables", "done", time.perf_counter() - t0)
    index = write_index(out, made, table_files, synthetic=bool(getattr(ds, "synthetic", False)),
                        failed=failed, score=score, note=getattr(ds, "note", None))
    echo(f"wrote {index}")
    return failed


def _metadata(fmt, spec):
    title = f"{spec.paper_ref}: {spec.title}"
    if fmt == "png":
        return {"Title": title, "Software": "seedstats"}
    if fmt == "svg":
        return {"Title": title, "Date": None}
    return {"Title": title, "CreationDate": None}


def _progress(stream, i, total, name, state, seconds=None, pending=False):
    """One progress line per item; on a terminal the pending line is overwritten."""
    isatty = getattr(stream, "isatty", None)
    tty = bool(isatty and isatty())
    if pending and not tty:
        return
    width = len(str(total))
    extra = "" if seconds is None else f" ({seconds:.1f} s)"
    line = f"[{i:{width}d}/{total}] {name} {state}{extra}"
    if tty:
        print(f"\r{line}\x1b[K", end="" if pending else "\n", file=stream, flush=True)
    else:
        print(line, file=stream, flush=True)


def _first_heading(path):
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    except OSError:
        return None
    return None


def write_index(out, made, table_files=(), *, synthetic=False, failed=(), score="paper",
                note=None):
    """Write ``index.md``: every file made, with its paper reference and caption.

    Parameters
    ----------
    out : Path
        Directory of the files (links are relative to it).
    made : list of (FigureSpec, Path, dict)
        Figures written, with the tasks each left out (task -> reason).
    table_files : list of Path
        Table files written.
    synthetic : bool
        Whether the data is the synthetic replica (said at the top).
    failed : list of str
        Figures that could not be made (listed at the end).
    score : str
        The score the figures of scores were drawn from (named in their captions).
    note : str, optional
        What the data is when it is not the replica (real scores read from a figure).

    Returns
    -------
    Path
        The index file.
    """
    out = Path(out)
    lines = ["# seedstats figures", ""]
    if synthetic:
        lines += ["Made from the **synthetic replica** of the Dodge et al. (2020) release, "
                  "not from the real runs: the figures show what the tool draws, and the "
                  "numbers only approximate the paper's.", ""]
    elif note:
        lines += [f"Made from {note}.", ""]
    lines += ["Regenerate with `seedstats figures --all` (see `seedstats figures --list`).", ""]
    for spec, path, skipped in made:
        rel = Path(path).name
        lines += [f"## {spec.name}: {spec.title} ({spec.paper_ref})", "",
                  f"![{spec.name}]({rel})" if rel.endswith((".png", ".svg"))
                  else f"[{rel}]({rel})", "", spec.caption_for(score), ""]
        for task, reason in skipped.items():
            lines += [f"*Task {task} left out: {reason}*", ""]
    if table_files:
        lines += ["## Tables", ""]
        for p in table_files:
            p = Path(p)
            rel = p.relative_to(out) if p.is_relative_to(out) else p
            title = _first_heading(p) or p.stem
            csv = p.with_suffix(".csv")
            extra = f" ([CSV]({csv.name}))" if csv.exists() and p.parent == out else ""
            lines.append(f"- [{title}]({rel}){extra}")
        lines.append("")
    if failed:
        lines += ["## Not made for this data", "", *[f"- {n}" for n in failed], ""]
    path = out / "index.md"
    path.write_text("\n".join(lines))
    return path

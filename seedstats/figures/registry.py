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

import io
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from seedstats.data.store import writing_file
from seedstats.errors import SeedstatsError
from seedstats.figures import ours, paper  # noqa: F401  (they register the figures)
from seedstats.figures.spec import SPECS, FigureSpec
from seedstats.figures.tables import write_tables
from seedstats.plots.style import style

__all__ = ["FIGURES", "FigureSpec", "make_all", "build_order", "write_index", "FORMATS"]

#: Name -> figure, the paper's in order first, then ours.
FIGURES: dict[str, FigureSpec] = dict(
    sorted(SPECS.items(), key=lambda kv: (kv[1].paper_ref == "ours",
                                          kv[1].paper_ref if kv[1].paper_ref != "ours" else "",
                                          list(SPECS).index(kv[0]))))

#: Output formats ``make_all`` writes.
FORMATS = ("png", "pdf", "svg")


def make_all(ds, names=None, out="figures", fmt="png", echo=print, *, tables=None,
             progress=None, score="paper", jobs=1):
    """Build figures, save them, write the tables and an ``index.md`` with captions.

    A figure the data cannot support (e.g. no WI x DO grid) is reported in one line
    through ``echo`` and the others are still made. Every file is written atomically (a
    hidden temporary file beside it, then renamed): a crash leaves the old file or the new
    one, never half of one.

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
        Receives one line per file written and per figure that could not be made, in the
        order of ``names`` whatever ``jobs`` is.
    tables : bool, optional
        Also write the statistics tables (``seedstats.figures.tables.write_tables``).
        Default: when every registered figure is requested (``figures --all``).
    progress : file-like, optional
        Where the progress lines go (default ``sys.stderr``).
    score : {"paper", "final"}, default "paper"
        Per-trial score of the figures and tables of scores (:data:`seedstats.data.SCORES`).
    jobs : int, default 1
        Processes to build in (Linux only, by forking, so the data is not copied or read
        again; elsewhere 1), each taking the next figure when it is done (in
        :func:`build_order`). Figures that share the early-stopping search read it from its
        cache once one of them has run it. The files are the same whatever ``jobs`` is.

    Returns
    -------
    list of str
        Names of the figures (and ``"tables"``) that could not be made; empty on success.

    Raises
    ------
    ValueError
        An unknown figure name or format, or ``jobs`` < 1.
    """
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"names: unknown figure(s) {', '.join(unknown)}; "
                         f"expected some of {', '.join(FIGURES)}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs: expected an integer >= 1, got {jobs!r}")
    if tables is None:
        tables = set(FIGURES) <= set(names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = [*names, *(["tables"] if tables else [])]
    job = _Job(out, fmt, score, {n: i for i, n in enumerate(items, 1)}, progress)
    jobs = min(jobs, len(items)) if sys.platform.startswith("linux") else 1
    if jobs > 1:
        outcomes = _in_processes(ds, job, build_order(items), jobs)
    else:
        outcomes = {name: job.make(ds, name) for name in items}

    failed, made, table_files = [], [], []
    for name in items:
        o = outcomes[name]
        for line in o.lines:
            echo(line)
        if o.error is not None:
            failed.append(name)
        elif name == "tables":
            table_files = [Path(p) for p in o.files]
        else:
            made.append((FIGURES[name], Path(o.files[0]), o.skipped))
    index = write_index(out, made, table_files, synthetic=bool(getattr(ds, "synthetic", False)),
                        failed=failed, score=score, note=getattr(ds, "note", None))
    echo(f"wrote {index}")
    return failed


def build_order(items) -> list[str]:
    """The order in which parallel workers take the figures (and ``"tables"``): the ones that
    run the early-stopping searches first (``halving``, then Figure 6), since they take the
    longest, so the others fill the remaining time of every worker.

    Examples
    --------
    >>> build_order(["fig1", "fig6", "fig7", "halving", "tables"])
    ['halving', 'fig6', 'fig1', 'fig7', 'tables']
    """
    first = [n for n in ("halving", "fig6") if n in items]
    return first + [n for n in items if n not in first]


@dataclass
class _Outcome:
    files: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)
    error: str | None = None


@dataclass
class _Job:
    """What every item of one ``make_all`` call needs (picklable, so a worker can run it)."""

    out: Path
    fmt: str
    score: str
    index: dict
    progress: object = None

    def make(self, ds, name) -> _Outcome:
        stream = sys.stderr if self.progress is None else self.progress
        i, total = self.index[name], len(self.index)
        t0 = time.perf_counter()
        _progress(stream, i, total, name, "...", pending=True)
        o = _Outcome()
        try:
            if name == "tables":
                self._tables(ds, o)
            else:
                self._figure(ds, name, o)
        except (SeedstatsError, ValueError) as exc:
            o.error = str(exc)
            o.lines.append(f"{name}: cannot be made for this data: {exc}")
        state = "failed" if o.error is not None else "done"
        _progress(stream, i, total, name, state, time.perf_counter() - t0)
        return o

    def _figure(self, ds, name, o):
        spec = FIGURES[name]
        fig = spec.build(ds, self.score)
        path = self.out / f"{name}.{self.fmt}"
        with style(), writing_file(path) as tmp:
            fig.savefig(tmp, format=self.fmt, metadata=_metadata(self.fmt, spec))
        o.files.append(str(path))
        o.skipped = dict(getattr(fig, "seedstats_skipped", {}))
        o.lines.append(f"wrote {path}")
        o.lines += [f"{name}: left out task {task}: {reason}" for task, reason in
                    o.skipped.items()]

    def _tables(self, ds, o):
        o.files = [str(path) for path, _text in write_tables(ds, self.out, score=self.score)]
        o.lines.append(f"wrote {len(o.files)} table files to {self.out}")


# The data and the job of the ``make_all`` call that forks the workers: a forked worker
# inherits them, so the data is neither pickled nor read again.
_FORKED = {}


def _make_forked(name):
    job = _FORKED["job"]
    if job.progress is None:  # standard error, shared with the parent: written as it goes
        return name, job.make(_FORKED["ds"], name), ""
    buf = io.StringIO()  # the caller's stream lives in the parent: sent back with the outcome
    return name, replace(job, progress=buf).make(_FORKED["ds"], name), buf.getvalue()


def _in_processes(ds, job, names, jobs) -> dict:
    # No warm-up before forking: each worker imports what its figures need (scipy.stats,
    # the Agg backend) while the other one already computes; importing them first in the
    # parent would make everyone wait for it (measured: 1.2 s longer in all).
    _FORKED.update(ds=ds, job=job)
    try:
        ctx = multiprocessing.get_context("fork")
        outcomes = {}
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            for name, outcome, progress in pool.map(_make_forked, names):
                outcomes[name] = outcome
                if progress:
                    job.progress.write(progress)
        return outcomes
    finally:
        _FORKED.clear()


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
    with writing_file(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path

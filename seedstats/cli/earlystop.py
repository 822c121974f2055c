"""``seedstats earlystop``: run the budget search per task, write the tables, print the best.

Thin over :func:`seedstats.earlystop.budget_search_tasks` (:func:`budget_search` for
several tasks, sharing the Monte Carlo draws): it calls the public function, writes
``assignments`` and ``best`` as Parquet and CSV under ``--out``, prints the best-per-budget
table and shows a progress bar on standard error. Results go through the content-addressed
cache, so ``seedstats figures`` reuses them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from seedstats.cli.common import add_data_arg, banner, load_data
from seedstats.errors import SeedstatsError

__all__ = ["register", "cmd_earlystop", "ProgressBar", "write_tables"]


class ProgressBar:
    """A one-line text progress bar on a stream (standard error by default).

    Call it as ``bar(done, total)``; it redraws at most every ``interval`` seconds and at the
    end, and :meth:`close` ends the line.
    """

    def __init__(self, label: str = "", stream=None, width: int = 30, interval: float = 0.2):
        self.label, self.width, self.interval = label, width, interval
        self.stream = stream if stream is not None else sys.stderr
        self._last = 0.0
        self._done = None
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if (done < total and now - self._last < self.interval) or done == self._done:
            return
        self._last, self._done = now, done
        frac = done / total if total else 1.0
        n = int(round(frac * self.width))
        self.stream.write(f"\r{self.label} [{'#' * n}{'.' * (self.width - n)}] "
                          f"{100 * frac:5.1f}% ({done}/{total})")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def write_tables(out, assignments, best) -> list[Path]:
    """Write both tables as Parquet and CSV into the directory ``out``, as a whole.

    The four files are written into a temporary directory and swapped in together
    (``seedstats.data.store.writing_directory``): a crash leaves the previous four or the new
    four, never a mix. A directory holding other (non-hidden) files is refused.

    Returns
    -------
    list of Path
        ``assignments.parquet``, ``assignments.csv``, ``best.parquet``, ``best.csv``.
    """
    from seedstats.data import store

    out = Path(out)
    names = [f"{n}.{ext}" for n in ("assignments", "best") for ext in ("parquet", "csv")]
    with store.writing_directory(out, "--out", overwrite=True,
                                 is_ours=lambda p: p.name in names) as tmp:
        for name, df in (("assignments", assignments), ("best", best)):
            df = df.copy()
            df.attrs = {}
            df.to_parquet(tmp / f"{name}.parquet", index=False)
            df.to_csv(tmp / f"{name}.csv", index=False)
    return [out / n for n in names]


_SHOW = ["budget", "t", "p", "k", "f", "expected", "se", "baseline", "error_reduction",
         "confidence", "n_close"]
_FORMAT = {"f": "{:.3f}".format, "expected": "{:.5f}".format, "se": "{:.1e}".format,
           "baseline": "{:.5f}".format, "error_reduction": "{:.4f}".format,
           "confidence": "{:.3f}".format}


def cmd_earlystop(args) -> int:
    """Run ``seedstats earlystop``; returns the exit status (0)."""
    from seedstats.earlystop import as_curves, budget_search_tasks

    ds = load_data(args)
    print(banner(ds))
    tasks = list(args.task) if getattr(args, "task", None) else list(ds.tasks)
    unknown = [t for t in tasks if t not in ds.tasks]
    if unknown:
        raise SeedstatsError(f"--task: unknown task {', '.join(unknown)}; the data holds "
                             f"{', '.join(ds.tasks)}")
    if not args.exact and args.samples < 2:
        raise SeedstatsError(f"--samples: expected at least 2, got {args.samples}")
    if args.max_budget < 1:
        raise SeedstatsError(f"--max-budget: expected at least 1, got {args.max_budget}")
    if args.seed < 0:
        raise SeedstatsError(f"--seed: expected an integer >= 0, got {args.seed}")
    bar = ProgressBar(f"earlystop {', '.join(tasks)}")
    try:
        a, b = budget_search_tasks(ds, tasks, samples=args.samples, exact=args.exact,
                                   rng=args.seed, max_budget=args.max_budget,
                                   n_points=args.n_points, progress=bar,
                                   missing="drop" if args.drop_incomplete else "raise")
    except (ValueError, TypeError) as exc:
        raise SeedstatsError(str(exc).replace("pass missing='drop'", "pass --drop-incomplete")
                             ) from None
    finally:
        bar.close()
    if args.drop_incomplete:
        for task in tasks:
            gone = as_curves(ds, task, n_points=args.n_points, missing="drop").dropped
            if gone:
                shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5
                                               else "")
                print(f"note: task {task!r}: left out {len(gone)} trial(s) without a score at "
                      f"every evaluation point: {shown}", file=sys.stderr)
    how = "exact" if args.exact else f"Monte Carlo, {args.samples} samples, seed {args.seed}"
    for task in tasks:
        bt = b[b["task"] == task]
        print(f"\n{task}: best early-stopping assignment per budget ({how}; "
              f"{int((a['task'] == task).sum())} assignments)")
        print(bt[_SHOW].to_string(index=False, formatters=_FORMAT))
        close = bt[bt["confidence"] < 0.95]
        if len(close) and args.exact:
            print(f"  budgets {', '.join(map(str, close['budget']))}: the best ties exactly "
                  f"with the runner-up")
        elif len(close):
            print(f"  budgets {', '.join(map(str, close['budget']))}: the best is within "
                  f"Monte Carlo noise of the runner-up (confidence < 0.95)")
    for path in write_tables(args.out, a, b):
        print(f"wrote {path}")
    return 0


def register(sub) -> None:
    """Add ``earlystop`` to ``sub`` (an ``add_subparsers`` object)."""
    sp = sub.add_parser("earlystop", help="the early-stopping simulator (Section 5)")
    add_data_arg(sp)
    sp.add_argument("--task", action="append", help="task(s); default: all")
    sp.add_argument("--samples", type=int, default=50_000)
    sp.add_argument("--max-budget", type=int, default=30)
    sp.add_argument("--n-points", type=int, default=None, metavar="K",
                    help="evaluation points per trial (default 30, the paper's; or all the "
                         "steps the trials share when a sweep logged fewer)")
    sp.add_argument("--exact", action="store_true", help="exact expectation, no sampling")
    sp.add_argument("--drop-incomplete", action="store_true",
                    help="leave out trials without a score at every evaluation point (killed "
                         "or failed runs), listed in a note, instead of stopping")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", type=Path, default=Path("earlystop"), metavar="DIR")
    sp.set_defaults(func=cmd_earlystop)

"""Benchmark seedstats.stats.expected_max against its targets.

Targets: the whole curve n = 1..N at N = 5,000 in <= 0.1 s; one n at N = 1,000,000 in <= 0.5 s;
10,000 bootstrap resamples at N = 625 in <= 1 s. Every timing is the median of several runs
(``time.perf_counter``), and every ratio is against a baseline measured in the same run:

- ``loop``: an O(N^2) pure-Python loop in the style of allentune's / Show Your Work's
  ``samplemax`` (with-replacement weights ``(i/N)**n - ((i-1)/N)**n``, summed in Python). It
  computes only the mean curve (allentune also runs a second O(N^2) loop for the spread), so the
  ratios understate the gap. Timed at N = 1,000 (median of 3) and, with ``--full-baseline``, once at
  N = 5,000 (about 10 s); without that flag the N = 5,000 figure is extrapolated as 25x the
  N = 1,000 time (the loop is exactly quadratic) and labelled as such.
- ``naive bootstrap``: resample with ``Generator.choice`` and call ``expected_max`` on each
  resample, timed on 500 resamples and scaled to 10,000 (linear in resamples; labelled).

Run from the repository root::

    /work/venv/bin/python benchmarks/bench_expected_max.py [--repeat 7] [--full-baseline]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from seedstats.stats.expected_max import expected_max, expected_max_curve

__all__ = ["loop_samplemax", "main"]


def loop_samplemax(scores):
    """Expected max for n = 1..N with an O(N^2) pure-Python double loop (allentune style)."""
    xs = sorted(float(v) for v in scores)
    size = len(xs)
    means = []
    for n in range(1, size + 1):
        previous = 0.0
        total = 0.0
        for i in range(1, size + 1):
            cdf = (i / size) ** n
            total += xs[i - 1] * (cdf - previous)
            previous = cdf
        means.append(total)
    return means


def _median_time(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _fmt(seconds):
    return f"{seconds * 1e3:9.2f} ms" if seconds < 1 else f"{seconds:9.3f} s "


def _line(label, seconds, repeat, target=None, extra=""):
    verdict = ""
    if target is not None:
        verdict = f"  target <= {target:g} s: {'PASS' if seconds <= target else 'FAIL'}"
    print(f"{label:<62s} median {_fmt(seconds)} ({repeat} runs){verdict}{extra}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per timing (median)")
    parser.add_argument(
        "--full-baseline", action="store_true",
        help="also time the O(N^2) loop once at N = 5,000 (a few seconds)",
    )
    args = parser.parse_args(argv)
    repeat = args.repeat
    gen = np.random.default_rng(0)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")

    # 1. the whole curve n = 1..N
    x1000 = gen.normal(0.8, 0.05, 1000)
    x5000 = gen.normal(0.8, 0.05, 5000)
    t_loop_1000, loop_curve = _median_time(lambda: loop_samplemax(x1000), 3)
    _line("baseline loop, curve n=1..1,000", t_loop_1000, 3)
    t_ours_1000, ours_1000 = _median_time(lambda: expected_max(x1000), repeat)
    _line("expected_max curve n=1..1,000, replace=True", t_ours_1000, repeat,
          extra=f"  loop/ours = {t_loop_1000 / t_ours_1000:,.0f}x")
    diff = np.max(np.abs(np.asarray(loop_curve) - ours_1000))
    print(f"{'':<62s} max |loop - ours| over the curve = {diff:.2e}")
    for replace in (True, False):
        t, _ = _median_time(lambda: expected_max(x5000, replace=replace), repeat)
        if args.full_baseline and replace:
            t_loop_5000, _ = _median_time(lambda: loop_samplemax(x5000), 1)
            _line("baseline loop, curve n=1..5,000 (measured once)", t_loop_5000, 1)
            ratio = f"  loop/ours = {t_loop_5000 / t:,.0f}x (loop measured at N=5,000)"
        else:
            ratio = (f"  loop/ours = {25 * t_loop_1000 / t:,.0f}x "
                     f"(loop extrapolated: 25 x its N=1,000 time)")
        _line(f"expected_max curve n=1..5,000, replace={replace}", t, repeat, 0.1, ratio)

    # 2. one n at N = 1,000,000 (validation, sort and weights included)
    x_big = gen.normal(0.8, 0.05, 1_000_000)
    for replace in (True, False):
        t, _ = _median_time(lambda: expected_max(x_big, 100, replace=replace), repeat)
        _line(f"expected_max one n=100, N=1,000,000, replace={replace}", t, repeat, 0.5)

    # 3. bootstrap: 10,000 resamples at N = 625
    x625 = gen.normal(0.8, 0.05, 625)
    boot_repeat = max(3, repeat // 2)
    naive_b = 500

    def naive_bootstrap():
        rng = np.random.default_rng(1)
        return [expected_max(rng.choice(x625, x625.size), 10) for _ in range(naive_b)]

    t_naive, _ = _median_time(naive_bootstrap, 3)
    t_naive_10k = t_naive * 10_000 / naive_b
    _line("baseline naive bootstrap, one n, 10,000 (scaled from 500)", t_naive_10k, 3)
    for label, n in (("one n=10", 10), ("all 625 budgets", None)):
        for replace in (True, False):
            t, _ = _median_time(
                lambda: expected_max_curve(x625, n, replace=replace, n_boot=10_000, rng=0),
                boot_repeat,
            )
            extra = f"  naive/ours = {t_naive_10k / t:,.0f}x" if n == 10 else ""
            _line(f"curve+bootstrap 10,000 resamples, N=625, {label}, replace={replace}",
                  t, boot_repeat, 1.0, extra)


if __name__ == "__main__":
    main()

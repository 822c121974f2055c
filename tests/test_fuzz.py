"""The fuzzing harness (``benchmarks/fuzz_readers.py``) on a few dozen cases per format.

Mutated inputs of every format it covers (truncations, byte flips, deleted and duplicated
lines, huge, negative, NaN and malformed numbers, deep nesting, empty and binary files, file
names that are not UTF-8) must end in a dataset or in a one-line error: never a traceback or a
hang. The script itself runs thousands (``--cases 2000``); this runs it in a child process
under its memory limit, so a memory bomb cannot take the test run with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_readers.py"


def test_mutated_inputs_end_in_a_dataset_or_one_line(tmp_path):
    out = tmp_path / "fuzz.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--cases", "40", "--seed", "3",
                          "--json", str(out)], capture_output=True, text=True, timeout=900)
    report = json.loads(out.read_text())
    assert report["failures"] == [], res.stdout[-3000:]
    assert res.returncode == 0
    for fmt, counts in report["counts"].items():
        assert sum(counts.values()) == 40, fmt
        # both outcomes occur: the harness really damages inputs, and not all of them fatally
        assert counts["ok"] > 0 and counts["error"] > 0, (fmt, counts)


def test_a_mutation_is_seeded():
    import random

    sys.path.insert(0, str(SCRIPT.parent))
    import fuzz_readers

    data = b'{"step": 10, "value": 0.5}\n{"step": 20, "value": 0.25}\n'
    a = [fuzz_readers.mutate(data, random.Random(5), True) for _ in range(3)]
    b = [fuzz_readers.mutate(data, random.Random(5), True) for _ in range(3)]
    assert a == b


def test_the_independent_counts_equal_the_key_reports_on_valid_inputs(tmp_path):
    """The silent-loss check compares these two numbers: on intact inputs they must agree
    exactly, so that one value lost on a damaged input shows."""
    sys.path.insert(0, str(SCRIPT.parent))
    import fuzz_readers

    from seedstats.data import ingest

    for fmt in fuzz_readers.COUNTERS:
        d = tmp_path / fmt
        d.mkdir()
        make, name, opts = fuzz_readers.SOURCES[fmt]
        src = make(d)
        ds, rep = ingest(src, format=name, options=opts)
        n = fuzz_readers.count_values(fmt, src)
        assert n is not None and n > 0, fmt
        assert int(rep.keys["values"].sum()) == n, fmt

"""Property tests (hypothesis) of the sweep readers' pure functions: whatever they are given,
they account for every value, keep the right one, never raise other than a clear error, and
never echo more than a short excerpt."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedstats.data.formats.base import excerpt
from seedstats.data.formats.sweeps import (
    ROLES,
    SeedPattern,
    Series,
    classify_keys,
    read_flat_yaml,
    series_from_rows,
    split_keys,
    wide_columns,
)
from seedstats.errors import ParseError

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                max_size=12)


@FAST
@given(st.one_of(st.text(max_size=5000), st.binary(max_size=5000), st.integers(),
                 st.floats(allow_nan=True)), st.integers(min_value=8, max_value=200))
def test_an_excerpt_is_short_whatever_the_value(value, limit):
    assert len(excerpt(value, limit)) <= limit


@FAST
@given(st.integers(min_value=0, max_value=10 ** 12), st.sampled_from(["", "runs/", "a_b/x-"]),
       st.sampled_from(["", "_lr0.1", "/version_0", ",lr=2"]))
def test_a_seed_pattern_finds_its_seed_where_a_name_starts(n, head, tail):
    assert SeedPattern("seed{seed}").match(f"{head}seed{n}{tail}") == {"seed": n}
    assert SeedPattern("seed{seed}").match(f"{head}seed={n}{tail}") == {"seed": n}
    assert SeedPattern("seed{seed}").match(f"{head}dataseed{n}{tail}") is None


@FAST
@given(st.text(max_size=400))
def test_flat_yaml_reads_any_text_into_strings_and_ints(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("y") / "h.yaml"
    f.write_text(text, encoding="utf-8")
    out = read_flat_yaml(f)
    assert all(isinstance(k, str) for k in out)
    assert all(v is None or isinstance(v, (str, int)) for v in out.values())


steps_values = st.lists(st.tuples(st.integers(0, 30), st.floats(-1e6, 1e6)), max_size=60)


@FAST
@given(steps_values, st.sampled_from(["last", "first"]))
def test_dedupe_keeps_one_value_per_step_the_chosen_one(pairs, keep):
    s = Series.of([g for g, _ in pairs], [v for _, v in pairs])
    d, set_aside, differ = s.deduped(keep)
    assert list(d.g) == sorted(set(d.g))                        # sorted, one per step
    assert set_aside == len(pairs) - len(set(g for g, _ in pairs))
    chosen = {}
    for g, v in (pairs if keep == "last" else reversed(pairs)):
        chosen[g] = v
    assert dict(zip(d.g.tolist(), d.v.tolist())) == chosen
    assert differ <= set_aside


@FAST
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.just(2.5)
                | st.just(2 ** 60), min_size=1, max_size=5))
def test_steps_are_never_truncated(steps):
    bad = any(not float(g).is_integer() or abs(g) >= 2 ** 53 for g in steps)
    if bad:
        with pytest.raises(ValueError, match="steps: expected whole numbers"):
            Series.of(steps, [0.0] * len(steps))
    else:
        assert Series.of(steps, [0.0] * len(steps)).g.tolist() == [int(g) for g in steps]


json_values = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
                        st.lists(st.integers(), max_size=2))
rows = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), json_values,
                                max_size=4), max_size=20)


@FAST
@given(rows)
def test_rows_of_json_account_for_every_value(data):
    try:
        series, other = series_from_rows(data, list(range(len(data))), "f.json")
    except ParseError as exc:  # text in a key of numbers: one line, naming the row
        assert "\n" not in str(exc) and "expected a number" in str(exc)
        return
    assert (sum(len(s.v) for s in series.values()) + sum(other.values())
            == sum(len(r) for r in data))
    for k, s in series.items():
        logged = [r[k] for r in data if k in r]
        want = [math.nan if v is None else float(v) for v in logged]
        np.testing.assert_array_equal(s.v, np.array(want, dtype=float))


cells = st.one_of(st.just(""), st.just("nan"), st.floats(allow_nan=False, width=32).map(repr))


@FAST
@given(st.lists(st.tuples(st.integers(0, 100), cells, cells), min_size=1, max_size=30))
def test_a_wide_csv_reads_every_non_empty_cell(tmp_path_factory, table):
    f = tmp_path_factory.mktemp("w") / "metrics.csv"
    with open(f, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "val_acc", "train_loss"])
        w.writerows(table)
    series = wide_columns(f, "step")
    n_cells = sum(bool(x) for _, *r in table for x in r)
    assert sum(len(s.v) for s in series.values()) == n_cells
    for j, key in ((1, "val_acc"), (2, "train_loss")):
        want = [(g, float(r[j - 1])) for g, *r in table if r[j - 1]]
        got = list(zip(series[key].g.tolist(), series[key].v.tolist())) if key in series else []
        assert [(g, v) if v == v else (g, "nan") for g, v in got] == \
            [(g, v) if v == v else (g, "nan") for g, v in want]


log_keys = st.lists(st.sampled_from(
    ["eval_accuracy", "eval_loss", "loss", "train_loss", "learning_rate", "epoch", "val_f1",
     "test_accuracy", "grad_norm", "Loss/train", "Accuracy/val", "custom", "eval_runtime"]),
    unique=True, min_size=1)


@FAST
@given(log_keys)
def test_every_key_gets_exactly_one_role(keys):
    try:
        prefix, found = split_keys(keys, None, "src")
    except ParseError:
        return  # several evaluation prefixes: a clear error asking for --metric
    train = next((k for k in ("loss", "train_loss", "train/loss", "Loss/train") if k in keys),
                 None)
    roles = classify_keys(keys, found, train, prefix)
    assert set(roles) == set(keys)
    assert all(role in ROLES for role, _ in roles.values())
    assert not any(roles[k][0].startswith("validation") for k in
                   ("learning_rate", "epoch", "grad_norm", "eval_runtime") if k in keys)

"""The authors' raw text logs: parsing, timestamps, truncation, errors, round trips."""

import ast
import re

import numpy as np
import pytest
from test_release import assert_same_tables, make_dataset

from seedstats.data.formats import rawlog
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.data.records import TrialRecord
from seedstats.errors import DataError, ParseError

TS = "2019-11-02T17:03:11.123456Z "


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


@pytest.fixture
def raw(tmp_path, ds):
    rawlog.write_rawlogs(ds, tmp_path / "raw")
    return tmp_path / "raw"


def text_of(raw, name="rte_wi1_do1.txt"):
    return (raw / name).read_text()


def one(tmp_path, text, name="t.txt"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return rawlog.read_file(p)


def literal_values(line):
    """Independent parse of a value line: ast.literal_eval (nan -> None -> NaN)."""
    line = line.replace("np.float64(", "").replace(")", "").replace("nan", "None")
    return ast.literal_eval(line)


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("numpy2_floats", [False, True])
def test_round_trip_gives_the_same_tables(tmp_path, ds, numpy2_floats):
    out = rawlog.write_rawlogs(ds, tmp_path / "raw", numpy2_floats=numpy2_floats)
    assert out == tmp_path / "raw"
    files = rawlog.log_files(out)
    assert [f.name for f in files[:2]] == ["mrpc_wi1_do1.txt", "mrpc_wi1_do2.txt"]
    ds2, rep = ingest(tmp_path / "raw")
    assert ds2.meta["provenance"]["format"] == "rawlog"
    assert_same_tables(ds, ds2)
    assert int(rep.per_task["incomplete"].sum()) == 1
    if numpy2_floats:
        assert "np.float64(" in files[0].read_text()


def test_layout_of_a_written_log(raw):
    lines = text_of(raw).splitlines()
    assert set(lines[0]) == {"="}
    assert lines[1:6] == ["final results", "task: rte", "init seed: 1", "data order seed: 1",
                          "the losses at each train step:"]
    assert lines.index("metric: loss") < lines.index("metric: acc")
    assert lines[-2] == "indices of examples in batches:"
    assert lines[-1].startswith("[[") and lines[-1].endswith("]]")
    # incomplete trial: no after lines, no indices block
    inc = text_of(raw, "rte_wi3_do2.txt")
    assert "after training" not in inc and "indices" not in inc


def test_counts_equal_the_number_of_values_in_the_input(raw):
    evals, losses = {}, {}
    for f in raw.iterdir():
        lines = f.read_text().splitlines()
        task = lines[2].split(": ")[1]
        for i, ln in enumerate(lines):
            if ln == "the losses at each train step:":
                losses[task] = losses.get(task, 0) + len(literal_values(lines[i + 1]))
            elif ln.endswith("throughout training:"):
                evals[task] = evals.get(task, 0) + len(literal_values(lines[i + 1]))
            elif ln.endswith(("of initialized model:", "after training:")):
                evals[task] = evals.get(task, 0) + 1
    _, rep = ingest(raw)
    assert rep.per_task["evals"].to_dict() == evals
    assert rep.per_task["loss_steps"].to_dict() == losses
    assert rep.per_task["nan_values"].to_dict() == {"mrpc": 2, "rte": 0}


def test_writer_is_deterministic_and_ignores_the_global_seed(tmp_path, ds):
    np.random.seed(1)
    a = [f.read_bytes() for f in rawlog.log_files(rawlog.write_rawlogs(ds, tmp_path / "a"))]
    np.random.seed(2)
    b = [f.read_bytes() for f in rawlog.log_files(rawlog.write_rawlogs(ds, tmp_path / "b"))]
    assert len(a) == 18
    assert a == b


# --- tolerated variations ------------------------------------------------------------------


def test_timestamps_anywhere_and_train_examples_number(tmp_path, raw, ds):
    out = tmp_path / "ts"
    out.mkdir()
    for f in raw.iterdir():
        lines = f.read_text().splitlines()
        stamped = []
        for ln in lines:
            if len(ln) > 40:  # the collector cut long lines, even inside a number
                dot = ln.find(".", len(ln) // 2)
                cut = dot + 2 if dot > 0 else len(ln) // 2
                ln = ln[:cut] + TS + ln[cut:]
            stamped.append(TS + ln if ln else ln)
        stamped.insert(5, TS + "train_examples_number: 2490")
        (out / f.name).write_text("\n".join(stamped) + "\n")
    assert rawlog.detect(out)
    ds2, _ = ingest(out)
    assert_same_tables(ds, ds2)


def test_strip_timestamps():
    assert rawlog.strip_timestamps(f"{TS}[0.1, 0.{TS}25]") == "[0.1, 0.25]"
    assert rawlog.strip_timestamps("2019-11-02T17:03:11Z task: rte") == "task: rte"
    assert rawlog.strip_timestamps("task: rte") == "task: rte"


@pytest.mark.parametrize("seed", range(5))
def test_fast_timestamp_stripping_agrees_with_the_regex(seed):
    rng = np.random.default_rng(seed)
    stamps = [TS, "2019-11-02T17:03:11Z", "2019-11-02T17:03:11.5Z  ", "12019-01-01T00:00:00Z "]
    for _ in range(20):
        line = rawlog._fmt_list(rng.random(int(rng.integers(10, 60))), bool(rng.integers(2)))
        for _ in range(int(rng.integers(0, 5))):
            at = int(rng.integers(0, len(line) + 1))
            piece = stamps[int(rng.integers(len(stamps)))] if rng.random() < 0.8 else "Z"
            line = line[:at] + piece + line[at:]
        assert rawlog.strip_timestamps(line) == rawlog._TIMESTAMP.sub("", line), line


@pytest.mark.parametrize("line", ["[0.5,, 0.3]", "[0.5, , 0.3]", "[0.5, 1e, 0.3]",
                                  "[0.5 0.3]", "[0.5, 0.3", "[[0.5], 0.3]", '["0.5", 0.3]',
                                  "[0.5, 0.3,]", "[true, 0.3]"])
def test_fast_list_parser_rejects_what_json_rejects(line):
    assert rawlog._arrow_floats(line) is None
    with pytest.raises(rawlog._Bad):
        rawlog._flat(line)


@pytest.mark.parametrize("seed", range(5))
def test_fast_list_parser_agrees_with_literal_eval(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(200) * 10.0 ** rng.integers(-8, 8, 200)
    x[rng.integers(0, 200, 5)] = np.nan
    x[rng.integers(0, 200, 2)] = np.inf
    x[rng.integers(0, 200, 2)] = -np.inf
    for np2 in (False, True):
        line = rawlog._fmt_list(x, np2)
        ref = np.array([np.nan if v is None else v for v in literal_values(
            line.replace("inf", "1e999"))], dtype=float)
        got = rawlog._flat(line)
        assert np.array_equal(rawlog._arrow_floats(rawlog._unwrap(line)), got, equal_nan=True)
        assert np.array_equal(got, ref, equal_nan=True) and np.array_equal(got, x,
                                                                           equal_nan=True)
        steps = np.sort(rng.integers(0, 10**6, 200))
        s, v = rawlog._pairs(rawlog._fmt_pairs(steps, x, np2))
        assert np.array_equal(s, steps) and np.array_equal(v, x, equal_nan=True)


def test_indices_line_is_never_parsed(tmp_path, raw):
    text = text_of(raw).encode()
    head, _, _ = text.rpartition(b"indices of examples in batches:\n")
    rec = one(tmp_path, head + b"indices of examples in batches:\n[[1, 2], [\xff\xfe garbage\n")
    assert rec.complete and rec.wi_seed == 1 and len(rec.train_loss) == 50


def test_nan_and_numpy2_scalars(tmp_path, raw):
    text = text_of(raw).splitlines()
    i = text.index("validation acc after training:")
    text[i + 1] = "np.float64(nan)"
    j = text.index("validation acc of initialized model:")
    text[j + 1] = "np.float64(0.125)"
    rec = one(tmp_path, "\n".join(text) + "\n")
    assert np.isnan(rec.curves["acc"].after) and rec.curves["acc"].before == 0.125


def test_unknown_task_with_one_metric(tmp_path, raw):
    text = text_of(raw).replace("task: rte", "task: boolq")
    ds, _ = ingest(_dir(tmp_path, {"b.txt": text}))
    assert ds.trials["metric"].tolist() == ["acc"] and ds.trials["task"].tolist() == ["boolq"]


def _dir(tmp_path, files, name="d"):
    d = tmp_path / name
    d.mkdir()
    for k, v in files.items():
        (d / k).write_text(v)
    return d


# --- truncated runs ------------------------------------------------------------------------


def test_truncated_logs_are_kept_incomplete_with_what_they_hold(tmp_path, raw):
    full = text_of(raw, "rte_wi2_do2.txt")
    ref = one(tmp_path, full, "ref.txt")
    assert ref.complete
    lines = full.splitlines()
    loss_line = lines[lines.index("the losses at each train step:") + 1]
    cuts = {
        "mid train loss": full.index(loss_line) + len(loss_line) // 2,
        "mid during pairs": full.index("[[0, ", full.index("metric: acc")) + 30,
        "right after a pair": full.index("], [", full.index("metric: acc")) + 1,
        "after the loss block": full.index("metric: acc"),
        "mid after value": full.index("validation acc after training:\n") + 36,
        "before indices": full.index("indices of examples"),
        "after indices header": full.index("indices of examples") + 32,
    }
    for what, at in cuts.items():
        rec = one(tmp_path, full[:at], f"{what}.txt")
        assert not rec.complete, what
        assert (rec.task, rec.wi_seed, rec.do_seed) == ("rte", 2, 2)
        # what was read is a prefix of the full log, value by value
        n = len(rec.train_loss)
        assert np.array_equal(rec.train_loss, ref.train_loss[:n]), what
        for name, c in rec.curves.items():
            k = len(c.values)
            assert np.array_equal(c.values, ref.curves[name].values[:k]), what
            assert c.before == ref.curves[name].before, what
        if what == "mid train loss":
            assert 0 < n < 50 and rec.curves == {} and rec.flags == ["cut_line"]
        if what == "right after a pair":
            assert len(rec.curves["acc"].values) == 1 and rec.flags == ["cut_line"]
        if what == "mid during pairs":
            assert 0 < len(rec.curves["acc"].values) < 6 and rec.curves["acc"].after is None
        if what == "mid after value":
            assert rec.curves["acc"].after is None  # a cut-off number is dropped
        if what in ("before indices", "after indices header"):
            assert rec.curves["acc"].after == ref.curves["acc"].after


def test_truncated_log_through_ingest(tmp_path, raw):
    full = text_of(raw, "rte_wi2_do2.txt")
    d = _dir(tmp_path, {"a.txt": full[: full.index("metric: acc")]})
    ds, rep = ingest(d)
    assert ds.trials["complete"].tolist() == [False]
    assert ds.trials["flags"].tolist() == ["no_metric,incomplete"]
    assert any("truncated" in n for n in rep.notes)


# --- checks across files -------------------------------------------------------------------


def test_before_mismatch_is_flagged(tmp_path, raw):
    f = raw / "rte_wi2_do3.txt"
    lines = f.read_text().splitlines()
    i = lines.index("validation acc of initialized model:")
    lines[i + 1] = "0.123"
    f.write_text("\n".join(lines) + "\n")
    ds, rep = ingest(raw)
    t = ds.trials.set_index("trial_id")
    flagged = {tid for tid, fl in t["flags"].items() if "before_mismatch" in fl}
    assert flagged == {"rte-wi2-do1", "rte-wi2-do2", "rte-wi2-do3"}
    assert rep.per_task.loc["rte", "flagged"] == 4  # + the incomplete trial


def test_duplicate_trial_names_both_files(tmp_path, raw):
    (raw / "copy.txt").write_text(text_of(raw, "rte_wi1_do2.txt"))
    with pytest.raises(DataError) as err:
        ingest(raw)
    msg = str(err.value)
    assert "duplicate trial rte-wi1-do2" in msg
    assert str(raw / "rte_wi1_do2.txt") in msg and str(raw / "copy.txt") in msg


# --- malformed files -----------------------------------------------------------------------


def _replace_line(text, after, new):
    lines = text.splitlines()
    i = lines.index(after)
    lines[i + 1] = new
    return "\n".join(lines) + "\n", i + 2


@pytest.mark.parametrize("case", ["bad number in list", "bad pair", "bad scalar", "garbage line",
                                  "no header", "second header", "wrong metric", "bad seed",
                                  "no seeds", "binary", "duplicate metric"])
def test_malformed_logs_name_file_line_and_expectation(tmp_path, raw, case):
    text = text_of(raw)
    lines = text.splitlines()
    if case == "bad number in list":
        bad, n = _replace_line(text, "the losses at each train step:", "[0.5, 0.4x, 0.3]")
        expected = "expected a list of numbers like [0.69, 0.68] after line 6"
    elif case == "bad pair":
        bad, n = _replace_line(text, "validation acc throughout training:", "[[0, 0.5], [1]]")
        expected = "expected a list of [step, value] pairs"
    elif case == "bad scalar":
        bad, n = _replace_line(text, "validation loss after training:", "0.5.5")
        expected = "expected a number after line"
    elif case == "garbage line":
        n = lines.index("metric: acc") + 1
        lines.insert(n - 1, "hello world")
        bad, expected = "\n".join(lines) + "\n", "got 'hello world'"
    elif case == "no header":
        bad, n, expected = text.replace("=" * 40 + "\n", ""), 1, "header line of '='"
    elif case == "second header":
        n = lines.index("metric: acc") + 1
        lines.insert(n - 1, "=====")
        bad, expected = "\n".join(lines) + "\n", "one trial per file"
    elif case == "wrong metric":
        n = lines.index("validation acc after training:") + 1
        lines[n - 1] = "validation loss after training:"
        bad, expected = "\n".join(lines) + "\n", "expected 'validation acc ...' lines"
    elif case == "bad seed":
        bad, n, expected = text.replace("init seed: 1", "init seed: one"), 4, \
            "expected 'init seed: <integer>'"
    elif case == "no seeds":
        bad = text.replace("init seed: 1\n", "").replace("data order seed: 1\n", "")
        n, expected = 4, "expected 'init seed:', 'data order seed:' lines before the data"
    elif case == "binary":
        bad, n, expected = text.encode().replace(b"final results", b"final \xff"), 2, "UTF-8"
    elif case == "duplicate metric":
        n = lines.index("metric: acc") + 1
        lines[n - 1] = "metric: loss"
        bad, expected = "\n".join(lines) + "\n", "a second 'metric: loss'"
    p = tmp_path / "bad.txt"
    p.write_bytes(bad if isinstance(bad, bytes) else bad.encode())
    with pytest.raises(ParseError) as err:
        rawlog.read_file(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:{n}: "), msg
    assert expected in msg, msg


def test_skip_bad_lists_bad_files_and_ingests_the_rest(raw):
    bad = raw / "rte_wi1_do3.txt"
    bad.write_text(_replace_line(bad.read_text(), "the losses at each train step:", "[0.5, x]")[0])
    with pytest.raises(ParseError, match=re.escape(f"{bad}:7: ")):
        ingest(raw)
    ds, rep = ingest(raw, options=IngestOptions(skip_bad=True))
    assert len(ds.trials) == 17 and "rte-wi1-do3" not in set(ds.trials["trial_id"])
    assert [s[0] for s in rep.skipped] == [str(bad)]
    assert f"skipped {bad}: {bad}:7: expected a list" in str(rep)


# --- detection -----------------------------------------------------------------------------


def test_detect(tmp_path, raw):
    assert rawlog.detect(raw) and rawlog.detect(raw / "rte_wi1_do1.txt")
    stamped = _dir(tmp_path, {"a.txt": f"\n{TS}=====\n{TS}final results\n"}, "stamped")
    assert rawlog.detect(stamped)
    other = _dir(tmp_path, {"a.jsonl": '{"event": "header"}\n'}, "other")
    assert not rawlog.detect(other) and not rawlog.detect(tmp_path / "missing")
    (raw / ".hidden").write_text("not a log")
    assert [f.name for f in rawlog.log_files(raw)][:3] == [
        "mrpc_wi1_do1.txt", "mrpc_wi1_do2.txt", "mrpc_wi1_do3.txt"]


def test_writer_refuses_other_peoples_directories_and_single_seed_trials(tmp_path, ds):
    mine = _dir(tmp_path, {"notes.txt": "precious"}, "mine")
    with pytest.raises(DataError, match="exists and is not empty"):
        rawlog.write_rawlogs(ds, mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "precious"
    rawlog.write_rawlogs(ds, tmp_path / "raw2")
    rawlog.write_rawlogs(ds, tmp_path / "raw2", overwrite=True)  # only raw logs there: fine
    assert len(list((tmp_path / "raw2").iterdir())) == 18
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left
    with pytest.raises(DataError, match="needs an init seed and a data order seed"):
        rawlog.format_rawlog(TrialRecord("rte", seed=3))

"""seedstats' JSON Lines log: LogWriter, reader, incomplete runs, errors, round trips."""

import io
import json
import math

import numpy as np
import pytest
from test_release import assert_same_tables, make_dataset

from seedstats.data.formats import jsonl
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.errors import DataError, ParseError

HEADER = dict(task="rte", wi_seed=12, do_seed=3, metric="acc", metrics=["loss", "acc"],
              baseline=0.53, steps_per_epoch=156, n_epochs=3, n_steps=468,
              config={"lr": 2e-5}, versions={"seedstats": "0.1.0"})


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


def small_log(path, *, end=True, nan=False, **header):
    with jsonl.LogWriter(path, **{**HEADER, **header}) as log:
        log.eval("before", -1, 0.0, {"loss": 0.7, "acc": 0.47})
        for s in range(4):
            log.train(s, math.nan if nan and s == 2 else [0.69, 0.68, 0.67, 0.66][s])
            if s % 2 == 1:
                log.eval("during", s, (s + 1) / 156, {"loss": 0.6, "acc": 0.5 + s / 100})
        log.eval("after", 3, 4 / 156, {"loss": 0.5, "acc": 0.61})
        if end:
            log.end("ok", 4)
    return path


# --- round trips ---------------------------------------------------------------------------


def test_round_trip_through_logwriter_gives_the_same_tables(tmp_path, ds):
    out = jsonl.write_jsonl(ds, tmp_path / "logs")
    files = [out / f"{t}.jsonl" for t in ds.trials["trial_id"]]
    assert out == tmp_path / "logs" and sorted(out.iterdir()) == sorted(files)
    ds2, rep = ingest(tmp_path / "logs")
    assert ds2.meta["provenance"]["format"] == "jsonl"
    assert_same_tables(ds, ds2)
    assert (ds2.trials["source"] == [str(f) for f in files]).all()
    assert int(rep.per_task["incomplete"].sum()) == 1
    assert rep.per_task["nan_values"].to_dict() == {"mrpc": 2, "rte": 0}


def test_one_log_read_back_value_by_value(tmp_path):
    rec = jsonl.read_file(small_log(tmp_path / "a.jsonl"))
    assert (rec.task, rec.wi_seed, rec.do_seed, rec.seed) == ("rte", 12, 3, None)
    assert rec.complete and rec.n_steps == 4 and rec.after_step == 3
    assert rec.train_loss.tolist() == [0.69, 0.68, 0.67, 0.66] and rec.train_steps is None
    acc = rec.curves["acc"]
    assert (acc.before, acc.steps.tolist(), acc.values.tolist(), acc.after) == (
        0.47, [1, 3], [0.51, 0.53], 0.61)
    assert rec.metric == "acc" and rec.baseline == 0.53 and rec.steps_per_epoch == 156


def test_file_layout_and_nan_token(tmp_path):
    p = small_log(tmp_path / "a.jsonl", nan=True)
    lines = p.read_text().splitlines()
    recs = [json.loads(ln) for ln in lines]
    assert [r["event"] for r in recs] == ["header", "eval", "train", "train", "eval", "train",
                                          "train", "eval", "eval", "end"]
    assert recs[0] == {"event": "header", "format": "seedstats-log", "version": 1,
                       "seed": None, **HEADER}
    assert lines[5] == '{"event": "train", "step": 2, "loss": NaN}'
    ds, rep = ingest(p)
    assert np.isnan(ds.train_loss["loss"].iloc[2]) and rep.per_task.loc["rte", "nan_values"] == 1
    assert ds.trials["flags"].tolist() == ["nan"]


def test_sparse_train_steps_and_single_seed(tmp_path):
    p = tmp_path / "s.jsonl"
    with jsonl.LogWriter(p, task="rte", seed=42, steps_per_epoch=10) as log:
        for s in (9, 19, 29):
            log.train(s, 0.5)
        log.eval("during", 14, 1.5, {"acc": 0.6})
        log.eval("after", 29, 3.0, {"acc": 0.7})
        log.end(n_steps=30)
    ds, _ = ingest(p)
    assert ds.train_loss["step"].tolist() == [9, 19, 29]
    t = ds.trials.iloc[0]
    assert (t["trial_id"], t["n_steps"], t["after"]) == ("rte-s42", 30, 0.7)
    assert ds.evals["epoch"].tolist() == [1.5, 3.0]


def test_streaming_flushes_after_each_evaluation(tmp_path):
    p = tmp_path / "live.jsonl"
    log = jsonl.LogWriter(p, **HEADER)
    log.train(0, 0.7)
    log.eval("during", 0, 1 / 156, {"acc": 0.5})
    assert len(p.read_text().splitlines()) == 3  # visible while the run goes on
    rec = jsonl.read_file(p)  # a killed run right now: an incomplete trial
    assert not rec.complete and rec.n_steps == 1
    log.end()
    log.close()
    assert jsonl.read_file(p).complete


def test_writer_to_an_open_file_is_not_closed():
    buf = io.StringIO()
    with jsonl.LogWriter(buf, task="rte", wi_seed=1, do_seed=1) as log:
        log.end()
    assert not buf.closed and buf.getvalue().count("\n") == 2


# --- incomplete runs -----------------------------------------------------------------------


def test_log_without_end_is_incomplete_and_kept(tmp_path):
    ds, rep = ingest(small_log(tmp_path / "a.jsonl", end=False))
    t = ds.trials.iloc[0]
    assert not t["complete"] and t["flags"] == "incomplete" and t["n_steps"] == 4
    assert rep.per_task.loc["rte", "incomplete"] == 1 and len(ds.evals) == 8


def test_killed_mid_line_is_incomplete(tmp_path):
    p = small_log(tmp_path / "a.jsonl", end=False)
    p.write_bytes(p.read_bytes() + b'{"event": "train", "st')
    rec = jsonl.read_file(p)
    assert not rec.complete and rec.flags == ["cut_line"] and len(rec.train_loss) == 4


def test_exception_inside_the_context_leaves_an_incomplete_log(tmp_path):
    p = tmp_path / "a.jsonl"
    with pytest.raises(RuntimeError):
        with jsonl.LogWriter(p, **HEADER) as log:
            log.train(0, 0.7)
            raise RuntimeError("out of memory")
    assert not jsonl.read_file(p).complete


def test_status_other_than_ok_is_incomplete(tmp_path):
    p = tmp_path / "a.jsonl"
    with jsonl.LogWriter(p, **HEADER) as log:
        log.train(0, 0.7)
        log.end("failed")
    rec = jsonl.read_file(p)
    assert not rec.complete and rec.flags == ["status_failed"]


# --- malformed logs ------------------------------------------------------------------------


@pytest.mark.parametrize("line_no, bad, expected", [
    (3, "{not json", "expected one JSON object per line"),
    (1, '{"event": "train", "step": 0, "loss": 1}', "expected a header record"),
    (1, '{"event": "header", "format": "other", "task": "rte"}', "expected format"),
    (1, '{"event": "header", "format": "seedstats-log", "version": 2, "task": "rte", '
        '"wi_seed": 1}', "expected log format version 1"),
    (1, '{"event": "header", "format": "seedstats-log", "version": 1, "task": "rte"}',
     "expected wi_seed/do_seed or seed"),
    (3, '{"event": "train", "step": -4, "loss": 0.5}', "expected a step >= 0"),
    (3, '{"event": "train", "step": 1, "loss": "high"}', "expected a number for loss"),
    (3, '{"event": "eval", "phase": "middle", "step": 1, "metrics": {}}', "expected phase"),
    (3, '{"event": "eval", "phase": "before", "step": -1, "metrics": {"acc": 0.1}}',
     "expected one 'before' value of 'acc'"),
    (3, '{"event": "checkpoint"}', "expected event header, train, eval or end"),
    (3, "[1, 2]", "expected a JSON object"),
])
def test_malformed_logs_name_file_and_line(tmp_path, line_no, bad, expected):
    p = small_log(tmp_path / "a.jsonl")
    lines = p.read_text().splitlines()
    lines[line_no - 1] = bad
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError) as err:
        ingest(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:{line_no}: "), msg
    assert expected in msg, msg


def test_records_after_the_end_are_an_error(tmp_path):
    p = small_log(tmp_path / "a.jsonl")
    p.write_text(p.read_text() + '{"event": "train", "step": 9, "loss": 0.1}\n')
    with pytest.raises(ParseError, match=r"a.jsonl:11: expected nothing after the end record"):
        jsonl.read_file(p)


def test_duplicate_trial_across_files_names_both(tmp_path):
    (tmp_path / "logs" / "sub").mkdir(parents=True)
    a = small_log(tmp_path / "logs" / "a.jsonl")
    b = small_log(tmp_path / "logs" / "sub" / "b.jsonl")  # directories are read recursively
    with pytest.raises(DataError) as err:
        ingest(tmp_path / "logs")
    msg = str(err.value)
    assert "duplicate trial rte-wi12-do3" in msg and str(a) in msg and str(b) in msg


def test_skip_bad(tmp_path):
    (tmp_path / "logs").mkdir()
    small_log(tmp_path / "logs" / "a.jsonl")
    bad = small_log(tmp_path / "logs" / "b.jsonl", do_seed=4)
    lines = bad.read_text().splitlines()
    lines[4] = lines[4][:-1]  # drop the closing brace of a record in the middle
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError, match="b.jsonl:5: expected one JSON object"):
        ingest(tmp_path / "logs")
    ds, rep = ingest(tmp_path / "logs", options=IngestOptions(skip_bad=True))
    assert ds.trials["trial_id"].tolist() == ["rte-wi12-do3"]
    assert [s[0] for s in rep.skipped] == [str(bad)]


def test_unknown_task_metric(tmp_path):
    p = small_log(tmp_path / "a.jsonl", task="boolq", metric=None)
    ds, _ = ingest(p)  # one metric besides loss: inferred
    assert ds.trials["metric"].tolist() == ["acc"]
    assert ds.trials["diverged"].tolist() == [False]  # baseline 0.53 from the header
    q = tmp_path / "q.jsonl"
    with jsonl.LogWriter(q, task="boolq", wi_seed=1, do_seed=1) as log:
        log.eval("after", 9, 1.0, {"acc": 0.6, "f1": 0.5})
        log.end()
    with pytest.raises(DataError, match="q.jsonl: task 'boolq' .*--metric"):
        ingest(q)
    ds, _ = ingest(q, options=IngestOptions(metric="f1"))
    assert ds.trials["after"].tolist() == [0.5]


# --- writer argument checks ----------------------------------------------------------------


def _using(path, fn):
    with jsonl.LogWriter(path, **HEADER) as log:
        fn(log)


@pytest.mark.parametrize("call, exc, match", [
    (lambda p: jsonl.LogWriter(p, task="", wi_seed=1), TypeError, "task: expected a non-empty"),
    (lambda p: jsonl.LogWriter(p, task="rte"), ValueError, "at least one seed"),
    (lambda p: jsonl.LogWriter(p, task="rte", wi_seed=1.5), TypeError,
     r"wi_seed: expected an int or None, got 1.5 \(float\)"),
    (lambda p: jsonl.LogWriter(p, task="rte", seed=1, version=2), ValueError,
     "set by LogWriter itself"),
    (lambda p: _using(p, lambda log: log.train(-1, 0.5)), ValueError,
     "step: expected an int >= 0, got -1"),
    (lambda p: _using(p, lambda log: log.train(0, "0.5")), TypeError,
     "loss: expected a number, got '0.5'"),
    (lambda p: _using(p, lambda log: log.eval("mid", 0, 0.1, {"acc": 1})), ValueError,
     "phase: expected one of before, during, after, got 'mid'"),
    (lambda p: _using(p, lambda log: log.eval("during", 0, 0.1, {})), TypeError,
     "metrics: expected a non-empty dict"),
    (lambda p: _using(p, lambda log: log.eval("during", 0, 0.1, {"acc": None})), TypeError,
     r"metrics\['acc'\]: expected a number"),
    (lambda p: jsonl.LogWriter(12345, **HEADER), TypeError, "path_or_file: expected a path"),
])
def test_writer_rejects_bad_arguments(tmp_path, call, exc, match):
    with pytest.raises(exc, match=match):
        call(tmp_path / "x.jsonl")


def test_nothing_after_end_or_close(tmp_path):
    log = jsonl.LogWriter(tmp_path / "x.jsonl", **HEADER)
    log.end()
    with pytest.raises(ValueError, match="has ended"):
        log.train(1, 0.1)
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.eval("after", 1, 1.0, {"acc": 0.5})


def test_numpy_values_are_accepted(tmp_path):
    p = tmp_path / "n.jsonl"
    with jsonl.LogWriter(p, task="rte", wi_seed=np.int64(2), do_seed=np.int32(5),
                         config={"lr": np.float32(2e-5), "shape": np.arange(2)}) as log:
        log.train(np.int64(0), np.float32(0.5))
        log.eval("after", 0, 1.0, {"acc": np.float64(0.75)})
        log.end()
    rec = jsonl.read_file(p)
    assert (rec.wi_seed, rec.do_seed, rec.train_loss.tolist(), rec.curves["acc"].after) == (
        2, 5, [0.5], 0.75)


def test_detect(tmp_path):
    (tmp_path / "logs").mkdir()
    small_log(tmp_path / "logs" / "a.jsonl")
    noext = tmp_path / "run.log"
    noext.write_text((tmp_path / "logs" / "a.jsonl").read_text())
    assert jsonl.detect(tmp_path / "logs") and jsonl.detect(noext)
    txt = tmp_path / "t.txt"
    txt.write_text("=====\n")
    assert not jsonl.detect(txt) and not jsonl.detect(tmp_path / "missing")


def test_a_line_holding_two_values_is_an_error(tmp_path):
    p = small_log(tmp_path / "a.jsonl")
    lines = p.read_text().splitlines()
    lines[2] = '{"event": "train", "step": 0, "loss": 0.69}, {"event": "train"}'
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError, match=r"a.jsonl:3: expected one JSON object per line"):
        jsonl.read_file(p)

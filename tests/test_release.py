"""The released pickle: restricted unpickler, layout variants, errors, round trips.

Also holds two helpers the other loader tests import: ``make_dataset`` (a small
generated dataset with a NaN and an incomplete trial) and ``canonical`` (tables in a
canonical row order, for comparing datasets whose trials were read in another order).
"""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from seedstats.data import schema
from seedstats.data.dataset import Dataset
from seedstats.data.formats import release
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.errors import DataError, ParseError

# --- helpers shared with test_rawlog / test_jsonl / test_ingest_cli ------------------------


def make_dataset(tasks=("mrpc", "rte"), n=3, seed=0) -> Dataset:
    """2 tasks x (n x n) trials with the paper's metrics and short curves.

    Trial 1 has a NaN training loss, trial 4 a NaN ``acc`` evaluation; the
    second-to-last trial is incomplete (shorter curves, no ``after``). ``before``
    depends on WI only, as in the paper.
    """
    rng = np.random.default_rng(seed)
    recs = []
    for task in tasks:
        info = schema.TASKS[task]
        for wi in range(1, n + 1):
            before = {m: float(rng.uniform(0.3, 0.7)) for m in info.metrics}
            for do in range(1, n + 1):
                steps = np.array([0, 1, 2, 5, 23, 46])
                curves = {m: Curve(before[m], steps, rng.uniform(0.2, 0.9, len(steps)),
                                   float(rng.uniform(0.2, 0.9))) for m in info.metrics}
                recs.append(TrialRecord(task, wi, do, None, curves, rng.uniform(0.1, 0.7, 50),
                                        source=f"gen:{task}/{wi}/{do}"))
    recs[1].train_loss[3] = np.nan
    recs[4].curves["acc"].values[2] = np.nan
    inc = recs[-2]
    inc.complete = False
    inc.train_loss = inc.train_loss[:20]
    for c in inc.curves.values():
        c.after = None
        c.steps, c.values = c.steps[:4], c.values[:4]
    return Dataset(*build_tables(recs), {"synthetic": True})


def canonical(ds):
    """(trials, evals, train_loss) without ``source``, rows sorted by trial (then metric),
    keeping the logged order within a trial; categories sorted."""
    out = []
    for df in (ds.trials, ds.evals, ds.train_loss):
        df = df.drop(columns=[c for c in ("source",) if c in df]).copy()
        for c in df.columns:
            if isinstance(df[c].dtype, pd.CategoricalDtype):
                df[c] = df[c].cat.set_categories(sorted(df[c].cat.categories))
        keys = ["trial_id"] + (["metric"] if "value" in df else [])
        df["_row"] = np.arange(len(df))
        df = df.sort_values(keys + ["_row"], kind="stable").drop(columns="_row")
        out.append(df.reset_index(drop=True))
    return out


def assert_same_tables(a, b):
    for x, y, name in zip(canonical(a), canonical(b), ("trials", "evals", "train_loss")):
        pd.testing.assert_frame_equal(x, y, obj=name)


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


def dump(tmp_path, obj, name="rel.pkl", protocol=4):
    p = tmp_path / name
    p.write_bytes(pickle.dumps(obj, protocol=protocol))
    return p


def trial_dict(before=0.5, after=0.7, steps=(0, 10, 20), vals=(0.6, 0.8, 0.7), n_loss=30):
    return {"train_loss": {"during": list(np.linspace(0.7, 0.1, n_loss))},
            "loss": {"before": 0.7, "during": [[s, 0.5] for s in steps], "after": 0.4},
            "acc": {"before": before, "during": [[s, v] for s, v in zip(steps, vals)],
                    "after": after}}


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("nested_none", [False, True])
def test_round_trip_gives_the_same_tables(tmp_path, ds, nested_none):
    path = release.write_release(ds, tmp_path / "rel.pkl", nested_none=nested_none)
    ds2, rep = ingest(path)
    assert_same_tables(ds, ds2)
    assert ds2.meta["provenance"] == {"source": str(path), "format": "release"}
    assert (ds2.trials["source"] == str(path)).all()
    # the incomplete trial (no "after") and the NaNs survive and are counted
    assert int(rep.per_task["incomplete"].sum()) == 1
    assert rep.per_task.loc["mrpc", "nan_values"] == 2


def test_written_layout_is_the_released_nested_dict(tmp_path, ds):
    data = release.load_pickle(release.write_release(ds, tmp_path / "r.pkl", nested_none=True))
    assert set(data) == {"mrpc", "rte"}
    t = data["rte"]["None"][2][3]
    assert set(t) == {"train_loss", "loss", "acc"}
    assert isinstance(t["train_loss"]["during"], list) and len(t["train_loss"]["during"]) == 50
    assert t["acc"]["during"][4][0] == 23 and isinstance(t["acc"]["during"][4][0], int)
    row = ds.trials.set_index("trial_id").loc["rte-wi2-do3"]
    assert t["acc"]["after"] == row["after"] and t["acc"]["before"] == row["before"]
    assert set(data["mrpc"]["None"][1][1]) == {"train_loss", "loss", "acc", "f1", "acc_and_f1"}


def test_counts_equal_the_number_of_values_in_the_input(tmp_path, ds):
    path = release.write_release(ds, tmp_path / "rel.pkl")
    with open(path, "rb") as fh:
        data = pickle.load(fh)  # our own file: plain pickle is fine for the check
    evals, losses = {}, {}
    for task, grid in data.items():
        for row in grid.values():
            for trial in row.values():
                losses[task] = losses.get(task, 0) + len(trial["train_loss"]["during"])
                for key, m in trial.items():
                    if key != "train_loss":
                        evals[task] = evals.get(task, 0) + len(m["during"]) + (
                            "before" in m) + ("after" in m)
    _, rep = ingest(path)
    assert rep.per_task["evals"].to_dict() == evals
    assert rep.per_task["loss_steps"].to_dict() == losses
    assert evals == {"mrpc": 9 * 4 * 8, "rte": 9 * 2 * 8 - 2 * 3}  # incomplete: -2 during, -after


def test_writer_is_deterministic_and_ignores_the_global_seed(tmp_path, ds):
    np.random.seed(1)
    a = release.write_release(ds, tmp_path / "a.pkl").read_bytes()
    np.random.seed(2)
    b = release.write_release(ds, tmp_path / "b.pkl").read_bytes()
    assert a == b


# --- variants the loader tolerates -----------------------------------------------------------


def test_numpy_scalars_arrays_and_extra_keys(tmp_path):
    t = trial_dict()
    t["acc"]["before"] = np.float64(0.25)
    t["acc"]["after"] = np.float32(0.75)
    t["acc"]["during"] = [[np.int64(0), np.float64(0.5)], [np.int64(10), np.float64(0.625)]]
    t["loss"]["during"] = np.array([[0, 0.9], [10, 0.8]])
    t["train_loss"]["during"] = np.array([0.5, np.nan, 0.25])
    t.update(init_seed=np.int64(4), data_seed=7, num_train=2490)
    path = dump(tmp_path, {"rte": {np.int64(4): {"7": t}}}, protocol=2)
    ds, rep = ingest(path)
    tr = ds.trials.iloc[0]
    assert (tr["task"], tr["wi_seed"], tr["do_seed"]) == ("rte", 4, 7)
    assert (tr["before"], tr["after"], tr["best"]) == (0.25, 0.75, 0.625)
    assert tr["complete"] and tr["flags"] == "nan"
    acc = ds.evals[(ds.evals["metric"] == "acc") & (ds.evals["phase"] == "during")]
    assert acc["step"].tolist() == [0, 10] and acc["value"].tolist() == [0.5, 0.625]
    assert ds.train_loss["loss"].isna().tolist() == [False, True, False]
    assert rep.per_task.loc["rte", "nan_values"] == 1


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_numpy_pickles_of_any_protocol(tmp_path, protocol):
    t = trial_dict()
    t["acc"]["during"] = [[0, np.float64(0.5)], [10, np.float64(0.75)]]
    t["train_loss"]["during"] = [np.float64(x) for x in (0.5, 0.25)]
    ds, _ = ingest(dump(tmp_path, {"rte": {1: {1: t}}}, protocol=protocol),
                   format="release")
    assert ds.trials["best"].tolist() == [0.75]
    assert ds.train_loss["loss"].tolist() == [0.5, 0.25]


def test_init_seed_that_disagrees_with_the_key_is_flagged(tmp_path):
    t = trial_dict()
    t["init_seed"] = 9
    ds, _ = ingest(dump(tmp_path, {"rte": {1: {1: t}}}))
    assert ds.trials["flags"].tolist() == ["init_seed_mismatch"]


def test_complete_means_after_of_the_headline_metric(tmp_path):
    t1, t2 = trial_dict(), trial_dict()
    del t2["acc"]["after"]
    ds, _ = ingest(dump(tmp_path, {"rte": {1: {1: t1, 2: t2}}}))
    assert ds.trials["complete"].tolist() == [True, False]
    assert ds.trials["flags"].tolist() == ["", "incomplete"]
    assert np.isnan(ds.trials["after"].iloc[1])


def test_training_set_size_levels(tmp_path):
    one = {"rte": {"1000": {1: {1: trial_dict()}}}}
    _, rep = ingest(dump(tmp_path, one))
    assert any("'1000'" in n for n in rep.notes)
    two = {"rte": {"None": {1: {1: trial_dict()}}, "1000": {1: {1: trial_dict()}}}}
    with pytest.raises(ParseError, match=r"data\['rte'\]: expected one training-set-size"):
        ingest(dump(tmp_path, two, "two.pkl"))


def test_unknown_task_infers_its_single_metric(tmp_path):
    t = trial_dict()
    ds, rep = ingest(dump(tmp_path, {"boolq": {1: {1: t}}}))
    tr = ds.trials.iloc[0]
    assert tr["metric"] == "acc" and tr["after"] == 0.7
    assert pd.isna(tr["diverged"])  # no baseline known
    assert np.isnan(ds.evals["epoch"]).all()  # steps per epoch unknown
    assert any("boolq" in n for n in rep.notes)


def test_unknown_task_with_several_metrics_needs_metric(tmp_path):
    t = trial_dict()
    t["f1"] = {"before": 0.1, "during": [[0, 0.2]], "after": 0.3}
    path = dump(tmp_path, {"boolq": {1: {1: t}}})
    with pytest.raises(DataError, match=r"rel.pkl: data\['boolq'\]\[1\]\[1\]: task 'boolq' .*"
                                        r"acc, f1.*--metric"):
        ingest(path)
    ds, _ = ingest(path, options=IngestOptions(metric="f1", baseline=0.25))
    assert ds.trials["after"].tolist() == [0.3] and ds.trials["diverged"].tolist() == [False]


# --- malformed structure -------------------------------------------------------------------


@pytest.mark.parametrize("mutate, where, expected", [
    (lambda t: t["acc"]["during"].__setitem__(1, [10]),
     "['acc']['during'][1]", "expected [step, value] pair, got [10] (list)"),
    (lambda t: t["acc"]["during"].__setitem__(2, [20, "0.7"]),
     "['acc']['during'][2][1]", "expected a number, got '0.7' (str)"),
    (lambda t: t["acc"]["during"].__setitem__(0, [0.5, 0.6]),
     "['acc']['during'][0]", "integer step >= 0, got step 0.5"),
    (lambda t: t["acc"].__setitem__("after", "high"),
     "['acc']['after']", "expected a number, got 'high' (str)"),
    (lambda t: t["acc"].__setitem__("before", True),
     "['acc']['before']", "expected a number, got True (bool)"),
    (lambda t: t["train_loss"].__setitem__("during", [0.5, None]),
     "['train_loss']['during'][1]", "expected a number, got None"),
    (lambda t: t.__setitem__("acc", {"best": 0.9}),
     "['acc']", "expected a dict with 'before', 'during' and/or 'after'"),
    (lambda t: t["acc"].__setitem__("during", 0.5),
     "['acc']['during']", "expected a list of [step, value] pairs, got 0.5"),
])
def test_malformed_trial_names_file_and_key_path(tmp_path, mutate, where, expected):
    t = trial_dict()
    mutate(t)
    path = dump(tmp_path, {"rte": {3: {7: t}}})
    with pytest.raises(ParseError) as err:
        ingest(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: data['rte'][3][7]{where}: "), msg
    assert expected in msg


@pytest.mark.parametrize("obj, expected", [
    ([1, 2], "data: expected a dict of tasks, got [1, 2] (list)"),
    ({"rte": [1]}, "data['rte']: expected a dict of WI seeds"),
    ({"rte": {"x": {1: trial_dict()}}}, "data['rte']['x']: expected an integer seed"),
    ({"rte": {1: {1: [0.5]}}}, "data['rte'][1][1]: expected a dict of metrics"),
    ({"rte": {1: {1: trial_dict()}, "1": {1: trial_dict()}}},
     "data['rte']['1'][1]: duplicate trial (WI 1, DO 1); also at data['rte'][1][1]"),
])
def test_malformed_top_levels(tmp_path, obj, expected):
    path = dump(tmp_path, obj)
    with pytest.raises(ParseError) as err:
        ingest(path, format="release")
    assert str(err.value) == f"{path}: {expected}" or str(err.value).startswith(
        f"{path}: {expected}"), str(err.value)


def test_skip_bad_skips_malformed_trials_and_lists_them(tmp_path):
    bad = trial_dict()
    bad["acc"]["after"] = "x"
    path = dump(tmp_path, {"rte": {1: {1: trial_dict(), 2: bad, 3: trial_dict()}}})
    ds, rep = ingest(path, options=IngestOptions(skip_bad=True))
    assert ds.trials["trial_id"].tolist() == ["rte-wi1-do1", "rte-wi1-do3"]
    assert [s[0] for s in rep.skipped] == [f"{path}:data['rte'][1][2]"]
    assert "expected a number" in rep.skipped[0][1]


def test_not_a_pickle(tmp_path):
    p = tmp_path / "rel.pkl"
    p.write_bytes(pickle.dumps({"rte": {}}, protocol=4)[:-5])
    with pytest.raises(ParseError, match=r"rel.pkl: expected a pickle .* could not unpickle"):
        ingest(p)


# --- the untrusted pickle ------------------------------------------------------------------


class Payload:
    """Unpickling this runs a shell command (the classic pickle exploit)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        import os

        return (os.system, (self.cmd,))


def crafted(kind, marker):
    m = str(marker)
    if kind == "reduce":
        return pickle.dumps({"rte": {1: {1: {"acc": Payload(f"touch {m}")}}}}, protocol=4)
    if kind == "os.system":
        return f"cos\nsystem\n(S'touch {m}'\ntR.".encode()
    if kind == "builtins.eval":
        return f"cbuiltins\neval\n(S'open({m!r}, \"w\").close()'\ntR.".encode()
    if kind == "builtins.exec":
        return f"cbuiltins\nexec\n(S'open({m!r}, \"w\").close()'\ntR.".encode()
    if kind == "subprocess.check_call":
        return f"csubprocess\ncheck_call\n((S'touch'\nS'{m}'\nltR.".encode()
    if kind == "numpy.testing._private.utils.runstring":  # code execution through numpy
        return (f"cnumpy.testing._private.utils\nrunstring\n(S'open({m!r}, \"w\").close()'\n"
                "(dtR.").encode()
    if kind == "nested in a list":
        inner = f"cos\nsystem\n(S'touch {m}'\ntR".encode()
        return b"(lp0\nF0.5\na" + inner + b"a."
    raise ValueError(kind)


@pytest.mark.parametrize("kind, refused", [
    ("reduce", "system"), ("os.system", "'os.system'"), ("builtins.eval", "'builtins.eval'"),
    ("builtins.exec", "'builtins.exec'"),
    ("subprocess.check_call", "'subprocess.check_call'"),
    ("numpy.testing._private.utils.runstring", "'numpy.testing._private.utils.runstring'"),
    ("nested in a list", "'os.system'"),
])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, kind, refused):
    marker = tmp_path / "pwned"
    path = tmp_path / "rel.pkl"
    path.write_bytes(crafted(kind, marker))
    # the crafted file really is an exploit: a plain pickle.load would run it
    if kind == "os.system":
        code = f"import pickle; pickle.load(open({str(path)!r}, 'rb'))"
        subprocess.run([sys.executable, "-c", code], check=False)
        assert marker.exists()
        marker.unlink()
    with pytest.raises(ParseError) as err:
        ingest(path, format="release")
    msg = str(err.value)
    assert msg.startswith(f"{path}: refused to unpickle global "), msg
    assert refused in msg and "nothing was run" in msg
    assert not marker.exists()


class _Bomb:
    """A pickle that asks an allowed constructor for a huge object from a few bytes."""

    def __init__(self, call, args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def _bombs():
    from numpy._core import multiarray

    return {
        "bytes(3e9)": (_Bomb(bytes, (3_000_000_000,)), "bytes of 3,000,000,000 bytes"),
        "bytearray(2e9)": (_Bomb(bytearray, (2_000_000_000,)), "bytearray of 2,000,000,000"),
        "_reconstruct 1e9 doubles": (
            _Bomb(multiarray._reconstruct, (np.ndarray, (1_000_000_000,), "f8")),
            "an array of 8,000,000,000 bytes"),
        "_reconstruct, shape from a product": (
            _Bomb(multiarray._reconstruct, (np.ndarray, (100_000, 100_000), "u1")),
            "an array of 10,000,000,000 bytes"),
        "ndarray((1e9,)) called": (_Bomb(np.ndarray, ((1_000_000_000,),)),
                                   "refused to call numpy.ndarray"),
    }


@pytest.mark.parametrize("name", list(_bombs()))
def test_memory_bombs_are_refused_before_allocating(tmp_path, name):
    import resource
    import warnings

    bomb, expected = _bombs()[name]
    path = tmp_path / "bomb.pkl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        path.write_bytes(pickle.dumps({"rte": {1: {1: {"acc": bomb}}}}, protocol=2))
    assert path.stat().st_size < 400
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ParseError) as err:
        release.load_pickle(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and expected in msg and "\n" not in msg, msg
    assert len(msg) < 400
    # nothing close to the claimed size was touched (ru_maxrss is in KiB)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000


def test_real_arrays_of_any_protocol_still_load(tmp_path):
    arrays = {"f": np.arange(50_000, dtype=np.float64), "i": np.arange(7, dtype=np.int32),
              "o": np.array([0.5, None], dtype=object), "s": np.float32(0.25)}
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"a{protocol}.pkl"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        got = release.load_pickle(path)
        for key, value in arrays.items():
            np.testing.assert_array_equal(got[key], value)


def test_allow_list_is_only_containers_and_numpy():
    modules = {m for m, _ in release.ALLOWED_GLOBALS}
    assert modules == {"numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                       "numpy._core.numeric", "numpy", "_codecs", "collections", "builtins",
                       "__builtin__"}
    names = {n for _, n in release.ALLOWED_GLOBALS}
    assert not names & {"eval", "exec", "getattr", "system", "open", "__import__", "compile",
                        "apply", "load", "loads"}


# --- detection and writing errors ----------------------------------------------------------


def test_detect(tmp_path):
    a = dump(tmp_path, {"rte": {}}, name="noext")
    b = tmp_path / "x.pickle"
    b.write_bytes(b"(dp0\n.")  # protocol 0: only the name tells
    c = tmp_path / "x.txt"
    c.write_text("=====\n")
    assert release.detect(a) and release.detect(b)
    assert not release.detect(c) and not release.detect(tmp_path)


def test_write_refuses_what_the_layout_cannot_hold(tmp_path, ds):
    rec = TrialRecord("rte", seed=5, curves={"acc": Curve(0.5, np.array([0]),
                                                          np.array([0.6]), 0.7)},
                      train_loss=np.array([0.5]))
    single = Dataset(*build_tables([rec]))
    with pytest.raises(DataError, match="rte-s5: the release layout needs WI and DO seeds"):
        release.write_release(single, tmp_path / "s.pkl")
    txt = tmp_path / "notes.txt"
    txt.write_text("mine")
    with pytest.raises(DataError, match="exists and is not a pickle"):
        release.write_release(ds, txt)
    assert txt.read_text() == "mine"
    with pytest.raises(TypeError, match="nested_none: expected a bool"):
        release.write_release(ds, tmp_path / "n.pkl", nested_none="yes")

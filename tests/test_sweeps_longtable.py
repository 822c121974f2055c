"""Long tables (seedstats.data.formats.longtable): one row per (run, step, metric, value)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedstats.data.formats import longtable
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.errors import DataError, ParseError


def table(rng, *, counts=True):
    """Rows of 2 x 2 WI x DO runs; steps as global_step counts (or 0-based indices)."""
    rows, truth = [], {}
    for wi in (1, 2):
        for do in (1, 2):
            run = f"r{wi}{do}"
            acc = {g: float(rng.uniform(0.4, 0.9)) for g in (0, 10, 20, 30)}
            loss = {g: float(rng.uniform(0.1, 0.7)) for g in (5, 10, 15, 20, 25, 30)}
            truth[(wi, do)] = (acc, loss)
            off = 0 if counts else -1
            for g, v in acc.items():
                rows.append((run, "rte", wi, do, g + off, "eval_accuracy", v))
            for g, v in loss.items():
                rows.append((run, "rte", wi, do, g + off, "train_loss", v))
    df = pd.DataFrame(rows, columns=["trial", "task", "init", "order", "global_step", "name",
                                     "val"])
    return df.sample(frac=1.0, random_state=0), truth  # row order must not matter


MAP = {"run": "trial", "step": "global_step", "metric": "name", "value": "val",
       "wi": "init", "do": "order"}


def check(ds, truth, metric="accuracy"):
    t = ds.trials.set_index("trial_id")
    assert len(t) == 4
    for (wi, do), (acc, loss) in truth.items():
        tid = f"rte-wi{wi}-do{do}"
        e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["metric"] == metric)]
        d = e[e["phase"] == "during"]
        assert d["step"].tolist() == [9, 19, 29]
        np.testing.assert_array_equal(d["value"].to_numpy(), [acc[g] for g in (10, 20, 30)])
        assert t.loc[tid, "before"] == acc[0] and t.loc[tid, "after"] == acc[30]
        tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
        assert tl["step"].tolist() == [g - 1 for g in sorted(loss)]
        np.testing.assert_array_equal(tl["loss"].to_numpy(), [loss[g] for g in sorted(loss)])
        np.testing.assert_allclose(d["epoch"].to_numpy(), np.array([10, 20, 30]) / 156)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".tsv"])
def test_mapped_table_in_each_file_type(tmp_path, suffix):
    df, truth = table(np.random.default_rng(0))
    f = tmp_path / f"sweep{suffix}"
    if suffix == ".parquet":
        df.to_parquet(f)
    else:
        df.to_csv(f, sep="\t" if suffix == ".tsv" else ",", index=False)
    ds, rep = ingest(f, format="table", options=IngestOptions(mapping=MAP))
    check(ds, truth)
    assert any("count of updates" in n for n in rep.notes)  # 'global_step' counts


def test_default_names_autodetect_and_index_steps(tmp_path):
    df, truth = table(np.random.default_rng(1), counts=False)
    df = df.rename(columns={"trial": "run", "global_step": "step", "name": "metric",
                            "val": "value", "init": "wi_seed", "order": "do_seed"})
    f = tmp_path / "t.csv"
    df.to_csv(f, index=False)
    assert longtable.detect(f)
    ds, _ = ingest(f)
    assert ds.meta["provenance"]["format"] == "table"
    check(ds, truth)
    # read as counts, its step -1 (before training) would be a count of -1 updates: an error,
    # never a dropped evaluation
    with pytest.raises(ParseError, match=r"an evaluation logged before training began"):
        ingest(f, options=IngestOptions(mapping={"step_is": "count"}))


def test_phase_and_complete_columns(tmp_path):
    rows = [("a", 1, -1, "acc", 0.5, "before", True), ("a", 1, 9, "acc", 0.6, "during", True),
            ("a", 1, 19, "acc", 0.7, "during", True), ("a", 1, 19, "acc", 0.65, "after", True),
            ("b", 2, 9, "acc", 0.6, "during", False)]
    df = pd.DataFrame(rows, columns=["run", "seed", "step", "metric", "value", "phase",
                                     "complete"])
    f = tmp_path / "p.csv"
    df.to_csv(f, index=False)
    ds, _ = ingest(f, options=IngestOptions(task="rte"))
    t = ds.trials.set_index("trial_id")
    assert (t.loc["rte-s1", "before"], t.loc["rte-s1", "after"], t.loc["rte-s1", "best"]) == (
        0.5, 0.65, 0.7)
    assert not t.loc["rte-s2", "complete"] and np.isnan(t.loc["rte-s2", "after"])


def test_errors(tmp_path):
    df, _ = table(np.random.default_rng(2))
    f = tmp_path / "t.csv"
    df.to_csv(f, index=False)
    with pytest.raises(DataError, match=r"missing run \(column 'run'\).*--map"):
        ingest(f, format="table")
    with pytest.raises(DataError, match="--map: unknown key 'bogus'"):
        ingest(f, format="table", options=IngestOptions(mapping={**MAP, "bogus": "x"}))
    with pytest.raises(DataError, match="step_is"):
        ingest(f, format="table", options=IngestOptions(mapping={**MAP, "step_is": "x"}))
    bad = df.copy()
    bad.loc[bad.index[0], "init"] = 7  # a seed that changes within a run
    bad.to_csv(f, index=False)
    with pytest.raises(ParseError, match="column 'init': expected one value per run"):
        ingest(f, format="table", options=IngestOptions(mapping=MAP))
    bad = df.astype({"global_step": object})
    bad.loc[bad.index[3], "global_step"] = "x"
    bad.to_csv(f, index=False)
    with pytest.raises(ParseError, match=r"t.csv:\d+: column 'global_step': expected an integer"):
        ingest(f, format="table", options=IngestOptions(mapping=MAP))
    nos = df.drop(columns=["init", "order"])
    nos.to_csv(f, index=False)
    m = {k: v for k, v in MAP.items() if k not in ("wi", "do")}
    with pytest.raises(ParseError, match="no seed"):
        ingest(f, format="table", options=IngestOptions(mapping=m))
    # seeds from the run name
    ds, _ = ingest(f, format="table", options=IngestOptions(mapping=m, seeds_from="r{wi}{do}"))
    assert sorted(ds.trials["trial_id"]) == ["rte-wi1-do1", "rte-wi1-do2", "rte-wi2-do1",
                                             "rte-wi2-do2"]


def test_non_finite_step_is_an_error_not_a_dropped_row(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("run,step,metric,value,seed\nr1,5,acc,0.5,1\nr1,inf,acc,0.6,1\n")
    with pytest.raises(ParseError, match=r"t.csv:3: column 'step': expected an integer step"):
        ingest(f, format="table", options=IngestOptions(task="rte"))


def test_a_compressed_table_is_refused_not_expanded(tmp_path):
    import gzip

    from seedstats.data import ingest
    from seedstats.errors import ParseError

    raw = "run,step,metric,value\n" + "a,1,acc,0.5\n" * 1000
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(raw.encode()))
    with pytest.raises(ParseError, match=r"bomb\.csv\.gz: expected an uncompressed .* got a "
                                         r"\.gz file; decompress it first"):
        ingest(path, format="table")


@pytest.mark.parametrize("same", [True, False])
def test_steps_logged_twice_are_set_aside_and_said(tmp_path, same):
    from seedstats.data import IngestOptions, ingest

    rows = ["run,step,metric,value"] + [f"seed1,{g},accuracy,{0.5 + g / 100}"
                                        for g in range(1, 6)]
    rows += [f"seed1,3,accuracy,{0.53 if same else 0.9}"] * 1000      # step 3, again and again
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    opts = dict(task="rte", seeds_from="seed{seed}")
    if not same:  # different values at one step: an error unless a policy is chosen
        with pytest.raises(ParseError, match=r"metric 'accuracy': 1 step\(s\) logged more than "
                                             r"once with different values \(step 2: 0\.53, "
                                             r"then 0\.9\); choose --duplicates last"):
            ingest(path, format="table", options=IngestOptions(**opts))
        first, _ = ingest(path, format="table", options=IngestOptions(**opts,
                                                                      duplicates="first"))
        acc = first.evals[(first.evals["metric"] == "accuracy")
                          & (first.evals["phase"] != "after")]
        assert acc["value"].round(6).tolist() == [0.51, 0.52, 0.53, 0.54, 0.55]
        opts["duplicates"] = "last"
    ds, rep = ingest(path, format="table", options=IngestOptions(**opts))
    flag = "duplicate_steps" if same else "conflicting_steps"
    assert ds.trials["flags"].tolist() == [flag]
    acc = ds.evals[ds.evals["metric"] == "accuracy"]
    # one evaluation per step logged (5), and at step 3 the value logged last
    assert acc.loc[acc["phase"] != "after", "value"].round(6).tolist() == [
        0.51, 0.52, 0.53 if same else 0.9, 0.54, 0.55]
    assert rep.files["set_aside"].tolist() == [1000]  # counted, per run
    (note,) = [n for n in rep.notes if flag in n]
    assert note.startswith("1 trial(s) logged a step more than once") and "kept" in note
    assert str(rep).count(flag) >= 1


def test_a_row_without_a_run_is_an_error_or_set_aside_with_a_note(tmp_path):
    from seedstats.data import IngestOptions, ingest
    from seedstats.errors import ParseError

    path = tmp_path / "t.csv"
    path.write_text("run,step,metric,value\nseed1,1,accuracy,0.5\n,2,accuracy,0.6\n"
                    "seed1,3,accuracy,0.7\n")
    opts = dict(task="rte", seeds_from="seed{seed}")
    with pytest.raises(ParseError, match=r"t\.csv:3: column 'run': expected a run name, got an "
                                         r"empty cell"):
        ingest(path, format="table", options=IngestOptions(**opts))
    ds, rep = ingest(path, format="table", options=IngestOptions(skip_bad=True, **opts))
    assert "set aside 1 row(s) with an empty 'run' cell (lines 3)" in rep.notes
    assert ds.evals.loc[ds.evals["phase"] == "during", "value"].tolist() == [0.5, 0.7]


def test_mapped_columns_are_found_without_format_and_steps_need_a_convention(tmp_path):
    df, truth = table(np.random.default_rng(3))
    f = tmp_path / "t.csv"
    df.to_csv(f, index=False)
    ds, _ = ingest(f, options=IngestOptions(mapping=MAP))  # auto: --map names the columns
    check(ds, truth)
    m = {**MAP, "step": "it"}
    df.rename(columns={"global_step": "it"}).to_csv(f, index=False)
    with pytest.raises(DataError, match=r"t\.csv: step column 'it': cannot tell whether it "
                                        r"counts the updates done .* --map step_is=count"):
        ingest(f, options=IngestOptions(mapping=m))
    ds, rep = ingest(f, options=IngestOptions(mapping={**m, "step_is": "count"}))
    check(ds, truth)


def test_bookkeeping_rows_are_never_metrics_and_the_report_says_so(tmp_path):
    rows = ["run,step,metric,value"]
    for g in (10, 20):
        rows += [f"seed1,{g},accuracy,0.{g}", f"seed1,{g},learning_rate,0.001",
                 f"seed1,{g},grad_norm,1.5", f"seed1,{g},train_loss,0.5"]
    f = tmp_path / "t.csv"
    f.write_text("\n".join(rows) + "\n")
    ds, rep = ingest(f, options=IngestOptions(task="mine", seeds_from="seed{seed}"))
    assert set(ds.evals["metric"].astype(str)) == {"accuracy"}
    roles = dict(zip(rep.keys["key"], rep.keys["role"]))
    assert roles == {"accuracy": "validation metric", "train_loss": "training loss",
                     "grad_norm": "bookkeeping", "learning_rate": "bookkeeping"}
    assert "keys read (format table):" in str(rep)

"""The normalized dataset on disk: schema contract, atomic writes, readers (DESIGN.md)."""

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_release import make_dataset

from seedstats.data import schema, store
from seedstats.data.dataset import Dataset
from seedstats.data.embedded import load
from seedstats.errors import DataError, SeedstatsNote

TABLES = {"trials": schema.TRIALS_COLUMNS, "evals": schema.EVALS_COLUMNS,
          "train_loss": schema.TRAIN_LOSS_COLUMNS}


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


@pytest.fixture
def saved(tmp_path, ds):
    return ds.save(tmp_path / "ds")


def hidden(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_load_round_trip_is_exact(saved, ds):
    got = load(saved)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(ds, name), obj=name)
    assert got.meta == {"schema_version": schema.SCHEMA_VERSION, "synthetic": True,
                        "lower_is_better": {"acc": False, "acc_and_f1": False, "f1": False,
                                            "loss": True}}
    assert got.synthetic and got.path == saved


def test_dtypes_follow_the_schema_after_a_round_trip(saved):
    got = load(saved)
    for name, cols in TABLES.items():
        df = getattr(got, name)
        assert list(df.columns) == list(cols), name
        assert {c: str(df[c].dtype) for c in cols} == dict(cols), name


def test_parquet_types_for_other_readers(saved):
    """What pyarrow (and so DuckDB, Polars, R arrow) sees: small ints, float64, dictionaries."""
    trials = pq.read_schema(saved / "trials.parquet")
    assert trials.field("wi_seed").type == pa.int32() and trials.field("seed").type == pa.int32()
    assert trials.field("n_evals").type == pa.int32()
    assert trials.field("after").type == pa.float64()
    assert trials.field("complete").type == pa.bool_()
    assert pa.types.is_dictionary(trials.field("task").type)
    assert pa.types.is_string(trials.field("trial_id").type) or pa.types.is_large_string(
        trials.field("trial_id").type)
    evals = pq.read_schema(saved / "evals.parquet")
    assert evals.field("step").type == pa.int32() and evals.field("value").type == pa.float64()
    assert pa.types.is_dictionary(evals.field("phase").type)
    loss = pq.read_table(saved / "train_loss.parquet")
    assert loss.num_rows == 870 and loss.column_names == list(schema.TRAIN_LOSS_COLUMNS)
    # plain pandas, without seedstats
    evals_df = pd.read_parquet(saved / "evals.parquet")
    assert len(evals_df) == 426 and set(evals_df["phase"]) == {"before", "during", "after"}
    meta = json.loads((saved / "dataset.json").read_text())
    assert meta["schema_version"] == schema.SCHEMA_VERSION and meta["synthetic"] is True


def test_duckdb_reads_the_files_as_they_are(saved):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    n = con.execute(f"select count(*) from '{saved / 'evals.parquet'}'").fetchall()[0][0]
    assert n == 426
    phases = con.execute(f"select distinct phase from '{saved / 'evals.parquet'}'").fetchall()
    assert {p for (p,) in phases} == {"before", "during", "after"}


def test_failed_write_leaves_nothing_behind(tmp_path, ds, monkeypatch):
    real = pq.write_table
    calls = []

    def failing(table, where, **kw):
        calls.append(where)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        ds.save(tmp_path / "ds")
    assert len(calls) == 2 and calls[0].parent.parent == tmp_path  # it wrote beside the target
    assert not (tmp_path / "ds").exists()
    assert hidden(tmp_path) == []  # the temporary directory is gone


def test_failed_overwrite_keeps_the_old_dataset(saved, ds, monkeypatch):
    def failing(*a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", failing)
    smaller = Dataset(ds.trials.iloc[:2], ds.evals.iloc[:0], ds.train_loss.iloc[:0], {})
    with pytest.raises(OSError):
        smaller.save(saved)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(load(saved).trials, ds.trials)
    assert hidden(saved.parent) == []


def test_overwriting_a_dataset_replaces_it(saved, ds):
    trials = ds.trials.iloc[:2].reset_index(drop=True)
    Dataset(trials, ds.evals.iloc[:0], ds.train_loss.iloc[:0], {"synthetic": False}).save(saved)
    got = load(saved)
    assert got.trials["trial_id"].tolist() == trials["trial_id"].tolist()
    assert not got.synthetic and hidden(saved.parent) == []


def test_refuses_to_overwrite_what_is_not_a_dataset(tmp_path, ds):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(DataError, match="mine: exists and is not a seedstats dataset"):
        ds.save(mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(DataError, match="exists and is not a seedstats dataset"):
        ds.save(f)
    assert f.read_text() == "x"
    empty = tmp_path / "empty"
    empty.mkdir()
    ds.save(empty)
    assert store.is_dataset(empty)


def test_refuses_tables_that_break_the_schema(tmp_path, ds):
    with pytest.raises(DataError, match="trials: columns .* differ from the schema"):
        store.write_dataset(tmp_path / "x", ds.trials.drop(columns="source"), ds.evals,
                            ds.train_loss, {})
    assert not (tmp_path / "x").exists() and hidden(tmp_path) == []


def test_read_errors(saved, tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load(tmp_path / "missing")
    with pytest.raises(DataError, match="not a seedstats dataset"):
        load(tmp_path)
    meta = json.loads((saved / "dataset.json").read_text())
    (saved / "dataset.json").write_text(json.dumps({**meta, "schema_version": 99}))
    with pytest.raises(DataError, match="schema version 99, this seedstats reads versions 1 to 3"):
        load(saved)
    (saved / "dataset.json").write_text("{\n  oops")
    with pytest.raises(DataError, match=r"dataset.json:2: invalid JSON"):
        load(saved)


def test_written_dataset_has_ordinary_directory_permissions(tmp_path, ds):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        out = ds.save(tmp_path / "perm")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_read_errors_for_damaged_files_are_one_line(saved):
    meta = json.loads((saved / "dataset.json").read_text())
    (saved / "dataset.json").write_text("[1]")
    with pytest.raises(DataError, match="dataset.json: expected a JSON object, got list"):
        load(saved)
    (saved / "dataset.json").write_text(json.dumps(meta))
    (saved / "evals.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="evals.parquet: not a readable Parquet file"):
        load(saved)


def test_refuses_to_overwrite_a_dataset_directory_holding_other_files(saved, ds):
    (saved / "notes.txt").write_text("precious")
    with pytest.raises(DataError, match="exists and is not empty"):
        ds.save(saved)
    assert (saved / "notes.txt").read_text() == "precious"
    assert store.is_dataset(saved)


def test_a_schema_1_dataset_is_upgraded_with_the_paper_score(saved, ds):
    # version 1 had no `score` column: it is computed from the evaluations on reading
    t = pq.read_table(saved / "trials.parquet").drop(["score"])
    pq.write_table(t, saved / "trials.parquet")
    meta = json.loads((saved / "dataset.json").read_text())
    (saved / "dataset.json").write_text(json.dumps({**meta, "schema_version": 1}))
    got = load(saved)
    assert list(got.trials.columns) == list(schema.TRIALS_COLUMNS)
    assert got.meta["schema_version"] == 3 and got.meta["upgraded_from_schema"] == 1
    pd.testing.assert_series_equal(got.trials["score"], ds.trials["score"])
    assert got.trials["score"].notna().any()


def test_a_schema_2_dataset_gets_one_system_and_the_directions_by_name(saved, ds):
    for name in TABLES:  # version 2 had no system column and no directions
        f = saved / f"{name}.parquet"
        pq.write_table(pq.read_table(f).drop(["system"]), f)
    meta = json.loads((saved / "dataset.json").read_text())
    del meta["lower_is_better"]
    (saved / "dataset.json").write_text(json.dumps({**meta, "schema_version": 2}))
    got = load(saved)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(ds, name), obj=name)
    assert got.systems == [schema.DEFAULT_SYSTEM]
    assert got.meta["upgraded_from_schema"] == 2
    assert got.meta["lower_is_better"] == {"acc": False, "acc_and_f1": False, "f1": False,
                                           "loss": True}
    assert got.lower_is_better("loss") and not got.lower_is_better("acc")


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_overwriting_keeps_the_hidden_entries_of_the_old_directory(saved, ds):
    (saved / ".git").mkdir()
    (saved / ".git" / "HEAD").write_text("ref: main\n")
    (saved / ".notes").write_text("mine")
    ds.save(saved)
    assert (saved / ".git" / "HEAD").read_text() == "ref: main\n"
    assert (saved / ".notes").read_text() == "mine"
    assert store.is_dataset(saved)
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(f".{saved.name}.")]


def test_a_crash_between_the_two_renames_is_repaired_on_the_next_write(saved, ds):
    # the state a kill leaves between "old away" and "new in": no --out, the old in a backup
    pid = _dead_pid()
    backup = saved.with_name(f".{saved.name}.old-{pid}")
    saved.rename(backup)
    (backup / ".notes").write_text("mine")
    unfinished = saved.with_name(f".{saved.name}.{pid}.abc123.tmp")
    unfinished.mkdir()
    (unfinished / "trials.parquet").write_bytes(b"half")
    with pytest.warns(SeedstatsNote) as notes:
        notes_list = store.recover(saved)
    assert len(notes_list) == 2 and len(notes) == 2
    assert "restored the previous copy" in notes_list[0]
    assert "removed" in notes_list[1] and "unfinished" in notes_list[1]
    assert store.is_dataset(saved) and (saved / ".notes").read_text() == "mine"
    assert not backup.exists() and not unfinished.exists()
    pd.testing.assert_frame_equal(load(saved).trials, ds.trials)


def test_a_backup_left_after_the_swap_is_removed_keeping_its_hidden_entries(saved, ds):
    pid = _dead_pid()
    backup = saved.with_name(f".{saved.name}.old-{pid}")
    backup.mkdir()
    (backup / "trials.parquet").write_bytes(b"old")
    (backup / ".notes").write_text("mine")
    with pytest.warns(SeedstatsNote, match="moved 1 hidden entries of it back"):
        ds.save(saved)
    assert (saved / ".notes").read_text() == "mine" and not backup.exists()


def test_leftovers_of_a_running_process_are_left_alone(saved):
    import os
    import warnings

    mine = saved.with_name(f".{saved.name}.old-{os.getppid()}")
    mine.mkdir()
    tmp = saved.with_name(f".{saved.name}.{os.getppid()}.xyz.tmp")
    tmp.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.recover(saved) == []
    assert mine.exists() and tmp.exists()


def test_the_command_line_prints_a_note_in_one_line(saved, ds, tmp_path, capsys):
    from seedstats.cli import main
    from seedstats.data import export

    src = export(ds, tmp_path / "logs", format="rawlog")
    out = tmp_path / "again"
    pid = _dead_pid()
    saved.rename(out.with_name(f".again.old-{pid}"))      # a kill left only the backup
    assert main(["ingest", str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    notes = [x for x in err.splitlines() if "note:" in x]
    assert notes == [f"seedstats ingest: note: {out}: restored the previous copy from "
                     f".again.old-{pid}, left by an interrupted write"]
    assert store.is_dataset(out) and not out.with_name(f".again.old-{pid}").exists()


def test_a_killed_writer_s_temporary_file_is_removed_on_the_next_write(tmp_path):
    target = tmp_path / "fig2.png"
    target.write_bytes(b"old")
    pid = _dead_pid()
    left = tmp_path / f".fig2.png.{pid}.tmp"
    left.write_bytes(b"half")
    with pytest.warns(SeedstatsNote, match="removed .fig2.png.*unfinished"):
        with store.writing_file(target) as tmp:
            tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and not left.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig2.png"]


@pytest.mark.parametrize("delay", [0.6, 1.2, 1.8, 2.4])
def test_kill_9_during_figures_leaves_old_or_new_files_and_a_rerun_cleans_up(tmp_path, delay):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "figs"
    cmd = [sys.executable, "-m", "seedstats", "figures", "fig2", "fig3", "fig8", "--data",
           "dodge2020", "--out", str(out), "--jobs", "1"]
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    png = b"\x89PNG\r\n\x1a\n"
    for f in out.glob("*.png") if out.exists() else []:
        data = f.read_bytes()
        assert data.startswith(png) and data.rstrip().endswith(b"IEND\xaeB`\x82"), f
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert not [f.name for f in out.iterdir() if f.name.startswith(".")]
    assert sorted(f.name for f in out.glob("*.png")) == ["fig2.png", "fig3.png", "fig8.png"]


@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4])
def test_kill_9_during_ingest_and_earlystop_leaves_the_old_state_or_the_new(
        tmp_path, ds, delay):
    import os
    import signal
    import subprocess
    import sys
    import time

    from seedstats.data import export

    src = export(ds, tmp_path / "logs", format="rawlog")
    env = dict(os.environ, MPLBACKEND="Agg")
    out, es = tmp_path / "ds", tmp_path / "es"
    ingest = [sys.executable, "-m", "seedstats", "ingest", str(src), "--out", str(out)]
    assert subprocess.run(ingest, env=env, capture_output=True).returncode == 0
    (out / ".notes").write_text("mine")
    before = load(out).trials
    search = [sys.executable, "-m", "seedstats", "earlystop", "--task", "sst", "--exact",
              "--max-budget", "2", "--out", str(es)]
    for cmd in (ingest, search):
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
    # the dataset is the old one or the new one (here they are equal), whole, with the notes
    # (a kill between the two renames leaves it only in the backup: the next write restores it)
    rerun = subprocess.run(ingest, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    pd.testing.assert_frame_equal(load(out).trials, before)
    assert (out / ".notes").read_text() == "mine"
    res = subprocess.run(search, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in es.iterdir()) == [
        "assignments.csv", "assignments.parquet", "best.csv", "best.parquet"]
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert left == [], left


@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4])
def test_kill_9_during_tables_leaves_whole_files_and_a_rerun_cleans_up(tmp_path, delay):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "t"
    cmd = [sys.executable, "-m", "seedstats", "tables", "--data", "dodge2020", "--out", str(out)]
    env = dict(os.environ, MPLBACKEND="Agg")
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    first = {f.name: f.read_bytes() for f in out.iterdir()}
    (out / ".notes").write_text("mine")
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    # every table is the old one or the new one (the same data: equal), never half-written
    for f in out.iterdir():
        if not f.name.startswith("."):
            assert f.read_bytes() == first[f.name], f.name
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert {f.name: f.read_bytes() for f in out.iterdir() if not f.name.startswith(".")} == first
    assert sorted(f.name for f in out.iterdir() if f.name.startswith(".")) == [".notes"]

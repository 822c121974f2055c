"""MLflow file store and SQLite database (seedstats.data.formats.mlflow), laid out as MLflow does.

File store (``mlflow/store/tracking/file_store.py``): ``<root>/<exp>/meta.yaml``,
``<root>/<exp>/<run>/meta.yaml`` (``yaml.safe_dump`` of the run info, sorted keys, ``status``
as the ``RunStatus`` number, ``tags: []``), ``metrics/<key>`` lines ``"{timestamp} {value}
{step}"``, ``params/<key>``, ``tags/<key>``. SQLite: the tables of
``mlflow/store/tracking/dbmodels/models.py`` (NaN stored as value 0 with ``is_nan = 1``).
What is logged is what the Trainer's ``MLflowCallback`` logs: its log keys with
``step=state.global_step`` and ``TrainingArguments`` plus the model config as params.
"""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from seedstats.data.formats import mlflow as mlf
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.errors import ParseError

STATUS_NUM = {"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}


def hf_metrics(rng, *, finished=True, nan_at=None):
    """(key, value, timestamp, step) as MLflowCallback logs them, and the truth."""
    out, truth = [], {"acc": {}, "train": {}}
    ts = 1_700_000_000_000
    last = 30 if finished else 20
    for g in range(5, last + 1, 5):
        ts += 1000
        lo = float(rng.uniform(0.1, 0.7))
        truth["train"][g] = lo
        out += [("loss", lo, ts, g), ("grad_norm", 2.5, ts, g), ("learning_rate", 2e-5, ts, g),
                ("epoch", g / 10, ts, g)]
        if g % 10 == 0:
            ts += 1000
            a = float("nan") if g == nan_at else float(rng.uniform(0.4, 0.9))
            truth["acc"][g] = a
            out += [("eval_loss", 0.5, ts, g), ("eval_accuracy", a, ts, g),
                    ("eval_runtime", 1.1, ts, g), ("eval_samples_per_second", 250.0, ts, g),
                    ("eval_steps_per_second", 15.6, ts, g), ("epoch", g / 10, ts, g)]
    if finished:
        ts += 1000
        out += [("train_runtime", 61.0, ts, 30), ("train_samples_per_second", 7.9, ts, 30),
                ("train_steps_per_second", 0.49, ts, 30), ("total_flos", 1e12, ts, 30),
                ("train_loss", 0.4, ts, 30), ("epoch", 3.0, ts, 30)]
    return out, truth


RUNS = [  # run_id, name, seed, status, lifecycle, finished, nan_at
    ("a1b2c3d4e5f60718293a4b5c6d7e8f90", "wi1_do1", 11, "FINISHED", "active", True, None),
    ("b1b2c3d4e5f60718293a4b5c6d7e8f90", "wi1_do2", 12, "FINISHED", "active", True, 20),
    ("c1b2c3d4e5f60718293a4b5c6d7e8f90", "wi2_do1", 13, "KILLED", "active", False, None),
    ("d1b2c3d4e5f60718293a4b5c6d7e8f90", "wi2_do2", 14, "FINISHED", "deleted", True, None),
]


def build(rng):
    runs = []
    for rid, name, seed, status, stage, finished, nan_at in RUNS:
        metrics, truth = hf_metrics(rng, finished=finished, nan_at=nan_at)
        params = {"seed": str(seed), "finetuning_task": "rte", "learning_rate": "2e-05",
                  "data_seed": "None", "output_dir": f"out/{name}"}
        runs.append(dict(rid=rid, name=name, seed=seed, status=status, stage=stage,
                         metrics=metrics, params=params, truth=truth))
    return runs


def _yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, str):
        return "''" if v == "" else (f"'{v}'" if v.isdigit() else v)
    return str(v)


def write_file_store(root, runs):
    exp = root / "1"
    exp.mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        f"artifact_location: file://{exp}\ncreation_time: 1700000000000\nexperiment_id: '1'\n"
        "last_update_time: 1700000000000\nlifecycle_stage: active\nname: rte-sweep\n")
    (root / "0").mkdir()
    (root / "0" / "meta.yaml").write_text("artifact_location: file:///x\nexperiment_id: '0'\n"
                                          "lifecycle_stage: active\nname: Default\n")
    for r in runs:
        d = exp / r["rid"]
        for sub in ("metrics", "params", "tags", "artifacts"):
            (d / sub).mkdir(parents=True)
        info = {"artifact_uri": f"file://{d}/artifacts", "end_time": 1700000100000,
                "entry_point_name": "", "experiment_id": "1", "lifecycle_stage": r["stage"],
                "run_id": r["rid"], "run_name": r["name"], "run_uuid": r["rid"],
                "source_name": "", "source_type": 4, "source_version": "",
                "start_time": 1700000000000, "status": STATUS_NUM[r["status"]], "tags": [],
                "user_id": "alice"}
        lines = [f"{k}: {_yaml_scalar(v) if k != 'tags' else '[]'}" for k, v in
                 sorted(info.items())]
        (d / "meta.yaml").write_text("\n".join(lines) + "\n")
        for key, value, ts, step in r["metrics"]:
            with open(d / "metrics" / key, "a") as fh:
                fh.write(f"{ts} {value} {step}\n")
        for k, v in r["params"].items():
            (d / "params" / k).write_text(v)
        (d / "tags" / "mlflow.runName").write_text(r["name"])
        (d / "tags" / "mlflow.user").write_text("alice")


DDL = """
CREATE TABLE experiments (experiment_id INTEGER NOT NULL, name VARCHAR(256) NOT NULL,
  artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32), creation_time BIGINT,
  last_update_time BIGINT, CONSTRAINT experiment_pk PRIMARY KEY (experiment_id), UNIQUE (name),
  CONSTRAINT experiments_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted')));
CREATE TABLE runs (run_uuid VARCHAR(32) NOT NULL, name VARCHAR(250), source_type VARCHAR(20),
  source_name VARCHAR(500), entry_point_name VARCHAR(50), user_id VARCHAR(256),
  status VARCHAR(9), start_time BIGINT, end_time BIGINT, deleted_time BIGINT,
  source_version VARCHAR(50), lifecycle_stage VARCHAR(20), artifact_uri VARCHAR(200),
  experiment_id INTEGER, CONSTRAINT run_pk PRIMARY KEY (run_uuid),
  FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id),
  CONSTRAINT status CHECK (status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING', 'KILLED')),
  CONSTRAINT runs_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted')));
CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,
  run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT '0' NOT NULL,
  is_nan BOOLEAN DEFAULT '0' NOT NULL,
  CONSTRAINT metric_pk PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan),
  FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid), CHECK (is_nan IN (0, 1)));
CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid);
CREATE TABLE latest_metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL,
  timestamp BIGINT, step BIGINT NOT NULL, is_nan BOOLEAN NOT NULL, run_uuid VARCHAR(32) NOT NULL,
  CONSTRAINT latest_metric_pk PRIMARY KEY (key, run_uuid),
  FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid), CHECK (is_nan IN (0, 1)));
CREATE TABLE params (key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL,
  run_uuid VARCHAR(32) NOT NULL, CONSTRAINT param_pk PRIMARY KEY (key, run_uuid),
  FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid));
CREATE TABLE tags (key VARCHAR(250) NOT NULL, value VARCHAR(5000), run_uuid VARCHAR(32) NOT NULL,
  CONSTRAINT tag_pk PRIMARY KEY (key, run_uuid), FOREIGN KEY(run_uuid) REFERENCES runs (run_uuid));
CREATE TABLE experiment_tags (key VARCHAR(250) NOT NULL, value VARCHAR(5000),
  experiment_id INTEGER NOT NULL, CONSTRAINT experiment_tag_pk PRIMARY KEY (key, experiment_id));
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,
  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
"""


def write_sqlite(path, runs):
    con = sqlite3.connect(path)
    con.executescript(DDL)
    con.execute("INSERT INTO alembic_version VALUES ('1b5f0d9ad7c1')")
    con.execute("INSERT INTO experiments VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', "
                "1700000000000, 1700000000000)")
    for r in runs:
        con.execute("INSERT INTO runs VALUES (?, ?, 'UNKNOWN', '', '', 'alice', ?, 1, 2, NULL, "
                    "'', ?, 'x', 0)", (r["rid"], r["name"], r["status"], r["stage"]))
        for key, value, ts, step in r["metrics"]:
            nan = math.isnan(value)  # SqlAlchemyStore: NaN -> value 0, is_nan true
            con.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                        (key, 0.0 if nan else value, ts, r["rid"], step, nan))
        for k, v in r["params"].items():
            con.execute("INSERT INTO params VALUES (?, ?, ?)", (k, v, r["rid"]))
        con.execute("INSERT INTO tags VALUES ('mlflow.runName', ?, ?)", (r["name"], r["rid"]))
    con.commit()
    con.close()


def check(ds, runs, by="seed"):
    t = ds.trials.set_index("trial_id")
    live = [r for r in runs if r["stage"] == "active"]
    assert len(t) == len(live)
    for r in live:
        tid = f"rte-s{r['seed']}" if by == "seed" else "rte-" + r["name"].replace("_", "-")
        row = t.loc[tid]
        e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["metric"] == "accuracy")]
        d = e[e["phase"] == "during"]
        acc = r["truth"]["acc"]
        assert d["step"].tolist() == [g - 1 for g in acc]
        np.testing.assert_array_equal(d["value"].to_numpy(), list(acc.values()))
        tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
        assert tl["step"].tolist() == [g - 1 for g in r["truth"]["train"]]
        np.testing.assert_array_equal(tl["loss"].to_numpy(), list(r["truth"]["train"].values()))
        finished = r["status"] == "FINISHED"
        assert bool(row["complete"]) is finished
        if finished:
            assert row["after"] == acc[30] and row["n_steps"] == 30
            assert e[e["phase"] == "after"]["step"].tolist() == [29]
        else:
            assert np.isnan(row["after"]) and "status_killed" in row["flags"]
        assert row["best"] == np.nanmax(list(acc.values()))
        np.testing.assert_allclose(d["epoch"].to_numpy(), [g / 10 for g in acc])
    nan_row = t.loc[[i for i in t.index if "12" in i or "do2" in i][0]]
    assert "nan" in nan_row["flags"]


@pytest.fixture
def runs():
    return build(np.random.default_rng(0))


def test_file_store(tmp_path, runs):
    root = tmp_path / "mlruns"
    write_file_store(root, runs)
    assert mlf.detect(root) and mlf.detect(root / "1" / RUNS[0][0])
    ds, rep = ingest(root)  # seeds and task from the Trainer's params
    assert ds.meta["provenance"]["format"] == "mlflow"
    check(ds, runs)
    assert any("deleted" in n for n in rep.notes)


def test_sqlite(tmp_path, runs):
    db = tmp_path / "mlflow.db"
    write_sqlite(db, runs)
    assert mlf.detect(db) and mlf.is_sqlite(db)
    ds, rep = ingest(db)
    check(ds, runs)
    assert any("deleted" in n for n in rep.notes)
    # --seeds-from matches the run's name
    ds, _ = ingest(db, options=IngestOptions(seeds_from="wi{wi}_do{do}"))
    check(ds, runs, by="name")


def test_both_stores_agree(tmp_path, runs):
    write_file_store(tmp_path / "mlruns", runs)
    write_sqlite(tmp_path / "m.db", runs)
    a, _ = ingest(tmp_path / "mlruns")
    b, _ = ingest(tmp_path / "m.db")
    cols = ["trial_id", "before", "after", "best", "n_evals", "n_steps", "complete"]
    pa = a.trials[cols].sort_values("trial_id").reset_index(drop=True)
    pb = b.trials[cols].sort_values("trial_id").reset_index(drop=True)
    assert pa.equals(pb)


def test_meta_yaml_parser(tmp_path):
    f = tmp_path / "meta.yaml"
    f.write_text("end_time: null\nentry_point_name: ''\nexperiment_id: '1'\nrun_name: it''s\n"
                 "status: 3\ntags: []\nuser_id: bob\n")
    m = mlf.read_meta_yaml(f)
    assert m["end_time"] is None and m["entry_point_name"] == "" and m["experiment_id"] == "1"
    assert m["status"] == 3 and m["user_id"] == "bob"


def test_damaged_inputs(tmp_path, runs):
    root = tmp_path / "mlruns"
    write_file_store(root, runs[:1])
    mfile = root / "1" / RUNS[0][0] / "metrics" / "eval_accuracy"
    mfile.write_text(mfile.read_text() + "1700 not-a-number 3\n")
    with pytest.raises(ParseError, match=r"eval_accuracy:\d+: expected 'timestamp value step'"):
        ingest(root)
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (x)")
    con.execute("CREATE TABLE metrics (x)")
    con.commit()
    con.close()
    with pytest.raises(ParseError, match="missing \\['params'\\]"):
        ingest(db, format="mlflow")
    notdb = tmp_path / "x.db"
    notdb.write_bytes(b"not sqlite at all")
    with pytest.raises(ParseError, match="expected an MLflow SQLite database"):
        ingest(notdb, format="mlflow")


LIGHTNING_NAMES = {"eval_accuracy": "val_acc", "eval_loss": "val_loss", "loss": "train_loss"}


def test_lightning_style_keys_are_read_not_dropped(tmp_path, runs):
    # val_acc / val_loss / train_loss (Lightning's and many MLflow users' names): every value
    # arrives, under the name as logged without its prefix
    for r in runs:
        r["metrics"] = [(LIGHTNING_NAMES.get(k, k), v, ts, g) for k, v, ts, g in r["metrics"]
                        if not k.startswith(("eval_runtime", "eval_samples", "eval_steps",
                                             "train_loss"))]  # no Trainer end record here
    root = tmp_path / "mlruns"
    write_file_store(root, runs)
    ds, _ = ingest(root, options={"metric": "val_acc"})
    t = ds.trials.set_index("trial_id")
    for r in (r for r in runs if r["stage"] == "active"):
        tid = f"rte-s{r['seed']}"
        e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["phase"] == "during")]
        acc = e[e["metric"] == "acc"]
        assert acc["step"].tolist() == [g - 1 for g in r["truth"]["acc"]]
        np.testing.assert_array_equal(acc["value"].to_numpy(), list(r["truth"]["acc"].values()))
        assert (e[e["metric"] == "loss"]["value"] == 0.5).all()
        tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
        np.testing.assert_array_equal(tl["loss"].to_numpy(),
                                      list(r["truth"]["train"].values()))
        assert t.loc[tid, "metric"] == "acc"


def test_a_source_without_validation_values_is_an_error(tmp_path, runs):
    for r in runs:
        r["metrics"] = [m for m in r["metrics"] if not m[0].startswith("eval_")]
    root = tmp_path / "mlruns"
    write_file_store(root, runs)
    from seedstats.errors import DataError

    with pytest.raises(DataError, match=r"3 run\(s\) and 16 training-loss step\(s\) read, but "
                                        r"no validation evaluation: expected validation keys"):
        ingest(root)


def _real_db(tmp_path):
    import gzip
    from pathlib import Path

    src = Path(__file__).parent / "fixtures" / "real" / "mlflow_sqlite" / "mlflow.db.gz"
    db = tmp_path / "mlflow.db"
    db.write_bytes(gzip.decompress(src.read_bytes()))
    return db


@pytest.mark.parametrize("change, message", [
    ("UPDATE metrics SET step = 8.5 WHERE key = 'val_acc' AND step = 8",
     r"expected an MLflow run; got ValueError: steps: expected whole numbers below 2\*\*53, "
     r"got 8\.5"),
    ("UPDATE metrics SET value = 'abc' WHERE key = 'val_acc' AND step = 8",
     r"metrics table: run \w+, key 'val_acc', step 8: expected a number, got 'abc'"),
    ("UPDATE metrics SET step = -3 WHERE key = 'val_acc' AND step = 8",
     r"metric 'acc': an evaluation logged before training began"),
    ("INSERT INTO metrics SELECT 'val/acc', value + 0.1, timestamp, run_uuid, step, is_nan "
     "FROM metrics WHERE key = 'val_acc'",
     r"keys 'val/acc' and 'val_acc' both name metric 'acc' but hold different values"),
])
def test_a_damaged_database_is_an_error_never_a_silent_loss(tmp_path, change, message):
    import sqlite3

    db = _real_db(tmp_path)
    con = sqlite3.connect(db)
    con.execute(change)
    con.commit()
    con.close()
    with pytest.raises(ParseError, match=message):
        ingest(db, options={"task": "syn"})


def test_two_keys_with_the_same_values_keep_one_and_say_so(tmp_path):
    import sqlite3

    db = _real_db(tmp_path)
    con = sqlite3.connect(db)
    con.execute("INSERT INTO metrics SELECT 'val/acc', value, timestamp, run_uuid, step, is_nan "
                "FROM metrics WHERE key = 'val_acc'")
    con.commit()
    con.close()
    ds, rep = ingest(db, options={"task": "syn"})
    roles = rep.keys.set_index("key")
    assert roles.loc["val_acc", "role"] == "bookkeeping"  # 'val/acc' sorts first: kept
    assert roles.loc["val_acc", "reason"] == "the same values as 'val/acc'"
    assert len(ds.evals[ds.evals["metric"] == "acc"]) == 13  # 3 x 3 + 3 after + 1 killed

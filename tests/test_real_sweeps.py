"""Sweeps written by the real libraries at their defaults (``tests/fixtures/real``, made by
``tests/fixtures/make_real_sweeps.py``), read value by value against what the training code
handed to the library (``truth.json``), not against the readers' own output."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from seedstats.data import ingest

REAL = Path(__file__).parent / "fixtures" / "real"
MANIFEST = json.loads((REAL / "manifest.json").read_text())

# form -> (source inside the form, format detected, options needed, key -> dataset metric
# ("train" for the training loss), step convention: the seedstats step of a truth step,
# dtype of the stored values)
def COUNT(g):  # a count of updates done (Trainer, MLflow, TensorBoard, Ray)
    return g - 1


def INDEX(g):  # a 0-based index (Lightning, Optuna)
    return g



LIGHTNING_KEYS = {"train_loss": "train", "val_acc": "acc", "val_loss": "loss"}
HF_KEYS = {"loss": "train", "eval_accuracy": "accuracy", "eval_loss": "loss"}
FORMS = {
    "lightning_csv": (".", "lightning", {}, LIGHTNING_KEYS, np.float64),
    "lightning_tb": (".", "tensorboard", {}, LIGHTNING_KEYS, np.float32),
    "summarywriter": (".", "tensorboard", {},
                      {"Loss/train": "train", "Accuracy/val": "accuracy", "Loss/val": "loss"},
                      np.float32),
    "mlflow_sqlite": ("mlflow.db", "mlflow", {}, LIGHTNING_KEYS, np.float64),
    "mlflow_files": ("mlruns", "mlflow", {}, LIGHTNING_KEYS, np.float64),
    "ray_tune": (".", "ray", {}, LIGHTNING_KEYS, np.float64),
    "optuna": ("optuna.db", "optuna", {}, {"intermediate": "objective"}, np.float64),
    "hf_trainer": (".", "hf", {"seeds_from": "seed{seed}"}, HF_KEYS, np.float64),
    "hf_trainer/tensorboard": (".", "tensorboard", {}, HF_KEYS, np.float32),
    "hf_trainer/mlflow": ("mlflow.db", "mlflow", {}, HF_KEYS, np.float64),
    "wandb_offline": (".", "wandb-offline", {},
                      {"train/loss": "train", "val/acc": "acc", "val/loss": "loss"}, np.float64),
    "hf_trainer_wandb": (".", "wandb-offline", {}, HF_KEYS, np.float64),
    "lightning_wandb": (".", "wandb-offline", {}, LIGHTNING_KEYS, np.float64),
}
#: forms read through a library's own reader (an optional extra of seedstats)
NEEDS = {"wandb_offline": "wandb", "hf_trainer_wandb": "wandb", "lightning_wandb": "wandb"}
# train steps of the training code -> seedstats steps, per form (Lightning: the update's index
# when the training step ran, the validation at the epoch's end after its last update)
TRAIN_STEP = {"lightning_csv": INDEX, "lightning_tb": INDEX, "lightning_wandb": INDEX}
EVAL_STEP = {"optuna": INDEX}


def _copy(form: str, tmp: Path) -> Path:
    """The committed form, with its SQLite files unpacked, in a scratch directory."""
    d = tmp / form.split("/")[0]
    shutil.copytree(REAL / form.split("/")[0], d)
    for gz in d.rglob("*.db.gz"):
        with gzip.open(gz) as src, open(gz.with_suffix(""), "wb") as dst:
            shutil.copyfileobj(src, dst)
        gz.unlink()
    return d


def _truth(d: Path) -> dict:
    return json.loads((d / "truth.json").read_text())


@pytest.mark.parametrize("form", list(FORMS))
def test_every_value_at_its_step(tmp_path, form):
    if NEEDS.get(form):
        pytest.importorskip(NEEDS[form])
    where, fmt, extra, keys, dtype = FORMS[form]
    d = _copy(form, tmp_path)
    truth = _truth(d)
    src = d / where
    fmt_arg = fmt if "/" in form else "auto"  # the Trainer's three outputs share a directory
    ds, rep = ingest(src, format=fmt_arg, options={"task": "syn", **extra})
    assert ds.meta["provenance"]["format"] == fmt
    train_step = TRAIN_STEP.get(form, COUNT)
    eval_step = EVAL_STEP.get(form, INDEX if form.startswith("lightning") else COUNT)
    if form.startswith("lightning"):
        eval_step = COUNT  # validation runs after the epoch's last update: its count - 1
    trials = ds.trials.set_index("seed")
    assert sorted(trials.index) == sorted(r["seed"] for r in truth.values())
    # nothing read as a metric that is not one
    assert set(ds.evals["metric"].astype(str)) == {m for m in keys.values() if m != "train"}
    for run in truth.values():
        seed = run["seed"]
        t = trials.loc[seed]
        assert bool(t["complete"]) == run["complete"], (form, seed)
        tid = t["trial_id"]
        for key, logged in run["values"].items():
            target = keys.get(key)
            want = {}
            for g, v in logged:
                want[(train_step if target == "train" else eval_step)(g)] = v  # last wins
            if target is None:
                continue
            if target == "train":
                got = ds.train_loss[ds.train_loss["trial_id"] == tid]
                steps, vals = got["step"].to_numpy(), got["loss"].to_numpy()
            else:
                e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["metric"] == target)
                             & (ds.evals["phase"] == "during")]
                steps, vals = e["step"].to_numpy(), e["value"].to_numpy()
            assert len(steps), (form, seed, key)
            # every value read is a value logged, exact (float32 where the format stores it)
            for s, v in zip(steps.tolist(), vals.tolist()):
                assert s in want, (form, seed, key, s)
                assert v == float(dtype(want[s])), (form, seed, key, s, v, want[s])
            # and every value logged was read (Lightning writes a training loss every
            # log_every_n_steps = 2 updates; a killed Trainer run is read from its checkpoint)
            expect = set(want)
            if form.startswith("lightning") and target == "train":
                expect = {s for s in expect if (s + 1) % 2 == 0}
            if form == "hf_trainer" and not run["complete"]:
                expect = {s for s in expect if s < 8}
            if form == "wandb_offline" and not run["complete"]:
                # SIGKILLed: W&B keeps the full 32 KiB blocks of its log, a prefix of the run
                assert max(expect) > max(steps) >= max(expect) // 2, (seed, key)
                expect = {s for s in expect if s <= max(steps)}
            assert set(steps.tolist()) == expect, (form, seed, key)
        head = ds.evals[(ds.evals["trial_id"] == tid)
                        & (ds.evals["metric"] == ds.headline_metric("syn"))]
        during = head[head["phase"] == "during"].sort_values("step")
        if run["complete"]:  # 'after' is the last evaluation, at the last update
            assert t["after"] == during["value"].iloc[-1]
            assert during["step"].iloc[-1] == t["n_steps"] - 1
        else:
            assert np.isnan(t["after"])
    # the report lists every key, each in one role
    table = rep.keys
    assert not table["key"].duplicated().any()
    roles = dict(zip(table["key"], table["role"]))
    for key, target in keys.items():
        key = "objective" if form == "optuna" else key  # Optuna stores no key: the metric's
        assert roles[key] == ("training loss" if target == "train" else
                              "validation loss" if target == "loss" else "validation metric")
    assert ds.meta["keys"] == table.to_dict(orient="records")
    # per run: what was kept plus what was set aside is what the metric keys held
    held = table[table["role"].isin(["validation metric", "validation loss",
                                     "training loss"])]["values"].sum()
    assert rep.files[["evaluations", "loss_values", "set_aside"]].to_numpy().sum() == held
    assert len(rep.files) == len(ds.trials)


def test_killed_and_failed_runs_are_incomplete_and_say_why(tmp_path):
    ds, rep = ingest(_copy("ray_tune", tmp_path), options={"task": "syn"})
    t = ds.trials.set_index("seed")
    assert not t.loc[99, "complete"] and "failed" in t.loc[99, "flags"]
    assert np.isnan(t.loc[99, "after"])
    ds, rep = ingest(_copy("lightning_csv", tmp_path), options={"task": "syn"})
    assert not ds.trials.set_index("seed").loc[99, "complete"]
    assert any("records no end of training: 1 run(s)" in n for n in rep.notes)
    ds, _ = ingest(_copy("optuna", tmp_path) / "optuna.db", options={"task": "syn"})
    t = ds.trials.set_index("seed")
    assert not t.loc[99, "complete"] and "pruned" in t.loc[99, "flags"]


def test_add_hparams_sub_runs_are_attached_not_trials(tmp_path):
    ds, rep = ingest(_copy("summarywriter", tmp_path), options={"task": "syn"})
    assert len(ds.trials) == 3  # not 6: each add_hparams sub-run belongs to its run
    assert sorted(ds.trials["seed"]) == [1, 2, 3]  # seeds from the hparams it recorded
    assert any("3 add_hparams sub-run(s) attached" in n for n in rep.notes)
    roles = dict(zip(rep.keys["key"], rep.keys["role"]))
    assert roles["hparam/best_accuracy"] == "bookkeeping"


@pytest.mark.parametrize("form", ["lightning_csv", "lightning_wandb"])
def test_steps_per_epoch_from_lightning_epochs(tmp_path, form):
    if NEEDS.get(form):
        pytest.importorskip(NEEDS[form])
    ds, _ = ingest(_copy(form, tmp_path), options={"task": "syn"})
    e = ds.evals[(ds.evals["seed"] == 1) & (ds.evals["phase"] == "during")]
    # 8 updates per epoch, 3 epochs
    assert e.sort_values(["metric", "step"])["epoch"].tolist() == [1.0, 2.0, 3.0] * 2


def test_the_manifest_names_the_library_versions():
    for form in {f.split("/")[0] for f in FORMS}:
        assert form in MANIFEST["forms"], form
        assert all(MANIFEST["forms"][form].values())


# forms cheap enough to regenerate in the test run when their libraries are installed
_REGEN = {"summarywriter": ["torch", "tensorboard"], "optuna": ["optuna", "torch"],
          "lightning_csv": ["lightning", "torch"], "mlflow_sqlite": ["mlflow", "torch"]}


@pytest.mark.parametrize("form", list(_REGEN))
def test_regenerated_forms_read_the_same(tmp_path, form):
    missing = [m for m in _REGEN[form] if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"regenerating {form} needs {', '.join(missing)}")
    import importlib.util as iu

    spec = iu.spec_from_file_location("make_real_sweeps", REAL.parent / "make_real_sweeps.py")
    mod = iu.module_from_spec(spec)
    spec.loader.exec_module(mod)
    manifest = mod.make(tmp_path / "new", [form])
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copytree(tmp_path / "new" / form, fresh / form)
    for gz in (fresh / form).rglob("*.db.gz"):
        with gzip.open(gz) as src, open(gz.with_suffix(""), "wb") as dst:
            shutil.copyfileobj(src, dst)
    where = FORMS[form][0]
    a, rep_a = ingest(fresh / form / where, options={"task": "syn"})
    b, rep_b = ingest(_copy(form, tmp_path) / where, options={"task": "syn"})
    cols = ["key", "role", "runs", "values"]
    assert rep_a.keys[cols].equals(rep_b.keys[cols])
    assert len(a.evals) == len(b.evals) and len(a.train_loss) == len(b.train_loss)
    if manifest["forms"][form] == MANIFEST["forms"][form]:  # same versions: same numbers
        sort = ["seed", "metric", "phase", "step"]
        np.testing.assert_allclose(a.evals.sort_values(sort)["value"].to_numpy(),
                                   b.evals.sort_values(sort)["value"].to_numpy(), rtol=1e-6)


def _same_tables(a, b):
    """The evaluations and training losses of two datasets, equal value for value."""
    import pandas as pd

    for name, cols in (("evals", ["seed", "metric", "phase", "step", "value", "epoch"]),
                       ("train_loss", ["seed", "step", "loss"])):
        x, y = (getattr(ds, name)[cols].astype({"seed": int}) for ds in (a, b))
        x, y = (t.sort_values(cols[:-1]).reset_index(drop=True) for t in (x, y))
        pd.testing.assert_frame_equal(x.astype(str), y.astype(str))
    done = [ds.trials.set_index("seed")["complete"].sort_index() for ds in (a, b)]
    assert done[0].equals(done[1])


def test_a_long_table_melted_from_log_history_reads_as_the_trainer(tmp_path):
    import pandas as pd

    d = _copy("hf_trainer", tmp_path)
    rows = []
    for run in ("seed1", "seed2", "seed3", "seed99"):
        state = d / run / "trainer_state.json"
        if not state.is_file():  # the killed run: its last checkpoint
            state = d / run / "checkpoint-8" / "trainer_state.json"
        for entry in json.loads(state.read_text())["log_history"]:
            rows += [{"run": run, "step": entry["step"], "metric": k, "value": v}
                     for k, v in entry.items() if k != "step"]
    f = tmp_path / "log_history.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    table, rep = ingest(f, options={"task": "syn", "seeds_from": "seed{seed}"})
    trainer, _ = ingest(d, format="hf", options={"task": "syn", "seeds_from": "seed{seed}"})
    _same_tables(table, trainer)  # counts of updates, 'loss' as the training loss, epochs
    roles = dict(zip(rep.keys["key"], rep.keys["role"]))
    assert roles["learning_rate"] == roles["grad_norm"] == roles["total_flos"] == "bookkeeping"
    assert roles["loss"] == "training loss" and roles["eval_loss"] == "validation loss"
    assert not table.trials.set_index("seed").loc[99, "complete"]  # no train_runtime: killed
    assert any("read as a count of updates done" in n for n in rep.notes)


def test_a_wide_table_reads_as_its_long_form(tmp_path):
    import pandas as pd

    d = _copy("lightning_csv", tmp_path)
    parts = []
    for f in sorted(d.rglob("metrics.csv")):
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        parts.append(df.assign(run=f.parent.parent.name))
    wide = tmp_path / "wide.csv"
    pd.concat(parts).to_csv(wide, index=False)
    opts = {"task": "syn", "seeds_from": "seed{seed}", "mapping": {"step_is": "index"}}
    ds, rep = ingest(wide, options=opts)
    light, _ = ingest(d, options={"task": "syn"})
    # the table says nothing of completeness: every run complete, the rest equal
    for name in ("evals", "train_loss"):
        a = getattr(ds, name)
        b = getattr(light, name)
        cols = ["seed", "step"] + (["metric", "value"] if name == "evals" else ["loss"])
        a = a[a.get("phase", "during") == "during"] if name == "evals" else a
        b = b[b.get("phase", "during") == "during"] if name == "evals" else b
        pd.testing.assert_frame_equal(a[cols].sort_values(cols[:3]).reset_index(drop=True),
                                      b[cols].sort_values(cols[:3]).reset_index(drop=True),
                                      check_dtype=False)
    roles = dict(zip(rep.keys["key"], rep.keys["role"]))
    assert "epoch" not in roles and roles["val_acc"] == "validation metric"  # epoch: a column
    e = ds.evals[(ds.evals["seed"] == 1) & (ds.evals["phase"] == "during")]
    assert e["epoch"].tolist() == [1.0, 2.0, 3.0] * 2  # Lightning's epoch index understood


def test_ray_step_key_and_its_fallback(tmp_path):
    d = _copy("ray_tune", tmp_path)
    ds, rep = ingest(d, options={"task": "syn", "mapping": {"step": "training_iteration"}})
    e = ds.evals[(ds.evals["seed"] == 1) & (ds.evals["phase"] == "during")]
    assert sorted(set(e["step"])) == [0, 1, 2]  # Ray's report counter, as asked
    for trial in d.rglob("result.json"):  # a trainable that reports no step
        lines = [json.loads(x) for x in trial.read_text().splitlines()]
        trial.write_text("".join(json.dumps({k: v for k, v in x.items() if k != "step"}) + "\n"
                                 for x in lines))
        (trial.parent / "progress.csv").unlink()
    ds, rep = ingest(d, options={"task": "syn"})
    assert any("training_iteration" in n for n in rep.notes)
    with pytest.raises(Exception, match=r"--map step=global_step: the trial reported no"):
        ingest(d, options={"task": "syn", "mapping": {"step": "global_step"}})


def test_wandb_offline_runs_without_wandb_are_one_line_naming_the_extra(tmp_path,
                                                                       monkeypatch):
    import importlib.metadata

    from seedstats.errors import DataError

    real = importlib.metadata.version

    def version(name):
        if name == "wandb":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(DataError, match=r"wandb's own reader: pip install 'seedstats\[wandb\]'"
                                         r" \(wandb >= 0\.31\)$"):
        ingest(_copy("wandb_offline", tmp_path), options={"task": "syn"})
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "0.29.0" if name == "wandb" else real(name))
    with pytest.raises(DataError, match=r"wandb >= 0\.31\); wandb 0\.29\.0 is installed"):
        ingest(_copy("wandb_offline", tmp_path / "b"), options={"task": "syn"})


def test_killed_and_failed_wandb_runs(tmp_path):
    pytest.importorskip("wandb")
    ds, rep = ingest(_copy("wandb_offline", tmp_path), options={"task": "syn"})
    t = ds.trials.set_index("seed")
    assert not t.loc[99, "complete"] and np.isnan(t.loc[99, "after"])
    assert t.loc[[1, 2, 3], "complete"].all() and t.loc[99, "flags"] == "incomplete"
    assert any("without an exit record" in n for n in rep.notes)
    assert any("end inside a record" in n for n in rep.notes)
    # the epochs it logged give 8 updates per epoch
    e = ds.evals[(ds.evals["seed"] == 1) & (ds.evals["phase"] == "during")
                 & (ds.evals["metric"] == "acc")].sort_values("step")
    assert e["epoch"].tolist() == [float(k) for k in range(1, 17)]
    ds, rep = ingest(_copy("hf_trainer_wandb", tmp_path), options={"task": "syn"})
    t = ds.trials.set_index("seed")
    assert "failed" in t.loc[99, "flags"] and not t.loc[99, "complete"]  # exit code 1
    assert t.loc[[1, 2, 3], "complete"].all()
    roles = dict(zip(rep.keys["key"], rep.keys["role"]))
    assert roles["train_runtime"] == "bookkeeping"  # the Trainer's summary, not a metric
    assert rep.keys.set_index("key").loc["train_runtime", "reason"].startswith(
        "in the run's summary only")
    ds, rep = ingest(_copy("lightning_wandb", tmp_path), options={"task": "syn"})
    t = ds.trials.set_index("seed")  # interrupted: Lightning's graceful shutdown exits with 1
    assert "failed" in t.loc[99, "flags"] and not t.loc[99, "complete"]
    assert t.loc[[1, 2, 3], "complete"].all()


def test_the_report_shows_how_the_keys_were_read(tmp_path):
    from seedstats.figures.report import render_report

    ds, _ = ingest(_copy("ray_tune", tmp_path), options={"task": "syn"})
    ds = ds.save(tmp_path / "ds") and __import__("seedstats").load(tmp_path / "ds")
    sweep = render_report(ds, n_perm=200).split('<section id="sweep">')[1].split("</section>")[0]
    assert "Every key the ingest read" in sweep
    for text in ("val_acc", "validation metric", "training_iteration", "bookkeeping"):
        assert text in sweep


# --- the hand parsers against the libraries' own readers, on the files they wrote ------------


@pytest.mark.parametrize("form", ["summarywriter", "lightning_tb", "hf_trainer"])
def test_event_files_read_as_tensorboards_own_reader_reads_them(tmp_path, form):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from seedstats.data.formats.tensorboard import read_events

    d = _copy(form, tmp_path)
    files = sorted(d.rglob("events.out.tfevents.*"))
    assert files
    for f in files:
        ours = read_events(f)[0]
        acc = ea.EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        theirs = {tag: [(e.step, e.value) for e in acc.Scalars(tag)]
                  for tag in acc.Tags()["scalars"]}
        assert {t: list(zip(s, v)) for t, (s, v, _) in ours.items()} == theirs, f


@pytest.mark.parametrize("form", ["mlflow_sqlite", "mlflow_files", "hf_trainer/mlflow"])
def test_mlflow_runs_read_as_mlflows_client_reads_them(tmp_path, form):
    pytest.importorskip("mlflow", reason="the cross-check needs mlflow (not a dev extra)")
    import os
    import warnings

    from mlflow.tracking import MlflowClient

    d = _copy(form, tmp_path)
    where = d / FORMS[form][0]
    if where.suffix == ".db":
        uri = f"sqlite:///{where}"
    else:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        uri = where.resolve().as_uri()
    keys = FORMS[form][3]
    with warnings.catch_warnings():  # MLflow's own deprecation warnings (SQLAlchemy's)
        warnings.simplefilter("ignore")
        client = MlflowClient(tracking_uri=uri)
        runs = [(int(run.data.params["seed"]),
                 {k: client.get_metric_history(run.info.run_id, k) for k in keys})
                for exp in client.search_experiments()
                for run in client.search_runs([exp.experiment_id])]
    ds, _ = ingest(where, options={"task": "syn", **FORMS[form][2]})
    n = 0
    for seed, histories in runs:
        tid = ds.trials.set_index("seed").loc[seed, "trial_id"]
        for key, target in keys.items():
            want = {}
            for step, _, value in sorted((m.step, m.timestamp, m.value)
                                         for m in histories[key]):
                want[step - 1] = value  # the value logged last at a step is kept
            if target == "train":
                got = ds.train_loss[ds.train_loss["trial_id"] == tid]
                pairs = dict(zip(got["step"], got["loss"]))
            else:
                e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["metric"] == target)
                             & (ds.evals["phase"] == "during")]
                pairs = dict(zip(e["step"], e["value"]))
            assert pairs == want, (form, seed, key)
            n += len(want)
    assert n > 50


@pytest.mark.parametrize("form, inside", [("summarywriter", "seed1"),
                                          ("lightning_csv", "seed1/version_0"),
                                          ("ray_tune", None), ("mlflow_files", None)])
def test_a_renamed_file_inside_a_run_is_named_not_left_unseen(tmp_path, form, inside):
    d = _copy(form, tmp_path)
    if inside is None:  # the first run directory of the form
        probe = {"ray_tune": "result.json", "mlflow_files": "metrics"}[form]
        run = sorted(d.rglob(probe))[0].parent
    else:
        run = d / inside
    victim = sorted(p for p in run.iterdir() if p.is_file())[0]
    victim.rename(run / "renamed.bak")
    where = d / "mlruns" if form == "mlflow_files" else d
    try:
        ds, rep = ingest(where, options={"task": "syn"})
    except Exception as exc:  # noqa: BLE001 - an error naming the damage is fine too
        assert "\n" not in str(exc)
        return
    assert any("not read: 1 file(s)" in n and "'renamed.bak'" in n for n in rep.notes), rep.notes

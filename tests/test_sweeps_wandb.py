"""Weights & Biases exports (seedstats.data.formats.wandb): run-history Parquet and scan_history CSV.

Rows are what the Trainer's ``WandbCallback.on_log`` logs: ``{**rewrite_logs(logs),
"train/global_step": state.global_step}`` (the end-of-training scalars go to the summary, so its
row keeps only ``train/epoch``), plus W&B's ``_step``, ``_runtime``, ``_timestamp``; the config
is ``args.to_dict()`` merged with the model config; ``files/config.yaml`` stores it as
``key: {desc: null, value: ...}``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seedstats.data.formats import wandb as wb
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.errors import ParseError


def history(rng, *, finished=True, post_eval=False):
    rows, truth = [], {"acc": {}, "train": {}}

    def log(d, g):
        rows.append({**d, "train/global_step": g, "_step": len(rows),
                     "_runtime": 1.0 + len(rows), "_timestamp": 1.7e9 + len(rows)})

    last = 30 if finished else 20
    for g in range(5, last + 1, 5):
        lo = float(rng.uniform(0.1, 0.7))
        truth["train"][g] = lo
        log({"train/loss": lo, "train/grad_norm": 2.0, "train/learning_rate": 2e-5,
             "train/epoch": g / 10}, g)
        if g % 10 == 0:
            a = float(rng.uniform(0.4, 0.9))
            truth["acc"][g] = a
            log({"eval/loss": 0.5, "eval/accuracy": a, "eval/runtime": 1.0,
                 "eval/samples_per_second": 200.0, "eval/steps_per_second": 12.5,
                 "train/epoch": g / 10}, g)
    if finished:
        log({"train/epoch": 3.0}, 30)
    if post_eval:  # trainer.evaluate() after training (the best checkpoint, say)
        log({"eval/loss": 0.1, "eval/accuracy": 0.99, "eval/runtime": 1.0,
             "train/epoch": 3.0}, 30)
    return pd.DataFrame(rows), truth


def config_yaml(cfg):
    out = ["_wandb:", "  desc: null", "  value:", "    cli_version: 0.17.0", "    m: []"]
    for k, v in cfg.items():
        out += [f"{k}:", "  desc: null", f"  value: {'null' if v is None else v}"]
    return "\n".join(out) + "\n"


def check(ds, tid, truth, complete=True):
    t = ds.trials.set_index("trial_id").loc[tid]
    e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["metric"] == "accuracy")]
    d = e[e["phase"] == "during"]
    assert d["step"].tolist() == [g - 1 for g in truth["acc"]]
    np.testing.assert_array_equal(d["value"].to_numpy(), list(truth["acc"].values()))
    tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
    assert tl["step"].tolist() == [g - 1 for g in truth["train"]]
    np.testing.assert_array_equal(tl["loss"].to_numpy(), list(truth["train"].values()))
    assert bool(t["complete"]) is complete
    if complete:
        assert t["after"] == truth["acc"][30] and t["n_steps"] == 30
    else:
        assert np.isnan(t["after"])


def test_parquet_runs_with_wandb_run_files(tmp_path):
    rng = np.random.default_rng(0)
    truths = {}
    for i, seed in enumerate((3, 4)):
        run = tmp_path / "export" / f"run-{i}"
        (run / "files").mkdir(parents=True)
        df, truth = history(rng, post_eval=(i == 1))
        df.to_parquet(run / "history.parquet")
        (run / "files" / "config.yaml").write_text(config_yaml(
            {"seed": seed, "data_seed": None, "finetuning_task": "mrpc",
             "learning_rate": 2e-5}))
        (run / "files" / "wandb-summary.json").write_text(json.dumps(
            {"train_runtime": 61.0, "train_loss": 0.4, "_step": len(df)}))
        truths[seed] = truth
    assert wb.detect(tmp_path / "export")
    ds, rep = ingest(tmp_path / "export", options=IngestOptions(metric="accuracy"))
    assert ds.meta["provenance"]["format"] == "wandb"
    for seed, truth in truths.items():
        check(ds, f"mrpc-s{seed}", truth)
    assert ds.trials["metric"].eq("accuracy").all()


def test_other_metric_of_a_paper_task_has_no_baseline(tmp_path):
    rng = np.random.default_rng(5)
    df, _ = history(rng)
    df.to_parquet(tmp_path / "h.parquet")
    (tmp_path / "seedstats.json").write_text(json.dumps({"seed": 1}))
    ds, _ = ingest(tmp_path / "h.parquet", options=IngestOptions(task="mrpc",
                                                                 metric="accuracy"))
    assert len(ds.trials) == 1 and ds.trials["after"].notna().all()
    # accuracy is not MRPC's headline (acc_and_f1): Table 2's 0.75 does not apply to it
    assert ds.trials["diverged"].isna().all()


def test_scan_history_csv_many_runs_in_one_file(tmp_path):
    rng = np.random.default_rng(1)
    parts, truths = [], {}
    for name, finished in (("wi1_do1", True), ("wi1_do2", True), ("wi2_do1", False)):
        df, truth = history(rng, finished=finished)
        parts.append(df.assign(name=name))
        truths[name] = (truth, finished)
    f = tmp_path / "sweep.csv"
    pd.concat(parts).to_csv(f, index=False)
    assert wb.detect(f)
    ds, _ = ingest(f, format="wandb", options=IngestOptions(
        task="rte", seeds_from="wi{wi}_do{do}", mapping={"run": "name"}))
    for name, (truth, finished) in truths.items():
        check(ds, "rte-" + name.replace("_", "-"), truth, complete=finished)
    assert ds.trials.set_index("trial_id").loc["rte-wi2-do1", "flags"] == "incomplete"


def test_single_csv_with_sidecar_and_step_mapping(tmp_path):
    rng = np.random.default_rng(2)
    df, truth = history(rng)
    df = df.rename(columns={"train/global_step": "gs"})
    run = tmp_path / "r"
    run.mkdir()
    df.to_csv(run / "h.csv", index=False)
    (run / "seedstats.json").write_text(json.dumps({"seed": 5, "task": "cola"}))
    ds, _ = ingest(run / "h.csv", options=IngestOptions(mapping={"step": "gs"},
                                                       metric="eval/accuracy"))
    check(ds, "cola-s5", truth)
    # without the mapping the step is W&B's _step: noted
    ds, rep = ingest(run / "h.csv", options=IngestOptions(metric="accuracy"))
    assert any("_step" in n for n in rep.notes)


def test_config_readers(tmp_path):
    f = tmp_path / "config.yaml"
    f.write_text(config_yaml({"seed": 42, "finetuning_task": "'rte'", "x": None}))
    assert wb.read_wandb_config(f) == {"seed": "42", "finetuning_task": "rte", "x": None}
    g = tmp_path / "c.json"
    g.write_text(json.dumps({"seed": {"value": 3}, "lr": 0.1}))
    assert wb.read_wandb_config(g) == {"seed": 3, "lr": 0.1}


def test_errors(tmp_path):
    f = tmp_path / "h.csv"
    pd.DataFrame({"_step": [0, 1], "eval/accuracy": [0.5, 0.6]}).to_csv(f, index=False)
    with pytest.raises(ParseError, match="--map run=nope: no such column"):
        ingest(f, options=IngestOptions(task="rte", seeds_from="seed{seed}",
                                        mapping={"run": "nope"}))
    with pytest.raises(ParseError, match="no seed"):
        ingest(f, options=IngestOptions(task="rte"))


def test_infinite_step_is_a_parse_error(tmp_path):
    f = tmp_path / "run.csv"
    f.write_text("_step,train/global_step,eval/accuracy\n0,inf,0.5\n1,10,0.6\n")
    (tmp_path / "seedstats.json").write_text('{"seed": 1, "task": "rte"}')
    with pytest.raises(ParseError, match="'train/global_step': expected finite steps"):
        ingest(f, format="wandb")


def test_rows_without_a_step_are_reported_not_dropped_silently(tmp_path):
    f = tmp_path / "run.csv"
    f.write_text("_step,train/global_step,eval/accuracy\n0,,0.5\n1,,0.55\n2,10,0.6\n")
    (tmp_path / "seedstats.json").write_text('{"seed": 1, "task": "rte"}')
    ds, rep = ingest(f, format="wandb")
    acc = ds.evals[(ds.evals["metric"] == "accuracy") & (ds.evals["phase"] == "during")]
    assert acc["value"].tolist() == [0.6]
    assert any("2 rows without a 'train/global_step' value were not read" in n
               and "eval/accuracy" in n for n in rep.notes), rep.notes


@pytest.mark.parametrize("cell", ["abc", "0.6x", "n/a"])
def test_a_cell_that_is_not_a_number_is_an_error_naming_its_line(tmp_path, cell):
    f = tmp_path / "run.csv"
    f.write_text(f"_step,train/global_step,eval/accuracy\n0,5,0.5\n1,10,{cell}\n2,15,0.6\n")
    (tmp_path / "seedstats.json").write_text('{"seed": 1, "task": "rte"}')
    with pytest.raises(ParseError, match=rf"run\.csv:3: column 'eval/accuracy': expected a "
                                         rf"number, got '{cell}'"):
        ingest(f, format="wandb")


def _two_runs(tmp_path, rng, a, b):
    """One scan_history CSV holding runs wi1_do1 (``a``) and wi2_do1 (``b``) by ``name``."""
    f = tmp_path / "sweep.csv"
    pd.concat([a.assign(name="wi1_do1"), b.assign(name="wi2_do1")]).to_csv(f, index=False)
    return f


MAP_OPTS = dict(task="rte", seeds_from="wi{wi}_do{do}", mapping={"run": "name"})


def test_many_runs_in_one_file_are_complete_or_not_each_on_its_own(tmp_path):
    rng = np.random.default_rng(6)
    done, t_done = history(rng, finished=True)
    cut, t_cut = history(rng, finished=False)
    f = _two_runs(tmp_path, rng, done, cut)
    # the summary beside the file (W&B's wandb-summary.json of the one history file in this
    # folder) has train_runtime: it must not make the run that stopped at step 20 complete
    (tmp_path / "wandb-summary.json").write_text(json.dumps({"train_runtime": 61.0}))
    ds, rep = ingest(f, format="wandb", options=IngestOptions(**MAP_OPTS))
    t = ds.trials.set_index("trial_id")
    assert t["complete"].to_dict() == {"rte-wi1-do1": True, "rte-wi2-do1": False}
    assert t["flags"].to_dict() == {"rte-wi1-do1": "", "rte-wi2-do1": "incomplete"}
    assert t["n_steps"].to_dict() == {"rte-wi1-do1": 30, "rte-wi2-do1": 20}
    check(ds, "rte-wi1-do1", t_done)
    check(ds, "rte-wi2-do1", t_cut, complete=False)
    assert rep.per_task.loc["rte", "incomplete"] == 1
    assert any("wandb-summary.json: one summary for the 2 runs" in n and "not used" in n
               for n in rep.notes), rep.notes


def test_a_summary_keyed_by_run_applies_to_that_run_only(tmp_path):
    rng = np.random.default_rng(7)
    a, t_a = history(rng, finished=True)
    b, t_b = history(rng, finished=True)
    a, b = a.iloc[:-1], b.iloc[:-1]  # neither logged the end-of-training row ...
    f = _two_runs(tmp_path, rng, a, b)
    # ... but the summary of wi1_do1 says it finished
    (tmp_path / "sweep.summary.json").write_text(json.dumps(
        {"wi1_do1": {"train_runtime": 61.0}, "wi2_do1": {"train/loss": 0.3}}))
    ds, rep = ingest(f, format="wandb", options=IngestOptions(**MAP_OPTS))
    t = ds.trials.set_index("trial_id")
    assert t["complete"].to_dict() == {"rte-wi1-do1": True, "rte-wi2-do1": False}
    check(ds, "rte-wi1-do1", t_a)
    assert t.loc["rte-wi2-do1", "flags"] == "incomplete"
    assert not any("one summary" in n for n in rep.notes)


def test_a_run_that_never_logged_train_epoch_is_not_judged_by_its_neighbour(tmp_path):
    rng = np.random.default_rng(8)
    trainer, _ = history(rng, finished=False)
    plain, _ = history(rng, finished=True)
    plain = plain.drop(columns=["train/epoch"]).iloc[:-1]  # a custom loop: no train/epoch
    f = _two_runs(tmp_path, rng, plain, trainer)
    ds, rep = ingest(f, format="wandb", options=IngestOptions(**MAP_OPTS))
    t = ds.trials.set_index("trial_id")
    # wi1_do1 is not a Trainer run: taken as complete (noted); wi2_do1 stopped at step 20
    assert t["complete"].to_dict() == {"rte-wi1-do1": True, "rte-wi2-do1": False}
    assert t.loc["rte-wi1-do1", "n_steps"] == 30
    assert any("taken as complete" in n for n in rep.notes)


def test_fractional_step_is_a_parse_error_not_truncated(tmp_path):
    f = tmp_path / "run.csv"
    f.write_text("_step,train/global_step,eval/accuracy\n0,10,0.5\n1,12.5,0.6\n")
    (tmp_path / "seedstats.json").write_text('{"seed": 1, "task": "rte"}')
    with pytest.raises(ParseError) as err:
        ingest(f, format="wandb")
    assert str(err.value) == (f"{f}: column 'train/global_step': expected integer steps, "
                              "got 12.5 (row with _step 1)")
    # 12.0 is a whole step: read as step 11
    f.write_text("_step,train/global_step,eval/accuracy\n0,10,0.5\n1,12.0,0.6\n")
    ds, _ = ingest(f, format="wandb")
    acc = ds.evals[(ds.evals["metric"] == "accuracy") & (ds.evals["phase"] == "during")]
    assert acc["step"].tolist() == [9, 11] and acc["value"].tolist() == [0.5, 0.6]


def test_skip_bad_skips_only_the_run_with_a_fractional_step(tmp_path):
    rng = np.random.default_rng(9)
    good, t_good = history(rng)
    bad, _ = history(rng)
    bad["train/global_step"] = bad["train/global_step"].astype(float)
    bad.loc[bad.index[2], "train/global_step"] = 10.5
    f = _two_runs(tmp_path, rng, good, bad)
    ds, rep = ingest(f, format="wandb", options=IngestOptions(**MAP_OPTS, skip_bad=True))
    assert ds.trials["trial_id"].tolist() == ["rte-wi1-do1"]
    check(ds, "rte-wi1-do1", t_good)
    assert [p for p, _ in rep.skipped] == [f"{f}#wi2_do1"]
    assert "expected integer steps, got 10.5" in rep.skipped[0][1]

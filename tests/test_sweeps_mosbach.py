"""The follow-up study's logs (seedstats.data.formats.mosbach), written as its script writes them.

``examples/bert_stable_fine_tuning/run_finetuning.py`` of uds-lsv/bert-stable-fine-tuning:
``train_results.tsv`` gets the header ``global_step\\tloss\\tlearning_rate`` (opened in append
mode) and a row ``f"{global_step}\\t{loss_scalar}\\t{learning_rate_scalar}"`` every
``train_logging_steps`` updates, written before the update; ``evaluate`` appends
``str(global_step)`` and ``str(value)`` of each metric to ``eval_results.tsv`` (header
``global_step`` + metric names), before training (0), every ``eval_logging_steps`` within an
epoch, at each epoch's end, and for the saved checkpoint with ``global_step = "-1"``. The run
directory is ``<log_dir>/<timestamp>_<model>_..._<seed>`` with ``log_dir`` ending in the task.
"""

from __future__ import annotations

import numpy as np
import pytest

from seedstats.data.formats import mosbach
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest
from seedstats.errors import ParseError

SPE, EPOCHS, EVAL_EVERY, LOG_EVERY = 156, 3, 52, 10  # RTE, batch 16 (the study's config)


def write_run(run_dir, rng, metrics=("acc",), *, saved=True, restart_header=False):
    """Replay the script's logging; returns the truth {g: values}, train {g: loss}, saved."""
    run_dir.mkdir(parents=True)
    t_total = SPE * EPOCHS
    evals, train = {}, {}
    tfile, efile = run_dir / "train_results.tsv", run_dir / "eval_results.tsv"
    with open(tfile, "a") as w:
        w.write("global_step\tloss\tlearning_rate\n")

    def evaluate(g):
        res = {m: float(rng.uniform(0.4, 0.9)) for m in metrics}
        if "acc_and_f1" in metrics:
            res["acc_and_f1"] = (res["acc"] + res["f1"]) / 2
        if not efile.exists():
            efile.write_text("global_step\t" + "\t".join(res) + "\n")
        with open(efile, "a") as w:
            w.write("\t".join([str(g)] + [str(v) for v in res.values()]) + "\n")
        return res

    evals[0] = evaluate(0)
    g = 0
    for epoch in range(EPOCHS):
        for step in range(SPE):
            if g % LOG_EVERY == 0:
                lo = float(rng.uniform(0.1, 0.8))
                train[g] = lo
                with open(tfile, "a") as w:
                    w.write(f"{g}\t{lo}\t{2e-5}\n")
                if restart_header and g == 200:
                    with open(tfile, "a") as w:
                        w.write("global_step\tloss\tlearning_rate\n")
            if g % EVAL_EVERY == 0 and g > 0 and step < SPE - 1:
                evals[g] = evaluate(g)
            g += 1
        evals[g] = evaluate(g)  # end of epoch (same step as a periodic one: 156, 312)
    saved_res = evaluate("-1") if saved else None
    assert g == t_total
    return evals, train, saved_res


def check(ds, tid, evals, train, saved, metric="acc", spe=SPE):
    t = ds.trials.set_index("trial_id").loc[tid]
    e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["metric"] == metric)]
    d = e[e["phase"] == "during"]
    steps = sorted(g for g in evals if g > 0)
    assert d["step"].tolist() == [g - 1 for g in steps]
    np.testing.assert_array_equal(d["value"].to_numpy(), [evals[g][metric] for g in steps])
    assert e[e["phase"] == "before"]["value"].tolist() == [evals[0][metric]]
    # epochs: the paper task's updates per epoch (Table 2, batch 16)
    np.testing.assert_allclose(d["epoch"].to_numpy(), [g / spe for g in steps])
    tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
    assert tl["step"].tolist() == sorted(train)  # logged before the update: step = global_step
    np.testing.assert_array_equal(tl["loss"].to_numpy(), [train[g] for g in sorted(train)])
    if saved is not None:
        assert t["after"] == evals[SPE * EPOCHS][metric] and t["complete"]
        ck = ds.evals[(ds.evals["trial_id"] == tid)
                      & (ds.evals["metric"] == f"checkpoint_{metric}")]
        assert ck["phase"].tolist() == ["after"] and ck["value"].tolist() == [saved[metric]]
    else:
        assert np.isnan(t["after"]) and not t["complete"]
    assert t["n_steps"] == SPE * EPOCHS and t["best"] == max(evals[g][metric] for g in steps)


def test_study_layout_value_by_value(tmp_path):
    rng = np.random.default_rng(0)
    base = tmp_path / "logfiles" / "stable-fine-tuning" / "rte"
    name = "10-01-12-00-00_bert-large-uncased_0.02_warmup-linear_2e-05_tanh_3_adamW_True_1e-06"
    truths = {}
    for seed in (1, 2, 3):
        truths[seed] = write_run(base / f"{name}_False_1.0_16_wd_0.01_wup_0.1_{seed}", rng,
                                 saved=seed != 3, restart_header=seed == 2)
    assert mosbach.detect(tmp_path / "logfiles")
    ds, rep = ingest(tmp_path / "logfiles")
    assert ds.meta["provenance"]["format"] == "mosbach"
    for seed, (evals, train, saved) in truths.items():
        check(ds, f"rte-s{seed}", evals, train, saved)
    t = ds.trials.set_index("trial_id")
    assert t["seed"].tolist() == [1, 2, 3] and t["wi_seed"].isna().all()
    assert "no_final_checkpoint" in t.loc["rte-s3", "flags"]
    assert (t.loc[["rte-s1", "rte-s2"], "diverged"].to_numpy(dtype=bool)
            == (t.loc[["rte-s1", "rte-s2"], "after"] <= 0.53).to_numpy()).all()
    with pytest.raises(Exception, match="WI x DO seed grid"):
        ds.grid("rte")  # one seed per run: the grid analyses refuse


def test_mrpc_metrics_and_sst2_name(tmp_path):
    rng = np.random.default_rng(1)
    ev, tr, sv = write_run(tmp_path / "mrpc" / "x_7", rng, metrics=("acc", "f1", "acc_and_f1"))
    ev2, tr2, sv2 = write_run(tmp_path / "sst-2" / "y_8", rng)
    ds, _ = ingest(tmp_path)
    check(ds, "mrpc-s7", ev, tr, sv, metric="acc_and_f1", spe=230)
    check(ds, "sst-s8", ev2, tr2, sv2, spe=4210)
    assert ds.trials.set_index("trial_id").loc["mrpc-s7", "metric"] == "acc_and_f1"


def test_errors(tmp_path):
    rng = np.random.default_rng(2)
    write_run(tmp_path / "mytask" / "run_5", rng)
    with pytest.raises(ParseError, match="cannot tell the task"):
        ingest(tmp_path / "mytask")
    ds, _ = ingest(tmp_path / "mytask", options=IngestOptions(task="mytask"))
    assert ds.trials.iloc[0]["trial_id"] == "mytask-s5"
    f = tmp_path / "mytask" / "run_5" / "eval_results.tsv"
    f.write_text(f.read_text() + "100\tabc\n")
    with pytest.raises(ParseError, match=r"eval_results.tsv:\d+: expected numbers"):
        ingest(tmp_path / "mytask", options=IngestOptions(task="mytask"))


@pytest.mark.parametrize("step", ["nan", "inf", "2.5"])
def test_non_integer_global_step_is_a_parse_error(tmp_path, step):
    run = tmp_path / "logs" / "rte" / "2020_bert_5"
    run.mkdir(parents=True)
    (run / mosbach.EVAL).write_text(f"global_step\tacc\n0\t0.5\n{step}\t0.6\n-1\t0.6\n")
    with pytest.raises(ParseError, match=r"eval_results.tsv:3: expected an integer global_step"):
        ingest(tmp_path / "logs")

"""Hugging Face Trainer output (seedstats.data.formats.hf_trainer), checked value by value.

The fixtures are written as the Trainer writes them: ``TrainerState.save_to_json`` is
``json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\\n"`` over the fields of
``transformers.TrainerState`` (4.4x); ``Trainer.log`` appends ``{**logs, "epoch": ...,
"step": global_step}``; evaluation keys carry ``metric_key_prefix`` (``eval`` by default); the
end of ``train()`` logs ``train_runtime``/``train_loss``/... .
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from seedstats.data.formats.base import IngestOptions
from seedstats.data.formats.hf_trainer import detect, find_runs, read
from seedstats.data.ingest import ingest
from seedstats.errors import DataError, ParseError


@dataclasses.dataclass
class TrainerState:  # the fields of transformers.TrainerState (4.46), for the JSON layout
    epoch: float | None = None
    global_step: int = 0
    max_steps: int = 0
    logging_steps: int = 500
    eval_steps: int = 500
    save_steps: int = 500
    train_batch_size: int | None = None
    num_train_epochs: int = 0
    num_input_tokens_seen: int = 0
    total_flos: float = 0
    log_history: list = None
    best_metric: float | None = None
    best_model_checkpoint: str | None = None
    is_local_process_zero: bool = True
    is_world_process_zero: bool = True
    is_hyper_param_search: bool = False
    trial_name: str | None = None
    trial_params: dict | None = None
    stateful_callbacks: dict | None = None

    def save_to_json(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n",
                        encoding="utf-8")


SPE = 10  # updates per epoch of the fixture runs


def make_run(rng, *, n_epochs=3, eval_every=5, log_every=5, prefix="eval", eval_on_start=True,
             finished=True, stop_at=None, metric="accuracy"):
    """A log history and the values in it: {"acc": {g: v}, "loss": {g: v}, "train": {g: v}}."""
    max_steps = SPE * n_epochs
    last = max_steps if stop_at is None else stop_at
    hist, truth = [], {"acc": {}, "eloss": {}, "train": {}}

    def ev(g):
        a, lo = float(rng.uniform(0.4, 0.9)), float(rng.uniform(0.2, 0.8))
        truth["acc"][g], truth["eloss"][g] = a, lo
        hist.append({f"{prefix}_{metric}": a, f"{prefix}_loss": lo, f"{prefix}_runtime": 1.25,
                     f"{prefix}_samples_per_second": 221.6, f"{prefix}_steps_per_second": 13.9,
                     "epoch": round(g / SPE, 2), "step": g})

    if eval_on_start:
        ev(0)
    for g in range(1, last + 1):
        if g % log_every == 0:
            lo = float(rng.uniform(0.1, 0.7))
            truth["train"][g] = lo
            hist.append({"epoch": round(g / SPE, 2), "grad_norm": 3.5, "learning_rate": 2e-5,
                         "loss": lo, "step": g})
        if g % eval_every == 0:
            ev(g)
    if finished:
        hist.append({"epoch": float(n_epochs), "step": max_steps, "total_flos": 1.2e12,
                     "train_loss": 0.41, "train_runtime": 61.3,
                     "train_samples_per_second": 7.8, "train_steps_per_second": 0.49})
    state = TrainerState(epoch=last / SPE, global_step=last, max_steps=max_steps,
                         logging_steps=log_every, eval_steps=eval_every, save_steps=last,
                         train_batch_size=16, num_train_epochs=n_epochs, log_history=hist)
    return state, truth


def check_trial(ds, tid, truth, *, complete=True, before=True, metric="accuracy"):
    t = ds.trials.set_index("trial_id").loc[tid]
    e = ds.evals[ds.evals["trial_id"] == tid]
    acc = e[e["metric"] == metric]
    during = acc[acc["phase"] == "during"]
    exp = {g: v for g, v in truth["acc"].items() if g > 0}
    # step = global_step - 1, every value as logged
    assert during["step"].tolist() == [g - 1 for g in exp]
    np.testing.assert_array_equal(during["value"].to_numpy(), list(exp.values()))
    np.testing.assert_allclose(during["epoch"].to_numpy(), [g / SPE for g in exp])
    if before:
        b = acc[acc["phase"] == "before"]
        assert b["step"].tolist() == [-1] and b["value"].tolist() == [truth["acc"][0]]
        assert t["before"] == truth["acc"][0]
    last_g = max(exp)
    if complete:
        a = acc[acc["phase"] == "after"]
        assert a["step"].tolist() == [last_g - 1] and a["value"].tolist() == [exp[last_g]]
        assert t["after"] == exp[last_g]
    else:
        assert (acc["phase"] == "after").sum() == 0 and np.isnan(t["after"])
    assert t["best"] == max(exp.values()) and t["n_evals"] == len(exp)
    lo = e[(e["metric"] == "loss") & (e["phase"] == "during")]
    np.testing.assert_array_equal(lo["value"].to_numpy(),
                                  [v for g, v in truth["eloss"].items() if g > 0])
    tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
    assert tl["step"].tolist() == [g - 1 for g in truth["train"]]
    np.testing.assert_array_equal(tl["loss"].to_numpy(), list(truth["train"].values()))
    assert bool(t["complete"]) is complete


@pytest.fixture
def sweep(tmp_path):
    """2 x 2 WI x DO sweep of complete runs, seeds in the directory names."""
    rng = np.random.default_rng(0)
    truths = {}
    for wi in (1, 2):
        for do in (1, 2):
            st, truth = make_run(rng)
            st.save_to_json(tmp_path / "sweep" / f"wi{wi}_do{do}" / "trainer_state.json")
            truths[(wi, do)] = truth
    return tmp_path / "sweep", truths


def test_detect(sweep, tmp_path):
    src, _ = sweep
    assert detect(src) and detect(src / "wi1_do1" / "trainer_state.json")
    (tmp_path / "empty").mkdir()
    assert not detect(tmp_path / "empty")


def test_sweep_value_by_value(sweep):
    src, truths = sweep
    ds, rep = ingest(src, options=IngestOptions(task="rte", seeds_from="wi{wi}_do{do}"))
    assert rep.per_task.loc["rte", "trials"] == 4
    t = ds.trials.set_index("trial_id")
    assert sorted(t.index) == ["rte-wi1-do1", "rte-wi1-do2", "rte-wi2-do1", "rte-wi2-do2"]
    for (wi, do), truth in truths.items():
        check_trial(ds, f"rte-wi{wi}-do{do}", truth)
    assert (t["metric"] == "accuracy").all() and (t["n_steps"] == 30).all()
    # baseline of RTE (Table 2): diverged iff after <= 0.53
    np.testing.assert_array_equal(t["diverged"].to_numpy(dtype=bool),
                                  (t["after"] <= 0.53).to_numpy())
    grid = ds.grid("rte")
    assert grid.shape == (2, 2)


def test_automatic_format_and_global_seed_has_no_effect(sweep):
    src, _ = sweep
    opts = IngestOptions(task="rte", seeds_from="wi{wi}_do{do}")
    np.random.seed(1)
    a, _ = ingest(src, options=opts)
    np.random.seed(2)
    b, _ = ingest(src, format="hf", options=opts)
    assert a.meta["provenance"]["format"] == "hf"
    for x, y in ((a.trials, b.trials), (a.evals, b.evals), (a.train_loss, b.train_loss)):
        assert x.equals(y)


def test_custom_prefix_trial_params_and_config_task(tmp_path):
    rng = np.random.default_rng(1)
    st, truth = make_run(rng, prefix="val", metric="matthews_correlation", eval_on_start=False)
    st.trial_params = {"seed": 17, "learning_rate": 2e-5}
    run = tmp_path / "hp" / "run-0"
    st.save_to_json(run / "trainer_state.json")
    (run / "config.json").write_text(json.dumps({"finetuning_task": "cola",
                                                 "architectures": ["BertForSequence"]}))
    ds, _ = ingest(tmp_path / "hp", options=IngestOptions())
    check_trial(ds, "cola-s17", truth, before=False, metric="matthews_correlation")
    t = ds.trials.iloc[0]
    assert t["metric"] == "matthews_correlation" and t["seed"] == 17
    assert t["diverged"] == (t["after"] <= 0.0)


def test_resumed_run_keeps_the_last_entry_per_kind_and_step(tmp_path):
    rng = np.random.default_rng(2)
    st, truth = make_run(rng)
    hist = st.log_history
    # a resume from checkpoint-20 logged steps 20..25 again (new values); they come later
    cut = next(i for i, e in enumerate(hist) if e["step"] > 25)
    redo = []
    for e in hist:
        if 20 <= e["step"] <= 25 and "train_runtime" not in e:
            e2 = dict(e)
            for k in e2:
                if k in ("loss", "eval_accuracy", "eval_loss"):
                    e2[k] = e2[k] + 0.001
            redo.append(e2)
    st.log_history = hist[:cut] + redo + hist[cut:]
    for e in redo:
        g = e["step"]
        if "loss" in e:
            truth["train"][g] = e["loss"]
        if "eval_accuracy" in e:
            truth["acc"][g], truth["eloss"][g] = e["eval_accuracy"], e["eval_loss"]
    st.save_to_json(tmp_path / "r" / "seed3" / "trainer_state.json")
    opts = dict(task="rte", seeds_from="seed{seed}")
    with pytest.raises(ParseError, match=r"logged more than once with different values .* "
                                         r"choose --duplicates last"):
        ingest(tmp_path / "r", options=IngestOptions(**opts))  # never a silent choice
    ds, _ = ingest(tmp_path / "r", options=IngestOptions(**opts, duplicates="last"))
    check_trial(ds, "rte-s3", truth)


def test_checkpoints_only_takes_the_highest_numerically(tmp_path):
    rng = np.random.default_rng(3)
    run = tmp_path / "s" / "seed5"
    st10, truth10 = make_run(rng, finished=False, stop_at=10)
    st5, _ = make_run(rng, finished=False, stop_at=5)
    st5.save_to_json(run / "checkpoint-5" / "trainer_state.json")
    st10.save_to_json(run / "checkpoint-10" / "trainer_state.json")
    assert find_runs(tmp_path / "s") == [(run, run / "checkpoint-10" / "trainer_state.json")]
    ds, rep = ingest(tmp_path / "s", options=IngestOptions(task="rte", seeds_from="seed{seed}"))
    check_trial(ds, "rte-s5", truth10, complete=False)
    t = ds.trials.iloc[0]
    assert "from_checkpoint" in t["flags"] and "incomplete" in t["flags"]
    assert t["n_steps"] == 10 and rep.per_task.loc["rte", "incomplete"] == 1
    # the top-level file wins over any checkpoint
    st_full, truth_full = make_run(rng)
    st_full.save_to_json(run / "trainer_state.json")
    ds, _ = ingest(tmp_path / "s", options=IngestOptions(task="rte", seeds_from="seed{seed}"))
    check_trial(ds, "rte-s5", truth_full)


def test_post_training_evaluate_is_not_the_after_score(tmp_path):
    rng = np.random.default_rng(4)
    st, truth = make_run(rng)
    # trainer.evaluate() after train() with load_best_model_at_end: the best checkpoint
    st.log_history.append({"epoch": 3.0, "eval_accuracy": 0.99, "eval_loss": 0.01,
                           "eval_runtime": 1.0, "step": 30})
    st.save_to_json(tmp_path / "x" / "seed1" / "trainer_state.json")
    ds, _ = ingest(tmp_path / "x", options=IngestOptions(task="rte", seeds_from="seed{seed}"))
    check_trial(ds, "rte-s1", truth)


def test_one_trainer_state_file_with_sidecar(tmp_path):
    rng = np.random.default_rng(5)
    st, truth = make_run(rng, eval_on_start=False)
    f = tmp_path / "out" / "trainer_state.json"
    st.save_to_json(f)
    (tmp_path / "out" / "seedstats.json").write_text(json.dumps(
        {"wi_seed": 2, "do_seed": 9, "task": "boolq", "baseline": 0.62}))
    ds, rep = ingest(f, options=IngestOptions())
    check_trial(ds, "boolq-wi2-do9", truth, before=False)
    t = ds.trials.iloc[0]
    assert t["diverged"] == (t["after"] <= 0.62)


def test_errors(tmp_path, sweep):
    src, _ = sweep
    with pytest.raises(ParseError, match="no seed for this run"):
        ingest(src, options=IngestOptions(task="rte"))
    with pytest.raises(ParseError, match="cannot tell the task"):
        ingest(src, options=IngestOptions(seeds_from="wi{wi}_do{do}"))
    bad = tmp_path / "bad" / "seed1"
    bad.mkdir(parents=True)
    (bad / "trainer_state.json").write_text("{\"log_history\": [1, 2]}")
    with pytest.raises(ParseError, match=r"log_history\[0\]: expected an object"):
        ingest(tmp_path / "bad", options=IngestOptions(task="rte", seeds_from="seed{seed}"))
    (bad / "trainer_state.json").write_text("{broken")
    with pytest.raises(ParseError, match="expected a trainer_state.json"):
        ingest(tmp_path / "bad", options=IngestOptions(task="rte", seeds_from="seed{seed}"))
    # --skip-bad lists it and goes on
    res = read(tmp_path / "bad", IngestOptions(task="rte", seeds_from="seed{seed}",
                                               skip_bad=True))
    assert res.records == [] and len(res.skipped) == 1
    with pytest.raises(DataError, match="--format"):
        ingest(src, format="nope")


def test_training_args_bin_is_never_opened(sweep, monkeypatch):
    src, _ = sweep
    (src / "wi1_do1" / "training_args.bin").write_bytes(b"\x80\x04not a pickle we would load")
    import pickle

    def boom(*a, **k):
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    ds, _ = ingest(src, options=IngestOptions(task="rte", seeds_from="wi{wi}_do{do}"))
    assert len(ds.trials) == 4


def test_non_finite_step_is_a_parse_error(tmp_path):
    run = tmp_path / "sweep" / "seed1"
    run.mkdir(parents=True)
    (run / "trainer_state.json").write_text('{"log_history": [{"step": NaN, "loss": 0.5}]}')
    with pytest.raises(ParseError, match=r"log_history\[0\]: expected an integer 'step'"):
        ingest(tmp_path / "sweep", options=IngestOptions(task="rte", seeds_from="seed{seed}"))


def _write(tmp_path, name, state):
    f = tmp_path / "sweep" / name / "trainer_state.json"
    state.save_to_json(f)
    return f


def test_fractional_step_is_a_parse_error_naming_file_and_entry(tmp_path):
    st, _ = make_run(np.random.default_rng(6))
    k = next(i for i, e in enumerate(st.log_history) if e["step"] == 15)
    st.log_history[k]["step"] = 15.5  # was truncated to 15 before
    f = _write(tmp_path, "seed1", st)
    opts = IngestOptions(task="rte", seeds_from="seed{seed}")
    with pytest.raises(ParseError) as err:
        ingest(tmp_path / "sweep", options=opts)
    assert str(err.value) == (f"{f}: log_history[{k}]: expected an integer 'step', got 15.5")
    for bad in ("15", None, True):  # a string, a missing step, a bool: same error
        st.log_history[k]["step"] = bad
        _write(tmp_path, "seed1", st)
        with pytest.raises(ParseError, match=rf"log_history\[{k}\]: expected an integer "
                                             rf"'step', got {bad!r}"):
            ingest(tmp_path / "sweep", options=opts)


def test_whole_float_steps_read_as_the_integer_steps(tmp_path):
    st, truth = make_run(np.random.default_rng(7))
    for e in st.log_history:
        e["step"] = float(e["step"])  # 15.0: a whole number, not malformed
    st.global_step = float(st.global_step)
    _write(tmp_path, "seed1", st)
    ds, _ = ingest(tmp_path / "sweep", options=IngestOptions(task="rte",
                                                             seeds_from="seed{seed}"))
    check_trial(ds, "rte-s1", truth)
    assert ds.trials["n_steps"].tolist() == [30]


def test_fractional_global_step_is_a_parse_error(tmp_path):
    st, _ = make_run(np.random.default_rng(8))
    st.global_step = 29.5
    f = _write(tmp_path, "seed1", st)
    with pytest.raises(ParseError) as err:
        ingest(tmp_path / "sweep", options=IngestOptions(task="rte", seeds_from="seed{seed}"))
    assert str(err.value) == f"{f}: expected an integer 'global_step', got 29.5"


def test_skip_bad_skips_the_run_with_a_fractional_step_and_reads_the_rest(tmp_path):
    rng = np.random.default_rng(9)
    good, truth = make_run(rng)
    bad, _ = make_run(rng)
    k = next(i for i, e in enumerate(bad.log_history) if e["step"] == 20)
    bad.log_history[k]["step"] = 20.25
    _write(tmp_path, "seed1", good)
    f = _write(tmp_path, "seed2", bad)
    ds, rep = ingest(tmp_path / "sweep", options=IngestOptions(
        task="rte", seeds_from="seed{seed}", skip_bad=True))
    assert ds.trials["trial_id"].tolist() == ["rte-s1"]
    check_trial(ds, "rte-s1", truth)
    assert rep.skipped == [(str(f.parent), f"{f}: log_history[{k}]: expected an integer "
                            "'step', got 20.25")]


def test_a_trainer_directory_without_its_state_is_named_not_left_out_silently(tmp_path):
    rng = np.random.default_rng(7)
    st, _ = make_run(rng)
    st.save_to_json(tmp_path / "r" / "seed1" / "trainer_state.json")
    (tmp_path / "r" / "seed2").mkdir()
    (tmp_path / "r" / "seed2" / "training_args.bin").write_bytes(b"not read")
    ds, rep = ingest(tmp_path / "r", options=IngestOptions(task="rte", seeds_from="seed{seed}"))
    assert len(ds.trials) == 1
    assert any("not read: 1 Trainer director(ies) without a trainer_state.json" in n
               and "seed2" in n for n in rep.notes), rep.notes

"""Shared rules of the sweep loaders (seedstats.data.formats.sweeps): seeds, keys, phases, steps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seedstats.data.formats import sweeps as _seeds
from seedstats.data.formats.base import IngestOptions
from seedstats.data.formats.sweeps import (
    Identity,
    Resolver,
    SeedPattern,
    Series,
    assemble,
    infer_steps_per_epoch,
    normalize_task,
    split_keys,
)
from seedstats.data.records import build_tables
from seedstats.errors import DataError, ParseError

# --- --seeds-from patterns -----------------------------------------------------------------

@pytest.mark.parametrize("pattern, text, expected", [
    ("wi{wi}_do{do}", "sweep/wi12_do3", {"wi_seed": 12, "do_seed": 3}),
    ("wi{wi}_do{do}", "sweep/wi1_do2/runs/x", {"wi_seed": 1, "do_seed": 2}),
    ("seed{seed}", "sweep/lr2e-5/seed42", {"seed": 42}),
    ("seed{seed}", "seed1/inner/seed7", {"seed": 7}),  # the last (deepest) occurrence
    ("s{seed}*/wi{wi}", "s3-rte/wi9", {"seed": 3, "wi_seed": 9}),
    ("{do}-{wi}", "a/10-20", {"do_seed": 10, "wi_seed": 20}),
])
def test_seed_pattern_matches(pattern, text, expected):
    assert SeedPattern(pattern).match(text) == expected


def test_seed_pattern_star_stays_within_a_component():
    assert SeedPattern("run*_seed{seed}").match("run_a/b_seed3") is None
    assert SeedPattern("run*_seed{seed}").match("x/run_ab_seed3") == {"seed": 3}


def test_seed_pattern_no_match_is_none():
    assert SeedPattern("wi{wi}_do{do}").match("sweep/seed3") is None


@pytest.mark.parametrize("bad, words", [
    ("nofields", "{wi}"), ("wi{w}", "unknown field {w}"), ("{seed}{seed}", "twice"),
    ("", "expected a pattern"),
])
def test_seed_pattern_errors_name_the_option(bad, words):
    with pytest.raises(DataError) as exc:
        SeedPattern(bad)
    assert "--seeds-from" in str(exc.value) and words in str(exc.value)


# --- identity: seeds, sidecar, task, headline, baseline -----------------------------------

def _mk(tmp_path, rel):
    d = tmp_path / rel
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_identity_order_pattern_then_sidecar_then_trial_params_then_config(tmp_path):
    root = _mk(tmp_path, "sweep")
    run = _mk(tmp_path, "sweep/wi4_do5")
    (run / "seedstats.json").write_text(json.dumps({"seed": 99}))
    tp, cfg = {"seed": 7}, {"wi_seed": 1, "do_seed": 2}
    r = Resolver(root, IngestOptions(task="rte", seeds_from="wi{wi}_do{do}"))
    i = r.identity(run, trial_params=tp, config=cfg)
    assert (i.wi_seed, i.do_seed, i.seed, i.origin) == (4, 5, None, "--seeds-from")
    r = Resolver(root, IngestOptions(task="rte"))
    i = r.identity(run, trial_params=tp, config=cfg)
    assert (i.wi_seed, i.do_seed, i.seed, i.origin) == (None, None, 99, "seedstats.json")
    (run / "seedstats.json").unlink()
    r = Resolver(root, IngestOptions(task="rte"))
    assert r.identity(run, trial_params=tp, config=cfg).seed == 7
    i = Resolver(root, IngestOptions(task="rte")).identity(run, config=cfg)
    assert (i.wi_seed, i.do_seed, i.seed, i.origin) == (1, 2, None, "run config")


def test_sidecar_nearest_wins_key_by_key(tmp_path):
    root = _mk(tmp_path, "sweep")
    run = _mk(tmp_path, "sweep/a/b")
    (root / "seedstats.json").write_text(json.dumps({"task": "mrpc", "baseline": 0.7}))
    (run / "seedstats.json").write_text(json.dumps({"wi_seed": 3, "do_seed": 4,
                                                    "baseline": 0.6}))
    i = Resolver(root, IngestOptions()).identity(run)
    assert (i.task, i.wi_seed, i.do_seed) == ("mrpc", 3, 4)
    assert i.sidecar["baseline"] == 0.6


def test_hf_data_seed_alone_is_not_a_do_seed(tmp_path):
    # the Trainer's data_seed only re-seeds the sampler: the run keeps its single seed
    run = _mk(tmp_path, "r")
    i = Resolver(tmp_path, IngestOptions(task="x")).identity(
        run, config={"seed": 42, "data_seed": 3})
    assert (i.wi_seed, i.do_seed, i.seed) == (None, None, 42)
    i = Resolver(tmp_path, IngestOptions(task="x")).identity(
        run, config={"init_seed": 5, "data_seed": 3})
    assert (i.wi_seed, i.do_seed, i.seed) == (5, 3, None)


def test_missing_seed_and_task_are_parse_errors(tmp_path):
    run = _mk(tmp_path, "r")
    with pytest.raises(ParseError, match="no seed for this run.*--seeds-from"):
        Resolver(tmp_path, IngestOptions(task="rte")).identity(run)
    with pytest.raises(ParseError, match="does not match --seeds-from"):
        Resolver(tmp_path, IngestOptions(task="rte", seeds_from="seed{seed}")).identity(run)
    with pytest.raises(ParseError, match="cannot tell the task.*--task"):
        Resolver(tmp_path, IngestOptions()).identity(run, config={"seed": 1})
    with pytest.raises(ParseError, match="expected an integer"):
        Resolver(tmp_path, IngestOptions(task="rte")).identity(run, config={"seed": "abc"})


@pytest.mark.parametrize("name, task", [("SST-2", "sst"), ("sst2", "sst"), ("RTE", "rte"),
                                        ("glue/cola", "cola"), ("myTask", "myTask")])
def test_normalize_task(name, task):
    assert normalize_task(name) == task


def _ident(task, side=None):
    return Identity(task, None, None, 1, "test", side or {})


def test_headline_metric_and_baseline(tmp_path):
    r = Resolver(tmp_path, IngestOptions())
    assert r.headline(_ident("rte"), ["loss", "accuracy"], "s") == ("accuracy", 0.53)
    assert r.headline(_ident("cola"), ["loss", "matthews_correlation"], "s") == (
        "matthews_correlation", 0.0)
    assert r.headline(_ident("mrpc"), ["loss", "accuracy", "f1", "combined_score"], "s") == (
        "combined_score", 0.75)
    # not a paper task: the only metric besides loss, no baseline (diverged NA), noted
    assert r.headline(_ident("boolq"), ["loss", "accuracy"], "s") == ("accuracy", None)
    assert any("boolq" in n for n in r.notes)
    with pytest.raises(ParseError, match="headline metric.*--metric"):
        r.headline(_ident("boolq"), ["loss", "accuracy", "f1"], "s")
    # --metric with the evaluation prefix, --baseline
    r = Resolver(tmp_path, IngestOptions(metric="eval_f1", baseline=0.5))
    assert r.headline(_ident("boolq"), ["loss", "accuracy", "f1"], "s") == ("f1", 0.5)
    # sidecar metric/baseline
    r = Resolver(tmp_path, IngestOptions())
    assert r.headline(_ident("boolq", {"metric": "f1", "baseline": 0.6}),
                      ["accuracy", "f1"], "s") == ("f1", 0.6)


# --- keys ------------------------------------------------------------------------------------

def test_split_keys_default_and_custom_prefix():
    keys = ["loss", "eval_loss", "eval_accuracy", "eval_runtime", "eval_samples_per_second",
            "eval_steps_per_second", "epoch", "train_runtime", "train_loss", "grad_norm"]
    assert split_keys(keys, None, "s") == ("eval", {"eval_loss": "loss",
                                                    "eval_accuracy": "accuracy"})
    keys = ["loss", "val_loss", "val_accuracy", "val_runtime", "test_accuracy", "test_runtime"]
    assert split_keys(keys, None, "s") == ("val", {"val_loss": "loss",
                                                   "val_accuracy": "accuracy"})
    assert split_keys(keys, "test_accuracy", "s")[0] == "test"
    keys = ["loss", "val_accuracy", "val_runtime", "dev_accuracy", "dev_runtime"]
    with pytest.raises(ParseError, match="several evaluation prefixes"):
        split_keys(keys, None, "s")
    assert split_keys(keys, "dev_accuracy", "s") == ("dev", {"dev_accuracy": "accuracy"})
    assert split_keys(["val/acc", "val/loss", "loss"], None, "s") == (
        "val", {"val/acc": "acc", "val/loss": "loss"})


def test_infer_steps_per_epoch():
    assert infer_steps_per_epoch(Series.of([52, 156, 468], [0.33, 1.0, 3.0])) == 156.0
    # float32 epoch from TensorBoard still gives the integer
    e = float(np.float32(468 / 156.0 * 1.0))
    assert infer_steps_per_epoch(Series.of([468], [e])) == 156.0
    assert infer_steps_per_epoch(Series.of([10], [0.0])) is None
    assert infer_steps_per_epoch(None) is None


# --- series -> record ---------------------------------------------------------------------------

def test_dedupe_keeps_the_entry_logged_last():
    s = Series.of([20, 10, 20, 30], [1.0, 2.0, 3.0, 4.0], [0, 1, 5, 2]).dedupe()
    assert s.g.tolist() == [10, 20, 30] and s.v.tolist() == [2.0, 3.0, 4.0]


def _rec(evals, **kw):
    kw.setdefault("metric", "acc")
    kw.setdefault("baseline", 0.5)
    return assemble(source="s", ident=_ident("x"), evals=evals, **kw)


def test_assemble_phases_and_steps():
    acc = Series.of([0, 10, 20, 30], [0.4, 0.6, 0.7, 0.8])
    train = Series.of([10, 20, 30], [0.9, 0.5, 0.3])
    rec = _rec({"acc": acc}, train=train, complete=True)
    c = rec.curves["acc"]
    assert c.before == 0.4 and c.after == 0.8
    assert c.steps.tolist() == [9, 19, 29] and c.values.tolist() == [0.6, 0.7, 0.8]
    assert rec.n_steps == 30 and rec.train_steps.tolist() == [9, 19, 29]
    trials, evals, loss = build_tables([rec])
    t = trials.iloc[0]
    assert (t["before"], t["after"], t["best"], t["n_evals"], t["n_steps"]) == (
        0.4, 0.8, 0.8, 3, 30)
    assert evals[evals["phase"] == "after"]["step"].tolist() == [29]


def test_assemble_incomplete_has_no_after_and_no_eval_at_end_neither():
    acc = Series.of([10, 20], [0.6, 0.7])
    assert _rec({"acc": acc}, complete=False).curves["acc"].after is None
    # complete, but the last evaluation ran before the final step
    rec = _rec({"acc": acc}, complete=True, n_steps=30)
    assert rec.curves["acc"].after is None and rec.n_steps == 30


def test_assemble_post_training_evaluations():
    # eval during training at the final step: after; a later evaluate() (maybe the best
    # checkpoint) is left out
    acc = Series.of([10, 30, 30], [0.6, 0.8, 0.9], [0, 1, 3])
    rec = _rec({"acc": acc}, complete=True, end_order=2, n_steps=30)
    assert rec.curves["acc"].after == 0.8
    assert rec.curves["acc"].values.tolist() == [0.6, 0.8]
    # no evaluation during training: the first post-training evaluation is after
    acc = Series.of([30, 30], [0.7, 0.9], [3, 4])
    rec = _rec({"acc": acc}, complete=True, end_order=2, n_steps=30)
    assert rec.curves["acc"].after == 0.7 and len(rec.curves["acc"].values) == 0


def test_guarded_turns_low_level_errors_into_one_line(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("{not json")
    with pytest.raises(ParseError) as exc:
        _seeds.guarded(f, "a JSON file", lambda: json.loads(f.read_text()))
    assert "expected a JSON file" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(DataError, match="kept"):
        _seeds.guarded(f, "x", lambda: (_ for _ in ()).throw(DataError("kept")))


# --- ingest(src, options=...) --------------------------------------------------------------

@pytest.fixture
def hf_sweep(tmp_path):
    from test_sweeps_hf import make_run

    for seed in (3, 4):
        st, _ = make_run(np.random.default_rng(seed))
        st.save_to_json(tmp_path / "sweep" / f"seed{seed}" / "trainer_state.json")
    return tmp_path / "sweep"


def test_ingest_options_as_a_dict_are_the_ingest_options(hf_sweep):
    from seedstats.data.ingest import ingest

    a, rep_a = ingest(hf_sweep, options={"task": "rte", "seeds_from": "seed{seed}",
                                         "baseline": 0.6})
    b, rep_b = ingest(hf_sweep, options=IngestOptions(task="rte", seeds_from="seed{seed}",
                                                      baseline=0.6))
    assert a.trials["trial_id"].tolist() == ["rte-s3", "rte-s4"]
    for x, y in ((a.trials, b.trials), (a.evals, b.evals), (a.train_loss, b.train_loss)):
        assert x.equals(y)
    # the baseline of the dict was used: diverged iff after <= 0.6 (RTE's own is 0.53)
    np.testing.assert_array_equal(a.trials["diverged"].to_numpy(dtype=bool),
                                  (a.trials["after"] <= 0.6).to_numpy())
    assert rep_a.per_task.equals(rep_b.per_task)


def test_ingest_unknown_option_names_it_and_the_valid_ones(hf_sweep):
    from seedstats.data.ingest import ingest

    with pytest.raises(DataError) as err:
        ingest(hf_sweep, options={"task": "rte", "seed_from": "seed{seed}"})
    assert str(err.value) == ("options: unknown option(s) 'seed_from' (did you mean "
                              "seeds_from?); expected some of skip_bad, task, metric, baseline, "
                              "seeds_from, mapping, system, systems_from, lower_is_better, "
                              "duplicates")


@pytest.mark.parametrize("options, message", [
    ("task=rte", "options: expected seedstats.data.IngestOptions(...) or a dict of its "
                 "fields (skip_bad, task, metric, baseline, seeds_from, mapping, system, "
                 "systems_from, lower_is_better, duplicates), got str"),
    ({"skip_bad": "yes"}, "option skip_bad (--skip-bad): expected True or False, got 'yes'"),
    ({"baseline": "0.5"}, "option baseline (--baseline): expected a finite number or None, "
                          "got '0.5'"),
    (IngestOptions(baseline=float("nan")), "option baseline (--baseline): expected a finite "
                                           "number or None, got nan"),
    ({"mapping": "run=trial"}, "option mapping (--map): expected a dict of KEY -> COLUMN "
                               "strings, e.g. {'run': 'trial'}, got 'run=trial'"),
    (IngestOptions(seeds_from=3), "option seeds_from (--seeds-from): expected a string or "
                                  "None, got 3"),
])
def test_ingest_options_of_the_wrong_type_are_one_clear_error(hf_sweep, options, message):
    from seedstats.data.ingest import ingest
    from seedstats.errors import SeedstatsError

    with pytest.raises(SeedstatsError) as err:
        ingest(hf_sweep, options=options)
    assert str(err.value) == message
    assert isinstance(err.value, (TypeError, ValueError))


def test_ingest_src_and_format_of_the_wrong_type(hf_sweep):
    from seedstats.data.ingest import ingest
    from seedstats.errors import SeedstatsError

    with pytest.raises(SeedstatsError, match=r"^src: expected a path \(str or pathlib.Path\), "
                                             r"got NoneType$") as err:
        ingest(None)
    assert isinstance(err.value, TypeError)
    with pytest.raises(SeedstatsError, match=r"^format: expected 'auto' or one of release, "
                                             r"rawlog, .*, got None$"):
        ingest(hf_sweep, format=None)
    with pytest.raises(DataError, match=r"^--format: expected auto or one of release, rawlog, "
                                        r"jsonl, hf, .*, got 'HF'$"):
        ingest(hf_sweep, format="HF")


def test_a_seed_pattern_matches_where_a_name_starts():
    from seedstats.data.formats.sweeps import SeedPattern

    p = SeedPattern("seed{seed}")
    assert p.match("sweep/seed4_dataseed7") == {"seed": 4}       # not the 7 of 'dataseed7'
    assert p.match("sweep/run-seed3") == {"seed": 3}
    assert p.match("sweep/myseed3") is None                      # a miss is an error upstream
    assert SeedPattern("*seed{seed}").match("sweep/myseed3") == {"seed": 3}
    assert SeedPattern("wi{wi}_do{do}").match("x/wi2_do5_dowi9") == {"wi_seed": 2, "do_seed": 5}

"""Systems in the data model, through the real command line: ``--system``, ``--systems-from``,
a sidecar's or a table's system, ``seedstats merge``, ``compare``/``plan`` on the result; and a
sweep whose headline metric is a loss (lower is better) end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from seedstats.data import IngestOptions, ingest, load
from seedstats.earlystop import budget_search


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "seedstats", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def one_line_error(proc, verb, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"seedstats {verb}: error: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]


def write_sweep(root, shift=0.0, seed=0, n=3):
    """Trainer runs ``wi{i}_do{j}`` (trainer_state.json as the Trainer writes it)."""
    rng = np.random.default_rng(seed)
    for wi in range(1, n + 1):
        for do in range(1, n + 1):
            hist = []
            for g in (10, 20, 30):
                hist.append({"epoch": g / 10, "loss": float(rng.uniform(0.1, 0.7)), "step": g})
                hist.append({"epoch": g / 10, "step": g, "eval_loss": 0.5,
                             "eval_accuracy": float(np.clip(rng.normal(0.7 + shift, 0.02),
                                                            0, 1))})
            hist.append({"epoch": 3.0, "step": 30, "train_runtime": 9.0, "train_loss": 0.3})
            d = root / f"wi{wi}_do{do}"
            d.mkdir(parents=True)
            (d / "trainer_state.json").write_text(json.dumps(
                {"epoch": 3.0, "global_step": 30, "max_steps": 30, "log_history": hist},
                indent=2, sort_keys=True) + "\n")
    return root


@pytest.fixture
def sweeps(tmp_path):
    write_sweep(tmp_path / "runs" / "base", 0.0, seed=0)
    write_sweep(tmp_path / "runs" / "tuned", 0.05, seed=1)
    return tmp_path / "runs"


def test_one_system_per_source_then_compare_and_plan(tmp_path, sweeps):
    p = cli("ingest", sweeps / "base", sweeps / "tuned", "--system", "base", "--system", "tuned",
            "--task", "rte", "--seeds-from", "wi{wi}_do{do}", "--out", "ds", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    ds = load(tmp_path / "ds")
    assert ds.systems == ["base", "tuned"] and len(ds.trials) == 18
    assert ds.trials["trial_id"].is_unique and "tuned:rte-wi1-do1" in set(ds.trials["trial_id"])
    assert set(ds.evals["system"].astype(str)) == {"base", "tuned"}
    p = cli("compare", "--data", "ds", "--out", "cmp", "--n-boot", "500", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "rte: tuned > base: +4.6 points [3.0, 6.2]" in p.stdout and "decided" in p.stdout
    df = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert {"task", "a", "b", "n_a", "n_b", "mean_a", "mean_b", "diff", "diff_low", "diff_high",
            "paired", "p_welch", "prob_b_better", "aso_epsilon", "crossing_budget",
            "verdict"} <= set(df.columns)
    assert df["paired"].all() and (df["n_a"] == 9).all()
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 10_000
    p = cli("plan", "--data", "ds", "--effect", "0.02", "--out", "pl", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    plan = pd.read_csv(tmp_path / "pl" / "plan.csv")
    assert {"n_welch", "n_simulated", "design_wi", "design_do"} <= set(plan.columns)
    assert plan["system"].tolist() == ["base", "tuned"]
    assert "pilot of 9 runs is too small" in plan["warning"].iloc[0]


def test_systems_from_a_path_pattern_and_from_a_sidecar(tmp_path, sweeps):
    opts = {"task": "rte", "seeds_from": "wi{wi}_do{do}", "systems_from": "{system}/wi*"}
    ds, _ = ingest(sweeps, options=opts)
    assert ds.systems == ["base", "tuned"]
    (sweeps / "base" / "seedstats.json").write_text('{"system": "from-sidecar"}')
    ds, _ = ingest(sweeps / "base", options={"task": "rte", "seeds_from": "wi{wi}_do{do}"})
    assert ds.systems == ["from-sidecar"]
    p = cli("ingest", sweeps, "--task", "rte", "--seeds-from", "wi{wi}_do{do}",
            "--systems-from", "sys-{system}", "--out", "o", cwd=tmp_path)
    one_line_error(p, "ingest", "no system", "--systems-from 'sys-{system}'")


def test_a_long_table_with_a_system_column(tmp_path):
    rows = [{"run": f"r{s}", "system": sysname, "seed": s, "step": g, "metric": "acc",
             "value": 0.5 + 0.01 * s + (0.1 if sysname == "b" else 0)}
            for sysname in ("a", "b") for s in range(4) for g in (1, 2)]
    f = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    ds, _ = ingest(f, options={"task": "mine"})
    assert ds.systems == ["a", "b"] and len(ds.trials) == 8
    assert ds.trials.groupby("system")["score"].mean().round(3).to_dict() == {"a": 0.515,
                                                                               "b": 0.615}


def test_analyses_of_one_system_need_system_and_merge_refuses_a_clash(tmp_path, sweeps):
    p = cli("ingest", sweeps / "base", sweeps / "tuned", "--system", "base", "--system", "tuned",
            "--task", "rte", "--seeds-from", "wi{wi}_do{do}", "--out", "ds", cwd=tmp_path)
    assert p.returncode == 0 and "keys read (format " in p.stdout  # both sources' keys
    assert load(tmp_path / "ds").meta["keys"]
    one_line_error(cli("tables", "--data", "ds", "--out", "t", cwd=tmp_path), "tables",
                   "holds 2 systems (base, tuned)", "--system NAME")
    p = cli("info", "--data", "ds", "--system", "tuned", cwd=tmp_path)
    assert p.returncode == 0 and "tuned (9)" in p.stdout and "base" not in p.stdout
    one_line_error(cli("merge", "ds", "ds", "--out", "m", cwd=tmp_path), "merge",
                   "system 'base' is in both")
    one_line_error(cli("compare", "--data", "dodge2020", cwd=tmp_path), "compare",
                   "compare needs at least two systems")
    one_line_error(cli("ingest", sweeps / "base", sweeps / "tuned", "--system", "a", "--system",
                       "b", "--system", "c", "--out", "x", cwd=tmp_path), "ingest",
                   "--system: give one name for every source, or one per source (2)")
    p = cli("merge", "ds", "dodge2020", "--out", "m", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert load(tmp_path / "m").systems == ["base", "default", "tuned"]


# --- a loss sweep: lower is better ----------------------------------------------------------------


@pytest.fixture
def loss_table(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(12):
        curve = 3.0 - np.linspace(0, 1.2, 6) + rng.normal(0, 0.05, 6)
        curve[4:] += np.linspace(0, 0.3, 2)  # overfits at the end: the minimum is inside
        rows += [{"run": f"seed{s}", "seed": s, "step": g, "metric": "perplexity", "value": v}
                 for g, v in zip(range(1, 7), curve)]
    f = tmp_path / "lm.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    return f


def test_a_loss_sweep_follows_its_direction(tmp_path, loss_table):
    ds, rep = ingest(loss_table, options={"task": "lm"})
    assert "headline metric perplexity: lower is better (by its name" in str(rep)
    assert ds.meta["lower_is_better"] == {"perplexity": True}
    curves = ds.curves("lm")
    np.testing.assert_array_equal(ds.trials.set_index("trial_id")["best"].loc[curves.index],
                                  curves.min(axis=1).to_numpy())
    # early stopping keeps the smallest perplexity: the same search on the negated values
    neg = ingest(loss_table, options={"task": "lm", "lower_is_better": False})[0]
    neg.evals["value"] = -neg.evals["value"]
    kw = {"exact": True, "max_budget": 3, "t_max": 12, "cache": False, "n_points": 6}
    _, best = budget_search(ds, "lm", **kw)
    _, best_neg = budget_search(neg, "lm", **kw)
    np.testing.assert_allclose(best["expected"], -best_neg["expected"], rtol=0, atol=1e-12)
    # Figure 7's error of a loss is the loss itself: r = (L_baseline - L) / L_baseline
    np.testing.assert_allclose(best["error_reduction"],
                               (best["baseline"] - best["expected"]) / best["baseline"])
    # --higher-is-better overrides the name, and is recorded
    p = cli("ingest", loss_table, "--task", "lm", "--higher-is-better", "--out", "hi",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    meta = json.loads((tmp_path / "hi" / "dataset.json").read_text())
    assert meta["lower_is_better"] == {"perplexity": False}


def test_options_check_the_new_fields(loss_table):
    from seedstats.errors import SeedstatsError

    with pytest.raises(SeedstatsError, match="option system .*expected a non-empty string"):
        ingest(loss_table, options={"task": "lm", "system": " "})
    with pytest.raises(SeedstatsError, match="option lower_is_better .*True, False or None"):
        ingest(loss_table, options=IngestOptions(task="lm", lower_is_better="yes"))


def test_the_seed_tables_of_a_loss_pick_the_lowest_as_best():
    from seedstats.data.dataset import Dataset
    from seedstats.data.records import Curve, TrialRecord, build_tables
    from seedstats.stats.tables import compute_tables

    rng = np.random.default_rng(0)
    wi_effect = np.linspace(-0.3, 0.3, 6)  # WI 1 has the lowest loss
    recs = [TrialRecord(task="lm", wi_seed=w + 1, do_seed=d + 1, metric="loss",
                        curves={"loss": Curve(steps=np.array([0, 9]),
                                              values=np.array([3.0, x]), after=x)},
                        train_loss=np.zeros(10), source=f"{w}-{d}")
            for w in range(6) for d in range(6)
            for x in [2.0 + wi_effect[w] + rng.normal(0, 0.05)]]
    ds = Dataset(*build_tables(recs, lower_is_better={"loss"}), {"lower_is_better": {"loss": True}})
    t4 = compute_tables(ds, n_perm=200)[0]["table4"].set_index("factor")
    assert t4.loc["wi", "best_seed"] == 1 and t4.loc["wi", "worst_seed"] == 6
    assert t4.loc["wi", "best_mean"] < t4.loc["wi", "worst_mean"]
    means = ds.trials.groupby("wi_seed")["score"].mean()
    assert t4.loc["wi", "best_mean"] == pytest.approx(means.min())


def test_ray_style_name_value_directories_give_their_seeds(tmp_path):
    root = write_sweep(tmp_path / "tmp", n=2)  # wi{i}_do{j}/trainer_state.json
    ray = tmp_path / "ray"
    ray.mkdir()
    for i, d in enumerate(sorted(root.iterdir())):
        d.rename(ray / f"train_fn_0a1b2_0000{i}_{i}_seed={10 + i},lr=1e-05_2026-12-01_10-00-0{i}")
    ds, _ = ingest(ray, options={"task": "rte", "seeds_from": "seed{seed}"})
    assert sorted(ds.trials["seed"].tolist()) == [10, 11, 12, 13]

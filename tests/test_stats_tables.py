"""seedstats.stats.paper and seedstats.stats.tables: Tables 1-4 and ``seedstats tables``."""

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import seedstats
from seedstats.cli import main
from seedstats.data.dataset import Dataset, score_grid
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.data.schema import TASKS
from seedstats.figures.tables import to_markdown, write_tables
from seedstats.stats import paper
from seedstats.stats.seeds import best_worst_anova, seed_sd_summary, variance_components
from seedstats.stats.tables import TABLES, compute_tables

PAPER_TEXT = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "001_94ad7669a07bbbad.txt"


def records(tasks=("rte", "cola"), n=4, seed=0, single_seed=False):
    rng = np.random.default_rng(seed)
    recs = []
    for task in tasks:
        info = TASKS[task]
        steps = np.array(info.schedule)
        wi_eff = rng.normal(0, 0.05, n)
        for wi in range(1, n + 1):
            for do in range(1, n + 1):
                level = 0.6 + wi_eff[wi - 1] + rng.normal(0, 0.03)
                vals = np.round(np.clip(level + rng.normal(0, 0.02, len(steps)), -1, 1), 4)
                seeds = (None, None, wi * 100 + do) if single_seed else (wi, do, None)
                recs.append(TrialRecord(
                    task, *seeds, {info.metric: Curve(0.5, steps, vals, float(vals[-1]))},
                    np.zeros(info.n_steps), source="test"))
    return recs


@functools.lru_cache(maxsize=None)
def _tables(single_seed=False):
    return build_tables(records(single_seed=single_seed))


def dataset(synthetic=True, single_seed=False):
    trials, evals, loss = (df.copy() for df in _tables(single_seed))
    return Dataset(trials, evals, loss, {"synthetic": synthetic})


# --- the published constants --------------------------------------------------------------


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason="paper text (../shared/seeds) not present")
def test_published_constants_match_the_paper_text():
    text = PAPER_TEXT.read_text()
    for row, vals in paper.TABLE1.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(row))
        nums = [float(x) for x in re.findall(r"\d+\.\d", line.split("\t", 1)[1])]
        assert nums == [vals[t] for t in paper.PAPER_TASKS], row
    for label, key in (("Agg. over WI", "wi"), ("Agg. over DO", "do"), ("Total", "total")):
        line = next(ln for ln in text.splitlines() if ln.startswith(label + "\t"))
        nums = [float(x) for x in line.split("\t")[1:]]
        assert nums == [paper.TABLE3[key][t] for t in paper.PAPER_TASKS]
    for label, key in (("WI", "wi"), ("DO", "do")):
        line = next(ln for ln in text.splitlines() if ln.startswith(label + "\t"))
        nums = [float(m) * 10 ** int(e) for m, e in re.findall(r"([\d.]+)×10\^\{(-?\d+)\}", line)]
        assert nums == pytest.approx([paper.TABLE4[key][t] for t in paper.PAPER_TASKS])


def test_published_table2_agrees_with_the_task_metadata():
    for t, row in paper.TABLE2.items():
        assert row["baseline"] == TASKS[t].baseline
        assert abs(row["n_val"] - TASKS[t].n_val) <= 1


# --- Tables 1-4 computed ------------------------------------------------------------------


def test_table1_best_score_is_the_max_over_every_evaluation():
    ds = dataset()
    t1 = paper.table1(ds.trials).set_index("row")
    for task in ("rte", "cola"):
        tt = ds.trials[ds.trials.task == task]
        assert t1.loc["best of all seeds (this data)", task] == pytest.approx(
            100 * max(tt["best"].max(), tt["after"].max()))
        assert t1.loc["best final score (this data)", task] == pytest.approx(
            100 * tt["after"].max())
    assert t1.loc["BERT (ours)", "mrpc"] == 91.4
    assert np.isnan(t1.loc["best of all seeds (this data)", "mrpc"])  # no mrpc trials


def test_table2_lists_metadata_and_the_sweep():
    t2 = paper.table2(dataset().trials).set_index("task")
    assert t2.loc["rte", "n_trials"] == 16 and t2.loc["rte", "n_wi"] == 4
    assert t2.loc["cola", "baseline"] == 0.0 and t2.loc["cola", "steps_per_epoch"] == 535
    assert t2.loc["rte", "evals_per_trial"] == 31 and t2.loc["rte", "n_val_paper"] == 277


def test_table3_and_table4_equal_the_grid_functions():
    ds = dataset()
    t3 = paper.table3(ds.trials)
    t4 = paper.table4(ds.trials, n_perm=99, rng=1)
    for task in ("rte", "cola"):
        g = score_grid(ds.trials, task)
        ref = seed_sd_summary(g, ddof=0).set_index("quantity")["sd"]  # the paper's ddof
        got = t3[t3.task == task].set_index("quantity")
        np.testing.assert_allclose(got["ours"], ref.loc[["wi", "do", "total"]])
        np.testing.assert_allclose(got["paper"], [paper.TABLE3[q][task] for q in
                                                  ("wi", "do", "total")])
        for factor in ("wi", "do"):
            row = t4[(t4.task == task) & (t4.factor == factor)].iloc[0]
            a = best_worst_anova(g, factor).iloc[0]
            assert row["p_anova_post_selection"] == a["p_value"]
            assert row["p_paper"] == paper.TABLE4[factor][task]
            assert 1 / 100 <= row["p_perm_var"] <= 1 and row["n_perm"] == 99
    pd.testing.assert_frame_equal(t4, paper.table4(ds.trials, n_perm=99, rng=1))


def test_compute_tables_on_a_grid_dataset():
    ds = dataset()
    tables, notes = compute_tables(ds, n_perm=99)
    assert set(tables) == set(TABLES)
    vc = tables["variance_components"]
    ref = variance_components(score_grid(ds.trials, "cola"))
    np.testing.assert_allclose(vc[vc.task == "cola"]["estimate"], ref["estimate"])
    assert tables["global_seeds"]["n_tasks"].iloc[0] == 2
    assert set(tables["early_detection"]["task"]) == {"rte", "cola"}
    assert not any(notes.values())


def test_write_tables_writes_csv_and_markdown_and_says_synthetic(tmp_path):
    ds = dataset(synthetic=True)
    out = write_tables(ds, tmp_path / "t", n_perm=99)
    names = [p.stem for p, _ in out]
    assert names == list(TABLES)
    for path, text in out:
        assert path.suffix == ".md" and path.read_text() == text
        assert "synthetic replica" in text
        csv = pd.read_csv(path.with_suffix(".csv"))
        assert len(csv) > 0
    t3 = pd.read_csv(tmp_path / "t" / "table3.csv")
    assert list(t3.columns) == ["task", "quantity", "ours", "paper", "ratio", "n_seeds", "n",
                                "n_missing", "ddof"]
    assert "post-selection" in dict((p.stem, t) for p, t in out)["table4"]
    real = write_tables(dataset(synthetic=False), tmp_path / "r", n_perm=99)
    assert all("synthetic" not in text for _, text in real)


def test_sweeps_without_a_grid_get_a_note_not_a_crash(tmp_path):
    ds = dataset(single_seed=True)
    out = dict((p.stem, t) for p, t in write_tables(ds, tmp_path, n_perm=99))
    assert "Not computed" in out["table3"] and "no WI x DO seed grid" in out["table3"]
    assert "Not computed" in out["global_seeds"]
    assert not (tmp_path / "table3.csv").exists()
    assert (tmp_path / "table1.csv").exists() and (tmp_path / "failed_runs.csv").exists()


def test_cli_tables_command(tmp_path, capsys):
    path = dataset(synthetic=False).save(tmp_path / "ds")
    assert main(["tables", "--data", str(path), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert f"data: {path}" in printed and "Table 3" in printed
    assert (tmp_path / "out" / "table4.csv").exists()


def test_to_markdown_formats_nan_and_callables():
    md = to_markdown(pd.DataFrame({"a": ["x", "y"], "p": [1e-5, np.nan]}),
                     formats={"p": lambda v: "tiny" if v < 1e-3 else "-"})
    assert md.splitlines() == ["| a | p |", "|---|---|", "| x | tiny |", "| y | - |"]


# --- the replica (one module-scoped load) ---------------------------------------------------


@pytest.fixture(scope="module")
def replica():
    try:
        return seedstats.load()
    except Exception as exc:  # pragma: no cover - the replica is another module's work
        pytest.skip(f"replica not available: {exc}")


def test_tables_on_the_replica(replica, tmp_path):
    tables, notes = compute_tables(replica, n_perm=199)
    t3 = tables["table3"]
    assert len(t3) == 12 and t3["ours"].notna().all() and (t3["n_missing"] == 0).all()
    assert len(tables["table4"]) == 8
    assert set(tables["global_seeds"]["n_seeds"]) == {15}
    vc = tables["variance_components"]
    tot = vc[vc.component == "total"].set_index("task")["sd"]
    t3tot = t3[t3.quantity == "total"].set_index("task")["ours"]
    # the total variance of the random-effects model is close to the plain total variance
    np.testing.assert_allclose(tot, t3tot.loc[tot.index], rtol=0.1)

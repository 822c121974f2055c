"""``seedstats ingest`` on sweeps, through the real command: bad input is one line, exit 2."""

from __future__ import annotations

import seedstats

import json
import subprocess
import sys

import numpy as np
import pytest

from seedstats.data.embedded import load
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "seedstats", "ingest", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture
def hf_sweep(tmp_path):
    """Four Trainer runs (trainer_state.json as the Trainer writes it: indent 2, sorted)."""
    rng = np.random.default_rng(0)
    for wi in (1, 2):
        for do in (1, 2):
            hist = []
            for g in (10, 20, 30):
                hist.append({"epoch": g / 10, "grad_norm": 1.0, "learning_rate": 1e-5,
                             "loss": float(rng.uniform(0.1, 0.7)), "step": g})
                hist.append({"epoch": g / 10, "eval_accuracy": float(rng.uniform(0.4, 0.9)),
                             "eval_loss": 0.5, "eval_runtime": 1.0, "step": g})
            hist.append({"epoch": 3.0, "step": 30, "train_runtime": 9.0, "train_loss": 0.3})
            state = {"epoch": 3.0, "global_step": 30, "max_steps": 30, "log_history": hist,
                     "best_metric": None, "trial_params": None, "num_train_epochs": 3}
            d = tmp_path / "sweep" / f"wi{wi}_do{do}"
            d.mkdir(parents=True)
            (d / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True)
                                                  + "\n")
    return tmp_path / "sweep"


def one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and lines[0].startswith("seedstats ingest: error: ")
    for w in words:
        assert w in lines[0], lines[0]


def test_ingest_writes_a_dataset_that_loads_back(tmp_path, hf_sweep):
    out = tmp_path / "ds"
    p = run_cli(hf_sweep, "--out", out, "--task", "rte", "--seeds-from", "wi{wi}_do{do}",
                cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "4 trials" in p.stdout and f"wrote {out}" in p.stdout
    ds = load(out)
    ref, _ = ingest(hf_sweep, options=IngestOptions(task="rte", seeds_from="wi{wi}_do{do}"))
    assert ds.trials["trial_id"].tolist() == ref.trials["trial_id"].tolist()
    np.testing.assert_array_equal(ds.evals["value"].to_numpy(), ref.evals["value"].to_numpy())
    np.testing.assert_array_equal(ds.trials["after"].to_numpy(), ref.trials["after"].to_numpy())


def test_missing_seed_unknown_format_bad_pattern(tmp_path, hf_sweep):
    out = tmp_path / "o"
    one_line_error(run_cli(hf_sweep, "--out", out, "--task", "rte", cwd=tmp_path),
                   "no seed for this run", "--seeds-from")
    one_line_error(run_cli(hf_sweep, "--out", out, "--format", "excel", cwd=tmp_path),
                   "--format", "excel")
    one_line_error(run_cli(hf_sweep, "--out", out, "--task", "rte", "--seeds-from", "run{x}",
                           cwd=tmp_path), "--seeds-from", "unknown field {x}")
    assert not out.exists()


def test_corrupt_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "tb" / "seed1"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.1.host").write_bytes(b"\x00" * 7 + b"definitely not a record")
    (run / "seedstats.json").write_text(json.dumps({"task": "rte"}))
    one_line_error(run_cli(tmp_path / "tb", "--out", tmp_path / "o", cwd=tmp_path),
                   "events.out.tfevents.1.host:1:", "CRC")


def test_a_short_sweep_runs_early_stopping_and_figures_all(tmp_path, capsys):
    import random

    from seedstats.cli import main

    r = random.Random(0)
    rows = ["run,step,metric,value"]
    for seed in range(1, 9):
        for k, step in enumerate(range(50, 350, 50)):          # 6 evaluations per run
            rows.append(f"seed{seed},{step},accuracy,{0.5 + 0.05 * k + r.random() * 0.05:.4f}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    ds = tmp_path / "ds"
    assert main(["ingest", str(tmp_path / "t.csv"), "--out", str(ds), "--task", "mytask",
                 "--seeds-from", "seed{seed}"]) == 0
    capsys.readouterr()
    assert main(["earlystop", "--data", str(ds), "--exact", "--max-budget", "3",
                 "--out", str(tmp_path / "es")]) == 0
    err = capsys.readouterr().err
    assert err.count("note: task 'mytask': the trials share 6 evaluation steps, so early "
                     "stopping uses those 6 points (the paper used 30)") == 1
    assert main(["earlystop", "--data", str(ds), "--exact", "--n-points", "7"]) == 2
    assert "most trials logged only 6 steps; ask for at most 6 (--n-points" in \
        capsys.readouterr().err
    rc = main(["figures", "--all", "--data", str(ds), "--out", str(tmp_path / "f"),
               "--jobs", "1"])
    out = capsys.readouterr().out
    assert rc == 0
    for name in ("fig1", "fig4", "fig5", "fig6", "fig7", "fig9", "halving", "estimators"):
        assert (tmp_path / "f" / f"{name}.png").exists(), name
    (summary,) = [x for x in out.splitlines() if "outputs are not made for this data" in x]
    # what needs a WI x DO grid (Figures 2, 3, 8, varcomp) is refused, said once each
    assert summary == ("4 of 13 outputs are not made for this data: fig2, fig3, fig8, varcomp "
                       f"(the reasons are above and in {tmp_path / 'f' / 'index.md'})")
    from seedstats.figures.registry import FIGURES
    fig1 = FIGURES["fig1"].build(seedstats.load(ds))
    labels = [t.get_text() for t in fig1.legends[0].get_texts()]
    assert labels == ["every logged evaluation", "end of training only"]

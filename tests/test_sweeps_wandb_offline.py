"""W&B offline run directories (seedstats.data.formats.wandb_offline), on runs that wandb itself
writes here (in a child process, as a training script would), read back through wandb's own
reader: what was logged without ``step=``, NaN and infinities, config updates, summary-only
keys, exit codes, run names as seeds, damaged and truncated logs.

The real training sweeps (a loop with a SIGKILLed run, the Trainer's ``WandbCallback``) are
checked value by value in ``tests/test_real_sweeps.py``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seedstats.data import ingest
from seedstats.errors import DataError, ParseError

pytest.importorskip("wandb")

WRITE = r"""
import json, math, sys, wandb
out = sys.argv[1]
# a: logged without step= (W&B numbers the calls), NaN and inf, a config update, a summary key
r = wandb.init(project="p", mode="offline", dir=out + "/a", name="plain", config={"lr": 0.1})
r.config.update({"seed": 5})
rows = [{"val_acc": 0.5, "train_loss": 0.9}, {"val_acc": float("nan"), "train_loss": 0.8},
        {"val_acc": 0.7, "train_loss": float("inf"), "host": "node1"}, {"val_acc": 0.8}]
for row in rows:
    r.log(row)
r.summary["best_val_acc"] = 0.8
r.finish()
# b: seeds only in the run's name, step= given, a non-zero exit
r = wandb.init(project="p", mode="offline", dir=out + "/b", name="wi3_do4", config={"lr": 0.1})
for s in (10, 20, 30):
    r.log({"val/acc": s / 100, "train/loss": 1 / s}, step=s)
r.finish(exit_code=2)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wandb")
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline"}
    subprocess.run([sys.executable, "-c", WRITE, str(out)], check=True, env=env, timeout=300)
    return out


def _copy(runs: Path, which: str, tmp: Path) -> Path:
    shutil.copytree(runs / which, tmp / which)
    return tmp / which


def _log(d: Path) -> Path:
    """The run's log (not the copy under W&B's latest-run link, which copytree followed)."""
    return next(f for f in d.rglob("*.wandb") if f.parent.name != "latest-run")


def test_logged_without_step_read_as_an_index_nan_and_inf_kept(runs, tmp_path):
    ds, rep = ingest(_copy(runs, "a", tmp_path), options={"task": "syn"})
    assert ds.meta["provenance"]["format"] == "wandb-offline"
    t = ds.trials.iloc[0]
    assert t["seed"] == 5 and t["complete"]  # the seed from a config update after init
    e = ds.evals[ds.evals["phase"] == "during"].sort_values("step")
    assert e["step"].tolist() == [0, 1, 2, 3]  # W&B's _step 0..3: the calls, as an index
    vals = e["value"].tolist()
    assert vals[0] == 0.5 and math.isnan(vals[1]) and vals[2:] == [0.7, 0.8]
    assert t["after"] == 0.8
    tl = ds.train_loss.sort_values("step")
    assert tl["step"].tolist() == [0, 1, 2] and tl["loss"].tolist()[:2] == [0.9, 0.8]
    assert tl["loss"].iloc[2] == np.inf
    assert any("without step=" in n and "0-based index" in n for n in rep.notes)
    keys = rep.keys.set_index("key")
    assert keys.loc["val_acc", "role"] == "validation metric"
    assert keys.loc["val_acc", "values"] == 4  # the NaN counted, not dropped
    assert keys.loc["train_loss", "role"] == "training loss"
    assert keys.loc["host", "role"] == "bookkeeping" and keys.loc["host", "values"] == 1
    assert keys.loc["best_val_acc", "reason"] == "in the run's summary only, not logged at a step"
    assert "lr" not in keys.index  # config, not a logged key


def test_step_is_overrides_the_convention(runs, tmp_path):
    ds, _ = ingest(_copy(runs, "a", tmp_path), options={"task": "syn",
                                                         "mapping": {"step_is": "count"}})
    e = ds.evals[ds.evals["phase"] != "during"]
    assert e["phase"].tolist() == ["before", "after"]  # _step 0 as a count: before training
    with pytest.raises(DataError, match=r"--map step_is: expected 'index' or 'count'"):
        ingest(_copy(runs, "a", tmp_path / "x"), options={"task": "syn",
                                                           "mapping": {"step_is": "epoch"}})


def test_seeds_from_the_run_name_and_a_failed_exit(runs, tmp_path):
    src = _copy(runs, "b", tmp_path)
    with pytest.raises(ParseError, match=r"no seed for this run"):
        ingest(src, options={"task": "syn"})
    ds, rep = ingest(src, options={"task": "syn", "seeds_from": "wi{wi}_do{do}"})
    t = ds.trials.iloc[0]
    assert (t["wi_seed"], t["do_seed"]) == (3, 4)
    assert not t["complete"] and "failed" in t["flags"]  # finish(exit_code=2)
    e = ds.evals.sort_values("step")
    assert e["step"].tolist() == [9, 19, 29] and e["value"].tolist() == [0.1, 0.2, 0.3]
    assert any("step=N" in n and "count of updates" in n for n in rep.notes)


def test_map_step_names_a_logged_key(runs, tmp_path):
    with pytest.raises(ParseError, match=r"--map step=epoch: 4 history row\(s\) hold values "
                                         r"but no 'epoch'"):
        ingest(_copy(runs, "a", tmp_path), options={"task": "syn", "mapping": {"step": "epoch"}})


def test_a_damaged_log_is_one_line_or_set_aside(runs, tmp_path):
    src = _copy(runs, "a", tmp_path)
    f = _log(src)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(ParseError, match=r"damaged: wandb's reader skipped records .*checksum"
                                         r".*what followed the damage is lost") as exc:
        ingest(src, options={"task": "syn"})
    assert "\n" not in str(exc.value) and str(f.resolve()) in str(exc.value)
    with pytest.raises(DataError, match=r"no trials found in format 'wandb-offline' \(1 files "
                                        r"skipped\)"):
        ingest(src, options={"task": "syn", "skip_bad": True})  # its only run set aside


def test_a_run_killed_before_its_first_block_and_a_cut_log(runs, tmp_path):
    src = _copy(runs, "b", tmp_path)
    good = _copy(runs, "a", tmp_path / "more")
    f = _log(src)
    whole = f.read_bytes()
    f.write_bytes(whole[:7])  # what a SIGKILL leaves before W&B's first 32 KiB block
    with pytest.raises(ParseError, match=r"expected a W&B run record; wandb's reader found 0 "
                                         r"record\(s\)"):
        ingest(src, options={"task": "syn", "seeds_from": "wi{wi}_do{do}"})
    both = tmp_path / "both"
    shutil.copytree(src, both / "b")
    shutil.copytree(good, both / "a")
    ds, rep = ingest(both, options={"task": "syn", "skip_bad": True})
    assert len(ds.trials) == 1 and len(rep.skipped) == 1
    # cut inside a record: read up to there, incomplete, said
    f.write_bytes(whole[: int(len(whole) * 0.8)])
    ds, rep = ingest(src, options={"task": "syn", "seeds_from": "wi{wi}_do{do}"})
    assert not ds.trials.iloc[0]["complete"]
    assert any("end inside a record" in n for n in rep.notes)


def test_a_damaged_log_from_the_command_line(runs, tmp_path, capsys):
    from seedstats.cli import main

    src = _copy(runs, "a", tmp_path)
    _log(src).write_bytes(b"garbage")
    assert main(["ingest", str(src), "--task", "syn", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wandb's reader could not read it" in err[0], err


def test_the_extra_declares_the_reader_version():
    import tomllib

    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = meta["project"]["optional-dependencies"]
    assert extras["wandb"] == ["wandb>=0.31"] and "wandb>=0.31" in extras["dev"]
    from seedstats.data.formats import wandb_offline

    assert wandb_offline.MIN_WANDB == (0, 31)
    json.dumps(extras)  # the extras stay plain data


def test_a_step_key_that_is_not_an_integer(runs, tmp_path):
    with pytest.raises(ParseError, match=r"history row 0 \(_step 0\): expected an integer "
                                         r"'val_acc', got 0\.5"):
        ingest(_copy(runs, "a", tmp_path), options={"task": "syn",
                                                     "mapping": {"step": "val_acc"}})


def test_one_run_log_and_a_run_directory_without_its_log(runs, tmp_path):
    src = _copy(runs, "a", tmp_path)
    ds, rep = ingest(_log(src), options={"task": "syn"})  # one file: its siblings are not news
    assert len(ds.trials) == 1 and not any("not read" in n for n in rep.notes)
    lost = _log(src).parent.with_name("offline-run-20261205_120000-abc123")
    lost.mkdir()
    ds, rep = ingest(src, options={"task": "syn"})
    assert any("not read: 1 W&B run director(ies) without a .wandb run log "
               "('offline-run-20261205_120000-abc123')" in n for n in rep.notes)

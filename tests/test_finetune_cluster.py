"""seedstats.finetune across processes: a real SIGKILL, local worker processes, Ray.

Slow (each process imports torch and transformers): marked ``slow``. Skipped without
the finetune extra; the Ray test also without Ray (``seedstats[cluster]``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from seedstats.data.ingest import ingest  # noqa: E402
from seedstats.finetune.grid import log_status, run_grid  # noqa: E402
from seedstats.finetune.train import TrialSpec  # noqa: E402

pytestmark = pytest.mark.slow

SMALL = dict(data="synthetic", model="random-tiny", max_train=40, max_val=24)


def test_killed_process_leaves_an_incomplete_trial(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal
        from seedstats.finetune.train import TrialSpec, run_trial
        def kill(step):
            if step == 4:
                os.kill(os.getpid(), signal.SIGKILL)
        run_trial(TrialSpec(None, 1, 1, out={str(tmp_path)!r}, threads=1, **{SMALL!r}),
                  on_step=kill)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == -9, out.stderr
    log = tmp_path / "synthetic_wi1_do1.jsonl"
    assert log_status(log) == "incomplete"
    ds, rep = ingest(log, format="jsonl")
    row = ds.trials.iloc[0]
    assert not row["complete"] and "incomplete" in row["flags"]
    assert row["n_evals"] == 4  # steps 0-3 were evaluated before the kill at step 4
    assert rep.per_task.loc["synthetic", "incomplete"] == 1


def _check_grid(summary, out, n):
    assert summary["status"].tolist() == ["ok"] * n
    ds, _ = ingest(out, format="jsonl")
    assert len(ds.trials) == n and ds.trials["complete"].all()
    return ds


def test_local_worker_processes_match_the_sequential_run(tmp_path):
    seq = run_grid(TrialSpec(None, 0, 0, out=tmp_path / "seq", threads=1, **SMALL), "1-2", "1")
    par = run_grid(TrialSpec(None, 0, 0, out=tmp_path / "par", **SMALL), "1-2", "1",
                   workers=2)
    _check_grid(seq, tmp_path / "seq", 2)
    _check_grid(par, tmp_path / "par", 2)
    for name in ("synthetic_wi1_do1.jsonl", "synthetic_wi2_do1.jsonl"):
        assert (tmp_path / "seq" / name).read_bytes() == (tmp_path / "par" / name).read_bytes()


def test_ray_launcher_runs_a_2x2_grid(tmp_path):
    ray = pytest.importorskip("ray")
    lines = []
    summary = run_grid(TrialSpec(None, 0, 0, out=tmp_path, **SMALL), "1-2", "1-2",
                       launcher="ray", workers=2, echo=lines.append)
    ds = _check_grid(summary, tmp_path, 4)
    assert sorted(ds.trials["trial_id"]) == [f"synthetic-wi{w}-do{d}" for w in (1, 2)
                                             for d in (1, 2)]
    assert not ray.is_initialized()  # the Ray instance it started is shut down
    assert lines[0].startswith("grid synthetic: 4 trials, 0 already complete, 4 to run (ray")
    # resume: nothing left to run
    again = run_grid(TrialSpec(None, 0, 0, out=tmp_path, **SMALL), "1-2", "1-2",
                     launcher="ray", workers=2)
    assert again["status"].tolist() == ["skipped"] * 4


def test_a_second_grid_on_the_same_out_refuses_in_one_line(tmp_path):
    import fcntl
    import os

    from seedstats.errors import DataError

    tmp_path.mkdir(exist_ok=True)
    with open(tmp_path / ".grid.lock", "a+") as fh:       # the first grid, still running
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(str(os.getpid()))
        fh.flush()
        with pytest.raises(DataError) as err:
            run_grid(TrialSpec(None, 0, 0, out=tmp_path, **SMALL), "1", "1")
    msg = str(err.value)
    assert msg == (f"--out {tmp_path}: another `seedstats finetune grid` is running on it "
                   f"(pid {os.getpid()}); wait for it to finish or choose another --out")
    assert not list(tmp_path.glob("*.jsonl"))                 # it ran nothing
    # once the first has finished, the grid runs (and takes the lock itself)
    summary = run_grid(TrialSpec(None, 0, 0, out=tmp_path, **SMALL), "1", "1")
    assert summary["status"].tolist() == ["ok"]

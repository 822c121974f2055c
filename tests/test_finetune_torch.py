"""seedstats.finetune with torch: trials of a tiny random BERT on the synthetic task.

Skipped without the finetune extra (torch, transformers). Every trial runs on one CPU
thread on a few dozen examples (well under a second each).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest  # noqa: E402
from seedstats.finetune import grid as ftgrid  # noqa: E402
from seedstats.finetune import train as fttrain  # noqa: E402
from seedstats.finetune.model import head_weights, init_head, load_model  # noqa: E402
from seedstats.finetune.recipes import eval_steps, get_recipe  # noqa: E402
from seedstats.finetune.train import TrialSpec, run_trial  # noqa: E402

# 40 training examples: 3 steps per epoch (16, 16, 8), 9 steps, 3 evaluations per epoch
SMALL = dict(data="synthetic", model="random-tiny", max_train=40, max_val=24, threads=1)
N_STEPS = 9
DURING = eval_steps(3, 3, 10, "synthetic")  # [0, 1, 2, ..., 8]: every step


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def spec(out, wi=1, do=1, **kw):
    return TrialSpec(None, wi, do, out=out, **{**SMALL, **kw})


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    """Four trials: (1, 1) twice (under different global seeds), (1, 2) and (2, 1)."""
    base = tmp_path_factory.mktemp("trials")
    out = {}
    np.random.seed(1)
    torch.manual_seed(1)
    state = torch.get_rng_state()
    out["a"] = run_trial(spec(base / "a", 1, 1, formats=("jsonl", "rawlog")))
    out["rng_unchanged"] = torch.equal(state, torch.get_rng_state())
    np.random.seed(2)
    torch.manual_seed(2)
    out["a2"] = run_trial(spec(base / "a2", 1, 1))
    out["do2"] = run_trial(spec(base / "do2", 1, 2))
    out["wi2"] = run_trial(spec(base / "wi2", 2, 1))
    return out


def _before(res):
    return [e for e in res.evals if e["phase"] == "before"][0]["metrics"]


def test_same_seeds_give_identical_logs(trials):
    a, a2 = trials["a"], trials["a2"]
    assert a.path.read_bytes() == a2.path.read_bytes()  # nothing in the log is timing
    assert np.array_equal(a.train_loss, a2.train_loss)
    assert trials["rng_unchanged"]  # the caller's global torch generator is untouched


def test_changing_do_leaves_the_head_init_unchanged_and_reorders_data(trials):
    a, do2 = trials["a"], trials["do2"]
    # the untrained model's evaluation depends on WI only (the paper's consistency check)
    assert _before(a) == _before(do2)
    assert not all(np.array_equal(x, y) for x, y in zip(a.batches, do2.batches))
    assert not np.array_equal(a.train_loss, do2.train_loss)


def test_changing_wi_leaves_the_data_order_unchanged(trials):
    a, wi2 = trials["a"], trials["wi2"]
    assert len(a.batches) == len(wi2.batches) == N_STEPS
    assert all(np.array_equal(x, y) for x, y in zip(a.batches, wi2.batches))
    assert _before(a)["loss"] != _before(wi2)["loss"]


def test_head_init_is_the_wi_seeds_numpy_draw_on_any_body():
    m1, _ = load_model("random-tiny", body_seed=0)
    m2, _ = load_model("random-tiny", body_seed=1)  # another "pretrained" body
    init_head(m1, 12)
    init_head(m2, 12)
    w1, w2 = head_weights(m1), head_weights(m2)
    ref = np.random.default_rng(12).normal(0.0, 0.02, (2, 32)).astype(np.float32)
    assert np.array_equal(w1[0], ref) and np.array_equal(w2[0], ref)
    assert not w1[1].any()  # zero bias
    assert not np.array_equal(m1.bert.embeddings.word_embeddings.weight.detach(),
                              m2.bert.embeddings.word_embeddings.weight.detach())
    init_head(m1, 13)
    assert not np.array_equal(head_weights(m1)[0], ref)
    with pytest.raises(ValueError, match="wi_seed: expected an int >= 0, got -3"):
        init_head(m1, -3)


def test_dropout_seed_follows_the_chosen_seed(tmp_path, trials):
    # default "do": the trial (wi=1, do=1) equals one whose dropout seed is fixed to 1
    fixed = run_trial(spec(tmp_path / "f", 1, 1, dropout_seed=1))
    assert np.array_equal(fixed.train_loss, trials["a"].train_loss)
    other = run_trial(spec(tmp_path / "g", 1, 1, dropout_seed=7))
    assert not np.array_equal(other.train_loss, trials["a"].train_loss)  # dropout matters
    assert [x.tolist() for x in other.batches] == [x.tolist() for x in trials["a"].batches]


def test_log_ingests_as_one_complete_trial_with_every_evaluation(trials):
    res = trials["a"]
    ds, rep = ingest(res.path.parent, format="auto")
    t = ds.trials
    assert len(t) == 1
    row = t.iloc[0]
    assert (row["task"], row["wi_seed"], row["do_seed"], row["trial_id"]) == (
        "synthetic", 1, 1, "synthetic-wi1-do1")
    assert bool(row["complete"]) and row["flags"] == ""
    assert (row["n_evals"], row["n_steps"], row["metric"]) == (len(DURING), N_STEPS, "acc")
    ev = ds.evals
    assert len(ev) == 2 * (len(DURING) + 2)  # loss and acc; before, during, after
    during = ev[(ev["metric"] == "acc") & (ev["phase"] == "during")]
    assert during["step"].tolist() == DURING
    assert during["epoch"].tolist() == pytest.approx([(s + 1) / 3 for s in DURING])
    after = ev[(ev["metric"] == "acc") & (ev["phase"] == "after")]
    assert after["step"].tolist() == [N_STEPS - 1] and after["epoch"].tolist() == [3.0]
    logged = {e["phase"]: e["metrics"]["acc"] for e in res.evals if e["phase"] != "during"}
    assert (row["before"], row["after"]) == (logged["before"], logged["after"])
    assert ds.train_loss["loss"].to_numpy().tolist() == res.train_loss.tolist()
    assert rep.per_task.loc["synthetic", "trials"] == 1


def test_rawlog_layout_ingests_to_the_same_values(trials):
    rawlog = pytest.importorskip("seedstats.data.formats.rawlog")
    res = trials["a"]
    text = res.rawlog.read_text()
    assert "np.float64" not in text and text.startswith("=" * 40 + "\nfinal results\n")
    ds_raw, _ = ingest(res.rawlog.parent, format="rawlog",
                       options=IngestOptions(metric="acc", baseline=0.5))
    ds_js, _ = ingest(res.path, format="jsonl")
    assert rawlog is not None and len(ds_raw.trials) == 1
    r, j = ds_raw.evals, ds_js.evals
    for metric in ("loss", "acc"):
        for phase in ("before", "during", "after"):
            a = r[(r["metric"] == metric) & (r["phase"] == phase)]["value"].tolist()
            b = j[(j["metric"] == metric) & (j["phase"] == phase)]["value"].tolist()
            assert a == b, (metric, phase)
    assert ds_raw.train_loss["loss"].tolist() == ds_js.train_loss["loss"].tolist()


def test_evaluation_matches_an_independent_forward_pass(trials):
    # the before evaluation (sorted, padded batches) against one unpadded pass per example
    from seedstats.finetune.data import encode, synthetic_task

    model, tok = load_model("random-tiny")
    init_head(model, 1)
    model.eval()
    td = synthetic_task()
    enc = encode(td.dev.head(24), tok, 128)
    losses, correct = [], []
    with torch.no_grad():
        for ids, types, y in zip(enc.input_ids, enc.token_type_ids, enc.labels):
            out = model(input_ids=torch.tensor(ids)[None], token_type_ids=torch.tensor(types)[None],
                        labels=torch.tensor([y]))
            losses.append(out.loss.item())
            correct.append(int(out.logits.argmax(-1).item() == y))
    got = _before(trials["a"])
    assert got["loss"] == pytest.approx(np.mean(losses), rel=1e-5)
    assert got["acc"] == pytest.approx(np.mean(correct), abs=1e-12)


def test_interrupted_run_leaves_an_incomplete_trial(tmp_path):
    # Ctrl-C (or any BaseException) at step 4: no end record, as after a kill (a real
    # SIGKILL is tested in test_finetune_cluster.py)
    def interrupt(step):
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_trial(spec(tmp_path, 1, 1), on_step=interrupt)
    log = tmp_path / "synthetic_wi1_do1.jsonl"
    assert ftgrid.log_status(log) == "incomplete"
    assert json.loads(log.read_text().splitlines()[-1])["event"] == "eval"
    ds, rep = ingest(log, format="jsonl")
    row = ds.trials.iloc[0]
    assert not row["complete"] and "incomplete" in row["flags"]
    assert row["n_evals"] == 4  # steps 0-3 were evaluated before the interrupt at step 4
    assert len(ds.train_loss) == 4
    assert rep.per_task.loc["synthetic", "incomplete"] == 1


def test_failing_run_records_an_error_end(tmp_path):
    def boom(step):
        if step == 5:
            raise RuntimeError("out of memory (simulated)")

    with pytest.raises(RuntimeError, match="simulated"):
        run_trial(spec(tmp_path, 3, 3), on_step=boom)
    log = tmp_path / "synthetic_wi3_do3.jsonl"
    assert ftgrid.log_status(log) == "error"
    last = json.loads(log.read_text().splitlines()[-1])
    assert last == {"event": "end", "status": "error", "n_steps": 6}
    row = ingest(log, format="jsonl")[0].trials.iloc[0]
    assert not row["complete"] and "status_error" in row["flags"]
    assert row["n_evals"] == 5  # on_step runs before the evaluation of its step


def test_grid_resumes_and_records_failures(tmp_path, monkeypatch):
    base = spec(tmp_path, 0, 0)
    lines = []
    s1 = ftgrid.run_grid(base, "1-2", "1", echo=lines.append)
    assert s1["status"].tolist() == ["ok", "ok"]
    assert s1["trial_id"].tolist() == ["synthetic-wi1-do1", "synthetic-wi2-do1"]
    p1, p2 = (tmp_path / "synthetic_wi1_do1.jsonl", tmp_path / "synthetic_wi2_do1.jsonl")
    first = p2.read_bytes()
    mtime1 = p1.stat().st_mtime_ns
    # kill-like truncation of trial 2 (no end record), a new trial (wi=3) fails
    p2.write_bytes(b"".join(first.splitlines(keepends=True)[:-5]))
    real = fttrain.run_trial

    def flaky(s, **kw):
        if s.wi_seed == 3:
            return real(s, on_step=lambda step: 1 / 0 if step == 2 else None)
        return real(s, **kw)

    monkeypatch.setattr(fttrain, "run_trial", flaky)
    s2 = ftgrid.run_grid(base, "1-3", "1", echo=lines.append)
    assert s2["status"].tolist() == ["skipped", "ok", "error"]
    assert s2.loc[2, "error"] == "ZeroDivisionError: division by zero"
    assert p1.stat().st_mtime_ns == mtime1  # the complete trial was not rerun
    assert p2.read_bytes() == first  # rerun from scratch, identical
    summary = json.loads((tmp_path / ftgrid.SUMMARY_FILE).read_text())
    assert summary["counts"] == {"skipped": 1, "ok": 1, "error": 1}
    assert "ZeroDivisionError" in summary["trials"][2]["traceback"]
    assert any("failed synthetic-wi3-do1: ZeroDivisionError" in ln for ln in lines)
    # the failed trial is rerun on the next resume
    monkeypatch.setattr(fttrain, "run_trial", real)
    s3 = ftgrid.run_grid(base, "1-3", "1")
    assert s3["status"].tolist() == ["skipped", "skipped", "ok"]
    assert len(ingest(tmp_path, format="jsonl")[0].trials) == 3


def test_grid_refuses_completed_logs_made_with_other_settings(tmp_path):
    from seedstats.errors import DataError

    ftgrid.run_grid(spec(tmp_path, 0, 0), "1", "1")
    other = spec(tmp_path, 0, 0, recipe=get_recipe("paper", lr=1e-3))
    with pytest.raises(DataError, match="made with other settings"):
        ftgrid.run_grid(other, "1", "1")


def test_synthetic_task_is_learned(tmp_path):
    s = TrialSpec(None, 1, 1, out=tmp_path, data="synthetic", threads=1, max_val=48,
                  recipe=get_recipe("paper", lr=3e-3, evals_per_epoch=1))
    res = run_trial(s)
    accs = [e["metrics"]["acc"] for e in res.evals]
    assert accs[0] < 0.7 and accs[-1] >= 0.9


def test_glue_files_and_a_local_pretrained_model(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    rows = ["index\tsentence1\tsentence2\tlabel"]
    rng = np.random.default_rng(0)
    for i in range(24):
        lab = ["entailment", "not_entailment"][int(rng.integers(2))]
        rows.append(f"{i}\tthe cat sat on mat {i}\tthe cat sat\t{lab}")
    (tmp_path / "RTE").mkdir()
    for f in ("train.tsv", "dev.tsv"):
        (tmp_path / "RTE" / f).write_text("\n".join(rows) + "\n")
    mdir = tmp_path / "model"
    mdir.mkdir()
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat"]
    (mdir / "vocab.txt").write_text("\n".join(words) + "\n")
    BertTokenizer(vocab_file=str(mdir / "vocab.txt")).save_pretrained(mdir)
    cfg = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=32, num_labels=2,
                     hidden_dropout_prob=0.3)
    BertForSequenceClassification(cfg).save_pretrained(mdir)
    s = TrialSpec("rte", 4, 5, out=tmp_path / "runs", model=str(mdir), glue_dir=tmp_path,
                  threads=1, recipe=get_recipe("paper", dropout=0.05))
    res = run_trial(s)
    head = json.loads(res.path.read_text().splitlines()[0])
    assert (head["task"], head["metric"], head["baseline"]) == ("rte", "acc", 0.53)
    assert head["steps_per_epoch"] == 2 and head["n_steps"] == 6
    assert head["config"]["model"] == str(mdir) and head["config"]["recipe"]["dropout"] == 0.05
    model, _ = load_model(str(mdir), dropout=0.05)
    assert model.config.hidden_dropout_prob == 0.05  # the recipe's dropout, not the config's
    ds, _ = ingest(res.path, format="jsonl")
    row = ds.trials.iloc[0]
    # steps per epoch come from the header (2 here), not from Table 2 (156 for RTE)
    assert bool(row["complete"]) and ds.evals["epoch"].max() == 3.0


def test_unknown_model_is_a_one_line_error(tmp_path):
    from seedstats.errors import SeedstatsError

    with pytest.raises(SeedstatsError, match="--model '.*nope': cannot load it"):
        load_model(str(tmp_path / "nope"))


# --- optimizer ----------------------------------------------------------------------------


def _reference_adamw(params, grads_per_step, recipe, n_steps):
    """Plain reimplementation: BERT's AdamW (no bias correction) or Adam with it."""
    b1, b2 = recipe.adam_betas
    p = [x.detach().clone().double() for x in params]
    m = [torch.zeros_like(x) for x in p]
    v = [torch.zeros_like(x) for x in p]
    w = int(recipe.warmup * n_steps)
    for t, grads in enumerate(grads_per_step, start=1):
        step = t - 1
        lr = recipe.lr * (step / max(1, w) if step < w else (n_steps - step) / (n_steps - w))
        for i, g in enumerate(grads):
            g = g.double()
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            if recipe.correct_bias:
                upd = (m[i] / (1 - b1 ** t)) / ((v[i] / (1 - b2 ** t)).sqrt() + recipe.adam_eps)
            else:
                upd = m[i] / (v[i].sqrt() + recipe.adam_eps)
            wd = recipe.weight_decay if i == 0 else 0.0  # param 0 decays, param 1 is a bias
            p[i] = p[i] - lr * upd - lr * wd * p[i]
    return p


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("correct_bias", [False, True])
def test_scheduled_adamw_matches_a_plain_reimplementation(correct_bias, fused):
    # fused=True is the GPU default; torch's CPU build has the same fused kernel
    from seedstats.finetune.optim import ScheduledAdamW

    lin = torch.nn.Linear(4, 3).double()
    recipe = get_recipe("paper", lr=1e-2, weight_decay=0.1, warmup=0.3, adam_eps=1e-6,
                        correct_bias=correct_bias)
    params = [lin.weight, lin.bias]
    n = 6
    gen = torch.Generator().manual_seed(0)
    grads = [[torch.randn(x.shape, generator=gen, dtype=torch.float64) for x in params]
             for _ in range(n)]
    ref = _reference_adamw(params, grads, recipe, n)
    opt = ScheduledAdamW(lin, recipe, n, fused=fused)
    assert opt.fused is fused
    for step in range(n):
        for x, g in zip(params, grads[step]):
            x.grad = g.clone()
        opt.step(step)
    for got, want in zip(params, ref):
        assert torch.allclose(got.detach(), want, rtol=1e-10, atol=1e-13)


def test_lr_schedule_matches_transformers():
    from transformers import get_linear_schedule_with_warmup

    from seedstats.finetune.recipes import lr_factor

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=7, num_training_steps=70)
    for step in range(70):
        assert lr_factor(step, 70, 0.1) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        sched.step()


# --- command line -------------------------------------------------------------------------


def test_cli_run_writes_logs_and_rejects_bad_options(tmp_path, capsys):
    from seedstats.cli import main

    args = ["finetune", "run", "--model", "random-tiny", "--data", "synthetic", "--wi", "2",
            "--do", "3", "--max-train", "40", "--max-val", "24", "--threads", "1",
            "--out", str(tmp_path), "--format", "rawlog", "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'synthetic_wi2_do3.jsonl'}" in out
    assert (tmp_path / "rawlog" / "synthetic_wi2_do3.txt").exists()
    bad = [(["--lr", "0"], "lr: expected a number > 0, got 0.0"),
           (["--data", "glue"], "--task: expected one of mrpc, rte, cola, sst"),
           (["--data", "glue", "--task", "rte"], "--glue-dir: expected the GLUE data folder"),
           (["--task", "rte"], "--task: the synthetic data is logged as task 'synthetic'")]
    for extra, msg in bad:
        assert main(args + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
    assert main(["finetune", "grid", "--model", "random-tiny", "--data", "synthetic",
                 "--wi", "3-1", "--do", "1", "--out", str(tmp_path)]) == 2
    assert "--wi: expected a range low-high" in capsys.readouterr().err


def test_spec_validation():
    with pytest.raises(ValueError, match="wi_seed: expected an int >= 0, got -1"):
        TrialSpec(None, -1, 1, data="synthetic")
    with pytest.raises(ValueError, match="dropout_seed: expected 'do', 'wi' or an int"):
        TrialSpec(None, 1, 1, data="synthetic", dropout_seed="data")
    with pytest.raises(ValueError, match="formats: expected"):
        TrialSpec(None, 1, 1, data="synthetic", formats=("csv",))
    s = TrialSpec(None, 1, 2, data="synthetic", dropout_seed="wi")
    assert (s.dropout_seed_value, s.task_name) == (1, "synthetic")
    assert dataclasses.replace(s, dropout_seed=9).dropout_seed_value == 9
    assert math.isclose(s.recipe.lr, 2e-5)


# --- the GPU code paths, exercised on the CPU -----------------------------------------------
# bf16 autocast, fused AdamW and padding to a multiple of 8 are the defaults on CUDA; torch's
# CPU build runs the same code, so the paths are tested here although CI has no GPU.


def _random_encoded(n, vocab, seed=0):
    from seedstats.finetune.data import Encoded

    rng = np.random.default_rng(seed)
    lens = rng.integers(5, 30, n)
    ids = [np.concatenate([[2], rng.integers(4, vocab, k - 2), [3]]).astype(np.int64)
           for k in lens]
    return Encoded(ids, [np.zeros(k, dtype=np.int64) for k in lens],
                   rng.integers(0, 2, n).astype(np.int64), lens.astype(np.int64))


def _one_step(bf16, fused, pad_multiple):
    from seedstats.finetune.data import epoch_batches
    from seedstats.finetune.train import Trainer

    model, tok = load_model("random-tiny", dropout=0.0)
    init_head(model, 1)
    enc = _random_encoded(48, tok.vocab_size)
    trainer = Trainer(model, get_recipe("paper"), 3, torch.device("cpu"), bf16=bf16,
                      fused=fused, pad_multiple=pad_multiple)
    assert trainer.opt.fused is fused
    before = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    loss = float(trainer.train_step(0, enc, epoch_batches(1, 0, len(enc), 16)[0]))
    ev = trainer.evaluate(trainer.prepare_eval(enc, 256), ["loss", "acc"])
    # the update of the one step (parameters after minus before)
    return loss, ev, torch.nn.utils.parameters_to_vector(model.parameters()).detach() - before


def test_gpu_defaults_bf16_fused_padded_agree_with_fp32():
    loss32, ev32, p32 = _one_step(bf16=False, fused=False, pad_multiple=1)
    loss16, ev16, p16 = _one_step(bf16=True, fused=True, pad_multiple=8)
    # autocast is really on (bf16 rounding changes the loss) but stays close to fp32
    assert loss16 != loss32
    assert loss16 == pytest.approx(loss32, rel=2e-3)
    assert ev16["loss"] == pytest.approx(ev32["loss"], rel=2e-3)
    assert 0.0 <= ev16["acc"] <= 1.0
    # the update itself is in float32 (autocast covers the forward pass only) and is the
    # fp32 one up to bf16 rounding. One AdamW step moves a weight by about 3 * lr = 6e-5
    # whatever the gradient, so compare whole update vectors (measured: 0.9% apart), not a
    # max-abs difference, which any update of that size would pass.
    assert p16.dtype == torch.float32
    assert 0 < (p16 - p32).norm() < 0.05 * p32.norm()


def test_padding_to_a_multiple_of_8_changes_nothing_in_fp32():
    # padded positions are masked: extra padding leaves the loss and the update unchanged
    loss1, ev1, p1 = _one_step(bf16=False, fused=False, pad_multiple=1)
    loss8, ev8, p8 = _one_step(bf16=False, fused=False, pad_multiple=8)
    assert loss8 == pytest.approx(loss1, rel=1e-5)
    assert ev8["loss"] == pytest.approx(ev1["loss"], rel=1e-5)
    assert torch.allclose(p8, p1, atol=1e-6)


def test_gpu_benchmark_script_runs_and_its_grid_estimate_adds_up(tmp_path, monkeypatch):
    import importlib
    from pathlib import Path

    from seedstats.data.schema import TASKS

    # importable by name: its worker processes are spawned and import it again
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    bench = importlib.import_module("bench_finetune_gpu")
    out = tmp_path / "bench.json"
    assert bench.main(["--device", "cpu", "--tasks", "rte", "--steps", "1", "--repeats", "1",
                       "--procs", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    rte = res["single"]["tasks"]["rte"]
    n_evals = len(TASKS["rte"].schedule) + 2
    assert rte["opt_trial_s"] == pytest.approx(
        TASKS["rte"].n_steps * rte["opt_step_s"] + n_evals * rte["opt_eval_s"])
    assert rte["opt_train_sps"] == pytest.approx(16 / rte["opt_step_s"])
    assert res["multi"]["1"]["rte"] > 0
    # one process: the grid is 625 RTE trials at the single-process trial time
    assert res["grid_seconds"]["1"] == pytest.approx(625 * rte["opt_trial_s"])

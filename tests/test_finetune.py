"""seedstats.finetune without torch: metrics, recipes, schedules, GLUE reader, data order,
grid bookkeeping, and the CLI's message when the extra is missing."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import scipy.stats

from seedstats.data.schema import TASKS
from seedstats.errors import DataError, ParseError
from seedstats.finetune import data as ftdata
from seedstats.finetune import metrics as ftm
from seedstats.finetune.grid import log_status, parse_seeds
from seedstats.finetune.recipes import RECIPES, eval_steps, get_recipe, lr_factor

# --- metrics ------------------------------------------------------------------------------

# tp = 3, fp = 2, fn = 1, tn = 2
Y_TRUE = [1, 1, 1, 0, 0, 0, 1, 0]
Y_PRED = [1, 0, 1, 0, 1, 0, 1, 1]


def test_metrics_match_hand_computation():
    assert ftm.confusion(Y_TRUE, Y_PRED) == (3, 2, 1, 2)
    assert ftm.accuracy(Y_TRUE, Y_PRED) == float(Fraction(5, 8))
    assert ftm.f1(Y_TRUE, Y_PRED) == pytest.approx(float(Fraction(6, 9)), abs=1e-15)
    # (tp tn - fp fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = 4 / sqrt(5 * 4 * 4 * 3)
    assert ftm.mcc(Y_TRUE, Y_PRED) == pytest.approx(4 / math.sqrt(240), abs=1e-15)
    expect = (Fraction(5, 8) + Fraction(2, 3)) / 2
    assert ftm.acc_and_f1(Y_TRUE, Y_PRED) == pytest.approx(float(expect), abs=1e-15)
    assert ftm.compute_metrics(["loss", "acc", "f1", "acc_and_f1"], Y_TRUE, Y_PRED) == {
        "acc": 0.625, "f1": ftm.f1(Y_TRUE, Y_PRED), "acc_and_f1": ftm.acc_and_f1(Y_TRUE, Y_PRED)}


def test_metrics_match_independent_formulas_on_random_labels():
    rng = np.random.default_rng(5)
    for _ in range(20):
        t = rng.integers(0, 2, 50)
        p = rng.integers(0, 2, 50)
        # MCC of binary labels is Pearson's phi coefficient
        assert ftm.mcc(t, p) == pytest.approx(scipy.stats.pearsonr(t, p)[0], abs=1e-12)
        prec = np.sum((p == 1) & (t == 1)) / np.sum(p == 1)
        rec = np.sum((p == 1) & (t == 1)) / np.sum(t == 1)
        assert ftm.f1(t, p) == pytest.approx(2 * prec * rec / (prec + rec), abs=1e-12)
        assert ftm.accuracy(t, p) == pytest.approx(np.sum(t == p) / 50, abs=1e-15)


def test_metrics_degenerate_cases():
    # a constant prediction scores MCC 0 (the CoLA majority baseline of Table 2)
    assert ftm.mcc([1, 0, 1, 1], [1, 1, 1, 1]) == 0.0
    assert ftm.mcc([0, 0], [0, 0]) == 0.0
    assert ftm.f1([0, 0, 0], [0, 0, 0]) == 0.0
    assert ftm.mcc([1, 0], [0, 1]) == -1.0


@pytest.mark.parametrize("args, exc, words", [
    (([1, 0], [1]), ValueError, "y_true, y_pred"),
    (([], []), ValueError, "y_true"),
    (([1.0, 0.0], [1, 0]), TypeError, "y_true"),
    (([[1, 0]], [[1, 0]]), ValueError, "1-D"),
])
def test_metrics_reject_bad_input(args, exc, words):
    with pytest.raises(exc, match=words):
        ftm.accuracy(*args)


def test_compute_metrics_rejects_unknown_metric():
    with pytest.raises(ValueError, match="metric: expected one of"):
        ftm.compute_metrics(["bleu"], [1], [1])


# --- recipes ------------------------------------------------------------------------------


def test_paper_recipe_is_the_papers_regime():
    r = RECIPES["paper"]
    assert (r.batch_size, r.lr, r.epochs, r.dropout, r.max_length) == (16, 2e-5, 3, 0.1, 128)
    assert (r.head_std, r.evals_per_epoch, r.correct_bias) == (0.02, 10, False)
    assert (r.weight_decay, r.adam_eps, r.adam_betas, r.max_grad_norm) == (
        0.01, 1e-6, (0.9, 0.999), 1.0)


def test_stable_recipe_is_the_follow_up_studys():
    r = RECIPES["stable"]
    assert (r.correct_bias, r.warmup, r.epochs, r.evals_per_epoch, r.lr) == (
        True, 0.1, 20, 3, 2e-5)
    assert (r.batch_size, r.weight_decay, r.adam_eps, r.max_grad_norm) == (16, 0.01, 1e-6, 1.0)


def test_get_recipe_overrides_and_validation():
    r = get_recipe("paper", lr=1e-5, epochs=None)
    assert (r.lr, r.epochs, r.name) == (1e-5, 3, "paper")
    with pytest.raises(ValueError, match="recipe: expected one of paper, stable, got 'fast'"):
        get_recipe("fast")
    with pytest.raises(TypeError, match="unknown setting.*learning_rate"):
        get_recipe("paper", learning_rate=1e-5)
    with pytest.raises(ValueError, match="lr: expected a number > 0, got 0"):
        get_recipe("paper", lr=0.0)
    with pytest.raises(ValueError, match="dropout: expected a probability"):
        get_recipe("paper", dropout=1.0)
    with pytest.raises(TypeError, match="epochs: expected an int, got float"):
        get_recipe("paper", epochs=3.0)
    with pytest.raises(ValueError, match="warmup: expected a fraction"):
        get_recipe("paper", warmup=2.0)


def test_lr_factor_is_linear_warmup_then_linear_decay():
    # n = 10 steps, 20% warmup: w = 2; step/w before, (n - step)/(n - w) after
    got = [lr_factor(s, 10, 0.2) for s in range(10)]
    assert got == [0, 0.5] + [(10 - s) / 8 for s in range(2, 10)]
    assert [lr_factor(s, 5, 0.0) for s in range(5)] == [1.0, 0.8, 0.6, 0.4, 0.2]


@pytest.mark.parametrize("task", list(TASKS))
def test_paper_schedule_is_the_released_one_and_holds_the_early_stopping_steps(task):
    info = TASKS[task]
    steps = eval_steps(info.steps_per_epoch, 3, 10, task)
    assert steps == list(info.schedule)
    assert set(info.es_steps) <= set(steps)  # Section 5 finds its 30 points
    # another regime, or schedule="uniform": evenly spaced within each epoch
    uni = eval_steps(info.steps_per_epoch, 3, 10, task, schedule="uniform")
    spe = info.steps_per_epoch
    assert uni == [e * spe + (k * spe) // 10 for e in range(3) for k in range(10)]


def test_uniform_schedule_matches_the_stable_recipe_of_the_follow_up_study():
    # Mosbach et al.'s RTE config: 156 steps per epoch, "eval_logging_steps: 52" (3 per epoch)
    steps = eval_steps(156, 20, 3, "rte", schedule="uniform")
    assert steps == list(range(0, 156 * 20, 52))
    # more evaluations than steps: one per step
    assert eval_steps(3, 2, 10, schedule="uniform") == [0, 1, 2, 3, 4, 5]


# --- data ---------------------------------------------------------------------------------

GLUE_FILES = {
    "MRPC": ("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
             "1\t702876\t702977\tAmrozi accused his brother .\tReferring to him , he accused .\n"
             "0\t2108705\t2108831\tYucaipa owned Dominick 's .\tYucaipa bought it in 1998 .\n"),
    "RTE": ("index\tsentence1\tsentence2\tlabel\n"
            "0\tNo weapons found in Iraq.\tWeapons found in Iraq.\tnot_entailment\n"
            "1\tA place of beauty.\tA place.\tentailment\n"
            "2\tHe ran.\tHe moved.\tentailment\n"),
    "CoLA": ("gj04\t1\t\tOur friends won't buy this analysis.\n"
             "gj04\t0\t*\tThey drank the pub.\n"),
    "SST-2": "sentence\tlabel\nhide new secretions \t0\nthe greatest musicians \t1\n",
}


@pytest.fixture
def glue_dir(tmp_path):
    for folder, text in GLUE_FILES.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "train.tsv").write_text(text)
        (tmp_path / folder / "dev.tsv").write_text(text)
    return tmp_path


def test_read_glue_reads_the_four_layouts(glue_dir):
    m = ftdata.read_glue("mrpc", glue_dir)
    assert m.train.text_a == ["Amrozi accused his brother .", "Yucaipa owned Dominick 's ."]
    assert m.train.text_b == ["Referring to him , he accused .", "Yucaipa bought it in 1998 ."]
    assert m.train.labels.tolist() == [1, 0]
    assert (m.metric, m.metrics, m.baseline) == ("acc_and_f1", TASKS["mrpc"].metrics, 0.75)
    r = ftdata.read_glue("rte", glue_dir)
    assert r.train.labels.tolist() == [1, 0, 0]  # entailment = 0, as in the GLUE processors
    assert r.train.text_b[1] == "A place."
    c = ftdata.read_glue("cola", glue_dir)  # no header line
    assert c.train.text_a == ["Our friends won't buy this analysis.", "They drank the pub."]
    assert c.train.labels.tolist() == [1, 0] and c.train.text_b is None
    s = ftdata.read_glue("sst", glue_dir / "SST-2")  # the task folder itself works too
    assert s.train.text_a == ["hide new secretions ", "the greatest musicians "]
    assert s.dev.labels.tolist() == [0, 1] and s.metric == "acc"


def test_read_glue_errors_name_the_file_and_line(glue_dir, tmp_path):
    with pytest.raises(DataError, match="no train.tsv there nor in a task folder"):
        ftdata.read_glue("rte", tmp_path / "nowhere")
    (glue_dir / "RTE" / "dev.tsv").write_text("index\ts1\ts2\tlabel\n0\ta\tb\tmaybe\n")
    with pytest.raises(ParseError, match=r"RTE/dev.tsv:2: expected a label in "
                                         r"\['entailment', 'not_entailment'\].*'maybe'"):
        ftdata.read_glue("rte", glue_dir)
    (glue_dir / "CoLA" / "train.tsv").write_text("gj04\t1\n")
    with pytest.raises(ParseError, match=r"CoLA/train.tsv:1: expected at least 4"):
        ftdata.read_glue("cola", glue_dir)
    with pytest.raises(ValueError, match="task: expected one of mrpc, rte, cola, sst"):
        ftdata.read_glue("qqp", glue_dir)


def test_load_task_options(glue_dir):
    t = ftdata.load_task("rte", "glue", glue_dir, max_train=2)
    assert len(t.train) == 2 and len(t.dev) == 3
    with pytest.raises(ValueError, match="--glue-dir: expected"):
        ftdata.load_task("rte", "glue", None)
    with pytest.raises(ValueError, match="--task: the synthetic data"):
        ftdata.load_task("rte", "synthetic")
    with pytest.raises(ValueError, match="--max-train: expected an int >= 2"):
        ftdata.load_task("rte", "glue", glue_dir, max_train=1)


def test_synthetic_task_is_fixed_learnable_and_ignores_global_seed():
    np.random.seed(1)
    a = ftdata.synthetic_task()
    np.random.seed(2)
    b = ftdata.synthetic_task()
    assert a.train.text_a == b.train.text_a and np.array_equal(a.dev.labels, b.dev.labels)
    assert (len(a.train), len(a.dev), a.name, a.metric) == (320, 96, "synthetic", "acc")
    p1 = a.dev.labels.mean()
    assert a.baseline == max(p1, 1 - p1) and 0.5 <= a.baseline < 0.7
    # the label is a function of the text: exactly one cue word, positive iff label 1
    for text, lab in zip(a.train.text_a, a.train.labels):
        words = text.split()
        cues = [w for w in words if w in ftdata._POS + ftdata._NEG]
        assert len(cues) == 1 and (cues[0] in ftdata._POS) == bool(lab)
    assert ftdata.synthetic_task(seed=1).train.text_a != a.train.text_a


def test_hash_tokenizer_pairs_and_longest_first_truncation():
    tok = ftdata.HashTokenizer(50)
    out = tok(["a b c"], ["d e"], truncation=True, max_length=128)
    ids, types = out["input_ids"][0], out["token_type_ids"][0]
    assert ids[0] == 2 and ids[4] == 3 and ids[-1] == 3 and len(ids) == 8
    assert types == [0, 0, 0, 0, 0, 1, 1, 1]
    assert all(4 <= i < 50 for i in ids[1:4] + ids[5:7])
    long_a, long_b = " ".join(["x"] * 20), " ".join(["y"] * 6)
    for max_len in (8, 12, 20):
        ids = tok([long_a], [long_b], max_length=max_len)["input_ids"][0]
        assert len(ids) == max_len
        n_b = len(ids) - ids.index(3) - 2  # tokens between the two [SEP]
        n_a = ids.index(3) - 1
        # longest-first: the longer side is cut down to the shorter one before both shrink
        assert n_a + n_b == max_len - 3
        assert (n_a, n_b) == ((max_len - 9, 6) if max_len - 9 >= 6 else
                              ((max_len - 2) // 2, (max_len - 3) // 2))
    assert tok(["Good"])["input_ids"] == tok(["good"])["input_ids"]  # lower-cased


def test_pad_batch_pads_to_the_longest_in_the_batch():
    tok = ftdata.HashTokenizer(50)
    split = ftdata.Split(["a", "a b c d", "a b"], None, np.array([0, 1, 1]))
    enc = ftdata.encode(split, tok, 128)
    assert enc.lengths.tolist() == [3, 6, 4]
    ids, types, mask, y = ftdata.pad_batch(enc, [2, 0])
    assert ids.shape == (2, 4) and mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert ids[1, 3] == 0 and y.tolist() == [1, 0] and not types.any()
    assert ftdata.pad_batch(enc, [0], pad_to=128)[0].shape == (1, 128)


def test_epoch_order_depends_on_do_seed_and_epoch_only():
    n = 37
    o = ftdata.epoch_order(3, 1, n)
    ref = np.random.default_rng(np.random.SeedSequence([3, 1])).permutation(n)
    assert np.array_equal(o, ref)
    assert sorted(o.tolist()) == list(range(n))
    np.random.seed(123)  # the global NumPy seed has no effect
    assert np.array_equal(ftdata.epoch_order(3, 1, n), o)
    assert not np.array_equal(ftdata.epoch_order(3, 0, n), o)
    assert not np.array_equal(ftdata.epoch_order(4, 1, n), o)
    with pytest.raises(ValueError, match="do_seed: expected an int >= 0, got -1"):
        ftdata.epoch_order(-1, 0, n)


@pytest.mark.parametrize("task", list(TASKS))
def test_epoch_batches_give_the_papers_steps_per_epoch(task):
    info = TASKS[task]
    b = ftdata.epoch_batches(1, 0, info.n_train, 16)
    assert len(b) == info.steps_per_epoch
    assert sum(len(x) for x in b) == info.n_train
    assert np.array_equal(np.concatenate(b), ftdata.epoch_order(1, 0, info.n_train))


# --- grid bookkeeping ---------------------------------------------------------------------


def test_parse_seeds():
    assert parse_seeds("1-25") == list(range(1, 26))
    assert parse_seeds(" 1, 3,7-9 ") == [1, 3, 7, 8, 9]
    assert parse_seeds([4, 2]) == [4, 2]
    for bad, msg in (("", "expected seeds"), ("3-1", "low <= high"), ("a", "expected seeds"),
                     ("1,1", "each seed once"), ([-1], "non-negative")):
        with pytest.raises(ValueError, match=f"--wi: .*{msg}"):
            parse_seeds(bad, "--wi")


def test_log_status(tmp_path):
    head = json.dumps({"event": "header", "task": "rte"}) + "\n"
    train = json.dumps({"event": "train", "step": 0, "loss": 0.5}) + "\n"
    cases = {
        "ok": head + train + '{"event": "end", "status": "ok", "n_steps": 1}\n',
        "error": head + train + '{"event": "end", "status": "error", "n_steps": 1}\n',
        "incomplete": head + train,
        "cut": head + train + '{"event": "end", "stat',
    }
    for name, text in cases.items():
        (tmp_path / f"{name}.jsonl").write_text(text)
    assert log_status(tmp_path / "ok.jsonl") == "ok"
    assert log_status(tmp_path / "error.jsonl") == "error"
    assert log_status(tmp_path / "incomplete.jsonl") == "incomplete"
    assert log_status(tmp_path / "cut.jsonl") == "incomplete"
    assert log_status(tmp_path / "none.jsonl") == "missing"


# --- the CLI without torch ----------------------------------------------------------------

_NO_TORCH = ("import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None; "
             "from seedstats.cli import main; sys.exit(main(sys.argv[1:]))")


def test_cli_without_torch_says_which_extra_to_install(tmp_path):
    args = ["finetune", "run", "--model", "random-tiny", "--data", "synthetic", "--wi", "1",
            "--do", "1", "--out", str(tmp_path)]
    out = subprocess.run([sys.executable, "-c", _NO_TORCH, *args], capture_output=True,
                         text=True)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "seedstats finetune: error: seedstats finetune needs the finetune extra: "
        "pip install 'seedstats[finetune]'"]
    assert not list(tmp_path.iterdir())


def test_cli_help_lists_run_and_grid():
    out = subprocess.run([sys.executable, "-c", _NO_TORCH, "finetune", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout and "grid" in out.stdout
    out = subprocess.run([sys.executable, "-c", _NO_TORCH, "finetune", "grid", "--help"],
                         capture_output=True, text=True)
    for opt in ("--launcher", "--workers", "--recipe", "--dropout-seed", "--glue-dir",
                "--format", "--address"):
        assert opt in out.stdout


def test_finetune_modules_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None; "
            "import seedstats.cli.finetune, seedstats.finetune.train, seedstats.finetune.grid, "
            "seedstats.finetune.model, seedstats.finetune.optim, seedstats.finetune.data, "
            "seedstats.finetune.metrics, seedstats.finetune.recipes; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_cli_options_below_load_task_minimum_are_rejected_up_front(tmp_path):
    # --max-train 1 used to pass the CLI's check and fail inside the trial with a traceback
    import argparse

    from seedstats.cli.finetune import add_arguments, spec_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["run", "--model", "random-tiny", "--data", "synthetic", "--wi", "1", "--do", "1",
            "--out", str(tmp_path)]
    for opt in ("--max-train", "--max-val"):
        args = parser.parse_args(base + [opt, "1"])
        with pytest.raises(ValueError, match=f"{opt}: expected an int >= 2, got 1"):
            spec_from_args(args, args.wi, args.do)
    args = parser.parse_args(base + ["--max-train", "2", "--max-val", "2"])
    assert spec_from_args(args, args.wi, args.do).max_train == 2

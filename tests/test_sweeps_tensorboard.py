"""TensorBoard event files (seedstats.data.formats.tensorboard), written by TensorBoard's own writers.

Two writers: ``tensorboard.summary.writer.event_file_writer.EventFileWriter`` with
``simple_value`` summaries and text summaries exactly as PyTorch's ``SummaryWriter`` builds them
(``torch.utils.tensorboard`` writes through this same class; the Trainer's
``TensorBoardCallback`` uses it: ``add_text("args", ...)``, ``add_scalar(rewrite_logs(k), v,
global_step)``), and ``tensorboard.summary.Writer`` (scalar tensors, as TF2 writes them).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.compat.proto import (  # noqa: E402
    event_pb2,
    summary_pb2,
    tensor_pb2,
    tensor_shape_pb2,
)
from tensorboard.plugins.text import plugin_data_pb2  # noqa: E402
from tensorboard.summary import Writer  # noqa: E402
from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: E402

from seedstats.data.formats import tensorboard as tb  # noqa: E402
from seedstats.data.formats.base import IngestOptions
from seedstats.data.ingest import ingest  # noqa: E402
from seedstats.errors import ParseError  # noqa: E402

f32 = np.float32


class TorchStyleWriter:
    """What ``torch.utils.tensorboard.SummaryWriter`` writes, through TensorBoard's writer."""

    def __init__(self, logdir):
        self.w = EventFileWriter(str(logdir))
        self.t = 1.7e9

    def _emit(self, summary, step, wall):
        self.t = wall if wall is not None else self.t + 1.0
        self.w.add_event(event_pb2.Event(wall_time=self.t, step=int(step), summary=summary))

    def add_scalar(self, tag, value, step, wall=None):
        self._emit(summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=tag, simple_value=float(value))]), step, wall)

    def add_text(self, tag, text, step=0):
        pd = summary_pb2.SummaryMetadata.PluginData(
            plugin_name="text", content=plugin_data_pb2.TextPluginData(version=0)
            .SerializeToString())
        tensor = tensor_pb2.TensorProto(
            dtype="DT_STRING", string_val=[text.encode("utf_8")],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(
                dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]))
        self._emit(summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=tag + "/text_summary", metadata=summary_pb2.SummaryMetadata(plugin_data=pd),
            tensor=tensor)]), step, None)

    def close(self):
        self.w.close()


SPE = 10


def write_hf_run(logdir, rng, *, seed=42, task="rte", stop_at=None, eval_every=5,
                 wall0=1.7e9):
    """Log as the Trainer's TensorBoardCallback does; returns the values written."""
    w = TorchStyleWriter(logdir)
    w.t = wall0
    w.add_text("args", json.dumps({"output_dir": "out", "seed": seed, "data_seed": None,
                                   "learning_rate": 2e-5}, indent=2))
    w.add_text("model_config", json.dumps({"finetuning_task": task}, indent=2))
    truth = {"acc": {}, "train": {}}
    last = 30 if stop_at is None else stop_at

    def ev(g):
        a = float(rng.uniform(0.4, 0.9))
        truth["acc"][g] = a
        for tag, v in (("eval/loss", 0.5), ("eval/accuracy", a), ("eval/runtime", 1.2),
                       ("eval/samples_per_second", 231.0), ("eval/steps_per_second", 14.4),
                       ("train/epoch", g / SPE)):
            w.add_scalar(tag, v, g)

    ev(0)
    for g in range(1, last + 1):
        if g % 5 == 0:
            lo = float(rng.uniform(0.1, 0.7))
            truth["train"][g] = lo
            for tag, v in (("train/loss", lo), ("train/grad_norm", 2.0),
                           ("train/learning_rate", 2e-5), ("train/epoch", g / SPE)):
                w.add_scalar(tag, v, g)
        if g % eval_every == 0:
            ev(g)
    if stop_at is None:
        for tag, v in (("train/train_runtime", 60.0), ("train/train_samples_per_second", 8.0),
                       ("train/train_steps_per_second", 0.5), ("train/total_flos", 1e12),
                       ("train/train_loss", 0.4), ("train/epoch", 3.0)):
            w.add_scalar(tag, v, 30)
    w.close()
    return truth


def check(ds, tid, truth, complete=True):
    t = ds.trials.set_index("trial_id").loc[tid]
    e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["metric"] == "accuracy")]
    d = e[e["phase"] == "during"]
    exp = {g: f32(v) for g, v in truth["acc"].items() if g > 0}
    assert d["step"].tolist() == [g - 1 for g in exp]
    np.testing.assert_array_equal(d["value"].to_numpy(), np.array(list(exp.values()),
                                                                  dtype=np.float64))
    np.testing.assert_allclose(d["epoch"].to_numpy(), [g / SPE for g in exp], rtol=1e-6)
    assert e[e["phase"] == "before"]["value"].tolist() == [float(f32(truth["acc"][0]))]
    if complete:
        assert t["after"] == float(exp[max(exp)])
        assert e[e["phase"] == "after"]["step"].tolist() == [max(exp) - 1]
    else:
        assert np.isnan(t["after"]) and not t["complete"]
    tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
    assert tl["step"].tolist() == [g - 1 for g in truth["train"]]
    np.testing.assert_array_equal(tl["loss"].to_numpy(),
                                  np.array([f32(v) for v in truth["train"].values()],
                                           dtype=np.float64))


def test_crc32c_against_known_value_and_tensorboards_own():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import (
        masked_crc32c as ref,
    )

    assert tb.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    rng = np.random.default_rng(0)
    for n in (0, 1, 8, 100):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert tb.masked_crc32c(data) == ref(data)


def test_hf_callback_runs_value_by_value(tmp_path):
    rng = np.random.default_rng(0)
    truths = {s: write_hf_run(tmp_path / "sweep" / f"seed{s}" / "runs" / "Nov01", rng, seed=s)
              for s in (1, 2, 3)}
    assert tb.detect(tmp_path / "sweep")
    ds, rep = ingest(tmp_path / "sweep")  # seeds from 'args', task from 'model_config'
    assert ds.meta["provenance"]["format"] == "tensorboard"
    assert sorted(ds.trials["trial_id"]) == ["rte-s1", "rte-s2", "rte-s3"]
    for s, truth in truths.items():
        check(ds, f"rte-s{s}", truth)
    assert set(ds.evals["metric"].astype(str)) == {"accuracy", "loss"}
    assert (ds.trials["n_steps"] == 30).all() and (ds.trials["metric"] == "accuracy").all()


def test_restart_in_the_same_directory_later_values_win(tmp_path):
    rng = np.random.default_rng(1)
    run = tmp_path / "s" / "wi1_do2"
    truth = write_hf_run(run, rng, stop_at=20)
    truth2 = write_hf_run(run, rng, wall0=1.8e9)  # resumed: all steps again, later wall time
    with pytest.raises(ParseError, match="choose --duplicates last"):  # never a silent choice
        ingest(tmp_path / "s", options=IngestOptions(seeds_from="wi{wi}_do{do}"))
    ds, _ = ingest(tmp_path / "s", options=IngestOptions(seeds_from="wi{wi}_do{do}",
                                                         duplicates="last"))
    assert len(list(run.iterdir())) == 2
    check(ds, "rte-wi1-do2", truth2)
    assert truth["acc"][10] != truth2["acc"][10]


def test_every_scalar_is_read_without_downsampling(tmp_path):
    w = TorchStyleWriter(tmp_path / "big" / "seed4")
    vals = np.random.default_rng(2).uniform(size=2500)
    for g, v in enumerate(vals, 1):
        w.add_scalar("train/loss", v, g)
        if g % 500 == 0:
            w.add_scalar("eval/accuracy", v, g)
    w.add_scalar("train/train_runtime", 1.0, 2500)
    w.close()
    ds, _ = ingest(tmp_path / "big", options=IngestOptions(task="sst", seeds_from="seed{seed}"))
    assert len(ds.train_loss) == 2500  # TensorBoard's EventAccumulator keeps 1,000
    np.testing.assert_array_equal(ds.train_loss["loss"].to_numpy(),
                                  vals.astype(np.float32).astype(np.float64))
    assert ds.trials.iloc[0]["after"] == float(f32(vals[2499]))


def test_tensor_scalars_and_generic_tags(tmp_path):
    # tensorboard.summary.Writer (TF2-style scalar tensors), the user's own tag names
    wr = Writer(str(tmp_path / "g" / "seed7"))
    truth = {}
    for g in (0, 50, 100):
        truth[g] = 0.5 + g / 1000
        wr.add_scalar("val/acc", truth[g], g)
        wr.add_scalar("val/loss", 1 - truth[g], g)
        wr.add_scalar("loss", 0.3, g)
    wr.close()
    ds, rep = ingest(tmp_path / "g", options=IngestOptions(task="mytask",
                                                           seeds_from="seed{seed}"))
    t = ds.trials.iloc[0]
    assert t["metric"] == "acc" and t["complete"] and pd_isna(t["diverged"])
    e = ds.evals[(ds.evals["metric"] == "acc")]
    assert e["phase"].tolist() == ["before", "during", "during", "after"]
    np.testing.assert_array_equal(e["value"].to_numpy(),
                                  [float(f32(truth[g])) for g in (0, 50, 100, 100)])
    assert any("taken as complete" in n for n in rep.notes)


def pd_isna(x):
    import pandas as pd

    return pd.isna(x)


def test_incomplete_and_truncated(tmp_path):
    rng = np.random.default_rng(3)
    run = tmp_path / "t" / "seed8"
    truth = write_hf_run(run, rng, seed=8, stop_at=20)
    ds, _ = ingest(tmp_path / "t")
    check(ds, "rte-s8", truth, complete=False)
    # a killed writer leaves half a record: dropped, flagged
    f = next(run.iterdir())
    data = f.read_bytes()
    f.write_bytes(data[:-7])
    ds, _ = ingest(tmp_path / "t")
    t = ds.trials.iloc[0]
    assert "truncated" in t["flags"] and not t["complete"]


def test_corrupt_event_file_is_one_clear_error(tmp_path):
    run = tmp_path / "c" / "seed1"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.123.host").write_bytes(
        np.random.default_rng(4).integers(0, 256, 300, dtype=np.uint8).tobytes())
    with pytest.raises(ParseError) as exc:
        ingest(tmp_path / "c", options=IngestOptions(task="rte"))
    msg = str(exc.value)
    assert "events.out.tfevents.123.host:1:" in msg and "CRC" in msg and "\n" not in msg
    # a valid frame holding garbage
    payload = b"\xff\xff\xff\xff garbage"
    head = len(payload).to_bytes(8, "little")
    rec = (head + tb.masked_crc32c(head).to_bytes(4, "little") + payload
           + tb.masked_crc32c(payload).to_bytes(4, "little"))
    (run / "events.out.tfevents.123.host").write_bytes(rec)
    with pytest.raises(ParseError, match="expected an Event protobuf"):
        ingest(tmp_path / "c", options=IngestOptions(task="rte"))
    # --skip-bad skips the run
    res = tb.read(tmp_path / "c", IngestOptions(task="rte", skip_bad=True))
    assert res.records == [] and res.skipped[0][0] == str(run)


def test_hf_key():
    assert [tb.hf_key(t) for t in ("eval/accuracy", "train/loss", "train/val_accuracy",
                                   "test/f1", "val/acc")] == [
        "eval_accuracy", "loss", "val_accuracy", "test_f1", "val/acc"]


def test_event_files_without_scalars_are_left_out(tmp_path):
    rng = np.random.default_rng(5)
    truth = write_hf_run(tmp_path / "s" / "seed9" / "run", rng, seed=9)
    w = TorchStyleWriter(tmp_path / "s" / "plugins" / "profile")
    w.add_text("note", "no scalars here")
    w.close()
    ds, rep = ingest(tmp_path / "s")
    assert ds.trials["trial_id"].tolist() == ["rte-s9"]
    check(ds, "rte-s9", truth)
    assert any("without scalars" in n for n in rep.notes)


def test_the_pytorch_tutorial_tags_written_by_summarywriter(tmp_path):
    # torch.utils.tensorboard.SummaryWriter itself, with the tags of PyTorch's TensorBoard
    # tutorial: Loss/train every step, Loss/val and Accuracy/val every 5 steps
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    rng = np.random.default_rng(0)
    truth = {}
    for seed in (1, 2):
        w = torch_tb.SummaryWriter(log_dir=str(tmp_path / "runs" / f"seed{seed}"))
        t = truth[seed] = {"train": {}, "acc": {}, "val": {}}
        for g in range(1, 21):
            t["train"][g] = float(np.float32(rng.uniform(0.1, 1.0)))
            w.add_scalar("Loss/train", t["train"][g], g)
            if g % 5 == 0:
                t["acc"][g] = float(np.float32(rng.uniform(0.5, 0.9)))
                t["val"][g] = float(np.float32(rng.uniform(0.2, 0.6)))
                w.add_scalar("Loss/val", t["val"][g], g)
                w.add_scalar("Accuracy/val", t["acc"][g], g)
        w.close()
    ds, _ = ingest(tmp_path / "runs", options={"task": "mine", "seeds_from": "seed{seed}"})
    assert ds.trials["metric"].tolist() == ["accuracy", "accuracy"]
    for seed, t in truth.items():
        tid = f"mine-s{seed}"
        e = ds.evals[(ds.evals["trial_id"] == tid) & (ds.evals["phase"] == "during")]
        for metric, key in (("accuracy", "acc"), ("loss", "val")):
            m = e[e["metric"] == metric]
            assert m["step"].tolist() == [g - 1 for g in t[key]]
            np.testing.assert_array_equal(m["value"].to_numpy(), list(t[key].values()))
        tl = ds.train_loss[ds.train_loss["trial_id"] == tid]
        np.testing.assert_array_equal(tl["loss"].to_numpy(), list(t["train"].values()))

"""TensorBoard event files of each run directory.

Needs the optional extra ``seedstats[sweeps]`` (the ``tensorboard`` package, for its
``Event`` protobuf); nothing of TensorFlow or PyTorch is needed. Every scalar is read: unlike
TensorBoard's ``EventAccumulator`` (which keeps a reservoir sample of 1,000 points per tag)
nothing is downsampled, so the curves feed the paper's analyses (Dodge et al. 2020: expected
validation performance, Section 3; failed runs, Section 4; early stopping, Section 5) whole.

Layout
------
A run is a directory holding ``events.out.tfevents.*`` files; a run restarted in the same
directory has several, read in name order. ``SRC`` may be one event file, one run directory,
or a tree of them. Values are deduplicated on (tag, step): the value written last (by wall
time) wins, so steps repeated after a resume keep the resumed run's value.

Framing is the TFRecord format (length, masked CRC32C of the length, payload, CRC of the
payload). The length's CRC is checked on every record, so a file that is not an event file or
is damaged gives one clear error naming the record; a payload that fails to parse likewise. The
payload's own CRC is not recomputed (pure-Python CRC32C would make reading ten times slower).
A last record cut short, as a killed writer leaves it, is dropped and the trial flagged
``truncated``. TensorBoard's own reader silently stops at the first bad record instead.

Tags
----
Scalars are ``simple_value`` (PyTorch's ``SummaryWriter``, which the Trainer's
``TensorBoardCallback`` uses) or scalar tensors (``tensorboard.summary.Writer``, TF2). Tags the
Trainer writes are mapped back to its log keys (``rewrite_logs`` inverted): ``eval/accuracy``
-> ``eval_accuracy``, ``train/loss`` -> ``loss`` (the training loss), ``train/epoch`` ->
``epoch``, ``train/train_runtime`` -> the end-of-training record; a custom evaluation prefix
arrives as ``train/val_accuracy`` -> ``val_accuracy``. Other tags are kept as written
(``val/acc`` is metric ``acc`` of prefix ``val``). The Trainer's ``args`` text (its
``TrainingArguments`` as JSON) is the run config for seeds (``seed``), and ``model_config``
gives the task (``finetuning_task``). Steps are the Trainer's ``global_step``: seedstats' step
is ``global_step - 1`` (rules: :mod:`seedstats.data.formats.sweeps`).

A run is complete when it has the end-of-training record; a run the Trainer wrote (``args``
text or ``train/epoch``) without one is incomplete; other runs are taken as complete (noted).

``SummaryWriter.add_hparams()`` writes a sub-run ``<run>/<time.time()>/`` holding the
hyperparameters (HParams plugin) and the ``hparam/*`` scalars it was given: it is attached to
its run (its hyperparameters are the run's config for seeds, its scalars bookkeeping), never a
trial of its own.

Lightning's ``TensorBoardLogger`` (a run directory with ``hparams.yaml``) logs steps as the
update's 0-based index, like its ``CSVLogger`` (:mod:`seedstats.data.formats.lightning`):
seedstats' step as written; seeds from ``hparams.yaml``; ``hp_metric`` is bookkeeping; a run
whose last step is below its sweep's last is incomplete.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np

from seedstats.data.formats.base import IngestOptions, ReadResult, parse_error_or_skip
from seedstats.data.formats.sweeps import (
    Resolver,
    Series,
    assemble,
    complete_by_schedule,
    end_of_training,
    find_first,
    guarded,
    hf_key,
    index_steps_per_epoch,
    infer_steps_per_epoch,
    max_step,
    note_unread,
    read_flat_yaml,
    train_loss,
    walk_files,
)
from seedstats.errors import DataError, ParseError

__all__ = ["detect", "read", "read_run", "read_events", "crc32c", "masked_crc32c"]

EXTRA = "seedstats[sweeps]"


def _is_event_file(p: Path) -> bool:
    return "tfevents" in p.name


def detect(path: Path) -> bool:
    """Whether ``path`` is, or holds, a TensorBoard event file."""
    path = Path(path)
    if path.is_file():
        return _is_event_file(path)
    return find_first(path, _is_event_file)


# --- TFRecord framing ---------------------------------------------------------------------

def _make_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TFRecord framing uses it."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC stored in TFRecord files."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _records(path: Path):
    """Payloads of the TFRecords in ``path`` and whether the last one was cut short."""
    data = path.read_bytes()
    n, pos, k = len(data), 0, 0
    out = []
    header_ok: dict[bytes, int] = {}
    unpack = struct.unpack_from
    while pos < n:
        k += 1
        if pos + 12 > n:
            return out, True
        head = data[pos:pos + 8]
        crc = header_ok.get(head)
        if crc is None:
            crc = header_ok[head] = masked_crc32c(head)
        if crc != unpack("<I", data, pos + 8)[0]:
            raise ParseError(path, k, "expected a TFRecord (event file) header: the length's "
                             "CRC does not match (not an event file, or damaged)")
        length = unpack("<Q", data, pos)[0]
        end = pos + 12 + length
        if end + 4 > n:
            return out, True
        out.append(data[pos + 12:end])
        pos = end + 4
    return out, False


_NP_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16}


def _tensor_value(t):
    """Scalar of a TensorProto, a str for a string tensor, or None."""
    if t.dtype == 7:  # DT_STRING
        return t.string_val[0].decode("utf-8", "replace") if t.string_val else None
    for name in ("float_val", "double_val", "int_val", "int64_val", "half_val"):
        vals = getattr(t, name)
        if len(vals) == 1:
            return float(vals[0])
    if t.tensor_content and t.dtype in _NP_DTYPES:
        arr = np.frombuffer(t.tensor_content, dtype=_NP_DTYPES[t.dtype])
        if arr.size == 1:
            return float(arr[0])
    return None


def read_events(path: Path):
    """Scalars and texts of one event file.

    Returns
    -------
    (dict, dict, bool, dict)
        ``{tag: ([step], [value], [wall_time])}``, ``{tag: text}`` (last written), whether
        the file's last record was cut short, and the hyperparameters ``add_hparams`` recorded
        (the HParams plugin's ``session_start_info``; empty when none).
    """
    try:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2
    except ImportError:
        raise DataError(f"--format tensorboard needs the optional extra {EXTRA} (pip install "
                        f"'{EXTRA}', or pip install tensorboard)") from None
    path = Path(path)
    recs, truncated = guarded(path, "a TensorBoard event file", lambda: _records(path))
    scalars: dict[str, tuple[list, list, list]] = {}
    texts: dict[str, str] = {}
    hparams: dict = {}
    parse = event_pb2.Event.FromString
    for k, rec in enumerate(recs, 1):
        try:
            ev = parse(rec)
        except DecodeError as exc:
            raise ParseError(path, k, f"expected an Event protobuf record: {exc}") from None
        if not ev.HasField("summary"):
            continue
        step, wall = ev.step, ev.wall_time
        for v in ev.summary.value:
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                val = v.simple_value
            elif kind == "tensor":
                val = _tensor_value(v.tensor)
                if isinstance(val, str):
                    tag = v.tag[:-len("/text_summary")] if v.tag.endswith("/text_summary") \
                        else v.tag
                    texts[tag] = val
                    continue
                if val is None:
                    continue
            else:
                if v.tag == _HPARAMS_TAG and v.metadata.plugin_data.plugin_name == "hparams":
                    hparams.update(_session_hparams(v.metadata.plugin_data.content, path, k))
                continue
            c = scalars.get(v.tag)
            if c is None:
                c = scalars[v.tag] = ([], [], [])
            c[0].append(step)
            c[1].append(val)
            c[2].append(wall)
    return scalars, texts, truncated, hparams


_HPARAMS_TAG = "_hparams_/session_start_info"


def _session_hparams(content: bytes, path, k) -> dict:
    """The hyperparameters of an HParams plugin ``session_start_info`` record."""
    from google.protobuf.message import DecodeError
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except DecodeError as exc:
        raise ParseError(path, k, f"expected an HParams plugin record: {exc}") from None
    out = {}
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            v = value.number_value
            out[name] = int(v) if float(v).is_integer() else v
        elif kind in ("string_value", "bool_value"):
            out[name] = getattr(value, kind)
    return out


def _json_or_none(text):
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _load(run_dir: Path, files: list[Path]) -> dict:
    """The scalars (by Trainer key), texts, truncation and hparams of one run directory."""
    cols: dict[str, tuple[list, list, list]] = {}
    texts: dict[str, str] = {}
    hparams: dict = {}
    truncated = False
    for f in files:
        sc, tx, cut, hp = read_events(f)
        truncated |= cut
        texts.update(tx)
        hparams.update(hp)
        for tag, (g, v, w) in sc.items():
            c = cols.setdefault(hf_key(tag), ([], [], []))
            c[0].extend(g)
            c[1].extend(v)
            c[2].extend(w)
    lightning = run_dir / "hparams.yaml"
    return {"cols": cols, "texts": texts, "hparams": hparams, "truncated": truncated,
            "lightning": read_flat_yaml(lightning) if lightning.is_file() else None}


def read_run(run_dir: Path, files: list[Path], res: Resolver):
    """One run directory's :class:`~seedstats.data.records.TrialRecord` (None: no scalars)."""
    return _build(run_dir, guarded(run_dir, "TensorBoard event files",
                                   lambda: _load(run_dir, files)), res)


def _build(run_dir: Path, run: dict, res: Resolver, complete=None):
    cols, texts = run["cols"], run["texts"]
    if not cols:  # e.g. a profiler's events.out.tfevents.*.profile-empty
        res.note(f"{run_dir}: event files without scalars left out")
        return None
    series = {k: Series.of(*c) for k, c in cols.items()}
    args = _json_or_none(texts.get("args"))
    model_config = _json_or_none(texts.get("model_config")) or {}
    lightning = run["lightning"]
    config = args if args is not None else (lightning if lightning is not None
                                            else run["hparams"] or None)
    task = model_config.get("finetuning_task") or (
        next((config.get(k) for k in ("task", "task_name") if config.get(k)), None)
        if config else None)
    ident = res.identity(run_dir, run_dir=run_dir, config=config, task_hint=task)
    evals, metric, baseline = res.validation(ident, series, run_dir)
    end_order, n_steps = end_of_training(series)
    flags = ["truncated"] if run["truncated"] else []
    if lightning is not None:
        # Lightning's TensorBoardLogger: the update's 0-based index, as its CSVLogger
        evals = {k: Series(s.g + 1, s.v, s.order) for k, s in evals.items()}
        last = max_step(series)
        return assemble(source=str(run_dir), ident=ident, metric=metric, baseline=baseline,
                        evals=evals, train=train_loss(series), train_offset=0,
                        complete=True if complete is None else complete,
                        n_steps=(last if last is not None else -1) + 1, flags=flags,
                        steps_per_epoch=index_steps_per_epoch(series.get("epoch")))
    if end_order is not None:
        complete = True
    elif args is not None or "epoch" in series:
        complete = False
    else:
        complete, n_steps = True, max_step(series)
        res.note("runs without the Trainer's end-of-training record nor its 'args' are taken "
                 "as complete")
    return assemble(source=str(run_dir), ident=ident, metric=metric, baseline=baseline,
                    evals=evals, train=train_loss(series), train_offset=-1, end_order=end_order,
                    complete=complete, n_steps=n_steps,
                    steps_per_epoch=infer_steps_per_epoch(series.get("epoch")), flags=flags)


def _hparams_subrun(run_dir: Path, run: dict, runs) -> bool:
    """Whether a run directory is the sub-run ``SummaryWriter.add_hparams()`` writes inside
    its run (``<log_dir>/<time.time()>/``: hparams, and only ``hparam/*`` scalars)."""
    return (run_dir.parent in runs and bool(run["hparams"])
            and all(k.startswith("hparam/") for k in run["cols"]))


def read(path: Path, opts: IngestOptions) -> ReadResult:
    """Read every TensorBoard run under ``path`` (rules: module docstring).

    Returns
    -------
    ReadResult
        One record per run directory; under ``--skip-bad`` damaged runs are listed in
        ``skipped``.
    """
    path = Path(path)
    res = Resolver(path, opts)
    runs: dict[Path, list[Path]] = {}
    for f in walk_files(path, _is_event_file):
        runs.setdefault(f.parent, []).append(f)
    if not runs:
        raise ParseError(path, None, "expected TensorBoard event files (events.out.tfevents.*)")
    result = ReadResult(records=[])
    # the run directories, and the run an add_hparams sub-run (<run>/<time.time()>/) belongs to
    holders = set(runs) | {d.parent for d in runs if re.fullmatch(r"\d+\.\d+", d.name)}
    note_unread(res, sorted(holders), lambda n: _is_event_file(Path(n)) or n == "hparams.yaml",
                "TensorBoard run directories")
    loaded = {}
    for run_dir in sorted(runs):
        files = sorted(runs[run_dir])
        run = parse_error_or_skip(opts, result, run_dir, lambda: guarded(
            run_dir, "TensorBoard event files", lambda: _load(run_dir, files)))
        if run is not None:
            loaded[run_dir] = run
    # add_hparams sub-runs: their hyperparameters belong to the parent run, not a trial
    subruns = [d for d in loaded if _hparams_subrun(d, loaded[d], loaded)]
    for d in subruns:
        sub = loaded.pop(d)
        parent = loaded[d.parent]
        parent["hparams"] = {**sub["hparams"], **parent["hparams"]}
        for k, c in sub["cols"].items():
            row = res.keys.setdefault(k, ["bookkeeping", "add_hparams summary of its parent "
                                          "run", 0, 0])
            row[2] += 1
            row[3] += len(c[1])
    if subruns:
        res.note(f"{len(subruns)} add_hparams sub-run(s) attached to their parent runs (their "
                 "hyperparameters are read as the run's config)")
    light = [d for d, r in loaded.items() if r["lightning"] is not None and r["cols"]]
    done = {}
    if light:
        lasts = {}
        for d in light:
            cfg = loaded[d]["lightning"]
            last = max(max(c[0]) for c in loaded[d]["cols"].values() if c[0])
            lasts[d] = ((cfg.get("task"), cfg.get("system")), last)
        done = complete_by_schedule(lasts, res, "Lightning's TensorBoardLogger")
    for run_dir, run in loaded.items():
        rec = parse_error_or_skip(opts, result, run_dir,
                                  lambda: _build(run_dir, run, res, done.get(run_dir)))
        if rec is not None:
            result.records.append(rec)
    res.finish(result)
    return result

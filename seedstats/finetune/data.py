"""Training data for fine-tuning: the four GLUE tasks, a synthetic task, batching.

NumPy only (no torch), so every function here is testable without the ``finetune``
extra.

- :func:`read_glue` reads a task of the GLUE benchmark from its standard TSV files
  (``train.tsv``, ``dev.tsv``) as the Hugging Face ``glue`` processors the paper used
  do: MRPC, RTE, CoLA, SST-2 (Table 2 of Dodge et al., 2020).
- :func:`synthetic_task` makes a small learnable binary task (no download), for
  tests and smoke runs.
- :class:`HashTokenizer` is a dependency-free word tokenizer for randomly initialized
  models (``random-tiny``), which have no pretrained vocabulary.
- :func:`epoch_order` is the data-order (DO) seed's only use: the permutation of the
  training examples in each epoch.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seedstats.data.schema import TASKS
from seedstats.errors import DataError, ParseError

__all__ = ["Split", "TaskData", "GLUE_TASKS", "read_glue", "synthetic_task", "load_task",
           "HashTokenizer", "Encoded", "encode", "pad_batch", "epoch_order", "epoch_batches"]


@dataclass
class Split:
    """One split of a classification task.

    Attributes
    ----------
    text_a : list of str
    text_b : list of str or None
        Second sentence of sentence-pair tasks (MRPC, RTE); None otherwise.
    labels : ndarray of int64, shape (n,)
    """
    text_a: list[str]
    text_b: list[str] | None
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.text_a)

    def head(self, n: int | None) -> "Split":
        """The first ``n`` examples (all when ``n`` is None)."""
        if n is None:
            return self
        return Split(self.text_a[:n], None if self.text_b is None else self.text_b[:n],
                     self.labels[:n])


@dataclass
class TaskData:
    """A task's training and validation splits and how it is scored.

    Attributes
    ----------
    name : str
        Task name written to the logs (``"rte"``, ..., ``"synthetic"``).
    train, dev : Split
    metric : str
        Headline metric (Table 2).
    metrics : tuple of str
        Every logged metric, ``"loss"`` first.
    baseline : float
        Majority-class baseline of the validation set (Table 2 for paper tasks).
    source : str
        Where the data came from.
    """
    name: str
    train: Split
    dev: Split
    metric: str
    metrics: tuple[str, ...]
    baseline: float
    source: str = ""
    label_names: tuple[str, ...] = field(default=("0", "1"))


# task -> (folder names, has header, label column, text columns, label values)
GLUE_TASKS = {
    "mrpc": (("MRPC", "mrpc"), True, 0, (3, 4), ("0", "1")),
    "rte": (("RTE", "rte"), True, 3, (1, 2), ("entailment", "not_entailment")),
    "cola": (("CoLA", "cola", "COLA"), False, 1, (3,), ("0", "1")),
    "sst": (("SST-2", "sst-2", "SST2", "sst2", "SST", "sst"), True, 1, (0,), ("0", "1")),
}


def _task_dir(task: str, glue_dir: Path) -> Path:
    if (glue_dir / "train.tsv").exists():
        return glue_dir
    for name in GLUE_TASKS[task][0]:
        if (glue_dir / name / "train.tsv").exists():
            return glue_dir / name
    raise DataError(f"--glue-dir {glue_dir}: no train.tsv there nor in a task folder "
                    f"{' or '.join(GLUE_TASKS[task][0][:2])}/ (the standard GLUE layout)")


def _read_tsv(path: Path, task: str) -> Split:
    _, header, label_col, text_cols, label_values = GLUE_TASKS[task]
    if not path.exists():
        raise DataError(f"{path}: no such file (expected the GLUE {task} split there)")
    lookup = {v: i for i, v in enumerate(label_values)}
    a, b, y = [], [], []
    with open(path, encoding="utf-8-sig") as fh:  # QUOTE_NONE, as the GLUE processors
        for lineno, line in enumerate(fh, 1):
            if header and lineno == 1:
                continue
            line = line.rstrip("\r\n")
            if not line:
                continue
            cols = line.split("\t")
            need = max(label_col, *text_cols) + 1
            if len(cols) < need:
                raise ParseError(path, lineno, f"expected at least {need} tab-separated "
                                 f"columns ({task} layout), got {len(cols)}")
            lab = cols[label_col].strip()
            if lab not in lookup:
                raise ParseError(path, lineno, f"expected a label in {list(label_values)} in "
                                 f"column {label_col + 1}, got {lab!r}")
            y.append(lookup[lab])
            a.append(cols[text_cols[0]])
            if len(text_cols) > 1:
                b.append(cols[text_cols[1]])
    if not y:
        raise DataError(f"{path}: no examples")
    return Split(a, b if len(text_cols) > 1 else None, np.asarray(y, dtype=np.int64))


def read_glue(task: str, glue_dir) -> TaskData:
    """Read one GLUE task (``train.tsv``, ``dev.tsv``) in the standard layout.

    Parameters
    ----------
    task : {"mrpc", "rte", "cola", "sst"}
    glue_dir : str or Path
        The GLUE root (with ``MRPC/``, ``RTE/``, ``CoLA/``, ``SST-2/``) or the task's own
        folder.

    Returns
    -------
    TaskData
        Metric and baseline from Table 2 (:data:`seedstats.data.schema.TASKS`).

    Raises
    ------
    DataError
        A missing folder or file; ParseError (a DataError) for a malformed line, with
        the file and line number.
    """
    if task not in GLUE_TASKS:
        raise ValueError(f"task: expected one of {', '.join(GLUE_TASKS)}, got {task!r}")
    d = _task_dir(task, Path(glue_dir))
    info = TASKS[task]
    return TaskData(task, _read_tsv(d / "train.tsv", task), _read_tsv(d / "dev.tsv", task),
                    info.metric, info.metrics, info.baseline, str(d),
                    GLUE_TASKS[task][4])


_POS = ("good", "great", "fine", "superb")
_NEG = ("bad", "awful", "poor", "dull")
_FILL = tuple(f"w{i}" for i in range(40))


def synthetic_task(n_train: int = 320, n_val: int = 96, seed: int = 0) -> TaskData:
    """A small learnable binary sentiment-like task (task name ``"synthetic"``).

    Each sentence holds 4 to 11 filler words and one cue word; the label is 1 when
    the cue is positive. About 55% of the labels are 1, so the majority baseline of
    the validation set is about 0.55. The data depends only on ``seed`` (never on
    the WI or DO seeds of a trial).

    Parameters
    ----------
    n_train, n_val : int
        Examples per split (at least 2 each).
    seed : int
        Seed of the data itself.

    Returns
    -------
    TaskData
        Metrics ``("loss", "acc")``, headline ``acc``, baseline the validation
        majority fraction.

    Examples
    --------
    >>> t = synthetic_task(8, 4)
    >>> len(t.train), len(t.dev), t.metric
    (8, 4, 'acc')
    """
    for name, v in (("n_train", n_train), ("n_val", n_val)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise ValueError(f"{name}: expected an int >= 2, got {v!r}")
    rng = np.random.default_rng(np.random.SeedSequence([7411, int(seed)]))

    def split(n):
        labels = (rng.random(n) < 0.55).astype(np.int64)
        texts = []
        for lab in labels:
            words = list(rng.choice(_FILL, size=int(rng.integers(4, 12))))
            cue = rng.choice(_POS if lab else _NEG)
            words.insert(int(rng.integers(0, len(words) + 1)), cue)
            texts.append(" ".join(str(w) for w in words))
        return Split(texts, None, labels)

    train, dev = split(n_train), split(n_val)
    p1 = float(dev.labels.mean())
    return TaskData("synthetic", train, dev, "acc", ("loss", "acc"), max(p1, 1 - p1),
                    f"synthetic(n_train={n_train}, n_val={n_val}, seed={seed})")


def load_task(task: str | None, data: str = "glue", glue_dir=None, max_train: int | None = None,
              max_val: int | None = None) -> TaskData:
    """The data of a trial: a GLUE task from ``glue_dir`` or the synthetic task.

    Parameters
    ----------
    task : str or None
        A GLUE task; with ``data="synthetic"`` it must be None or ``"synthetic"``.
    data : {"glue", "synthetic"}
    glue_dir : str or Path, optional
        Required for ``data="glue"``.
    max_train, max_val : int, optional
        Keep only the first examples of each split (smoke runs).

    Returns
    -------
    TaskData
    """
    if data == "synthetic":
        if task not in (None, "synthetic"):
            raise ValueError(f"--task: the synthetic data is logged as task 'synthetic'; "
                             f"got --task {task!r} with --data synthetic")
        td = synthetic_task()
    elif data == "glue":
        if task is None:
            raise ValueError(f"--task: expected one of {', '.join(GLUE_TASKS)} with GLUE data, "
                             "got none")
        if glue_dir is None:
            raise ValueError("--glue-dir: expected the GLUE data folder (or give --data "
                             "synthetic), got none")
        td = read_glue(task, glue_dir)
    else:
        raise ValueError(f"--data: expected 'glue' or 'synthetic', got {data!r}")
    for name, v in (("max_train", max_train), ("max_val", max_val)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 2):
            raise ValueError(f"--{name.replace('_', '-')}: expected an int >= 2, got {v!r}")
    if max_train is not None or max_val is not None:
        td.train, td.dev = td.train.head(max_train), td.dev.head(max_val)
        td.source += f" (first {max_train or 'all'} train / {max_val or 'all'} dev)"
    return td


_WORD = re.compile(r"\w+|[^\w\s]")


class HashTokenizer:
    """A word tokenizer with hashed ids, for models without a pretrained vocabulary.

    Lower-cases, splits into words and punctuation, maps each to
    ``4 + crc32(word) % (vocab_size - 4)``; ids 0-3 are ``[PAD]``, ``[UNK]``,
    ``[CLS]``, ``[SEP]``. Called like a Hugging Face tokenizer
    (``tok(text_a, text_b, truncation=True, max_length=128)``) and returns
    ``input_ids`` and ``token_type_ids`` laid out as BERT's:
    ``[CLS] a [SEP] b [SEP]``, pairs truncated longest-first (a token off the longer
    side, the second on a tie).

    Examples
    --------
    >>> tok = HashTokenizer(100)
    >>> out = tok(["Good movie!"], None, truncation=True, max_length=8)
    >>> len(out["input_ids"][0]), out["input_ids"][0][0], out["input_ids"][0][-1]
    (5, 2, 3)
    """
    pad_token_id = 0
    unk_token_id = 1
    cls_token_id = 2
    sep_token_id = 3

    def __init__(self, vocab_size: int = 1000):
        if vocab_size < 16:
            raise ValueError(f"vocab_size: expected an int >= 16, got {vocab_size!r}")
        self.vocab_size = int(vocab_size)

    def _ids(self, text: str) -> list[int]:
        n = self.vocab_size - 4
        return [4 + zlib.crc32(w.encode()) % n for w in _WORD.findall(text.lower())]

    def __call__(self, text_a, text_b=None, truncation=True, max_length=128):
        ids, types = [], []
        for i, a in enumerate(text_a):
            ta = self._ids(a)
            tb = self._ids(text_b[i]) if text_b is not None else None
            special = 3 if tb is not None else 2
            if truncation:
                while len(ta) + (len(tb) if tb is not None else 0) + special > max_length:
                    if tb is None or len(ta) > len(tb):
                        ta.pop()
                    else:
                        tb.pop()
            seq = [self.cls_token_id, *ta, self.sep_token_id]
            typ = [0] * len(seq)
            if tb is not None:
                seq += [*tb, self.sep_token_id]
                typ += [1] * (len(tb) + 1)
            ids.append(seq)
            types.append(typ)
        return {"input_ids": ids, "token_type_ids": types}


@dataclass
class Encoded:
    """A tokenized split: one id array per example (no padding).

    Attributes
    ----------
    input_ids, token_type_ids : list of ndarray of int64
    labels : ndarray of int64, shape (n,)
    lengths : ndarray of int64, shape (n,)
    """
    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    labels: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def encode(split: Split, tokenizer, max_length: int) -> Encoded:
    """Tokenize a split once (truncated to ``max_length``, no padding)."""
    out = tokenizer(list(split.text_a), None if split.text_b is None else list(split.text_b),
                    truncation=True, max_length=max_length)
    ids = [np.asarray(x, dtype=np.int64) for x in out["input_ids"]]
    if out.get("token_type_ids") is not None:
        types = [np.asarray(x, dtype=np.int64) for x in out["token_type_ids"]]
    else:
        types = [np.zeros_like(x) for x in ids]
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    return Encoded(ids, types, np.asarray(split.labels, dtype=np.int64), lengths)


def pad_batch(enc: Encoded, idx, pad_id: int = 0, pad_to: int | None = None,
              multiple_of: int = 1):
    """Pad the examples ``idx`` to the longest of them (dynamic padding).

    Parameters
    ----------
    enc : Encoded
    idx : sequence of int
    pad_id : int
    pad_to : int, optional
        Pad to this length instead (static padding, for comparisons).
    multiple_of : int
        Round the dynamic length up to a multiple of this (8 suits GPU tensor cores);
        padding is masked, so the result is the same up to rounding.

    Returns
    -------
    (input_ids, token_type_ids, attention_mask, labels)
        int64 arrays of shape (len(idx), L) and (len(idx),).

    Examples
    --------
    >>> enc = Encoded([np.array([2, 5, 3]), np.array([2, 3])], [np.zeros(3, int),
    ...               np.zeros(2, int)], np.array([1, 0]), np.array([3, 2]))
    >>> ids, _, mask, y = pad_batch(enc, [0, 1])
    >>> ids.tolist(), mask.tolist(), y.tolist()
    ([[2, 5, 3], [2, 3, 0]], [[1, 1, 1], [1, 1, 0]], [1, 0])
    >>> pad_batch(enc, [0, 1], multiple_of=4)[0].shape
    (2, 4)
    """
    idx = np.asarray(idx, dtype=np.int64)
    if pad_to is not None:
        width = int(pad_to)
    else:
        width = int(enc.lengths[idx].max())
        width = -(-width // multiple_of) * multiple_of
    ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    types = np.zeros((len(idx), width), dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    for r, i in enumerate(idx):
        n = int(enc.lengths[i])
        ids[r, :n] = enc.input_ids[i]
        types[r, :n] = enc.token_type_ids[i]
        mask[r, :n] = 1
    return ids, types, mask, enc.labels[idx]


def epoch_order(do_seed: int, epoch: int, n: int) -> np.ndarray:
    """Order of the ``n`` training examples in ``epoch`` under data-order seed ``do_seed``.

    ``numpy.random.default_rng(SeedSequence([do_seed, epoch])).permutation(n)``: it
    depends on nothing else (not on the WI seed, the task, the model or the device),
    and each epoch's order is fixed on its own.

    Examples
    --------
    >>> epoch_order(3, 0, 5).tolist() == epoch_order(3, 0, 5).tolist()
    True
    >>> sorted(epoch_order(3, 1, 5).tolist())
    [0, 1, 2, 3, 4]
    """
    if isinstance(do_seed, bool) or not isinstance(do_seed, (int, np.integer)) or do_seed < 0:
        raise ValueError(f"do_seed: expected an int >= 0, got {do_seed!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(do_seed), int(epoch)]))
    return rng.permutation(int(n))


def epoch_batches(do_seed: int, epoch: int, n: int, batch_size: int) -> list[np.ndarray]:
    """The batches of one epoch: :func:`epoch_order` cut into ``batch_size`` pieces.

    The last batch holds the remainder (``ceil(n / batch_size)`` batches, as in the
    paper: 2,490 RTE examples give 156 steps per epoch at batch size 16).

    Examples
    --------
    >>> [len(b) for b in epoch_batches(1, 0, 10, 4)]
    [4, 4, 2]
    """
    order = epoch_order(do_seed, epoch, n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]

"""Models for fine-tuning, and the weight-initialization (WI) seed's only use.

torch and transformers are imported inside the functions (the ``finetune`` extra).

Model names
-----------
``random-tiny``
    A tiny BERT (2 layers, hidden size 32) built from a config and randomly
    initialized: no download, a trial takes seconds on a CPU. For tests and CI.
``random-bert-large``
    BERT-large's architecture (24 layers, hidden size 1024, 340M parameters) randomly
    initialized: the paper's compute without its weights, for benchmarks.
anything else
    A local path or a name that ``transformers.AutoModelForSequenceClassification``
    loads (``bert-large-uncased`` in the paper), with its tokenizer.

The random models' encoder weights come from a fixed seed (``body_seed``), like a
pretrained checkpoint: they never depend on the WI or DO seed (on a GPU they are drawn
on the GPU, so they differ from a CPU's). Their tokenizer is
:class:`seedstats.finetune.data.HashTokenizer`.
"""

from __future__ import annotations

import numpy as np

from seedstats.errors import SeedstatsError
from seedstats.finetune.data import HashTokenizer

__all__ = ["RANDOM_MODELS", "load_model", "head_modules", "init_head", "head_weights",
           "require_torch"]

#: Randomly initialized models: name -> BertConfig keyword arguments.
RANDOM_MODELS = {
    "random-tiny": dict(vocab_size=1000, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=160),
    "random-bert-large": dict(vocab_size=30522, hidden_size=1024, num_hidden_layers=24,
                              num_attention_heads=16, intermediate_size=4096,
                              max_position_embeddings=512),
}

MISSING_EXTRA = "seedstats finetune needs the finetune extra: pip install 'seedstats[finetune]'"


def require_torch():
    """Import and return ``(torch, transformers)``, or raise a one-line SeedstatsError."""
    try:
        import torch
        import transformers
    except ImportError:
        raise SeedstatsError(MISSING_EXTRA) from None
    return torch, transformers


def load_model(name: str, *, num_labels: int = 2, dropout: float = 0.1, body_seed: int = 0,
               device=None):
    """Build or load a sequence classifier and its tokenizer.

    Parameters
    ----------
    name : str
        ``"random-tiny"``, ``"random-bert-large"``, a local path or a model name.
    num_labels : int
    dropout : float
        Hidden, attention and classifier dropout probability.
    body_seed : int
        Seed of the random models' weights (ignored for pretrained models).
    device : str or torch.device, optional
        Where to build the model (random models are initialized there directly).

    Returns
    -------
    (model, tokenizer)
        The model in training mode on ``device``; its head still as built (call
        :func:`init_head` with the WI seed).
    """
    torch, transformers = require_torch()
    from transformers import BertConfig, BertForSequenceClassification

    device = torch.device(device or "cpu")
    if name in RANDOM_MODELS:
        kw = dict(RANDOM_MODELS[name])
        cfg = BertConfig(**kw, num_labels=num_labels, hidden_dropout_prob=dropout,
                         attention_probs_dropout_prob=dropout)
        # a fixed seed, on a forked generator: the caller's global state is untouched.
        # On a GPU the weights are drawn there (BERT-large on a CPU takes many seconds),
        # so a random model's weights depend on body_seed and the device type.
        model = None
        if device.type == "cuda":
            idx = device.index if device.index is not None else torch.cuda.current_device()
            try:
                with torch.random.fork_rng(devices=[idx]), torch.device(device):
                    torch.manual_seed(body_seed)
                    model = BertForSequenceClassification(cfg)
            except (RuntimeError, TypeError, NotImplementedError):
                model = None
        if model is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(body_seed)
                model = BertForSequenceClassification(cfg)
        model.to(device)
        tok = HashTokenizer(kw["vocab_size"])
    else:
        from transformers import (
            AutoConfig,
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        try:
            cfg = AutoConfig.from_pretrained(name, num_labels=num_labels)
            for attr in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout"):
                if hasattr(cfg, attr):
                    setattr(cfg, attr, dropout)
            if getattr(cfg, "classifier_dropout", None) is not None:
                cfg.classifier_dropout = dropout
            tok = AutoTokenizer.from_pretrained(name)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(body_seed)
                model = AutoModelForSequenceClassification.from_pretrained(name, config=cfg)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SeedstatsError(f"--model {name!r}: cannot load it ({first}); give a local "
                                 "path, a name your transformers installation can load, or "
                                 f"one of {', '.join(RANDOM_MODELS)}") from None
        model.to(device)
    model.train()
    return model, tok


def head_modules(model) -> list:
    """The ``Linear`` layers of the classification head, in a fixed order.

    The head is the model's ``classifier`` (BERT, RoBERTa, ALBERT, ELECTRA, ...) or
    ``score`` module: the part that fine-tuning adds to the pretrained encoder.
    """
    torch, _ = require_torch()
    for attr in ("classifier", "score"):
        head = getattr(model, attr, None)
        if head is not None:
            lins = [m for _, m in head.named_modules() if isinstance(m, torch.nn.Linear)]
            if lins:
                return lins
    raise ValueError(f"model: expected a sequence classifier with a 'classifier' or 'score' "
                     f"head of Linear layers, got {type(model).__name__}")


def init_head(model, wi_seed: int, std: float = 0.02) -> None:
    """Draw the head's initial weights from the weight-initialization seed alone.

    Each Linear layer of the head (in :func:`head_modules` order) gets weights
    ``numpy.random.default_rng(wi_seed).normal(0, std, (out, in))`` (drawn in float64,
    stored as float32, one generator for the whole head) and zero biases: the
    paper's N(0, 0.02) initialization (Section 2), bit-identical for one WI seed on
    every task, device and machine (NumPy's generator does not depend on the CPU's
    vector instructions, torch's does).

    Parameters
    ----------
    model : transformers model
    wi_seed : int
        The WI seed (``>= 0``).
    std : float
    """
    torch, _ = require_torch()
    if isinstance(wi_seed, bool) or not isinstance(wi_seed, (int, np.integer)) or wi_seed < 0:
        raise ValueError(f"wi_seed: expected an int >= 0, got {wi_seed!r}")
    rng = np.random.default_rng(int(wi_seed))
    with torch.no_grad():
        for lin in head_modules(model):
            w = rng.normal(0.0, std, size=tuple(lin.weight.shape)).astype(np.float32)
            lin.weight.copy_(torch.from_numpy(w))
            if lin.bias is not None:
                lin.bias.zero_()


def head_weights(model) -> list[np.ndarray]:
    """Copies of the head's weights and biases as NumPy arrays (for checks)."""
    out = []
    for lin in head_modules(model):
        out.append(lin.weight.detach().float().cpu().numpy().copy())
        if lin.bias is not None:
            out.append(lin.bias.detach().float().cpu().numpy().copy())
    return out

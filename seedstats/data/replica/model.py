"""The calibrated synthetic replica of the 2,100-trial release of Dodge et al. (2020).

The original release cannot be downloaded everywhere, and every command of seedstats
must work on a fresh install, so seedstats ships a deterministic generator of a
synthetic data set with the release's shape (Section 3: MRPC, RTE and CoLA on a
25 x 25 grid of weight-initialization (WI) x data-order (DO) seeds, SST on 15 x 15)
and, since version 3, the statistics of the real per-trial paper scores (Tables 1-4,
Figures 2-6, calibrated against ``seedstats.load("dodge2020")`` by
``data/calibrate_replica.py``). It is **not** the real data: see ``data/README.md`` for the
generative model, its calibration targets (``data/replica_targets.csv``), what it does not
reproduce, and how to use the real release instead.

The generative model, per task (all draws from fixed seeds, see :data:`ROOT_SEED`):

* a latent trial quality ``q = mu + a[WI] + b[DO] + ab[WI, DO]`` (logit scale); the
  WI effect is partly shared across tasks (the same seed initializes the same head
  weights on every task; seed 12 is pinned globally good, Section 4.3);
* a failure probability ``sigmoid(alpha - beta * z)`` with ``z`` the standardized
  quality: bad seeds fail more (Figure 3). A failing run learns a little, keeps predicting
  mostly the majority class, and (with probability ``collapse``) then diverges: it collapses
  to the majority class part-way through the first epoch or later (Figure 4);
* a skill ``d = D * sigmoid(q)`` (signal-detection d') and a class bias ``c``; the
  learning curve moves from the untrained model (``before``: WI only) to them on the
  evaluation schedule, with evaluation noise and an early transient; worse seeds learn
  more slowly and the best keep learning for longer, and the class bias may wander, so
  the top of the ranking settles later than the rest (Section 5's early stopping);
* each evaluation is an actual confusion matrix on the validation set (class counts
  :data:`CLASS_COUNTS`), from which accuracy, F1, MCC and their mean follow
  (:func:`confusion_metrics`); validation loss and per-step training loss follow the
  same curve (a diverged run's loss stalls at the label entropy, about ln 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedstats.data import schema
from seedstats.data.dataset import Dataset
from seedstats.data.records import Curve, TrialRecord, build_tables

__all__ = [
    "REPLICA_VERSION",
    "ROOT_SEED",
    "CLASS_COUNTS",
    "ReplicaParams",
    "PARAMS",
    "confusion_metrics",
    "simulate_task",
    "trial_records",
    "build_replica",
]

#: Version of the generator and its constants; part of the cache key. Bump it whenever
#: the output changes (the same version gives byte-identical tables).
REPLICA_VERSION = 3

#: Root entropy of every random stream (the paper's arXiv date, 2020-02-15).
ROOT_SEED = 20200215

# Stable stream keys: never reorder (changing them changes the replica).
_TASK_KEY = {"mrpc": 1, "rte": 2, "cola": 3, "sst": 4}
_GLOBAL_KEY = 0
_EFFECTS, _DIVERGE, _CURVE, _LOSS, _BEFORE, _DRIFT, _COLLAPSE = range(7)

#: Validation-set class counts ``(majority, minority)`` per task: GLUE dev sets
#: (MRPC 279 paraphrases / 129; RTE 146 / 131; CoLA 721 acceptable / 322; SST-2 444
#: positive / 428). The majority fraction is the Table 2 baseline (MRPC: the mean of
#: accuracy 0.684 and F1 0.812 of always predicting the majority class, 0.748).
#: The majority class is the "positive" class of F1 and of the confusion matrices.
CLASS_COUNTS = {"mrpc": (279, 129), "rte": (146, 131), "cola": (721, 322), "sst": (444, 428)}

#: The globally good WI seed of Section 4.3 ("WI seed 12 has the best performance on
#: CoLA and RTE, the second best on MRPC, and third best on SST"): its WI effect is
#: pinned on every task (``ReplicaParams.good_wi``) instead of drawn.
_GOOD_WI = 12


@dataclass(frozen=True)
class ReplicaParams:
    """Calibration constants of one task (fitted by ``data/calibrate_replica.py``; targets in
    ``data/replica_targets.csv``).

    Attributes
    ----------
    mu : float
        Mean latent quality (logit scale).
    s_wi, s_do, s_int : float
        Standard deviations of the WI effect, the DO effect and their interaction.
    rho : float
        Weight of the cross-task WI component in the WI effect (correlation across tasks).
    good_wi : float
        The WI effect of seed 12 in units of ``s_wi`` (pinned, Section 4.3).
    skill : float
        ``D``: the skill (d') of a run of infinite quality; a run's final skill is
        ``D * sigmoid(q)``.
    bias, s_bias : float
        Mean and SD of the final class bias ``c`` (towards the majority class when > 0).
    div_alpha, div_beta : float
        Divergence probability ``sigmoid(div_alpha - div_beta * z)``, ``z`` the quality
        standardized within the task.
    div_early : float
        Fraction of divergences within the first epoch (the rest by epoch 2.5).
    pre_lo, pre_hi : float
        A failing run (probability ``sigmoid(div_alpha - div_beta * z)``) first learns a
        fraction ``U(pre_lo, pre_hi)`` of its skill: its best score (the paper's) lies that far
        above the majority baseline, which makes the low mode of Figure 3.
    collapse : float
        Probability that a failing run then collapses to the majority class (it *diverges*);
        the others stay at their low level to the end of training.
    tau, s_tau, k_tau : float
        Learning-curve time constant (epochs): ``tau * exp(s_tau * N(0,1) - k_tau * z
        + k_top * max(z - z_top, 0))``: worse seeds learn more slowly (``k_tau``).
    k_top, z_top : float
        The best seeds (``z > z_top``) keep learning for longer, so they stand out only
        later in the first epoch: the top of the final ranking settles after the bulk of
        it, which is what makes stopping after 20-30% of training and continuing about
        half of the budget's worth of trials the best early-stopping assignments
        (Section 5, Figure 6).
    s_noise, s_cnoise : float
        Evaluation noise of the skill and of the bias (SD, per evaluation).
    s_trans, tau_trans : float
        Early transient of the skill (SD at epoch 0) and its decay (epochs).
    s_before_bias : float
        SD of the untrained model's class bias (per WI).
    loss_min, s_overfit : float
        Validation loss of a perfectly trained run, and the SD of its growth per epoch.
    tl_end : float
        Median training loss (per step, before minibatch noise) at the end of training.
    tl_sigma : float
        Per-step noise (log scale) of the training loss late in training.
    s_late, tau_late : float
        SD of the part of a trial's quality that emerges only during training (it
        weighs ``(1 - exp(-epoch / tau_late))``, normalized to 1 at the end), which
        makes early scores an imperfect guide to final ones (Figures 5 and 6).
    t0 : float
        Mean take-off time (epochs): until then a run predicts mostly the majority
        class (bias ``c_plateau``) and learns nothing; worse seeds take off later.
    c_plateau : float
        Class bias of a run before take-off, and of a diverged run until it collapses (it
        learns a little but keeps predicting mostly the majority class).
    c_drift, tau_drift : float
        SD and correlation time (epochs) of a slow random walk (Ornstein-Uhlenbeck) of the
        class bias during training: a trial's score keeps wandering after it has learned,
        so which trial ends up best is only partly known early.
    """

    mu: float
    s_wi: float
    s_do: float
    s_int: float
    rho: float
    good_wi: float
    skill: float
    bias: float
    s_bias: float
    div_alpha: float
    div_beta: float
    div_early: float
    tau: float
    s_tau: float
    k_tau: float
    s_noise: float
    s_cnoise: float
    s_trans: float
    tau_trans: float
    s_before_bias: float = 1.0
    loss_min: float = 0.25
    s_overfit: float = 0.06
    tl_end: float = 0.02
    tl_sigma: float = 0.9
    s_late: float = 0.0
    tau_late: float = 1.0
    t0: float = 0.0
    c_plateau: float = 1.5
    k_top: float = 0.0
    z_top: float = 1.0
    c_drift: float = 0.0
    tau_drift: float = 0.5
    pre_lo: float = 0.05
    pre_hi: float = 0.5
    collapse: float = 1.0


#: Calibrated constants per task.
PARAMS: dict[str, ReplicaParams] = {
    "mrpc": ReplicaParams(mu=1.6135, s_wi=0.5545, s_do=0.3, s_int=0.9223, rho=0.7, good_wi=2.4699,
                          skill=2.4323, bias=0.4003, s_bias=0.4058, div_alpha=-0.7243,
                          div_beta=0.3425, div_early=0.2841, tau=0.1875, s_tau=0.1, k_tau=0.15,
                          s_noise=0.0093, s_cnoise=0.1, s_trans=0.05, tau_trans=0.3, s_late=0.3166,
                          t0=0.1125, c_plateau=2.2874, k_top=0.9, c_drift=0.05, pre_lo=0.3153,
                          pre_hi=0.7946),
    "rte": ReplicaParams(mu=0.4873, s_wi=0.3848, s_do=0.4041, s_int=0.9895, rho=0.7,
                         good_wi=2.1273, skill=1.205, bias=0.0018, s_bias=0.1427,
                         div_alpha=-0.3355, div_beta=0.9057, div_early=0.594, tau=0.15, s_tau=0.1,
                         k_tau=0.15, s_noise=0.1098, s_cnoise=0.1, s_trans=0.05, tau_trans=0.3,
                         s_late=0.3063, t0=0.1688, c_plateau=0.7776, k_top=0.3, c_drift=0.3,
                         pre_lo=0.1491, pre_hi=0.7955),
    "cola": ReplicaParams(mu=2.1146, s_wi=0.2176, s_do=0.1357, s_int=0.2448, rho=0.7, good_wi=4.3,
                          skill=1.9844, bias=0.3083, s_bias=0.149, div_alpha=-1.3578,
                          div_beta=0.4427, div_early=0.8103, tau=0.12, s_tau=0.1, k_tau=0.15,
                          s_noise=0.0444, s_cnoise=0.08, s_trans=0.05, tau_trans=0.3,
                          s_late=0.1676, t0=0.045, c_plateau=0.7449, k_top=0.375, pre_lo=0.486,
                          pre_hi=0.8487, collapse=0.25),
    "sst": ReplicaParams(mu=3.2727, s_wi=0.1058, s_do=0.2015, s_int=0.2008, rho=0.7,
                         good_wi=1.5076, skill=2.9966, bias=0.0004, s_bias=0.0208, div_alpha=-15.0,
                         div_beta=1.0, div_early=0.8, tau=0.04, s_tau=0.2, k_tau=0.0,
                         s_noise=0.0984, s_cnoise=0.03, s_trans=0.022, tau_trans=0.744,
                         tl_end=0.06, tl_sigma=0.8, s_late=0.0264, tau_late=1.5, t0=0.0375),
}


# --- metrics -----------------------------------------------------------------------------


def confusion_metrics(tp, fn, fp, tn) -> dict[str, np.ndarray]:
    """Accuracy, F1, Matthews correlation and their GLUE combination from confusion counts.

    The headline metrics of Table 2 of Dodge et al. (2020), computed the way GLUE does
    (``sklearn``): F1 of the positive class (here the majority class); MCC is 0 when
    a row or column of the confusion matrix is empty.

    Parameters
    ----------
    tp, fn, fp, tn : array-like of int
        Counts (same shape): positives predicted positive, positives predicted negative,
        negatives predicted positive, negatives predicted negative.

    Returns
    -------
    dict of str to ndarray
        Keys ``acc``, ``f1``, ``mcc``, ``acc_and_f1`` (the mean of acc and F1, MRPC's
        headline metric); float64 arrays of the input's shape.

    Raises
    ------
    ValueError
        Negative counts, or a confusion matrix with no examples.

    Examples
    --------
    >>> m = confusion_metrics(279, 0, 129, 0)  # always the majority class on MRPC
    >>> round(float(m["acc"]), 4), round(float(m["f1"]), 4), float(m["mcc"])
    (0.6838, 0.8122, 0.0)
    """
    tp, fn, fp, tn = (np.asarray(x, dtype=np.int64) for x in (tp, fn, fp, tn))
    for name, x in (("tp", tp), ("fn", fn), ("fp", fp), ("tn", tn)):
        if np.any(x < 0):
            raise ValueError(f"{name}: expected counts >= 0, got minimum {int(x.min())}")
    n = tp + fn + fp + tn
    if np.any(n == 0):
        raise ValueError("tp, fn, fp, tn: expected at least one example, got an all-zero "
                         "confusion matrix")
    acc = (tp + tn) / n
    f1_den = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, f1_den, out=np.zeros(np.shape(n), np.float64), where=f1_den > 0)
    # Products of counts as floats: exact below 2**53 (validation sets are small).
    den = np.sqrt((tp + fp).astype(np.float64) * (tp + fn) * (tn + fp) * (tn + fn))
    num = (tp * tn - fp * fn).astype(np.float64)
    mcc = np.divide(num, den, out=np.zeros(np.shape(n), np.float64), where=den > 0)
    return {"acc": acc, "f1": f1, "mcc": mcc, "acc_and_f1": (acc + f1) / 2}


# --- the generator -----------------------------------------------------------------------


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(ROOT_SEED, spawn_key=key))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _global_wi(n: int = 25) -> np.ndarray:
    """The WI component shared by all tasks (index 0 is seed 1)."""
    return _rng(_GLOBAL_KEY).standard_normal(n)


def _f32(x: np.ndarray) -> np.ndarray:
    """Round to float32 (what a GPU logs), so last-bit differences of math libraries vanish."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def simulate_task(task: str, params: ReplicaParams | None = None, *,
                  train_loss: bool = True) -> dict[str, np.ndarray]:
    """Draw one task's trials as arrays (the replica before it becomes tables).

    Parameters
    ----------
    task : str
        ``"mrpc"``, ``"rte"``, ``"cola"`` or ``"sst"``.
    params : ReplicaParams, optional
        Default: the calibrated :data:`PARAMS` of the task (other values are for
        calibration experiments; the replica itself always uses the defaults).
    train_loss : bool
        Also draw the per-step training loss (the bulk of the work); calibration
        experiments that need only the validation scores turn it off.

    Returns
    -------
    dict of str to ndarray
        ``wi_seed``, ``do_seed`` (T,) with T = N * N trials, WI-major; ``steps`` (E,)
        the ``"during"`` steps (the task's schedule); ``diverged`` (T,) the latent
        divergence; ``quality`` (T,); for each metric of the task (validation ``loss``
        first) ``"<metric>"`` (T, E + 2): column 0 ``before``, columns 1..E ``during``,
        the last column ``after``; ``counts`` (T, E + 2, 4) the confusion matrices
        ``tp, fn, fp, tn``; ``train_loss`` (T, n_steps) unless ``train_loss=False``.
    """
    from scipy.special import ndtr

    info = schema.task_info(task)
    if params is not None and not isinstance(params, ReplicaParams):
        raise TypeError(f"params: expected a ReplicaParams or None, got "
                        f"{type(params).__name__}")
    p = PARAMS[task] if params is None else params
    key = _TASK_KEY[task]
    N = info.grid_size
    n_pos, n_neg = CLASS_COUNTS[task]
    spe = info.steps_per_epoch
    wi = np.repeat(np.arange(1, N + 1), N)
    do = np.tile(np.arange(1, N + 1), N)
    T = N * N

    q_early, q_late, z = _seed_effects(p, key, N)
    q = q_early + q_late
    failing, diverged, e_div, pre_frac = _divergence(p, key, z)
    d_before, c_before, before_loss = _untrained(p, key, N)

    # Learning curves on the schedule (during) plus the after evaluation.
    steps = np.asarray(info.schedule, dtype=np.int64)
    ev_steps = np.append(steps, info.n_steps - 1)
    ep = (ev_steps + 1) / spe                                      # (E+1,)
    r = _rng(key, _CURVE)
    w_late = -np.expm1(-ep / p.tau_late) / -np.expm1(-ep[-1] / p.tau_late)
    d_fin = p.skill * _sigmoid(q_early[:, None] + q_late[:, None] * w_late[None, :])
    # A run that fails never leaves the majority-heavy bias of the plateau (Figure 4).
    c_fin = np.where(failing, p.c_plateau, p.bias) + p.s_bias * r.standard_normal(T)
    tau = p.tau * np.exp(p.s_tau * r.standard_normal(T) - p.k_tau * z
                         + p.k_top * np.maximum(z - p.z_top, 0.0))
    tau = np.where(failing, 2 * tau, tau)
    d_target = np.where(failing[:, None], d_fin * pre_frac[:, None], d_fin)
    # Take-off: until t0 the model sits near the majority class (bias c_plateau).
    t0 = p.t0 * 2 * r.random(T)
    run = np.maximum(ep[None, :] - t0[:, None], 0.0)
    prog = -np.expm1(-run / tau[:, None])                           # (T, E+1)
    trans = (p.s_trans * r.standard_normal(T))[:, None] * np.exp(-ep / p.tau_trans)[None, :]
    d = d_target * prog + trans + p.s_noise * r.standard_normal((T, len(ep)))
    c_prog = -np.expm1(-run / (0.5 * tau[:, None]))
    settle = -np.expm1(-ep / 0.05)[None, :]                       # leaving the init bias
    c_train = p.c_plateau * (1 - c_prog) + c_fin[:, None] * c_prog
    c = (c_before[wi - 1][:, None] * (1 - settle) + c_train * settle
         + p.s_cnoise * r.standard_normal((T, len(ep))))
    if p.c_drift > 0:   # the class bias wanders once the run has learned
        c = c + p.c_drift * c_prog * _ou(_rng(key, _DRIFT), T, ep, p.tau_drift)
    d = np.maximum(d, 0.0)
    tp = np.rint(n_pos * ndtr(d / 2 + c)).astype(np.int64)
    tn = np.rint(n_neg * ndtr(d / 2 - c)).astype(np.int64)
    collapsed = diverged[:, None] & (ep[None, :] >= e_div[:, None])
    tp = np.where(collapsed, n_pos, tp)
    tn = np.where(collapsed, 0, tn)
    tp_b = np.rint(n_pos * ndtr(d_before / 2 + c_before)).astype(np.int64)[wi - 1]
    tn_b = np.rint(n_neg * ndtr(d_before / 2 - c_before)).astype(np.int64)[wi - 1]
    tp = np.concatenate([tp_b[:, None], tp], axis=1)               # (T, E+2)
    tn = np.concatenate([tn_b[:, None], tn], axis=1)
    counts = np.stack([tp, n_pos - tp, n_neg - tn, tn], axis=-1)
    metrics = confusion_metrics(tp, n_pos - tp, n_neg - tn, tn)

    # Validation loss: from the label entropy down with skill, up with overconfidence.
    pi = n_pos / (n_pos + n_neg)
    H = -(pi * np.log(pi) + (1 - pi) * np.log(1 - pi))
    skill = np.clip(d / p.skill, 0.0, 1.0)
    overfit = np.abs(p.s_overfit * r.standard_normal(T))[:, None]
    vloss = (H + (p.loss_min - H) * skill + overfit * ep[None, :] * skill
             + 0.01 * r.standard_normal((T, len(ep))))
    vloss = np.where(collapsed, H + 0.003 * np.abs(r.standard_normal(collapsed.shape)), vloss)
    vloss = np.concatenate([before_loss[wi - 1][:, None], vloss], axis=1)

    out = {"wi_seed": wi, "do_seed": do, "steps": steps, "diverged": diverged, "quality": q,
           "counts": counts, "loss": _f32(vloss)}
    for m in info.metrics[1:]:
        out[m] = metrics[m]
    if train_loss:
        out["train_loss"] = _f32(_train_loss(task, p, do, z, diverged, e_div, tau,
                                             before_loss[wi - 1], H))
    return out


def _seed_effects(p: ReplicaParams, key: int, N: int):
    """Seed effects and latent quality (Section 4): early and late quality, standardized ``z``."""
    r = _rng(key, _EFFECTS)
    T = N * N
    a = p.s_wi * (p.rho * _global_wi()[:N] + np.sqrt(1 - p.rho ** 2) * r.standard_normal(N))
    a[_GOOD_WI - 1] = p.s_wi * p.good_wi
    b = p.s_do * r.standard_normal(N)
    ab = p.s_int * r.standard_normal((N, N))
    q_late = p.s_late * r.standard_normal(T)        # emerges over training (Figure 5)
    q_early = (p.mu + a[:, None] + b[None, :] + ab).ravel()
    z = (q_early - p.mu) / np.sqrt(p.s_wi ** 2 + p.s_do ** 2 + p.s_int ** 2)
    return q_early, q_late, z


def _divergence(p: ReplicaParams, key: int, z: np.ndarray):
    """Failing runs and divergence (Figures 2-4): probability from the seed effects; how far
    a failing run learns; whether and when it collapses."""
    r = _rng(key, _DIVERGE)
    T = len(z)
    p_div = _sigmoid(p.div_alpha - p.div_beta * z)
    failing = r.random(T) < p_div
    early = r.random(T) < p.div_early
    e_div = np.where(early, r.uniform(0.15, 1.0, T), r.uniform(1.0, 2.5, T))
    pre_frac = r.uniform(p.pre_lo, p.pre_hi, T)
    diverged = failing & (_rng(key, _COLLAPSE).random(T) < p.collapse)
    return failing, diverged, e_div, pre_frac


def _untrained(p: ReplicaParams, key: int, N: int):
    """The untrained model (WI only): no skill to speak of, a WI-dependent class bias."""
    r = _rng(key, _BEFORE)
    d_before = 0.1 * r.standard_normal(N)
    c_before = p.s_before_bias * r.standard_normal(N)
    before_loss = np.log(2.0) + 0.02 * c_before ** 2 + 0.005 * r.random(N)
    return d_before, c_before, before_loss


def _ou(r: np.random.Generator, n: int, t: np.ndarray, tau: float) -> np.ndarray:
    """``n`` stationary Ornstein-Uhlenbeck paths (unit variance, correlation time ``tau``)
    at the increasing times ``t``: shape ``(n, len(t))``."""
    x = np.empty((n, len(t)))
    x[:, 0] = r.standard_normal(n)
    rho = np.exp(-np.diff(t) / tau)
    for i in range(1, len(t)):
        x[:, i] = rho[i - 1] * x[:, i - 1] + np.sqrt(1 - rho[i - 1] ** 2) * r.standard_normal(n)
    return x


def _train_loss(task, p, do, z, diverged, e_div, tau, l0, H) -> np.ndarray:
    """Training loss at every step (T, n_steps): decays with the learning curve, each
    step a noisy minibatch (the DO seed fixes the batches, shared by its WIs); a
    diverged run's loss stalls at the label entropy ``H`` (about ln 2)."""
    info = schema.task_info(task)
    r = _rng(_TASK_KEY[task], _LOSS)
    T, N, S = len(do), info.grid_size, info.n_steps
    ep_s = np.arange(1, S + 1) / info.steps_per_epoch               # (S,)
    l_end = p.tl_end * np.exp(0.4 * r.standard_normal(T) - 0.5 * z)
    l_end = np.where(diverged, H * 0.9, l_end)
    # A fast fall with the learning curve, then a slow one (memorization) to l_end.
    slow = l_end[:, None] * np.exp(np.where(diverged, 0.0, 1.5)[:, None]
                                   * (info.n_epochs - ep_s[None, :]) / info.n_epochs)
    mean = slow + (l0[:, None] - slow) * np.exp(-ep_s[None, :] / (1.5 * tau[:, None]))
    stalled = diverged[:, None] & (ep_s[None, :] >= e_div[:, None])
    mean = np.where(stalled, H, mean)
    learned = np.clip(1 - mean / l0[:, None], 0.0, 1.0)
    sigma = np.where(stalled, 0.1, 0.15 + (p.tl_sigma - 0.15) * learned)
    batch = r.standard_normal((N, S))[do - 1]                      # the DO's batches
    noise = 0.5 * batch + np.sqrt(0.75) * r.standard_normal((T, S))
    return mean * np.exp(sigma * noise - sigma ** 2 / 2)


def trial_records(task: str, sim: dict) -> list:
    """The trial records of one simulated task (:func:`simulate_task`), as the tables need."""
    info = schema.task_info(task)
    steps = sim["steps"]
    recs = []
    for i in range(len(sim["wi_seed"])):
        curves = {}
        for m in info.metrics:
            row = sim[m][i]
            curves[m] = Curve(float(row[0]), steps, row[1:-1], float(row[-1]))
        recs.append(TrialRecord(task, int(sim["wi_seed"][i]), int(sim["do_seed"][i]), None,
                                curves, sim["train_loss"][i], complete=True, source="replica",
                                n_steps=info.n_steps))
    return recs


def _meta() -> dict:
    return {
        "synthetic": True,
        "provenance": {"kind": "synthetic replica", "replica_version": REPLICA_VERSION,
                       "of": "Dodge et al. 2020 release", "root_seed": ROOT_SEED,
                       "generator": "seedstats.data.replica"},
    }


def build_replica():
    """Build the synthetic replica of the 2,100-trial release (Dodge et al. 2020, Section 3).

    Deterministic: every random draw comes from a fixed seed per task and component
    (:data:`ROOT_SEED`); no timestamps are recorded, so the tables (and their Parquet
    files) are identical on every build of the same :data:`REPLICA_VERSION`.

    Returns
    -------
    Dataset
        ``trials`` (2,100 rows: mrpc, rte, cola 25 x 25 WI x DO seeds, sst 15 x 15,
        seeds 1..N), ``evals`` and ``train_loss`` with the columns of
        :mod:`seedstats.data.schema`; ``meta`` has ``synthetic: True`` and
        ``provenance`` (``kind``, ``replica_version``, ``of``, ``root_seed``,
        ``generator``).

    Examples
    --------
    >>> ds = build_replica()  # doctest: +SKIP
    >>> len(ds.trials)  # doctest: +SKIP
    2100
    """
    records = []
    for task in schema.TASKS:
        records += trial_records(task, simulate_task(task))
    trials, evals, train_loss = build_tables(records)
    return Dataset(trials, evals, train_loss, _meta())

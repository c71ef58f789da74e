"""Checks for notebook 06 Regularization and the training workflow.

References are computed at check time, in float64: PyTorch autograd for the penalties (Keras's
``L1(lam)``: lam * sum |w|, ``L2(lam)``: lam * sum w**2), ``nn.BatchNorm1d`` and ``layer_norm``,
scikit-learn's ``KFold``. ``dropout``'s mask is the student's own draw: the check tests what every
correct dropout does. ``EarlyStopping`` is run step by step beside :func:`keras_rule`, Keras's rule
in plain Python (no TensorFlow import): tests/test_checks_regularization.py proves it is Keras's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from coursekit.checks import randomness, steps, torchref
from coursekit.checks.core import Checker, check, summarize
from coursekit.checks.exercise import Exercise, Run

__all__ = ["check_kfold_indices", "check_l1_penalty", "check_l2_penalty", "check_dropout",
           "check_batchnorm_forward", "check_layernorm_forward", "check_early_stopping"]


# -- penalties ------------------------------------------------------------------------------------
def _penalty(kind: str) -> Callable:
    """Keras's penalty and its gradient, by autograd in float64 (|w|' = sign(w), 0 at 0)."""

    def reference(params, lam):
        value, grads = torchref.value_and_grads(
            lambda *ws: lam * sum((w.abs() if kind == "l1" else w * w).sum() for w in ws), *params)
        return float(value), list(grads)

    return reference


# each penalty's term and its gradient, in NumPy (the known mistakes are built from them)
TERMS = {"l1": (np.abs, lambda w, lam: lam * np.sign(w)),
         "l2": (np.square, lambda w, lam: 2 * lam * w)}


def _np_penalty(kind: str, grad: Callable | None = None, which=slice(None), lam_scale=1.0):
    """``kind``'s penalty with one mistake: the gradient ``grad(w, lam)``, only ``params[which]``
    penalised, or the penalty times ``lam_scale``."""
    term, right = TERMS[kind]

    def fn(params, lam):
        chosen = set(range(len(params))[which])
        value = sum(float(np.sum(term(w))) for i, w in enumerate(params) if i in chosen)
        return lam * lam_scale * value, [(grad or right)(w, lam) if i in chosen else
                                         np.zeros_like(w) for i, w in enumerate(params)]

    return fn


EVERY_ARRAY = "penalise every array in params (sum over all of them), and give each its gradient"
PENALTY_HINTS = {".shape": "one gradient per array in params, each of that array's shape",
                 "grads": "grads is a list with one gradient per array in params, each of that "
                          "array's shape",
                 "": "return a tuple (penalty, grads): a number and a list of arrays"}

L1 = Exercise(
    "l1_penalty", signature="l1_penalty(params, lam)", returns=("penalty", "grads"),
    reference=_penalty("l1"), hints=PENALTY_HINTS,
    hint={"penalty": "penalty = lam * (sum of |w| over every entry of every array)",
          "": "the gradient of lam * |w| is lam * sign(w), and 0 where w == 0"},
    wrong=[(_np_penalty("l1", lambda w, lam: lam * np.where(w >= 0, 1.0, -1.0)),
            "the L1 subgradient at w = 0 is 0: use np.sign(w), which is 0 at 0"),
           (_np_penalty("l1", lambda w, lam: np.sign(w)), "multiply the gradient by lam too"),
           (_np_penalty("l1", lambda w, lam: lam * np.abs(w)),
            "the derivative of |w| is sign(w), not |w|"),
           (_np_penalty("l2"), "L1 is lam * sum(|w|): absolute values, not squares"),
           (_np_penalty("l1", which=slice(0, 1)), EVERY_ARRAY),
           (_np_penalty("l1", which=slice(-1, None)), EVERY_ARRAY)],
)

L2 = Exercise(
    "l2_penalty", signature="l2_penalty(params, lam)", returns=("penalty", "grads"),
    reference=_penalty("l2"), hints=PENALTY_HINTS,
    hint={"penalty": "penalty = lam * (sum of w**2 over every entry of every array)",
          "": "the gradient of lam * w**2 is 2 * lam * w"},
    wrong=[(_np_penalty("l2", lambda w, lam: lam * w),
            "the derivative of lam * w**2 is 2 * lam * w"),
           (_np_penalty("l2", lambda w, lam: lam * w, lam_scale=0.5),
            "Keras's L2(lam) is lam * sum(w**2), without the 1/2 of some textbooks: the gradient "
            "is then 2 * lam * w"),
           (lambda p, lam: (lam * math.sqrt(sum(float(np.sum(w * w)) for w in p)),
                            _np_penalty("l2")(p, lam)[1]),
            "the L2 penalty is the squared norm: lam * sum(w**2), no square root"),
           (_np_penalty("l2", TERMS["l1"][1]),
            "the gradient of lam * w**2 is 2 * lam * w, not lam * sign(w) (L1's)"),
           (_np_penalty("l2", which=slice(0, 1)), EVERY_ARRAY),
           (_np_penalty("l2", which=slice(-1, None)), EVERY_ARRAY)],
)


def _penalty_cases(run: Run, by_hand) -> None:
    def params(*shapes, sparse=False):  # sparse: exact zeros, where only a subgradient exists
        return [run.rng.normal(size=s) * (run.rng.random(s) < 0.5 if sparse else 1.0)
                for s in shapes]

    run.case("by hand: params [[1, -2], [0, 3]] and [0.5, 0], lam = 0.1",
             [np.array([[1.0, -2.0], [0.0, 3.0]]), np.array([0.5, 0.0])], 0.1, expected=by_hand)
    run.case("a 2-layer network's weights and biases", params((4, 3), (3,), (3, 2), (2,)),
             float(run.rng.uniform(1e-3, 0.1)))
    run.case("many exact zeros", params((6, 5), (5,), sparse=True), 0.05)
    run.case("one array", params((3, 4, 2)), 0.5)
    run.case("lam = 0: no penalty", params((3, 2), (2,)), 0.0)
    run.unchanged("leaves params unchanged", params((4, 3), (3,)), 0.1)


@check(L1)
def check_l1_penalty(run: Run, l1_penalty: Callable) -> None:
    _penalty_cases(run, (0.65, [[[0.1, -0.1], [0.0, 0.1]], [0.1, 0.0]]))


@check(L2)
def check_l2_penalty(run: Run, l2_penalty: Callable) -> None:
    _penalty_cases(run, (1.425, [[[0.2, -0.4], [0.0, 0.6]], [0.1, 0.0]]))


# -- dropout --------------------------------------------------------------------------------------
def probe_dropout(dropout: Callable, x: np.ndarray, p: float, seed: int,
                  training: bool = True) -> dict:
    """``dropout(x, p, training=training, rng=...)`` run where it lives, with generators in the
    same state and in another (see :func:`coursekit.checks.randomness.probe_seeded`)."""
    return randomness.probe_seeded(dropout, x, p, seed=seed, training=training)


EVAL_IDENTITY = ("when training is False (evaluation), dropout does nothing: return x unchanged "
                 "(inverted dropout already scaled while training, so no (1 - p) factor here)")
SCALES = ((lambda p: 1.0, "inverted dropout scales the kept values by 1 / (1 - p) while training, "
                          "so that the expected output equals x: return mask * x / (1 - p)"),
          (lambda p: p, "divide the kept values by (1 - p); do not multiply them by p"),
          (lambda p: 1 - p, "divide the kept values by (1 - p); do not multiply them by (1 - p)"),
          (lambda p: 1 / p, "divide the kept values by (1 - p), the probability of keeping, "
                            "not by p"))
VALUES = "each value is either 0 (dropped) or x / (1 - p) (kept)"


@check("dropout")
def check_dropout(t: Checker, dropout: Callable) -> None:
    seed, ones, x = int(t.rng.integers(2**31)), np.ones((50, 40)), t.rng.normal(size=(200, 100))
    got = t.probe(probe_dropout, dropout, ones, 0.25, seed)
    randomness.masked(t, "by hand: x all ones, p = 0.25: every value is 0 or 1 / 0.75",
                      got["first"], ones, 0.25, scale=1 / 0.75, wrong=SCALES, hint=VALUES)
    for p in (0.2, 0.8):
        got = t.probe(probe_dropout, dropout, x, p, seed)
        randomness.masked(t, f"random x (200, 100), p = {p}", got["first"], x, p,
                          scale=1 / (1 - p), wrong=SCALES, hint=VALUES)
        randomness.reproducible(t, got, "mask", example="rng.random(x.shape)")
    out = t.call(dropout, x[:4], 0.5, signature="dropout(x, p, training=True, rng=None)",
                 error_hints=(("NoneType", "rng=None must work: start with `if rng is None: "
                                           "rng = np.random.default_rng()`"),))
    randomness.masked(t, "rng left out (None): a fresh generator", out, x[:4], 0.5, scale=2.0,
                      wrong=SCALES, hint=VALUES)
    for p, training, label in ((0.3, False, "training=False: x unchanged"),
                               (0.0, True, "p = 0: x unchanged")):
        got = t.probe(probe_dropout, dropout, x[:5], p, seed, training)
        first = t.conform(f"{label}: returns an array of x's shape", got["first"], x[:5])
        t.close(label, first, x[:5],
                hint=EVAL_IDENTITY if not training else
                "with p = 0 nothing is dropped and the scale 1 / (1 - 0) is 1: return x",
                wrong=[(x[:5] * (1 - p), EVAL_IDENTITY)])


# -- batch norm and layer norm ------------------------------------------------------------------
def _batchnorm(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    layer = torchref.module("BatchNorm1d", x.shape[1], eps=eps, momentum=momentum, state={
        "weight": gamma, "bias": beta, "running_mean": running_mean, "running_var": running_var})
    out = torchref.no_grad(layer.train(training), x)
    return out, torchref.numpy(layer.running_mean), torchref.numpy(layer.running_var)


def _norm(x, g, b, eps, axis, ddof=0, eps_out=False):
    mean, var = x.mean(axis=axis, keepdims=True), x.var(axis=axis, ddof=ddof, keepdims=True)
    return g * (x - mean) / (np.sqrt(var) + eps if eps_out else np.sqrt(var + eps)) + b


def _bn(*, ddof=0, run_ddof=1, keras=False, update=True, batch_in_eval=False, eps_out=False,
        axis=0):
    """A NumPy batch norm with one classic mistake (for the diagnosis)."""

    def fn(x, g, b, rm, rv, training=True, momentum=0.1, eps=1e-5):
        if training or batch_in_eval:
            out = _norm(x, g, b, eps, axis, ddof, eps_out)
        else:
            out = g * (x - rm) / (np.sqrt(rv) + eps if eps_out else np.sqrt(rv + eps)) + b
        if training and update:
            m = 1 - momentum if keras else momentum
            rm = (1 - m) * rm + m * x.mean(axis=0)
            rv = (1 - m) * rv + m * x.var(axis=0, ddof=run_ddof)
        return out, rm, rv

    return fn


EPS_INSIDE = "eps goes inside the square root: (x - mean) / sqrt(var + eps)"
BATCHNORM = Exercise(
    "batchnorm_forward", returns=("out", "running_mean", "running_var"), reference=_batchnorm,
    signature="batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, "
              "momentum=0.1, eps=1e-5)",
    hint={"out": "training: normalise each feature with the batch's mean and biased variance "
                 "(axis 0); evaluation: with the running statistics; then gamma * x_hat + beta",
          "": "training: running = (1 - momentum) * running + momentum * batch statistic (the "
              "unbiased variance, N - 1); evaluation: return the running statistics unchanged"},
    hints={"out.shape": "out has x's shape (N, D): reduce over axis 0",
           ".shape": "the running statistics have one entry per feature: shape (D,)"},
    wrong=[(_bn(ddof=1), "normalise with the biased batch variance (divide by N, np.var's "
                         "default), as BatchNorm1d does; the unbiased one (N - 1) is only for "
                         "the running estimate"),
           (_bn(run_ddof=0), "the running variance is updated with the UNBIASED batch variance "
                             "(ddof=1, N - 1), as BatchNorm1d does"),
           (_bn(keras=True), "PyTorch's momentum weighs the new batch: running = (1 - momentum) "
                             "* running + momentum * batch (Keras's momentum=0.99 weighs the "
                             "old value)"),
           (_bn(update=False), "in training mode, update the running statistics with the batch's"),
           (_bn(batch_in_eval=True),
            "in evaluation (training=False) normalise with the running statistics, not the "
            "batch's"),
           (_bn(eps_out=True), EPS_INSIDE),
           (_bn(axis=1),
            "batch norm averages over the batch (axis 0): one mean and variance per feature")],
)


@check(BATCHNORM)
def check_batchnorm_forward(run: Run, batchnorm_forward: Callable) -> None:
    def stats(d):  # gamma, beta, running_mean, running_var: (D,) each
        return (run.rng.normal(1.0, 0.2, d), run.rng.normal(0.0, 0.5, d),
                run.rng.normal(0.0, 0.5, d), run.rng.uniform(0.5, 2.0, d))

    run.case("by hand: x = [[1, 0], [3, 4]], gamma [2, 1], beta [0, 1], eps tiny: out [[-2, 0], "
             "[2, 2]], running mean [0.2, 0.2], running var [1.1, 1.7]",
             np.array([[1.0, 0.0], [3.0, 4.0]]), np.array([2.0, 1.0]), np.array([0.0, 1.0]),
             np.zeros(2), np.ones(2), eps=1e-12,
             expected=([[-2.0, 0.0], [2.0, 2.0]], [0.2, 0.2], [1.1, 1.7]))
    run.case("training, random x (16, 5)", run.rng.normal(2.0, 3.0, (16, 5)), *stats(5))
    run.case("training, momentum = 0.3", run.rng.normal(size=(8, 3)), *stats(3), momentum=0.3)
    run.case("evaluation (training=False): the running statistics", run.rng.normal(size=(6, 4)),
             *stats(4), training=False)
    run.case("a batch of two", run.rng.normal(size=(2, 3)), *stats(3))
    run.case("features of small variance: eps matters", run.rng.normal(0.0, 0.01, (10, 3)), *stats(3))
    run.unchanged("leaves its inputs unchanged", run.rng.normal(size=(8, 3)), *stats(3))


LAYERNORM = Exercise(
    "layernorm_forward", signature="layernorm_forward(x, gamma, beta, eps=1e-5)",
    reference=lambda x, gamma, beta, eps=1e-5: torchref.no_grad(
        lambda t, g, b: torchref.functional().layer_norm(t, (t.shape[-1],), g, b, eps),
        x, gamma, beta),
    hint="normalise each example over its features (the last axis, keepdims=True) with the "
         "biased variance, then gamma * x_hat + beta",
    hints={".shape": "out has x's shape: reduce over axis=-1 with keepdims=True"},
    mistakes_by_position=True,
    wrong=[(lambda x, g, b, eps: _norm(x, g, b, eps, 0),
            "layer norm normalises each example over its own features (the last axis), not "
            "each feature over the batch (that is batch norm)"),
           (lambda x, g, b, eps: _norm(x, g, b, eps, -1, ddof=1),
            "use the biased variance (divide by D, np.var's default), as nn.LayerNorm does"),
           (lambda x, g, b, eps: _norm(x, g, b, eps, -1, eps_out=True), EPS_INSIDE),
           (lambda x, g, b, eps: _norm(x, 1.0, 0.0, eps, -1) * g,
            "add beta after scaling: gamma * x_hat + beta"),
           (lambda x, g, b, eps: _norm(x, 1.0, 0.0, eps, -1),
            "scale by gamma and shift by beta: gamma * x_hat + beta"),
           (lambda x, g, b, eps: _norm(x, g, b, eps, 1),
            "normalise over the last axis (axis=-1), whatever the number of dimensions")],
)


@check(LAYERNORM)
def check_layernorm_forward(run: Run, layernorm_forward: Callable) -> None:
    def affine(d):  # gamma, beta: (D,) each
        return run.rng.normal(1.0, 0.2, d), run.rng.normal(0.0, 0.5, d)

    run.case("by hand: x = [[1, 3], [0, 4]], gamma [2, 1], beta [0, 1], eps = 0: "
             "[[-2, 2], [-2, 2]]",
             np.array([[1.0, 3.0], [0.0, 4.0]]), np.array([2.0, 1.0]), np.array([0.0, 1.0]),
             eps=0.0, expected=[[-2.0, 2.0], [-2.0, 2.0]])
    run.case("random x (6, 8)", run.rng.normal(1.0, 2.0, (6, 8)), *affine(8))
    run.case("(B, T, C) input: over the last axis", run.rng.normal(size=(2, 3, 4)), *affine(4))
    run.case("a batch of one", run.rng.normal(size=(1, 5)), *affine(5))
    run.case("examples of small variance: eps matters", run.rng.normal(0.0, 0.01, (4, 6)),
             *affine(6))
    run.unchanged("leaves its inputs unchanged", run.rng.normal(size=(3, 4)), *affine(4))


# -- early stopping -------------------------------------------------------------------------------
def keras_rule(losses, patience: int, min_delta: float = 0.0, mistake: str = "") -> list[tuple]:
    """``keras.callbacks.EarlyStopping(monitor, patience, min_delta, mode="min")`` on a sequence of
    validation losses: ``(stop, best, best_epoch)`` after each epoch, up to the first stop.

    An improvement is ``loss < best - min_delta`` (best starts at +inf, so a finite first loss
    always improves); after an epoch without one, stop once ``patience`` epochs in a row have not
    improved. ``mistake`` reproduces a classic mistake, for the diagnosis only."""
    best, best_epoch, wait, previous, trace = math.inf, 0, 0, math.inf, []
    if mistake == "zero":
        best = 0.0
    for epoch, loss in enumerate(losses):
        target = previous if mistake == "previous" else best
        delta = {"no_delta": 0.0, "plus": -min_delta}.get(mistake, min_delta)
        better = loss <= target - delta if mistake == "tie" else loss < target - delta
        if better:
            best, best_epoch = loss, epoch + (mistake == "one_based")
            wait = wait if mistake == "no_reset" else 0
        else:
            wait += 1
        previous = loss
        # Keras looks at patience only after an epoch without improvement (never the first)
        stop = {"late": wait > patience, "early": wait >= patience - 1}.get(mistake,
                                                                           wait >= patience)
        stop = stop and epoch > 0 and (not better or mistake == "on_improvement")
        trace.append((bool(stop), best, best_epoch))
        if trace[-1][0]:
            break
    return trace


FRESH = ("every new instance starts fresh (best = inf, no step counted): keep the state on the "
         "instance (self.best = ... in __init__), not on the class")
ES_MISTAKES = (
    ("late", "stop as soon as `patience` steps in a row have not improved (count >= patience): "
             "yours waits one step too long"),
    ("early", "stop only once `patience` steps in a row have not improved: yours stops a step "
              "early"),
    ("no_delta", "an improvement must beat best by more than min_delta: "
                 "val_loss < best - min_delta"),
    ("tie", "an improvement is strictly lower: val_loss < best - min_delta (a tie is no "
            "improvement)"),
    ("plus", "subtract min_delta from best: val_loss < best - min_delta"),
    ("previous", "compare with the best loss so far, not with the previous step's loss"),
    ("no_reset", "reset the count of steps without improvement to 0 when the loss improves"),
    ("one_based", "best_epoch counts step calls from 0: the first call is epoch 0"),
    ("on_improvement", "a step that improves never stops training: with patience = 0, stop at the "
                       "first step WITHOUT improvement"),
    ("zero", "best starts at +inf (float('inf')), so the first loss is always an improvement"),
)
RESTART = ("count the steps since the last improvement and stop when the count reaches "
           "patience; best and best_epoch change only on an improvement")
ES_SIGNATURE = "EarlyStopping(patience, min_delta=0.0)"
ES_NAMES = ("step()", "best", "best_epoch")  # what is observed after each step
ES_TYPES = {"step()": "step returns a bool: True to stop now, else False",
            "best": "best is the lowest loss that counted as an improvement: a plain float",
            "best_epoch": "best_epoch is a whole number (int): the step at which best was set"}


def _mistaken_runs(losses, patience: int, min_delta: float) -> list:
    return [(keras_rule(losses, patience, min_delta, m), h) for m, h in ES_MISTAKES]


def loss_curve(rng: np.random.Generator, n: int) -> list[float]:
    """A noisy validation-loss curve (down, then up), on a grid of 1/32 so that ties happen and
    every comparison is exact in float32 and float64 alike."""
    epochs = np.arange(n)
    curve = 1.0 + 0.004 * (epochs - rng.integers(n // 4, n)) ** 2 / n + rng.normal(0.0, 0.04, n)
    return [float(v) for v in np.round(curve * 32) / 32]


@check("early_stopping")
def check_early_stopping(t: Checker, EarlyStopping) -> None:
    for label, losses, patience, min_delta in (
            ("by hand: losses [1, 0.8, 0.9, 0.85], patience 2: stop at step 3, best 0.8 at epoch 1",
             [1.0, 0.8, 0.9, 0.85, 0.7], 2, 0.0),
            ("by hand: the count restarts at each improvement",
             [1.0, 1.5, 0.5, 1.5, 0.25, 1.5, 1.5, 1.5], 2, 0.0),
            ("by hand: a tie is no improvement", [1.0, 0.75, 0.75, 0.5], 1, 0.0),
            ("by hand: min_delta = 0.25 (0.75 is not below 1 - 0.25)",
             [1.0, 0.75, 0.5, 0.5, 0.25], 1, 0.25),
            *(("stops at the same step as keras.callbacks.EarlyStopping", loss_curve(t.rng, 40),
               patience, min_delta)
              for patience, min_delta in ((2, 0.0), (3, 1 / 32), (5, 0.0), (1, 1 / 16),
                                          (4, 1 / 16))),
            ("patience = 0: stop at the first step without improvement", loss_curve(t.rng, 20),
             0, 0.0),
            ("a loss that keeps falling never stops", [1.0 - i / 64 for i in range(30)], 2, 0.0)):
        expected = keras_rule(losses, patience, min_delta)
        es = t.call(EarlyStopping, patience, min_delta=min_delta, signature=ES_SIGNATURE)
        got = steps.drive(t, label, es, "step", losses, reads=ES_NAMES[1:], stop=True,
                          like=expected, names=ES_NAMES, hints=ES_TYPES)
        steps.compare(t, label, got, expected, exact=True, names=ES_NAMES, inputs=losses,
                      context=f"patience={patience}, min_delta={min_delta:g}, losses",
                      mistakes=partial(_mistaken_runs, losses, patience, min_delta),
                      hint=FRESH if got[0][1:] != (losses[0], 0) else RESTART)
    steps.independent(t, lambda: t.call(EarlyStopping, 3, signature=ES_SIGNATURE), "step",
                      ([1.0, 2.0, 3.0], [5.0]), "best", (1.0, 5.0), hint=FRESH)


# -- k-fold cross-validation ----------------------------------------------------------------------
def _kfold(n, k, shuffle=False, seed=None):
    from sklearn.model_selection import KFold

    return list(KFold(k).split(np.zeros((n, 1))))


def _extra_last(n, k, *args, **kwargs):
    """Folds whose n % k extra indices go to the last folds (a mistake's answer)."""
    starts = np.cumsum([0] + [n // k + (i >= k - n % k) for i in range(k)])
    return [(np.setdiff1d(np.arange(n), np.arange(a, b)), np.arange(a, b))
            for a, b in zip(starts, starts[1:])]


KFOLD = Exercise(
    "kfold_indices", signature="kfold_indices(n, k, shuffle=False, seed=None)", reference=_kfold,
    hint="fold i validates on the i-th contiguous block of range(n) and trains on the rest; the "
         "first n % k folds are one larger (as sklearn's KFold)",
    hints={"": "return a list of k (train_idx, val_idx) tuples of index arrays"},
    wrong=[(_extra_last, "as KFold, the n % k extra indices go to the FIRST folds, one each")],
)


def _fold_properties(t: Checker, label: str, folds, n: int, k: int) -> None:
    """What any k-fold split must be, shuffled or not (one sub-check; failures raise)."""
    pairs = isinstance(folds, list | tuple) and len(folds) == k and all(
        isinstance(f, list | tuple) and len(f) == 2 and all(isinstance(a, np.ndarray) for a in f)
        for f in folds)
    if not pairs:
        t.fail(f"{label}: returns k (train_idx, val_idx) pairs", f"got {summarize(folds)}",
               hint=KFOLD.hints[""])

    def covers(arrays):
        return np.array_equal(np.sort(np.concatenate(arrays)), np.arange(n))

    vals = [v for _, v in folds]
    every, sizes = np.concatenate(vals), [len(v) for v in vals]
    for ok, detail, hint in (
            (all(np.issubdtype(a.dtype, np.integer) for f in folds for a in f), "float indices",
             "return integer index arrays (np.arange and permutations of it are)"),
            (covers(vals) or not covers([tr for tr, _ in folds]), "the train_idx cover range(n)",
             "return (train_idx, val_idx), the training indices first"),
            (len(np.unique(every)) == len(every),
             f"{len(every) - len(np.unique(every))} indices in two validation folds",
             "validation folds must not overlap: fold i ends where fold i + 1 starts"),
            (covers(vals), f"n = {n}: {len(every)} validation indices",
             "every index must be in exactly one validation fold: do not drop the last n % k"),
            (max(sizes) - min(sizes) <= 1, f"fold sizes {sizes}",
             "fold sizes differ by at most one: the first n % k folds get n // k + 1 indices, the "
             "others n // k (np.array_split does this)"),
            (all(np.array_equal(np.sort(tr), np.setdiff1d(np.arange(n), v)) for tr, v in folds),
             "a train_idx is not the complement of its val_idx",
             "train_idx is every index NOT in val_idx (np.setdiff1d(np.arange(n), val_idx)): a "
             "model must never train on its own validation fold")):
        if not ok:
            t.fail(f"{label}: disjoint validation folds covering range(n), sizes within one",
                   detail, hint=hint)
    t.ok()


@check("kfold_indices")
def check_kfold_indices(t: Checker, kfold_indices: Callable) -> None:
    run = Run(t, KFOLD, kfold_indices)
    for label, n, k, expected in (
            ("by hand: n = 8, k = 3: validate on [0, 1, 2], [3, 4, 5], [6, 7]", 8, 3,
             [([3, 4, 5, 6, 7], [0, 1, 2]), ([0, 1, 2, 6, 7], [3, 4, 5]),
              ([0, 1, 2, 3, 4, 5], [6, 7])]),
            *((f"the same folds as sklearn's KFold({k}) for n = {n}", n, k, None)
              for n, k in ((23, 4), (10, 4), (30, 5), (6, 6)))):
        _fold_properties(t, label, run.call(n, k), n, k)
        run.case(label, n, k, expected=expected)
    n, k = 50, 5
    got = t.probe(randomness.probe_seeded, kfold_indices, n, k, shuffle=True,
                  seed=int(t.rng.integers(1000)), by="seed")
    _fold_properties(t, "shuffle=True", got["first"], n, k)
    t.true("shuffle=True permutes the indices",
           not steps.identical(got["first"], _kfold(n, k)),
           hint="with shuffle=True, permute range(n) (np.random.default_rng(seed).permutation(n)) "
                "before splitting it into k blocks")
    randomness.reproducible(t, got, "folds", by="seed")

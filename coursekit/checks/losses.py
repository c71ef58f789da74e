"""Checks for notebook 04 Losses and metrics (NumPy in, NumPy out).

Each loss returns ``(loss, grad)``: the mean over the batch as a float, and d loss / d (first
argument). References, at check time: torch.nn.functional's losses by float64 autograd, and
scikit-learn's metrics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import check
from coursekit.checks.exercise import Exercise, Run
from coursekit.checks.mistakes import loss_exercise, reordered

__all__ = ["check_mae", "check_huber", "check_bce_with_logits", "check_cross_entropy",
           "check_hinge", "check_kl_divergence", "check_precision_recall_f1", "check_roc_auc"]


# -- references (computed at check time) -----------------------------------------------------------
_F = torchref.functional  # torch.nn.functional, imported on the first check
_with_grad = torchref.with_grad  # (loss, d loss / d first argument), by float64 autograd


def _sklearn_prf(y_true, y_pred, average="binary"):
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
    return float(p), float(r), float(f)


def _sklearn_auc(y_true, scores):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_true, scores))


# -- NumPy versions the known mistakes are built from ----------------------------------------------
def _mae(yp, y):
    return float(np.abs(yp - y).mean()), np.sign(yp - y) / yp.size


def _huber(yp, y, delta=1.0, *, offset=True, slope=True):
    d = yp - y
    small = np.abs(d) <= delta
    loss = np.where(small, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta * offset))
    grad = np.where(small, d, (delta if slope else 1.0) * np.sign(d))
    return float(loss.mean()), grad / d.size


def _bce(z, y):
    loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return float(loss.mean()), (np.exp(-np.logaddexp(0.0, -z)) - y) / z.size  # sigmoid, stable


def _bce_probabilities(z, y, clip=0.0):
    s = np.clip(1 / (1 + np.exp(-z)), clip, 1 - clip)
    return float(-np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))), _bce(z, y)[1]


def _ce(z, y, label_smoothing=0.0, *, axis=1, target=None, norm=None):
    n, k = z.shape
    one_hot, eps = np.eye(k)[y], label_smoothing
    t = (1 - eps) * one_hot + eps / k if target is None else target(one_hot, eps, k)
    s = z - z.max(axis=axis, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=axis, keepdims=True))
    norm = n if norm is None else norm
    return float(-(t * log_p).sum() / norm), (np.exp(log_p) - t) / norm


def _hinge(s, y, *, margin=1.0, active=np.less):
    return float(np.maximum(0, margin - y * s).mean()), -y * active(y * s, margin) / s.size


def _kl_terms(p, q):
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)


def _per_class(y_true, y_pred, labels, zero=True):
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in labels], dtype=float)
    pred = np.array([np.sum(y_pred == c) for c in labels], dtype=float)
    true = np.array([np.sum(y_true == c) for c in labels], dtype=float)
    with np.errstate(all="ignore"):
        prf = [tp / pred, tp / true, 2 * tp / (pred + true)]
    return [np.nan_to_num(v) for v in prf] if zero else prf, true


def _macro(y_true, y_pred, *, labels=None, zero=True, mean=np.mean, weighted=False,
           f1_of_means=False):
    labels = np.union1d(y_true, y_pred) if labels is None else labels
    prf, support = _per_class(y_true, y_pred, labels, zero)
    p, r, f1 = (float(np.average(v, weights=support) if weighted else mean(v)) for v in prf)
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0) if f1_of_means else f1


def _when(average: str, mistake: Callable) -> Callable:
    """A metric mistake that only shows with this ``average`` (elsewhere None: explains nothing)."""
    return lambda t, p, **kw: mistake(t, p) if kw.get("average", "binary") == average else None


def _auc_pairs(y, s, tie=0.5, norm=None):
    pos, neg = s[y == 1][:, None], s[y == 0][None, :]
    wins = (pos > neg) + tie * (pos == neg)
    return float(wins.sum() / (wins.size if norm is None else norm))


# -- hints (those of the mistakes every loss invites: coursekit.checks.mistakes) ------------------
UNSTABLE_BCE = ("log(sigmoid(z)) is log(0) = -inf once sigmoid(z) rounds to 0, and exp(-z) "
                "overflows for z far below 0: use the stable form max(z, 0) - z*y + "
                "log(1 + exp(-|z|)) (np.log1p)")
UNSTABLE_CE = ("exp of a large logit overflows and log(softmax) gives log(0) = -inf: use "
               "log-softmax with the log-sum-exp trick, (z - m) - log(sum(exp(z - m))), m the "
               "row max")
KL_ZERO = ("0 * log(0) is nan in NumPy, but a p = 0 term contributes 0: use "
           "np.where(p > 0, ..., 0) with a safe log, or scipy.special.xlogy")
ZERO_DIVISION = ("a class that is never predicted has precision 0/0: zero_division=0 says count "
                 "it as 0 (np.divide(..., where=denominator > 0) or a guard), never nan")
TIES = ("tied scores: a tie between a positive and a negative counts one half, AUC = "
        "P(s+ > s-) + 0.5 P(s+ = s-) (on the ROC curve tied scores move together, in one "
        "diagonal step; as ranks they share their average rank, scipy.stats.rankdata)")


MAE = loss_exercise(
    "mae", "mae(y_pred, y)", _with_grad(lambda yp, y: _F().l1_loss(yp, torchref.tensor(y))),
    "y_pred", {"loss": "the mean of |y_pred - y| over every element",
               "grad": "d loss / d y_pred = sign(y_pred - y) / S, with S = y_pred.size"},
    [(lambda yp, y: (_mae(yp, y)[0], np.where(yp >= y, 1.0, -1.0) / yp.size),
      "where y_pred == y the gradient is 0 (np.sign(0) is 0), as in PyTorch: not +1 or -1"),
     (lambda yp, y: (float(np.abs(yp - y).sum() / len(yp)), np.sign(yp - y) / len(yp)),
      "average over every element (y_pred.size), as F.l1_loss does, not over the rows only"),
     (lambda yp, y: (float(np.mean((yp - y) ** 2)), 2 * (yp - y) / yp.size),
      "that is the MSE: the MAE takes |y_pred - y|, whose gradient is sign(y_pred - y)")],
    numpy_reference=_mae)

HUBER = loss_exercise(
    "huber", "huber(y_pred, y, delta=1.0)",
    _with_grad(lambda yp, y, delta=1.0: _F().huber_loss(yp, torchref.tensor(y), delta=delta)),
    "y_pred", {"loss": "with d = y_pred - y: d²/2 where |d| <= delta, else "
                       "delta * (|d| - delta/2)",
               "grad": "d where |d| <= delta, else delta * sign(d); all divided by y_pred.size"},
    [(lambda yp, y, delta=1.0: _huber(yp, y),
      "use the `delta` argument (the check passes other values), not a fixed 1"),
     (lambda yp, y, delta=1.0: _huber(yp, y, delta, offset=False),
      "the linear part is delta * (|d| - delta/2), so that the two pieces meet at |d| = delta"),
     (lambda yp, y, delta=1.0: _huber(yp, y, delta, slope=False),
      "in the linear part the gradient is delta * sign(d), not sign(d)"),
     (lambda yp, y, delta=1.0: tuple(v / delta for v in _huber(yp, y, delta)),
      "that is smooth L1 (F.smooth_l1_loss = huber / beta): Huber keeps d²/2 and "
      "delta * (|d| - delta/2), without dividing by delta")], numpy_reference=_huber)

BCE = loss_exercise(
    "bce_with_logits", "bce_with_logits(logits, y)",
    _with_grad(lambda z, y: _F().binary_cross_entropy_with_logits(z, torchref.tensor(y))),
    "logits, (N,)", {"loss": "mean of max(z, 0) - z*y + log(1 + exp(-|z|))",
                     "grad": "d loss / d z = (sigmoid(z) - y) / N"},
    [(_bce_probabilities, UNSTABLE_BCE),
     (lambda z, y: (float(np.mean(np.log(1 + np.exp(-z)) + (1 - y) * z)), _bce(z, y)[1]),
      UNSTABLE_BCE),
     (lambda z, y: _bce_probabilities(z, y, clip=1e-7),
      "clipping sigmoid(z) to [1e-7, 1 - 1e-7] (as Keras does for probabilities) caps each "
      "loss near 16: compute from the logits, max(z, 0) - z*y + log(1 + exp(-|z|))"),
     (lambda z, y: _bce(z, 1.0 * (y == 1)),
      "y may be any probability in [0, 1] (soft labels): use y and 1 - y as weights, not a "
      "test such as y == 1")],
    numpy_reference=_bce, unstable_hint=UNSTABLE_BCE)

CE = loss_exercise(
    "cross_entropy", "cross_entropy(logits, y, label_smoothing=0.0)",
    _with_grad(lambda z, y, label_smoothing=0.0: _F().cross_entropy(
        z, torchref.torch().as_tensor(y), label_smoothing=label_smoothing)),
    "logits, (N, K)", {"loss": "mean over rows of -sum_k target_k * log_softmax(z)_k",
                       "grad": "(softmax(z) - target) / N, target the (smoothed) one-hot rows"},
    [(lambda z, y, label_smoothing=0.0: _ce(z, y, label_smoothing, norm=z.size),
      "average over the N examples (rows), not over all N*K entries"),
     (lambda z, y, label_smoothing=0.0: _ce(z, y, label_smoothing, axis=0),
      "softmax over the K classes of each row (axis=1), not down the batch (axis=0)"),
     (lambda z, y, label_smoothing=0.0: (_ce(z, y, label_smoothing)[0], _ce(z, y)[1]),
      "with label smoothing the gradient is (softmax(z) - target) / N with the smoothed "
      "target, not the one-hot one"),
     (lambda z, y, label_smoothing=0.0: _ce(z, y),
      "use the `label_smoothing` argument (the check passes other values)"),
     (lambda z, y, label_smoothing=0.0: _ce(
         z, y, label_smoothing, target=lambda h, e, k: np.where(h == 1, 1 - e, e / (k - 1))),
      "PyTorch spreads label_smoothing over all K classes, the true one included: "
      "target = (1 - eps) * one_hot + eps / K, not eps / (K - 1) over the others"),
     (lambda z, y, label_smoothing=0.0: _ce(
         z, y, label_smoothing, target=lambda h, e, k: (1 - e) * h),
      "the smoothed target is (1 - eps) * one_hot + eps / K: you left out the eps / K part")],
    numpy_reference=_ce, count=len, unstable_hint=UNSTABLE_CE)

HINGE = loss_exercise(
    "hinge", "hinge(scores, y)",
    _with_grad(lambda s, y: _F().relu(1 - torchref.tensor(y) * s).mean()),
    "scores, (N,)", {"loss": "mean of max(0, 1 - y*s)",
                     "grad": "d loss / d s = -y / N where y*s < 1, else 0"},
    [(lambda s, y: _hinge(s, y, margin=0.0),
      "the hinge has a margin of 1: max(0, 1 - y*s), so a correct but unsure score still costs"),
     (lambda s, y: _hinge(s, y, active=np.less_equal),
      "at y*s = 1 exactly use 0 (ReLU's convention, and PyTorch's): mask with y*s < 1, not <="),
     (lambda s, y: (_hinge(s, y)[0], -y / s.size),
      "where y*s > 1 the loss is flat (0): the gradient is 0 there, -y / N only where y*s < 1")],
    numpy_reference=_hinge)

KL = Exercise(
    "kl_divergence", signature="kl_divergence(p, q)",
    reference=lambda p, q: torchref.no_grad(
        lambda pt, qt: _F().kl_div(qt.log(), pt, reduction="batchmean"), p, q),
    hints={"": "return one number, the mean over rows: float(...)"},
    hint="mean over the N rows of sum_k p_k * log(p_k / q_k), with p_k = 0 terms 0",
    unstable_hint=KL_ZERO,
    wrong=[(lambda p, q: float(np.sum(p * np.log(p / q)) / len(p)), KL_ZERO),
           (lambda p, q: float(np.sum(_kl_terms(q, p)) / len(p)),
            "KL(p || q) = sum p log(p / q), weighted by p: KL is not symmetric, you computed "
            "KL(q || p)"),
           (lambda p, q: float(np.sum(_kl_terms(p, q))),
            "the KL is averaged over the batch (the N rows, reduction='batchmean'), not summed: "
            "divide by N"),
           (lambda p, q: float(np.mean(_kl_terms(p, q))),
            "divide by the N rows (reduction='batchmean'), not by all N*K entries "
            "(reduction='mean', which PyTorch warns about)"),
           (lambda p, q: float(np.sum(_kl_terms(p, q)) / len(p) / np.log(2)),
            "use the natural log (np.log): KL in nats, as PyTorch computes it"),
           (lambda p, q: -float(np.sum(_kl_terms(p, q)) / len(p)),
            "KL = sum p log(p / q) is >= 0: you have log(q / p)")],
)

PRF = Exercise(
    "precision_recall_f1", signature='precision_recall_f1(y_true, y_pred, average="binary")',
    reference=_sklearn_prf, returns=("precision", "recall", "f1"),
    hints={"": "return a tuple (precision, recall, f1) of three floats"},
    hint={"precision": "precision = TP / (TP + FP): of the predicted positives, how many are right",
          "recall": "recall = TP / (TP + FN): of the true positives, how many were found",
          "f1": "F1 = 2 P R / (P + R) (0 when P + R = 0); macro: the mean of per-class F1"},
    unstable_hint=ZERO_DIVISION,
    wrong=[(reordered(_sklearn_prf, (1, 0, 2)),
            "precision and recall are swapped: precision divides by the predicted positives "
            "(TP + FP), recall by the true positives (TP + FN)"),
           (_when("binary", lambda t, p: _sklearn_prf(1 - t, 1 - p)),
            "in binary mode the positive class is 1: count TP, FP, FN for y == 1"),
           (_when("binary", _macro),
            "average='binary' scores the positive class 1 only: use the `average` argument"),
           (_when("macro", lambda t, p: _macro(t, p, zero=False)), ZERO_DIVISION),
           (_when("macro", lambda t, p: _macro(t, p, zero=False, mean=np.nanmean)),
            "a class never predicted still counts in the macro average, with precision 0: "
            "average over every class"),
           (_when("macro", lambda t, p: _macro(t, p, labels=np.unique(t))),
            "macro averages over every class in y_true or y_pred (np.union1d), including a "
            "class that is only predicted"),
           (_when("macro", lambda t, p: _macro(t, p, f1_of_means=True)),
            "macro F1 is the mean of the per-class F1 scores, not the F1 of the mean precision "
            "and mean recall"),
           (_when("macro", lambda t, p: _macro(t, p, weighted=True)),
            "macro is the plain mean over classes; weighting by support is average='weighted'"),
           (_when("macro", lambda t, p: _sklearn_prf(t, p, "micro")),
            "macro averages the per-class scores, each class weighing the same; you pooled the "
            "counts (micro): use the `average` argument"),
           (_when("micro", _macro),
            "micro pools TP, FP and FN over all classes before dividing (for single-label data "
            "it equals accuracy); you averaged per-class scores (macro)")],
)

ROC_AUC = Exercise(
    "roc_auc", signature="roc_auc(y_true, scores)", reference=_sklearn_auc,
    hints={"": "return one number in [0, 1]: float(...)"},
    hint="AUC = the fraction of (positive, negative) pairs where the positive scores higher, "
         "ties counting one half",
    wrong=[(lambda y, s: _auc_pairs(y, s, tie=0.0), TIES),
           (lambda y, s: _auc_pairs(y, s, tie=1.0), TIES),
           (lambda y, s: 1 - _sklearn_auc(y, s),
            "AUC is the probability that a positive (y = 1) outscores a negative: you have the "
            "classes swapped"),
           (lambda y, s: float(np.mean((s > 0.5) == y)),
            "AUC is not the accuracy at one threshold: it compares every positive with every "
            "negative, over all thresholds"),
           (lambda y, s: _auc_pairs(y, s, norm=len(y) ** 2),
            "divide by the number of (positive, negative) pairs, n_pos * n_neg, not by N²")],
)


# -- the checks: by hand → random → edge cases -----------------------------------------------------
@check(MAE)
def check_mae(run: Run, mae: Callable) -> None:
    run.case("by hand: |[2, -1, 0]| averages to 1, gradient [1, -1, 0] / 3",
             np.array([3.0, -1.0, 2.0]), np.array([1.0, 0.0, 2.0]),
             expected=(1.0, [1 / 3, -1 / 3, 0.0]))
    run.case("random (N,)", run.rng.normal(size=7), run.rng.normal(size=7))
    run.case("random (N, D): a mean over every element", run.rng.normal(size=(5, 3)),
             run.rng.normal(size=(5, 3)))
    y = np.round(run.rng.normal(size=6), 1)
    run.case("some predictions exactly right (gradient 0 there)",
             np.where(np.arange(6) % 2 == 0, y, y + 0.5), y)
    run.case("batch of one", np.array([[2.5]]), np.array([[-1.0]]))
    run.unchanged("leaves its inputs unchanged", run.rng.normal(size=4), run.rng.normal(size=4))


@check(HUBER)
def check_huber(run: Run, huber: Callable) -> None:
    run.case("by hand: d = [0.5, -2, 3], delta = 1: (0.125 + 1.5 + 2.5) / 3",
             np.array([0.5, -2.0, 3.0]), np.zeros(3), expected=(1.375, [0.5 / 3, -1 / 3, 1 / 3]))
    run.case("random, default delta", 2 * run.rng.normal(size=8), run.rng.normal(size=8))
    for delta in (0.3, 2.5):
        run.case(f"random (N, D), delta={delta}", 3 * delta * run.rng.normal(size=(4, 3)),
                 np.zeros((4, 3)), delta=delta)
    run.case("large residuals (linear part)", 100 * run.rng.normal(size=5), np.zeros(5), delta=1.5)


@check(BCE)
def check_bce_with_logits(run: Run, bce_with_logits: Callable) -> None:
    run.case("by hand: z = [0, 0, ln 3], y = [1, 0, 1]: ln(16/3) / 3, grad [-0.5, 0.5, -0.25] / 3",
             np.array([0.0, 0.0, np.log(3.0)]), np.array([1.0, 0.0, 1.0]),
             expected=(np.log(16 / 3) / 3, [-0.5 / 3, 0.5 / 3, -0.25 / 3]))
    run.case("random logits, 0/1 labels", 3 * run.rng.normal(size=9),
             run.rng.integers(0, 2, size=9).astype(float))
    run.case("soft labels in [0, 1]", 3 * run.rng.normal(size=6), run.rng.uniform(size=6))
    run.case("large logits (|z| up to 1e4): finite", np.array([1e4, -1e4, 1e4, -1e4, 30.0, -800.0]),
             np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0]))
    run.case("batch of one", np.array([-2.0]), np.array([1.0]))
    run.unchanged("leaves its inputs unchanged", run.rng.normal(size=5), np.ones(5))


@check(CE)
def check_cross_entropy(run: Run, cross_entropy: Callable) -> None:
    run.case("by hand: z = [0, ln 2, ln 5], y = 2: softmax [1/8, 2/8, 5/8], loss ln(8/5)",
             np.log([[1.0, 2.0, 5.0]]), np.array([2]),
             expected=(np.log(8 / 5), [[0.125, 0.25, -0.375]]))
    run.case("random (N=6, K=4)", 2 * run.rng.normal(size=(6, 4)), run.rng.integers(0, 4, size=6))
    run.case("label_smoothing=0.1", 2 * run.rng.normal(size=(5, 3)),
             run.rng.integers(0, 3, size=5), label_smoothing=0.1)
    run.case("label_smoothing=0.3, K=2", run.rng.normal(size=(4, 2)),
             run.rng.integers(0, 2, size=4), label_smoothing=0.3)
    big = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [0.0, 0.0, 1e4]])
    run.case("large logits (up to 1e4): finite", big, np.array([1, 1, 0]))
    run.case("large logits with label_smoothing=0.2", big, np.array([0, 1, 2]), label_smoothing=0.2)
    run.unchanged("leaves its inputs unchanged", 5 * run.rng.normal(size=(3, 4)),
                  np.array([0, 3, 1]))


@check(HINGE)
def check_hinge(run: Run, hinge: Callable) -> None:
    run.case("by hand: s = [2, 0.5, -1], y = [1, 1, 1]: (0 + 0.5 + 2) / 3, grad [0, -1, -1] / 3",
             np.array([2.0, 0.5, -1.0]), np.ones(3), expected=(2.5 / 3, [0.0, -1 / 3, -1 / 3]))
    run.case("random, labels -1/+1", 2 * run.rng.normal(size=10),
             run.rng.choice([-1.0, 1.0], size=10))
    run.case("at the kink y*s = 1 the gradient is 0", np.array([1.0, -1.0, 0.2]),
             np.array([1.0, -1.0, -1.0]))
    run.case("batch of one", np.array([3.0]), np.array([-1.0]))


@check(KL)
def check_kl_divergence(run: Run, kl_divergence: Callable) -> None:
    run.case("by hand: p = [1/2, 1/2], q = [1/4, 3/4]: (ln 2 + ln(2/3)) / 2",
             np.array([[0.5, 0.5]]), np.array([[0.25, 0.75]]), expected=0.5 * np.log(4 / 3))
    run.case("random rows (N=5, K=4)", run.rng.dirichlet(np.ones(4), size=5),
             run.rng.dirichlet(np.ones(4), size=5))
    p = run.rng.dirichlet(np.ones(3), size=4) * [0.0, 1.0, 1.0]
    run.case("p with zeros (those terms count 0)", p / p.sum(axis=1, keepdims=True),
             run.rng.dirichlet(np.ones(3), size=4))
    run.case("one-hot p: KL is the cross-entropy -log q[true class]", np.eye(3)[[2, 0]],
             run.rng.dirichlet(np.ones(3), size=2))
    q = run.rng.dirichlet(np.ones(5), size=3)
    run.case("p = q gives 0", q.copy(), q)


@check(PRF)
def check_precision_recall_f1(run: Run, precision_recall_f1: Callable) -> None:
    run.case("by hand (binary): TP=2, FP=1, FN=2 gives P=2/3, R=1/2, F1=4/7",
             np.array([1, 1, 1, 1, 0, 0]), np.array([1, 1, 0, 0, 1, 0]),
             expected=(2 / 3, 0.5, 4 / 7))
    run.case("random, binary", run.rng.integers(0, 2, size=50), run.rng.integers(0, 2, size=50))
    # imbalanced classes: there macro and micro, precision and recall all differ
    y_true = run.rng.permutation(np.repeat(np.arange(4), [83, 61, 37, 19]))
    y_pred = np.where(run.rng.uniform(size=200) < 0.5, y_true, run.rng.integers(0, 4, size=200))
    run.case("random, average='macro' (K=4)", y_true, y_pred, average="macro")
    run.case("random, average='micro' (K=4)", y_true, y_pred, average="micro")
    y_true, y_pred = np.array([0, 0, 1, 1, 2, 2, 2, 0]), np.array([0, 1, 1, 1, 1, 1, 0, 0])
    for average in ("macro", "micro"):
        run.case(f"class 2 never predicted, average='{average}'", y_true, y_pred, average=average)
    run.case("a class only predicted, never true (macro)", np.array([0, 0, 1, 1, 1]),
             np.array([0, 2, 1, 1, 2]), average="macro")
    run.case("binary, no positive predicted: P = 0, F1 = 0", np.array([1, 0, 1, 0]),
             np.zeros(4, dtype=int))


@check(ROC_AUC)
def check_roc_auc(run: Run, roc_auc: Callable) -> None:
    run.case("by hand: y = [0, 0, 1, 1], s = [-2, 1, 0.5, 3]: 3 of 4 pairs ordered, 3/4",
             np.array([0, 0, 1, 1]), np.array([-2.0, 1.0, 0.5, 3.0]), expected=0.75)
    run.case("by hand with a tie: y = [0, 1, 0, 1], s = [0.5, 0.5, 0.2, 0.9] gives 3.5/4",
             np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9]), expected=0.875)
    y = run.rng.permutation(np.r_[np.zeros(12, dtype=int), np.ones(8, dtype=int)])
    run.case("random scores", y, run.rng.normal(size=20) + y)
    run.case("many ties (scores 0..3)", y, run.rng.integers(0, 4, size=20).astype(float))
    run.case("logits of any size, not only probabilities", y, 50 * run.rng.normal(size=20))
    run.case("all scores equal gives 0.5", y, np.full(20, 0.3))
    run.case("perfect ranking gives 1", y, y + 0.1 * run.rng.uniform(size=20))

"""The losses and metrics checks: correct code passes (vectorised, loops, float32 or PyTorch,
scikit-free metrics), classic mistakes get their hint."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    assert_fails_with,
    in_float32,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import losses as checks


# --- references (what the solution notebook implements) ---------------------------------------
def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def log_softmax(z):
    s = z - z.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def mae(y_pred, y):
    d = y_pred - y
    return float(np.mean(np.abs(d))), np.sign(d) / d.size


def huber(y_pred, y, delta=1.0):
    d = y_pred - y
    small = np.abs(d) <= delta
    loss = np.where(small, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))
    return float(np.mean(loss)), np.where(small, d, delta * np.sign(d)) / d.size


def bce_with_logits(logits, y):
    loss = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    return float(np.mean(loss)), (sigmoid(logits) - y) / len(logits)


def cross_entropy(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    target = (1 - label_smoothing) * np.eye(k)[y] + label_smoothing / k
    logp = log_softmax(logits)
    return float(-(target * logp).sum() / n), (np.exp(logp) - target) / n


def hinge(scores, y):
    margin = 1 - y * scores
    return float(np.mean(np.maximum(0, margin))), -y * (margin > 0) / len(scores)


def kl_divergence(p, q):
    return float(np.sum(scipy.special.xlogy(p, p) - scipy.special.xlogy(p, q)) / len(p))


def _divide(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def precision_recall_f1(y_true, y_pred, average="binary"):
    labels = [1] if average == "binary" else np.union1d(y_true, y_pred)
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in labels], dtype=float)
    predicted = np.array([np.sum(y_pred == c) for c in labels], dtype=float)
    true = np.array([np.sum(y_true == c) for c in labels], dtype=float)
    if average == "micro":
        tp, predicted, true = (v.sum(keepdims=True) for v in (tp, predicted, true))
    p, r, f = _divide(tp, predicted), _divide(tp, true), _divide(2 * tp, predicted + true)
    return float(p.mean()), float(r.mean()), float(f.mean())


def roc_auc(y_true, scores):
    pos, neg = scores[y_true == 1][:, None], scores[y_true == 0][None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


# --- alternative correct implementations ---------------------------------------------------------
def torch_float32(loss):
    """A PyTorch float32 version (torch's default dtype): loss and gradient by autograd."""

    def run(x, *rest, **kwargs):
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        rest = [torch.as_tensor(r) if np.issubdtype(r.dtype, np.integer)
                else torch.as_tensor(r, dtype=torch.float32) for r in rest]
        out = loss(xt, *rest, **kwargs)
        out.backward()
        return out.detach().numpy(), xt.grad.numpy()

    run.__name__ = f"torch_{loss.__name__}"
    return run


def mae_loop(y_pred, y):
    flat_p, flat_y = y_pred.reshape(-1), y.reshape(-1)
    total, grad = 0.0, np.zeros(flat_p.size)
    for i, (a, b) in enumerate(zip(flat_p, flat_y)):
        total += abs(a - b)
        grad[i] = 1.0 if a > b else -1.0 if a < b else 0.0
    return total / flat_p.size, (grad / flat_p.size).reshape(y_pred.shape)


def huber_loop(y_pred, y, delta=1.0):
    d = (y_pred - y).reshape(-1)
    losses, grads = [], []
    for v in d:
        if abs(v) <= delta:
            losses.append(0.5 * v * v)
            grads.append(v)
        else:
            losses.append(delta * (abs(v) - delta / 2))
            grads.append(delta * np.sign(v))
    return float(sum(losses) / d.size), (np.array(grads) / d.size).reshape(y_pred.shape)


def bce_softplus(logits, y):
    # log(1 + e^z) - z*y with NumPy's stable logaddexp
    loss = np.logaddexp(0.0, logits) - logits * y
    return float(loss.mean()), (scipy.special.expit(logits) - y) / logits.size


def cross_entropy_logsumexp(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    logp = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    nll = -logp[np.arange(n), y]
    smooth = -logp.mean(axis=1)
    loss = np.mean((1 - label_smoothing) * nll + label_smoothing * smooth)
    grad = np.exp(logp)
    grad[np.arange(n), y] -= 1 - label_smoothing
    return float(loss), (grad - label_smoothing / k) / n


def hinge_loop(scores, y):
    total, grad = 0.0, np.zeros_like(scores)
    for i, (s, label) in enumerate(zip(scores, y)):
        if label * s < 1:
            total += 1 - label * s
            grad[i] = -label
    return total / len(scores), grad / len(scores)


def kl_divergence_rows(p, q):
    rows = []
    for pr, qr in zip(p, q):
        rows.append(sum(a * np.log(a / b) for a, b in zip(pr, qr) if a > 0))
    return float(np.mean(rows))


def precision_recall_f1_confusion(y_true, y_pred, average="binary"):
    labels = np.union1d(y_true, y_pred)
    index = {c: i for i, c in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)))  # rows: true class, columns: predicted class
    np.add.at(cm, ([index[c] for c in y_true], [index[c] for c in y_pred]), 1)
    tp, predicted, true = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    if average == "binary":
        pick = [index[1]] if 1 in index else []
        tp, predicted, true = (v[pick] if pick else np.zeros(1) for v in (tp, predicted, true))
    elif average == "micro":
        tp, predicted, true = (v.sum(keepdims=True) for v in (tp, predicted, true))
    p, r = _divide(tp, predicted), _divide(tp, true)
    f = _divide(2 * p * r, p + r)
    return float(p.mean()), float(r.mean()), float(f.mean())


def roc_auc_ranks(y_true, scores):
    ranks = scipy.stats.rankdata(scores)  # ties share their average rank
    n_pos, n_neg = np.sum(y_true == 1), np.sum(y_true == 0)
    return float((ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc_curve(y_true, scores):
    tpr, fpr = [0.0], [0.0]
    for threshold in np.unique(scores)[::-1]:  # one step per distinct score
        tpr.append(np.mean(scores[y_true == 1] >= threshold))
        fpr.append(np.mean(scores[y_true == 0] >= threshold))
    return float(np.trapezoid(tpr, fpr))


F = torch.nn.functional
MODULE = checks
CORRECT = {
    checks.check_mae: [mae, mae_loop, in_float32(mae), torch_float32(F.l1_loss)],
    checks.check_huber: [huber, huber_loop, in_float32(huber), torch_float32(F.huber_loss)],
    checks.check_bce_with_logits: [bce_with_logits, bce_softplus, in_float32(bce_with_logits),
                                   torch_float32(F.binary_cross_entropy_with_logits)],
    checks.check_cross_entropy: [cross_entropy, cross_entropy_logsumexp,
                                 torch_float32(F.cross_entropy)],
    checks.check_hinge: [hinge, hinge_loop, in_float32(hinge)],
    checks.check_kl_divergence: [kl_divergence, kl_divergence_rows, in_float32(kl_divergence)],
    checks.check_precision_recall_f1: [precision_recall_f1, precision_recall_f1_confusion],
    checks.check_roc_auc: [roc_auc, roc_auc_ranks, roc_auc_curve],
}


# --- classic mistakes, each with the hint it must get --------------------------------------------
def _mae_sum(y_pred, y):
    return float(np.abs(y_pred - y).sum()), np.sign(y_pred - y)


def _mae_sign_at_zero(y_pred, y):
    return mae(y_pred, y)[0], np.where(y_pred >= y, 1.0, -1.0) / y_pred.size


def _mae_flipped(y_pred, y):
    return mae(y_pred, y)[0], np.sign(y - y_pred) / y_pred.size


def _mae_rows(y_pred, y):
    return float(np.abs(y_pred - y).sum() / len(y_pred)), np.sign(y_pred - y) / len(y_pred)


def _huber_smooth_l1(y_pred, y, delta=1.0):
    loss, grad = huber(y_pred, y, delta)
    return loss / delta, grad / delta


def _huber_no_offset(y_pred, y, delta=1.0):
    d = y_pred - y
    loss = np.where(np.abs(d) <= delta, 0.5 * d**2, delta * np.abs(d))
    return float(loss.mean()), huber(y_pred, y, delta)[1]


def _huber_unit_slope(y_pred, y, delta=1.0):
    d = y_pred - y
    return huber(y_pred, y, delta)[0], np.where(np.abs(d) <= delta, d, np.sign(d)) / d.size


def _bce_naive(logits, y):
    p = 1 / (1 + np.exp(-logits))
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), (p - y) / len(logits)


def _bce_clipped(logits, y):
    p = np.clip(1 / (1 + np.exp(-logits)), 1e-7, 1 - 1e-7)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return float(loss), (sigmoid(logits) - y) / len(logits)


def _bce_hard_labels(logits, y):
    hard = np.where(y == 1, 1.0, 0.0)
    return bce_with_logits(logits, hard)


def _ce_naive(logits, y, label_smoothing=0.0):
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    k = logits.shape[1]
    target = (1 - label_smoothing) * np.eye(k)[y] + label_smoothing / k
    return float(-(target * np.log(p)).sum() / len(y)), (p - target) / len(y)


def _ce_k_minus_1(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    target = np.where(np.eye(k)[y] == 1, 1 - label_smoothing, label_smoothing / (k - 1))
    logp = log_softmax(logits)
    return float(-(target * logp).sum() / n), (np.exp(logp) - target) / n


def _ce_mean_all(logits, y, label_smoothing=0.0):
    loss, grad = cross_entropy(logits, y, label_smoothing)
    return loss / logits.shape[1], grad / logits.shape[1]


def _ce_axis0(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    s = logits - logits.max(axis=0, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=0, keepdims=True))
    target = (1 - label_smoothing) * np.eye(k)[y] + label_smoothing / k
    return float(-(target * logp).sum() / n), (np.exp(logp) - target) / n


def _ce_in_place(logits, y, label_smoothing=0.0):
    logits -= logits.max(axis=1, keepdims=True)  # changes the caller's array
    return cross_entropy(logits, y, label_smoothing)


def _ce_one_hot_grad(logits, y, label_smoothing=0.0):
    return cross_entropy(logits, y, label_smoothing)[0], cross_entropy(logits, y)[1]


def _kl_naive(p, q):
    return float(np.sum(p * np.log(p / q)) / len(p))


def _prf_nan(y_true, y_pred, average="binary"):
    labels = [1] if average == "binary" else np.union1d(y_true, y_pred)
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in labels], dtype=float)
    predicted = np.array([np.sum(y_pred == c) for c in labels], dtype=float)
    true = np.array([np.sum(y_true == c) for c in labels], dtype=float)
    if average == "micro":
        tp, predicted, true = (v.sum(keepdims=True) for v in (tp, predicted, true))
    with np.errstate(all="ignore"):  # 0/0 left as nan
        p, r = tp / predicted, tp / true
        return float(p.mean()), float(r.mean()), float(np.mean(2 * p * r / (p + r)))


def _prf_f1_of_means(y_true, y_pred, average="binary"):
    p, r, f = precision_recall_f1(y_true, y_pred, average)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _prf_always_micro(y_true, y_pred, average="binary"):
    return precision_recall_f1(y_true, y_pred, "binary" if average == "binary" else "micro")


def _prf_always_macro(y_true, y_pred, average="binary"):
    return precision_recall_f1(y_true, y_pred, "binary" if average == "binary" else "macro")


def _prf_true_labels_only(y_true, y_pred, average="binary"):
    if average != "macro":
        return precision_recall_f1(y_true, y_pred, average)
    scores = [precision_recall_f1((y_true == c).astype(int), (y_pred == c).astype(int))
              for c in np.unique(y_true)]
    return tuple(float(np.mean(col)) for col in zip(*scores))


def _roc_strict(y_true, scores):
    pos, neg = scores[y_true == 1][:, None], scores[y_true == 0][None, :]
    return float(np.mean(pos > neg))


def _roc_ordinal_ranks(y_true, scores):
    ranks = np.argsort(np.argsort(scores)) + 1
    n_pos, n_neg = np.sum(y_true == 1), np.sum(y_true == 0)
    return float((ranks[y_true == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_stepwise(y_true, scores):
    order = np.argsort(-scores, kind="stable")
    tpr = np.r_[0.0, np.cumsum(y_true[order] == 1) / np.sum(y_true == 1)]
    fpr = np.r_[0.0, np.cumsum(y_true[order] == 0) / np.sum(y_true == 0)]
    return float(np.trapezoid(tpr, fpr))


def _mae_mse(y_pred, y):
    return float(np.mean((y_pred - y) ** 2)), 2 * (y_pred - y) / y.size


def _huber_sum(y_pred, y, delta=1.0):
    loss, grad = huber(y_pred, y, delta)
    return loss * y.size, grad * y.size


def _huber_flipped(y_pred, y, delta=1.0):
    loss, grad = huber(y_pred, y, delta)
    return loss, -grad


def _bce_column_grad(logits, y):
    loss, grad = bce_with_logits(logits, y)
    return loss, grad[:, None]  # (N, 1) instead of (N,)


def _ce_flipped(logits, y, label_smoothing=0.0):
    loss, grad = cross_entropy(logits, y, label_smoothing)
    return loss, -grad


def _hinge_no_margin(scores, y):
    return float(np.mean(np.maximum(0, -y * scores))), -y * (y * scores < 0) / len(scores)


def _prf_swapped(y_true, y_pred, average="binary"):
    p, r, f = precision_recall_f1(y_true, y_pred, average)
    return r, p, f


def _prf_positive_zero(y_true, y_pred, average="binary"):
    return precision_recall_f1(1 - y_true, 1 - y_pred)


def _prf_per_class(y_true, y_pred):
    classes = np.union1d(y_true, y_pred)
    scores = np.array([precision_recall_f1((y_true == c).astype(int), (y_pred == c).astype(int))
                       for c in classes])  # (C, 3): one-vs-rest per class
    support = np.array([np.sum(y_true == c) for c in classes])
    return scores, support


def _prf_weighted(y_true, y_pred, average="binary"):
    if average != "macro":
        return precision_recall_f1(y_true, y_pred, average)
    scores, support = _prf_per_class(y_true, y_pred)
    return tuple(float(v) for v in np.average(scores, axis=0, weights=support))


def _prf_skips_unpredicted(y_true, y_pred, average="binary"):
    if average != "macro":
        return precision_recall_f1(y_true, y_pred, average)
    classes = np.union1d(y_true, y_pred)
    predicted = [c for c in classes if np.any(y_pred == c)]  # a never-predicted class left out
    scores = [precision_recall_f1((y_true == c).astype(int), (y_pred == c).astype(int))
              for c in predicted]
    return tuple(float(np.mean(col)) for col in zip(*scores))


def _roc_over_n_squared(y_true, scores):
    n_pairs = np.sum(y_true == 1) * np.sum(y_true == 0)
    return roc_auc(y_true, scores) * n_pairs / len(y_true) ** 2


WRONG = [
    (checks.check_mae, _mae_sum, "mean over the batch, not the sum"),
    (checks.check_mae, _mae_sign_at_zero, "where y_pred == y the gradient is 0"),
    (checks.check_mae, _mae_flipped, "you have its negative"),
    (checks.check_mae, lambda y_pred, y: (mae(y_pred, y)[0], np.sign(y_pred - y)),
     "each entry of its gradient carries the factor 1/N"),
    (checks.check_mae, _mae_rows, "not over the rows only"),
    (checks.check_mae, _mae_mse, "that is the MSE"),
    (checks.check_mae, lambda y_pred, y: mae(y_pred, y)[0], "return a tuple (loss, grad)"),
    (checks.check_huber, _huber_smooth_l1, "that is smooth L1"),
    (checks.check_huber, lambda y_pred, y, delta=1.0: huber(y_pred, y), "use the `delta` argument"),
    (checks.check_huber, _huber_no_offset, "the two pieces meet at |d| = delta"),
    (checks.check_huber, _huber_unit_slope, "delta * sign(d), not sign(d)"),
    (checks.check_huber, _huber_sum, "mean over the batch, not the sum"),
    (checks.check_huber, _huber_flipped, "you have its negative"),
    (checks.check_bce_with_logits, _bce_naive, "use the stable form"),
    (checks.check_bce_with_logits, _bce_clipped, "caps each loss near 16"),
    (checks.check_bce_with_logits, _bce_hard_labels, "soft labels"),
    (checks.check_bce_with_logits,
     lambda z, y: (bce_with_logits(z, y)[0], (y - sigmoid(z)) / len(z)), "you have its negative"),
    (checks.check_bce_with_logits, lambda z, y: (bce_with_logits(z, y)[0], sigmoid(z) - y),
     "carries the factor 1/N"),
    (checks.check_bce_with_logits, lambda z, y: (bce_with_logits(z, y)[0] * len(z), sigmoid(z) - y),
     "mean over the batch, not the sum"),
    (checks.check_bce_with_logits, _bce_column_grad, "the gradient has the shape of logits, (N,)"),
    (checks.check_cross_entropy, _ce_naive, "log-sum-exp trick"),
    (checks.check_cross_entropy, _ce_k_minus_1, "over all K classes, the true one included"),
    (checks.check_cross_entropy, lambda z, y, label_smoothing=0.0: cross_entropy(z, y),
     "use the `label_smoothing` argument"),
    (checks.check_cross_entropy, _ce_mean_all, "not over all N*K entries"),
    (checks.check_cross_entropy, _ce_axis0, "not down the batch (axis=0)"),
    (checks.check_cross_entropy, _ce_one_hot_grad, "with the smoothed target, not the one-hot"),
    (checks.check_cross_entropy, _ce_in_place, "an in-place update"),
    (checks.check_cross_entropy, _ce_flipped, "you have its negative"),
    (checks.check_hinge, _hinge_no_margin, "margin of 1"),
    (checks.check_hinge, lambda s, y: (hinge(s, y)[0], -y / len(s)), "the gradient is 0 there"),
    (checks.check_hinge, lambda s, y: (hinge(s, y)[0], -y * (y * s <= 1) / len(s)), "not <="),
    (checks.check_hinge, lambda s, y: (hinge(s, y)[0], -hinge(s, y)[1]), "you have its negative"),
    (checks.check_hinge, lambda s, y: (hinge(s, y)[0] * len(s), hinge(s, y)[1] * len(s)),
     "mean over the batch, not the sum"),
    (checks.check_kl_divergence, _kl_naive, "a p = 0 term contributes 0"),
    (checks.check_kl_divergence, lambda p, q: kl_divergence(q, p), "KL is not symmetric"),
    (checks.check_kl_divergence, lambda p, q: kl_divergence(p, q) * len(p), "averaged over the batch"),
    (checks.check_kl_divergence, lambda p, q: kl_divergence(p, q) / p.shape[1], "not by all N*K"),
    (checks.check_kl_divergence, lambda p, q: kl_divergence(p, q) / np.log(2), "natural log"),
    (checks.check_kl_divergence, lambda p, q: -kl_divergence(p, q), "you have log(q / p)"),
    (checks.check_precision_recall_f1, _prf_swapped, "precision and recall are swapped"),
    (checks.check_precision_recall_f1, _prf_nan, "zero_division=0"),
    (checks.check_precision_recall_f1, _prf_f1_of_means, "mean of the per-class F1 scores"),
    (checks.check_precision_recall_f1, _prf_always_micro, "you pooled the counts (micro)"),
    (checks.check_precision_recall_f1, _prf_always_macro, "you averaged per-class scores (macro)"),
    (checks.check_precision_recall_f1, _prf_true_labels_only, "np.union1d"),
    (checks.check_precision_recall_f1, _prf_positive_zero, "the positive class is 1"),
    (checks.check_precision_recall_f1, _prf_weighted, "average='weighted'"),
    (checks.check_precision_recall_f1, _prf_skips_unpredicted, "still counts in the macro average"),
    (checks.check_roc_auc, _roc_strict, "counts one half"),
    (checks.check_roc_auc, _roc_ordinal_ranks, "counts one half"),
    (checks.check_roc_auc, _roc_stepwise, "counts one half"),
    (checks.check_roc_auc, lambda y, s: 1 - roc_auc(y, s), "classes swapped"),
    (checks.check_roc_auc, lambda y, s: float(np.mean((s > 0.5) == y)), "not the accuracy"),
    (checks.check_roc_auc, _roc_over_n_squared, "n_pos * n_neg"),
]


# --- the stability promises, one by one ------------------------------------------------------
@pytest.mark.parametrize("check, naive, case", [
    (checks.check_bce_with_logits, _bce_naive, "large logits"),
    (checks.check_cross_entropy, _ce_naive, "large logits"),
    (checks.check_kl_divergence, _kl_naive, "p with zeros"),
])
def test_a_naive_formula_passes_until_the_edge_case(check, naive, case):
    message = assert_fails_with(check, naive, "", subcheck=case)
    assert "nan or inf" in message, message


def test_a_class_never_predicted_gives_zero_not_nan():
    from sklearn.metrics import precision_recall_fscore_support

    y_true, y_pred = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 0, 0])
    expected = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert precision_recall_f1(y_true, y_pred, "macro") == pytest.approx(expected[:3])
    message = assert_fails_with(checks.check_precision_recall_f1, _prf_nan, "zero_division=0")
    assert "nan" in message

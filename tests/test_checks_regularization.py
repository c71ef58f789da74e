"""The regularization checks: correct code passes (NumPy, loops, float32, PyTorch, scikit-learn),
classic mistakes get their hint; the early-stopping reference equals real Keras; the object-passing
checks (a class, a probe for dropout's generators) work through the grading sandbox."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    assert_fails_with,
    in_float32,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import regularization as checks

ROOT = Path(__file__).resolve().parents[1]


# --- reference and alternative correct implementations -------------------------------------
def l1_penalty(params, lam):
    return lam * sum(float(np.abs(w).sum()) for w in params), [lam * np.sign(w) for w in params]


def l1_penalty_loop(params, lam):
    total, grads = 0.0, []
    for w in params:
        g = np.zeros_like(w)
        for i, v in np.ndenumerate(w):
            total += abs(v)
            g[i] = lam if v > 0 else -lam if v < 0 else 0.0
        grads.append(g)
    return lam * total, grads


def l1_penalty_torch(params, lam):
    import torch

    ts = [torch.tensor(w, requires_grad=True) for w in params]
    penalty = lam * sum(t.abs().sum() for t in ts)
    penalty.backward()
    return penalty.item(), [t.grad.numpy() for t in ts]


def l2_penalty(params, lam):
    return lam * sum(float(np.sum(w * w)) for w in params), [2 * lam * w for w in params]


def l2_penalty_flat(params, lam):
    flat = np.concatenate([w.ravel() for w in params])
    return float(lam * flat @ flat), [2.0 * lam * w for w in params]


def l2_penalty_torch(params, lam):
    import torch

    ts = [torch.tensor(w, requires_grad=True) for w in params]
    penalty = lam * sum((t ** 2).sum() for t in ts)
    penalty.backward()
    return penalty.item(), [t.grad.numpy() for t in ts]


def dropout(x, p, training=True, rng=None):
    if not training or p == 0:
        return x
    rng = np.random.default_rng() if rng is None else rng
    keep = rng.random(x.shape) >= p
    return np.where(keep, x / (1 - p), 0.0)


def dropout_binomial(x, p, training=True, rng=None):
    if not training or p == 0:
        return x.copy()
    rng = rng if rng is not None else np.random.default_rng()
    mask = rng.binomial(1, 1.0 - p, size=x.shape)
    return x * mask / (1.0 - p)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                      eps=1e-5):
    if training:
        mean, var = x.mean(axis=0), x.var(axis=0)
        n = x.shape[0]
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, running_mean, running_var


def batchnorm_forward_loop(x, gamma, beta, running_mean, running_var, training=True,
                           momentum=0.1, eps=1e-5):
    n, d = x.shape
    out, rm, rv = np.empty_like(x), running_mean.copy(), running_var.copy()
    for j in range(d):
        col = x[:, j]
        if training:
            mean = sum(col) / n
            var = sum((v - mean) ** 2 for v in col) / n
            rm[j] = (1 - momentum) * rm[j] + momentum * mean
            rv[j] = (1 - momentum) * rv[j] + momentum * var * n / (n - 1)
        else:
            mean, var = rm[j], rv[j]
        out[:, j] = gamma[j] * (col - mean) / math.sqrt(var + eps) + beta[j]
    return out, rm, rv


def batchnorm_forward_torch_float32(x, gamma, beta, running_mean, running_var, training=True,
                                    momentum=0.1, eps=1e-5):
    import torch

    layer = torch.nn.BatchNorm1d(x.shape[1], eps=eps, momentum=momentum)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(gamma))
        layer.bias.copy_(torch.as_tensor(beta))
        layer.running_mean.copy_(torch.as_tensor(running_mean))
        layer.running_var.copy_(torch.as_tensor(running_var))
        out = layer.train(training)(torch.as_tensor(x, dtype=torch.float32))
    return out.numpy(), layer.running_mean.numpy(), layer.running_var.numpy()


def layernorm_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def layernorm_forward_loop(x, gamma, beta, eps=1e-5):
    flat = x.reshape(-1, x.shape[-1])  # (rows, D)
    out = np.empty_like(flat)
    for i, row in enumerate(flat):
        mean = row.sum() / row.size
        var = ((row - mean) ** 2).sum() / row.size
        out[i] = gamma * (row - mean) / math.sqrt(var + eps) + beta
    return out.reshape(x.shape)


def layernorm_forward_torch_float32(x, gamma, beta, eps=1e-5):
    import torch

    layer = torch.nn.LayerNorm(x.shape[-1], eps=eps)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(gamma))
        layer.bias.copy_(torch.as_tensor(beta))
        return layer(torch.as_tensor(x, dtype=torch.float32)).numpy()


class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_epoch, self.wait, self.epoch = math.inf, 0, 0, -1

    def step(self, val_loss):
        self.epoch += 1
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = val_loss, self.epoch, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


class EarlyStoppingFromHistory:
    """Another style: keep every loss and work out the state from the history."""

    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta, self.history = patience, min_delta, []

    @property
    def best(self):
        return self._state()[0]

    @property
    def best_epoch(self):
        return self._state()[1]

    def _state(self):
        best, best_epoch = float("inf"), 0
        for epoch, loss in enumerate(self.history):
            if best - loss > self.min_delta:
                best, best_epoch = loss, epoch
        return best, best_epoch

    def step(self, val_loss):
        self.history.append(float(val_loss))
        improved = self._state()[1] == len(self.history) - 1
        return (not improved) and len(self.history) - 1 - self.best_epoch >= self.patience


def kfold_indices(n, k, shuffle=False, seed=None):
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    folds = np.array_split(order, k)
    return [(np.concatenate(folds[:i] + folds[i + 1:]), val) for i, val in enumerate(folds)]


def kfold_indices_loop(n, k, shuffle=False, seed=None):
    order = list(range(n))
    if shuffle:
        np.random.default_rng(seed).shuffle(order)
    out, start = [], 0
    for i in range(k):
        size = n // k + (1 if i < n % k else 0)
        val = np.array(order[start:start + size])
        train = np.array([j for j in range(n) if j not in set(val.tolist())])
        out.append((train, val))
        start += size
    return out


def kfold_indices_sklearn(n, k, shuffle=False, seed=None):
    from sklearn.model_selection import KFold

    folds = KFold(k, shuffle=shuffle, random_state=seed if shuffle else None)
    return list(folds.split(np.zeros((n, 1))))


MODULE = checks
CORRECT = {
    checks.check_l1_penalty: [l1_penalty, l1_penalty_loop, in_float32(l1_penalty),
                              l1_penalty_torch],
    checks.check_l2_penalty: [l2_penalty, l2_penalty_flat, in_float32(l2_penalty),
                              l2_penalty_torch],
    checks.check_dropout: [dropout, dropout_binomial, in_float32(dropout)],
    checks.check_batchnorm_forward: [batchnorm_forward, batchnorm_forward_loop,
                                     batchnorm_forward_torch_float32],
    checks.check_layernorm_forward: [layernorm_forward, layernorm_forward_loop,
                                     layernorm_forward_torch_float32],
    checks.check_early_stopping: [EarlyStopping, EarlyStoppingFromHistory],
    checks.check_kfold_indices: [kfold_indices, kfold_indices_loop, kfold_indices_sklearn],
}


# --- known-wrong implementations, each with the hint it must get ---------------------------
def _dropout(keep_prob=None, scale=None, at_eval=False, rng_source="rng", per_column=False):
    """dropout with one classic mistake."""

    def fn(x, p, training=True, rng=None):
        if (not training and not at_eval) or p == 0:
            return x.copy()
        gen = {"rng": rng if rng is not None else np.random.default_rng(),
               "fixed": np.random.default_rng(0), "new": np.random.default_rng()}.get(rng_source)
        shape = x.shape[-1:] if per_column else x.shape
        draw = np.random.random(shape) if rng_source == "global" else gen.random(shape)
        keep = draw >= (p if keep_prob is None else 1 - keep_prob(p))
        factor = 1 / (1 - p) if scale is None else scale(p)
        return np.where(keep, x * factor, 0.0)

    return fn


def _dropout_in_place(x, p, training=True, rng=None):
    if training and p > 0:
        x[(rng if rng is not None else np.random.default_rng()).random(x.shape) < p] = 0.0
        x /= 1 - p
    return x


def _bn(**mistake):
    def fn(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
        ddof, run_ddof = mistake.get("ddof", 0), mistake.get("run_ddof", 1)
        use_batch = training or mistake.get("batch_in_eval", False)
        mean = x.mean(axis=0) if use_batch else running_mean
        var = x.var(axis=0, ddof=ddof) if use_batch else running_var
        denominator = np.sqrt(var) + eps if mistake.get("eps_out") else np.sqrt(var + eps)
        out = gamma * (x - mean) / denominator + beta
        if training and not mistake.get("frozen"):
            m = 1 - momentum if mistake.get("keras") else momentum
            running_mean = (1 - m) * running_mean + m * x.mean(axis=0)
            running_var = (1 - m) * running_var + m * x.var(axis=0, ddof=run_ddof)
        return out, running_mean, running_var

    return fn


def _bn_in_place(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                 eps=1e-5):
    out, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum,
                                    eps)
    if training:
        running_mean *= 1 - momentum
        running_mean += momentum * x.mean(axis=0)
        return out, running_mean, rv
    return out, rm, rv


def _ln(axis=-1, ddof=0, eps_out=False):
    def fn(x, gamma, beta, eps=1e-5):
        mean = x.mean(axis=axis, keepdims=True)
        var = x.var(axis=axis, ddof=ddof, keepdims=True)
        return gamma * (x - mean) / (np.sqrt(var) + eps if eps_out else np.sqrt(var + eps)) + beta

    return fn


def _early_stopping(improved=None, stop=None, reset=True, epoch_base=0, first_best=math.inf,
                    against="best"):
    """An EarlyStopping class with one classic mistake."""

    class Wrong:
        def __init__(self, patience, min_delta=0.0):
            self.patience, self.min_delta = patience, min_delta
            self.best, self.best_epoch, self.wait, self.epoch = first_best, 0, 0, -1
            self.previous = math.inf

        def step(self, val_loss):
            self.epoch += 1
            target = self.best if against == "best" else self.previous
            self.previous = val_loss
            better = (improved or (lambda v, b, d: v < b - d))(val_loss, target, self.min_delta)
            if better:
                self.best, self.best_epoch = val_loss, self.epoch + epoch_base
                if reset:
                    self.wait = 0
                return False
            self.wait += 1
            return (stop or (lambda w, p: w >= p))(self.wait, self.patience)

    return Wrong


class _SharedState:
    best, best_epoch, wait, epoch = math.inf, 0, 0, -1

    def __init__(self, patience, min_delta=0.0):
        _SharedState.patience, _SharedState.min_delta = patience, min_delta

    def step(self, val_loss):
        cls = _SharedState
        cls.epoch += 1
        if val_loss < cls.best - cls.min_delta:
            cls.best, cls.best_epoch, cls.wait = val_loss, cls.epoch, 0
            return False
        cls.wait += 1
        return cls.wait >= cls.patience


def _kfold(sizes=None, train_all=False, swap=False, overlap=0, shuffle_ignored=False,
           unseeded=False):
    """kfold_indices with one classic mistake: ``sizes(n, k)`` the validation fold sizes."""

    def fn(n, k, shuffle=False, seed=None):
        order = np.arange(n)
        if shuffle and not shuffle_ignored:
            order = np.random.default_rng(None if unseeded else seed).permutation(n)
        out, start = [], 0
        for size in (sizes(n, k) if sizes else [len(f) for f in np.array_split(order, k)]):
            val = order[start:start + size + overlap]
            train = order if train_all else np.setdiff1d(order, val)
            out.append((val, train) if swap else (train, val))
            start += size
        return out

    return fn


def _penalty(term, grad, only=None, scale=1.0, flat=False):
    """A penalty with one classic mistake: ``term(w)`` summed, ``grad(w, lam)`` per array, only
    the arrays at positions ``only`` (else all), the penalty times ``scale``, ``flat`` grads."""

    def fn(params, lam):
        chosen = range(len(params)) if only is None else [only % len(params)]
        value = scale * lam * sum(float(np.sum(term(params[i]))) for i in chosen)
        grads = [grad(w, lam) if i in chosen else np.zeros_like(w) for i, w in enumerate(params)]
        return value, (np.concatenate([g.ravel() for g in grads]) if flat else grads)

    return fn


def _sign(w, lam):
    return lam * np.sign(w)


def _twice(w, lam):
    return 2 * lam * w


def _l2_norm_not_squared(params, lam):
    return lam * math.sqrt(sum(float(np.sum(w * w)) for w in params)), l2_penalty(params, lam)[1]


def _dropout_no_none(x, p, training=True, rng=None):
    return _dropout()(x, p, training, rng.random and rng)  # rng=None fails on rng.random


def _bn_layer_axis(x, gamma, beta, running_mean, running_var, **kwargs):
    out = layernorm_forward(x, gamma, beta, kwargs.get("eps", 1e-5))  # each example, not feature
    return (out, *batchnorm_forward(x, gamma, beta, running_mean, running_var, **kwargs)[1:])


def _kfold_generator(n, k, shuffle=False, seed=None):
    return iter(kfold_indices(n, k, shuffle, seed))


def _extra_last(n, k):
    return [n // k] * (k - n % k) + [n // k + 1] * (n % k)


def _ceil_sizes(n, k):
    return [-(-n // k)] * (k - 1) + [n - (k - 1) * -(-n // k)]


WRONG = [
    # l1_penalty
    (checks.check_l1_penalty, _penalty(np.abs, lambda w, lam: lam * np.where(w >= 0, 1.0, -1.0)),
     "subgradient at w = 0 is 0"),
    (checks.check_l1_penalty, _penalty(np.abs, lambda w, lam: np.sign(w)),
     "multiply the gradient by lam"),
    (checks.check_l1_penalty, _penalty(np.abs, lambda w, lam: lam * np.abs(w)),
     "derivative of |w| is sign(w)"),
    (checks.check_l1_penalty, l2_penalty, "absolute values, not squares"),
    (checks.check_l1_penalty, _penalty(np.abs, _sign, only=0), "penalise every array"),
    (checks.check_l1_penalty, _penalty(np.abs, _sign, flat=True), "one gradient per array"),
    # l2_penalty
    (checks.check_l2_penalty, _penalty(np.square, lambda w, lam: lam * w, scale=0.5),
     "without the 1/2"),
    (checks.check_l2_penalty, _penalty(np.square, lambda w, lam: lam * w),
     "derivative of lam * w**2 is 2 * lam * w"),
    (checks.check_l2_penalty, _l2_norm_not_squared, "no square root"),
    (checks.check_l2_penalty, _penalty(np.square, _sign), "not lam * sign(w)"),
    (checks.check_l2_penalty, _penalty(np.square, _twice, only=-1), "penalise every array"),
    # dropout
    (checks.check_dropout, _dropout(scale=lambda p: 1.0), "scales the kept values by 1 / (1 - p)"),
    (checks.check_dropout, _dropout(scale=lambda p: p), "do not multiply them by p"),
    (checks.check_dropout, _dropout(scale=lambda p: 1 - p), "do not multiply them by (1 - p)"),
    (checks.check_dropout, _dropout(keep_prob=lambda p: p), "probability of DROPPING"),
    (checks.check_dropout, _dropout(at_eval=True), "when training is False"),
    (checks.check_dropout, _dropout(rng_source="global"), "NumPy's global generator"),
    (checks.check_dropout, _dropout(rng_source="new"),
     "draw the mask from the generator you are given"),
    (checks.check_dropout, _dropout(rng_source="fixed"), "a fixed seed, ignores it"),
    (checks.check_dropout, _dropout(per_column=True), "one random number per entry"),
    (checks.check_dropout, _dropout_in_place, "changes the caller's array"),
    (checks.check_dropout, _dropout_no_none, "rng=None must work"),
    # batchnorm_forward
    (checks.check_batchnorm_forward, _bn(ddof=1), "normalise with the biased batch variance"),
    (checks.check_batchnorm_forward, _bn(run_ddof=0), "UNBIASED batch variance"),
    (checks.check_batchnorm_forward, _bn(keras=True), "PyTorch's momentum weighs the new batch"),
    (checks.check_batchnorm_forward, _bn(frozen=True), "update the running statistics"),
    (checks.check_batchnorm_forward, _bn(batch_in_eval=True),
     "normalise with the running statistics"),
    (checks.check_batchnorm_forward, _bn(eps_out=True), "eps goes inside the square root"),
    (checks.check_batchnorm_forward, _bn_layer_axis, "averages over the batch (axis 0)"),
    (checks.check_batchnorm_forward, _bn_in_place, "also changes the caller's array"),
    # layernorm_forward
    (checks.check_layernorm_forward, _ln(axis=0), "not each feature over the batch"),
    (checks.check_layernorm_forward, _ln(ddof=1), "use the biased variance"),
    (checks.check_layernorm_forward, _ln(eps_out=True), "eps goes inside the square root"),
    (checks.check_layernorm_forward, _ln(axis=1), "whatever the number of dimensions"),
    (checks.check_layernorm_forward, lambda x, g, b, eps=1e-5: layernorm_forward(x, 1.0, 0.0, eps),
     "scale by gamma and shift by beta"),
    (checks.check_layernorm_forward, lambda x, g, b, eps=1e-5: layernorm_forward(x, g, 0 * b, eps),
     "add beta after scaling"),
    # early_stopping
    (checks.check_early_stopping, _early_stopping(stop=lambda w, p: w > p),
     "waits one step too long"),
    (checks.check_early_stopping, _early_stopping(improved=lambda v, b, d: v <= b - d),
     "a tie is no improvement"),
    (checks.check_early_stopping, _early_stopping(improved=lambda v, b, d: v < b),
     "beat best by more than min_delta"),
    (checks.check_early_stopping, _early_stopping(improved=lambda v, b, d: v < b + d),
     "subtract min_delta from best"),
    (checks.check_early_stopping, _early_stopping(against="previous"),
     "not with the previous step's loss"),
    (checks.check_early_stopping, _early_stopping(reset=False), "reset the count"),
    (checks.check_early_stopping, _early_stopping(epoch_base=1), "counts step calls from 0"),
    (checks.check_early_stopping, _early_stopping(first_best=0.0), "best starts at +inf"),
    (checks.check_early_stopping, _SharedState, "not on the class"),
    (checks.check_early_stopping, EarlyStopping(2), "pass the class, not an instance"),
    # kfold_indices
    (checks.check_kfold_indices, _kfold(sizes=_extra_last), "go to the FIRST folds"),
    (checks.check_kfold_indices, _kfold(sizes=lambda n, k: [n // k] * k),
     "do not drop the last n % k"),
    (checks.check_kfold_indices, _kfold(sizes=_ceil_sizes), "differ by at most one"),
    (checks.check_kfold_indices, _kfold(sizes=lambda n, k: [n // k] * (k - 1) + [n // k + n % k]),
     "differ by at most one"),
    (checks.check_kfold_indices, _kfold(train_all=True), "NOT in val_idx"),
    (checks.check_kfold_indices, _kfold(swap=True), "the training indices first"),
    (checks.check_kfold_indices, _kfold(overlap=1), "must not overlap"),
    (checks.check_kfold_indices, _kfold(shuffle_ignored=True), "permute range(n)"),
    (checks.check_kfold_indices, _kfold(unseeded=True), "a generator made from the seed"),
    (checks.check_kfold_indices, _kfold_generator, "list of k (train_idx, val_idx)"),
]


# --- the early-stopping reference is Keras's rule ------------------------------------------
def test_keras_rule_by_hand():
    trace = checks.keras_rule([1.0, 0.8, 0.9, 0.85, 0.7], patience=2)
    assert trace == [(False, 1.0, 0), (False, 0.8, 1), (False, 0.8, 1), (True, 0.8, 1)]
    assert checks.keras_rule([1.0, 0.75, 0.75], 1) == [(False, 1.0, 0), (False, 0.75, 1),
                                                       (True, 0.75, 1)]
    assert checks.keras_rule([1.0, 0.75, 0.5], 1, 0.25)[-1] == (True, 1.0, 0)
    assert checks.keras_rule([3.0, 2.0, 1.0], 0) == [(False, 3.0, 0), (False, 2.0, 1),
                                                     (False, 1.0, 2)]  # never stops


KERAS_SCRIPT = """
import json, sys
import numpy as np
import keras
from coursekit.checks.regularization import keras_rule, loss_curve

class Model:  # what EarlyStopping needs of a model when it does not restore weights
    stop_training = False

def keras_trace(losses, patience, min_delta):
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                             min_delta=min_delta, mode="min")
    model = Model()
    callback.set_model(model)
    callback.on_train_begin()
    trace = []
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"val_loss": loss})
        trace.append((bool(model.stop_training), float(callback.best), int(callback.best_epoch)))
        if model.stop_training:
            break
    return trace

rng = np.random.default_rng(0)
cases = [([1.0, 0.8, 0.9, 0.85, 0.7], 2, 0.0), ([1.0, 0.75, 0.75, 0.5], 1, 0.0),
         ([1.0, 0.75, 0.5, 0.5, 0.25], 1, 0.25), ([1.0 - i / 64 for i in range(30)], 2, 0.0)]
for _ in range(400):
    cases.append((loss_curve(rng, int(rng.integers(2, 40))), int(rng.integers(0, 7)),
                  float(rng.choice([0.0, 1 / 32, 1 / 16, 0.125]))))
for _ in range(100):  # off the grid: ties are then (almost) impossible
    cases.append(([float(v) for v in rng.uniform(0, 1, int(rng.integers(2, 30)))],
                  int(rng.integers(0, 5)), float(rng.uniform(0, 0.1))))
mismatches = [(c, keras_trace(*c), keras_rule(*c)) for c in cases
              if keras_trace(*c) != keras_rule(*c)]
stops = sum(keras_rule(*c)[-1][0] for c in cases)
print("RESULT " + json.dumps({"cases": len(cases), "stops": stops, "mismatches": mismatches[:3]}))
"""

FIT_SCRIPT = """
import json
import numpy as np
import keras
from coursekit.checks.regularization import keras_rule, loss_curve

class Scripted(keras.callbacks.Callback):
    # Replaces the validation loss in the logs with a scripted one, before EarlyStopping reads it.
    def __init__(self, losses):
        super().__init__()
        self.losses = losses
    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.losses[epoch]

rng = np.random.default_rng(1)
X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
results = []
for patience, min_delta in ((0, 0.0), (2, 0.0), (3, 1 / 32), (1, 1 / 16)):
    losses = loss_curve(rng, 25)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta)
    history = model.fit(X, y, epochs=len(losses), verbose=0, callbacks=[Scripted(losses), stop])
    expected = keras_rule(losses, patience, min_delta)
    results.append([len(history.history["loss"]), len(expected), float(stop.best), expected[-1][1],
                    int(stop.best_epoch), expected[-1][2]])
print("RESULT " + json.dumps(results))
"""


def _run_keras(script: str):
    import json

    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.slow
def test_keras_rule_equals_keras_early_stopping_on_many_sequences():
    """The check's reference against keras.callbacks.EarlyStopping itself: 500 sequences, on the
    1/32 grid (ties) and off it, patience 0 to 6, several min_delta."""
    result = _run_keras(KERAS_SCRIPT)
    assert result["mismatches"] == [], result["mismatches"]
    assert result["cases"] == 504 and 100 < result["stops"] < 500  # both outcomes are exercised


@pytest.mark.slow
def test_keras_rule_equals_early_stopping_inside_model_fit():
    """Inside a real model.fit: the number of epochs run and the best epoch are the rule's."""
    for ran, rule_ran, best, rule_best, best_epoch, rule_best_epoch in _run_keras(FIT_SCRIPT):
        assert (ran, best, best_epoch) == (rule_ran, rule_best, rule_best_epoch)


# --- messages -------------------------------------------------------------------------------
def test_early_stopping_failure_shows_the_step_and_both_states():
    message = assert_fails_with(checks.check_early_stopping,
                                _early_stopping(stop=lambda w, p: w > p), "waits one step too long")
    assert "at step 3: expected step() -> True, best 0.8, best_epoch 1" in message, message
    assert "got      step() -> False" in message, message


def test_dropout_failure_names_the_scale():
    message = assert_fails_with(checks.check_dropout, _dropout(scale=lambda p: 1.0), "1 / (1 - p)")
    assert "kept values should be x * 1.33333" in message, message


# --- through the grading sandbox ------------------------------------------------------------
SUBMISSION_CELLS = {
    "dropout": '''
def dropout(x, p, training=True, rng=None):
    if not training or p == 0:
        return x
    keep = np.random.random(x.shape) >= p   # NumPy's global generator, not rng
    return np.where(keep, x / (1 - p), 0.0)
''',
    "early_stopping": '''
class EarlyStopping:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.best_epoch, self.wait, self.epoch = float("inf"), 0, 0, -1

    def step(self, val_loss):
        self.epoch += 1
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = val_loss, self.epoch, 0
            return False
        self.wait += 1
        return self.wait > self.patience   # one step too late
''',
}


@pytest.mark.slow
def test_object_passing_answers_are_graded_through_the_sandbox(tmp_path):
    """The solution's dropout (a probe builds its generators) and EarlyStopping (a class: its
    instances live in the sandbox) get full marks; wrong ones get 0 and their hint."""
    from conftest import require_sandbox

    require_sandbox()
    import nbformat

    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.sandbox import grade_submission

    source = ROOT / "solutions" / "06_regularization.ipynb"
    solved = answered_notebook(ROOT, "06_regularization")
    rows, _ = grade_submission(source, solved, student="solved", cell_timeout=120)
    scores = {r.cell: (r.score, r.status) for r in rows}
    for cell in ("dropout_test", "early_stopping_test"):
        assert scores[cell][1] == "passed", scores

    wrong = nbformat.from_dict(solved)
    for cell in wrong.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in SUBMISSION_CELLS:
            cell.source = SUBMISSION_CELLS[grade_id]
    rows, _ = grade_submission(source, wrong, student="wrong", cell_timeout=120)
    by_cell = {r.cell: r for r in rows}
    for cell, hint in (("dropout_test", "NumPy's global generator"),
                       ("early_stopping_test", "waits one step too long")):
        assert by_cell[cell].score == 0 and by_cell[cell].status.startswith("failed"), by_cell[cell]
        assert hint in by_cell[cell].detail, by_cell[cell].detail
    assert by_cell["layernorm_forward_test"].status == "passed"

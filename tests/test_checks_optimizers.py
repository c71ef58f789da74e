"""The optimizers checks: correct optimizers pass (on the notebook's base class, with their own
step, torch itself behind NumPy views), and known mistakes get their hint, in the notebook and
through the grading sandbox."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import optimizers as checks

ROOT = Path(__file__).resolve().parents[1]
STEM = "05_optimizers"


# --- the notebook's base class and the reference solutions --------------------------------
class Optimizer:
    def __init__(self, params):
        self.params = list(params)
        self.state = [{} for _ in self.params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, state in zip(self.params, grads, self.state, strict=True):
            self.update(p, np.array(g, dtype=p.dtype), state)

    def update(self, p, g, state):
        raise NotImplementedError()


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, weight_decay

    def update(self, p, g, state):
        g = g + self.weight_decay * p
        if self.momentum:
            state["buf"] = g.copy() if "buf" not in state else self.momentum * state["buf"] + g
            g = g + self.momentum * state["buf"] if self.nesterov else state["buf"]
        p -= self.lr * g


class Adagrad(Optimizer):
    def __init__(self, params, lr=0.01, eps=1e-10):
        super().__init__(params)
        self.lr, self.eps = lr, eps

    def update(self, p, g, state):
        state["sum"] = state.get("sum", 0.0) + g * g
        p -= self.lr * g / (np.sqrt(state["sum"]) + self.eps)


class RMSprop(Optimizer):
    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8):
        super().__init__(params)
        self.lr, self.alpha, self.eps = lr, alpha, eps

    def update(self, p, g, state):
        state["v"] = self.alpha * state.get("v", 0.0) + (1 - self.alpha) * g * g
        p -= self.lr * g / (np.sqrt(state["v"]) + self.eps)


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6):
        super().__init__(params)
        self.lr, self.rho, self.eps = lr, rho, eps

    def update(self, p, g, state):
        rho, eps = self.rho, self.eps
        state["v"] = rho * state.get("v", 0.0) + (1 - rho) * g * g
        delta = np.sqrt(state.get("u", 0.0) + eps) / np.sqrt(state["v"] + eps) * g
        state["u"] = rho * state.get("u", 0.0) + (1 - rho) * delta * delta
        p -= self.lr * delta


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay

    def moments(self, g, state):
        b1, b2 = self.betas
        state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        return state["m"], state["v"]

    def adam_step(self, p, g, state):
        m, v = self.moments(g, state)
        b1, b2 = self.betas
        p -= self.lr * (m / (1 - b1 ** self.t)) / (np.sqrt(v / (1 - b2 ** self.t)) + self.eps)

    def update(self, p, g, state):
        self.adam_step(p, g + self.weight_decay * p, state)


class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, p, g, state):
        p *= 1 - self.lr * self.weight_decay
        self.adam_step(p, g, state)


def step_decay(lr0, epoch, step_size, gamma=0.1):
    return float(lr0 * gamma ** (epoch // step_size))


def cosine_annealing(lr0, t, T_max, eta_min=0.0):
    return float(eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2)


def accumulated_gradient(grad_fn, params, X, y, micro_batch_size):
    total = [np.zeros_like(p, dtype=float) for p in params]
    for i in range(0, len(X), micro_batch_size):
        Xb, yb = X[i:i + micro_batch_size], y[i:i + micro_batch_size]
        for acc, g in zip(total, grad_fn(params, Xb, yb), strict=True):
            acc += len(Xb) / len(X) * np.asarray(g)
    return total


# --- alternative correct implementations -----------------------------------------------------
class SGDVelocity:
    """Keras's form, with its own step and no base class: v = mu v - lr g; p += v (Nesterov:
    p += mu v - lr g). The same steps as torch's for a constant lr."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.params, self.lr, self.mu, self.nesterov = list(params), lr, momentum, nesterov
        self.wd = weight_decay
        self.v = [np.zeros_like(p) for p in self.params]

    def step(self, grads):
        for p, g, v in zip(self.params, grads, self.v, strict=True):
            g = g + self.wd * p
            v *= self.mu
            v -= self.lr * g
            p += self.mu * v - self.lr * g if self.nesterov else v


def torch_backed(name):
    """An optimizer class that runs torch.optim itself on tensors sharing the arrays' memory."""

    class TorchBacked:
        def __init__(self, params, **hyperparameters):
            self.params = list(params)
            self.tensors = [torch.from_numpy(p) for p in self.params]  # no copy
            self.opt = getattr(torch.optim, name)(self.tensors, **hyperparameters)

        def step(self, grads):
            for t, g in zip(self.tensors, grads, strict=True):
                t.grad = torch.tensor(np.asarray(g))
            self.opt.step()

    TorchBacked.__name__ = f"{name}ViaTorch"
    return TorchBacked


class AdagradOwnStep:
    def __init__(self, params, lr=0.01, eps=1e-10):
        self.params, self.lr, self.eps = list(params), lr, eps
        self.sums = [np.zeros_like(p) for p in self.params]

    def step(self, grads):
        for p, g, s in zip(self.params, grads, self.sums, strict=True):
            np.add(s, np.square(g), out=s)
            np.subtract(p, self.lr * g / (np.sqrt(s) + self.eps), out=p)


class RMSpropLoops(RMSprop):
    def update(self, p, g, state):
        v = state.setdefault("v", np.zeros_like(p))
        for i in np.ndindex(p.shape):
            v[i] = self.alpha * v[i] + (1 - self.alpha) * g[i] ** 2
            p[i] = p[i] - self.lr * g[i] / (math.sqrt(v[i]) + self.eps)


class AdadeltaOwnStep:
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6):
        self.params, self.lr, self.rho, self.eps = list(params), lr, rho, eps
        self.v = [np.zeros_like(p) for p in self.params]
        self.u = [np.zeros_like(p) for p in self.params]

    def step(self, grads):
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            self.v[i] = self.rho * self.v[i] + (1 - self.rho) * g ** 2
            rms_update, rms_grad = np.sqrt(self.u[i] + self.eps), np.sqrt(self.v[i] + self.eps)
            delta = rms_update / rms_grad * g
            self.u[i] = self.rho * self.u[i] + (1 - self.rho) * delta ** 2
            p[...] = p - self.lr * delta


class AdamTorchForm(Adam):
    """torch's arrangement: step size lr / bc1, eps added to sqrt(v) / sqrt(bc2); own counter."""

    def update(self, p, g, state):
        state["step"] = state.get("step", 0) + 1
        m, v = self.moments(g + self.weight_decay * p, state)
        b1, b2 = self.betas
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** state["step"]) + self.eps
        p -= self.lr / (1 - b1 ** state["step"]) * m / denom


class AdamWTorchForm(AdamW):
    def update(self, p, g, state):
        p -= self.lr * self.weight_decay * p  # decay first, in place
        state["step"] = state.get("step", 0) + 1
        m, v = self.moments(g, state)
        b1, b2 = self.betas
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** state["step"]) + self.eps
        p -= self.lr / (1 - b1 ** state["step"]) * m / denom


def step_decay_loop(lr0, epoch, step_size, gamma=0.1):
    lr = lr0
    for e in range(1, epoch + 1):
        if e % step_size == 0:
            lr *= gamma
    return lr


def scheduler_torch(name, **fixed):
    def schedule(lr0, t, *args):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
        names = {"StepLR": ("step_size", "gamma"), "CosineAnnealingLR": ("T_max", "eta_min")}[name]
        sched = getattr(torch.optim.lr_scheduler, name)(opt, **dict(zip(names, args, strict=False)))
        for _ in range(t):
            opt.step()
            sched.step()
        return sched.get_last_lr()[0]

    schedule.__name__ = f"{name}_torch"
    return schedule


def cosine_numpy(lr0, t, T_max, eta_min=0.0):
    return eta_min + 0.5 * (lr0 - eta_min) * (1 + np.cos(np.pi * t / T_max))


def accumulated_gradient_sum_then_divide(grad_fn, params, X, y, micro_batch_size):
    sums, start = None, 0
    while start < len(X):
        Xb, yb = X[start:start + micro_batch_size], y[start:start + micro_batch_size]
        weighted = [len(Xb) * np.asarray(g) for g in grad_fn(params, Xb, yb)]
        sums = weighted if sums is None else [s + w for s, w in zip(sums, weighted, strict=True)]
        start += micro_batch_size
    return [s / len(X) for s in sums]


MODULE = checks
CORRECT = {
    checks.check_sgd: [SGD, SGDVelocity, torch_backed("SGD")],
    checks.check_adagrad: [Adagrad, AdagradOwnStep, torch_backed("Adagrad")],
    checks.check_rmsprop: [RMSprop, RMSpropLoops, torch_backed("RMSprop")],
    checks.check_adadelta: [Adadelta, AdadeltaOwnStep, torch_backed("Adadelta")],
    checks.check_adam: [Adam, AdamTorchForm, torch_backed("Adam")],
    checks.check_adamw: [AdamW, AdamWTorchForm, torch_backed("AdamW")],
    checks.check_step_decay: [step_decay, step_decay_loop, scheduler_torch("StepLR")],
    checks.check_cosine_annealing: [cosine_annealing, cosine_numpy,
                                    scheduler_torch("CosineAnnealingLR")],
    checks.check_accumulated_gradient: [accumulated_gradient, accumulated_gradient_sum_then_divide],
}


# --- known-wrong implementations, each with the hint it must get ------------------------------
class SGDDecaySign(SGD):
    def update(self, p, g, state):
        super().update(p, g - 2 * self.weight_decay * p, state)


class SGDBufferTwice(SGD):
    def update(self, p, g, state):
        g = g + self.weight_decay * p
        if self.momentum:
            state.setdefault("buf", g.copy())
            state["buf"] = self.momentum * state["buf"] + g
            g = g + self.momentum * state["buf"] if self.nesterov else state["buf"]
        p -= self.lr * g


class SGDNesterovOldBuffer(SGD):
    def update(self, p, g, state):
        g = g + self.weight_decay * p
        if self.momentum:
            old = state.get("buf", np.zeros_like(p))
            state["buf"] = self.momentum * old + g
            g = g + self.momentum * old if self.nesterov else state["buf"]
        p -= self.lr * g


class SGDNesterovNoMomentum(SGD):
    def update(self, p, g, state):
        g = g + self.weight_decay * p
        if self.momentum:
            state["buf"] = g.copy() if "buf" not in state else self.momentum * state["buf"] + g
            g = g + state["buf"] if self.nesterov else state["buf"]
        p -= self.lr * g


class SGDNoNesterov(SGD):
    def update(self, p, g, state):
        self.nesterov = False
        super().update(p, g, state)


class SGDAveraged(SGD):
    def update(self, p, g, state):
        g = g + self.weight_decay * p
        if self.momentum:
            state["buf"] = self.momentum * state.get("buf", 0.0) + (1 - self.momentum) * g
            g = g + self.momentum * state["buf"] if self.nesterov else state["buf"]
        p -= self.lr * g


class SGDCopies(SGD):
    def __init__(self, params, lr, **kwargs):
        super().__init__([np.array(p) for p in params], lr, **kwargs)


class SGDNewArrays(SGD):
    def step(self, grads):  # right values, but new arrays: the caller's never change
        self.t += 1
        new = []
        for p, g, state in zip(self.params, grads, self.state, strict=True):
            p = p.copy()
            self.update(p, np.array(g), state)
            new.append(p)
        self.params = new


class SGDRebinds(SGD):
    def update(self, p, g, state):
        p = p - self.lr * g  # noqa: F841 - the mistake: a new array, never written back


class SGDReturnsParams(SGD):
    def step(self, grads):
        super().step(grads)
        return self.params


class SGDChangesGrads(SGD):
    def step(self, grads):
        for p, g in zip(self.params, grads, strict=True):
            g += self.weight_decay * p  # the caller's gradient
        self.weight_decay, wd = 0.0, self.weight_decay
        super().step(grads)
        self.weight_decay = wd


class AdagradEpsInside(Adagrad):
    def update(self, p, g, state):
        state["sum"] = state.get("sum", 0.0) + g * g
        p -= self.lr * g / np.sqrt(state["sum"] + self.eps)


class AdagradNoRoot(Adagrad):
    def update(self, p, g, state):
        state["sum"] = state.get("sum", 0.0) + g * g
        p -= self.lr * g / (state["sum"] + self.eps)


class AdagradLate(Adagrad):
    def update(self, p, g, state):
        p -= self.lr * g / (np.sqrt(state.get("sum", 0.0)) + self.eps)
        state["sum"] = state.get("sum", 0.0) + g * g


class AdagradMean(Adagrad):
    def update(self, p, g, state):
        state["sum"] = state.get("sum", 0.0) + g * g
        p -= self.lr * g / (np.sqrt(state["sum"] / self.t) + self.eps)


class RMSpropKeras(RMSprop):
    def update(self, p, g, state):
        state["v"] = self.alpha * state.get("v", 0.0) + (1 - self.alpha) * g * g
        p -= self.lr * g / np.sqrt(state["v"] + self.eps)


class RMSpropSwapped(RMSprop):
    def update(self, p, g, state):
        state["v"] = (1 - self.alpha) * state.get("v", 0.0) + self.alpha * g * g
        p -= self.lr * g / (np.sqrt(state["v"]) + self.eps)


class RMSpropStartsAtG(RMSprop):
    def update(self, p, g, state):
        state.setdefault("v", g * g)
        super().update(p, g, state)


class RMSpropNoRoot(RMSprop):
    def update(self, p, g, state):
        state["v"] = self.alpha * state.get("v", 0.0) + (1 - self.alpha) * g * g
        p -= self.lr * g / (state["v"] + self.eps)


class AdadeltaLate(Adadelta):
    def update(self, p, g, state):
        rho, eps = self.rho, self.eps
        delta = np.sqrt(state.get("u", 0.0) + eps) / np.sqrt(state.get("v", 0.0) + eps) * g
        state["v"] = rho * state.get("v", 0.0) + (1 - rho) * g * g
        state["u"] = rho * state.get("u", 0.0) + (1 - rho) * delta * delta
        p -= self.lr * delta


class AdadeltaGradSquares(Adadelta):
    def update(self, p, g, state):
        rho, eps = self.rho, self.eps
        state["v"] = rho * state.get("v", 0.0) + (1 - rho) * g * g
        delta = np.sqrt(state.get("u", 0.0) + eps) / np.sqrt(state["v"] + eps) * g
        state["u"] = rho * state.get("u", 0.0) + (1 - rho) * g * g
        p -= self.lr * delta


class AdadeltaEpsOutside(Adadelta):
    def update(self, p, g, state):
        rho, eps = self.rho, self.eps
        state["v"] = rho * state.get("v", 0.0) + (1 - rho) * g * g
        delta = (np.sqrt(state.get("u", 0.0)) + eps) / (np.sqrt(state["v"]) + eps) * g
        state["u"] = rho * state.get("u", 0.0) + (1 - rho) * delta * delta
        p -= self.lr * delta


class AdadeltaNoLr(Adadelta):
    def update(self, p, g, state):
        self.lr = 1.0
        super().update(p, g, state)


class AdamNoBias(Adam):
    def update(self, p, g, state):
        m, v = self.moments(g + self.weight_decay * p, state)
        p -= self.lr * m / (np.sqrt(v) + self.eps)


class AdamOffByOne(Adam):
    def update(self, p, g, state):
        m, v = self.moments(g + self.weight_decay * p, state)
        b1, b2 = self.betas
        t = self.t + 1
        p -= self.lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + self.eps)


class AdamEpsInside(Adam):
    def update(self, p, g, state):
        m, v = self.moments(g + self.weight_decay * p, state)
        b1, b2 = self.betas
        p -= self.lr * (m / (1 - b1 ** self.t)) / np.sqrt(v / (1 - b2 ** self.t) + self.eps)


class AdamKerasEpsilon(Adam):
    def update(self, p, g, state):
        m, v = self.moments(g + self.weight_decay * p, state)
        b1, b2 = self.betas
        alpha = self.lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        p -= alpha * m / (np.sqrt(v) + self.eps)


class AdamDecoupled(AdamW):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, betas, eps, weight_decay)


class AdamWL2(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


class AdamWDecayNoLr(AdamW):
    def update(self, p, g, state):
        p *= 1 - self.weight_decay
        self.adam_step(p, g, state)


class AdamWDecayAfter(AdamW):
    def update(self, p, g, state):
        self.adam_step(p, g, state)
        p *= 1 - self.lr * self.weight_decay


class AdamWNoBias(AdamW):
    def update(self, p, g, state):
        p *= 1 - self.lr * self.weight_decay
        m, v = self.moments(g, state)
        p -= self.lr * m / (np.sqrt(v) + self.eps)


def _mean_of_means(grad_fn, params, X, y, m):
    grads = [grad_fn(params, X[i:i + m], y[i:i + m]) for i in range(0, len(X), m)]
    return [np.mean([g[k] for g in grads], axis=0) for k in range(len(params))]


def _summed(grad_fn, params, X, y, m):
    grads = [grad_fn(params, X[i:i + m], y[i:i + m]) for i in range(0, len(X), m)]
    return [np.sum([g[k] for g in grads], axis=0) for k in range(len(params))]


def _drops_last(grad_fn, params, X, y, m):
    n_full = max(len(X) // m, 1)
    grads = [grad_fn(params, X[i * m:(i + 1) * m], y[i * m:(i + 1) * m]) for i in range(n_full)]
    return [np.mean([g[k] for g in grads], axis=0) for k in range(len(params))]


def _last_only(grad_fn, params, X, y, m):
    for i in range(0, len(X), m):
        out = grad_fn(params, X[i:i + m], y[i:i + m])
    return out


WRONG = [
    (checks.check_sgd, SGDDecaySign, "pulls the weights towards 0"),
    (checks.check_sgd, SGDBufferTwice, "starts the buffer at the first gradient"),
    (checks.check_sgd, SGDNesterovOldBuffer, "with buf already updated), not buf"),
    (checks.check_sgd, SGDNoNesterov, "the step is g + momentum * buf"),
    (checks.check_sgd, SGDNesterovNoMomentum, "the look-ahead is momentum * buf"),
    (checks.check_sgd, SGDAveraged, "not an average with (1 - momentum)"),
    (checks.check_sgd, SGDCopies, "keep the arrays you are given"),
    (checks.check_sgd, SGDNewArrays, "write into each parameter array"),
    (checks.check_sgd, SGDRebinds, "the parameters did not change"),
    (checks.check_sgd, SGDReturnsParams, "returns nothing"),
    (checks.check_sgd, SGDChangesGrads, "changes the caller's gradient"),
    (checks.check_adagrad, AdagradEpsInside, "eps outside the square root"),
    (checks.check_adagrad, AdagradNoRoot, "divide by the square root of the accumulator"),
    (checks.check_adagrad, AdagradLate, "add this step's g**2 to the sum before"),
    (checks.check_adagrad, AdagradMean, "SUM of all squared gradients"),
    (checks.check_rmsprop, RMSpropKeras, "Keras puts it inside"),
    (checks.check_rmsprop, RMSpropSwapped, "alpha weighs the old average"),
    (checks.check_rmsprop, RMSpropStartsAtG, "the average starts at 0"),
    (checks.check_rmsprop, RMSpropNoRoot, "divide by the square root of the accumulator"),
    (checks.check_adadelta, AdadeltaLate, "update sq with this step's g**2 before computing delta"),
    (checks.check_adadelta, AdadeltaGradSquares, "squared UPDATES"),
    (checks.check_adadelta, AdadeltaEpsOutside, "eps goes inside both square roots"),
    (checks.check_adadelta, AdadeltaNoLr, "torch multiplies delta by lr"),
    (checks.check_adam, AdamNoBias, "correct the bias of both moments"),
    (checks.check_adam, AdamOffByOne, "t counts steps from 1"),
    (checks.check_adam, AdamEpsInside, "eps outside the square root"),
    (checks.check_adam, AdamKerasEpsilon, "add eps after the bias correction"),
    (checks.check_adam, AdamDecoupled, "Adam's weight_decay is L2"),
    (checks.check_adamw, AdamWL2, "adding weight_decay * p to the gradient is Adam's L2"),
    (checks.check_adamw, AdamWDecayNoLr, "scaled by the learning rate"),
    (checks.check_adamw, AdamWDecayAfter, "decay p before the Adam step"),
    (checks.check_adamw, AdamWNoBias, "correct the bias of both moments"),
    (checks.check_step_decay, lambda lr0, e, s, g=0.1: lr0 * g ** (e / s), "integer division"),
    (checks.check_step_decay, lambda lr0, e, s, g=0.1: lr0 * g ** ((e + 1) // s), "count from 0"),
    (checks.check_step_decay, lambda lr0, e, s, g=0.1: lr0 * g * (e // s), "not gamma * k"),
    (checks.check_step_decay, lambda lr0, e, s, g=0.1: lr0 * g ** e, "not every epoch"),
    (checks.check_cosine_annealing, lambda lr0, t, T, eta_min=0.0: cosine_annealing(lr0, t, T),
     "the rate ends at eta_min"),
    (checks.check_cosine_annealing,
     lambda lr0, t, T, eta_min=0.0: eta_min + cosine_annealing(lr0, t, T), "spans lr0 - eta_min"),
    (checks.check_cosine_annealing,
     lambda lr0, t, T, eta_min=0.0: eta_min + (lr0 - eta_min) * math.cos(math.pi * t / T),
     "cos alone goes down to -1"),
    (checks.check_cosine_annealing,
     lambda lr0, t, T, eta_min=0.0: cosine_annealing(lr0, t + 1, T, eta_min), "count from 0"),
    (checks.check_cosine_annealing,
     lambda lr0, t, T, eta_min=0.0: cosine_annealing(lr0, 2 * t, T, eta_min), "not 2 * pi"),
    (checks.check_accumulated_gradient, _mean_of_means, "a smaller last micro-batch must count"),
    (checks.check_accumulated_gradient, _summed, "instead of adding them up"),
    (checks.check_accumulated_gradient, _drops_last, "the last micro-batch may be smaller"),
    (checks.check_accumulated_gradient, _last_only, "you kept only the last one"),
    (checks.check_accumulated_gradient, lambda f, p, X, y, m: f(p, X, y), "never on more examples"),
]


# --- through the grading sandbox ---------------------------------------------------------------
NEW_ARRAYS_SGD = '''
class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, weight_decay

    def step(self, grads):  # the right values, in new arrays: a model's weights would never change
        self.t += 1
        new = []
        for p, g, state in zip(self.params, grads, self.state):
            g = g + self.weight_decay * p
            if self.momentum:
                state["buf"] = g.copy() if "buf" not in state else self.momentum * state["buf"] + g
                g = g + self.momentum * state["buf"] if self.nesterov else state["buf"]
            new.append(p - self.lr * g)
        self.params = new
'''
NO_BIAS_ADAM = '''
class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay

    def update(self, p, g, state):
        g = g + self.weight_decay * p
        state["m"] = self.betas[0] * state.get("m", 0.0) + (1 - self.betas[0]) * g
        state["v"] = self.betas[1] * state.get("v", 0.0) + (1 - self.betas[1]) * g * g
        p -= self.lr * state["m"] / (np.sqrt(state["v"]) + self.eps)
'''
WHOLE_BATCH = '''
def accumulated_gradient(grad_fn, params, X, y, micro_batch_size):
    return grad_fn(params, X, y)
'''


@pytest.mark.slow
def test_wrong_objects_get_their_hints_through_the_sandbox():
    """Graded by the sandbox: an SGD that makes new arrays is caught by the in-place probe, an
    Adam without bias correction by its trajectory read through opt.params, an accumulation that
    calls grad_fn (the grader's callback) on the whole batch by the sizes it recorded; the other
    answers keep their points."""
    from conftest import require_sandbox

    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.results import graded_cells
    from coursekit.instructor.sandbox import grade_submission

    require_sandbox()
    nb = answered_notebook(ROOT, STEM)
    wrong = {"sgd": NEW_ARRAYS_SGD, "adam": NO_BIAS_ADAM, "accumulated_gradient": WHOLE_BATCH}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in wrong:
            cell.source = wrong[grade_id]
    source = ROOT / "solutions" / f"{STEM}.ipynb"
    rows, executed = grade_submission(source, nb, student="dora", cell_timeout=60)
    by_cell = {r.cell: r for r in rows}
    hints = {"sgd_test": "write into each parameter array",
             "adam_test": "correct the bias of both moments",
             "accumulated_gradient_test": "never on more examples at once"}
    for cell, points in graded_cells(source):
        row = by_cell[cell]
        if cell in hints:
            assert row.score == 0 and row.status.startswith("failed"), (cell, row.status)
            check_call = f"check_{cell.removesuffix('_test')}("
            test_cell = next(c for c in executed.cells if c.source.startswith(check_call))
            text = "".join(o.get("evalue", "") + o.get("text", "") for o in test_cell.outputs)
            hint = [line for line in text.splitlines() if line.strip().startswith("hint:")]
            assert len(hint) == 1 and hints[cell] in hint[0], text
        else:
            assert row.status == "passed" and row.score == points, (cell, row.status)

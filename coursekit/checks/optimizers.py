"""Checks for notebook 05 Optimizers.

Each optimizer class steps beside the same ``torch.optim`` class (float64, at check time) through
25 fresh gradients on parameters of several shapes (coursekit.checks.steps), and must match it
after every step; the known mistakes are NumPy rules with one thing wrong, on the same gradients.
When grading, the trajectory is read through ``opt.params`` (a fresh copy at each read), and a
probe checks next to the student's object that ``step`` writes into the very arrays it was given.
Schedules match ``StepLR``/``CosineAnnealingLR``; accumulation the full-batch gradient.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from coursekit.checks import steps, torchref
from coursekit.checks.core import Checker, check
from coursekit.checks.exercise import Exercise, Run
from coursekit.checks.probe import Recorded

__all__ = ["check_sgd", "check_adagrad", "check_rmsprop", "check_adadelta", "check_adam",
           "check_adamw", "check_step_decay", "check_cosine_annealing",
           "check_accumulated_gradient"]

SHAPES = ((3, 4), (4,), (2, 1, 3))  # several parameter arrays of different shapes
STEPS = 25
NAMES = tuple(f"params[{i}]" for i in range(len(SHAPES)))  # the parts of opt.params, in messages

KEEP = ("keep the arrays you are given: self.params = list(params) (np.array(p) or p.copy() "
        "would be copies, which the model never sees)")
IN_PLACE = ("write into each parameter array (p -= ..., p *= ..., p[...] = ...): `p = p - ...` "
            "or a new list in self.params makes new arrays, and the caller's arrays (a model's "
            "weights) never change")
UNCHANGED = ("the parameters did not change: `p = p - ...` in update() only binds the name p to a "
             "new array; write into the array instead (p -= ..., p[...] = ...)")
STEP_HINTS = {"step(grads)": "step changes the parameters in place and returns nothing, as "
                             "torch.optim does", "opt.params": KEEP}
GRADS = ("`g += ...` on the gradient you are given changes the caller's gradient: write "
         "g = g + ... instead")
EPS_OUT = "torch adds eps outside the square root: sqrt(...) + eps"
NO_ROOT = "divide by the square root of the accumulator (an RMS), not by the accumulator itself"


# update rules for the known mistakes: rule(p, g, state, t, **hyperparameters, **mistake)
# writes into p; with no mistake switched on each is torch's rule (only the flags are used)
def _sgd(p, g, s, t, lr, momentum=0.0, nesterov=False, weight_decay=0.0, *, sign=1.0,
         after=False, twice=False, ema=False, look="new"):
    if not after:
        g = g + sign * weight_decay * p
    d = g
    if momentum:
        old = s.get("buf", g.copy() if twice else 0.0)
        s["buf"] = buf = momentum * old + ((1 - momentum) if ema else 1.0) * g
        looks = {"new": g + momentum * buf, "none": buf, "no_g": momentum * buf, "no_mu": g + buf}
        d = looks[look] if nesterov else buf
    p -= lr * (d + weight_decay * p if after else d)


def _adagrad(p, g, s, t, lr=0.01, eps=1e-10, *, inside=False, root=True, late=False, mean=False):
    old = s.get("sum", 0.0)
    s["sum"] = old + g * g
    acc = (old if late else s["sum"]) / (t if mean else 1)
    p -= lr * g / (np.sqrt(acc + eps) if inside else (np.sqrt(acc) if root else acc) + eps)


def _rmsprop(p, g, s, t, lr=0.01, alpha=0.99, eps=1e-8, *, inside=False, swap=False, root=True,
             start=False):
    a = 1 - alpha if swap else alpha
    s["sq"] = sq = a * s.get("sq", g * g if start else 0.0) + (1 - a) * g * g
    p -= lr * g / (np.sqrt(sq + eps) if inside else (np.sqrt(sq) if root else sq) + eps)


def _adadelta(p, g, s, t, lr=1.0, rho=0.9, eps=1e-6, *, late=False, gsq=False, outside=False,
              no_lr=False, swap=False):
    r = 1 - rho if swap else rho
    old, acc = s.get("sq", 0.0), s.get("acc", 0.0)
    sq = r * old + (1 - r) * g * g
    rms = (lambda v: np.sqrt(v) + eps) if outside else (lambda v: np.sqrt(v + eps))
    delta = rms(acc) / rms(old if late else sq) * g
    s["sq"], s["acc"] = sq, r * acc + (1 - r) * (g * g if gsq else delta * delta)
    p -= (1.0 if no_lr else lr) * delta


def _adam(p, g, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, decoupled=False,
          sign=1.0, bias=True, off=0, inside=False, hat=False, no_lr=False, late=False):
    b1, b2 = betas
    wd = sign * weight_decay
    if decoupled and not late:
        p *= 1 - (1.0 if no_lr else lr) * wd
    if not decoupled:
        g = g + wd * p
    s["m"] = m = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = v = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    c1, c2 = (1 - b1 ** (t + off), 1 - b2 ** (t + off)) if bias else (1.0, 1.0)
    if hat:  # Keras: eps added to sqrt(v) before the bias correction
        p -= lr * math.sqrt(c2) / c1 * m / (np.sqrt(v) + eps)
    else:
        p -= lr * (m / c1) / (np.sqrt(v / c2 + eps) if inside else np.sqrt(v / c2) + eps)
    if decoupled and late:
        p *= 1 - lr * wd


def _adamw(p, g, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, **mistake):
    _adam(p, g, s, t, lr, betas, eps, weight_decay, **{"decoupled": True, **mistake})


@dataclass(frozen=True)
class _Optimizer:
    name: str  # the torch.optim class, and the student's
    rule: Callable  # the update with no mistake switched on; its signature gives torch's defaults
    hint: str
    by_hand: tuple  # (label, params, grads, hyperparameters, params after one step)
    cases: tuple  # ((hyperparameters, gradient scale), ...); the first is also the in-place case
    wrong: tuple  # ((mistake flags, hint), ...)

    @property
    def signature(self) -> str:
        ps = list(inspect.signature(self.rule).parameters.values())[4:]  # after (p, g, state, t)
        shown = ", ".join(str(q) for q in ps if q.kind is q.POSITIONAL_OR_KEYWORD)
        return f"{self.name}(params, {shown})"


def _numpy_run(rule, params, grads, hyper, flags):
    ps, states, out = [p.copy() for p in params], [{} for _ in params], []
    with np.errstate(all="ignore"):
        for t, gs in enumerate(grads, 1):
            for p, g, s in zip(ps, gs, states, strict=True):
                rule(p, g.copy(), s, t, **hyper, **flags)
            out.append([p.copy() for p in ps])
    return out


def _torch_run(name, params, grads, hyper):
    tensors = [torchref.tensor(p, grad=True) for p in params]
    opt = getattr(torchref.torch().optim, name)(tensors, **hyper)
    out = []
    for gs in grads:
        for p, g in zip(tensors, gs, strict=True):
            p.grad = torchref.tensor(g)
        opt.step()
        out.append([p.detach().numpy().copy() for p in tensors])
    return out


def _shown(hyper: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in hyper.items()) or "the defaults"


def _trajectory(t: Checker, spec: _Optimizer, Cls, label, params, grads, hyper, expected=None):
    """Construct, step through ``grads``, and compare opt.params after every step with torch."""
    n, made = len(grads), f"{spec.name}(params, {_shown(hyper)})"
    expected = expected or _torch_run(spec.name, params, grads, hyper)
    opt = t.call(Cls, params, signature=spec.signature, **hyper)
    start = t.conform(f"{made}.params is the list params", t.call(lambda: opt.params), params,
                      names=NAMES, hints={"": KEEP}, count=False)
    t.close(f"{made}.params holds the values given", start, params, hint=KEEP, names=NAMES)
    got = steps.drive(t, label, opt, "step", grads, reads=("params",), like=(None, params),
                      names=("step(grads)", "opt.params"), hints=STEP_HINTS, unchanged=GRADS)
    steps.compare(t, lambda k: f"{label}: params after step {k + 1} of {n} match torch.optim."
                               f"{spec.name}", [after for _, after in got], expected,
                  hint=spec.hint, names=NAMES, mistakes=lambda: [
                      *((_numpy_run(spec.rule, params, grads, hyper, flags), hint)
                        for flags, hint in spec.wrong), ([params] * n, UNCHANGED)])


def _check_optimizer(t: Checker, spec: _Optimizer, Cls) -> None:
    label, params, grads, hyper, after = spec.by_hand
    _trajectory(t, spec, Cls, f"by hand: {label}", [np.array(p, dtype=float) for p in params],
                [[np.array(g, dtype=float) for g in grads]], hyper,
                expected=[[np.array(p, dtype=float) for p in after]])
    for hyper, scale in spec.cases:
        params = [t.rng.normal(size=s) for s in SHAPES]
        grads = [[scale * np.exp(0.5 * t.rng.normal()) * t.rng.normal(size=s) for s in SHAPES]
                 for _ in range(STEPS)]
        label = f"{_shown(hyper)}{', tiny gradients' if scale < 1 else ''}, {STEPS} steps"
        _trajectory(t, spec, Cls, label, params, grads, hyper)
    hyper = spec.cases[0][0]
    params, grads = [t.rng.normal(size=s) for s in SHAPES], [t.rng.normal(size=s) for s in SHAPES]
    expected = _torch_run(spec.name, params, [grads], hyper)[0]
    steps.in_place(t, Cls, params, dict(hyper), grads, expected, kept=KEEP, written=IN_PLACE,
                   names=NAMES)


_HAND = ([[1.0, 1.0]], [[0.5, -2.0]])  # the first step of Adam, RMSprop, Adagrad: ~ lr * sign(g)
_TINY = 1e-6  # gradients this small show where eps goes
_SGD = _Optimizer(
    "SGD", _sgd, "g = g + weight_decay * p; buf = g on the first step, then momentum * buf + g; "
                 "d = g + momentum * buf if nesterov else buf; p -= lr * d",
    ("lr=0.1, p=[1, 2], g=[0.5, -1] gives [0.95, 2.1]", [[1.0, 2.0]], [[0.5, -1.0]], {"lr": 0.1},
     [[0.95, 2.1]]),
    (({"lr": 0.05}, 1), ({"lr": 0.05, "momentum": 0.9}, 1),
     ({"lr": 0.05, "momentum": 0.9, "nesterov": True}, 1), ({"lr": 0.05, "weight_decay": 0.1}, 1),
     ({"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 0.3}, 1)),
    (({"sign": -1.0}, "weight decay pulls the weights towards 0: g = g + weight_decay * p"),
     ({"after": True}, "SGD adds weight_decay * p to the gradient before the momentum buffer "
                       "(decoupled decay is AdamW's)"),
     ({"twice": True}, "torch starts the buffer at the first gradient (buf = g on step 1, no "
                       "momentum term yet); momentum * buf + g from step 2 on"),
     ({"ema": True}, "torch's buffer is buf = momentum * buf + g, not an average with "
                     "(1 - momentum)"),
     ({"look": "none"}, "with nesterov=True the step is g + momentum * buf (with buf already "
                        "updated), not buf"),
     ({"look": "no_g"}, "Nesterov's step is the gradient plus the look-ahead: g + momentum * buf"),
     ({"look": "no_mu"}, "the look-ahead is momentum * buf: d = g + momentum * buf")),
)
_ADAGRAD = _Optimizer(
    "Adagrad", _adagrad, "sum = sum + g**2 (from 0); p -= lr * g / (sqrt(sum) + eps)",
    ("lr=0.1, p=[1, 1], g=[0.5, -2]: the first step is lr * g / |g|", *_HAND, {"lr": 0.1},
     [[0.9, 1.1]]),
    (({}, 1), ({"lr": 0.5, "eps": 1e-3}, 1), ({"lr": 0.1}, _TINY)),
    (({"inside": True}, EPS_OUT), ({"root": False}, NO_ROOT),
     ({"late": True}, "add this step's g**2 to the sum before you divide by its square root"),
     ({"mean": True}, "Adagrad divides by the root of the SUM of all squared gradients, not "
                      "their mean (that would be close to RMSprop)")),
)
_RMSPROP = _Optimizer(
    "RMSprop", _rmsprop,
    "sq = alpha * sq + (1 - alpha) * g**2 (from 0); p -= lr * g / (sqrt(sq) + eps)",
    ("lr=0.01, p=[1, 1], g=[0.5, -2]: the first step is about 10 * lr * g / |g|", *_HAND,
     {"lr": 0.01}, [[0.9, 1.1]]),
    (({}, 1), ({"lr": 0.001, "alpha": 0.9}, 1), ({}, _TINY)),
    (({"inside": True}, EPS_OUT + " (Keras puts it inside)"), ({"root": False}, NO_ROOT),
     ({"swap": True}, "alpha weighs the old average: sq = alpha * sq + (1 - alpha) * g**2"),
     ({"start": True}, "the average starts at 0, not at the first g**2")),
)
_ADADELTA = _Optimizer(
    "Adadelta", _adadelta,
    "sq = rho*sq + (1-rho)*g**2; delta = sqrt(acc + eps) / sqrt(sq + eps) * g; "
    "acc = rho*acc + (1-rho)*delta**2; p -= lr * delta",
    ("rho=0, eps=16, g=[3, 0]: sq = 9, delta = sqrt(0 + 16) / sqrt(9 + 16) * 3 = 2.4",
     [[1.0, 2.0]], [[3.0, 0.0]], {"rho": 0.0, "eps": 16.0}, [[-1.4, 2.0]]),
    (({}, 1), ({"lr": 0.5, "rho": 0.8}, 1), ({"lr": 2.0, "rho": 0.95, "eps": 1e-4}, 1)),
    (({"late": True}, "update sq with this step's g**2 before computing delta"),
     ({"gsq": True}, "acc averages the squared UPDATES delta**2 (computed after delta), not g**2"),
     ({"outside": True}, "in Adadelta eps goes inside both square roots: sqrt(v + eps)"),
     ({"no_lr": True}, "torch multiplies delta by lr (default 1.0): p -= lr * delta"),
     ({"swap": True}, "rho weighs the old averages: sq = rho * sq + (1 - rho) * g**2")),
)
_BIAS = (({"bias": False}, "correct the bias of both moments: m_hat = m / (1 - beta1**t), "
                           "v_hat = v / (1 - beta2**t)"),
         ({"off": 1}, "t counts steps from 1 (self.t is 1 on the first step): 1 - beta**t, not "
                      "1 - beta**(t + 1)"))
_ADAM = _Optimizer(
    "Adam", _adam, "g = g + weight_decay * p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g**2; "
                   "p -= lr * m_hat / (sqrt(v_hat) + eps)",
    ("lr=0.1, p=[1, 1], g=[0.5, -2]: the first step is about lr * g / |g|", *_HAND, {"lr": 0.1},
     [[0.9, 1.1]]),
    (({}, 1), ({"lr": 0.01, "betas": (0.8, 0.99)}, 1), ({"lr": 0.01, "weight_decay": 0.1}, 1),
     ({"lr": 0.01}, _TINY)),
    (*_BIAS, ({"inside": True}, "torch adds eps outside the square root: sqrt(v_hat) + eps"),
     ({"hat": True}, "add eps after the bias correction: sqrt(v_hat) + eps with v_hat = "
                     "v / (1 - beta2**t) (Keras adds it to sqrt(v), a slightly different rule)"),
     ({"decoupled": True}, "Adam's weight_decay is L2: add weight_decay * p to the gradient "
                           "before the moments (decaying p directly is AdamW)"),
     ({"sign": -1.0}, "weight decay pulls the weights towards 0: g = g + weight_decay * p")),
)
_ADAMW = _Optimizer(
    "AdamW", _adamw,
    "p *= 1 - lr * weight_decay first; then Adam's step with the gradient as it is",
    ("lr=0.1, weight_decay=0.1, p=[1, 1], g=[0.5, -2]: p * 0.99, then about -lr * g / |g|",
     *_HAND, {"lr": 0.1, "weight_decay": 0.1}, [[0.89, 1.09]]),
    (({}, 1), ({"lr": 0.05, "weight_decay": 0.5}, 1), ({"lr": 0.01, "betas": (0.8, 0.99)}, 1)),
    (({"decoupled": False}, "AdamW decays the weights directly, p *= 1 - lr * weight_decay; "
                            "adding weight_decay * p to the gradient is Adam's L2"),
     ({"no_lr": True}, "the decay is scaled by the learning rate: p *= 1 - lr * weight_decay"),
     ({"late": True}, "decay p before the Adam step (as torch does), not after it"),
     ({"sign": -1.0}, "the decay shrinks the weights: p *= 1 - lr * weight_decay"), *_BIAS),
)


def _public(spec: _Optimizer) -> Callable:
    """check_<name>(Cls): the optimizer ``spec`` checked against torch.optim, step for step."""
    def body(t: Checker, Cls) -> None:
        _check_optimizer(t, spec, Cls)

    body.__name__ = body.__qualname__ = f"check_{spec.name.lower()}"
    return check(spec.name.lower())(body)


check_sgd, check_adagrad, check_rmsprop, check_adadelta, check_adam, check_adamw = map(
    _public, (_SGD, _ADAGRAD, _RMSPROP, _ADADELTA, _ADAM, _ADAMW))


# learning-rate schedules, against torch.optim.lr_scheduler
def _torch_lr(scheduler: str, lr0: float, epochs: int, **kwargs) -> float:
    torch = torchref.torch()
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    sched = getattr(torch.optim.lr_scheduler, scheduler)(opt, **kwargs)
    for _ in range(epochs):
        opt.step()
        sched.step()
    return float(sched.get_last_lr()[0])


OFF_BY_ONE = "epochs count from 0: the rate at epoch 0 is lr0 (do not add 1 to the epoch)"
STEP_DECAY = Exercise(
    "step_decay", signature="step_decay(lr0, epoch, step_size, gamma=0.1)",
    reference=lambda lr0, epoch, step_size, gamma=0.1: _torch_lr(
        "StepLR", lr0, epoch, step_size=step_size, gamma=gamma),
    hint="lr0 * gamma ** (epoch // step_size): one drop by gamma every step_size epochs",
    wrong=[(lambda lr0, e, s, gamma=0.1: lr0 * gamma ** (e / s),
            "the rate drops in steps: integer division epoch // step_size"),
           (lambda lr0, e, s, gamma=0.1: lr0 * gamma ** ((e + 1) // s), OFF_BY_ONE),
           (lambda lr0, e, s, gamma=0.1: lr0 * gamma * (e // s),
            "each drop multiplies by gamma: gamma ** k, not gamma * k"),
           (lambda lr0, e, s, gamma=0.1: lr0 * gamma ** e,
            "the rate drops once every step_size epochs, not every epoch")],
)
COSINE = Exercise(
    "cosine_annealing", signature="cosine_annealing(lr0, t, T_max, eta_min=0.0)",
    reference=lambda lr0, t, T_max, eta_min=0.0: _torch_lr(
        "CosineAnnealingLR", lr0, t, T_max=T_max, eta_min=eta_min),
    hint="eta_min + (lr0 - eta_min) * (1 + cos(pi * t / T_max)) / 2",
    wrong=[(lambda lr0, t, T, eta_min=0.0: lr0 * (1 + math.cos(math.pi * t / T)) / 2,
            "the rate ends at eta_min: eta_min + (lr0 - eta_min) * ..."),
           (lambda lr0, t, T, eta_min=0.0: eta_min + lr0 * (1 + math.cos(math.pi * t / T)) / 2,
            "the cosine spans lr0 - eta_min, so that the rate starts at lr0"),
           (lambda lr0, t, T, eta_min=0.0: eta_min + (lr0 - eta_min) * math.cos(math.pi * t / T),
            "(1 + cos) / 2 goes from 1 to 0; cos alone goes down to -1"),
           (lambda lr0, t, T, eta_min=0.0: eta_min + (lr0 - eta_min)
            * (1 + math.cos(math.pi * (t + 1) / T)) / 2, OFF_BY_ONE),
           (lambda lr0, t, T, eta_min=0.0: eta_min + (lr0 - eta_min)
            * (1 + math.cos(2 * math.pi * t / T)) / 2,
            "half a period over T_max steps: cos(pi * t / T_max), not 2 * pi")],
)


@check(STEP_DECAY)
def check_step_decay(run: Run, step_decay: Callable) -> None:
    run.case("lr0=0.1, epoch 25, step_size 10, gamma 0.5: two drops, 0.1 * 0.5**2 = 0.025",
             0.1, 25, 10, 0.5, expected=0.025)
    for epoch in (0, 9, 10, 11, 30, 59):
        run.case(f"lr0=0.2, step_size 10, gamma 0.3, epoch {epoch}", 0.2, epoch, 10, 0.3)
    run.case("the default gamma is 0.1 (epoch 7, step_size 3)", 1.0, 7, 3)
    for _ in range(3):
        lr0, size = float(run.rng.uniform(0.01, 1.0)), int(run.rng.integers(1, 8))
        run.case(f"random lr0={lr0:.3f}, step_size={size}", lr0, int(run.rng.integers(0, 40)), size,
                 float(run.rng.uniform(0.1, 0.9)))


@check(COSINE)
def check_cosine_annealing(run: Run, cosine_annealing: Callable) -> None:
    run.case("lr0=1, T_max=10, at t = T_max: the bottom, eta_min = 0", 1.0, 10, 10, expected=0.0)
    run.case("lr0=1, T_max=10, at t = 5: halfway down, 0.5", 1.0, 5, 10, expected=0.5)
    for step in (0, 1, 7, 20):
        run.case(f"lr0=0.3, T_max=20, eta_min=0.01, t={step}", 0.3, step, 20, 0.01)
    for _ in range(3):
        lr0, T = float(run.rng.uniform(0.01, 1.0)), int(run.rng.integers(5, 100))
        run.case(f"random lr0={lr0:.3f}, T_max={T}", lr0, int(run.rng.integers(0, T + 1)), T,
                 float(run.rng.uniform(0.0, 0.5 * lr0)))


# gradient accumulation: grad_fn is the check's, and records how the student's code calls it
def _gradient(loss: Callable, params, X, y) -> list:
    """grad_fn(params, Xb, yb): the gradient of a mean loss on a batch (PyTorch, float64)."""
    X, y = torchref.tensor(X), torchref.tensor(y)
    return torchref.value_and_grads(lambda *ps: loss(ps, X, y), *params)[1]


def _mean_loss(ps, X, y):  # mean of (w - x)**2: its gradient is 2 * (w - mean(x))
    return ((ps[0] - X[:, 0]) ** 2).mean()


def _mlp_loss(ps, X, y):
    W1, b1, W2, b2 = ps
    return (((X @ W1 + b1).tanh() @ W2 + b2)[:, 0] - y).pow(2).mean()


def _accumulate(grad_fn, params, X, y, size, weigh, *, full_only=False, last_only=False):
    """Micro-batch gradients combined with weights ``weigh(n, n_batches)``: known mistakes."""
    stop = len(X) - len(X) % size if full_only else len(X)
    parts = [(grad_fn.fn(params, X[i:i + size], y[i:i + size]), len(X[i:i + size]))
             for i in range(0, stop, size)][-1 if last_only else 0:]
    return [sum(weigh(n, len(parts)) * g[k] for g, n in parts) for k in range(len(params))]


ACCUMULATED = Exercise(
    "accumulated_gradient",
    signature="accumulated_gradient(grad_fn, params, X, y, micro_batch_size)",
    reference=lambda grad_fn, params, X, y, size: grad_fn.fn(params, X, y),
    hint="sum over micro-batches of grad_fn(params, Xb, yb) * len(Xb) / len(X), one array "
         "per parameter",
    hints={"": "return a list with one gradient array per parameter, like grad_fn's"},
    wrong=[(lambda f, p, X, y, s: _accumulate(f, p, X, y, s, lambda n, b: 1 / b),
            "a smaller last micro-batch must count less: weight each gradient by len(Xb) / len(X) "
            "(a mean of the means over-weights it)"),
           (lambda f, p, X, y, s: _accumulate(f, p, X, y, s, lambda n, b: 1.0),
            "each micro-batch gradient is already a mean: weight it by len(Xb) / len(X) instead "
            "of adding them up"),
           (lambda f, p, X, y, s: _accumulate(f, p, X, y, s, lambda n, b: 1 / b, full_only=True),
            "the last micro-batch may be smaller: range(0, len(X), micro_batch_size) covers every "
            "example"),
           (lambda f, p, X, y, s: _accumulate(f, p, X, y, s, lambda n, b: 1.0, last_only=True),
            "add up the gradients of all micro-batches: you kept only the last one")],
)


@check(ACCUMULATED)
def check_accumulated_gradient(run: Run, accumulated_gradient: Callable) -> None:
    def case(label, loss, params, X, y, size, **kw):
        grad_fn = Recorded(partial(_gradient, loss))
        run.case(label, grad_fn, params, X, y, size, **kw)
        sizes = [len(Xb) for _, Xb, _ in grad_fn.calls]
        run.t.true(f"{label}: grad_fn sees every example once, at most micro_batch_size at a time",
                   sum(sizes) == len(X) and max(sizes, default=0) <= size,
                   detail=f"grad_fn was called on batches of {sizes} examples (N={len(X)})",
                   hint="call grad_fn on slices X[i:i + micro_batch_size] for i in range(0, "
                        "len(X), micro_batch_size): never on more examples at once")

    case("by hand: gradient of mean((w - x)**2) at w=0 for x=[1, 2, 3, 6], micro-batches of 3: "
         "(3 * -4 + 1 * -12) / 4 = -6 (a mean of means would give -8)", _mean_loss,
         [np.zeros(1)], np.array([[1.0], [2.0], [3.0], [6.0]]), np.zeros(4), 3,
         expected=[[-6.0]])
    params = [run.rng.normal(size=shape) for shape in ((3, 5), 5, (5, 1), 1)]  # D = 3, H = 5
    X, y = run.rng.normal(size=(10, 3)), run.rng.normal(size=10)
    for size in (5, 4, 3, 1, 10, 16):
        last = len(X) % size or min(size, len(X))
        case(f"a small network, N=10, micro_batch_size={size} (last micro-batch {last})",
             _mlp_loss, params, X, y, size)

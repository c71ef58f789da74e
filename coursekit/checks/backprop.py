"""Checks for notebook 03 Backpropagation. References in float64, computed at check time (torch
imported by the first check): torch.autograd (Value, linear_backward, mse_loss_and_grad,
mlp_gradients), clip_grad_norm_, the central difference, coursekit.gradcheck.relative_error."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial, reduce

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import Checker, Tolerance, check, summarize
from coursekit.checks.exercise import Exercise, Run, rounded
from coursekit.gradcheck import relative_error as _relative_error

__all__ = ["check_value", "check_linear_backward", "check_mse_loss_and_grad",
           "check_mlp_gradients", "check_numerical_gradient", "check_relative_error",
           "check_clip_grad_norm"]

_TOPO = ("call _backward once per node, in reverse topological order (a depth-first search "
         "appends a node after its children): a node needs all its gradient before passing it on")
_MUL = "d(a*b)/da = b and d(a*b)/db = a: each side gets the other factor"
_POW = "d(a**n)/da = n * a**(n - 1): bring the exponent down and lower it by one"
_DIV = "d(a/b)/da = 1/b and d(a/b)/db = -a / b**2 (or write a / b as a * b**-1)"
# (a missing method gets the core's hint for its AttributeError, naming it)
_ERRORS = ((": 'float' and '", "a number on the left (`2 - a`) calls the reflected operator "
                               "a.__rsub__(2): define __radd__, __rsub__, __rmul__ and __rtruediv__"),
           ("not a Value", "wrap a plain number in a Value first (`other = other if isinstance("
                           "other, Value) else Value(other)`) and return a new Value from every "
                           "operation"))
# Each operation: its text, build(a, b), the sign of a (0: either), its hint (a reflected one's
# hint also covers a wrong value)
_OPS = [
    ("a + b", lambda a, b: a + b, 0, None), ("a * b", lambda a, b: a * b, 0, _MUL),
    ("-a", lambda a, b: -a, 0, "d(-a)/da = -1"),
    ("a - b", lambda a, b: a - b, 0, "d(a - b)/da = +1 and d(a - b)/db = -1"),
    *[(f"a ** {n}", lambda a, b, n=n: a ** n, 1 if n == 0.5 else 0, _POW) for n in (2, 3, -1, 0.5)],
    ("a / b", lambda a, b: a / b, 0, _DIV),
    ("a + 2.5", lambda a, b: a + 2.5, 0, None), ("2.5 + a", lambda a, b: 2.5 + a, 0, None),
    ("a - 2.5", lambda a, b: a - 2.5, 0, None), ("a * 2.5", lambda a, b: a * 2.5, 0, None),
    ("2.5 * a", lambda a, b: 2.5 * a, 0, None), ("a / 2.5", lambda a, b: a / 2.5, 0, None),
    ("2.5 - a", lambda a, b: 2.5 - a, 0, "`c - a` calls a.__rsub__(c): return other - self"),
    ("2.5 / a", lambda a, b: 2.5 / a, 0, "`c / a` calls a.__rtruediv__(c): return other / self"),
    ("a.tanh()", lambda a, b: a.tanh(), 0,
     "d tanh(a)/da = 1 - t**2, where t = tanh(a) is the output (out.data), not the input"),
    ("a.exp()", lambda a, b: a.exp(), 0, "d exp(a)/da = exp(a), the output itself"),
    *[(f"a.relu() for a {'><'[sign < 0]} 0", lambda a, b: a.relu(), sign,
       "relu passes the gradient on where its input is > 0 and blocks it (0) elsewhere: "
       "self.grad += (out.data > 0) * out.grad") for sign in (1, -1)],
]


def _graph(t: Checker, Value: type, label: str, build: Callable, values: dict[str, float], *,
           hint: str | dict[str, str], wrong: list = ()) -> None:
    """f = build(*leaves) and f.backward(): f.data and each leaf's .grad against torch.autograd."""
    shown = f"{label} with " + ", ".join(f"{k}={v:.4g}" for k, v in values.items())

    def run(*values):
        leaves = [Value(v) for v in values]
        out = build(*leaves)
        if not isinstance(out, Value):
            raise TypeError(f"the expression gave {type(out).__name__} {summarize(out)}, not a Value")
        out.backward()
        return (out.data, *(leaf.grad for leaf in leaves))

    def autograd(values):  # (f, df/d leaf for each leaf)
        f, grads = torchref.value_and_grads(build, *values)
        return (f, *grads)

    got = t.call(run, *values.values(), context=shown, error_hints=_ERRORS)
    names, expected = ("f", *(f"{k}.grad" for k in values)), autograd(values.values())
    got = t.conform(f"{label}: .data and .grad are numbers", got, expected, names=names,
                    hints=dict.fromkeys(names, "store numbers in .data and .grad, not Values"))
    t.close(shown, got, expected, names=names, hint=hint, wrong=wrong,
            at_precision=lambda dtype: autograd(rounded(list(values.values()), dtype)))


@check("value")
def check_value(t: Checker, Value: type) -> None:
    # 1. a class (a stub is "not attempted"); 2. by hand: f = c + a*b, so df/dc = 1, df/da = b,
    # df/db = a (c first: a backward that stops at the output gives c, and only c, its gradient)
    if not isinstance(Value, type):
        if callable(Value):  # a stub function is "not attempted"
            t.call(Value, 2.0, context="Value(2.0)")
        t.fail("is a class", f"got {summarize(Value)}, not the class Value", hint="pass the class, not an instance: check_value(Value)")
    _graph(t, Value, "by hand: f = c + a*b", lambda c, a, b: c + a * b,
           {"c": 10.0, "a": 2.0, "b": -3.0},
           hint="f = 10 - 6 = 4; df/dc = 1, df/da = b = -3, df/db = a = 2",
           wrong=[((4.0, 1.0, 0.0, 0.0), "the gradient stopped one step from the output: call "
                                         "_backward on every node (reverse topological order)"),
                  ((4.0, 0.0, 0.0, 0.0), "backward() must start by setting the output's grad to "
                                         "1.0 (df/df = 1)"), ((4.0, 1.0, 2.0, -3.0), _MUL)])
    # 3. every operation on its own, times g so that a missing chain rule shows
    for text, build, sign, hint in _OPS:
        a, b, g = (float(t.rng.uniform(lo, 2.0) * t.rng.choice([-1.0, 1.0])) for lo in (.3, .5, 1.5))
        a = abs(a) * sign if sign else a
        f, (da, db) = torchref.value_and_grads(build, a, b)
        _graph(t, Value, f"f = ({text}) * g", lambda x, y, z, build=build: build(x, y) * z,
               {"a": a, "b": b, "g": g},
               hint={"f": hint if text[0] == "2" and hint else f"check the forward of {text}",
                     "": hint or f"check the _backward of {text}"},
               wrong=[((f * g, da, db, f), "multiply each local derivative by out.grad (the chain "
                                           "rule): self.grad += <local derivative> * out.grad")])
    # 4. a leaf used twice; the order (a node on a short and a long path, a shared one, depth)
    a, b = float(t.rng.uniform(0.5, 2.0)), float(t.rng.uniform(-2.0, -0.5))
    twice = ("a node used more than once must add up the gradient from every use: write "
             "`self.grad += ...` in each _backward, not `self.grad = ...`")
    saturated = "tanh(30) rounds to 1, so 1 - t**2 is 0: use math.tanh, or a stable formula"
    huge = "d exp(a)/da = exp(a): reuse out.data; math.exp handles a = ±30"
    for label, build, values, hint in (
            ("node used twice: f = a * a", lambda a: a * a, {"a": a}, twice),
            ("node used twice: f = a + a", lambda a: a + a, {"a": a}, twice),
            ("node reached by a short and a long path: exp(tanh(3h)*2 + 1) + h, h = a*b",
             lambda a, b: (lambda h: ((h * 3.0).tanh() * 2.0 + 1.0).exp() + h)(a * b),
             {"a": float(t.rng.uniform(0.2, 0.6)), "b": float(t.rng.uniform(-0.6, 0.6))}, _TOPO),
            ("shared intermediate: c = a*b, f = c*c + c", lambda a, b: (lambda c: c * c + c)(a * b),
             {"a": a, "b": b}, _TOPO),
            ("deep graph: 25 layers of x = tanh(x*c + b) + a*0.5, f = x*x", lambda a, b, c: (
                lambda x: x * x)(reduce(lambda x, _: (x * c + b).tanh() + a * 0.5, range(25), a)),
             {"a": t.rng.uniform(-1, 1), "b": t.rng.uniform(-1, 1), "c": t.rng.uniform(.5, 1.5)},
             _TOPO),
            *[("large inputs: f = a.tanh() * b", lambda a, b: a.tanh() * b, {"a": v, "b": 2.0},
               saturated) for v in (30.0, -30.0)],
            *[("large inputs: f = a.exp() * b", lambda a, b: a.exp() * b, {"a": v, "b": 0.5}, huge)
              for v in (30.0, -30.0)],
            ("large inputs: f = a / b", lambda a, b: a / b, {"a": 1.5, "b": 1e-6}, _DIV)):
        _graph(t, Value, label, build, values, hint=hint)


def _linear(dout, X, W, dX=None, dW=None, db=None):  # a known mistake replaces dX, dW or db
    grads = torchref.value_and_grads(lambda X, W, b: X @ W + b, X, W, np.zeros(W.shape[1]),
                                     grad_output=dout)[1]
    return tuple(g if f is None else f(dout, X, W) for g, f in zip(grads, (dX, dW, db)))


_DB = "b is added to every row, so db sums dout over the batch: db = dout.sum(axis=0)"
LINEAR_BACKWARD = Exercise(
    "linear_backward", signature="linear_backward(dout, X, W)", reference=_linear,
    returns=("dX", "dW", "db"), hint={"dX": "dX = dout @ W.T", "dW": "dW = X.T @ dout", "db": _DB},
    hints={".shape": "dX = dout @ W.T is (N, D), dW = X.T @ dout is (D, M), db is (M,)",
           "db.shape": _DB, "db": "db is an array of shape (M,): dout.sum(axis=0)"},
    wrong=[(partial(_linear, dX=lambda d, X, W: d @ W), "dX uses W transposed: dout @ W.T, not dout @ W"),
           (partial(_linear, dW=lambda d, X, W: d.T @ X),
            "dW is transposed: dW = X.T @ dout, not dout.T @ X (its transpose)"),
           (partial(_linear, db=lambda d, X, W: d.mean(0)),
            "db is the sum of dout over the batch, not the mean (any 1/N is inside dout already)"),
           (partial(_linear, db=lambda d, X, W: d), "db must be summed over the batch axis: " + _DB),
           (partial(_linear, db=lambda d, X, W: d.sum(1)), "sum over axis 0 (the batch), not axis 1")],
)


@check("linear_backward")
def check_linear_backward(t: Checker, linear_backward: Callable) -> None:
    run = Run(t, LINEAR_BACKWARD, linear_backward)
    X, W = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [2.0, 0.0]])
    run.case("by hand (dout = I: dX = W.T, dW = X.T, db = [1, 1])", np.eye(2), X, W,
             expected=(W.T, X.T, [1.0, 1.0]))
    # W square first, so that a transposition mistake still runs and shows in the values
    for label, n, d, m, scale in (("matches torch.autograd", 4, 3, 3, 1), ("matches torch.autograd",
                                  5, 4, 3, 1), ("matches torch.autograd", 7, 2, 6, 1),
                                  ("batch of one", 1, 4, 2, 1), ("large and small values", 3, 4, 5, 1e3)):
        run.case(f"{label} (N={n}, D={d}, M={m})", scale * t.rng.normal(size=(n, m)),
                 scale ** 2 * t.rng.normal(size=(n, d)), t.rng.normal(size=(d, m)) / scale)


def _mse(y_pred, y, loss=None, grad=None):  # a known mistake replaces the loss or the gradient
    value, (d_y_pred,) = torchref.value_and_grads(lambda p, y: ((p - y) ** 2).mean(), y_pred, y,
                                                  wrt=[0])
    return (value if loss is None else loss(y_pred - y),
            d_y_pred if grad is None else grad(y_pred - y))


_GRAD = "grad = 2 * (y_pred - y) / y_pred.size"
MSE_LOSS_AND_GRAD = Exercise(
    "mse_loss_and_grad", signature="mse_loss_and_grad(y_pred, y)", reference=_mse,
    returns=("loss", "d_y_pred"), hint={"loss": "loss = mean((y_pred - y)**2) over every element",
                                        "d_y_pred": f"d/dy_pred mean((y_pred - y)**2): {_GRAD}"},
    hints={"loss": "return the loss as one float, averaged over every element: "
                   "float(np.mean((y_pred - y)**2))",
           "d_y_pred.shape": "the gradient has one entry per prediction: the shape of y_pred"},
    wrong=[(partial(_mse, loss=lambda d: np.sum(d ** 2)), "the loss is the mean, not the sum"),
           (partial(_mse, loss=lambda d: 0.5 * np.mean(d ** 2)), "no factor 1/2 here"),
           (partial(_mse, grad=lambda d: d / d.size), f"the factor 2 is missing: {_GRAD}"),
           (partial(_mse, grad=lambda d: 2 * d), f"the 1/size of the mean is missing: {_GRAD}"),
           (partial(_mse, grad=lambda d: -2 * d / d.size), f"the sign is flipped: {_GRAD}"),
           (partial(_mse, grad=lambda d: 2 * d / len(d)),
            "divide by all y.size elements, not by the len(y) rows")],
)


@check("mse_loss_and_grad")
def check_mse_loss_and_grad(t: Checker, mse_loss_and_grad: Callable) -> None:
    run = Run(t, MSE_LOSS_AND_GRAD, mse_loss_and_grad)
    run.case("by hand: y_pred=[1,2,3], y=[1,0,0] gives 13/3 and [0, 4/3, 2]",
             np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]), expected=(13 / 3, [0, 4 / 3, 2]))
    for label, shape, scale in (("matches torch", (8,), 1), ("matches torch", (6, 3), 1),
                                ("batch of one", (1, 1), 1), ("large values", (5, 2), 1e6)):
        run.case(f"{label} (shape {shape})", scale * t.rng.normal(size=shape),
                 scale * t.rng.normal(size=shape))  # the mean is over every element
    y = t.rng.normal(size=(4, 2))
    run.case("perfect prediction (loss 0, gradient 0)", y.copy(), y)


def _mlp(X, y, params, *, slope: Callable | None = None, last_tanh: bool = False,
         scale: float = 1.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """By torch.autograd; a mistake changes tanh' (slope), tanh on the output, the loss' scale."""
    def loss(X, y, *wb):
        for i in range(0, len(wb), 2):
            z = X @ wb[i] + wb[i + 1]
            X = z.tanh() if i < len(wb) - 2 or last_tanh else z
            if slope is not None and (i < len(wb) - 2 or last_tanh):
                s = slope(z, X).detach()  # the same values, with s as their derivative
                X = X.detach() + s * z - (s * z).detach()
        return scale * ((X - y) ** 2).mean()

    flat = [a for pair in params for a in pair]
    grads = torchref.value_and_grads(loss, X, y, *flat, wrt=range(2, 2 + len(flat)))[1]
    return [(grads[i], grads[i + 1]) for i in range(0, len(grads), 2)]


MLP_GRADIENTS = Exercise(
    "mlp_gradients", signature="mlp_gradients(X, y, params)", reference=_mlp,
    hint=("backward, last layer first: dZ = dL/dy_pred; dW = H_prev.T @ dZ; db = dZ.sum(0); "
          "dH_prev = dZ @ W.T; then through the tanh below: dZ_prev = dH_prev * (1 - H_prev**2)"),
    hints={"": "return a list with one (dW, db) per (W, b) in params, in the order of params; "
               "did you forget a `return`?",
           ".shape": "dW has the shape of its W and db of its b, layer by layer in params' order"},
    wrong=[(lambda X, y, p: _mlp(X, y, p)[::-1], "the layers come out reversed: backward "
            "visits them last to first, but return them in the order of params"),
           (partial(_mlp, slope=lambda z, a: 1 + 0 * z), "multiply by tanh'(z) at each hidden layer"),
           (partial(_mlp, slope=lambda z, a: 1 - z ** 2),
            "tanh'(z) = 1 - a**2 with a = tanh(z), the layer's output, not the pre-activation z"),
           (partial(_mlp, last_tanh=True), "the last layer is linear: no tanh' in its backward"),
           (partial(_mlp, scale=0.5), "the loss gradient misses its factor 2: 2 (y_pred - y) / y.size"),
           (lambda X, y, p: _mlp(X, y, p, scale=y.shape[-1]),
            "average over all y.size elements (N * D_out), not over the N rows")],
)


@check("mlp_gradients")
def check_mlp_gradients(t: Checker, mlp_gradients: Callable) -> None:
    run = Run(t, MLP_GRADIENTS, mlp_gradients)
    # W1 = 0: the hidden layer is tanh(0) = 0, tanh'(0) = 1; y_pred = b2 = 3, dL/dy_pred = 2*(3-1)
    run.case("by hand (2-1-1 net, W1 = 0: dW1 = [[4], [8]], db1 = [4], dW2 = [[0]], db2 = [4])",
             np.array([[1.0, 2.0]]), np.array([[1.0]]), [(np.zeros((2, 1)), np.zeros(1)),
             (np.array([[1.0]]), np.array([3.0]))], expected=[([[4.0], [8.0]], [4.0]), ([[0.0]], [4.0])])
    for label, sizes, n, gain in (
            ("vs torch.autograd", [3, 5, 4, 2], 8, 1), ("vs torch.autograd", [4, 6, 1], 5, 1),
            ("one linear layer", [3, 2], 6, 1), ("batch of one", [2, 4, 3], 1, 1),
            ("deep: 5 hidden layers", [2, 4, 4, 4, 4, 4, 1], 6, 1),
            ("saturated tanh (large weights)", [3, 5, 2], 6, 8)):
        params = [(gain * t.rng.normal(size=(a, c)) / math.sqrt(a), 0.5 * t.rng.normal(size=c))
                  for a, c in zip(sizes[:-1], sizes[1:])]
        run.case(f"{label} (sizes {sizes}, N={n})", t.rng.normal(size=(n, sizes[0])),
                 t.rng.normal(size=(n, sizes[-1])), params)


def _difference(f, x, eps=1e-5, lo=-1, hi=1):
    """(f(x + hi eps e_i) - f(x + lo eps e_i)) / ((hi - lo) eps): central, or one-sided."""
    def at(i, k):
        moved = np.array(x, dtype=float)
        moved[i] += k * eps
        return f(moved)

    return np.array([(at(i, hi) - at(i, lo)) / ((hi - lo) * eps)
                     for i in np.ndindex(x.shape)]).reshape(x.shape)


_CENTRAL = ("use central differences, (f(x + eps) - f(x - eps)) / (2 * eps): a one-sided "
            "difference (f(x + eps) - f(x)) / eps is off by order eps, central by eps**2")
_ANY_SHAPE = ("x can have any shape: perturb one element at a time, e.g. loop over "
              "np.ndindex(x.shape), and fill a np.zeros_like(x)")
NUMERICAL_GRADIENT = Exercise(
    "numerical_gradient", signature="numerical_gradient(f, x, eps=1e-5)", reference=_difference,
    hint="perturb one element at a time by +eps and -eps and take the difference of f over 2 * eps",
    hints={".shape": _ANY_SHAPE}, tol=Tolerance(rtol=1e-6, atol=1e-7),  # f's rounding over eps
    wrong=[(lambda f, x, eps=1e-5: _difference(f, x, eps, 0, 1), _CENTRAL),
           (lambda f, x, eps=1e-5: _difference(f, x, eps, -1, 0), _CENTRAL),
           (lambda f, x, eps=1e-5: 2 * _difference(f, x, eps),
            "divide the difference by 2 * eps: the two points are 2 * eps apart")],
)


@check("numerical_gradient")
def check_numerical_gradient(t: Checker, numerical_gradient: Callable) -> None:
    run = Run(t, NUMERICAL_GRADIENT, numerical_gradient)
    run.case("by hand: f = sum(x**2) at [0.1, -0.2, 0.3] gives [0.2, -0.4, 0.6]",
             lambda v: float(np.sum(v ** 2)), np.array([0.1, -0.2, 0.3]), expected=[0.2, -0.4, 0.6])
    # exp(k x) curves fast (f'' = k f'), so a one-sided difference is off by about k * eps / 2
    run.case("of sum(exp(20 x)) (large second derivative)", lambda v: float(np.sum(np.exp(20 * v))),
             t.rng.uniform(0.0, 0.5, size=8), hint=_CENTRAL)
    run.unchanged("x is unchanged afterwards", lambda v: float(np.sum(np.sin(v) * v)),
                  t.rng.normal(size=5), hint="restore each element after perturbing it "
                                             "(old = x[i]; ...; x[i] = old), or work on a copy of x")
    A = t.rng.normal(size=(4, 3))
    for shape in ((5, 4), (2, 3, 4)):  # f(X) = sum(tanh(X @ A)) needs X's real shape
        run.case(f"for x of shape {shape}", lambda v: float(np.sum(np.tanh(v @ A))),
                 t.rng.normal(size=shape), hint=_ANY_SHAPE)
    run.case("with eps=0.1 on sum(x**3) (exactly 3x**2 + eps**2)", lambda v: float(np.sum(v ** 3)),
             t.rng.normal(size=6), 0.1, hint="use the eps argument as the step; do not hard-code one")


def _ratio(reduce: Callable = np.max, diff: Callable = lambda a, b: np.abs(a - b),
           size: Callable = lambda a, b: np.abs(a) + np.abs(b)) -> Callable:
    return lambda a, b: float(reduce(diff(*np.asarray([a, b], dtype=float))
                                     / np.maximum(size(*np.asarray([a, b], dtype=float)), 1e-12)))


RELATIVE_ERROR = Exercise(
    "relative_error", signature="relative_error(a, b)", reference=_relative_error,
    hint="max over elements of |a - b| / max(|a| + |b|, 1e-12)",
    tol=Tolerance(rtol=1e-9, atol=1e-15),  # an exact formula: only rounding to allow for
    hints={"": "reduce to one number with the max over all elements: float(np.max(...))"},
    wrong=[(_ratio(diff=lambda a, b: a - b), "take the absolute value |a - b|: without it a "
            "negative difference looks like a perfect match"),
           (_ratio(size=lambda a, b: np.abs(a + b)), "divide by |a| + |b|, not |a + b|"),
           (_ratio(reduce=np.mean), "take the max over elements, not the mean"),
           (_ratio(reduce=np.linalg.norm, diff=lambda a, b: np.linalg.norm(a - b),
                   size=lambda a, b: np.linalg.norm(a) + np.linalg.norm(b)),
            "the relative error is elementwise (the max over i), not a ratio of norms"),
           (_ratio(size=lambda a, b: np.abs(b)), "divide by |a| + |b| (symmetric), not by |b| alone")],
)


@check("relative_error")
def check_relative_error(t: Checker, relative_error: Callable) -> None:
    run = Run(t, RELATIVE_ERROR, relative_error)
    run.case("by hand: a=[2, 1], b=[1, 3] gives max(1/3, 2/4) = 0.5", np.array([2.0, 1.0]),
             np.array([1.0, 3.0]), expected=0.5)
    for shape in ((7,), (3, 4)):
        a = t.rng.normal(size=shape)
        b = a + 0.3 * t.rng.normal(size=shape) * np.abs(a)
        run.case(f"of random arrays of shape {shape}", a, b)
    run.case("with a and b swapped", b, a)
    a = t.rng.normal(size=6)
    run.case("when a and b have opposite signs (error 1)", a, -a * t.rng.uniform(0.5, 2.0, size=6))
    run.case("when a and b are both 0 somewhere", np.array([0.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0]),
             hint="two zeros agree: floor the denominator, max(|a| + |b|, 1e-12), so 0/0 is not nan")
    run.case("for tiny values (a=[1e-20], b=[3e-20])", np.array([1e-20]), np.array([3e-20]),
             hint="the denominator's floor is 1e-12: 2e-20 / max(4e-20, 1e-12) = 2e-8")
    run.case("for scalars 1.0 and 1.5 (0.5 / 2.5 = 0.2)", 1.0, 1.5,
             hint="it also works for plain numbers: np.abs and np.max accept them")


def _clip(grads, max_norm, *, norm_of: Callable | None = None) -> tuple[list[np.ndarray], float]:
    """torch's clip_grad_norm_ (the reference); a known mistake computes the norm with norm_of."""
    if norm_of is not None:
        norm = norm_of(grads)
        return [g * min(1.0, max_norm / (norm + 1e-6)) for g in grads], norm
    params = [torchref.tensor(np.zeros_like(g), grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torchref.tensor(g)
    norm = float(torchref.torch().nn.utils.clip_grad_norm_(params, max_norm))
    return [p.grad.numpy() for p in params], norm


def _norm(*grads) -> float:
    return float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))


CLIP_GRAD_NORM = Exercise(
    "clip_grad_norm", signature="clip_grad_norm(grads, max_norm)", reference=_clip,
    returns=("clipped_grads", "total_norm"),
    hint={"clipped_grads": "multiply every gradient by max_norm / (total_norm + 1e-6) if it is < 1",
          "total_norm": "total_norm = sqrt(sum of every squared entry), before clipping"},
    hints={"clipped_grads": "return (clipped_grads, total_norm), clipped_grads a list with one "
                            "array per gradient: did you return only the clipped gradients?",
           "total_norm": "return the total norm as a float: float(np.sqrt(...))",
           "clipped_grads.shape": "scale each gradient; keep its shape"},
    error_hints=[("ZeroDivisionError", "a zero norm must not divide by zero: use total_norm + 1e-6")],
    wrong=[(lambda gs, m: ([_clip([g], m, norm_of=lambda g: _norm(*g))[0][0] for g in gs],
                           _norm(*gs)), "clip by the global norm of all gradients together, "
                                        "not each gradient by its own norm"),
           (lambda gs, m: ([g * m / (_norm(*gs) + 1e-6) for g in gs], _norm(*gs)),
            "only scale down when the total norm exceeds max_norm: min(1, max_norm / (norm + 1e-6))"),
           (lambda gs, m: _clip(gs, m, norm_of=lambda gs: sum(map(_norm, gs))), "the total norm "
            "is sqrt(sum of squares of all entries), not the sum of each gradient's norm"),
           (lambda gs, m: (_clip(gs, m)[0], _norm(*_clip(gs, m)[0])),
            "return the total norm from before clipping (as clip_grad_norm_ does), not after")],
)


@check("clip_grad_norm")
def check_clip_grad_norm(t: Checker, clip_grad_norm: Callable) -> None:
    run = Run(t, CLIP_GRAD_NORM, clip_grad_norm)
    run.case("by hand: grads [3.], [4.] and max_norm=1: norm 5, clipped to [0.6], [0.8]",
             [np.array([3.0]), np.array([4.0])], 1.0)
    shapes = [(3, 5), (5,), (5, 2), (2,)]
    above, below = ([t.rng.normal(size=s) for s in shapes] for _ in range(2))
    run.case("matches torch clip_grad_norm_ (norm above max_norm)", above, 0.3 * _norm(*above))
    run.case("below max_norm (left unchanged)", below, 2.0 * _norm(*below),
             hint="when the total norm is below max_norm the gradients are returned unchanged")
    run.case("all-zero gradients (norm 0, nothing to clip)", [np.zeros((3, 2)), np.zeros(2)], 1.0,
             hint="a zero norm must not divide by zero: the 1e-6 in the denominator keeps the "
                  "scale finite, and a scale >= 1 is not applied")
    run.case("a single gradient", [t.rng.normal(size=(4, 4))], 0.5)
    run.case("huge gradients (exploding)", [1e8 * t.rng.normal(size=s) for s in shapes], 5.0)

"""Checks for notebook 02, activations: each function and its derivative, stable softmax.

Every check calls the student's NumPy function on inputs it draws itself and compares
with PyTorch in float64, computed now (``torch.sigmoid``, ``torch.nn.functional.gelu``,
``torch.log_softmax``, and ``torch.autograd`` for the derivatives). PyTorch is imported
on the first check, not with this module.

Each check runs the same ladder: a NumPy array comes back → of the input's shape → holding
floats → a small case you can do by hand → agreement on random inputs → edge cases
(magnitudes of 1000, a batch of one, 1-D and 3-D inputs, another axis) → the input array is
left unchanged. The first failure stops the check.

Floating-point warnings: the student's function runs under ``np.errstate`` with overflow,
division by zero and invalid operations routed to a recorder instead of printed (or raised,
had the notebook set ``np.seterr(all="raise")``). Why: a harmless overflow, such as
``exp(1000)`` inside ``1 / (1 + np.exp(-x))`` whose result is still exactly 0, neither
clutters the output nor fails the check on its own; only wrong values fail. When a value is
wrong, the message then says what NumPy reported ("overflow, invalid value"), which points
at the unstable step better than a warning printed three lines above it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks.core import Checker, check

__all__ = [
    "check_sigmoid", "check_sigmoid_grad", "check_tanh", "check_tanh_grad",
    "check_relu", "check_relu_grad", "check_leaky_relu", "check_gelu",
    "check_softmax", "check_log_softmax",
]

Wrong = list[tuple[Callable[..., np.ndarray], str]]  # known-wrong implementation -> its hint

LN3 = float(np.log(3.0))
BIG = np.array([[-1000.0, -50.0, -1.0, 0.0, 50.0, 1000.0]])  # six: failure summaries show all
EDGE_SHAPES = (("batch of one", (1, 5)), ("1-D input", (6,)), ("3-D input", (2, 3, 4)))


# -- references (PyTorch, float64, imported on first use) ------------------------------------
@functools.cache
def _torch():
    import torch

    return torch


def _reference(op: Callable, x: np.ndarray, **kwargs: Any) -> np.ndarray:
    """``op(torch, tensor, **kwargs)`` on a float64 copy of ``x``, back as a NumPy array."""
    torch = _torch()
    xt = torch.from_numpy(np.array(x, dtype=np.float64))
    with torch.no_grad():
        return op(torch, xt, **kwargs).numpy()


def _reference_grad(op: Callable, x: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Element-wise derivative of ``op`` by autograd: the gradient of ``sum(op(x))``."""
    torch = _torch()
    xt = torch.tensor(np.array(x, dtype=np.float64), requires_grad=True)
    (grad,) = torch.autograd.grad(op(torch, xt, **kwargs).sum(), xt)
    return grad.numpy()


def _sigmoid(torch, x):
    return torch.sigmoid(x)


def _tanh(torch, x):
    return torch.tanh(x)


def _relu(torch, x):
    return torch.relu(x)


def _leaky_relu(torch, x, alpha=0.01):
    return torch.nn.functional.leaky_relu(x, negative_slope=alpha)


def _gelu(torch, x):
    return torch.nn.functional.gelu(x, approximate="none")


def _softmax(torch, z, axis=-1):
    return torch.softmax(z, dim=axis)


def _log_softmax(torch, z, axis=-1):
    return torch.log_softmax(z, dim=axis)


# -- known-wrong answers, in NumPy (evaluated under errstate(all="ignore")) ------------------
def _np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _np_softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(z, axis=-1):
    s = z - np.max(z, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _naive_tanh(x):
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def _erf(x):
    from math import erf

    return np.vectorize(erf, otypes=[float])(x)


# -- hints --------------------------------------------------------------------------------
SHAPE_HINT = ("an element-wise function returns one value per input, so the shape must not "
              "change: did you use a reduction (np.max, np.sum) instead of an element-wise op "
              "(np.maximum)?")
FLOAT_HINT = "return a float64 array, e.g. convert with .astype(float)"
UNCHANGED_HINT = ("an in-place update (x[...] = ..., x -= ..., x *= ..., out=x) also changes the "
                  "caller's array: compute a new array instead (x = x - m, np.where(...))")
SIGMOID_STABLE = ("exp of a large number overflows to inf, and inf/inf is nan: use a stable "
                  "form, e.g. 1 / (1 + exp(-x)), or with e = exp(-|x|): 1/(1+e) for x >= 0 and "
                  "e/(1+e) for x < 0 (exp of a negative number never overflows)")
TANH_STABLE = ("(exp(x) - exp(-x)) / (exp(x) + exp(-x)) is inf/inf = nan for large |x|: use a "
               "stable form such as 2 * sigmoid(2x) - 1 with a stable sigmoid, or "
               "(1 - exp(-2|x|)) / (1 + exp(-2|x|)) with the sign of x")
TANH_GRAD_STABLE = ("tanh written with exp(x) and exp(-x) is inf/inf = nan for large |x|: "
                    "compute t = tanh(x) with a stable form (np.tanh, or 2 * sigmoid(2x) - 1), "
                    "then 1 - t**2")
SOFTMAX_MAX = ("exp(1000) overflows to inf and inf/inf is nan: subtract the max along `axis` "
               "first (np.max(z, axis=axis, keepdims=True)); softmax(z) = softmax(z - c) for "
               "any constant c")
ROW_MAX = ("subtract each row's own max (np.max(z, axis=axis, keepdims=True)), not the max of "
           "the whole array: in a row far below the global max every exp underflows to 0")
WRONG_AXIS = ("did you normalise over the wrong axis? reduce with axis=axis and keepdims=True "
              "(each slice along `axis` is one distribution)")
IGNORED_AXIS = "use the `axis` argument instead of a fixed axis (the test passes another one)"
WHOLE_ARRAY = ("np.sum without `axis` adds up the whole array, so only the whole array sums "
               "to 1: sum along `axis` with keepdims=True")
NOT_NORMALISED = ("divide the exponentials by their sum along `axis`, so that each slice sums "
                  "to 1")
LOG_OF_SOFTMAX = ("log(softmax(z)) is log(0) = -inf when a logit is far below the max: compute "
                  "it directly as (z - m) - log(sum(exp(z - m))) with m the max along `axis`")
LSE_NO_MAX = ("exp(1000) overflows, so log(sum(exp(z))) is inf: use the log-sum-exp trick, "
              "log(sum(exp(z))) = m + log(sum(exp(z - m))) with m the max along `axis`")
LSE_DROPPED_M = ("log(sum(exp(z))) = m + log(sum(exp(z - m))): you subtracted the max inside "
                 "the log-sum-exp but dropped the m (use z - m - log(sum(exp(z - m))))")


# -- the ladder shared by every check -------------------------------------------------------
def _call(t: Checker, fn: Callable, *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """Call the student's function, recording NumPy's floating-point errors (module docstring).

    Returns the output and a note to append to hints ("" when NumPy reported nothing)."""
    reported: list[str] = []
    with np.errstate(over="call", divide="call", invalid="call", under="ignore",
                     call=lambda kind, _flag: reported.append(kind)):
        out = t.call(fn, *args, **kwargs)
    note = f" (NumPy reported: {', '.join(sorted(set(reported)))})" if reported else ""
    return out, note


def _close(t: Checker, subcheck: str, got: Any, expected: np.ndarray, note: str, *, hint: str,
           wrong: Wrong, args: tuple, kwargs: dict, overflow_hint: str = "") -> None:
    """``got`` must match ``expected``; ``wrong`` (evaluated on ``args``) names likely mistakes.

    Tolerance: float64 answers must agree to rtol=1e-6, atol=1e-8. A float32 answer (e.g.
    computed in torch's default dtype) is judged at float32's precision instead of failing on
    rounding: rtol=1e-5 and an atol that grows with the inputs' magnitude (z - 1000.0 in
    float32 is only good to about 1e-4). ``overflow_hint`` replaces ``hint`` when the answer
    holds nan or inf where the true one is finite."""
    expected = np.asarray(expected, dtype=float)
    if getattr(got, "dtype", None) == np.float32:
        rtol, atol = 1e-5, 1e-6 * max(1.0, float(np.max(np.abs(args[0]))))
    else:
        rtol, atol = 1e-6, 1e-8
    if overflow_hint and np.shape(got) == expected.shape:
        got_finite = np.isfinite(np.asarray(got, dtype=float))
        if np.any(~got_finite & np.isfinite(expected)):
            hint = overflow_hint
    diagnose = []
    with np.errstate(all="ignore"):
        for wrong_fn, wrong_hint in wrong:
            candidate = np.asarray(wrong_fn(*args, **kwargs), dtype=float)
            if candidate.shape == expected.shape and np.allclose(
                    candidate, expected, rtol=1e-5, atol=1e-7, equal_nan=True):
                continue  # right on these inputs, so it cannot explain a wrong answer
            diagnose.append((candidate, wrong_hint + note))
        t.close(subcheck, got, expected, rtol=rtol, atol=atol, hint=hint + note,
                diagnose=diagnose)


def _structure(t: Checker, got: Any, shape: tuple[int, ...], *, float_hint: str) -> None:
    """Return type → shape → float dtype, three sub-checks."""
    t.is_array("returns a NumPy array", got)
    t.true("keeps the input's shape", tuple(got.shape) == tuple(shape),
           detail=f"expected shape {tuple(shape)}, got {tuple(got.shape)}", hint=SHAPE_HINT)
    is_float = np.issubdtype(got.dtype, np.floating) and np.finfo(got.dtype).bits >= 32
    t.true("returns floats", is_float,
           detail=f"expected float64 (or float32), got {got.dtype}", hint=float_hint)


def _unchanged(t: Checker, fn: Callable, x: np.ndarray, **kwargs: Any) -> None:
    """Call ``fn`` on an array and check that the array itself was not modified."""
    seen: dict[str, np.ndarray] = {}

    def probe(a, **kw):
        seen["a"] = a  # the copy that t.call hands over: what the student's code received
        return fn(a, **kw)

    _call(t, probe, x, **kwargs)
    changed = int(np.sum(seen["a"] != x))
    t.true("leaves its input unchanged", changed == 0,
           detail=f"your function changed {changed} of the {x.size} values of the array passed in",
           hint=UNCHANGED_HINT)


def _elementwise(t: Checker, fn: Callable, ref: Callable[[np.ndarray], np.ndarray], *,
                 small: np.ndarray, small_label: str, hint: str, wrong: Wrong,
                 stable_hint: str = "", float_hint: str = FLOAT_HINT,
                 kwargs: dict | None = None) -> None:
    """The ladder for an element-wise function ``fn(x, **kwargs)``; ``ref(x)`` is the answer."""
    kwargs = kwargs or {}
    x = t.rng.normal(scale=3.0, size=(4, 5))
    out, note = _call(t, fn, x, **kwargs)
    _structure(t, out, x.shape, float_hint=float_hint)

    got, small_note = _call(t, fn, small, **kwargs)
    t.is_array("returns a NumPy array", got)
    _close(t, f"small case x = {small_label}", got, ref(small), small_note, hint=hint,
           wrong=wrong, args=(small,), kwargs=kwargs)

    _close(t, "matches PyTorch on random inputs", out, ref(x), note, hint=hint, wrong=wrong,
           args=(x,), kwargs=kwargs)

    got, big_note = _call(t, fn, BIG, **kwargs)
    t.is_array("returns a NumPy array", got)
    _close(t, "large inputs (-1000 to 1000)", got, ref(BIG), big_note, hint=hint,
           overflow_hint=stable_hint, wrong=wrong, args=(BIG,), kwargs=kwargs)

    for label, shape in EDGE_SHAPES:
        xs = t.rng.normal(scale=3.0, size=shape)
        got, edge_note = _call(t, fn, xs, **kwargs)
        t.is_array(f"{label}: returns an array of shape {shape}", got, shape=shape,
                   hint=SHAPE_HINT)
        _close(t, f"{label}: matches PyTorch", got, ref(xs), edge_note, hint=hint, wrong=wrong,
               args=(xs,), kwargs=kwargs)

    _unchanged(t, fn, x, **kwargs)


# -- sigmoid and tanh --------------------------------------------------------------------------
@check("sigmoid")
def check_sigmoid(t: Checker, sigmoid: Callable) -> None:
    """``sigmoid(x)``: x any shape → same shape, 1 / (1 + exp(-x)) element-wise."""
    _elementwise(
        t, sigmoid, lambda x: _reference(_sigmoid, x),
        small=np.array([-LN3, 0.0, LN3]), small_label="[-ln 3, 0, ln 3]",
        hint="sigmoid(x) = 1 / (1 + exp(-x)), element-wise; sigmoid(0) = 0.5",
        stable_hint=SIGMOID_STABLE,
        wrong=[
            (lambda x: 1 / (1 + np.exp(x)),
             "sign error: yours is sigmoid(-x) = 1 - sigmoid(x); sigmoid(x) = 1 / (1 + exp(-x))"),
            (lambda x: np.exp(x) / (1 + np.exp(x)), SIGMOID_STABLE),
            (lambda x: np.tanh(x), "that is tanh; sigmoid(x) = 1 / (1 + exp(-x)) lies in (0, 1)"),
        ],
    )


@check("sigmoid_grad")
def check_sigmoid_grad(t: Checker, sigmoid_grad: Callable) -> None:
    """``sigmoid_grad(x)``: d sigmoid / dx = s (1 - s) with s = sigmoid(x), element-wise."""
    _elementwise(
        t, sigmoid_grad, lambda x: _reference_grad(_sigmoid, x),
        small=np.array([-LN3, 0.0, LN3]), small_label="[-ln 3, 0, ln 3]",
        hint="sigmoid'(x) = s * (1 - s) with s = sigmoid(x); its value at 0 is 0.25",
        stable_hint=("compute s = sigmoid(x) with a stable form first, then s * (1 - s); "
                     "exp(-x) / (1 + exp(-x))**2 is inf/inf = nan for large negative x"),
        wrong=[
            (lambda x: _np_sigmoid(x) * (1 + _np_sigmoid(x)),
             "sign error: sigmoid'(x) = s * (1 - s), not s * (1 + s)"),
            (lambda x: x * (1 - x),
             "apply s * (1 - s) to s = sigmoid(x), not to x itself"),
            (lambda x: _np_sigmoid(x),
             "that is sigmoid itself; its derivative is s * (1 - s) with s = sigmoid(x)"),
            (lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
             "exp(-x) / (1 + exp(-x))**2 is inf/inf = nan for large negative x: compute "
             "s = sigmoid(x) with a stable form, then s * (1 - s)"),
        ],
    )


@check("tanh")
def check_tanh(t: Checker, tanh: Callable) -> None:
    """``tanh(x)``: x any shape → same shape, (e^x - e^-x) / (e^x + e^-x) element-wise."""
    _elementwise(
        t, tanh, lambda x: _reference(_tanh, x),
        small=np.array([-LN3, 0.0, LN3]), small_label="[-ln 3, 0, ln 3]",
        hint="tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)) = 2 * sigmoid(2x) - 1; "
             "tanh(ln 3) = 0.8",
        stable_hint=TANH_STABLE,
        wrong=[
            (_naive_tanh, TANH_STABLE),
            (_np_sigmoid, "that is sigmoid; tanh ranges over (-1, 1): tanh(x) = 2 sigmoid(2x) - 1"),
            (lambda x: 2 * _np_sigmoid(x) - 1,
             "tanh(x) = 2 * sigmoid(2x) - 1: the argument of sigmoid is 2x, not x"),
            (lambda x: (np.exp(x) - np.exp(-x)) / 2,
             "that is sinh; tanh divides by (exp(x) + exp(-x)), not by 2"),
        ],
    )


@check("tanh_grad")
def check_tanh_grad(t: Checker, tanh_grad: Callable) -> None:
    """``tanh_grad(x)``: d tanh / dx = 1 - tanh(x)**2, element-wise."""
    _elementwise(
        t, tanh_grad, lambda x: _reference_grad(_tanh, x),
        small=np.array([-LN3, 0.0, LN3]), small_label="[-ln 3, 0, ln 3]",
        hint="tanh'(x) = 1 - tanh(x)**2; its value at 0 is 1",
        stable_hint=TANH_GRAD_STABLE,
        wrong=[
            (lambda x: 1 - x**2, "apply 1 - t**2 to t = tanh(x), not to x itself"),
            (lambda x: 1 + np.tanh(x) ** 2, "sign error: tanh'(x) = 1 - tanh(x)**2"),
            (lambda x: 1 - np.tanh(x), "square it: tanh'(x) = 1 - tanh(x)**2"),
            (lambda x: np.tanh(x), "that is tanh itself; its derivative is 1 - tanh(x)**2"),
            (lambda x: 1 - _naive_tanh(x) ** 2, TANH_GRAD_STABLE),
        ],
    )


# -- the ReLU family ---------------------------------------------------------------------------
@check("relu")
def check_relu(t: Checker, relu: Callable) -> None:
    """``relu(x)``: max(x, 0) element-wise."""
    _elementwise(
        t, relu, lambda x: _reference(_relu, x),
        small=np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), small_label="[-2, -0.5, 0, 0.5, 2]",
        hint="relu(x) = max(x, 0) element-wise: np.maximum(x, 0)",
        wrong=[
            (lambda x: np.minimum(x, 0),
             "np.minimum keeps the negative part: relu is np.maximum(x, 0)"),
            (lambda x: x, "negative inputs should become 0: relu(x) = max(x, 0)"),
            (lambda x: np.abs(x), "negative inputs should become 0, not -x: relu(x) = max(x, 0)"),
            (lambda x: (x > 0).astype(float),
             "that is the derivative (a 0/1 step); relu(x) itself is max(x, 0)"),
        ],
    )


@check("relu_grad")
def check_relu_grad(t: Checker, relu_grad: Callable) -> None:
    """``relu_grad(x)``: 1.0 where x > 0, else 0.0 (the convention at 0, as in PyTorch)."""
    _elementwise(
        t, relu_grad, lambda x: _reference_grad(_relu, x),
        small=np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), small_label="[-2, -0.5, 0, 0.5, 2]",
        hint="relu'(x) is 1.0 where x > 0 and 0.0 elsewhere",
        float_hint="return floats, not booleans or integers: (x > 0).astype(float), or "
                   "np.where(x > 0, 1.0, 0.0)",
        wrong=[
            (lambda x: np.maximum(x, 0),
             "that is relu itself; its derivative is 1.0 where x > 0 and 0.0 elsewhere"),
            (lambda x: np.ones_like(x),
             "the derivative is 0 for negative inputs (relu is flat there), 1 only where x > 0"),
            (lambda x: (x >= 0).astype(float),
             "at x = 0 use the convention relu'(0) = 0, as PyTorch does: x > 0, not x >= 0"),
            (lambda x: np.sign(x),
             "negative inputs have derivative 0, not -1: relu is flat for x < 0"),
            (lambda x: (x < 0).astype(float),
             "the comparison is flipped: the derivative is 1 where x > 0"),
        ],
    )


@check("leaky_relu")
def check_leaky_relu(t: Checker, leaky_relu: Callable) -> None:
    """``leaky_relu(x, alpha=0.01)``: x where x > 0, alpha * x elsewhere."""
    ignored = "use the `alpha` argument instead of a fixed slope (the test passes another alpha)"
    wrong: Wrong = [
        (lambda x, alpha=0.01: np.maximum(x, 0),
         "negative inputs should be multiplied by alpha, not set to 0 (that is relu)"),
        (lambda x, alpha=0.01: np.where(x > 0, alpha * x, x),
         "alpha scales the negative side; positive inputs pass through unchanged"),
        (lambda x, alpha=0.01: alpha * x, "alpha scales only the negative inputs"),
        (lambda x, alpha=0.01: np.where(x > 0, x, 0.01 * x), ignored),
        (lambda x, alpha=0.01: np.where(x > 0, x, -alpha * x),
         "sign error: the negative side is alpha * x (negative), not -alpha * x"),
    ]
    _elementwise(
        t, leaky_relu, lambda x: _reference(_leaky_relu, x),
        small=np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), small_label="[-2, -0.5, 0, 0.5, 2]",
        hint="leaky_relu(x) = x where x > 0, alpha * x elsewhere (alpha defaults to 0.01)",
        wrong=wrong,
    )
    for alpha in (0.2, 0.0):
        x = t.rng.normal(scale=3.0, size=(4, 5))
        got, note = _call(t, leaky_relu, x, alpha=alpha)
        t.is_array(f"alpha={alpha}: returns an array of shape {x.shape}", got, shape=x.shape,
                   hint=SHAPE_HINT)
        _close(t, f"alpha={alpha}: matches PyTorch", got, _reference(_leaky_relu, x, alpha=alpha),
               note, hint=ignored, wrong=wrong, args=(x,), kwargs={"alpha": alpha})


@check("gelu")
def check_gelu(t: Checker, gelu: Callable) -> None:
    """``gelu(x)``: the exact form x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), PyTorch's default."""
    _elementwise(
        t, gelu, lambda x: _reference(_gelu, x),
        small=np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), small_label="[-2, -1, 0, 1, 2]",
        hint="gelu(x) = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))), with erf from "
             "scipy.special or math.erf applied element-wise",
        wrong=[
            (_gelu_tanh,
             "that is the tanh approximation (approximate='tanh' in PyTorch); this exercise asks "
             "for the exact form 0.5 * x * (1 + erf(x / sqrt(2)))"),
            (lambda x: x * _np_sigmoid(1.702 * x),
             "that is the sigmoid approximation x * sigmoid(1.702 x); this exercise asks for the "
             "exact form 0.5 * x * (1 + erf(x / sqrt(2)))"),
            (lambda x: 0.5 * x * (1 + _erf(x)),
             "the argument of erf is x / sqrt(2): Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))"),
            (lambda x: x * (1 + _erf(x / np.sqrt(2))),
             "missing the factor 0.5: Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))"),
            (lambda x: 0.5 * (1 + _erf(x / np.sqrt(2))),
             "that is Phi(x), the Gaussian CDF; gelu multiplies it by x"),
        ],
    )


# -- softmax and log-softmax -----------------------------------------------------------------
SOFTMAX_SMALL = np.array([[0.0, np.log(2.0), np.log(5.0)], [1.0, 1.0, 1.0]])


def _normaliser(t: Checker, fn: Callable, op: Callable, *, hint: str, stable_hint: str,
                wrong: Wrong, along: Callable) -> None:
    """The ladder for ``fn(z, axis=-1)`` normalising along ``axis`` (softmax, log_softmax).

    ``along(z, axis)`` is the right NumPy computation; applied along another axis it gives the
    wrong-axis answers."""

    def ref(z, axis=-1):
        return _reference(op, z, axis=axis)

    def along_axis(a: int) -> Callable[..., np.ndarray]:
        return lambda z, **_: along(z, a)

    def axis_wrong(axis: int, ndim: int) -> Wrong:
        # Ignoring the `axis` argument (a fixed -1, or a fixed 1 meant as "the last axis"),
        # then normalising along any other axis.
        out = [(along_axis(a), WRONG_AXIS) for a in range(ndim) if a != axis % ndim]
        if axis % ndim != ndim - 1:
            out.insert(0, (along_axis(-1), IGNORED_AXIS))
        elif ndim > 2:
            out.insert(0, (along_axis(1), "axis=-1 means the last axis: " + IGNORED_AXIS))
        return out

    z = t.rng.normal(scale=2.0, size=(4, 5))
    out, note = _call(t, fn, z)
    _structure(t, out, z.shape, float_hint=FLOAT_HINT)
    wrong_2d = wrong + axis_wrong(-1, 2)

    got, small_note = _call(t, fn, SOFTMAX_SMALL)
    t.is_array("returns a NumPy array", got)
    _close(t, "small case z = [[0, ln 2, ln 5], [1, 1, 1]]", got, ref(SOFTMAX_SMALL), small_note,
           hint=hint, wrong=wrong_2d, args=(SOFTMAX_SMALL,), kwargs={})
    _close(t, "matches PyTorch on random inputs", out, ref(z), note, hint=hint, wrong=wrong_2d,
           args=(z,), kwargs={})

    edge = (
        ("large logits (about 1000)", np.array([[1000.0, 1001.0, 1002.0], [999.0, 1000.0, 990.0]]),
         stable_hint),
        ("rows at very different levels", np.array([[1000.0, 1001.0, 1002.0],
                                                    [-1000.0, -1001.0, -1002.0]]), ROW_MAX),
        ("large gaps within a row", np.array([[0.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]]),
         stable_hint),
    )
    for label, zs, edge_hint in edge:
        got, edge_note = _call(t, fn, zs)
        t.is_array("returns a NumPy array", got)
        _close(t, label, got, ref(zs), edge_note, hint=hint, overflow_hint=edge_hint,
               wrong=wrong_2d, args=(zs,), kwargs={})

    cases = (
        ("batch of one", (1, 5), -1),
        ("1-D input", (6,), -1),
        ("axis=0", (4, 5), 0),
        ("3-D input, axis=-1", (2, 3, 4), -1),
        ("3-D input, axis=1", (2, 3, 4), 1),
    )
    for label, shape, axis in cases:
        zs = t.rng.normal(scale=2.0, size=shape)
        kwargs = {} if axis == -1 else {"axis": axis}
        got, edge_note = _call(t, fn, zs, **kwargs)
        t.is_array(f"{label}: returns an array of shape {shape}", got, shape=shape,
                   hint="keep the input's shape: reduce with keepdims=True so the result "
                        "broadcasts back")
        _close(t, f"{label}: matches PyTorch", got, ref(zs, axis=axis), edge_note, hint=hint,
               wrong=wrong + axis_wrong(axis, len(shape)), args=(zs,), kwargs=kwargs)

    _unchanged(t, fn, z)


@check("softmax")
def check_softmax(t: Checker, softmax: Callable) -> None:
    """``softmax(z, axis=-1)``: exp(z) / sum(exp(z)) along ``axis``, stable for |z| ~ 1000."""
    _normaliser(
        t, softmax, _softmax,
        hint="softmax(z) = exp(z - m) / sum(exp(z - m)) along `axis`, with m the max along `axis`",
        stable_hint=SOFTMAX_MAX,
        along=_np_softmax,
        wrong=[
            (lambda z, axis=-1: np.exp(z) / np.sum(np.exp(z), axis=axis, keepdims=True),
             SOFTMAX_MAX),
            (lambda z, axis=-1: (lambda e: e / np.sum(e, axis=axis, keepdims=True))(
                np.exp(z - np.max(z))), ROW_MAX),
            (lambda z, axis=-1: np.exp(z), NOT_NORMALISED),
            (lambda z, axis=-1: np.exp(z - np.max(z, axis=axis, keepdims=True)), NOT_NORMALISED),
            (lambda z, axis=-1: np.exp(z - np.max(z)) / np.sum(np.exp(z - np.max(z))),
             WHOLE_ARRAY),
            (lambda z, axis=-1: z / np.sum(z, axis=axis, keepdims=True),
             "exponentiate first: softmax divides exp(z) by the sum of exp(z), not z by sum(z)"),
        ],
    )


@check("log_softmax")
def check_log_softmax(t: Checker, log_softmax: Callable) -> None:
    """``log_softmax(z, axis=-1)``: z - logsumexp(z) along ``axis``, stable for |z| ~ 1000."""
    _normaliser(
        t, log_softmax, _log_softmax,
        hint="log_softmax(z) = (z - m) - log(sum(exp(z - m))) along `axis`, with m the max "
             "along `axis`",
        stable_hint=LSE_NO_MAX,
        along=_np_log_softmax,
        wrong=[
            (lambda z, axis=-1: np.log(_np_softmax(z, axis=axis)), LOG_OF_SOFTMAX),
            (lambda z, axis=-1: z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True)),
             LSE_NO_MAX),
            (lambda z, axis=-1: np.log(np.exp(z) / np.sum(np.exp(z), axis=axis, keepdims=True)),
             LSE_NO_MAX),
            (lambda z, axis=-1: z - np.log(np.sum(
                np.exp(z - np.max(z, axis=axis, keepdims=True)), axis=axis, keepdims=True)),
             LSE_DROPPED_M),
            (lambda z, axis=-1: (lambda s: s - np.log(np.sum(np.exp(s), axis=axis,
                                                              keepdims=True)))(z - np.max(z)),
             ROW_MAX),
            (lambda z, axis=-1: _np_softmax(z, axis=axis),
             "that is softmax; return its log, the log-probabilities (all <= 0)"),
            (lambda z, axis=-1: z - np.max(z, axis=axis, keepdims=True),
             "subtracting the max is only the first step: also subtract log(sum(exp(z - m)))"),
        ],
    )

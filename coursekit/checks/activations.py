"""Checks for notebook 02 Activations: each function and its derivative, stable softmax.

References are PyTorch in float64 (``torch.sigmoid``, ``nn.functional.gelu``, ``log_softmax``;
``torch.autograd`` for the derivatives), computed at check time; PyTorch is imported on the
first check, not with this module. Every check runs the same ladder: a small case you can do by
hand → random inputs → inputs of ±1000 → a batch of one, 1-D and 3-D inputs (and other axes
for softmax) → the input left unchanged. A float32 answer is judged at float32 precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import Checker, check
from coursekit.checks.exercise import Exercise, Run

__all__ = [
    "check_sigmoid", "check_sigmoid_grad", "check_tanh", "check_tanh_grad",
    "check_relu", "check_relu_grad", "check_leaky_relu", "check_gelu",
    "check_softmax", "check_log_softmax",
]

LN3 = math.log(3.0)
BIG = np.array([[-1000.0, -50.0, -1.0, 0.0, 50.0, 1000.0]])  # six: failure summaries show all
EDGE_SHAPES = (("batch of one", (1, 5)), ("1-D input", (6,)), ("3-D input", (2, 3, 4)))


# -- references: PyTorch in float64 -------------------------------------------------------------
def _value(op: Callable) -> Callable:
    return lambda x, **kw: torchref.no_grad(lambda t: op(t, **kw), x)


def _derivative(op: Callable) -> Callable:
    """The element-wise derivative: the gradient of sum(op(x)), by autograd."""
    return lambda x: torchref.value_and_grads(op, x)[1][0]


_sigmoid = _value(lambda t: t.sigmoid())
_softmax = _value(lambda t, axis=-1: t.softmax(dim=axis))
_log_softmax = _value(lambda t, axis=-1: t.log_softmax(dim=axis))


def _exp_tanh(x):  # tanh through exp(x) and exp(-x): inf/inf for large |x|
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


# -- hints -----------------------------------------------------------------------------------
SHAPE_HINT = ("an element-wise function returns one value per input, so the shape must not "
              "change: did you use a reduction (np.max, np.sum) instead of an element-wise op "
              "(np.maximum), or reshape the input?")
SIGMOID_STABLE = ("exp of a large number overflows to inf, and inf/inf is nan: use a stable "
                  "form, e.g. 1 / (1 + exp(-x)), or with e = exp(-|x|): 1/(1+e) for x >= 0 and "
                  "e/(1+e) for x < 0 (exp of a negative number never overflows)")
TANH_STABLE = ("(exp(x) - exp(-x)) / (exp(x) + exp(-x)) is inf/inf = nan for large |x|: use a "
               "stable form such as 2 * sigmoid(2x) - 1 with a stable sigmoid, or "
               "(1 - exp(-2|x|)) / (1 + exp(-2|x|)) with the sign of x")
TANH_GRAD_STABLE = ("tanh written with exp(x) and exp(-x) is inf/inf = nan for large |x|: "
                    "compute t = tanh(x) with a stable form (np.tanh, or 2 * sigmoid(2x) - 1), "
                    "then 1 - t**2")
SIGMOID_GRAD_STABLE = ("exp(-x) / (1 + exp(-x))**2 is inf/inf = nan for large negative x: "
                       "compute s = sigmoid(x) with a stable form, then s * (1 - s)")
IGNORED_ALPHA = "use the `alpha` argument instead of a fixed slope (the test passes another alpha)"
GELU_EXACT = "this exercise asks for the exact form 0.5 * x * (1 + erf(x / sqrt(2)))"
SOFTMAX_MAX = ("exp(1000) overflows to inf and inf/inf is nan: subtract the max along `axis` "
               "first (np.max(z, axis=axis, keepdims=True)); softmax(z) = softmax(z - c) for "
               "any constant c")
ROW_MAX = ("subtract each row's own max (np.max(z, axis=axis, keepdims=True)), not the max of "
           "the whole array: in a row far below the global max every exp underflows to 0")
WRONG_AXIS = ("did you normalise over the wrong axis? reduce with axis=axis and keepdims=True "
              "(each slice along `axis` is one distribution)")
IGNORED_AXIS = "use the `axis` argument instead of a fixed axis (the test passes another one)"
NOT_NORMALISED = "divide the exponentials by their sum along `axis`, so that each slice sums to 1"
LOG_OF_SOFTMAX = ("log(softmax(z)) is log(0) = -inf when a logit is far below the max: compute "
                  "it directly as (z - m) - log(sum(exp(z - m))) with m the max along `axis`")
LSE_NO_MAX = ("exp(1000) overflows, so log(sum(exp(z))) is inf: use the log-sum-exp trick, "
              "log(sum(exp(z))) = m + log(sum(exp(z - m))) with m the max along `axis`")
NORMALISER_HINTS = {".shape": "keep the input's shape: reduce with keepdims=True so the result "
                              "broadcasts back, and do not reshape the input"}


def _elementwise(name: str, reference: Callable, hint: str, wrong: list, *,
                 unstable: str = "", signature: str = "") -> Exercise:
    return Exercise(name, signature=signature or f"{name}(x)", reference=reference, hint=hint,
                    hints={".shape": SHAPE_HINT}, unstable_hint=unstable, wrong=wrong)


SIGMOID = _elementwise(
    "sigmoid", _sigmoid, "sigmoid(x) = 1 / (1 + exp(-x)), element-wise; sigmoid(0) = 0.5",
    unstable=SIGMOID_STABLE, wrong=[
        (lambda x: 1 / (1 + np.exp(x)),
         "sign error: yours is sigmoid(-x) = 1 - sigmoid(x); sigmoid(x) = 1 / (1 + exp(-x))"),
        (lambda x: np.exp(x) / (1 + np.exp(x)), SIGMOID_STABLE),
        (np.tanh, "that is tanh; sigmoid(x) = 1 / (1 + exp(-x)) lies in (0, 1)"),
    ])

SIGMOID_GRAD = _elementwise(
    "sigmoid_grad", _derivative(lambda t: t.sigmoid()),
    "sigmoid'(x) = s * (1 - s) with s = sigmoid(x); its value at 0 is 0.25",
    unstable=SIGMOID_GRAD_STABLE, wrong=[
        (lambda x: _sigmoid(x) * (1 + _sigmoid(x)),
         "sign error: sigmoid'(x) = s * (1 - s), not s * (1 + s)"),
        (lambda x: x * (1 - x), "apply s * (1 - s) to s = sigmoid(x), not to x itself"),
        (_sigmoid, "that is sigmoid itself; its derivative is s * (1 - s) with s = sigmoid(x)"),
        (lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, SIGMOID_GRAD_STABLE),
    ])

TANH = _elementwise(
    "tanh", _value(lambda t: t.tanh()),
    "tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)) = 2 * sigmoid(2x) - 1; tanh(ln 3) = 0.8",
    unstable=TANH_STABLE, wrong=[
        (_exp_tanh, TANH_STABLE),
        (_sigmoid, "that is sigmoid; tanh ranges over (-1, 1): tanh(x) = 2 sigmoid(2x) - 1"),
        (lambda x: 2 * _sigmoid(x) - 1,
         "tanh(x) = 2 * sigmoid(2x) - 1: the argument of sigmoid is 2x, not x"),
        (lambda x: (np.exp(x) - np.exp(-x)) / 2,
         "that is sinh; tanh divides by (exp(x) + exp(-x)), not by 2"),
    ])

TANH_GRAD = _elementwise(
    "tanh_grad", _derivative(lambda t: t.tanh()),
    "tanh'(x) = 1 - tanh(x)**2; its value at 0 is 1", unstable=TANH_GRAD_STABLE, wrong=[
        (lambda x: 1 - x**2, "apply 1 - t**2 to t = tanh(x), not to x itself"),
        (lambda x: 1 + np.tanh(x) ** 2, "sign error: tanh'(x) = 1 - tanh(x)**2"),
        (lambda x: 1 - np.tanh(x), "square it: tanh'(x) = 1 - tanh(x)**2"),
        (np.tanh, "that is tanh itself; its derivative is 1 - tanh(x)**2"),
        (lambda x: 1 - _exp_tanh(x) ** 2, TANH_GRAD_STABLE),
    ])

RELU = _elementwise(
    "relu", _value(lambda t: t.relu()), "relu(x) = max(x, 0) element-wise: np.maximum(x, 0)",
    wrong=[
        (lambda x: np.minimum(x, 0),
         "np.minimum keeps the negative part: relu is np.maximum(x, 0)"),
        (lambda x: x, "negative inputs should become 0: relu(x) = max(x, 0)"),
        (np.abs, "negative inputs should become 0, not -x: relu(x) = max(x, 0)"),
        (lambda x: (x > 0).astype(float),
         "that is the derivative (a 0/1 step); relu(x) itself is max(x, 0)"),
    ])

RELU_GRAD = _elementwise(
    "relu_grad", _derivative(lambda t: t.relu()), "relu'(x) is 1.0 where x > 0 and 0.0 elsewhere",
    wrong=[
        (lambda x: np.maximum(x, 0),
         "that is relu itself; its derivative is 1.0 where x > 0 and 0.0 elsewhere"),
        (np.ones_like,
         "the derivative is 0 for negative inputs (relu is flat there), 1 only where x > 0"),
        (lambda x: (x >= 0).astype(float),
         "at x = 0 use the convention relu'(0) = 0, as PyTorch does: x > 0, not x >= 0"),
        (np.sign, "negative inputs have derivative 0, not -1: relu is flat for x < 0"),
        (lambda x: (x < 0).astype(float),
         "the comparison is flipped: the derivative is 1 where x > 0"),
    ])

LEAKY_RELU = _elementwise(
    "leaky_relu",
    _value(lambda t, alpha=0.01: torchref.functional().leaky_relu(t, negative_slope=alpha)),
    "leaky_relu(x) = x where x > 0, alpha * x elsewhere (alpha defaults to 0.01)",
    signature="leaky_relu(x, alpha=0.01)", wrong=[
        (lambda x, alpha=0.01: np.maximum(x, 0),
         "negative inputs should be multiplied by alpha, not set to 0 (that is relu)"),
        (lambda x, alpha=0.01: np.where(x > 0, alpha * x, x),
         "alpha scales the negative side; positive inputs pass through unchanged"),
        (lambda x, alpha=0.01: alpha * x, "alpha scales only the negative inputs"),
        (lambda x, alpha=0.01: np.where(x > 0, x, 0.01 * x), IGNORED_ALPHA),
        (lambda x, alpha=0.01: np.where(x > 0, x, -alpha * x),
         "sign error: the negative side is alpha * x (negative), not -alpha * x"),
    ])

GELU = _elementwise(
    "gelu", _value(lambda t: torchref.functional().gelu(t)),
    "gelu(x) = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))), with erf from scipy.special or "
    "math.erf applied element-wise", wrong=[
        (lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
         f"that is the tanh approximation (approximate='tanh' in PyTorch); {GELU_EXACT}"),
        (lambda x: x * _sigmoid(1.702 * x),
         f"that is the sigmoid approximation x * sigmoid(1.702 x); {GELU_EXACT}"),
        (lambda x: 0.5 * x * (1 + _erf(x)),
         "the argument of erf is x / sqrt(2): Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))"),
        (lambda x: x * (1 + _erf(x / np.sqrt(2))),
         "missing the factor 0.5: Phi(x) = 0.5 * (1 + erf(x / sqrt(2)))"),
        (lambda x: 0.5 * (1 + _erf(x / np.sqrt(2))),
         "that is Phi(x), the Gaussian CDF; gelu multiplies it by x"),
    ])


def _ladder(run: Run, small: list[float], label: str, expected: list[float] | None) -> None:
    """The cases of an element-wise function, in the house order."""
    t = run.t
    run.case(f"small case x = {label}", np.array([small]),
             expected=None if expected is None else [expected])
    x = t.rng.normal(scale=3.0, size=(4, 5))
    run.case("matches PyTorch on random inputs", x)
    run.case("large inputs (-1000 to 1000)", BIG)
    for name, shape in EDGE_SHAPES:
        run.case(f"{name}: matches PyTorch", t.rng.normal(scale=3.0, size=shape))
    run.unchanged("leaves its input unchanged", x)


THIRDS = [-LN3, 0.0, LN3]
RAMP = [-2.0, -0.5, 0.0, 0.5, 2.0]


@check("sigmoid")
def check_sigmoid(t: Checker, sigmoid: Callable) -> None:
    _ladder(Run(t, SIGMOID, sigmoid), THIRDS, "[-ln 3, 0, ln 3] gives [0.25, 0.5, 0.75]",
            [0.25, 0.5, 0.75])


@check("sigmoid_grad")
def check_sigmoid_grad(t: Checker, sigmoid_grad: Callable) -> None:
    _ladder(Run(t, SIGMOID_GRAD, sigmoid_grad), THIRDS,
            "[-ln 3, 0, ln 3] gives [0.1875, 0.25, 0.1875]", [0.1875, 0.25, 0.1875])


@check("tanh")
def check_tanh(t: Checker, tanh: Callable) -> None:
    _ladder(Run(t, TANH, tanh), THIRDS, "[-ln 3, 0, ln 3] gives [-0.8, 0, 0.8]", [-0.8, 0.0, 0.8])


@check("tanh_grad")
def check_tanh_grad(t: Checker, tanh_grad: Callable) -> None:
    _ladder(Run(t, TANH_GRAD, tanh_grad), THIRDS, "[-ln 3, 0, ln 3] gives [0.36, 1, 0.36]",
            [0.36, 1.0, 0.36])


@check("relu")
def check_relu(t: Checker, relu: Callable) -> None:
    _ladder(Run(t, RELU, relu), RAMP, "[-2, -0.5, 0, 0.5, 2] gives [0, 0, 0, 0.5, 2]",
            [0.0, 0.0, 0.0, 0.5, 2.0])


@check("relu_grad")
def check_relu_grad(t: Checker, relu_grad: Callable) -> None:
    _ladder(Run(t, RELU_GRAD, relu_grad), RAMP, "[-2, -0.5, 0, 0.5, 2] gives [0, 0, 0, 1, 1]",
            [0.0, 0.0, 0.0, 1.0, 1.0])


@check("leaky_relu")
def check_leaky_relu(t: Checker, leaky_relu: Callable) -> None:
    run = Run(t, LEAKY_RELU, leaky_relu)
    _ladder(run, RAMP, "[-2, -0.5, 0, 0.5, 2] gives [-0.02, -0.005, 0, 0.5, 2]",
            [-0.02, -0.005, 0.0, 0.5, 2.0])
    for alpha in (0.2, 0.0):
        run.case(f"alpha={alpha}: matches PyTorch", t.rng.normal(scale=3.0, size=(4, 5)),
                 alpha=alpha, hint=IGNORED_ALPHA)


@check("gelu")
def check_gelu(t: Checker, gelu: Callable) -> None:
    _ladder(Run(t, GELU, gelu), [-2.0, -1.0, 0.0, 1.0, 2.0], "[-2, -1, 0, 1, 2]", None)


# -- softmax and log-softmax -----------------------------------------------------------------
SOFTMAX = Exercise(
    "softmax", signature="softmax(z, axis=-1)", reference=_softmax,
    hint="softmax(z) = exp(z - m) / sum(exp(z - m)) along `axis`, with m the max along `axis`",
    unstable_hint=SOFTMAX_MAX, hints=NORMALISER_HINTS, wrong=[
        (lambda z, axis=-1: np.exp(z) / np.sum(np.exp(z), axis=axis, keepdims=True), SOFTMAX_MAX),
        (lambda z, axis=-1: (lambda e: e / np.sum(e, axis=axis, keepdims=True))(
            np.exp(z - np.max(z))), ROW_MAX),
        (lambda z, axis=-1: np.exp(z), NOT_NORMALISED),
        (lambda z, axis=-1: np.exp(z - np.max(z, axis=axis, keepdims=True)), NOT_NORMALISED),
        (lambda z, axis=-1: np.exp(z - np.max(z)) / np.sum(np.exp(z - np.max(z))),
         "np.sum without `axis` adds up the whole array, so only the whole array sums to 1: "
         "sum along `axis` with keepdims=True"),
        (lambda z, axis=-1: z / np.sum(z, axis=axis, keepdims=True),
         "exponentiate first: softmax divides exp(z) by the sum of exp(z), not z by sum(z)"),
    ])

LOG_SOFTMAX = Exercise(
    "log_softmax", signature="log_softmax(z, axis=-1)", reference=_log_softmax,
    hint="log_softmax(z) = (z - m) - log(sum(exp(z - m))) along `axis`, with m the max along "
         "`axis`", unstable_hint=LSE_NO_MAX, hints=NORMALISER_HINTS, wrong=[
        (lambda z, axis=-1: np.log(_softmax(z, axis=axis)), LOG_OF_SOFTMAX),
        (lambda z, axis=-1: z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True)), LSE_NO_MAX),
        (lambda z, axis=-1: np.log(np.exp(z) / np.sum(np.exp(z), axis=axis, keepdims=True)),
         LSE_NO_MAX),
        (lambda z, axis=-1: z - np.log(np.sum(
            np.exp(z - np.max(z, axis=axis, keepdims=True)), axis=axis, keepdims=True)),
         "log(sum(exp(z))) = m + log(sum(exp(z - m))): you subtracted the max inside the "
         "log-sum-exp but dropped the m (use z - m - log(sum(exp(z - m))))"),
        (lambda z, axis=-1: (lambda s: s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True)))(
            z - np.max(z)), ROW_MAX),
        (lambda z, axis=-1: _softmax(z, axis=axis),
         "that is softmax; return its log, the log-probabilities (all <= 0)"),
        (lambda z, axis=-1: z - np.max(z, axis=axis, keepdims=True),
         "subtracting the max is only the first step: also subtract log(sum(exp(z - m)))"),
    ])

LOGITS = [[0.0, math.log(2.0), math.log(5.0)], [1.0, 1.0, 1.0]]
LOGIT_EDGES = (
    ("large logits (about 1000)", [[1000.0, 1001.0, 1002.0], [999.0, 1000.0, 990.0]]),
    ("rows at very different levels", [[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]]),
    ("large gaps within a row", [[0.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]]),
)
AXIS_CASES = (("batch of one", (1, 5), -1), ("1-D input", (6,), -1), ("axis=0", (4, 5), 0),
              ("3-D input, axis=-1", (2, 3, 4), -1), ("3-D input, axis=1", (2, 3, 4), 1))


def _axis_mistakes(spec: Exercise, ndim: int, axis: int) -> list:
    """Normalising along another axis than `axis`: a fixed last axis (`axis` ignored), a fixed
    axis 1 meant as "the last", or any other axis."""
    def along(a: int) -> Callable:
        return lambda z, axis=-1: spec.reference(z, axis=a)

    out = [(along(a), WRONG_AXIS) for a in range(ndim) if a != axis % ndim]
    if axis % ndim != ndim - 1:
        out.insert(0, (along(-1), IGNORED_AXIS))
    elif ndim > 2:
        out.insert(0, (along(1), "axis=-1 means the last axis: " + IGNORED_AXIS))
    return out


def _normaliser(run: Run, expected: list[list[float]]) -> None:
    """The cases of softmax and log_softmax, in the house order."""
    t, spec = run.t, run.spec
    flat = _axis_mistakes(spec, 2, -1)
    run.case("small case z = [[0, ln 2, ln 5], [1, 1, 1]]", np.array(LOGITS), expected=expected,
             wrong=flat)
    z = t.rng.normal(scale=2.0, size=(4, 5))
    run.case("matches PyTorch on random inputs", z, wrong=flat)
    for label, logits in LOGIT_EDGES:
        run.case(label, np.array(logits), wrong=flat)
    for label, shape, axis in AXIS_CASES:
        kwargs = {} if axis == -1 else {"axis": axis}
        run.case(f"{label}: matches PyTorch", t.rng.normal(scale=2.0, size=shape),
                 wrong=_axis_mistakes(spec, len(shape), axis), **kwargs)
    run.unchanged("leaves its input unchanged", z)


@check("softmax")
def check_softmax(t: Checker, softmax: Callable) -> None:
    """``softmax(z, axis=-1)``: exp(z) / sum(exp(z)) along ``axis``, stable for |z| ~ 1000."""
    _normaliser(Run(t, SOFTMAX, softmax), [[0.125, 0.25, 0.625], [1 / 3, 1 / 3, 1 / 3]])


@check("log_softmax")
def check_log_softmax(t: Checker, log_softmax: Callable) -> None:
    """``log_softmax(z, axis=-1)``: z - logsumexp(z) along ``axis``, stable for |z| ~ 1000."""
    ln8 = math.log(8.0)
    _normaliser(Run(t, LOG_SOFTMAX, log_softmax),
                [[-ln8, math.log(2.0) - ln8, math.log(5.0) - ln8], [-LN3] * 3])

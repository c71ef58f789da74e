"""Every activation check passes correct code (two ways) and fails known-wrong code with its hint."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.special
import torch

from coursekit.checks import activations as A
from coursekit.checks.core import CheckFailed, NotAttempted


# -- reference solutions (what the instructor notebook implements) ---------------------------
def sigmoid(x):
    e = np.exp(-np.abs(x))  # exp of a non-positive number never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(x):
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x):
    return 2 * sigmoid(2 * x) - 1


def tanh_grad(x):
    return 1 - tanh(x) ** 2


def relu(x):
    return np.maximum(x, 0.0)


def relu_grad(x):
    return (x > 0).astype(float)


def leaky_relu(x, alpha=0.01):
    return np.where(x > 0, x, alpha * x)


def gelu(x):
    return 0.5 * x * (1 + scipy.special.erf(x / np.sqrt(2)))


def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    s = z - np.max(z, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


# -- alternative correct implementations ----------------------------------------------------
def _torch_fn(f):
    def run(x, **kwargs):
        return f(torch.from_numpy(np.asarray(x, dtype=float)), **kwargs).numpy()

    return run


def _torch_grad(f):
    def run(x):
        xt = torch.tensor(x, requires_grad=True)
        f(xt).sum().backward()
        return xt.grad.numpy()

    return run


def _loop(f):
    """Element by element with Python floats: slow, but correct."""
    def run(x, **kwargs):
        flat = [f(float(v), **kwargs) for v in np.ravel(x)]
        return np.array(flat, dtype=float).reshape(np.shape(x))

    return run


def _py_sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def _naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))  # exp(1000) overflows (a warning), but 1/inf is exactly 0


ALTERNATIVES = {
    "sigmoid": [scipy.special.expit, _torch_fn(torch.sigmoid), _loop(_py_sigmoid),
                _naive_sigmoid, lambda x: 0.5 * (1 + np.tanh(x / 2))],
    "sigmoid_grad": [lambda x: scipy.special.expit(x) * scipy.special.expit(-x),
                     _torch_grad(torch.sigmoid), _loop(lambda v: _py_sigmoid(v) * _py_sigmoid(-v))],
    "tanh": [np.tanh, _torch_fn(torch.tanh), _loop(math.tanh)],
    "tanh_grad": [lambda x: 1 / np.cosh(x) ** 2, _torch_grad(torch.tanh),
                  _loop(lambda v: 1 - math.tanh(v) ** 2)],
    "relu": [lambda x: np.where(x > 0, x, 0.0), lambda x: x * (x > 0),
             lambda x: np.clip(x, 0, None), _torch_fn(torch.relu), _loop(lambda v: max(v, 0.0))],
    "relu_grad": [lambda x: np.where(x > 0, 1.0, 0.0), lambda x: np.heaviside(x, 0.0),
                  _torch_grad(torch.relu)],
    "leaky_relu": [lambda x, alpha=0.01: np.maximum(x, alpha * x),
                   lambda x, alpha=0.01: _torch_fn(torch.nn.functional.leaky_relu)(
                       x, negative_slope=alpha),
                   _loop(lambda v, alpha=0.01: v if v > 0 else alpha * v)],
    "gelu": [lambda x: x * scipy.special.ndtr(x), _torch_fn(torch.nn.functional.gelu),
             _loop(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))],
    "softmax": [lambda z, axis=-1: scipy.special.softmax(z, axis=axis),
                lambda z, axis=-1: _torch_fn(torch.softmax)(z, dim=axis),
                lambda z, axis=-1: np.apply_along_axis(softmax, axis, z)],
    "log_softmax": [lambda z, axis=-1: scipy.special.log_softmax(z, axis=axis),
                    lambda z, axis=-1: z - scipy.special.logsumexp(z, axis=axis, keepdims=True),
                    lambda z, axis=-1: _torch_fn(torch.log_softmax)(z, dim=axis)],
}
REFERENCES = {f.__name__: f for f in (sigmoid, sigmoid_grad, tanh, tanh_grad, relu, relu_grad,
                                      leaky_relu, gelu, softmax, log_softmax)}


def _check(name):
    return getattr(A, f"check_{name}")


# -- known-wrong implementations and a distinctive part of the hint each must get ------------
def _inplace_sigmoid(x):
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


def _inplace_relu(x):
    x[x < 0] = 0
    return x


def _inplace_leaky(x, alpha=0.01):
    x[x < 0] *= alpha
    return x


def _inplace_softmax(z, axis=-1):
    z -= np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def _hard_axis_softmax(z, axis=-1):
    return softmax(z, axis=-1)


def _global_max_softmax(z, axis=-1):
    e = np.exp(z - np.max(z))  # the max of the whole array, not of each row
    return e / np.sum(e, axis=axis, keepdims=True)


def _global_max_log_softmax(z, axis=-1):
    s = z - np.max(z)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _no_keepdims_softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis))
    return e / np.sum(e, axis=axis)


WRONG = {
    "sigmoid": [
        ("sign", lambda x: 1 / (1 + np.exp(x)), "sign error"),
        ("exp_over_1_plus_exp", lambda x: np.exp(x) / (1 + np.exp(x)), "use a stable form"),
        ("one_minus", lambda x: np.exp(-x) / (1 + np.exp(-x)), "sign error"),
        ("tanh", np.tanh, "that is tanh"),
        ("in_place", _inplace_sigmoid, "in-place update"),
    ],
    "sigmoid_grad": [
        ("one_plus", lambda x: sigmoid(x) * (1 + sigmoid(x)), "not s * (1 + s)"),
        ("applied_to_x", lambda x: x * (1 - x), "not to x itself"),
        ("sigmoid_itself", sigmoid, "that is sigmoid itself"),
        ("exp_form_overflows", lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
         "inf/inf = nan for large negative x"),
    ],
    "tanh": [
        ("exp_form_overflows",
         lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)), "use a stable form"),
        ("sigmoid", sigmoid, "that is sigmoid"),
        ("missing_2x", lambda x: 2 * sigmoid(x) - 1, "the argument of sigmoid is 2x"),
        ("sinh", lambda x: (np.exp(x) - np.exp(-x)) / 2, "that is sinh"),
    ],
    "tanh_grad": [
        ("applied_to_x", lambda x: 1 - x**2, "not to x itself"),
        ("sign", lambda x: 1 + np.tanh(x) ** 2, "sign error"),
        ("no_square", lambda x: 1 - np.tanh(x), "square it"),
        ("exp_form_overflows",
         lambda x: 1 - ((np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))) ** 2,
         "stable form"),
    ],
    "relu": [
        ("np_max_reduces", lambda x: np.max(x, 0), "instead of an element-wise op"),
        ("minimum", lambda x: np.minimum(x, 0), "np.minimum keeps the negative part"),
        ("identity", lambda x: x.copy(), "negative inputs should become 0"),
        ("step", lambda x: (x > 0).astype(float), "that is the derivative"),
        ("in_place", _inplace_relu, "in-place update"),
    ],
    "relu_grad": [
        ("relu_itself", relu, "that is relu itself"),
        ("ones", np.ones_like, "0 for negative inputs"),
        ("ge_zero", lambda x: (x >= 0).astype(float), "relu'(0) = 0"),
        ("bool", lambda x: x > 0, "not booleans"),
        ("sign", np.sign, "not -1"),
    ],
    "leaky_relu": [
        ("relu", lambda x, alpha=0.01: np.maximum(x, 0), "not set to 0"),
        ("alpha_on_positive", lambda x, alpha=0.01: np.where(x > 0, alpha * x, x),
         "positive inputs pass through"),
        ("ignores_alpha", lambda x, alpha=0.01: np.where(x > 0, x, 0.01 * x),
         "use the `alpha` argument"),
        ("alpha_everywhere", lambda x, alpha=0.01: alpha * x, "only the negative inputs"),
        ("in_place", _inplace_leaky, "in-place update"),
    ],
    "gelu": [
        ("tanh_approximation",
         lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
         "tanh approximation"),
        ("sigmoid_approximation", lambda x: x * sigmoid(1.702 * x), "sigmoid approximation"),
        ("erf_of_x", lambda x: 0.5 * x * (1 + scipy.special.erf(x)), "x / sqrt(2)"),
        ("no_half", lambda x: x * (1 + scipy.special.erf(x / np.sqrt(2))), "factor 0.5"),
        ("cdf_only", scipy.special.ndtr, "Gaussian CDF"),
    ],
    "softmax": [
        ("no_max", lambda z, axis=-1: np.exp(z) / np.sum(np.exp(z), axis=axis, keepdims=True),
         "subtract the max"),
        ("wrong_axis", lambda z, axis=-1: softmax(z, axis=0), "wrong axis"),
        ("ignores_axis", _hard_axis_softmax, "use the `axis` argument"),
        ("exp_only", lambda z, axis=-1: np.exp(z), "divide the exponentials"),
        ("global_max", _global_max_softmax, "each row's own max"),
        ("sum_of_whole_array", lambda z, axis=-1: np.exp(z) / np.sum(np.exp(z)),
         "without `axis`"),
        ("in_place", _inplace_softmax, "in-place update"),
    ],
    "log_softmax": [
        ("log_of_softmax", lambda z, axis=-1: np.log(softmax(z, axis=axis)), "log(0) = -inf"),
        ("no_max", lambda z, axis=-1: z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True)),
         "log-sum-exp trick"),
        ("dropped_m", lambda z, axis=-1: z - np.log(np.sum(
            np.exp(z - np.max(z, axis=axis, keepdims=True)), axis=axis, keepdims=True)),
         "dropped the m"),
        ("global_max", _global_max_log_softmax, "each row's own max"),
        ("softmax", softmax, "that is softmax"),
        ("wrong_axis", lambda z, axis=-1: log_softmax(z, axis=0), "wrong axis"),
    ],
}

NAMES = list(REFERENCES)


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes(name, capsys):
    _check(name)(REFERENCES[name])
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"✅ {name}: ") and out.endswith("checks passed")
    n, total = out.split(": ")[1].split()[0].split("/")
    assert n == total and int(n) >= 10


@pytest.mark.parametrize(("name", "i"), [(n, i) for n in NAMES for i in range(len(ALTERNATIVES[n]))])
def test_alternative_passes(name, i, capsys):
    _check(name)(ALTERNATIVES[name][i])
    assert capsys.readouterr().out.startswith(f"✅ {name}:")


@pytest.mark.parametrize(("name", "impl", "hint"), [
    pytest.param(n, impl, hint, id=f"{n}-{label}") for n in NAMES for label, impl, hint in WRONG[n]
])
def test_wrong_fails_with_hint(name, impl, hint):
    with pytest.raises(CheckFailed) as info:
        _check(name)(impl)
    assert not isinstance(info.value, NotAttempted)
    message = str(info.value)
    assert message.startswith(f"❌ {name}: failed")
    hint_line = next(line for line in message.splitlines() if line.strip().startswith("hint:"))
    assert hint in hint_line, message


def _stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("name", NAMES)
def test_stub_is_not_attempted(name):
    with pytest.raises(NotAttempted, match="not attempted"):
        _check(name)(_stub)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("returns", "expected"), [
    (lambda x, *a, **k: torch.from_numpy(np.asarray(x, dtype=float)), "torch tensor"),
    (lambda x, *a, **k: np.asarray(x, dtype=float).tolist(), "got list"),
    (lambda x, *a, **k: None, "forget a `return`"),
], ids=["tensor", "list", "none"])
def test_wrong_structure_fails(name, returns, expected):
    with pytest.raises(CheckFailed, match="returns a NumPy array") as info:
        _check(name)(returns)
    assert expected in str(info.value)


def _float32(f):
    def run(x, **kwargs):
        return f(np.asarray(x, dtype=np.float32), **kwargs)  # float32 in, float32 out

    return run


@pytest.mark.parametrize("name", NAMES)
def test_float32_answer_passes(name, capsys):
    # e.g. computed in torch's default dtype: judged at float32's precision, not failed on rounding
    impl = _float32(ALTERNATIVES[name][0])
    for _ in range(3):  # several random draws: rounding must never tip it over
        _check(name)(impl)
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize(("impl", "expected"), [
    (lambda x: (x > 0).astype(np.int64), "not booleans or integers"),
    (lambda x: (x > 0).astype(np.float16), "not booleans or integers"),
])
def test_float_dtype_is_required(impl, expected):
    with pytest.raises(CheckFailed, match="returns floats") as info:
        A.check_relu_grad(impl)
    assert expected in str(info.value)


def test_a_near_miss_is_not_blamed_on_a_mistake_that_is_right_on_those_inputs():
    # log(softmax(z)) equals log_softmax on ordinary logits: it must not be named as the cause
    # of an answer that is off for another reason.
    with pytest.raises(CheckFailed) as info:
        A.check_log_softmax(lambda z, axis=-1: log_softmax(z, axis=axis) * (1 + 1e-4))
    message = str(info.value)
    assert "failed 'small case" in message
    assert "hint: log_softmax(z) = (z - m)" in message


def test_message_contents():
    with pytest.raises(CheckFailed) as info:
        A.check_softmax(lambda z, axis=-1: softmax(z, axis=0))
    message = str(info.value)
    assert "softmax: failed 'small case z = [[0, ln 2, ln 5], [1, 1, 1]]'" in message
    assert "inputs: (2, 3)" in message  # the input shape
    assert "expected" in message and "got" in message
    assert "tolerance: rtol=1e-06, atol=1e-08" in message
    assert "hint: did you normalise over the wrong axis?" in message
    assert "random seed" in message
    assert len(message.splitlines()) <= 8 and len(message) < 1000  # a summary, not a dump
    assert "Traceback" not in message


def test_numpy_report_is_named_in_the_hint():
    with pytest.raises(CheckFailed) as info:
        A.check_softmax(WRONG["softmax"][0][1])
    message = str(info.value)
    assert "failed 'large logits" in message
    assert "got nan or inf" in message
    assert "NumPy reported: invalid value, overflow" in message


def test_no_keepdims_is_a_readable_error():
    with pytest.raises(CheckFailed) as info:
        A.check_softmax(_no_keepdims_softmax)
    message = str(info.value)
    assert "failed 'runs without error'" in message and "could not be broadcast" in message


def test_overflow_warnings_alone_do_not_fail(capsys):
    # 1 / (1 + exp(-x)) overflows at x = -1000, yet the value (0) is right: it passes, quietly,
    # even when the notebook asked NumPy to raise on floating-point errors.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            A.check_sigmoid(_naive_sigmoid)
            A.check_tanh_grad(lambda x: 1 / np.cosh(x) ** 2)
    assert capsys.readouterr().out.count("✅") == 2


def test_input_left_unchanged_is_its_own_subcheck():
    with pytest.raises(CheckFailed) as info:
        A.check_relu(_inplace_relu)
    message = str(info.value)
    assert "failed 'leaves its input unchanged'" in message
    assert "changed" in message and "of the 20 values" in message


def test_importing_the_checks_does_not_import_torch():
    code = "import sys, coursekit.checks.activations; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

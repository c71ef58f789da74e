"""The activation checks: correct code passes (NumPy, torch, loops, float32), known mistakes get their hint."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.special
import torch
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    assert_fails_with,
    failure,
    in_float32,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import activations as A


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
def _torch_fn(f, dtype=torch.float64):
    def run(x, **kwargs):
        return f(torch.as_tensor(np.asarray(x), dtype=dtype), **kwargs).numpy()

    run.__name__ = f"torch_{getattr(f, '__name__', 'fn')}_{str(dtype)[6:]}"
    return run


def _torch_grad(f, dtype=torch.float64):
    def run(x):
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        f(xt).sum().backward()
        return xt.grad.numpy()

    run.__name__ = f"torch_grad_{getattr(f, '__name__', 'fn')}_{str(dtype)[6:]}"
    return run


def _loop(f):
    """Element by element with Python floats: slow, but correct."""
    def run(x, **kwargs):
        flat = [f(float(v), **kwargs) for v in np.ravel(x)]
        return np.array(flat, dtype=float).reshape(np.shape(x))

    run.__name__ = f"loop_{getattr(f, '__name__', 'fn')}"
    return run


def _py_sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def _naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))  # exp(1000) overflows (a warning), but 1/inf is exactly 0


F32 = torch.float32  # torch's default dtype: what a student's torch code computes in

MODULE = A
CORRECT = {
    A.check_sigmoid: [sigmoid, scipy.special.expit, _torch_fn(torch.sigmoid),
                      _loop(_py_sigmoid), _naive_sigmoid, lambda x: 0.5 * (1 + np.tanh(x / 2)),
                      in_float32(sigmoid), _torch_fn(torch.sigmoid, F32)],
    A.check_sigmoid_grad: [sigmoid_grad, lambda x: scipy.special.expit(x) * scipy.special.expit(-x),
                           _torch_grad(torch.sigmoid),
                           _loop(lambda v: _py_sigmoid(v) * _py_sigmoid(-v)),
                           in_float32(sigmoid_grad), _torch_grad(torch.sigmoid, F32)],
    A.check_tanh: [tanh, np.tanh, _torch_fn(torch.tanh), _loop(math.tanh), in_float32(tanh),
                   _torch_fn(torch.tanh, F32)],
    A.check_tanh_grad: [tanh_grad, lambda x: 1 / np.cosh(x) ** 2, _torch_grad(torch.tanh),
                        _loop(lambda v: 1 - math.tanh(v) ** 2), in_float32(tanh_grad),
                        _torch_grad(torch.tanh, F32)],
    A.check_relu: [relu, lambda x: np.where(x > 0, x, 0.0), lambda x: x * (x > 0),
                   lambda x: np.clip(x, 0, None), _torch_fn(torch.relu),
                   _loop(lambda v: max(v, 0.0)), in_float32(relu)],
    A.check_relu_grad: [relu_grad, lambda x: np.where(x > 0, 1.0, 0.0),
                        lambda x: np.heaviside(x, 0.0), _torch_grad(torch.relu),
                        in_float32(relu_grad), _torch_grad(torch.relu, F32)],
    A.check_leaky_relu: [leaky_relu, lambda x, alpha=0.01: np.maximum(x, alpha * x),
                         lambda x, alpha=0.01: _torch_fn(torch.nn.functional.leaky_relu)(
                             x, negative_slope=alpha),
                         _loop(lambda v, alpha=0.01: v if v > 0 else alpha * v),
                         in_float32(leaky_relu)],
    A.check_gelu: [gelu, lambda x: x * scipy.special.ndtr(x),
                   _torch_fn(torch.nn.functional.gelu),
                   _loop(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))), in_float32(gelu),
                   _torch_fn(torch.nn.functional.gelu, F32)],
    A.check_softmax: [softmax, lambda z, axis=-1: scipy.special.softmax(z, axis=axis),
                      lambda z, axis=-1: _torch_fn(torch.softmax)(z, dim=axis),
                      lambda z, axis=-1: np.apply_along_axis(softmax, axis, z),
                      in_float32(softmax), lambda z, axis=-1: _torch_fn(torch.softmax, F32)(z, dim=axis)],
    A.check_log_softmax: [log_softmax, lambda z, axis=-1: scipy.special.log_softmax(z, axis=axis),
                          lambda z, axis=-1: z - scipy.special.logsumexp(z, axis=axis, keepdims=True),
                          lambda z, axis=-1: _torch_fn(torch.log_softmax)(z, dim=axis),
                          in_float32(log_softmax),
                          lambda z, axis=-1: _torch_fn(torch.log_softmax, F32)(z, dim=axis)],
}


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


WRONG = [
    (A.check_sigmoid, lambda x: 1 / (1 + np.exp(x)), "sign error"),
    (A.check_sigmoid, lambda x: np.exp(x) / (1 + np.exp(x)), "use a stable form"),
    (A.check_sigmoid, lambda x: np.exp(-x) / (1 + np.exp(-x)), "sign error"),
    (A.check_sigmoid, np.tanh, "that is tanh"),
    (A.check_sigmoid, _inplace_sigmoid, "in-place update"),
    (A.check_sigmoid_grad, lambda x: sigmoid(x) * (1 + sigmoid(x)), "not s * (1 + s)"),
    (A.check_sigmoid_grad, lambda x: x * (1 - x), "not to x itself"),
    (A.check_sigmoid_grad, sigmoid, "that is sigmoid itself"),
    (A.check_sigmoid_grad, lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
     "inf/inf = nan for large negative x"),
    (A.check_tanh, lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)), "use a stable form"),
    (A.check_tanh, sigmoid, "that is sigmoid"),
    (A.check_tanh, lambda x: 2 * sigmoid(x) - 1, "the argument of sigmoid is 2x"),
    (A.check_tanh, lambda x: (np.exp(x) - np.exp(-x)) / 2, "that is sinh"),
    (A.check_tanh_grad, lambda x: 1 - x**2, "not to x itself"),
    (A.check_tanh_grad, lambda x: 1 + np.tanh(x) ** 2, "sign error"),
    (A.check_tanh_grad, lambda x: 1 - np.tanh(x), "square it"),
    (A.check_tanh_grad,
     lambda x: 1 - ((np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))) ** 2, "stable form"),
    (A.check_relu, lambda x: np.max(x, 0), "instead of an element-wise op"),
    (A.check_relu, lambda x: np.minimum(x, 0), "np.minimum keeps the negative part"),
    (A.check_relu, lambda x: x.copy(), "negative inputs should become 0"),
    (A.check_relu, lambda x: (x > 0).astype(float), "that is the derivative"),
    (A.check_relu, _inplace_relu, "in-place update"),
    (A.check_relu_grad, relu, "that is relu itself"),
    (A.check_relu_grad, np.ones_like, "0 for negative inputs"),
    (A.check_relu_grad, lambda x: (x >= 0).astype(float), "relu'(0) = 0"),
    (A.check_relu_grad, lambda x: x > 0, "not booleans"),
    (A.check_relu_grad, np.sign, "not -1"),
    (A.check_leaky_relu, lambda x, alpha=0.01: np.maximum(x, 0), "not set to 0"),
    (A.check_leaky_relu, lambda x, alpha=0.01: np.where(x > 0, alpha * x, x),
     "positive inputs pass through"),
    (A.check_leaky_relu, lambda x, alpha=0.01: np.where(x > 0, x, 0.01 * x),
     "use the `alpha` argument"),
    (A.check_leaky_relu, lambda x, alpha=0.01: alpha * x, "only the negative inputs"),
    (A.check_leaky_relu, _inplace_leaky, "in-place update"),
    (A.check_gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
     "tanh approximation"),
    (A.check_gelu, lambda x: x * sigmoid(1.702 * x), "sigmoid approximation"),
    (A.check_gelu, lambda x: 0.5 * x * (1 + scipy.special.erf(x)), "x / sqrt(2)"),
    (A.check_gelu, lambda x: x * (1 + scipy.special.erf(x / np.sqrt(2))), "factor 0.5"),
    (A.check_gelu, scipy.special.ndtr, "Gaussian CDF"),
    (A.check_softmax, lambda z, axis=-1: np.exp(z) / np.sum(np.exp(z), axis=axis, keepdims=True),
     "subtract the max"),
    (A.check_softmax, lambda z, axis=-1: softmax(z, axis=0), "wrong axis"),
    (A.check_softmax, _hard_axis_softmax, "use the `axis` argument"),
    (A.check_softmax, lambda z, axis=-1: np.exp(z), "divide the exponentials"),
    (A.check_softmax, _global_max_softmax, "each row's own max"),
    (A.check_softmax, lambda z, axis=-1: np.exp(z) / np.sum(np.exp(z)), "without `axis`"),
    (A.check_softmax, _inplace_softmax, "in-place update"),
    (A.check_log_softmax, lambda z, axis=-1: np.log(softmax(z, axis=axis)), "log(0) = -inf"),
    (A.check_log_softmax,
     lambda z, axis=-1: z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True)), "log-sum-exp trick"),
    (A.check_log_softmax, lambda z, axis=-1: z - np.log(np.sum(
        np.exp(z - np.max(z, axis=axis, keepdims=True)), axis=axis, keepdims=True)), "dropped the m"),
    (A.check_log_softmax, _global_max_log_softmax, "each row's own max"),
    (A.check_log_softmax, softmax, "that is softmax"),
    (A.check_log_softmax, lambda z, axis=-1: log_softmax(z, axis=0), "wrong axis"),
]

ALL_CHECKS = list(CORRECT)


# -- specific tests ------------------------------------------------------------------------------
@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.exercise)
@pytest.mark.parametrize(("returns", "expected"), [
    (lambda x, *a, **k: torch.from_numpy(np.asarray(x, dtype=float)), "torch tensor"),
    (lambda x, *a, **k: np.asarray(x, dtype=float).tolist(), "got list"),
    (lambda x, *a, **k: None, "forget a `return`"),
], ids=["tensor", "list", "none"])
def test_wrong_structure_fails(check, returns, expected):
    message = failure(check, returns)
    assert "returns an array of shape" in message.splitlines()[0]
    assert expected in message


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.exercise)
def test_float32_answer_passes_on_every_draw(check, capsys):
    # e.g. computed in torch's default dtype: judged at float32's precision, not failed on rounding
    impl = in_float32(CORRECT[check][0])
    for _ in range(5):  # several random draws: rounding must never tip it over
        check(impl)
    assert capsys.readouterr().out.count("✅") == 5


@pytest.mark.parametrize("impl", [lambda x: (x > 0).astype(np.int64), lambda x: x > 0],
                         ids=["int64", "bool"])
def test_float_dtype_is_required(impl):
    assert_fails_with(A.check_relu_grad, impl, "not booleans or integers")


def test_a_float16_answer_is_judged_at_float16_precision(capsys):
    # one dtype policy (coursekit.checks.compare): a lower precision is judged at its own
    A.check_relu_grad(lambda x: (x > 0).astype(np.float16))
    assert "✅ relu_grad" in capsys.readouterr().out


def test_a_near_miss_is_not_blamed_on_a_mistake_that_is_right_on_those_inputs():
    # log(softmax(z)) equals log_softmax on ordinary logits: it must not be named as the cause
    # of an answer that is off for another reason.
    message = failure(A.check_log_softmax, lambda z, axis=-1: log_softmax(z, axis=axis) * (1 + 1e-4))
    assert "failed 'small case" in message
    assert "hint: log_softmax(z) = (z - m)" in message


def test_message_contents():
    message = failure(A.check_softmax, lambda z, axis=-1: softmax(z, axis=0))
    assert "softmax: failed 'small case z = [[0, ln 2, ln 5], [1, 1, 1]]'" in message
    assert "inputs: (2, 3)" in message  # the input shape
    assert "expected" in message and "got" in message
    assert "tolerance: rtol=1e-06, atol=1e-09" in message
    assert "hint: did you normalise over the wrong axis?" in message
    assert "random seed" in message
    assert len(message.splitlines()) <= 8 and len(message) < 1000  # a summary, not a dump
    assert "Traceback" not in message


def test_numpy_report_is_named_in_the_hint():
    message = failure(A.check_softmax,
                      lambda z, axis=-1: np.exp(z) / np.sum(np.exp(z), axis=axis, keepdims=True))
    assert "failed 'large logits" in message
    assert "got nan or inf" in message
    assert "NumPy reported: invalid value, overflow" in message


def test_no_keepdims_is_a_readable_error():
    message = failure(A.check_softmax, _no_keepdims_softmax)
    assert "failed 'runs without error'" in message and "could not be broadcast" in message
    assert "hint: shapes do not fit" in message


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
    message = failure(A.check_relu, _inplace_relu)
    assert "failed 'leaves its input unchanged'" in message
    assert "changed" in message and "of the 20 input values" in message


def _two_d_only(f):
    def run(z, axis=-1):  # right on 2-D inputs; a 1-D input comes back as one row
        return f(np.atleast_2d(z), axis=axis)

    return run


def test_a_wrong_shape_on_a_1d_input_gets_the_shape_hint():
    message = assert_fails_with(A.check_softmax, _two_d_only(softmax), "keep the input's shape")
    assert "failed '1-D input: matches PyTorch: returns an array of shape (6,)'" in message
    assert "expected shape (6,), got (1, 6)" in message
    message = assert_fails_with(A.check_relu, lambda x: relu(x).reshape(len(x), -1),
                                "the shape must not change")
    assert "failed '1-D input" in message


def test_softmax_without_axis_gets_a_hint_naming_axis():
    message = assert_fails_with(A.check_softmax, lambda z: softmax(z),
                                "your function has no parameter `axis`")
    assert "softmax(z, axis=-1)" in message
    assert_fails_with(A.check_leaky_relu, lambda x: leaky_relu(x), "no parameter `alpha`")


def test_importing_the_checks_does_not_import_torch():
    code = "import sys, coursekit.checks.activations; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):  # even NumPy is told it is the answer
        return np.zeros(3)


@pytest.mark.parametrize("check", [A.check_relu, A.check_softmax], ids=lambda c: c.exercise)
def test_rigged_equality_object_does_not_pass(check):
    message = failure(check, lambda x, *a, **k: _AlwaysEqual())
    assert "expected a NumPy array, got _AlwaysEqual" in message

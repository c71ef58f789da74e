"""coursekit.gradcheck against analytic gradients."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.gradcheck import TINY, numerical_gradient, relative_error


def test_quadratic_any_shape_and_input_untouched():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v**2), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_array_equal(x, before)
    assert relative_error(grad, 2 * x.astype(np.float64)) < 1e-7


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 5))
    y = np.array([0, 3, 1, 4])

    def loss(z):  # mean cross-entropy
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -logp[np.arange(4), y].mean()

    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    analytic = (p - np.eye(5)[y]) / 4
    assert relative_error(numerical_gradient(loss, logits), analytic) < 1e-7


def test_matrix_product_gradient_and_bug_is_caught():
    rng = np.random.default_rng(2)
    W, X = rng.normal(size=(3, 2)), rng.normal(size=(5, 3))
    grad = numerical_gradient(lambda w: np.sum(np.tanh(X @ w)), W)
    analytic = X.T @ (1 - np.tanh(X @ W) ** 2)
    assert relative_error(grad, analytic) < 1e-7
    wrong = X.T @ (1 - np.tanh(X @ W))  # forgot to square the derivative
    assert relative_error(grad, wrong) > 1e-2


def test_scalar_input_and_array_output_of_size_one():
    g = numerical_gradient(lambda v: np.array([np.sin(v)]), np.float64(0.3))
    assert g.shape == () and abs(float(g) - np.cos(0.3)) < 1e-9


def test_numerical_gradient_bad_input():
    with pytest.raises(ValueError, match="must return a scalar"):
        numerical_gradient(lambda v: v * 2, np.ones(3))
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(np.sum, np.ones(3), eps=0)


def test_relative_error_formula():
    a, b = np.array([1.0, 0.0, -2.0]), np.array([1.0, 0.0, -1.0])
    assert relative_error(a, b) == pytest.approx(1 / 3)  # |-2 - -1| / (2 + 1)
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0  # no 0/0
    assert relative_error(np.array([1.0]), np.array([-1.0])) == 1.0  # the maximum
    assert relative_error(np.array([TINY / 4]), np.array([0.0])) == 0.25
    assert relative_error(3, 3.0) == 0.0
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0
    with pytest.raises(ValueError, match=r"shapes differ: \(2,\) vs \(3,\)"):
        relative_error(np.ones(2), np.ones(3))

"""Numerical gradients by central differences, to check hand-written backward passes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Denominator floor in relative_error: two all-zero gradients agree (error 0, not 0/0).
TINY = 1e-12


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    """Gradient of a scalar function by central differences.

    ``grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every entry i of x,
    with error O(eps**2) for smooth f. Costs 2 * x.size calls of f.

    Args:
        f: maps an array shaped like ``x`` to a scalar (a float, 0-d array or
            one-element array).
        x: the point, any shape; converted to float64 (float32 would lose the
            small difference in rounding). ``x`` itself is left unchanged.
        eps: step size.

    Returns:
        float64 array shaped like ``x``.

    Raises:
        ValueError: ``eps`` <= 0, or ``f`` does not return a single number.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    x = np.array(x, dtype=np.float64)  # a copy: the caller's array is never touched
    grad = np.zeros_like(x)

    def value(point: np.ndarray) -> float:
        out = np.asarray(f(point), dtype=np.float64)
        if out.size != 1:
            raise ValueError(f"f must return a scalar, got an array of shape {out.shape}; "
                             "sum it (or take the loss) first")
        return float(out.reshape(()))

    flat = x.reshape(-1)  # a view: editing it moves the point f sees
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = value(x)
        flat[i] = old - eps
        minus = value(x)
        flat[i] = old
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest elementwise relative difference between two arrays.

    ``max_i |a_i - b_i| / max(|a_i| + |b_i|, TINY)`` with ``TINY = 1e-12``, computed in
    float64. 0 means identical; for gradients in float64, below about 1e-7 is a match and
    above 1e-3 almost surely a bug. (Dividing by the sum keeps it symmetric and bounded
    by 1; the floor makes two zero entries agree instead of dividing 0 by 0.)

    Args:
        a, b: arrays of the same shape (or scalars).

    Returns:
        A float in [0, 1] (0 for empty arrays).

    Raises:
        ValueError: the shapes differ.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), TINY)
    return float(err.max())

"""The neurons checks: correct code passes (vectorised, loops, float32), known mistakes get their hint."""

from __future__ import annotations

import numpy as np
import pytest
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import CheckFailed
from coursekit.checks import neurons as checks


# --- reference and alternative correct implementations -------------------------------------
def weighted_sum(x, w, b):
    return float(np.dot(x, w) + b)


def weighted_sum_loop(x, w, b):
    total = b
    for xi, wi in zip(x, w):
        total += xi * wi
    return total


def neuron(x, w, b, activation):
    return float(activation(np.dot(x, w) + b))


def neuron_via_weighted_sum(x, w, b, activation):
    return activation(weighted_sum_loop(x, w, b))


def dense_layer(X, W, b, activation):
    return activation(X @ W + b)


def dense_layer_loop(X, W, b, activation):
    out = np.zeros((X.shape[0], W.shape[1]))
    for n in range(X.shape[0]):
        for m in range(W.shape[1]):
            out[n, m] = activation(np.dot(X[n], W[:, m]) + b[m])
    return out


def mlp_forward(X, params, activation):
    h = X
    for W, b in params[:-1]:
        h = activation(h @ W + b)
    W, b = params[-1]
    return h @ W + b


def mlp_forward_reuse(X, params, activation):
    h = X
    for i, (W, b) in enumerate(params):
        h = dense_layer_loop(h, W, b, activation if i < len(params) - 1 else (lambda z: z))
    return h


def count_parameters(sizes):
    return sum(a * c + c for a, c in zip(sizes[:-1], sizes[1:]))


def count_parameters_loop(sizes):
    total = 0
    for i in range(1, len(sizes)):
        total += sizes[i - 1] * sizes[i] + sizes[i]
    return total


def weighted_sum_float32(x, w, b):
    """Computed in float32 and returned as the float32 number it is (float() would pass it off
    as a float64 answer, and be judged at float64 precision)."""
    return np.dot(x.astype(np.float32), w.astype(np.float32)) + np.float32(b)


def neuron_float32(x, w, b, activation):
    return activation(weighted_sum_float32(x, w, b))


def dense_layer_torch_float32(X, W, b, activation):
    """A torch float32 layer (torch's default dtype), as nn.Linear computes it."""
    import torch

    layer = torch.nn.Linear(W.shape[0], W.shape[1])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(W.T, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
        z = layer(torch.as_tensor(X, dtype=torch.float32)).numpy()
    return activation(z)


def mlp_forward_torch_float32(X, params, activation):
    h = X
    for i, (W, b) in enumerate(params):
        act = activation if i < len(params) - 1 else (lambda z: z)
        h = dense_layer_torch_float32(h, W, b, act)
    return h


MODULE = checks
CORRECT = {
    checks.check_weighted_sum: [weighted_sum, weighted_sum_loop, weighted_sum_float32],
    checks.check_neuron: [neuron, neuron_via_weighted_sum, neuron_float32],
    checks.check_dense_layer: [dense_layer, dense_layer_loop, dense_layer_torch_float32],
    checks.check_mlp_forward: [mlp_forward, mlp_forward_reuse, mlp_forward_torch_float32],
    checks.check_count_parameters: [count_parameters, count_parameters_loop],
}


# --- known-wrong implementations, each with the hint it must get ---------------------------
def _mlp_last_activated(X, p, a):
    return a(mlp_forward(X, p, a))


def _mlp_linear_hidden(X, p, a):
    return mlp_forward(X, p, lambda z: z)


WRONG = [
    (checks.check_weighted_sum, lambda x, w, b: float(np.dot(x, w)), "forgot to add the bias"),
    (checks.check_weighted_sum, lambda x, w, b: float(np.dot(x, w) - b), "added, not subtracted"),
    (checks.check_weighted_sum, lambda x, w, b: x * w + b, "sum the products"),
    (checks.check_weighted_sum, lambda x, w, b: float(np.sum(x) + b), "multiplied by its weight"),
    (checks.check_neuron, lambda x, w, b, a: float(np.dot(x, w) + b), "apply the activation"),
    (checks.check_neuron, lambda x, w, b, a: float(a(np.dot(x, w))), "forgot the bias"),
    (checks.check_neuron, lambda x, w, b, a: float(1 / (1 + np.exp(-(np.dot(x, w) + b)))),
     "use the `activation` argument"),
    (checks.check_neuron, lambda x, w, b, a: float(np.dot(a(x), w) + b), "not to the inputs"),
    (checks.check_dense_layer, lambda X, W, b, a: a(X @ W), "forgot to add the bias"),
    (checks.check_dense_layer, lambda X, W, b, a: a(X @ W) + b, "before the activation"),
    (checks.check_dense_layer, lambda X, W, b, a: X @ W + b, "apply the activation"),
    (checks.check_dense_layer, lambda X, W, b, a: a(W.T @ X.T + b[:, None]), "order of the product"),
    (checks.check_dense_layer, lambda X, W, b, a: a(X[0] @ W + b), "keep the batch axis"),
    (checks.check_mlp_forward, _mlp_last_activated, "last layer is linear"),
    (checks.check_mlp_forward, lambda X, p, a: X @ p[0][0] + p[0][1], "next layer's input"),
    (checks.check_mlp_forward,
     lambda X, p, a: mlp_forward(X, [(W, 0 * b) for W, b in p], a), "add each layer's bias"),
    (checks.check_mlp_forward, _mlp_linear_hidden, "activation on every hidden layer"),
    (checks.check_count_parameters, lambda s: sum(a * c for a, c in zip(s[:-1], s[1:])),
     "add the biases"),
    (checks.check_count_parameters, lambda s: sum(s), "count weights and biases, not neurons"),
    (checks.check_count_parameters, lambda s: count_parameters(s) + s[0],
     "input layer has no biases"),
    (checks.check_count_parameters, lambda s: float(count_parameters(s)), "return an int"),
]


def test_error_in_student_code_is_reported_with_its_line():
    def broken(X, W, b, activation):
        return activation(X @ W.T + b)  # shapes do not match

    with pytest.raises(CheckFailed) as info:
        checks.check_dense_layer(broken)
    message = str(info.value)
    assert "runs without error" in message and "ValueError" in message
    assert "X @ W.T + b" in message  # the student's own line, not coursekit's


def test_failure_message_has_every_part():
    with pytest.raises(CheckFailed) as info:
        checks.check_dense_layer(lambda X, W, b, a: a(X @ W))
    message = str(info.value)
    for part in ("dense_layer", "failed '", "inputs: (1, 2), (2, 3), (3,)", "expected", "got",
                 "tolerance: rtol=", "hint: you forgot to add the bias", "random seed"):
        assert part in message, part
    assert len(message) < 800  # summarised, never the whole reference answer


def test_rigged_equality_object_does_not_pass():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(CheckFailed, match="expected a number"):
        checks.check_weighted_sum(lambda x, w, b: AlwaysEqual())
    with pytest.raises(CheckFailed, match="expected a NumPy array"):
        checks.check_dense_layer(lambda X, W, b, a: AlwaysEqual())


def test_a_number_like_object_is_told_to_return_a_plain_number():
    class Sneaky:  # converts to the right value, but compares equal to anything
        def __init__(self, value):
            self.value = value

        def __float__(self):
            return self.value

        def __eq__(self, other):
            return True

    with pytest.raises(CheckFailed, match=r"hint: return a plain number .*not an object of type Sneaky"):
        checks.check_weighted_sum(lambda x, w, b: Sneaky(float(np.dot(x, w) + b)))


def test_student_mutating_inputs_cannot_corrupt_the_reference():
    def mutating_but_correct(X, W, b, activation):
        out = activation(X @ W + b)
        X[:] = 0.0
        b[:] = 99.0
        return out

    checks.check_dense_layer(mutating_but_correct)  # must pass: the check passes copies

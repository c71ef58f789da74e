"""Checks for notebook 01 Neurons (NumPy in, NumPy out).

References are float64 NumPy, computed at check time on fresh random inputs. A float32
implementation (a Keras ``Dense`` layer, say) passes at float32 precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from coursekit.checks.core import Checker, check
from coursekit.checks.exercise import Exercise, Run

__all__ = [
    "check_weighted_sum",
    "check_neuron",
    "check_dense_layer",
    "check_mlp_forward",
    "check_count_parameters",
]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _identity(z):
    return z


def _mlp(X, params, activation, *, last=_identity, hidden=None):
    """The MLP forward pass; ``last``/``hidden`` swap the activations to build known mistakes."""
    h = np.asarray(X, dtype=np.float64)
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        h = last(h) if i == len(params) - 1 else (hidden or activation)(h)
    return h


NO_BIAS = "you forgot to add the bias b"
NOT_INPUTS = "apply the activation to the weighted sum, not to the inputs"

WEIGHTED_SUM = Exercise(
    "weighted_sum", signature="weighted_sum(x, w, b)",
    reference=lambda x, w, b: math.fsum(x * w) + b,
    hint="z = sum_i w_i * x_i + b",
    hints={"": "sum the products into one number: np.dot(x, w) + b"},
    wrong=[(lambda x, w, b: math.fsum(x * w), NO_BIAS),
           (lambda x, w, b: math.fsum(x * w) - b, "the bias is added, not subtracted"),
           (lambda x, w, b: float(np.sum(x)) + b, "every input must be multiplied by its weight")],
)

NEURON = Exercise(
    "neuron", signature="neuron(x, w, b, activation)",
    reference=lambda x, w, b, activation: float(activation(math.fsum(x * w) + b)),
    hint="use the `activation` argument, not a fixed function: activation(np.dot(x, w) + b)",
    hints={"": "return activation(weighted sum), a single number"},
    wrong=[(lambda x, w, b, a: math.fsum(x * w) + b,
            "apply the activation function you are given to the weighted sum"),
           (lambda x, w, b, a: math.fsum(a(x) * w) + b, NOT_INPUTS),
           (lambda x, w, b, a: float(np.sum(a(x * w))) + b, NOT_INPUTS),
           (lambda x, w, b, a: float(a(math.fsum(x * w))), "you forgot the bias b")],
)

DENSE_LAYER = Exercise(
    "dense_layer", signature="dense_layer(X, W, b, activation)",
    reference=lambda X, W, b, activation: activation(X @ W + b),
    hint="each row of X is one example: out = activation(X @ W + b)",
    hints={".shape": "X (N, D) @ W (D, M) gives (N, M): check the order of the product"},
    wrong=[(lambda X, W, b, a: X @ W + b, "apply the activation you are given to X @ W + b"),
           (lambda X, W, b, a: a(X @ W), NO_BIAS),
           (lambda X, W, b, a: a(X @ W) + b, "add the bias before the activation, not after"),
           (lambda X, W, b, a: a(X @ W.T + b), "use W as given, (D, M): X @ W, not X @ W.T"),
           (lambda X, W, b, a: a(W.T @ X.T + b[:, None]),
            "the result is transposed: compute X @ W (order of the product)"),
           (lambda X, W, b, a: a(X[0] @ W + b),
            "keep the batch axis: the output is (N, M) even for N = 1")],
)

MLP_FORWARD = Exercise(
    "mlp_forward", signature="mlp_forward(X, params, activation)",
    reference=lambda X, params, activation: _mlp(X, params, activation),
    hint="activation on hidden layers, linear output layer, in order",
    hints={".shape": "loop over every (W, b) in params; the last W has K columns"},
    wrong=[(lambda X, p, a: _mlp(X, p, a, last=a),
            "the last layer is linear: do not apply the activation to it"),
           (lambda X, p, a: _mlp(X, p, a, hidden=_identity),
            "apply the activation on every hidden layer"),
           (lambda X, p, a: _mlp(X, [(W, 0 * b) for W, b in p], a), "add each layer's bias"),
           (lambda X, p, a: X @ p[0][0] + p[0][1],
            "use each layer's output as the next layer's input: loop over every (W, b) in params")],
)

COUNT_PARAMETERS = Exercise(
    "count_parameters", signature="count_parameters(sizes)",
    reference=lambda sizes: sum(a * c + c for a, c in zip(sizes[:-1], sizes[1:])),
    hint="sum over consecutive pairs (a, c) of a*c weights + c biases",
    wrong=[(lambda s: sum(a * c for a, c in zip(s[:-1], s[1:])),
            "each neuron also has a bias: add the biases"),
           (lambda s: sum(s), "count weights and biases, not neurons"),
           (lambda s: sum(a * c + c for a, c in zip(s[:-1], s[1:])) + s[0],
            "the input layer has no biases: only layers with weights do")],
)


@check("weighted_sum")
def check_weighted_sum(t: Checker, weighted_sum: Callable) -> None:
    run = Run(t, WEIGHTED_SUM, weighted_sum)
    run.case("x=[1,2,3], w=[0.5,-1,2], b=1 gives 0.5 - 2 + 6 + 1 = 5.5",
             np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0]), 1.0, expected=5.5,
             wrong=[(7.0, "every input must be multiplied by its weight")])
    for d in (1, 7, 64):
        run.case(f"matches w·x + b for D={d}", t.rng.normal(size=d), t.rng.normal(size=d),
                 float(t.rng.normal()))


@check("neuron")
def check_neuron(t: Checker, neuron: Callable) -> None:
    run = Run(t, NEURON, neuron)
    # z = 2 - 1 - 1 = 0, so sigmoid(z) = 0.5
    run.case("x=[2,-1], w=[1,1], b=-1, sigmoid: z = 0 so the output is 0.5",
             np.array([2.0, -1.0]), np.array([1.0, 1.0]), -1.0, _sigmoid, expected=0.5,
             wrong=[(0.0, "apply the activation to z: you returned the weighted sum itself")])
    for activation, name in ((_sigmoid, "sigmoid"), (np.tanh, "tanh"), (_identity, "identity")):
        d = int(t.rng.integers(2, 10))
        run.case(f"matches activation(w·x + b) with {name}", t.rng.normal(size=d),
                 t.rng.normal(size=d), float(t.rng.normal()), activation)


@check("dense_layer")
def check_dense_layer(t: Checker, dense_layer: Callable) -> None:
    run = Run(t, DENSE_LAYER, dense_layer)
    W = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]])
    run.case("tiny case with the identity activation: [[1, 2]] gives [[2, 3, 2]]",
             np.array([[1.0, 2.0]]), W, np.array([0.0, 1.0, -1.0]), _identity,
             expected=[[2.0, 3.0, 2.0]])
    for n, d, m in ((5, 4, 3), (1, 6, 2), (32, 8, 8)):
        X, W, b = t.rng.normal(size=(n, d)), t.rng.normal(size=(d, m)), t.rng.normal(size=m)
        for activation, name in ((_sigmoid, "sigmoid"), (np.tanh, "tanh")):
            run.case(f"matches activation(X @ W + b) with {name} (N={n}, D={d}, M={m})",
                     X, W, b, activation)


@check("mlp_forward")
def check_mlp_forward(t: Checker, mlp_forward: Callable) -> None:
    run = Run(t, MLP_FORWARD, mlp_forward)
    params = [(np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([0.0, 0.0])),
              (np.array([[1.0], [1.0]]), np.array([0.5]))]
    # hidden = relu([0, 2]) = [0, 2]; output = 0 + 2 + 0.5
    run.case("tiny 2-2-1 network with ReLU: hidden [0, 2], output 2.5", np.array([[1.0, -1.0]]),
             params, lambda z: np.maximum(z, 0.0), expected=[[2.5]])
    for sizes in ([3, 5, 2], [4, 8, 8, 3], [2, 1]):
        n = int(t.rng.integers(1, 9))
        params = [(t.rng.normal(size=(a, c)) / math.sqrt(a), t.rng.normal(size=c))
                  for a, c in zip(sizes[:-1], sizes[1:])]
        run.case(f"matches the reference for layer sizes {sizes} (N={n})",
                 t.rng.normal(size=(n, sizes[0])), params, np.tanh)


@check("count_parameters")
def check_count_parameters(t: Checker, count_parameters: Callable) -> None:
    run = Run(t, COUNT_PARAMETERS, count_parameters)
    run.case("[2, 3, 1] has 2*3 + 3 + 3*1 + 1 = 13 parameters", [2, 3, 1], expected=13)
    for _ in range(3):
        sizes = [int(s) for s in t.rng.integers(1, 50, size=int(t.rng.integers(2, 6)))]
        run.case(f"layer sizes {sizes}", sizes)
    run.case("a single layer of inputs has no parameters", [7], expected=0,
             hint="with only an input layer there are no weights")

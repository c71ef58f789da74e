"""Checks for notebook 01 Neurons (NumPy in, NumPy out).

References are computed here in float64 at check time, on fresh random inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from coursekit.checks.core import Checker, check

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


def _dense_reference(X, W, b, activation):
    return activation(X.astype(np.float64) @ W.astype(np.float64) + b)


def _mlp_reference(X, params, activation):
    h = X.astype(np.float64)
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = activation(h)
    return h


@check("weighted_sum")
def check_weighted_sum(t: Checker, weighted_sum: Callable) -> None:
    x, w, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0]), 1.0
    got = t.is_number("returns a number", t.call(weighted_sum, x, w, b),
                      hint="sum the products into one number: np.dot(x, w) + b")
    t.close("x=[1,2,3], w=[0.5,-1,2], b=1 gives 0.5 - 2 + 6 + 1 = 5.5", got, 5.5,
            diagnose=[(4.5, "you forgot to add the bias b"),
                      (3.5, "the bias is added, not subtracted"),
                      (7.0, "every input must be multiplied by its weight")],
            hint="multiply each input by its weight, add them up, then add b")
    for d in (1, 7, 64):
        x, w, b = t.rng.normal(size=d), t.rng.normal(size=d), float(t.rng.normal())
        got = t.is_number(f"returns a number for D={d}", t.call(weighted_sum, x, w, b))
        expected = math.fsum(x * w) + b
        t.close(f"matches w·x + b for D={d}", got, expected,
                diagnose=[(expected - b, "you forgot to add the bias b"),
                          (float(np.sum(x)) + b, "every input must be multiplied by its weight")],
                hint="z = sum_i w_i * x_i + b")


@check("neuron")
def check_neuron(t: Checker, neuron: Callable) -> None:
    x, w, b = np.array([2.0, -1.0]), np.array([1.0, 1.0]), -1.0  # z = 2 - 1 - 1 = 0
    got = t.is_number("returns a number", t.call(neuron, x, w, b, _sigmoid),
                      hint="return activation(weighted sum), a single number")
    t.close("x=[2,-1], w=[1,1], b=-1, sigmoid: z = 0 so the output is 0.5", got, 0.5,
            diagnose=[(0.0, "apply the activation to z: you returned the weighted sum itself"),
                      (float(_sigmoid(1.0)), "you forgot the bias b"),
                      (float(_sigmoid(2.0) + _sigmoid(-1.0) - 1.0),
                       "apply the activation to the weighted sum, not to the inputs")],
            hint="output = activation(np.dot(x, w) + b)")
    for activation, name in ((_sigmoid, "sigmoid"), (np.tanh, "tanh"), (_identity, "identity")):
        d = int(t.rng.integers(2, 10))
        x, w, b = t.rng.normal(size=d), t.rng.normal(size=d), float(t.rng.normal())
        z = math.fsum(x * w) + b
        got = t.is_number(f"returns a number with {name}", t.call(neuron, x, w, b, activation))
        t.close(f"matches activation(w·x + b) with {name}", got, activation(z),
                diagnose=[(z, "apply the activation function you are given to the weighted sum"),
                          (math.fsum(activation(x) * w) + b,
                           "apply the activation to the weighted sum, not to the inputs"),
                          (activation(z - b), "you forgot the bias b")],
                hint="use the `activation` argument, not a fixed function")


@check("dense_layer")
def check_dense_layer(t: Checker, dense_layer: Callable) -> None:
    X = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]])
    b = np.array([0.0, 1.0, -1.0])
    out = t.is_array("returns an array of shape (N, M)", t.call(dense_layer, X, W, b, _identity),
                     shape=(1, 3), hint="X (N, D) @ W (D, M) gives (N, M)",
                     shape_hints={(3, 1): "the result is transposed: compute X @ W (order of the product)",
                                  (3,): "keep the batch axis: the output is (N, M) even for N = 1"})
    t.close("tiny case with the identity activation", out, [[2.0, 3.0, 2.0]],
            diagnose=[([[2.0, 2.0, 3.0]], "you forgot to add the bias b")],
            hint="out = activation(X @ W + b)")
    for n, d, m in ((5, 4, 3), (1, 6, 2), (32, 8, 8)):
        X, W, b = t.rng.normal(size=(n, d)), t.rng.normal(size=(d, m)), t.rng.normal(size=m)
        for activation, name in ((_sigmoid, "sigmoid"), (np.tanh, "tanh")):
            out = t.is_array(f"shape ({n}, {m}) for N={n}, D={d}, M={m}",
                             t.call(dense_layer, X, W, b, activation), shape=(n, m),
                             hint="X (N, D) @ W (D, M) gives (N, M): check the order of the product")
            wrong = [(X @ W + b, "apply the activation you are given to X @ W + b"),
                     (activation(X @ W), "you forgot to add the bias b"),
                     (activation(X @ W) + b, "add the bias before the activation, not after")]
            if d == m:
                wrong.append((activation(X @ W.T + b), "use W as given, (D, M): X @ W, not X @ W.T"))
            t.close(f"matches activation(X @ W + b) with {name} (N={n})", out,
                    _dense_reference(X, W, b, activation), diagnose=wrong,
                    hint="each row of X is one example: out = activation(X @ W + b)")


@check("mlp_forward")
def check_mlp_forward(t: Checker, mlp_forward: Callable) -> None:
    def make_params(sizes: Sequence[int]):
        return [(t.rng.normal(size=(a, c)) / math.sqrt(a), t.rng.normal(size=c))
                for a, c in zip(sizes[:-1], sizes[1:])]

    X = np.array([[1.0, -1.0]])
    params = [(np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([0.0, 0.0])),
              (np.array([[1.0], [1.0]]), np.array([0.5]))]
    relu = lambda z: np.maximum(z, 0.0)  # noqa: E731 - a tiny, local activation
    out = t.is_array("returns an array of shape (N, K)", t.call(mlp_forward, X, params, relu),
                     shape=(1, 1), hint="the output has one row per example and one column per output",
                     shape_hints={(1, 2): "use each layer's output as the next layer's input: "
                                          "loop over every (W, b) in params"})
    # hidden = relu([0, 2]) = [0, 2]; output = 0 + 2 + 0.5
    t.close("tiny 2-2-1 network with ReLU: hidden [0, 2], output 2.5", out, [[2.5]],
            diagnose=[([[0.5]], "use each layer's output as the next layer's input"),
                      ([[2.0]], "add each layer's bias")],
            hint="h = activation(X @ W1 + b1); out = h @ W2 + b2 (no activation on the last layer)")
    for sizes in ([3, 5, 2], [4, 8, 8, 3], [2, 1]):
        n = int(t.rng.integers(1, 9))
        X, params = t.rng.normal(size=(n, sizes[0])), make_params(sizes)
        out = t.is_array(f"shape ({n}, {sizes[-1]}) for layer sizes {sizes}",
                         t.call(mlp_forward, X, params, np.tanh), shape=(n, sizes[-1]),
                         hint="loop over every (W, b) in params; the last W has K columns")
        wrong = [(np.tanh(_mlp_reference(X, params, np.tanh)), "the last layer is linear: do not apply the activation to it"),
                 (_mlp_reference(X, params, _identity),
                  "apply the activation on every hidden layer")]
        t.close(f"matches the reference for layer sizes {sizes}", out,
                _mlp_reference(X, params, np.tanh), diagnose=wrong,
                hint="activation on hidden layers, linear output layer, in order")


@check("count_parameters")
def check_count_parameters(t: Checker, count_parameters: Callable) -> None:
    got = t.call(count_parameters, [2, 3, 1])
    t.true("returns a whole number", isinstance(got, int | np.integer) and not isinstance(got, bool),
           detail=f"got {got!r} ({type(got).__name__})", hint="return an int, e.g. int(total)")
    wrong_hints = {9: "each neuron also has a bias: add the biases",
                   6: "count weights and biases, not neurons",
                   15: "the input layer has no biases: only layers with weights do"}
    t.true("[2, 3, 1] has 2*3 + 3 + 3*1 + 1 = 13 parameters", int(got) == 13,
           detail=f"expected 13, got {got}",
           hint=wrong_hints.get(int(got), "weights (inputs x outputs) plus biases (outputs), per layer"))
    for _ in range(3):
        sizes = [int(s) for s in t.rng.integers(1, 50, size=int(t.rng.integers(2, 6)))]
        expected = sum(a * c + c for a, c in zip(sizes[:-1], sizes[1:]))
        got = t.call(count_parameters, sizes)
        t.true(f"layer sizes {sizes}", isinstance(got, int | np.integer) and int(got) == expected,
               detail=f"expected {expected}, got {got!r}",
               hint="sum over consecutive pairs (a, c) of a*c weights + c biases")
    got = t.call(count_parameters, [7])
    t.true("a single layer of inputs has no parameters", got == 0 and isinstance(got, int | np.integer),
           detail=f"expected 0, got {got!r}", hint="with only an input layer there are no weights")

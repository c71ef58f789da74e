"""Checks for notebook 07 Convolutional networks.

References are PyTorch in float64, computed at check time on fresh random inputs:
``F.conv1d`` on zeros for the output-size formula (PyTorch decides the size), ``F.conv2d`` and
``F.max_pool2d`` for the forward passes, ``torch.autograd`` for ``conv2d_backward``. A float32
answer (a torch or Keras layer, say) is judged at float32 precision.

``build_cnn`` returns an ``nn.Module``, which stays in the student's process when grading: its
forward calls cross the channel as data, the rest is asked with probes (coursekit.checks.modules).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import Checker, check
from coursekit.checks.exercise import Exercise, Run
from coursekit.checks.mistakes import replaced
from coursekit.checks.modules import BACKWARD, is_module, probe_backward, trains_everywhere

__all__ = ["check_conv_output_size", "check_conv2d", "check_maxpool2d", "check_conv2d_backward",
           "check_build_cnn"]

MAX_PARAMETERS = 60_000
_F = torchref.functional  # torch.nn.functional, imported on the first check


def _size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """PyTorch's answer: the length of a 1-D convolution's output on `size` zeros."""
    t = torchref.torch()
    out = _F().conv1d(t.zeros(1, 1, size), t.zeros(1, 1, kernel), stride=stride, padding=padding,
                      dilation=dilation)
    return int(out.shape[-1])


def _conv(x, w, b, stride=1, padding=0):
    return torchref.no_grad(lambda x, w, b: _F().conv2d(x, w, b, stride=stride, padding=padding),
                            x, w, b)


def _pool(x, kernel, stride=None, **kw):
    return torchref.no_grad(lambda x: _F().max_pool2d(x, kernel, stride, **kw), x)


def _grads(dout, x, w, stride=1, padding=0):
    """(dx, dw, db) of sum(dout * conv2d(x, w, b)), by autograd."""
    _, grads = torchref.value_and_grads(
        lambda x, w, b: _F().conv2d(x, w, b, stride=stride, padding=padding),
        x, w, np.zeros(w.shape[0]), grad_output=dout)
    return tuple(grads)


def _pad(x, top_left, bottom_right):
    return np.pad(x, ((0, 0), (0, 0), (top_left, bottom_right), (top_left, bottom_right)))


# -- hints ---------------------------------------------------------------------------------------
FLOOR = ("a window must fit inside the padded input, so round down: "
         "floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1")
SIZE = ("the output has floor((H + 2P - KH) / S) + 1 rows and floor((W + 2P - KW) / S) + 1 "
        "columns (your conv_output_size): the +1 counts the first window, and a window that "
        "runs past the edge does not count")
FLIP = ("deep-learning 'convolution' is cross-correlation: multiply each window by the kernel as "
        "it is, without flipping it (out[i, j] = sum(window * w), not sum(window * w[::-1, ::-1]))")
PAD_SIDES = ("pad `padding` zeros on every side, top and bottom, left and right: "
             "np.pad(x, ((0, 0), (0, 0), (P, P), (P, P))), not on one side only")
STRIDE = ("output position (i, j) reads the window that starts at row i*S and column j*S: "
          "move the window by `stride` pixels")
NO_BIAS = "add the bias b[f] to every position of output channel f"
CHANNELS = ("each output sums the products over the whole window and over all C input "
            "channels: (window * w[f]).sum() over the axes (C, KH, KW)")
MEAN = "sum the products of window and kernel; do not average them"
POOL_STRIDE = ("the stride defaults to the kernel size (non-overlapping windows): "
               "`if stride is None: stride = kernel`")
POOL_MAX = "take the maximum of each window, not its mean (that is average pooling)"
POOL_ZERO = ("start each window's maximum from its own values (or -inf), not from 0: a window "
             "can be all negative")
POOL_FLOOR = ("windows that run past the edge are dropped: floor((H - K) / S) + 1 rows, "
              "like conv_output_size without padding")
POOL_CHANNELS = ("pool each channel of each example on its own, over height and width only: "
                 "the output keeps the N and C axes")
DB = "db sums dout over the batch and every position: dout.sum(axis=(0, 2, 3))"
DW = ("dw adds up the contributions of every example in the batch (and every position), "
      "summed, not averaged: dw[f] = sum over n, i, j of dout[n, f, i, j] * window(n, i, j)")
CROP = ("scatter into the gradient of the *padded* input, then crop P pixels from each side: "
        "dx = dx_pad[:, :, P:P + H, P:P + W]; dx has x's shape")
EMPTY_CROP = "x[P:-P] is empty when P = 0: crop with dx_pad[:, :, P:P + H, P:P + W]"
FLIP_BACK = ("no flip in the backward pass either: out[n, f, i, j] sends dout[n, f, i, j] * w[f] "
             "back onto the window it was computed from")
STRIDE_BACK = ("the window of out[n, f, i, j] starts at row i*S and column j*S: scatter dx and "
               "read x for dw there")


# -- the NumPy exercises (each known mistake gets every argument by position) ----------------
CONV_OUTPUT_SIZE = Exercise(
    "conv_output_size", signature="conv_output_size(size, kernel, stride=1, padding=0, dilation=1)",
    reference=_size, hint=FLOOR, mistakes_by_position=True,
    hints={"": "return a whole number (int): use floor division //, not /"},
    wrong=[(lambda n, k, s, p, d: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1, FLOOR),
           (lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1,
            "padding is added on both sides: + 2 * padding"),
           (lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
            "count the first window too: + 1 at the end"),
           (lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,
            "a dilated kernel spans dilation * (kernel - 1) + 1 pixels: use that as its size"),
           (lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1,
            "a dilated kernel spans dilation * (kernel - 1) + 1 pixels, not dilation * kernel"),
           (lambda n, k, s, p, d: n + 2 * p - d * (k - 1),
            "divide by the stride: the window jumps `stride` pixels at a time")],
)


def _ceil_shape(x, w, s, p):
    """Zeros in the shape a ceil (instead of floor) output size gives; None if it is the same."""
    h, v = x.shape[2] + 2 * p - w.shape[2], x.shape[3] + 2 * p - w.shape[3]
    if h % s == 0 and v % s == 0:
        return None
    return np.zeros((x.shape[0], w.shape[0], -(-h // s) + 1, -(-v // s) + 1))


def _windows_at_i(x, w, b, s, p):
    """The right number of outputs, but window (i, j) read at (i, j) instead of (i*S, j*S)."""
    return _conv(x, w, b, 1, p)[:, :, :_size(x.shape[2], w.shape[2], s, p),
                                :_size(x.shape[3], w.shape[3], s, p)]


CONV2D = Exercise(
    "conv2d", signature="conv2d(x, w, b, stride=1, padding=0)", reference=_conv,
    hint="out[n, f, i, j] = b[f] + sum over c, u, v of x_pad[n, c, i*S + u, j*S + v] * "
         "w[f, c, u, v]",
    hints={".shape": "the output is (N, F, H_out, W_out): " + SIZE}, mistakes_by_position=True,
    wrong=[(lambda x, w, b, s, p: _conv(x, np.flip(w, (2, 3)).copy(), b, s, p), FLIP),
           (lambda x, w, b, s, p: _conv(_pad(x, 0, 2 * p), w, b, s, 0), PAD_SIDES),
           (lambda x, w, b, s, p: _conv(_pad(x, 0, p), w, b, s, 0), PAD_SIDES),
           (lambda x, w, b, s, p: _conv(x, w, 0 * b, s, p), NO_BIAS),
           (lambda x, w, b, s, p: _conv(x[:, :1], w[:, :1], b, s, p), CHANNELS),
           (lambda x, w, b, s, p: _conv(x, w, 0 * b, s, p) / w[0].size + b[:, None, None], MEAN),
           (lambda x, w, b, s, p: _conv(x, w, b, s, p)[:, :, :-1, :-1], SIZE),
           (lambda x, w, b, s, p: _ceil_shape(x, w, s, p), SIZE),
           (lambda x, w, b, s, p: _conv(x, w, b, 1, p), STRIDE), (_windows_at_i, STRIDE)],
)

MAXPOOL2D = Exercise(
    "maxpool2d", signature="maxpool2d(x, kernel, stride=None)", reference=_pool,
    hint="out[n, c, i, j] = max over u, v < kernel of x[n, c, i*S + u, j*S + v]",
    hints={".shape": "the output is (N, C, H_out, W_out): " + POOL_FLOOR},
    mistakes_by_position=True,  # stride s: None (the kernel's size) or the one passed
    wrong=[(lambda x, k, s: _pool(x, k, 1 if s is None else s), POOL_STRIDE),
           (lambda x, k, s: torchref.no_grad(lambda t: _F().avg_pool2d(t, k, s), x), POOL_MAX),
           (lambda x, k, s: np.maximum(_pool(x, k, s), 0.0), POOL_ZERO),
           (lambda x, k, s: _pool(x, k, s, ceil_mode=True), POOL_FLOOR),
           (lambda x, k, s: _pool(x, k, s).max(axis=1, keepdims=True), POOL_CHANNELS),
           (lambda x, k, s: _pool(x, k, s).max(axis=1), POOL_CHANNELS),
           (lambda x, k, s: _pool(x, (k, 1), (s or k, 1)), POOL_CHANNELS)],
)


def _dx_padded(d, x, w, s, p):
    """The gradient of the padded input, before cropping."""
    return torchref.value_and_grads(lambda xp, w: _F().conv2d(xp, w, stride=s), _pad(x, p, p), w,
                                    grad_output=d)[1][0]


def _backward_windows_at_i(d, x, w, s, p):
    """(dx, dw, db) when window (i, j) is taken to start at (i, j) instead of (i*S, j*S)."""
    ho, wo = d.shape[2:]
    dx, dw = torchref.value_and_grads(lambda x, w: _F().conv2d(x, w, padding=p)[:, :, :ho, :wo],
                                      x, w, grad_output=d)[1]
    return dx, dw, d.sum(axis=(0, 2, 3))


_dx, _dw, _db = (partial(replaced, _grads, part) for part in range(3))  # a mistake in that part
CONV2D_BACKWARD = Exercise(
    "conv2d_backward", signature="conv2d_backward(dout, x, w, stride=1, padding=0)",
    reference=_grads, returns=("dx", "dw", "db"), mistakes_by_position=True,
    hint={"dx": "dx_pad[n, :, i*S:i*S+KH, j*S:j*S+KW] += sum over f of dout[n, f, i, j] * w[f]; "
                "then crop the padding off",
          "dw": "dw[f] += dout[n, f, i, j] * x_pad[n, :, i*S:i*S+KH, j*S:j*S+KW] for every n, i, j",
          "db": DB},
    hints={"dx.shape": "dx has the shape of x: " + CROP,
           "dw.shape": "dw has the shape of w, (F, C, KH, KW)",
           "db.shape": "db has the shape of b, (F,): " + DB},
    wrong=[(_db(lambda d, x, w, s, p: d.sum(axis=(2, 3))), DB),
           (_db(lambda d, x, w, s, p: d[0].sum(axis=(1, 2))), DB),
           (_db(lambda d, x, w, s, p: d.mean(axis=(0, 2, 3))), DB),
           (_dw(lambda d, x, w, s, p: _grads(d, x, w, s, p)[1] / len(x)), DW),
           (_dw(lambda d, x, w, s, p: _grads(d[:1], x[:1], w, s, p)[1]), DW),
           (_dx(_dx_padded), CROP),
           (_dx(lambda d, x, w, s, p: _dx_padded(d, x, w, s, p)[:, :, :x.shape[2], :x.shape[3]]),
            CROP),
           (_dx(lambda d, x, w, s, p: x[:, :, 0:0, 0:0] if p == 0 else None), EMPTY_CROP),
           (_dx(lambda d, x, w, s, p: _grads(d, x, np.flip(w, (2, 3)).copy(), s, p)[0]),
            FLIP_BACK),
           (_backward_windows_at_i, STRIDE_BACK)],
)


def _inputs(t: Checker, n: int, c: int, h: int, w: int, f: int, kh: int, kw: int) -> tuple:
    return (t.rng.normal(size=(n, c, h, w)),
            t.rng.normal(size=(f, c, kh, kw)) / math.sqrt(c * kh * kw), t.rng.normal(size=f))


# (label, N, C, H, W, F, KH, KW, stride, padding): random inputs, then the edge cases
CONV_CASES = (
    ("random inputs, stride 1, no padding", 2, 3, 6, 6, 4, 3, 3, 1, 0),
    ("padding=1 keeps the size (a 'same' convolution)", 2, 2, 5, 5, 3, 3, 3, 1, 1),
    ("stride=2 with padding=1", 2, 3, 7, 7, 2, 3, 3, 2, 1),
    ("non-square input and kernel, stride 3 that does not divide evenly",
     1, 2, 7, 9, 3, 2, 3, 3, 0),
    ("a batch of one, one output channel, padding 2", 1, 3, 4, 4, 1, 3, 3, 1, 2),
)


@check("conv_output_size")
def check_conv_output_size(t: Checker, conv_output_size: Callable) -> None:
    run = Run(t, CONV_OUTPUT_SIZE, conv_output_size)
    run.case("28 pixels, kernel 5, no padding: 28 - 5 + 1 = 24", 28, 5, expected=24)
    run.case("size 5, kernel 3, stride 2, padding 1 (the animation): floor(4 / 2) + 1 = 3",
             5, 3, stride=2, padding=1, expected=3)
    for _ in range(3):
        k, s, p = (int(v) for v in (t.rng.integers(1, 8), t.rng.integers(1, 5),
                                    t.rng.integers(0, 4)))
        n = int(t.rng.integers(max(k - 2 * p, 1), 65))
        run.case(f"size {n}, kernel {k}, stride {s}, padding {p}", n, k, stride=s, padding=p)
    run.case("size 8, kernel 3, stride 2: the last half-window is dropped (floor)", 8, 3, stride=2)
    run.case("size 10, kernel 3, dilation 2 (the kernel spans 5 pixels)", 10, 3, dilation=2)
    run.case("kernel as large as the input gives one position", 6, 6, expected=1)


@check("conv2d")
def check_conv2d(t: Checker, conv2d: Callable) -> None:
    run = Run(t, CONV2D, conv2d)
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    run.case("by hand: x = 1..9 in a 3x3 grid, w = [[1, 0], [0, -1]], b = 0.5: every output is "
             "x[i, j] - x[i+1, j+1] + 0.5 = -3.5", x, np.array([[[[1.0, 0.0], [0.0, -1.0]]]]),
             np.array([0.5]), expected=np.full((1, 1, 2, 2), -3.5))
    for label, n, c, h, w, f, kh, kw, s, p in CONV_CASES:
        run.case(f"{label} (matches F.conv2d)", *_inputs(t, n, c, h, w, f, kh, kw), stride=s,
                 padding=p)
    run.unchanged("leaves its inputs unchanged", *_inputs(t, 2, 2, 5, 5, 2, 3, 3), stride=1,
                  padding=1)


@check("maxpool2d")
def check_maxpool2d(t: Checker, maxpool2d: Callable) -> None:
    run = Run(t, MAXPOOL2D, maxpool2d)
    x = np.array([[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0],
                  [0.0, -1.0, 7.0, 8.0], [2.0, 6.0, 9.0, 3.0]]).reshape(1, 1, 4, 4)
    run.case("by hand: 4x4 with 2x2 windows gives [[4, 5], [6, 9]]", x, 2,
             expected=[[[[4.0, 5.0], [6.0, 9.0]]]])
    run.case("random inputs, kernel 2 (stride defaults to the kernel)",
             t.rng.normal(size=(2, 3, 6, 6)), 2)
    run.case("kernel 3, stride 2: overlapping windows", t.rng.normal(size=(2, 2, 7, 7)), 3,
             stride=2)
    run.case("odd size 7x7, kernel 2: the last row and column are dropped",
             t.rng.normal(size=(1, 2, 7, 7)), 2)
    run.case("non-square input 6x9, kernel 3", t.rng.normal(size=(2, 1, 6, 9)), 3)
    run.case("stride 1 given explicitly", t.rng.normal(size=(1, 3, 5, 5)), 2, stride=1)
    run.case("all-negative inputs", -1.0 - np.abs(t.rng.normal(size=(2, 2, 4, 4))), 2)
    run.unchanged("leaves its input unchanged", t.rng.normal(size=(2, 2, 4, 4)), 2)


@check("conv2d_backward")
def check_conv2d_backward(t: Checker, conv2d_backward: Callable) -> None:
    run = Run(t, CONV2D_BACKWARD, conv2d_backward)
    run.case("by hand: x = 1..9 in a 3x3 grid, w = [[1, 2], [3, 4]], dout = ones: db = 4, "
             "dw = the four window sums, dx = how many times each pixel meets each weight",
             np.ones((1, 1, 2, 2)), np.arange(1.0, 10.0).reshape(1, 1, 3, 3),
             np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
             expected=([[[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]],
                       [[[[12.0, 16.0], [24.0, 28.0]]]], [4.0]))
    for label, n, c, h, w, f, kh, kw, s, p in CONV_CASES:
        x, weights, _ = _inputs(t, n, c, h, w, f, kh, kw)
        dout = t.rng.normal(size=(n, f, _size(h, kh, s, p), _size(w, kw, s, p)))
        run.case(f"{label} (matches autograd)", dout, x, weights, stride=s, padding=p)
    x, weights, _ = _inputs(t, 2, 2, 5, 5, 2, 3, 3)
    run.unchanged("leaves its inputs unchanged", t.rng.normal(size=(2, 2, 5, 5)), x, weights,
                  stride=1, padding=1)


# -- build_cnn: an nn.Module, in the student's process when grading (coursekit.checks.modules) ---
def probe_cnn_training(model: Any, x: Any, y: Any) -> dict:
    """A training step's backward pass through the student's model (see
    :func:`coursekit.checks.modules.probe_backward`), and its convolution layers ("convs")."""
    facts = probe_backward(model, x, y, count=("Conv2d",))
    return {**facts, "convs": facts["counts"]["Conv2d"]}


NOT_MODULE = {
    "class": "return an instance, the model itself: CNN(num_classes), not the class CNN",
    "keras": "this exercise builds a PyTorch model (torch.nn.Module); the Keras twin comes later",
    "NoneType": "nothing was returned: end build_cnn with `return model`",
}
FLOAT32 = "keep the model in float32 (no .double()): the images are float32"
ERRORS = (
    ("mat1 and mat2 shapes cannot be multiplied",
     "the first nn.Linear after Flatten must take C * H * W features: print the shape before "
     "Flatten (each 2x2 max-pool halves H and W)"),
    ("channels, but got", "the digits have one channel: the first nn.Conv2d takes in_channels=1, "
                          "and each next one the previous layer's out_channels"),
    ("Module.__init__() call", "call super().__init__() first in your class's __init__"),
    ("same device", "return the model on the CPU, as nn.Module builds it: move it with "
                    ".to(device) after build_cnn(), where you train it"),
    ("should be the same", FLOAT32), ("must have the same dtype", FLOAT32),
)


def _logits(t: Checker, model: Any, x: Any, n: int, k: int, label: str) -> Any:
    torch = torchref.torch()
    out = t.call(model, x, context=f"model(x) with x of shape {tuple(x.shape)}",
                 error_hints=ERRORS)
    wrong = [(torch.zeros(n, 10), "use num_classes for the last layer's outputs, not a fixed 10"),
             (torch.zeros(k), "keep the batch axis: no .squeeze() (a batch of one is (1, K))"),
             (torch.zeros(n, k, 1, 1),
              "flatten before the last layers: nn.Flatten() gives (N, features)")]
    return t.conform(f"{label}: returns logits of shape ({n}, {k})", out, torch.zeros(n, k),
                     hints={"": "the model's forward must return a torch tensor of logits"},
                     wrong=[(a, h) for a, h in wrong if tuple(a.shape) != (n, k)])


@check("build_cnn")
def check_build_cnn(t: Checker, build_cnn: Callable) -> None:
    torch = torchref.torch()

    def images(n: int) -> Any:  # (n, 1, 8, 8) in [0, 1], float32 as the digits are
        return torch.as_tensor(t.rng.uniform(0, 1, size=(n, 1, 8, 8)), dtype=torch.float32)

    for args in ({}, {"num_classes": 3}):  # the default (10 classes), then another
        k = args.get("num_classes", 10)
        label = f"build_cnn({''.join(f'num_classes={v}' for v in args.values())})"
        model = t.call(build_cnn, signature="build_cnn(num_classes=10)", error_hints=ERRORS, **args)
        is_module(t, model, label, NOT_MODULE)
        t.call(model.eval, context="model.eval()")  # dropout off: the forward passes repeat
        x = images(8)
        logits = _logits(t, model, x, 8, k, label).detach()
        t.true(f"{label} returns raw scores (logits), not probabilities",
               not (bool(torch.all(logits >= 0))
                    and bool(torch.all((logits.double().sum(1) - 1).abs() < 1e-4))),
               detail="every row of the output is >= 0 and sums to 1",
               hint="end with the last nn.Linear: nn.CrossEntropyLoss applies log-softmax itself, "
                    "so a final Softmax squashes the gradients")
        _logits(t, model, x[:1], 1, k, f"{label} on a batch of one")
        if not args:
            x2 = images(8)
            mixed = t.call(model, 0.5 * x + 0.5 * x2, context="model(x)").detach()
            other = t.call(model, x2, context="model(x)").detach()
            t.true("is not one linear map (it has non-linearities)",
                   not torch.allclose(mixed, 0.5 * logits + 0.5 * other, rtol=1e-3, atol=1e-4),
                   detail="model(x/2 + x2/2) = model(x)/2 + model(x2)/2: the whole stack is linear",
                   hint="put a non-linearity (nn.ReLU()) after each convolution and hidden layer: "
                        "without one the layers collapse into a single linear map")
        facts = t.probe(probe_cnn_training, model, t.rng.uniform(0, 1, size=(16, 1, 8, 8)),
                        t.rng.integers(0, k, size=16),
                        context="a backward pass of the cross-entropy loss through your model",
                        expect={"convs": int, **BACKWARD})
        t.true(f"{label} has at least two convolution layers", facts["convs"] >= 2,
               detail=f"found {facts['convs']} nn.Conv2d layer(s)",
               hint="stack at least two nn.Conv2d layers (each followed by nn.ReLU()) before "
                    "Flatten")
        t.true(f"{label} has at most {MAX_PARAMETERS:,} parameters",
               facts["parameters"] <= MAX_PARAMETERS, detail=f"{facts['parameters']:,} parameters",
               hint="pool before flattening (each 2x2 max-pool quarters what the first nn.Linear "
                    "sees), or use fewer channels or a narrower hidden layer")
        trains_everywhere(t, facts, label)

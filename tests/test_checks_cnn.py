"""The CNN checks: correct code passes (offset loops, window loops, sliding windows, torch float32,
several nn.Module styles), known mistakes get their hint, and build_cnn's hints cross the grading
sandbox's data-only channel."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    in_float32,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)
from conftest import require_sandbox
from torch import nn

from coursekit.checks import cnn as checks

ROOT = Path(__file__).resolve().parents[1]


# --- reference and alternative correct implementations -------------------------------------
def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_output_size_loop(size, kernel, stride=1, padding=0, dilation=1):
    """Count the window positions one by one."""
    span = dilation * (kernel - 1) + 1
    count, start = 0, 0
    while start + span <= size + 2 * padding:
        count += 1
        start += stride
    return count


def conv_output_size_math(size, kernel, stride=1, padding=0, dilation=1):
    return int(math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride)) + 1


def _pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv2d(x, w, b, stride=1, padding=0):
    """One slice per kernel offset (u, v), all output positions at once."""
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = conv_output_size(h, kh, stride, padding), conv_output_size(wd, kw, stride, padding)
    xp = _pad(x, padding)
    out = np.zeros((n, f, ho, wo), dtype=np.result_type(x, w, b))
    for u in range(kh):
        for v in range(kw):
            patch = xp[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride]  # (N, C, Ho, Wo)
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, u, v])
    return out + b[:, None, None]


def conv2d_loops(x, w, b, stride=1, padding=0):
    """cs231n's naive version: every example, filter and output position."""
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    xp = _pad(x, padding)
    out = np.zeros((n, f, ho, wo))
    for i_n in range(n):
        for i_f in range(f):
            for i in range(ho):
                for j in range(wo):
                    window = xp[i_n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[i_n, i_f, i, j] = np.sum(window * w[i_f]) + b[i_f]
    return out


def conv2d_windows(x, w, b, stride=1, padding=0):
    """sliding_window_view and one tensordot."""
    windows = np.lib.stride_tricks.sliding_window_view(_pad(x, padding), w.shape[2:], axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, Ho, Wo, KH, KW)
    return np.einsum("nchwuv,fcuv->nfhw", windows, w) + b[:, None, None]


def conv2d_torch_float32(x, w, b, stride=1, padding=0):
    out = F.conv2d(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(w, dtype=torch.float32),
                   torch.as_tensor(b, dtype=torch.float32), stride=stride, padding=padding)
    return out.numpy()


def maxpool2d(x, kernel, stride=None):
    stride = kernel if stride is None else stride
    ho, wo = conv_output_size(x.shape[2], kernel, stride), conv_output_size(x.shape[3], kernel, stride)
    out = np.full((*x.shape[:2], ho, wo), -np.inf, dtype=x.dtype)
    for u in range(kernel):
        for v in range(kernel):
            out = np.maximum(out, x[:, :, u:u + stride * ho:stride, v:v + stride * wo:stride])
    return out


def maxpool2d_loops(x, kernel, stride=None):
    s = stride or kernel
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kernel) // s + 1, (w - kernel) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s:i * s + kernel, j * s:j * s + kernel].max(axis=(2, 3))
    return out


def maxpool2d_torch_float32(x, kernel, stride=None):
    return F.max_pool2d(torch.as_tensor(x, dtype=torch.float32), kernel, stride).numpy()


def conv2d_backward(dout, x, w, stride=1, padding=0):
    h, wd = x.shape[2:]
    kh, kw = w.shape[2:]
    ho, wo = dout.shape[2:]
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for u in range(kh):
        for v in range(kw):
            rows, cols = slice(u, u + stride * ho, stride), slice(v, v + stride * wo, stride)
            dw[:, :, u, v] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, u, v])
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, dout.sum(axis=(0, 2, 3))


def conv2d_backward_loops(dout, x, w, stride=1, padding=0):
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = _pad(x, padding)
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(f)
    for i_n in range(n):
        for i_f in range(f):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    g = dout[i_n, i_f, i, j]
                    rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
                    dxp[i_n, :, rows, cols] += g * w[i_f]
                    dw[i_f] += g * xp[i_n, :, rows, cols]
                    db[i_f] += g
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, db


def conv2d_backward_torch_float32(dout, x, w, stride=1, padding=0):
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float32, requires_grad=True)
    bt = torch.zeros(w.shape[0], requires_grad=True)
    F.conv2d(xt, wt, bt, stride=stride, padding=padding).backward(torch.as_tensor(dout, dtype=torch.float32))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def build_cnn(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
        nn.Linear(64, num_classes))


class SmallCNN(nn.Module):
    """A subclass with the functional ReLU and pooling in forward."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 2 * 2, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (N, 8, 4, 4)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (N, 16, 2, 2)
        return self.fc(x.flatten(1))


def build_cnn_subclass(num_classes=10):
    return SmallCNN(num_classes)


def build_cnn_lazy_batchnorm(num_classes=10):
    """Batch norm, no padding, and a LazyLinear that learns its input size on the first call."""
    return nn.Sequential(
        nn.Conv2d(1, 12, 3), nn.BatchNorm2d(12), nn.ReLU(),  # (N, 12, 6, 6)
        nn.Conv2d(12, 24, 3), nn.BatchNorm2d(24), nn.ReLU(),  # (N, 24, 4, 4)
        nn.Flatten(), nn.LazyLinear(num_classes))


MODULE = checks
CORRECT = {
    checks.check_conv_output_size: [conv_output_size, conv_output_size_loop, conv_output_size_math],
    checks.check_conv2d: [conv2d, conv2d_loops, conv2d_windows, in_float32(conv2d),
                          conv2d_torch_float32],
    checks.check_maxpool2d: [maxpool2d, maxpool2d_loops, in_float32(maxpool2d),
                             maxpool2d_torch_float32],
    checks.check_conv2d_backward: [conv2d_backward, conv2d_backward_loops,
                                   in_float32(conv2d_backward), conv2d_backward_torch_float32],
    checks.check_build_cnn: [build_cnn, build_cnn_subclass, build_cnn_lazy_batchnorm],
}


# --- known-wrong implementations, each with the hint it must get ---------------------------
def conv2d_flipped(x, w, b, stride=1, padding=0):
    return conv2d_loops(x, w[:, :, ::-1, ::-1], b, stride, padding)


def conv2d_pad_one_side(x, w, b, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (0, 2 * padding), (0, 2 * padding)))
    return conv2d_loops(xp, w, b, stride, 0)


def conv2d_no_bias(x, w, b, stride=1, padding=0):
    return conv2d_loops(x, w, np.zeros_like(b), stride, padding)


def conv2d_first_channel(x, w, b, stride=1, padding=0):
    return conv2d_loops(x[:, :1], w[:, :1], b, stride, padding)


def conv2d_no_plus_one(x, w, b, stride=1, padding=0):
    return conv2d_loops(x, w, b, stride, padding)[:, :, :-1, :-1]


def conv2d_ceil(x, w, b, stride=1, padding=0):
    """Output size rounded up: the last windows run past the edge (and read zeros)."""
    h, wd = x.shape[2] + 2 * padding - w.shape[2], x.shape[3] + 2 * padding - w.shape[3]
    extra_h, extra_w = -h % stride, -wd % stride
    xp = np.pad(_pad(x, padding), ((0, 0), (0, 0), (0, extra_h), (0, extra_w)))
    return conv2d_loops(xp, w, b, stride, 0)


def conv2d_no_stride(x, w, b, stride=1, padding=0):
    return conv2d_loops(x, w, b, 1, padding)


def conv2d_mean(x, w, b, stride=1, padding=0):
    return conv2d_loops(x, w, np.zeros_like(b), stride, padding) / w[0].size + b[:, None, None]


def maxpool2d_stride_one(x, kernel, stride=None):
    return maxpool2d_loops(x, kernel, stride or 1)


def avgpool2d(x, kernel, stride=None):
    return F.avg_pool2d(torch.as_tensor(x), kernel, stride).numpy()


def maxpool2d_from_zero(x, kernel, stride=None):
    s = stride or kernel
    out = np.zeros((*x.shape[:2], (x.shape[2] - kernel) // s + 1, (x.shape[3] - kernel) // s + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            for u in range(kernel):
                for v in range(kernel):
                    out[:, :, i, j] = np.maximum(out[:, :, i, j], x[:, :, i * s + u, j * s + v])
    return out


def maxpool2d_ceil(x, kernel, stride=None):
    return F.max_pool2d(torch.as_tensor(x), kernel, stride, ceil_mode=True).numpy()


def maxpool2d_over_channels(x, kernel, stride=None):
    return maxpool2d_loops(x, kernel, stride).max(axis=1)


def backward_db_per_example(dout, x, w, stride=1, padding=0):
    dx, dw, _ = conv2d_backward(dout, x, w, stride, padding)
    return dx, dw, dout.sum(axis=(2, 3))


def backward_dw_first_example(dout, x, w, stride=1, padding=0):
    dx, _, db = conv2d_backward(dout, x, w, stride, padding)
    return dx, conv2d_backward(dout[:1], x[:1], w, stride, padding)[1], db


def backward_dw_averaged(dout, x, w, stride=1, padding=0):
    dx, dw, db = conv2d_backward(dout, x, w, stride, padding)
    return dx, dw / len(x), db


def _dx_padded(dout, x, w, stride, padding):
    """The gradient of the padded input, before any cropping."""
    kh, kw = w.shape[2:]
    dxp = np.zeros_like(_pad(x, padding))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dxp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.einsum(
                "nf,fchw->nchw", dout[:, :, i, j], w)
    return dxp


def backward_dx_shifted(dout, x, w, stride=1, padding=0):
    """Crops the padded gradient at [0:H] instead of [P:P + H]: every gradient lands P pixels off."""
    dw, db = conv2d_backward(dout, x, w, stride, padding)[1:]
    return _dx_padded(dout, x, w, stride, padding)[:, :, :x.shape[2], :x.shape[3]], dw, db


def backward_dx_crop_minus(dout, x, w, stride=1, padding=0):
    """dx_pad[:, :, p:-p, p:-p]: right with padding, empty without."""
    p = padding
    dw, db = conv2d_backward(dout, x, w, stride, padding)[1:]
    return _dx_padded(dout, x, w, stride, padding)[:, :, p:-p, p:-p], dw, db


def backward_dx_flipped(dout, x, w, stride=1, padding=0):
    dx = conv2d_backward(dout, x, w[:, :, ::-1, ::-1], stride, padding)[0]
    return dx, *conv2d_backward(dout, x, w, stride, padding)[1:]


def backward_no_stride(dout, x, w, stride=1, padding=0):
    """Window (i, j) taken at (i, j), not (i*S, j*S)."""
    return conv2d_backward_loops(dout, x, w, 1, padding) if stride == 1 else _stride_one_windows(
        dout, x, w, padding)


def _stride_one_windows(dout, x, w, padding):
    h, wd = x.shape[2:]
    kh, kw = w.shape[2:]
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dxp[:, :, i:i + kh, j:j + kw] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], xp[:, :, i:i + kh, j:j + kw])
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, dout.sum(axis=(0, 2, 3))


class _Frozen(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.net = build_cnn(num_classes)
        self.net[0].requires_grad_(False)  # "use fixed edge detectors"

    def forward(self, x):
        return self.net(x)


class _Unused(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)  # defined, then forgotten in forward
        self.fc = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc(F.max_pool2d(x, 2).flatten(1))


class _Detached(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x):
        return self.fc(self.features(x).detach().flatten(1))


class _NoSuper(nn.Module):
    def __init__(self, num_classes=10):
        self.conv = nn.Conv2d(1, 8, 3)

    def forward(self, x):
        return self.conv(x)


class _Squeeze(nn.Module):
    def forward(self, x):
        return x.squeeze()  # (1, K) becomes (K,)


def _seq(*layers):
    return nn.Sequential(*layers)


WRONG = [
    (checks.check_conv_output_size, lambda size, kernel, stride=1, padding=0, dilation=1:
     (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1, "floor division"),
    (checks.check_conv_output_size, lambda size, kernel, stride=1, padding=0, dilation=1:
     math.ceil((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1, "round down"),
    (checks.check_conv_output_size, lambda size, kernel, stride=1, padding=0, dilation=1:
     (size + padding - dilation * (kernel - 1) - 1) // stride + 1, "both sides"),
    (checks.check_conv_output_size, lambda size, kernel, stride=1, padding=0, dilation=1:
     (size + 2 * padding - dilation * (kernel - 1) - 1) // stride, "count the first window"),
    (checks.check_conv_output_size, lambda size, kernel, stride=1, padding=0, dilation=1:
     (size + 2 * padding - kernel) // stride + 1, "dilated kernel spans"),
    (checks.check_conv_output_size, lambda size, kernel, stride=1, padding=0, dilation=1:
     size + 2 * padding - dilation * (kernel - 1), "divide by the stride"),
    (checks.check_conv2d, conv2d_flipped, "cross-correlation"),
    (checks.check_conv2d, conv2d_pad_one_side, "on every side"),
    (checks.check_conv2d, conv2d_no_bias, "add the bias"),
    (checks.check_conv2d, conv2d_first_channel, "all C input channels"),
    (checks.check_conv2d, conv2d_no_plus_one, "the +1 counts the first window"),
    (checks.check_conv2d, conv2d_ceil, "runs past the edge does not count"),
    (checks.check_conv2d, conv2d_no_stride, "move the window by `stride`"),
    (checks.check_conv2d, conv2d_mean, "do not average"),
    (checks.check_maxpool2d, maxpool2d_stride_one, "defaults to the kernel size"),
    (checks.check_maxpool2d, avgpool2d, "not its mean"),
    (checks.check_maxpool2d, maxpool2d_from_zero, "not from 0"),
    (checks.check_maxpool2d, maxpool2d_ceil, "windows that run past the edge are dropped"),
    (checks.check_maxpool2d, maxpool2d_over_channels, "each channel of each example on its own"),
    (checks.check_conv2d_backward, backward_db_per_example, "over the batch and every position"),
    (checks.check_conv2d_backward, backward_dw_first_example, "every example in the batch"),
    (checks.check_conv2d_backward, backward_dw_averaged, "summed, not averaged"),
    (checks.check_conv2d_backward, backward_dx_shifted, "gradient of the *padded* input"),
    (checks.check_conv2d_backward, backward_dx_crop_minus, "empty when P = 0"),
    (checks.check_conv2d_backward, backward_dx_flipped, "no flip in the backward pass"),
    (checks.check_conv2d_backward, backward_no_stride, "starts at row i*S"),
    (checks.check_build_cnn, lambda num_classes=10: SmallCNN, "not the class"),
    (checks.check_build_cnn, lambda num_classes=10: build_cnn(10), "use num_classes"),
    (checks.check_build_cnn, lambda num_classes=10: _seq(*build_cnn(num_classes), nn.Softmax(dim=1)),
     "applies log-softmax itself"),
    (checks.check_build_cnn, lambda num_classes=10: _seq(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, num_classes)),
     "pool before flattening"),
    (checks.check_build_cnn, lambda num_classes=10: _Frozen(num_classes), "do not freeze"),
    (checks.check_build_cnn, lambda num_classes=10: _Unused(num_classes), "never used in forward"),
    (checks.check_build_cnn, lambda num_classes=10: _Detached(num_classes), ".detach()"),
    (checks.check_build_cnn, lambda num_classes=10: _seq(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 4 * 4, num_classes)), "at least two nn.Conv2d"),
    (checks.check_build_cnn, lambda num_classes=10: _seq(
        nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1), nn.Flatten(),
        nn.Linear(8 * 8 * 8, num_classes)), "non-linearity"),
    (checks.check_build_cnn, lambda num_classes=10: _seq(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 8 * 8, num_classes)), "C * H * W features"),
    (checks.check_build_cnn, lambda num_classes=10: _seq(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, num_classes)), "in_channels=1"),
    (checks.check_build_cnn, lambda num_classes=10: _NoSuper(num_classes), "super().__init__()"),
    (checks.check_build_cnn, lambda num_classes=10: None, "`return model`"),
    (checks.check_build_cnn, lambda num_classes=10: build_cnn(num_classes).double(), "float32"),
    (checks.check_build_cnn, lambda num_classes=10: _seq(*build_cnn(num_classes), _Squeeze()),
     "keep the batch axis"),
]


def test_build_cnn_leaves_the_model_as_it_found_it():
    """The probes restore the mode and clear the gradients they made."""
    model = build_cnn()
    model.train()
    facts = checks.probe_cnn_training(model, np.zeros((4, 1, 8, 8)), np.arange(4))
    assert facts["parameters"] == sum(p.numel() for p in model.parameters())
    assert facts["convs"] == 2 and facts["frozen"] == facts["unreached"] == []
    assert model.training and all(p.grad is None for p in model.parameters())


# --- through the grading sandbox: the module stays in the student's process -------------------
FROZEN_ANSWER = """\
import torch
from torch import nn


def build_cnn(num_classes: int = 10) -> nn.Module:
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, num_classes))
    model[0].requires_grad_(False)
    return model
"""

UNUSED_ANSWER = """\
import torch
from torch import nn
import torch.nn.functional as F


class CNN(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.extra = nn.Linear(10, 10)
        self.fc = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        return self.fc(x.flatten(1))


def build_cnn(num_classes: int = 10) -> nn.Module:
    return CNN(num_classes)
"""

CLASS_ANSWER = UNUSED_ANSWER.replace("return CNN(num_classes)", "return CNN")


@pytest.mark.slow
def test_build_cnn_hints_cross_the_grading_sandbox():
    """A solved notebook with build_cnn replaced: the check runs in the grader, the model in the
    sandbox; the probes' findings come back as data and name the mistake in the feedback."""
    require_sandbox()
    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.sandbox import grade_submission

    source = ROOT / "solutions" / "07_cnn.ipynb"
    honest = answered_notebook(ROOT, "07_cnn")
    rows, _ = grade_submission(source, honest, student="honest", cell_timeout=120)
    assert {r.cell: r.status for r in rows}["build_cnn_test"] == "passed", rows
    for answer, hint in ((FROZEN_ANSWER, "do not freeze layers"),
                         (UNUSED_ANSWER, "never used in forward"),
                         (CLASS_ANSWER, "not the class CNN")):
        nb = nbformat.from_dict(honest)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "build_cnn")
        cell.source = answer
        rows, executed = grade_submission(source, nb, student="wrong", cell_timeout=120)
        by_cell = {r.cell: r for r in rows}
        assert by_cell["build_cnn_test"].score == 0, by_cell["build_cnn_test"]
        assert all(r.score == r.max_score for c, r in by_cell.items() if c != "build_cnn_test"), rows
        test_cell = next(c for c in executed.cells if c.source.startswith("check_build_cnn("))
        text = "\n".join(o.get("evalue", "") + o.get("text", "") for o in test_cell.outputs)
        assert any(line.strip().startswith("hint:") and hint in line for line in text.splitlines()), text

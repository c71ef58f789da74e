"""The rnn checks: correct code passes (NumPy, loops, torch float32), known mistakes get their hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    assert_fails_with,
    in_float32,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import rnn as checks


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def stable_sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --- reference and alternative correct implementations -------------------------------------
def rnn_cell(x, h, W_xh, W_hh, b):
    return np.tanh(x @ W_xh + h @ W_hh + b)


def rnn_cell_concat(x, h, W_xh, W_hh, b):
    """One matrix product on [x, h] with the weights stacked: the same cell, written another way."""
    return np.tanh(np.concatenate([x, h], axis=1) @ np.concatenate([W_xh, W_hh], axis=0) + b)


def _torch32(module, **params):
    with torch.no_grad():
        for name, value in params.items():
            getattr(module, name).copy_(torch.as_tensor(np.ascontiguousarray(value),
                                                        dtype=torch.float32))
    return module


def _t32(a):
    return torch.as_tensor(a, dtype=torch.float32)


def rnn_cell_torch_float32(x, h, W_xh, W_hh, b):
    cell = _torch32(torch.nn.RNNCell(*W_xh.shape), weight_ih=W_xh.T, weight_hh=W_hh.T,
                    bias_ih=b, bias_hh=np.zeros_like(b))
    with torch.no_grad():
        return cell(_t32(x), _t32(h)).numpy()


def rnn_forward(x, h0, W_xh, W_hh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = rnn_cell(x[:, t], h, W_xh, W_hh, b)
        states.append(h)
    return np.stack(states, axis=1), h


def rnn_forward_precomputed(x, h0, W_xh, W_hh, b):
    """Input projections of every step in one product, then only the recurrence in the loop."""
    xw = np.einsum("btd,dh->bth", x, W_xh) + b   # (B, T, H)
    hs = np.empty(xw.shape)
    h = h0
    for t in range(x.shape[1]):
        h = np.tanh(xw[:, t] + h @ W_hh)
        hs[:, t] = h
    return hs, hs[:, -1]


def rnn_forward_torch_float32(x, h0, W_xh, W_hh, b):
    rnn = _torch32(torch.nn.RNN(*W_xh.shape, batch_first=True), weight_ih_l0=W_xh.T,
                   weight_hh_l0=W_hh.T, bias_ih_l0=b, bias_hh_l0=np.zeros_like(b))
    with torch.no_grad():
        hs, h_n = rnn(_t32(x), _t32(h0)[None])
    return hs.numpy(), h_n[0].numpy()


def lstm_cell(x, h, c, W_x, W_h, b):
    i, f, g, o = np.split(x @ W_x + h @ W_h + b, 4, axis=1)
    c_next = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_next), c_next


def lstm_cell_sliced(x, h, c, W_x, W_h, b):
    H = h.shape[1]
    z = x @ W_x + h @ W_h + b
    i, f = stable_sigmoid(z[:, :H]), stable_sigmoid(z[:, H:2 * H])
    g, o = np.tanh(z[:, 2 * H:3 * H]), stable_sigmoid(z[:, 3 * H:])
    c_next = f * c + i * g
    return o * np.tanh(c_next), c_next


def lstm_cell_torch_float32(x, h, c, W_x, W_h, b):
    cell = _torch32(torch.nn.LSTMCell(W_x.shape[0], W_h.shape[0]), weight_ih=W_x.T,
                    weight_hh=W_h.T, bias_ih=b / 2, bias_hh=b / 2)
    with torch.no_grad():
        h_next, c_next = cell(_t32(x), (_t32(h), _t32(c)))
    return h_next.numpy(), c_next.numpy()


def gru_cell(x, h, W_x, W_h, b_x, b_h):
    xr, xz, xn = np.split(x @ W_x + b_x, 3, axis=1)
    hr, hz, hn = np.split(h @ W_h + b_h, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def gru_cell_interpolate(x, h, W_x, W_h, b_x, b_h):
    """h + (1 - z) * (n - h): the same convex combination, with a stable sigmoid."""
    H = h.shape[1]
    gx, gh = x @ W_x + b_x, h @ W_h + b_h
    r = stable_sigmoid(gx[:, :H] + gh[:, :H])
    z = stable_sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    return h + (1 - z) * (n - h)


def gru_cell_torch_float32(x, h, W_x, W_h, b_x, b_h):
    cell = _torch32(torch.nn.GRUCell(W_x.shape[0], W_h.shape[0]), weight_ih=W_x.T,
                    weight_hh=W_h.T, bias_ih=b_x, bias_hh=b_h)
    with torch.no_grad():
        return cell(_t32(x), _t32(h)).numpy()


def make_windows(series, window, horizon=1):
    values = series[:, None] if series.ndim == 1 else series      # (T, D)
    n = len(values) - window - horizon + 1
    X = np.stack([values[i:i + window] for i in range(n)])          # (N, window, D)
    y = np.stack([values[i + window:i + window + horizon] for i in range(n)])
    return X, (y[:, :, 0] if series.ndim == 1 else y)


def make_windows_strided(series, window, horizon=1):
    views = np.lib.stride_tricks.sliding_window_view(series, window + horizon, axis=0)
    views = np.moveaxis(views, -1, 1)                             # (N, window + horizon[, D])
    X, y = views[:, :window], views[:, window:]
    return (X[..., None], y) if series.ndim == 1 else (X, y)


MODULE = checks
CORRECT = {
    checks.check_rnn_cell: [rnn_cell, rnn_cell_concat, in_float32(rnn_cell), rnn_cell_torch_float32],
    checks.check_rnn_forward: [rnn_forward, rnn_forward_precomputed, in_float32(rnn_forward),
                               rnn_forward_torch_float32],
    checks.check_lstm_cell: [lstm_cell, lstm_cell_sliced, in_float32(lstm_cell),
                             lstm_cell_torch_float32],
    checks.check_gru_cell: [gru_cell, gru_cell_interpolate, in_float32(gru_cell),
                            gru_cell_torch_float32],
    checks.check_make_windows: [make_windows, make_windows_strided, in_float32(make_windows)],
}


# --- known-wrong implementations, each with the hint it must get ---------------------------
def rnn_forward_shifted(x, h0, W_xh, W_hh, b):
    """Appends h before the step: hs holds h0 .. h_{T-1}."""
    h, states = h0, []
    for t in range(x.shape[1]):
        states.append(h)
        h = rnn_cell(x[:, t], h, W_xh, W_hh, b)
    return np.stack(states, axis=1), h


def rnn_forward_restart(x, h0, W_xh, W_hh, b):
    states = [rnn_cell(x[:, t], h0, W_xh, W_hh, b) for t in range(x.shape[1])]
    return np.stack(states, axis=1), states[-1]


def rnn_forward_linear(x, h0, W_xh, W_hh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = x[:, t] @ W_xh + h @ W_hh + b
        states.append(h)
    return np.stack(states, axis=1), h


def rnn_forward_time_major(x, h0, W_xh, W_hh, b):
    hs, h = rnn_forward(x, h0, W_xh, W_hh, b)
    return np.stack([hs[:, t] for t in range(hs.shape[1])]), h    # (T, B, H)


def lstm_with(order="ifgo", g_act=np.tanh, forget=True, squash=True):
    def cell(x, h, c, W_x, W_h, b):
        parts = dict(zip(order, np.split(x @ W_x + h @ W_h + b, 4, axis=1)))
        c_next = (sigmoid(parts["f"]) * c if forget else c) + sigmoid(parts["i"]) * g_act(parts["g"])
        return sigmoid(parts["o"]) * (np.tanh(c_next) if squash else c_next), c_next
    return cell


def lstm_old_cell(x, h, c, W_x, W_h, b):
    _, c_next = lstm_cell(x, h, c, W_x, W_h, b)
    o = sigmoid(np.split(x @ W_x + h @ W_h + b, 4, axis=1)[3])
    return o * np.tanh(c), c_next


def gru_reset_before(x, h, W_x, W_h, b_x, b_h):
    """The 2014 paper's GRU (Keras reset_after=False): r multiplies h before the product."""
    H = h.shape[1]
    xr, xz, xn = np.split(x @ W_x + b_x, 3, axis=1)
    hr, hz, _ = np.split(h @ W_h + b_h, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + (r * h) @ W_h[:, 2 * H:] + b_h[2 * H:])
    return (1 - z) * n + z * h


def gru_swapped(x, h, W_x, W_h, b_x, b_h):
    xr, xz, xn = np.split(x @ W_x + b_x, 3, axis=1)
    hr, hz, hn = np.split(h @ W_h + b_h, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    return z * np.tanh(xn + r * hn) + (1 - z) * h


def gru_update_first(x, h, W_x, W_h, b_x, b_h):
    xz, xr, xn = np.split(x @ W_x + b_x, 3, axis=1)
    hz, hr, hn = np.split(h @ W_h + b_h, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    return (1 - z) * np.tanh(xn + r * hn) + z * h


def gru_sigmoid_candidate(x, h, W_x, W_h, b_x, b_h):
    xr, xz, xn = np.split(x @ W_x + b_x, 3, axis=1)
    hr, hz, hn = np.split(h @ W_h + b_h, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    return (1 - z) * sigmoid(xn + r * hn) + z * h


def windows_one_short(series, window, horizon=1):
    X, y = make_windows(series, window, horizon)
    return X[:-1], y[:-1]


def windows_overlapping_target(series, window, horizon=1):
    values = series[:, None] if series.ndim == 1 else series
    n = len(values) - window - horizon + 1
    X = np.stack([values[i:i + window] for i in range(n)])
    y = np.stack([values[i + window - 1:i + window - 1 + horizon] for i in range(n)])
    return X, (y[:, :, 0] if series.ndim == 1 else y)


def windows_as_coursekit_data(series, window, horizon=1):
    """coursekit.data.make_windows's contract, (N, W), where the exercise wants (N, W, 1)."""
    from coursekit.data import make_windows as other
    return other(series, window, horizon) if series.ndim == 1 else make_windows(series, window, horizon)


def windows_ignore_horizon(series, window, horizon=1):
    return make_windows(series, window)


def windows_y_feature_axis(series, window, horizon=1):
    X, y = make_windows(series, window, horizon)
    return X, (y[:, :, None] if series.ndim == 1 else y)


def windows_jumping(series, window, horizon=1):
    X, y = make_windows(series, window, horizon)
    return X[::window], y[::window]


WRONG = [
    (checks.check_rnn_cell, lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + b), "add h @ W_hh"),
    (checks.check_rnn_cell, lambda x, h, Wx, Wh, b: x @ Wx + h @ Wh + b, "apply tanh"),
    (checks.check_rnn_cell, lambda x, h, Wx, Wh, b: sigmoid(x @ Wx + h @ Wh + b), "not the sigmoid"),
    (checks.check_rnn_cell, lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh.T + b), "not h @ W_hh.T"),
    (checks.check_rnn_cell, lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh), "forgot the bias"),
    (checks.check_rnn_cell, lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + b) + h @ Wh, "inside the tanh"),
    (checks.check_rnn_forward, rnn_forward_shifted, "append h after each step"),
    (checks.check_rnn_forward, rnn_forward_restart, "carry the state"),
    (checks.check_rnn_forward, rnn_forward_linear, "apply tanh at every step"),
    (checks.check_rnn_forward, lambda x, h0, *w: (rnn_forward(x, h0, *w)[0], h0), "not h0"),
    (checks.check_rnn_forward, rnn_forward_time_major, "stack along axis 1"),
    (checks.check_lstm_cell, lstm_with(order="ifog"), "gate order is i, f, g, o"),
    (checks.check_lstm_cell, lstm_with(order="figo"), "gate order is i, f, g, o"),
    (checks.check_lstm_cell, lstm_with(g_act=sigmoid), "goes through tanh, not the sigmoid"),
    (checks.check_lstm_cell, lstm_with(forget=False), "c_next = f * c + i * g"),
    (checks.check_lstm_cell, lstm_with(squash=False), "h_next = o * tanh(c_next)"),
    (checks.check_lstm_cell, lstm_old_cell, "reads the *new* cell"),
    (checks.check_lstm_cell, lambda *a: lstm_cell(*a)[::-1], "return (h_next, c_next)"),
    (checks.check_gru_cell, gru_reset_before, "reset gate after the matrix product"),
    (checks.check_gru_cell, gru_swapped, "you swapped z and 1 - z"),
    (checks.check_gru_cell, gru_update_first, "gate order is r, z, n"),
    (checks.check_gru_cell, gru_sigmoid_candidate, "candidate n goes through tanh"),
    (checks.check_gru_cell, lambda x, h, Wx, Wh, bx, bh: gru_cell(x, h, Wx, Wh, bx, 0 * bh),
     "add both biases"),
    (checks.check_make_windows, windows_one_short, "N = T - window - horizon + 1"),
    (checks.check_make_windows, windows_overlapping_target, "overlaps the window's last value"),
    (checks.check_make_windows, windows_as_coursekit_data, "add the feature axis"),
    (checks.check_make_windows, windows_ignore_horizon, "use `horizon`"),
    (checks.check_make_windows, windows_y_feature_axis, "no feature axis on y"),
    (checks.check_make_windows, windows_jumping, "slide one step at a time"),
]


def test_unstable_sigmoid_is_told_to_use_a_stable_form():
    def lstm_exp_ratio(x, h, c, W_x, W_h, b):
        def sig(z):
            return np.exp(z) / (1 + np.exp(z))
        i, f, g, o = np.split(x @ W_x + h @ W_h + b, 4, axis=1)
        c_next = sig(f) * c + sig(i) * np.tanh(g)
        return sig(o) * np.tanh(c_next), c_next

    message = assert_fails_with(checks.check_lstm_cell, lstm_exp_ratio, "inf/inf = nan")
    assert "large pre-activations" in message


def test_a_check_leaves_the_notebooks_torch_generator_alone(capsys):
    """The references build PyTorch modules; their random initialisation must not shift the
    random numbers a notebook draws after the check cell."""
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    for check, fns in CORRECT.items():
        check(fns[0])
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("check", list(CORRECT), ids=lambda c: c.exercise)
def test_checks_are_fast(check, capsys):
    import time

    check(CORRECT[check][0])  # torch imported and warm
    start = time.perf_counter()
    check(CORRECT[check][0])
    assert time.perf_counter() - start < 1.0

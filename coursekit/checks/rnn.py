"""Checks for notebook 08 Recurrent networks and LSTMs (NumPy in, NumPy out).

Weights are laid out as the course's dense layers, ``x @ W``: ``W_x`` is (D, 4H) where PyTorch
stores ``weight_ih`` as (4H, D). The references are PyTorch's own modules in float64, built at
check time with the student's weights copied in (transposed), so the check compares with what
``torch.nn.RNN``, ``LSTMCell`` and ``GRUCell`` compute, gate order and all. ``make_windows``'s
reference is a direct loop written to the notebook's spec (``coursekit.data.make_windows`` has
another contract: it returns (N, W) for a 1-D series).

A float32 implementation (torch's default dtype, Keras) passes at float32 precision.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import Checker, check
from coursekit.checks.exercise import Exercise, Run
from coursekit.checks.mistakes import reordered

__all__ = ["check_rnn_cell", "check_rnn_forward", "check_lstm_cell", "check_gru_cell",
           "check_make_windows"]


# -- references: PyTorch's modules, float64, with the student's weights copied in -------------
# (torchref.module: PyTorch's layout, W.T; the notebook's torch generator left where it was)
def _ref_rnn_cell(x, h, W_xh, W_hh, b):
    cell = torchref.module("RNNCell", W_xh.shape[0], W_xh.shape[1], state={
        "weight_ih": W_xh.T, "weight_hh": W_hh.T, "bias_ih": b, "bias_hh": np.zeros_like(b)})
    return torchref.no_grad(cell, x, h)


def _ref_rnn_forward(x, h0, W_xh, W_hh, b):
    rnn = torchref.module("RNN", W_xh.shape[0], W_xh.shape[1], batch_first=True, state={
        "weight_ih_l0": W_xh.T, "weight_hh_l0": W_hh.T, "bias_ih_l0": b,
        "bias_hh_l0": np.zeros_like(b)})
    hs, h_n = torchref.no_grad(lambda xt, ht: rnn(xt, ht[None]), x, h0)  # h_n: (1, B, H)
    return hs, h_n[0]


def _ref_lstm_cell(x, h, c, W_x, W_h, b):
    # LSTMCell adds two biases; ours is their sum, so one of them is zero here
    cell = torchref.module("LSTMCell", W_x.shape[0], W_h.shape[0], state={
        "weight_ih": W_x.T, "weight_hh": W_h.T, "bias_ih": b, "bias_hh": np.zeros_like(b)})
    h_next, c_next = torchref.no_grad(lambda *a: cell(a[0], (a[1], a[2])), x, h, c)
    return h_next, c_next


def _ref_gru_cell(x, h, W_x, W_h, b_x, b_h):
    cell = torchref.module("GRUCell", W_x.shape[0], W_h.shape[0], state={
        "weight_ih": W_x.T, "weight_hh": W_h.T, "bias_ih": b_x, "bias_hh": b_h})
    return torchref.no_grad(cell, x, h)


def _ref_make_windows(series, window, horizon=1):
    """A direct loop over the notebook's spec: X (N, window, D), y (N, horizon[, D])."""
    s = np.asarray(series)
    values = s[:, None] if s.ndim == 1 else s  # (T, D)
    n = len(values) - window - horizon + 1
    X = np.stack([values[i:i + window] for i in range(n)])                    # (N, window, D)
    y = np.stack([values[i + window:i + window + horizon] for i in range(n)])  # (N, horizon, D)
    return X, (y[:, :, 0] if s.ndim == 1 else y)


# -- the known mistakes, in NumPy (each switch is one mistake) ---------------------------------
def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _rnn_step(x, h, W_xh, W_hh, b, *, act=np.tanh, recurrent=True, transposed=False):
    W = W_hh.T if transposed else W_hh
    return act(x @ W_xh + (h @ W if recurrent else 0.0) + b)


def _rnn_loop(x, h0, W_xh, W_hh, b, *, shift=False, carry=True, act=np.tanh):
    h, states = h0, []
    for t in range(x.shape[1]):
        if shift:
            states.append(h)
        h = _rnn_step(x[:, t], h if carry else h0, W_xh, W_hh, b, act=act)
        if not shift:
            states.append(h)
    return np.stack(states, axis=1), h


def _lstm(x, h, c, W_x, W_h, b, *, order="ifgo", g_act=np.tanh, forget=True, cell_tanh=True,
          old_c=False):
    z = x @ W_x + h @ W_h + b
    gates = dict(zip(order, np.split(z, 4, axis=1), strict=True))
    i, f, o = _sig(gates["i"]), _sig(gates["f"]), _sig(gates["o"])
    c_next = (f * c if forget else c) + i * g_act(gates["g"])
    shown = c if old_c else c_next
    return o * (np.tanh(shown) if cell_tanh else shown), c_next


def _gru(x, h, W_x, W_h, b_x, b_h, *, order="rzn", reset_first=False, swap=False, n_act=np.tanh):
    H = h.shape[1]
    gx = dict(zip(order, np.split(x @ W_x + b_x, 3, axis=1), strict=True))
    gh = dict(zip(order, np.split(h @ W_h + b_h, 3, axis=1), strict=True))
    r, z = _sig(gx["r"] + gh["r"]), _sig(gx["z"] + gh["z"])
    if reset_first:
        W_hn = W_h[:, order.index("n") * H:(order.index("n") + 1) * H]
        b_hn = b_h[order.index("n") * H:(order.index("n") + 1) * H]
        n = n_act(gx["n"] + (r * h) @ W_hn + b_hn)
    else:
        n = n_act(gx["n"] + r * gh["n"])
    return z * n + (1 - z) * h if swap else (1 - z) * n + z * h


def _windows(series, window, horizon=1, *, start=0, n_less=0, feature_axis=True, y_axis=False,
             step=1, fixed_horizon=None):
    s = np.asarray(series)
    values = s[:, None] if s.ndim == 1 else s
    horizon = fixed_horizon or horizon
    n = len(values) - window - horizon + 1 - n_less
    X = np.stack([values[i:i + window] for i in range(0, n, step)])
    y = np.stack([values[i + window + start:i + window + start + horizon]
                  for i in range(0, n, step)])
    if s.ndim == 1:
        X = X if feature_axis else X[:, :, 0]
        y = y if y_axis else y[:, :, 0]
    return X, y


# -- hints --------------------------------------------------------------------------------
SIGMOID_STABLE = ("exp(z) / (1 + exp(z)) is inf/inf = nan for large z: write the sigmoid as "
                  "1 / (1 + exp(-z)) (or a stable form) for the gates")
RNN_NO_RECURRENCE = ("the new state depends on the previous one: add h @ W_hh to x @ W_xh + b "
                     "(without it the network has no memory)")
LAYOUT = ("use the weights as given, x @ W (the course's dense-layer layout): h @ W_hh, not "
          "h @ W_hh.T")

RNN_CELL = Exercise(
    "rnn_cell", signature="rnn_cell(x, h, W_xh, W_hh, b)",
    reference=_ref_rnn_cell,
    hint="h_next = tanh(x @ W_xh + h @ W_hh + b)",
    hints={".shape": "x (B, D) @ W_xh (D, H) and h (B, H) @ W_hh (H, H) are both (B, H): "
                     "check the order of each product"},
    unstable_hint="np.tanh is stable for any input: use it rather than exp formulas",
    wrong=[(lambda x, h, Wx, Wh, b: _rnn_step(x, h, Wx, Wh, b, recurrent=False),
            RNN_NO_RECURRENCE),
           (lambda x, h, Wx, Wh, b: x @ Wx + h @ Wh + b,
            "apply tanh to the sum: h_next = tanh(...)"),
           (lambda x, h, Wx, Wh, b: _rnn_step(x, h, Wx, Wh, b, act=_sig),
            "the plain RNN uses tanh, not the sigmoid: its state lies in (-1, 1)"),
           (lambda x, h, Wx, Wh, b: _rnn_step(x, h, Wx, Wh, b, transposed=True), LAYOUT),
           (lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh), "you forgot the bias b"),
           (lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + b) + h @ Wh,
            "add h @ W_hh inside the tanh, not after it")],
)

RNN_FORWARD = Exercise(
    "rnn_forward", signature="rnn_forward(x, h0, W_xh, W_hh, b)",
    reference=_ref_rnn_forward, returns=("hs", "h_last"),
    hint={"hs": "loop t = 0 .. T-1: h = rnn_cell(x[:, t], h, ...), and keep each new h: "
                "hs[:, t] is the state after reading x[:, t]",
          "h_last": "h_last is the state after the last step, hs[:, -1]"},
    hints={"hs.shape": "hs is (B, T, H): stack the states along axis 1, np.stack(states, axis=1)",
           "h_last.shape": "h_last is (B, H), the state after the last step"},
    wrong=[(lambda x, h0, Wx, Wh, b: (_rnn_loop(x, h0, Wx, Wh, b)[0], h0),
            "h_last is the state after the last step, hs[:, -1], not h0"),
           (lambda x, h0, Wx, Wh, b: _rnn_loop(x, h0, Wx, Wh, b, shift=True),
            "hs[:, t] is the state *after* reading x[:, t]: append h after each step, so hs "
            "holds h_1 .. h_T (not h0, and not missing the last step)"),
           (lambda x, h0, Wx, Wh, b: _rnn_loop(x, h0, Wx, Wh, b, carry=False),
            "carry the state: each step's h is the next step's input (you restarted from h0)"),
           (lambda x, h0, Wx, Wh, b: _rnn_loop(x, h0, Wx, Wh, b, act=lambda z: z),
            "apply tanh at every step: h = tanh(x_t @ W_xh + h @ W_hh + b)"),
           (lambda x, h0, Wx, Wh, b: (_rnn_loop(x, h0, Wx, Wh, b)[0].transpose(1, 0, 2),
                                      _rnn_loop(x, h0, Wx, Wh, b)[1]),
            "hs is (B, T, H), batch first: stack along axis 1 (np.stack(states, axis=1)), "
            "not axis 0")],
)

GATE_ORDER = ("PyTorch's gate order is i, f, g, o: columns [0:H] input gate, [H:2H] forget gate, "
              "[2H:3H] candidate g, [3H:4H] output gate")
LSTM_CELL = Exercise(
    "lstm_cell", signature="lstm_cell(x, h, c, W_x, W_h, b)",
    reference=_ref_lstm_cell, returns=("h_next", "c_next"),
    hint={"c_next": "z = x @ W_x + h @ W_h + b split into i, f, g, o (H columns each); "
                    "c_next = sigmoid(f) * c + sigmoid(i) * tanh(g)",
          "h_next": "h_next = sigmoid(o) * tanh(c_next)"},
    hints={".shape": "each of h_next and c_next is (B, H): split z (B, 4H) along axis 1 into "
                     "four (B, H) blocks"},
    unstable_hint=SIGMOID_STABLE,
    wrong=[(lambda *a: _lstm(*a, order="ifog"), GATE_ORDER + " (i, f, o, g is another "
                                                            "convention, e.g. cs231n's)"),
           (lambda *a: _lstm(*a, order="figo"), GATE_ORDER),
           (lambda *a: _lstm(*a, g_act=_sig),
            "the candidate g goes through tanh, not the sigmoid: it is a value in (-1, 1) to "
            "write, while i, f, o are gates in (0, 1)"),
           (lambda *a: _lstm(*a, forget=False),
            "the forget gate scales the old cell: c_next = f * c + i * g (you kept c whole)"),
           (lambda *a: _lstm(*a, cell_tanh=False),
            "squash the cell before the output gate: h_next = o * tanh(c_next)"),
           (lambda *a: _lstm(*a, old_c=True),
            "h_next reads the *new* cell: h_next = o * tanh(c_next), not tanh(c)"),
           (reordered(_lstm, (1, 0)), "return (h_next, c_next), in that order")],
)

GRU_RESET = ("PyTorch's GRU applies the reset gate after the matrix product: "
             "n = tanh(x @ W_xn + b_xn + r * (h @ W_hn + b_hn)), not (r * h) @ W_hn (that is "
             "the 2014 paper's variant, Keras' reset_after=False)")
GRU_CELL = Exercise(
    "gru_cell", signature="gru_cell(x, h, W_x, W_h, b_x, b_h)",
    reference=_ref_gru_cell,
    hint="r = sigmoid(x W_xr + b_xr + h W_hr + b_hr), z likewise, n = tanh(x W_xn + b_xn + "
         "r * (h W_hn + b_hn)), h_next = (1 - z) * n + z * h",
    hints={".shape": "h_next is (B, H): split x @ W_x + b_x and h @ W_h + b_h (B, 3H) along axis "
                     "1 into three (B, H) blocks"},
    unstable_hint=SIGMOID_STABLE,
    wrong=[(lambda *a: _gru(*a, reset_first=True), GRU_RESET),
           (lambda *a: _gru(*a, swap=True),
            "z keeps the old state: h_next = (1 - z) * n + z * h (you swapped z and 1 - z)"),
           (lambda *a: _gru(*a, order="zrn"),
            "PyTorch's gate order is r, z, n: columns [0:H] reset, [H:2H] update, [2H:3H] "
            "candidate (Keras orders z, r, h)"),
           (lambda *a: _gru(*a, n_act=_sig), "the candidate n goes through tanh, not the sigmoid"),
           (lambda x, h, Wx, Wh, bx, bh: _gru(x, h, Wx, Wh, bx, 0 * bh),
            "add both biases: b_x to x @ W_x and b_h to h @ W_h (b_hn sits inside r * (...))")],
)

WINDOWS_N = ("there are N = T - window - horizon + 1 windows: the last one ends exactly horizon "
             "steps before the end of the series (range(T - window - horizon + 1))")
MAKE_WINDOWS = Exercise(
    "make_windows", signature="make_windows(series, window, horizon=1)",
    reference=_ref_make_windows, returns=("X", "y"),
    hint={"X": "X[i] = series[i : i + window] (with a feature axis), window i starting at step i",
          "y": "each target starts right after its window: y[i] = series[i + window : i + window "
               "+ horizon]"},
    hints={"X.shape": "X is (N, window, D), with D = 1 for a 1-D series: add the feature axis "
                      "(series[:, None]) and N = T - window - horizon + 1",
           "y.shape": "y is (N, horizon) for a 1-D series, (N, horizon, D) for a (T, D) one"},
    wrong=[(lambda s, w, horizon=1: _windows(s, w, horizon, n_less=1), WINDOWS_N),
           (lambda s, w, horizon=1: _windows(s, w, horizon, start=-1),
            "each target starts right after its window: y[i] = series[i + window : i + window + "
            "horizon]; yours overlaps the window's last value"),
           (lambda s, w, horizon=1: _windows(s, w, horizon, feature_axis=False),
            "X is (N, window, D) with D = 1 for a 1-D series: add the feature axis "
            "(series[:, None]), as recurrent layers expect (batch, time, features)"),
           (lambda s, w, horizon=1: _windows(s, w, horizon, y_axis=True),
            "for a 1-D series y is (N, horizon): no feature axis on y"),
           (lambda s, w, horizon=1: _windows(s, w, horizon, fixed_horizon=1),
            "use `horizon`: y[i] holds the next horizon values, series[i + window : i + window "
            "+ horizon]"),
           (lambda s, w, horizon=1: _windows(s, w, horizon, step=w),
            "slide one step at a time: window i starts at series[i], so consecutive windows "
            "overlap")],
)


def _weights(t: Checker, *shape: int) -> np.ndarray:
    """Random weights of a sensible scale (1/sqrt(fan-in)): the gates are neither all saturated
    nor all linear, so every mistake shows."""
    return t.rng.normal(size=shape) / np.sqrt(shape[0])


@check("rnn_cell")
def check_rnn_cell(t: Checker, rnn_cell: Callable) -> None:
    run = Run(t, RNN_CELL, rnn_cell)
    # x @ W_xh = 0, h @ W_hh = 1, b = -1: the pre-activation is 0
    run.case("by hand: x @ W_xh = 0, h @ W_hh = 1, b = -1, so h_next = tanh(0) = 0",
             np.array([[1.0, -1.0]]), np.array([[0.5]]), np.array([[1.0], [1.0]]),
             np.array([[2.0]]), np.array([-1.0]), expected=[[0.0]])
    for B, D, H in ((4, 3, 5), (8, 2, 16), (1, 6, 3)):
        run.case(f"matches torch.nn.RNNCell (B={B}, D={D}, H={H})", t.rng.normal(size=(B, D)),
                 np.tanh(t.rng.normal(size=(B, H))), _weights(t, D, H), _weights(t, H, H),
                 t.rng.normal(size=H))
    run.case("large inputs: the state saturates at +-1", 50 * t.rng.normal(size=(3, 2)),
             np.tanh(t.rng.normal(size=(3, 4))), _weights(t, 2, 4), _weights(t, 4, 4),
             t.rng.normal(size=4))
    run.unchanged("leaves its inputs unchanged", t.rng.normal(size=(2, 3)),
                  t.rng.normal(size=(2, 4)), _weights(t, 3, 4), _weights(t, 4, 4),
                  t.rng.normal(size=4))


@check("rnn_forward")
def check_rnn_forward(t: Checker, rnn_forward: Callable) -> None:
    run = Run(t, RNN_FORWARD, rnn_forward)
    h1 = np.tanh(1.0)
    h2 = np.tanh(h1)
    run.case("by hand: one input of 1 then zeros, W_xh = W_hh = 1, b = 0: h1 = tanh(1), "
             "h2 = tanh(h1), h3 = tanh(h2)",
             np.array([[[1.0], [0.0], [0.0]]]), np.zeros((1, 1)), np.ones((1, 1)),
             np.ones((1, 1)), np.zeros(1),
             expected=([[[h1], [h2], [np.tanh(h2)]]], [[np.tanh(h2)]]))
    for B, T, D, H in ((3, 5, 2, 4), (2, 12, 1, 8), (4, 7, 3, 3)):
        run.case(f"matches torch.nn.RNN(batch_first=True) (B={B}, T={T}, D={D}, H={H})",
                 t.rng.normal(size=(B, T, D)), np.tanh(t.rng.normal(size=(B, H))),
                 _weights(t, D, H), _weights(t, H, H), t.rng.normal(size=H))
    run.case("one time step (T=1)", t.rng.normal(size=(2, 1, 3)), t.rng.normal(size=(2, 4)),
             _weights(t, 3, 4), _weights(t, 4, 4), t.rng.normal(size=4))
    run.case("batch of one, h0 = 0", t.rng.normal(size=(1, 6, 2)), np.zeros((1, 5)),
             _weights(t, 2, 5), _weights(t, 5, 5), t.rng.normal(size=5))
    run.unchanged("leaves its inputs unchanged", t.rng.normal(size=(2, 4, 3)),
                  t.rng.normal(size=(2, 3)), _weights(t, 3, 3), _weights(t, 3, 3),
                  t.rng.normal(size=3))


@check("lstm_cell")
def check_lstm_cell(t: Checker, lstm_cell: Callable) -> None:
    run = Run(t, LSTM_CELL, lstm_cell)
    # zero weights; sigmoid(+-40) and tanh(40) are 1 or 0 to float64 precision
    run.case("by hand: zero weights, biases (i, f, g, o) = (0, -40, 40, 0), so i = 0.5, f = 0, "
             "g = 1, o = 0.5: c_next = 0 * c + 0.5 * 1 = 0.5 and h_next = 0.5 * tanh(0.5)",
             np.array([[1.0, -1.0]]), np.array([[0.5]]), np.array([[2.0]]), np.zeros((2, 4)),
             np.zeros((1, 4)), np.array([0.0, -40.0, 40.0, 0.0]),
             expected=([[0.5 * np.tanh(0.5)]], [[0.5]]))
    for B, D, H in ((4, 3, 5), (2, 1, 8), (1, 6, 3)):
        run.case(f"matches torch.nn.LSTMCell (B={B}, D={D}, H={H})", t.rng.normal(size=(B, D)),
                 np.tanh(t.rng.normal(size=(B, H))), t.rng.normal(size=(B, H)),
                 _weights(t, D, 4 * H), _weights(t, H, 4 * H), t.rng.normal(size=4 * H))
    run.case("large pre-activations: saturated gates stay finite", 1000 * t.rng.normal(size=(3, 2)),
             np.tanh(t.rng.normal(size=(3, 4))), t.rng.normal(size=(3, 4)),
             _weights(t, 2, 16), _weights(t, 4, 16), t.rng.normal(size=16))
    run.unchanged("leaves its inputs unchanged", t.rng.normal(size=(2, 3)),
                  t.rng.normal(size=(2, 2)), t.rng.normal(size=(2, 2)), _weights(t, 3, 8),
                  _weights(t, 2, 8), t.rng.normal(size=8))


@check("gru_cell")
def check_gru_cell(t: Checker, gru_cell: Callable) -> None:
    run = Run(t, GRU_CELL, gru_cell)
    # zero weights and biases except b_hn = 1: r = z = 0.5 and n = tanh(0.5 * 1)
    run.case("by hand: zero weights, b_hn = 1, h = 0: r = z = 0.5, n = tanh(0.5 * 1), so "
             "h_next = 0.5 * tanh(0.5)",
             np.array([[1.0, -1.0]]), np.zeros((1, 1)), np.zeros((2, 3)), np.zeros((1, 3)),
             np.zeros(3), np.array([0.0, 0.0, 1.0]), expected=[[0.5 * np.tanh(0.5)]])
    for B, D, H in ((4, 3, 5), (2, 1, 8), (1, 6, 3)):
        run.case(f"matches torch.nn.GRUCell (B={B}, D={D}, H={H})", t.rng.normal(size=(B, D)),
                 np.tanh(t.rng.normal(size=(B, H))), _weights(t, D, 3 * H),
                 _weights(t, H, 3 * H), t.rng.normal(size=3 * H), t.rng.normal(size=3 * H))
    run.case("large pre-activations: saturated gates stay finite", 1000 * t.rng.normal(size=(3, 2)),
             np.tanh(t.rng.normal(size=(3, 4))), _weights(t, 2, 12), _weights(t, 4, 12),
             t.rng.normal(size=12), t.rng.normal(size=12))
    run.unchanged("leaves its inputs unchanged", t.rng.normal(size=(2, 3)),
                  t.rng.normal(size=(2, 2)), _weights(t, 3, 6), _weights(t, 2, 6),
                  t.rng.normal(size=6), t.rng.normal(size=6))


@check("make_windows")
def check_make_windows(t: Checker, make_windows: Callable) -> None:
    run = Run(t, MAKE_WINDOWS, make_windows)
    run.case("by hand: [0, 1, 2, 3, 4, 5] with window 3 gives X[:, :, 0] = [[0, 1, 2], "
             "[1, 2, 3], [2, 3, 4]] and y = [[3], [4], [5]]", np.arange(6.0), 3,
             expected=([[[0.0], [1.0], [2.0]], [[1.0], [2.0], [3.0]], [[2.0], [3.0], [4.0]]],
                       [[3.0], [4.0], [5.0]]))
    run.case("a 1-D series, window 7", t.rng.normal(size=40).cumsum(), 7)
    run.case("a 1-D series, window 5, horizon 3", t.rng.normal(size=30).cumsum(), 5, horizon=3)
    run.case("a (T, D) series with D = 3, window 4", t.rng.normal(size=(25, 3)), 4)
    run.case("a (T, D) series with D = 2, window 6, horizon 2", t.rng.normal(size=(20, 2)), 6,
             horizon=2)
    run.case("the shortest series: T = window + horizon gives one window",
             t.rng.normal(size=9), 6, horizon=3)
    run.unchanged("leaves the series unchanged", t.rng.normal(size=15), 4, horizon=2)

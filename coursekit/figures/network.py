"""``layers.gif`` (forward pass, layer by layer) and ``backprop.gif`` (gradients flow back,
the weights take one gradient-descent step, the loss drops) for one small network.

The network is 3 -> 4 -> 4 -> 2 with ReLU hidden layers, a linear output and the loss
L = 1/2 ||y_hat - y||^2; every number shown is computed here in float64.
"""

from __future__ import annotations

import numpy as np

from coursekit.figures._draw import (
    GREY,
    INK,
    LIGHT,
    PAPER,
    SMALL,
    box,
    canvas,
    caption,
    dot,
    ease,
    lerp,
    node,
    num,
    shade,
    tint,
    title,
)
from coursekit.figures._gif import Animation, timeline
from coursekit.style import PALETTE

SIZES = (3, 4, 4, 2)
X = np.array([1.0, 0.5, -1.0])
TARGET = np.array([0.0, 1.0])
LR = 0.1
PARAMS = {  # W_l: (out, in), b_l: (out,)
    "W1": np.array([[0.6, -0.4, 0.2], [-0.3, 0.8, -0.5], [0.5, 0.3, 0.7], [-0.7, -0.2, 0.4]]),
    "b1": np.array([0.1, 0.0, 0.2, -0.1]),
    "W2": np.array([[0.5, 0.9, -0.3, 0.2], [-0.6, 0.4, 0.8, -0.1], [0.7, -0.5, 0.6, 0.3],
                    [0.2, 0.6, 0.4, -0.8]]),
    "b2": np.array([0.0, 0.1, -0.1, 0.2]),
    "W3": np.array([[0.8, -0.5, 0.4, 0.6], [-0.3, 0.7, 0.5, -0.4]]),
    "b3": np.array([0.1, 0.0]),
}
SUB = "₀₁₂₃"


def forward(params: dict, x: np.ndarray) -> dict:
    """Activations of every layer: a0 = x, a1 = h1, a2 = h2, a3 = y_hat; z_l before ReLU."""
    out = {"a0": x}
    for layer in (1, 2, 3):
        z = params[f"W{layer}"] @ out[f"a{layer - 1}"] + params[f"b{layer}"]
        out[f"z{layer}"] = z
        out[f"a{layer}"] = np.maximum(z, 0.0) if layer < 3 else z
    out["loss"] = 0.5 * float(np.sum((out["a3"] - TARGET) ** 2))
    return out


def backward(params: dict, acts: dict) -> dict:
    """delta_l = dL/dz_l for every layer and the gradient of every parameter."""
    grads = {"d3": acts["a3"] - TARGET}
    for layer in (3, 2, 1):
        d = grads[f"d{layer}"]
        grads[f"W{layer}"] = np.outer(d, acts[f"a{layer - 1}"])
        grads[f"b{layer}"] = d
        if layer > 1:
            grads[f"d{layer - 1}"] = (params[f"W{layer}"].T @ d) * (acts[f"z{layer - 1}"] > 0)
    return grads


def values() -> dict:
    """Everything the two animations show: forward pass, gradients, the step, the new loss."""
    acts = forward(PARAMS, X)
    grads = backward(PARAMS, acts)
    new = {k: p - LR * grads[k] for k, p in PARAMS.items()}
    return {"acts": acts, "grads": grads, "new_params": new, "new_acts": forward(new, X)}


def _layout(columns):
    """Node centres per layer, 40 px apart, centred on y = 135."""
    return [[(cx, 135 + 40 * ((n - 1) / 2 - i)) for i in range(n)]
            for cx, n in zip(columns, SIZES, strict=True)]


R = 16
DELTA = shade("purple", 1)  # text colour of gradients, dark enough on an orange node


def _edge(a, b, frac=1.0):
    """Point ``frac`` of the way from the rim of node a to the rim of node b."""
    a, b = np.array(a, float), np.array(b, float)
    d = (b - a) / np.linalg.norm(b - a)
    return lerp(a + d * R, b - d * R, frac)


def _fill(value: float, scale: float) -> str:
    """Lit nodes are orange, brighter for larger |value|; an exact zero stays unlit."""
    if value == 0:
        return PAPER
    return tint("orange", 1 / 7 + 4 / 7 * min(abs(value) / scale, 1.0))


def _weights(ax, pos, params, layer, style, t=1.0, old=None):
    """Edges into ``layer``: 'off' grey, 'on'/'lit' coloured by sign, 'grad' purple."""
    w = params[f"W{layer}"]
    for j, b in enumerate(pos[layer]):
        for i, a in enumerate(pos[layer - 1]):
            value = w[j, i] if old is None else lerp(old[f"W{layer}"][j, i], w[j, i], t)
            sign = "blue" if value > 0 else "red"
            colour = {"off": LIGHT, "lit": tint(sign, 3 / 7), "on": PALETTE[sign],
                      "grad": PALETTE["purple"], "gradlit": tint("purple", 3 / 7)}[style]
            ax.plot(*zip(_edge(a, b, 0), _edge(a, b, 1), strict=True), color=colour,
                    lw=0.5 + 2.0 * abs(value), zorder=1, solid_capstyle="butt")


def _nodes(ax, pos, acts, lit, deltas=None, dead_text=True):
    """Nodes of every layer; layers in ``lit`` show their activation, ``deltas`` their delta."""
    scale = max(float(np.abs(acts[f"a{k}"]).max()) for k in range(4))
    for layer, column in enumerate(pos):
        for i, xy in enumerate(column):
            if layer not in lit:
                node(ax, xy, R, face=PAPER, edge=GREY)
                continue
            a = float(acts[f"a{layer}"][i])
            d = None if deltas is None else deltas.get(layer)
            node(ax, xy, R, face=_fill(a, scale), edge=INK if a != 0 or layer == 0 else GREY)
            dy = 5 if d is not None else 0
            ax.text(xy[0], xy[1] + dy, num(a, 1 if layer == 0 else 2), ha="center", va="center", fontsize=6.5,
                    color=INK if a != 0 or not dead_text else GREY, zorder=4)
            if d is not None:
                ax.text(xy[0], xy[1] - 6, num(float(d[i])), ha="center", va="center",
                        fontsize=6.5, color=DELTA, fontweight="bold", zorder=4)


def _pulses(ax, pos, layer, t, colour, backwards=False):
    """Dots travelling along every edge between layer - 1 and layer."""
    for b in pos[layer]:
        for a in pos[layer - 1]:
            start, end = (b, a) if backwards else (a, b)
            dot(ax, _edge(start, end, ease(t)) if not backwards else _edge(end, start, 1 - ease(t)),
                colour, r=3)


LABELS = ["input x", "hidden h₁", "hidden h₂", "output ŷ"]


def _layer_labels(ax, pos, labels=LABELS):
    for column, label in zip(pos, labels, strict=True):
        ax.text(column[0][0], 48, label, ha="center", fontsize=SMALL, color=GREY)


def _legend(ax):
    ax.text(392, 242, "edges: blue w > 0, red w < 0", ha="right", va="top", fontsize=6.5,
            color=GREY)


def _vec(v, digits=2) -> str:
    return "[" + ", ".join(num(float(a), digits) for a in v) + "]"


# --- layers.gif -------------------------------------------------------------------------

LAYERS_POS = _layout((50, 150, 250, 350))


def draw_layers(fig, step) -> None:
    v = values()
    acts = v["acts"]
    ax = canvas(fig)
    title(ax, "Forward pass, layer by layer")
    _legend(ax)
    layer = 0 if step.phase == "input" else int(step.phase[-1])  # the layer being computed
    arriving = step.phase != "input" and step.t < 1
    lit = set(range(layer if arriving else layer + 1))
    for k in (1, 2, 3):
        style = "lit" if k < layer or (k == layer and not arriving) else "off"
        _weights(ax, LAYERS_POS, PARAMS, k, "on" if k == layer and arriving else style)
    if arriving:
        _pulses(ax, LAYERS_POS, layer, step.t, PALETTE["orange"])
    _nodes(ax, LAYERS_POS, acts, lit)
    _layer_labels(ax, LAYERS_POS)
    words, numbers = {
        0: ("the input layer holds the example's features", f"x = {_vec(X, 1)}"),
        1: ("hidden layer 1: weighted sums of x, then ReLU", f"h₁ = ReLU(W₁x + b₁) = {_vec(acts['a1'])}"),
        2: ("hidden layer 2: the same, applied to h₁", f"h₂ = ReLU(W₂h₁ + b₂) = {_vec(acts['a2'])}"),
        3: ("output layer: linear, no activation", f"ŷ = W₃h₂ + b₃ = {_vec(acts['a3'])}"),
    }[layer]
    caption(ax, words, y=31)
    caption(ax, numbers, y=13)


def build_layers() -> Animation:
    steps = timeline(("input", 1, 0, 1500),
                     *((f"layer{k}", 9, 80, 1500 if k < 3 else 2600) for k in (1, 2, 3)))
    return Animation("layers", draw_layers, steps)


# --- backprop.gif -----------------------------------------------------------------------

BACK_POS = _layout((38, 120, 202, 284))
LOSS = (356, 135)


def _loss_box(ax, text, face):
    ax.text(LOSS[0], LOSS[1] + 34, f"target y = {_vec(TARGET, 0)}", ha="center", fontsize=6.5,
            color=GREY)
    box(ax, LOSS, 62, 34, face=face, edge=PALETTE["red"], text=text, fontsize=SMALL)
    for xy in BACK_POS[3]:
        ax.plot(*zip(_edge(xy, LOSS, 0), (LOSS[0] - 31, LOSS[1]), strict=True), color=LIGHT,
                lw=1.0, zorder=1)


BACK_PHASES = ["forward", "loss", "back3", "back2", "back1", "update", "again"]


def draw_backprop(fig, step) -> None:
    v = values()
    acts, grads, new, new_acts = v["acts"], v["grads"], v["new_params"], v["new_acts"]
    ax = canvas(fig)
    title(ax, "Backpropagation and one gradient step")
    phase = BACK_PHASES.index(step.phase)
    moving = step.t < 1
    # which layers already show their delta (dL/dz), drawn in purple under the activation
    shown = {"forward": 0, "loss": 0, "back3": 1, "back2": 2, "back1": 3}.get(step.phase, 0)
    if not moving and step.phase in ("loss", "back3", "back2"):
        shown += 1
    deltas = {layer: grads[f"d{layer}"] for layer in (3, 2, 1)[:shown]}

    for k in (1, 2, 3):
        if step.phase == "update":
            _weights(ax, BACK_POS, new, k, "on", t=ease(step.t), old=PARAMS)
        elif step.phase == "again":
            _weights(ax, BACK_POS, new, k, "lit")
        elif step.phase == f"back{k}":
            _weights(ax, BACK_POS, PARAMS, k, "grad")
        elif phase >= 2 and k > int(step.phase[-1]):
            _weights(ax, BACK_POS, PARAMS, k, "gradlit")
        else:
            _weights(ax, BACK_POS, PARAMS, k, "lit")

    if step.phase == "again":  # the new forward pass sweeps from left to right
        reached = round(step.t * 3) + 1  # layers below this one show their new values
        shown_acts = {key: (new_acts if int(key[1]) < reached else acts)[key] for key in acts
                      if key != "loss"}
        _nodes(ax, BACK_POS, shown_acts, set(range(4)))
        loss_text = f"L = {num(acts['loss'])}" if moving else f"L = {num(new_acts['loss'])}"
        _loss_box(ax, loss_text, tint("green", 2 / 7) if not moving else tint("red", 2 / 7))
    else:
        _nodes(ax, BACK_POS, acts, set(range(4)), deltas if phase < 5 else None)
        _loss_box(ax, f"L = {num(acts['loss'])}", tint("red", 2 / 7))

    if step.phase == "update":  # one weight's value, as it moves
        a, b = BACK_POS[2][0], BACK_POS[3][0]
        ax.text(*_edge(a, b, 0.5), num(lerp(PARAMS["W3"][0, 0], new["W3"][0, 0], ease(step.t))),
                ha="center", va="center", fontsize=6.5, color=INK, zorder=6,
                bbox=dict(boxstyle="square,pad=0.15", fc=PAPER, ec=INK, lw=0.8))
    if step.phase == "loss" and moving:
        for xy in BACK_POS[3]:
            dot(ax, lerp((LOSS[0] - 31, LOSS[1]), _edge(xy, LOSS, 0), ease(step.t)),
                PALETTE["purple"], r=3)
    if step.phase.startswith("back") and moving:
        _pulses(ax, BACK_POS, int(step.phase[-1]), step.t, PALETTE["purple"], backwards=True)
    _layer_labels(ax, BACK_POS, ["input x", "h₁", "h₂", "output ŷ"])
    if phase in (1, 2, 3, 4):
        ax.text(LOSS[0], 98, "black: activation", ha="center", fontsize=6.5, color=INK)
        ax.text(LOSS[0], 86, "purple: δ = ∂L/∂z", ha="center", fontsize=6.5, color=DELTA,
                fontweight="bold")

    d3 = grads["d3"]
    w, g = PARAMS["W3"][0, 0], grads["W3"][0, 0]
    words, numbers = {
        "forward": ("after the forward pass: prediction ŷ and loss",
                    f"ŷ = {_vec(acts['a3'])},  L = ½‖ŷ − y‖² = {num(acts['loss'])}"),
        "loss": ("the loss's gradient at the output", f"δ₃ = ∂L/∂ŷ = ŷ − y = {_vec(d3)}"),
        "back3": ("back through W₃ and the ReLU of h₂;  ∂L/∂W₃ = δ₃h₂ᵀ",
                  f"δ₂ = (W₃ᵀδ₃) ⊙ ReLU′(z₂) = {_vec(grads['d2'])}"),
        "back2": ("back through W₂ and the ReLU of h₁;  ∂L/∂W₂ = δ₂h₁ᵀ",
                  f"δ₁ = (W₂ᵀδ₂) ⊙ ReLU′(z₁) = {_vec(grads['d1'])}"),
        "back1": ("the gradient of the first weights needs only δ₁ and x",
                  "∂L/∂W₁ = δ₁xᵀ,   ∂L/∂b₁ = δ₁"),
        "update": (f"one gradient-descent step on every weight and bias (η = {LR})",
                   f"W ← W − η ∂L/∂W;   boxed weight: {num(w)} − {LR}·{num(g)}"
                   f" = {num(new['W3'][0, 0])}"),
        "again": ("forward again with the new weights: the loss went down",
                  f"L = {num(acts['loss'])} → {num(new_acts['loss'])},   "
                  f"ŷ = {_vec(new_acts['a3'])}"),
    }[step.phase]
    caption(ax, words, y=31)
    caption(ax, numbers, y=13)


def build_backprop() -> Animation:
    steps = timeline(
        ("forward", 1, 0, 2000),
        ("loss", 6, 80, 1800),
        ("back3", 9, 80, 2000),
        ("back2", 9, 80, 2000),
        ("back1", 9, 80, 1800),
        ("update", 8, 90, 1500),
        ("again", 3, 400, 3000),
    )
    return Animation("backprop", draw_backprop, steps)

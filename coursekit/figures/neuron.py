"""``neuron.gif``: inputs times weights, the weighted sum, the bias, the activation, the output."""

from __future__ import annotations

import numpy as np

from coursekit.figures._draw import (
    GREY,
    INK,
    LIGHT,
    PAPER,
    SMALL,
    arrow,
    box,
    canvas,
    caption,
    dot,
    ease,
    lerp,
    node,
    num,
    tint,
    title,
)
from coursekit.figures._gif import Animation, timeline
from coursekit.style import PALETTE

X = np.array([0.5, -1.0, 2.0])  # (D,) inputs
W = np.array([0.8, -0.5, 0.3])  # (D,) weights
B = -0.8


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def values() -> dict[str, np.ndarray | float]:
    """Every number the animation shows, computed from X, W and B."""
    products = W * X
    s = float(products.sum())
    z = s + B
    return {"x": X, "w": W, "b": B, "products": products, "sum": s, "z": z,
            "a": float(sigmoid(z))}


INPUTS = [(48, 186), (48, 134), (48, 82)]
SUM, R_SUM = (210, 134), 22
BIAS = (210, 202)
ACT, ACT_SIZE = (288, 134), 50
OUT, R_OUT = (366, 134), 18
SUB = "₁₂₃"
ORDER = ["inputs", "multiply", "sum", "bias", "activate", "output"]


def _edge_point(i: int, frac: float):
    """Point ``frac`` of the way along the edge from input i to the rim of the sum node."""
    start, end = np.array(INPUTS[i], float), np.array(SUM, float)
    d = (end - start) / np.linalg.norm(end - start)
    return lerp(start + d * 16, end - d * R_SUM, frac)


def _sigmoid_point(z: float):
    """Where (z, sigmoid(z)) lies on the small plot inside the activation box, z in [-5, 5]."""
    half = ACT_SIZE / 2 - 5
    return (ACT[0] + z / 5 * half, ACT[1] - half + 2 * half * float(sigmoid(z)))


def _terms(values) -> str:
    """'0.40 + 0.50 − 0.30': a sum written with the signs between the terms."""
    text = num(values[0])
    for value in values[1:]:
        text += f" {'+' if value >= 0 else '−'} {num(abs(value))}"
    return text


def draw(fig, step) -> None:
    v = values()
    ax = canvas(fig)
    done = ORDER.index(step.phase)  # phases before this one are complete
    t = ease(step.t)
    title(ax, "One neuron:  y = σ(w·x + b)")

    # connections: colour gives the weight's sign, width its size
    for i, w in enumerate(W):
        colour = PALETTE["blue"] if w > 0 else PALETTE["red"]
        arrow(ax, _edge_point(i, 0), _edge_point(i, 1), colour=colour, lw=1 + 2.5 * abs(w))
        ax.text(*_edge_point(i, 0.3), f"w{SUB[i]} = {num(w, 1)}", fontsize=SMALL,
                color=colour, ha="center", va="center", zorder=4,
                bbox=dict(boxstyle="square,pad=0.1", fc=PAPER, ec="none"))
    for i, (xy, x) in enumerate(zip(INPUTS, X, strict=True)):
        node(ax, xy, 16, face=tint("sky", 3 / 7), text=num(x, 1))
        ax.text(xy[0] - 22, xy[1], f"x{SUB[i]}", ha="right", va="center", fontsize=SMALL + 1)
    ax.text(48, 55, "inputs", ha="center", fontsize=SMALL, color=GREY)

    # products travel along the connections, then into the sum
    for i, p in enumerate(v["products"]):
        if done == 1 and step.t < 1:
            dot(ax, _edge_point(i, lerp(0.0, 0.68, t)), PALETTE["orange"])
        elif done == 1:  # arrived: the dot becomes the product
            ax.text(*_edge_point(i, 0.68), num(p), fontsize=SMALL, ha="center", va="center",
                    color=INK, zorder=6,
                    bbox=dict(boxstyle="round,pad=0.2", fc=tint("orange", 3 / 7), ec="none"))
        elif done == 2 and step.t < 1:
            dot(ax, _edge_point(i, lerp(0.68, 1.0, t)), PALETTE["orange"])

    # bias and sum
    box(ax, BIAS, 66, 18, face=tint("green", 2 / 7), edge=PALETTE["green"], text=f"b = {num(B)}",
        fontsize=SMALL)
    arrow(ax, (BIAS[0], BIAS[1] - 9), (SUM[0], SUM[1] + R_SUM), colour=PALETTE["green"], lw=1.5)
    if done == 3 and step.t < 1:
        dot(ax, lerp((BIAS[0], BIAS[1] - 9), (SUM[0], SUM[1] + R_SUM), t), PALETTE["green"])
    summed = done > 2 or (done == 2 and step.t == 1)
    bias_added = done > 3 or (done == 3 and step.t == 1)
    if bias_added:
        inside, face, label = num(v["z"]), tint("green", 2 / 7), "z = w·x + b"
    elif summed:
        inside, face, label = num(v["sum"]), tint("orange", 2 / 7), "Σ wᵢxᵢ"
    else:
        inside, face, label = None, PAPER, "sum"
    node(ax, SUM, R_SUM, face=face)
    ax.text(SUM[0], SUM[1] + (6 if inside else 0), "Σ", ha="center", va="center", fontsize=11,
            zorder=4)
    if inside:
        ax.text(SUM[0], SUM[1] - 8, inside, ha="center", va="center", fontsize=SMALL, zorder=4)
    ax.text(SUM[0], SUM[1] - R_SUM - 12, label, ha="center", fontsize=SMALL, color=GREY)

    # activation: a small plot of the sigmoid with the neuron's z marked on it
    arrow(ax, (SUM[0] + R_SUM, SUM[1]), (ACT[0] - ACT_SIZE / 2, ACT[1]), lw=1.5)
    box(ax, ACT, ACT_SIZE, ACT_SIZE, face=PAPER, edge=INK, pad=4)
    zs = np.linspace(-5, 5, 60)
    pts = np.array([_sigmoid_point(z) for z in zs])
    ax.plot(pts[:, 0], pts[:, 1], color=PALETTE["blue"], lw=1.6, zorder=4)
    ax.plot([ACT[0] - 20, ACT[0] + 20], [ACT[1] - 20, ACT[1] - 20], color=LIGHT, lw=0.8, zorder=4)
    ax.text(ACT[0], ACT[1] - ACT_SIZE / 2 - 12, "σ(z)", ha="center", fontsize=SMALL, color=GREY)
    if done == 4:
        if step.t <= 0.5:
            dot(ax, lerp((SUM[0] + R_SUM, SUM[1]), (ACT[0] - ACT_SIZE / 2, ACT[1]), ease(2 * step.t)),
                PALETTE["green"])
        else:
            z_shown = lerp(-5.0, v["z"], ease(2 * step.t - 1))
            dot(ax, _sigmoid_point(z_shown), PALETTE["orange"], r=3.5)
    if done == 5:
        dot(ax, _sigmoid_point(v["z"]), PALETTE["orange"], r=3.5)

    # output
    arrow(ax, (ACT[0] + ACT_SIZE / 2, ACT[1]), (OUT[0] - R_OUT, OUT[1]), lw=1.5)
    if done == 5 and step.t < 1:
        dot(ax, lerp((ACT[0] + ACT_SIZE / 2, ACT[1]), (OUT[0] - R_OUT, OUT[1]), t), PALETTE["orange"])
    finished = done == 5 and step.t == 1
    node(ax, OUT, R_OUT, face=tint("orange", 4 / 7) if finished else PAPER,
         text=num(v["a"]) if finished else "y", fontsize=SMALL if finished else SMALL + 1)
    ax.text(OUT[0], OUT[1] - R_OUT - 12, "output y", ha="center", fontsize=SMALL, color=GREY)

    p = v["products"]
    words, numbers = {
        "inputs": ("inputs x and weights w (blue: positive, red: negative)",
                   f"x = [{', '.join(num(x, 1) for x in X)}],   "
                   f"w = [{', '.join(num(w, 1) for w in W)}]"),
        "multiply": ("multiply each input by its weight:  wᵢxᵢ",
                     ",   ".join(f"{num(w, 1)}·{num(x, 1) if x >= 0 else '(' + num(x, 1) + ')'}"
                                 f" = {num(q)}" for w, x, q in zip(W, X, p, strict=True))),
        "sum": ("add the products:  the weighted sum w·x",
                f"Σ wᵢxᵢ = {_terms(p)} = {num(v['sum'])}"),
        "bias": ("add the bias:  z = w·x + b",
                 f"z = {_terms([v['sum'], B])} = {num(v['z'])}"),
        "activate": ("apply the activation function σ to z",
                     f"a = σ(z) = 1 / (1 + e⁻ᶻ) = σ({num(v['z'])}) = {num(v['a'], 3)}"),
        "output": ("the activation is the neuron's output",
                   f"y = σ(w·x + b) = {num(v['a'], 3)}"),
    }[step.phase]
    caption(ax, words, y=33)
    caption(ax, numbers, y=14)


def build() -> Animation:
    steps = timeline(
        ("inputs", 1, 0, 1800),
        ("multiply", 9, 90, 1600),
        ("sum", 6, 90, 1600),
        ("bias", 6, 90, 1600),
        ("activate", 10, 90, 1600),
        ("output", 6, 90, 2800),
    )
    return Animation("neuron", draw, steps)

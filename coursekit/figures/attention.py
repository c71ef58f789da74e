"""``attention.gif``: scaled dot-product self-attention, one query at a time.

For query i: scores s_ij = q_i . k_j / sqrt(d), weights alpha_ij = softmax_j(s_ij), output
out_i = sum_j alpha_ij v_j. Vectors are drawn as strips of d cells (blue positive, red
negative); the numbers shown are the real scores and weights.
"""

from __future__ import annotations

import numpy as np

from coursekit.figures._draw import (
    GREY,
    INK,
    LIGHT,
    PAPER,
    SMALL,
    canvas,
    caption,
    cell,
    ease,
    num,
    tint,
    title,
)
from coursekit.figures._gif import Animation, timeline
from coursekit.style import PALETTE

TOKENS = ["the", "cat", "sat", "down"]
# "cat" looks for the verb, "sat" for its subject, "down" for the verb and itself
Q = np.array([[0.3, 0.2, 0.2], [-0.5, 1.5, 0.5], [1.5, 0.5, -0.5], [-0.5, 0.8, 1.5]])  # (T, d)
K = np.array([[1.0, -1.0, 0.0], [1.5, 0.5, -0.5], [-0.5, 1.5, 0.5], [0.0, -0.5, 1.5]])  # (T, d)
V = np.array([[1.0, 0.0, -0.5], [1.5, -1.0, 0.5], [-1.0, 1.5, 1.0], [0.5, 1.0, -1.5]])  # (T, d)
COLOUR_SCALE = 1.5  # |entry| drawn at full strength


def attention(q, k, v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores (T, T), weights (T, T) whose rows sum to 1, and outputs (T, d)."""
    scores = q @ k.T / np.sqrt(q.shape[1])
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights = e / e.sum(axis=1, keepdims=True)
    return scores, weights, weights @ v


ROWS = [182, 148, 114, 80]  # centre y of each token's row
CELL = 12
X_Q, X_TOKEN, X_K, X_SCORE, X_BAR, X_V, X_OUT = 12, 56, 104, 174, 198, 286, 352
BAR_MAX = 46


def _strip(ax, x0, y, vec, alpha=1.0, outline=None):
    """A vector as d cells; ``alpha`` < 1 pales it; ``outline`` draws a frame around it."""
    for c, value in enumerate(vec):
        level = min(abs(value) / COLOUR_SCALE, 1.0) * 5 / 7 * alpha
        face = PAPER if value == 0 else tint("blue" if value > 0 else "red", level)
        cell(ax, x0 + c * CELL, y - CELL / 2, CELL, face, edge=GREY if alpha == 1 else LIGHT,
             lw=0.6)
    if outline:
        ax.add_patch(_frame(x0, y, len(vec), outline))


def _frame(x0, y, n, colour):
    from matplotlib.patches import Rectangle

    return Rectangle((x0 - 2, y - CELL / 2 - 2), n * CELL + 4, CELL + 4, fill=False,
                     edgecolor=colour, lw=2.0, zorder=5)


def draw(fig, step) -> None:
    scores, weights, out = attention(Q, K, V)
    ax = canvas(fig)
    title(ax, "Attention: queries, keys and values")
    final = step.phase == "all"
    i = len(TOKENS) if final else int(step.phase[1])
    part = "" if final else step.phase.split("_")[1]
    orange = PALETTE["orange"]

    for x, text in ((X_Q + 18, "query q"), (X_K + 18, "key k"), (X_SCORE, "q·k / √d"),
                    (X_BAR + 28, "weight α"), (X_V + 18, "value v"), (X_OUT + 18, "output")):
        ax.text(x, 205, text, ha="center", fontsize=SMALL, color=GREY)
    for j, (token, y) in enumerate(zip(TOKENS, ROWS, strict=True)):
        current = j == i
        _strip(ax, X_Q, y, Q[j], alpha=1.0 if current else 0.35,
               outline=orange if current else None)
        ax.text(X_TOKEN, y, f"“{token}”", va="center", fontsize=SMALL + 0.5, color=INK,
                fontweight="bold" if current else "normal")
        _strip(ax, X_K, y, K[j], outline=orange if part == "scores" else None)
        _strip(ax, X_V, y, V[j])
        ax.text(X_V - 3, y, f"v{'₁₂₃₄'[j]}", ha="right", va="center", fontsize=6.5, color=GREY)
        if j < i or (j == i and part == "sum" and step.t == 1):
            _strip(ax, X_OUT, y, out[j])
        elif j == i and part == "sum":
            _strip(ax, X_OUT, y, out[j], alpha=ease(step.t))
        else:
            for c in range(K.shape[1]):
                cell(ax, X_OUT + c * CELL, y - CELL / 2, CELL, PAPER, edge=LIGHT, lw=0.6)

    if not final:
        for j, y in enumerate(ROWS):
            ax.text(X_SCORE, y, num(scores[i, j]), ha="center", va="center", fontsize=SMALL,
                    color=INK)
            if part in ("softmax", "sum"):
                grow = ease(step.t) if part == "softmax" else 1.0
                length = BAR_MAX * weights[i, j] * grow
                ax.add_patch(_bar(X_BAR, y, length))
                ax.text(X_BAR + length + 3, y, num(weights[i, j] * grow), va="center",
                        fontsize=SMALL, color=INK)
            if part == "sum":  # each value flows to the output with its weight
                start = np.array([X_V + 3 * CELL + 2, y])
                end = np.array([X_OUT - 2, ROWS[i]])
                tip = start + (end - start) * ease(step.t)
                ax.plot([start[0], tip[0]], [start[1], tip[1]], color=orange,
                        lw=0.5 + 5 * weights[i, j], zorder=1, solid_capstyle="butt")

    if final:
        words = "every token's output mixes the values of all tokens"
        numbers = "in matrix form:  Attention(Q, K, V) = softmax(QKᵀ / √d) V"
    elif part == "scores":
        words = f"the query of “{TOKENS[i]}” is compared with every key"
        numbers = (f"score = q·k / √d with d = {Q.shape[1]}:   "
                   + ",  ".join(num(s) for s in scores[i]))
    elif part == "softmax":
        words = "softmax turns the scores into weights that sum to 1"
        numbers = "α = softmax(scores) = [" + ", ".join(num(a) for a in weights[i]) + "]"
    else:
        words = f"the output for “{TOKENS[i]}” is the weighted sum of the values"
        numbers = "out = " + " + ".join(f"{num(weights[i, j])}·v{'₁₂₃₄'[j]}"
                                        for j in range(len(TOKENS)))
    caption(ax, words, y=31)
    caption(ax, numbers, y=13)


def _bar(x, y, length):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y - 5), max(length, 0.5), 10, facecolor=tint("orange", 4 / 7),
                     edgecolor=PALETTE["orange"], lw=0.8, zorder=2)


def build() -> Animation:
    phases = []
    for i in range(len(TOKENS)):
        phases += [(f"q{i}_scores", 1, 0, 1400), (f"q{i}_softmax", 4, 90, 1400),
                   (f"q{i}_sum", 4, 90, 1600)]
    return Animation("attention", draw, timeline(*phases, ("all", 1, 0, 3000)))

"""``activation.gif``: one input sweeps along x through five activation functions.

Each panel shows the output f(x) (dot) and the slope f'(x) (tangent line); where the
slope is almost zero the tangent turns red: the function saturates and passes almost no
gradient back.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.transforms import Bbox, TransformedBbox

from coursekit.figures._draw import INK, LABEL, PAPER, SMALL, canvas, num, title
from coursekit.figures._gif import HEIGHT, WIDTH, Animation, timeline
from coursekit.style import PALETTE

LEAK = 0.1  # leaky ReLU's slope for x < 0, large enough to see
SATURATED = 0.05  # |f'(x)| below this counts as saturated
X_MIN, X_MAX = -5.0, 5.0
N_FRAMES = 40
TANGENT_HALF = 1.6  # the tangent is drawn from x - 1.6 to x + 1.6


def _phi(x):  # standard normal CDF
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(x, float) / math.sqrt(2.0)))


def _pdf(x):
    return np.exp(-0.5 * np.asarray(x, float) ** 2) / math.sqrt(2 * math.pi)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name -> (f, f', y-limits); ReLU-like slopes at exactly 0 follow PyTorch (f'(0) = 0)
FUNCTIONS = {
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)), (-0.2, 1.2)),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, (-1.3, 1.3)),
    "ReLU": (lambda x: np.maximum(x, 0.0), lambda x: (np.asarray(x) > 0).astype(float), (-1.2, 5.2)),
    "leaky ReLU": (lambda x: np.where(x > 0, x, LEAK * x),
                   lambda x: np.where(np.asarray(x) > 0, 1.0, LEAK), (-1.2, 5.2)),
    "GELU": (lambda x: x * _phi(x), lambda x: _phi(x) + x * _pdf(x), (-1.2, 5.2)),
}


def inputs() -> np.ndarray:
    """The swept inputs: half-way between quarter steps, so no frame sits on a kink at 0."""
    step = (X_MAX - X_MIN) / N_FRAMES
    return X_MIN + step / 2 + step * np.arange(N_FRAMES)


# panel lower-left corners and size in pixels: 3 columns, 2 rows, the 6th cell is the key
_W, _H = 100, 70
_CELLS = dict(zip(FUNCTIONS, [(30, 140), (160, 140), (290, 140), (30, 30), (160, 30)],
                  strict=True))
_KEY = (290, 100)  # top-left of the key


def _to_px(name: str, x, y):
    """Pixel coordinates of data point (x, y) in the panel of function ``name``."""
    (left, bottom), (lo, hi) = _CELLS[name], FUNCTIONS[name][2]
    return (left + (np.asarray(x) - X_MIN) / (X_MAX - X_MIN) * _W,
            bottom + (np.asarray(y) - lo) / (hi - lo) * _H)


def background(fig) -> None:
    """What does not move: the panels with their curves, and the key."""
    ax = canvas(fig)
    title(ax, "Activations: output f(x) and slope f′(x)")
    xs = np.linspace(X_MIN, X_MAX, 201)
    for name, (f, _, ylim) in FUNCTIONS.items():
        left, bottom = _CELLS[name]
        pax = fig.add_axes((left / WIDTH, bottom / HEIGHT, _W / WIDTH, _H / HEIGHT))
        pax.plot(xs, f(xs), color=PALETTE["blue"], lw=1.6)
        pax.set_xlim(X_MIN, X_MAX)
        pax.set_ylim(*ylim)
        pax.set_xticks([-4, 0, 4])
        pax.set_yticks({"sigmoid": [0, 1], "tanh": [-1, 0, 1]}.get(name, [0, 2, 4]))
        pax.tick_params(labelsize=6.5, length=2, pad=1.5)
        pax.grid(True, color="#DDDDDD", lw=0.6, alpha=1.0)
        pax.set_title(name, fontsize=LABEL, pad=2, color=INK)
    left, top = _KEY
    rows = [("line", PALETTE["blue"], "f(x)"), ("dot", PALETTE["orange"], "output"),
            ("line", PALETTE["green"], "tangent: slope f′(x)"),
            ("line", PALETTE["red"], "f′ ≈ 0: saturated,")]
    for k, (kind, colour, text) in enumerate(rows):
        y = top - 17 - 13 * k
        if kind == "line":
            ax.plot([left, left + 14], [y, y], color=colour, lw=2)
        else:
            ax.plot([left + 7], [y], "o", ms=5, mfc=colour, mec=INK, mew=0.6)
        ax.text(left + 18, y, text, fontsize=SMALL - 0.5, va="center", color=INK)
    ax.text(left + 18, top - 17 - 13 * 4 + 2, "gradient vanishes", fontsize=SMALL - 0.5,
            va="center", color=INK)


def draw(fig, step) -> None:
    """What moves: in every panel the point (x, f(x)), its tangent and the two numbers."""
    x0 = float(inputs()[step.index])
    ax = canvas(fig)
    ax.text(_KEY[0], _KEY[1], f"x = {num(x0)}", fontsize=LABEL + 1, fontweight="bold",
            va="center")
    behind = dict(boxstyle="square,pad=0.05", fc=PAPER, ec="none")
    for name, (f, df, _) in FUNCTIONS.items():
        left, bottom = _CELLS[name]
        y0, slope = float(f(x0)), float(df(x0))
        saturated = abs(slope) < SATURATED
        colour = PALETTE["red"] if saturated else PALETTE["green"]
        tx = np.array([x0 - TANGENT_HALF, x0 + TANGENT_HALF])
        line = ax.plot(*_to_px(name, tx, y0 + slope * (tx - x0)), color=colour,
                       lw=2.2 if saturated else 1.6, zorder=3)
        line.set_clip_box(TransformedBbox(Bbox.from_bounds(left, bottom, _W, _H), ax.transform))
        ax.plot(*_to_px(name, x0, y0), "o", ms=5, mfc=PALETTE["orange"], mec=INK, mew=0.6,
                zorder=4)
        ax.text(left + 4, bottom + _H - 3, f"f = {num(y0)}", fontsize=SMALL - 0.5, va="top",
                color=INK, bbox=behind, zorder=5)
        ax.text(left + 4, bottom + _H - 15, f"f′ = {num(slope)}", fontsize=SMALL - 0.5, va="top",
                color=colour, fontweight="bold" if saturated else "normal", bbox=behind, zorder=5)


def build() -> Animation:
    steps = timeline(("sweep", N_FRAMES, 110, 110))
    first, last = steps[0], steps[-1]
    steps = (first.__class__(first.phase, first.t, 900, first.index), *steps[1:-1],
             last.__class__(last.phase, last.t, 900, last.index))
    return Animation("activation", draw, steps, background=background)

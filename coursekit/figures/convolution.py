"""``convolution.gif``: a 3x3 kernel slides with stride 2 over a zero-padded 5x5 image.

Each stop shows the window, the elementwise products window * K and their sum, the new
entry of the feature map. Deep-learning "convolution" is cross-correlation (the kernel
is not flipped); the output side is floor((H + 2P - K) / S) + 1.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from coursekit.figures._draw import (
    GREY,
    INK,
    LIGHT,
    PAPER,
    SMALL,
    canvas,
    caption,
    cell,
    num,
    tint,
    title,
)
from coursekit.figures._gif import Animation, timeline
from coursekit.style import PALETTE

IMAGE = np.array([[0, 0, 1, 3, 3],
                  [0, 1, 2, 3, 3],
                  [0, 1, 3, 3, 2],
                  [1, 2, 3, 2, 1],
                  [0, 1, 2, 1, 0]], dtype=float)  # (H, W)
KERNEL = np.array([[1, 0, -1],
                   [1, 0, -1],
                   [1, 0, -1]], dtype=float)  # (K, K): responds to left-to-right edges
PADDING, STRIDE = 1, 2


def output_size(size: int, kernel: int, padding: int, stride: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def cross_correlate(image, kernel, padding: int, stride: int) -> np.ndarray:
    """out[i, j] = sum(padded[i*S : i*S + K, j*S : j*S + K] * kernel), written out as loops."""
    padded = np.pad(image, padding)
    k = kernel.shape[0]
    rows = output_size(image.shape[0], k, padding, stride)
    cols = output_size(image.shape[1], k, padding, stride)
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = np.sum(padded[i * stride: i * stride + k, j * stride: j * stride + k] * kernel)
    return out


C = 20  # cell size in pixels
TOP = 212
INPUT_X, KERNEL_X, OUTPUT_X = 14, 180, 300
PRODUCTS_TOP = 122


def _signed(value: float, scale: float) -> str:
    """Blue for positive, red for negative, paler for smaller; zero is paper."""
    if value == 0:
        return PAPER
    return tint("blue" if value > 0 else "red", 1 / 7 + 3 / 7 * min(abs(value) / scale, 1.0))


def _grid(ax, x0, top, values, colour, texts=None, text_colour=INK, edge=GREY):
    for (r, c), v in np.ndenumerate(values):
        text = None if texts is None else texts[r][c]
        cell(ax, x0 + c * C, top - (r + 1) * C, C, colour(v), edge=edge, text=text,
             text_colour=text_colour)


def _outline(ax, x0, top, r, c, n, colour, lw=2.5, dashed=False):
    ax.add_patch(Rectangle((x0 + c * C, top - (r + n) * C), n * C, n * C, fill=False,
                           edgecolor=colour, lw=lw, zorder=6, ls="--" if dashed else "-"))


def _ints(values):
    return [[num(v, 0) for v in row] for row in values]


def draw(fig, step) -> None:
    out = cross_correlate(IMAGE, KERNEL, PADDING, STRIDE)
    n_out = out.shape[0]
    padded = np.pad(IMAGE, PADDING)
    n_pad, k = padded.shape[0], KERNEL.shape[0]
    ax = canvas(fig)
    title(ax, f"Convolution: {k}×{k} kernel, padding {PADDING}, stride {STRIDE}")
    position = int(step.phase[3:]) if step.phase.startswith("pos") else None
    summed = position is not None and step.t == 1

    # input with its padding ring (the ring is blank before the "pad" frame)
    image_scale = IMAGE.max()
    for (r, c), v in np.ndenumerate(padded):
        is_pad = not (PADDING <= r < n_pad - PADDING and PADDING <= c < n_pad - PADDING)
        x, y = INPUT_X + c * C, TOP - (r + 1) * C
        if is_pad and step.phase == "input":
            continue
        if is_pad:
            cell(ax, x, y, C, LIGHT, edge=GREY, text="0", text_colour=GREY)
        else:
            cell(ax, x, y, C, tint("sky", 1 / 7 + 4 / 7 * v / image_scale), edge=GREY,
                 text=num(v, 0))
    ax.text(INPUT_X + n_pad * C / 2, TOP - n_pad * C - 12,
            f"input {IMAGE.shape[0]}×{IMAGE.shape[1]}" + ("" if step.phase == "input" else
                                                          f", padded to {n_pad}×{n_pad}"),
            ha="center", fontsize=SMALL, color=GREY)

    # kernel
    scale = np.abs(KERNEL).max()
    _grid(ax, KERNEL_X, TOP, KERNEL, lambda v: _signed(v, scale), _ints(KERNEL))
    ax.text(KERNEL_X + k * C / 2, TOP - k * C - 12, "kernel K", ha="center", fontsize=SMALL,
            color=GREY)

    # output, filled up to the current position
    done = n_out * n_out if step.phase == "done" else (position or 0) + (1 if summed else 0)
    out_scale = np.abs(out).max()
    for idx in range(n_out * n_out):
        r, c = divmod(idx, n_out)
        filled = idx < done
        cell(ax, OUTPUT_X + c * C, TOP - (r + 1) * C, C,
             _signed(out[r, c], out_scale) if filled else PAPER, edge=GREY,
             text=num(out[r, c], 0) if filled else None)
    ax.text(OUTPUT_X + n_out * C / 2, TOP - n_out * C - 12, f"output {n_out}×{n_out}",
            ha="center", fontsize=SMALL, color=GREY)
    size = IMAGE.shape[0]
    ax.text(322, 118, "output side:", ha="center", fontsize=6.5, color=GREY)
    ax.text(322, 104, "⌊(H + 2P − K) / S⌋ + 1", ha="center", fontsize=7, color=INK)
    ax.text(322, 89, f"= ⌊({size} + 2·{PADDING} − {k}) / {STRIDE}⌋ + 1 = {n_out}",
            ha="center", fontsize=7, color=INK)

    if position is not None:
        r, c = divmod(position, n_out)
        window = padded[r * STRIDE: r * STRIDE + k, c * STRIDE: c * STRIDE + k]
        products = window * KERNEL
        if position > 0:  # where the window was: it jumps by the stride
            pr, pc = divmod(position - 1, n_out)
            _outline(ax, INPUT_X, TOP, pr * STRIDE, pc * STRIDE, k, GREY, lw=1.2, dashed=True)
        _outline(ax, INPUT_X, TOP, r * STRIDE, c * STRIDE, k, PALETTE["orange"])
        _outline(ax, OUTPUT_X, TOP, r, c, 1, PALETTE["orange"])
        pscale = max(np.abs(products).max(), 1.0)
        _grid(ax, KERNEL_X, PRODUCTS_TOP, products, lambda v: _signed(v, pscale), _ints(products))
        _outline(ax, KERNEL_X, PRODUCTS_TOP, 0, 0, k, PALETTE["orange"], lw=1.5)
        ax.text(KERNEL_X + k * C / 2, PRODUCTS_TOP - k * C - 12, "window ⊙ K", ha="center",
                fontsize=SMALL, color=GREY)
        words = (f"stop {position + 1} of {n_out * n_out}: multiply the window by K elementwise"
                 if not summed else "... and add the products: one entry of the feature map")
        numbers = f"out[{r}, {c}] = Σ window ⊙ K = " + (num(out[r, c], 0) if summed else "?")
    else:
        words, numbers = {
            "input": (f"a {size}×{size} image and a {k}×{k} kernel K",
                      "each output is the sum of one window ⊙ K (K is not flipped)"),
            "pad": (f"padding P = {PADDING}: a ring of zeros, so the kernel fits on edge pixels",
                    f"stride S = {STRIDE}: the window jumps {STRIDE} pixels at a time"),
            "done": ("feature map: |values| are large where brightness changes",
                     f"{n_out}×{n_out} outputs: ⌊({size} + 2·{PADDING} − {k}) / {STRIDE}⌋ + 1 = "
                     f"{n_out} per side"),
        }[step.phase]
    caption(ax, words, y=31)
    caption(ax, numbers, y=13)


def build() -> Animation:
    n = output_size(IMAGE.shape[0], KERNEL.shape[0], PADDING, STRIDE) ** 2
    stops = [(f"pos{i}", 2, 1100 if i < 2 else 600, 1100 if i < 2 else 600) for i in range(n)]
    steps = timeline(("input", 1, 0, 2200), ("pad", 1, 0, 2200), *stops, ("done", 1, 0, 3000))
    return Animation("convolution", draw, steps)

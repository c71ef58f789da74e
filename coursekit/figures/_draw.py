"""Drawing helpers shared by the figures: a canvas in pixel units and a few shapes.

Coordinates are pixels of the 400x250 frame, origin bottom-left, so a layout reads as
the picture it makes. Only colours of the GIF palette are used (see ``_gif.tint``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.transforms import Affine2D

from coursekit.figures._gif import DPI, HEIGHT, WIDTH, mix, shade, tint
from coursekit.style import PALETTE

INK = PALETTE["ink"]
PAPER = PALETTE["paper"]
GREY = PALETTE["grey"]
LIGHT = mix(PAPER, GREY, 0.25)  # light grey for inactive parts
TITLE, LABEL, SMALL = 10, 8.5, 7.5  # font sizes in points

__all__ = ["INK", "PAPER", "GREY", "LIGHT", "TITLE", "LABEL", "SMALL", "tint", "shade", "mix",
           "canvas", "title", "caption", "node", "box", "arrow", "dot", "lerp", "ease", "num",
           "cell"]


class Canvas:
    """Draws on the figure itself in pixel coordinates, like a bare Axes but much cheaper.

    Offers the three Axes methods the figures use: ``add_patch``, ``text`` and ``plot``.
    """

    def __init__(self, fig):
        self.fig = fig
        self.transform = Affine2D().scale(1 / DPI) + fig.dpi_scale_trans

    def add_patch(self, patch):
        patch.set_transform(self.transform)
        return self.fig.add_artist(patch)

    def text(self, x, y, s, **kwargs):
        return self.fig.text(x, y, s, transform=self.transform, **kwargs)

    def plot(self, xs, ys, fmt="-", **kwargs):
        marker = {"o": "o", "-": None}[fmt]
        line = Line2D(np.atleast_1d(xs), np.atleast_1d(ys), marker=marker,
                      linestyle="none" if marker else "-", transform=self.transform, **kwargs)
        return self.fig.add_artist(line)


def canvas(fig) -> Canvas:
    """The whole frame as a drawing surface in pixel units."""
    return Canvas(fig)


def title(ax, text: str) -> None:
    ax.text(10, HEIGHT - 8, text, ha="left", va="top", fontsize=TITLE, fontweight="bold",
            color=INK)


def caption(ax, text: str, y: float = 14, colour: str = INK) -> None:
    """One line of explanation centred at the bottom of the frame."""
    ax.text(WIDTH / 2, y, text, ha="center", va="center", fontsize=LABEL, color=colour)


def node(ax, xy, r, face=PAPER, edge=INK, text=None, text_colour=INK, lw=1.5,
         fontsize=SMALL, weight="normal"):
    ax.add_patch(Circle(xy, r, facecolor=face, edgecolor=edge, lw=lw, zorder=3))
    if text is not None:
        ax.text(xy[0], xy[1], text, ha="center", va="center", fontsize=fontsize,
                color=text_colour, zorder=4, fontweight=weight)


def box(ax, xy, w, h, face=PAPER, edge=INK, text=None, text_colour=INK, lw=1.5,
        fontsize=LABEL, pad=3):
    """A rounded box centred on ``xy``."""
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={pad}",
                                facecolor=face, edgecolor=edge, lw=lw, zorder=3))
    if text is not None:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=text_colour,
                zorder=4)


def cell(ax, x, y, size, face, edge=INK, text=None, text_colour=INK, lw=0.8, fontsize=SMALL):
    """A square cell with lower-left corner (x, y)."""
    w, h = (size, size) if np.isscalar(size) else size
    ax.add_patch(Rectangle((x, y), w, h, facecolor=face, edgecolor=edge, lw=lw, zorder=2))
    if text is not None:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
                color=text_colour, zorder=4)


def arrow(ax, start, end, colour=INK, lw=1.2, head=True, shrink=0.0, zorder=1):
    style = "-|>" if head else "-"
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9, color=colour,
                                 lw=lw, shrinkA=shrink, shrinkB=shrink, zorder=zorder))


def dot(ax, xy, colour, r=4.0):
    ax.add_patch(Circle(xy, r, facecolor=colour, edgecolor=INK, lw=0.6, zorder=5))


def lerp(a, b, t: float):
    """Point or number ``t`` of the way from ``a`` to ``b``."""
    return tuple(np.add(a, np.multiply(np.subtract(b, a), t))) if np.ndim(a) else a + (b - a) * t


def ease(t: float) -> float:
    """Smooth start and stop for movement, t in [0, 1]."""
    t = float(np.clip(t, 0.0, 1.0))
    return t * t * (3 - 2 * t)


def num(value: float, digits: int = 2) -> str:
    """A number for a label, with a true minus sign (and no '-0.00')."""
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")
    return text.replace("-", "\u2212")

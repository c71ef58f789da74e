"""Render an animation frame by frame with Agg and write it as a small, deterministic GIF.

Every frame is drawn from scratch by the figure's ``draw(fig, step)`` on a 400x250 Agg
canvas (no pyplot, no display), quantised without dithering to one fixed palette built
from ``coursekit.style.PALETTE`` (tints towards paper, shades towards ink, a grey ramp),
and written by Pillow with fixed options. The same code and library versions give the
same bytes; the versions are written into the GIF comment so a check can tell a stale
figure from a figure rendered by another matplotlib.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursekit.style import PALETTE

WIDTH, HEIGHT = 400, 250
DPI = 100
TINT_LEVELS = 7  # a colour at level k is k/7 of the way from paper to the full colour
_SHADES = (1 / 3, 2 / 3)  # towards ink, for dark text on coloured fills
_GREYS = 16
_BASES = ("blue", "orange", "green", "red", "purple", "sky", "yellow", "grey")


@dataclass(frozen=True)
class Step:
    """One frame: the phase it belongs to, its progress ``t`` in (0, 1] and how long it shows."""

    phase: str
    t: float
    duration_ms: int
    index: int = 0  # frame number within its phase


@dataclass(frozen=True)
class Animation:
    """A figure: ``draw(fig, step)`` draws one whole frame on an empty figure.

    With a ``background(fig)``, that part is drawn once and each frame's ``draw`` paints
    only what moves, on a transparent figure laid over it (for figures with many Axes,
    whose creation would dominate the time per frame).
    """

    name: str
    draw: Callable[..., None]
    steps: tuple[Step, ...]
    background: Callable[..., None] | None = None

    @property
    def n_frames(self) -> int:
        return len(self.steps)

    @property
    def durations(self) -> list[int]:
        return [s.duration_ms for s in self.steps]


def timeline(*phases: tuple[str, int, int, int]) -> tuple[Step, ...]:
    """Frames from ``(phase, n_frames, ms_per_frame, ms_on_last_frame)`` tuples.

    ``t`` runs 1/n, 2/n, ..., 1 so the first frame of a phase already differs from the
    last frame of the one before (GIF writers merge identical neighbours).
    """
    steps = []
    for phase, n, ms, hold_ms in phases:
        for i in range(n):
            steps.append(Step(phase, (i + 1) / n, hold_ms if i == n - 1 else ms, i))
    return tuple(steps)


def _hex(colour: str) -> np.ndarray:
    colour = colour.lstrip("#")
    return np.array([int(colour[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def mix(a: str, b: str, amount: float) -> str:
    """``amount`` of the way from colour ``a`` to colour ``b`` (hex strings)."""
    rgb = np.rint(_hex(a) * (1 - amount) + _hex(b) * amount).astype(int)
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def tint(name: str, level: float) -> str:
    """Palette colour ``name`` at ``level`` in [0, 1], snapped to the GIF palette's tints."""
    k = int(round(float(np.clip(level, 0.0, 1.0)) * TINT_LEVELS))
    return mix(PALETTE["paper"], PALETTE[name], k / TINT_LEVELS)


def shade(name: str, k: int = 1) -> str:
    """Palette colour ``name`` darkened towards ink (k = 1 or 2)."""
    return mix(PALETTE[name], PALETTE["ink"], _SHADES[k - 1])


def palette_colours() -> list[str]:
    """Every colour of the GIF palette (a figure drawn in these is reproduced exactly)."""
    colours = [PALETTE["paper"], PALETTE["ink"]]
    colours += [mix(PALETTE["ink"], PALETTE["paper"], i / (_GREYS - 1)) for i in range(1, _GREYS - 1)]
    for name in _BASES:
        colours += [tint(name, k / TINT_LEVELS) for k in range(1, TINT_LEVELS + 1)]
        colours += [shade(name, k) for k in (1, 2)]
    return list(dict.fromkeys(colours))  # drop duplicates, keep order


def _palette_image():
    from PIL import Image

    flat = [int(v) for c in palette_colours() for v in _hex(c)]
    flat += flat[-3:] * (256 - len(flat) // 3)  # pad to 256 entries with the last colour
    img = Image.new("P", (1, 1))
    img.putpalette(flat)
    return img


def render(anim: Animation) -> list[np.ndarray]:
    """Draw every frame of ``anim``: a list of (HEIGHT, WIDTH, 3) uint8 arrays."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from coursekit.style import apply_style

    frames = []
    with mpl.rc_context():
        mpl.rcdefaults()  # independent of the user's matplotlibrc
        apply_style()
        mpl.rcParams.update({"font.family": "DejaVu Sans", "mathtext.fontset": "dejavusans",
                             "axes.unicode_minus": True, "text.usetex": False})
        fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=PALETTE["paper"])
        canvas = FigureCanvasAgg(fig)
        background = None
        if anim.background is not None:
            anim.background(fig)
            canvas.draw()
            background = np.asarray(canvas.buffer_rgba())[..., :3].astype(float)
            fig.patch.set_alpha(0.0)
        for step in anim.steps:
            fig.clear()  # one figure (and renderer, whose text metrics are cached) for all frames
            anim.draw(fig, step)
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())
            if background is None:
                frames.append(rgba[..., :3].copy())
            else:  # straight alpha over the opaque background
                alpha = rgba[..., 3:] / 255.0
                mixed = rgba[..., :3] * alpha + background * (1.0 - alpha)
                frames.append(np.rint(mixed).astype(np.uint8))
    return frames


def library_versions() -> str:
    """The versions that decide the rendered pixels, as written into each GIF's comment."""
    import matplotlib
    import PIL
    from matplotlib import ft2font

    return (f"matplotlib {matplotlib.__version__}, freetype {ft2font.__freetype_version__}, "
            f"pillow {PIL.__version__}")


def quantize(frames: Sequence[np.ndarray]) -> list:
    """Frames as Pillow "P" images on the fixed palette (nearest colour, no dithering)."""
    from PIL import Image

    pal = _palette_image()
    return [Image.fromarray(f, "RGB").quantize(palette=pal, dither=Image.Dither.NONE)
            for f in frames]


def encode(anim: Animation, frames: Sequence[np.ndarray]) -> bytes:
    """The GIF file for ``frames`` (fixed palette, no dithering, fixed save options).

    ``optimize=True`` makes Pillow store each frame as its changed rectangle with the
    unchanged pixels transparent, which shrinks the files three- to fourfold.
    """

    images = quantize(frames)
    for i in range(1, len(images)):
        if images[i].tobytes() == images[i - 1].tobytes():
            raise ValueError(f"{anim.name}: frames {i - 1} and {i} ({anim.steps[i].phase!r}) are "
                             "identical; hold the first longer instead of repeating it")
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=anim.durations, loop=0, optimize=True, interlace=False,
                   comment=f"coursekit.figures {anim.name} ({library_versions()})")
    return buf.getvalue()


def write(anim: Animation, path: Path) -> bytes:
    """Render ``anim`` and write it to ``path``; returns the bytes written."""
    data = encode(anim, render(anim))
    path.write_bytes(data)
    return data


def decode(data: bytes) -> tuple[list[np.ndarray], list[int], str]:
    """Frames (RGB arrays), durations in ms and comment of a GIF file's bytes."""
    from PIL import Image, ImageSequence

    with Image.open(io.BytesIO(data)) as im:
        comment = im.info.get("comment", b"")
        frames, durations = [], []
        for frame in ImageSequence.Iterator(im):
            frames.append(np.asarray(frame.convert("RGB")))
            durations.append(int(frame.info.get("duration", 0)))
    return frames, durations, comment.decode("utf-8", "replace")

"""One palette and one look for every plot and figure in the course (matplotlib only)."""

from __future__ import annotations

# Colour-blind-safe (Okabe-Ito), in the order plots use them.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "red": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "grey": "#7F7F7F",
    "ink": "#222222",
    "paper": "#FFFFFF",
}
CYCLE = [PALETTE[k] for k in ("blue", "orange", "green", "red", "purple", "sky")]

RC = {
    "axes.prop_cycle": None,  # filled in by apply_style (needs matplotlib's cycler)
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 10,
    "figure.dpi": 100,
}


def apply_style() -> None:
    """Apply the course look to matplotlib (idempotent)."""
    import matplotlib as mpl
    from cycler import cycler

    rc = dict(RC, **{"axes.prop_cycle": cycler(color=CYCLE)})
    mpl.rcParams.update(rc)

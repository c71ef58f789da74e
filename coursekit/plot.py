"""Plots used across the notebooks: training curves, image grids, decision boundaries.

matplotlib only. Each function applies the course style; arrays may be NumPy arrays
or (CPU or GPU) PyTorch tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from coursekit.style import CYCLE, PALETTE, apply_style

# Keys of a history dict that are not per-epoch curves.
_NOT_CURVES = ("best_epoch", "epochs", "lr")


def _to_numpy(a: Any) -> np.ndarray:
    """NumPy view of an array-like, moving PyTorch tensors to the CPU first."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _history_dict(history: Any) -> dict[str, list[float]]:
    """Accept coursekit's history dict or a Keras ``History`` (whose ``.history`` is one)."""
    if hasattr(history, "history") and isinstance(history.history, Mapping):
        history = history.history
    if not isinstance(history, Mapping):
        raise ValueError(f"history must be the dict returned by fit, got {type(history).__name__}")
    h = dict(history)
    if "train_loss" not in h and "loss" in h:  # Keras names the training loss "loss"
        h["train_loss"] = h.pop("loss")
    if "train_loss" not in h:
        raise ValueError(f"history has no 'train_loss' (or Keras 'loss'); keys: {sorted(h)}")
    if len(h["train_loss"]) == 0:
        raise ValueError("history['train_loss'] is empty: nothing to plot")
    return h


def plot_history(
    history: Mapping[str, Any] | Any,
    metrics: Sequence[str] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Training and validation curves, one panel for the loss and one per metric.

    Args:
        history: the dict returned by ``coursekit.train.fit`` (``train_loss``,
            ``val_loss``, ``<metric>``, ``val_<metric>``, ``best_epoch``), or a Keras
            ``History``. Each curve is a list with one value per epoch.
        metrics: metric names to plot (without ``val_``); default all in ``history``.
        ax: one Axes per panel (the loss panel first); default a new figure.

    Returns:
        The Figure holding the panels. Panels show epochs 1..E on x; a dashed
        vertical line marks ``best_epoch`` (0-based in the history, so drawn at
        ``best_epoch + 1``) on panels with a validation curve.

    Raises:
        ValueError: not a history, no training loss, an unknown metric, or the wrong
            number of axes.
    """
    apply_style()
    h = _history_dict(history)
    available = [k for k in h if k not in ("train_loss", "val_loss", *_NOT_CURVES)
                 and not k.startswith("val_")]
    if metrics is None:
        metrics = available
    for m in metrics:
        if m not in h:
            raise ValueError(f"metric {m!r} is not in the history; available: {available}")
    panels = ["loss", *metrics]

    if ax is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != len(panels):
            raise ValueError(f"got {len(axes)} axes for {len(panels)} panels {panels}; pass one "
                             "Axes per panel, the loss first")
        fig = axes[0].figure

    for panel, a in zip(panels, axes, strict=True):
        train_key = "train_loss" if panel == "loss" else panel
        train = np.asarray(h[train_key], dtype=float)
        a.plot(np.arange(1, len(train) + 1), train, label="train", color=CYCLE[0])
        val = h.get(f"val_{panel}")
        if val is not None and len(val) > 0:
            val = np.asarray(val, dtype=float)
            a.plot(np.arange(1, len(val) + 1), val, label="validation", color=CYCLE[1])
        best = h.get("best_epoch")
        if best is not None and val is not None and len(val) > 0:  # best means best validation
            a.axvline(int(best) + 1, color=PALETTE["grey"], linestyle="--", linewidth=1,
                      label="best epoch")
        a.set_xlabel("epoch")
        a.set_ylabel(panel)
        a.set_title(panel)
        a.legend()
    fig.tight_layout()
    return fig


def image_grid(
    images: Any,
    labels: Any | None = None,
    preds: Any | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Show images in a grid, titled with their labels (and predictions).

    Args:
        images: (N, 1, H, W), (N, H, W) or (N, 3, H, W) (RGB, values in [0, 1]).
        labels: (N,) true classes, shown as titles.
        preds: (N,) predicted classes; titles become ``"label / pred"`` and wrong
            predictions are drawn in red.
        ncols: images per row.
        cmap: colour map for single-channel images.
        class_names: names to show instead of class numbers (indexed by class).

    Returns:
        The Figure; it has one Axes per image (N in all) plus hidden empty cells.

    Raises:
        ValueError: images of another shape, or labels/preds whose length is not N.
    """
    apply_style()
    x = _to_numpy(images)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        x = x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)  # (N, H, W) or (N, H, W, 3)
    elif x.ndim != 3:
        raise ValueError(f"images must be (N, 1, H, W), (N, 3, H, W) or (N, H, W); got shape "
                         f"{tuple(x.shape)}")
    n = len(x)
    if n == 0:
        raise ValueError("images is empty: nothing to show")
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be an integer >= 1, got {ncols!r}")
    tags = {}
    for name, value in (("labels", labels), ("preds", preds)):
        if value is not None:
            value = _to_numpy(value).reshape(-1)
            if len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries for {n} images; need one each")
            tags[name] = value

    def name_of(c: Any) -> str:
        return str(class_names[int(c)]) if class_names is not None else str(c)

    ncols = min(ncols, n)
    nrows = -(-n // ncols)  # ceiling division
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for i, a in enumerate(axes.flat):
        a.axis("off")
        if i >= n:
            continue
        a.imshow(x[i], cmap=cmap if x[i].ndim == 2 else None)
        if "labels" in tags and "preds" in tags:
            right = tags["labels"][i] == tags["preds"][i]
            a.set_title(f"{name_of(tags['labels'][i])} / {name_of(tags['preds'][i])}",
                        color=PALETTE["ink"] if right else PALETTE["red"], fontsize=8)
        elif tags:
            a.set_title(name_of(next(iter(tags.values()))[i]), fontsize=8)
    if "labels" in tags and "preds" in tags:
        fig.suptitle("label / prediction (wrong in red)", fontsize=9)
    fig.tight_layout()
    return fig


def decision_boundary(
    predict_fn: Callable[[np.ndarray], Any],
    X: Any,
    y: Any,
    ax: Axes | None = None,
    grid: int = 200,
    title: str | None = None,
) -> Axes:
    """Colour the plane by a classifier's prediction and scatter the data on top.

    Args:
        predict_fn: maps (M, 2) float32 points to (M,) class labels or (M, K) scores
            (K >= 2; the class is the argmax). A PyTorch model needs wrapping, e.g.
            ``lambda p: model(torch.from_numpy(p)).argmax(1)``.
        X: (N, 2) points.
        y: (N,) integer classes.
        ax: where to draw; default a new figure.
        grid: the plane is sampled on a ``grid`` x ``grid`` mesh (M = grid**2).
        title: optional title.

    Returns:
        The Axes drawn on: one filled contour (the regions) and one scatter (the data).

    Raises:
        ValueError: X not (N, 2), y not (N,), or predictions of the wrong shape.
    """
    apply_style()
    X, y = _to_numpy(X), _to_numpy(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must be (N, 2) points, got shape {tuple(X.shape)}")
    if y.shape != (len(X),):
        raise ValueError(f"y must be (N,) = ({len(X)},) classes, got shape {tuple(y.shape)}")
    if not isinstance(grid, int) or grid < 2:
        raise ValueError(f"grid must be an integer >= 2, got {grid!r}")

    margin = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 0.1
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
    mesh = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)  # (M, 2)
    out = _to_numpy(predict_fn(mesh))
    if out.ndim == 2 and out.shape[1] >= 2:
        out = out.argmax(axis=1)
    elif out.ndim == 2 and out.shape[1] == 1:
        raise ValueError("predict_fn returned (M, 1) scores: return class labels instead, e.g. "
                         "(scores[:, 0] > 0) for logits or (scores[:, 0] > 0.5) for probabilities")
    if out.shape != (len(mesh),):
        raise ValueError(f"predict_fn must map (M, 2) points to (M,) labels or (M, K) scores with "
                         f"M = {len(mesh)}; got shape {tuple(out.shape)}")

    k = int(max(out.max(), y.max())) + 1
    colors = [CYCLE[i % len(CYCLE)] for i in range(k)]
    cmap = ListedColormap(colors)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    levels = np.arange(k + 1) - 0.5  # one band per class
    ax.contourf(xx, yy, out.reshape(xx.shape), levels=levels, cmap=cmap, alpha=0.3)
    # Few points (XOR) need big markers to be seen; thousands need small ones not to hide the regions.
    marker_size = float(np.clip(4000 / len(X), 8, 80))
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=marker_size,
               edgecolors=PALETTE["ink"], linewidths=0.3)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title is not None:
        ax.set_title(title)
    return ax

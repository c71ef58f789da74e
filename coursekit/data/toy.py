"""Small offline datasets: scikit-learn's 8x8 digits and 2-D toy problems."""

from __future__ import annotations

import numpy as np

TOY_NAMES = ("moons", "circles", "spirals", "xor", "gaussians")


def digits(flat: bool = False, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, 10 classes).

    Args:
        flat: return each image as a row of 64 pixels instead of a 1-channel image.
        dtype: floating dtype of the pixels.

    Returns:
        X: (N, 1, 8, 8) images, or (N, 64) when ``flat``; pixel values in [0, 1].
        y: (N,) int64 labels 0..9.
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    bunch = load_digits()
    # The raw pixels are counts 0..16 (4x4 blocks of a 32x32 bitmap).
    X = (bunch.data / 16.0).astype(dtype)
    if not flat:
        X = X.reshape(-1, 1, 8, 8)  # (N, C=1, 8, 8)
    return X, bunch.target.astype(np.int64)


def _class_sizes(n: int, k: int) -> list[int]:
    """Split ``n`` examples over ``k`` classes as evenly as possible."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def _moons(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    t0 = rng.uniform(0, np.pi, sizes[0])
    t1 = rng.uniform(0, np.pi, sizes[1])
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    return [outer, inner]


def _circles(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    parts = []
    for radius, m in zip((1.0, 0.5), sizes, strict=True):
        t = rng.uniform(0, 2 * np.pi, m)
        parts.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    return parts


def _spirals(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    k = len(sizes)
    parts = []
    for j, m in enumerate(sizes):
        r = np.sqrt(rng.uniform(0.0, 1.0, m))  # sqrt: even density along the arm
        theta = 2 * np.pi * j / k + 3 * np.pi * r  # each arm turns 1.5 times
        parts.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
    return parts


def _xor(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    parts = []
    for j, m in enumerate(sizes):
        # Class 0 in quadrants where x0*x1 > 0, class 1 where x0*x1 < 0.
        quad_x = rng.choice([-1.0, 1.0], m)
        quad_y = quad_x if j == 0 else -quad_x
        pts = rng.uniform(0.05, 1.0, (m, 2)) * np.stack([quad_x, quad_y], axis=1)
        parts.append(pts)
    return parts


def _gaussians(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    centers = ring_centers(len(sizes), radius=1.0)
    return [np.repeat(c[None, :], m, axis=0) for c, m in zip(centers, sizes, strict=True)]


_MAKERS = {"moons": _moons, "circles": _circles, "spirals": _spirals, "xor": _xor,
           "gaussians": _gaussians}
_MULTICLASS = ("spirals", "gaussians")


def toy_2d(
    name: str, n: int = 400, noise: float = 0.1, seed: int = 0, *, k: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D classification toy set, classes balanced and examples shuffled.

    Args:
        name: ``"moons"`` (two interleaved half circles), ``"circles"`` (a ring around
            a smaller ring), ``"spirals"`` (``k`` interleaved arms), ``"xor"`` (opposite
            quadrants share a class), ``"gaussians"`` (``k`` blobs on the unit circle).
        n: number of examples N (at least ``k``).
        noise: standard deviation of Gaussian noise added to every coordinate. The
            clean shapes fit in [-1.5, 2.5] x [-1, 1.5]; ``noise=0`` gives exact shapes.
        seed: seed of the generator (results do not depend on global random state).
        k: number of classes K; only ``spirals`` and ``gaussians`` accept ``k != 2``.

    Returns:
        X: (N, 2) float32 points.
        y: (N,) int64 labels in 0..K-1.

    Raises:
        ValueError: unknown ``name`` (the message lists the valid ones) or bad ``n``,
            ``noise`` or ``k``.
    """
    if name not in _MAKERS:
        raise ValueError(f"unknown toy dataset {name!r}; choose one of {list(TOY_NAMES)}")
    if name not in _MULTICLASS and k != 2:
        raise ValueError(f"{name!r} has exactly 2 classes (got k={k}); "
                         f"only {list(_MULTICLASS)} take k")
    if k < 2:
        raise ValueError(f"k must be >= 2 classes, got {k}")
    if n < k:
        raise ValueError(f"n={n} is too small: need at least one example per class (k={k})")
    if noise < 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise}")

    rng = np.random.default_rng(seed)
    sizes = _class_sizes(n, k)
    parts = _MAKERS[name](rng, sizes)
    X = np.concatenate(parts, axis=0)
    y = np.concatenate([np.full(m, j, dtype=np.int64) for j, m in enumerate(sizes)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n)  # so that classes are not in blocks
    return X[order].astype(np.float32), y[order]


def ring_centers(k: int = 8, radius: float = 2.0) -> np.ndarray:
    """(K, 2) float32 centres of ``k`` points evenly spaced on a circle of ``radius``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    angles = 2 * np.pi * np.arange(k) / k
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def gaussian_mixture_2d(
    n: int, k: int = 8, radius: float = 2.0, std: float = 0.02, seed: int = 0
) -> np.ndarray:
    """Samples from ``k`` equal-weight Gaussians centred on a ring (the GAN toy target).

    A generator that covers only some of the ``ring_centers(k, radius)`` shows mode
    collapse at a glance.

    Args:
        n: number of samples N.
        k: number of modes K.
        radius: radius of the ring of centres.
        std: standard deviation of each mode (per coordinate).
        seed: seed of the generator.

    Returns:
        (N, 2) float32 samples.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    rng = np.random.default_rng(seed)
    centers = ring_centers(k, radius)
    which = rng.integers(0, k, n)
    X = centers[which] + std * rng.standard_normal((n, 2))
    return X.astype(np.float32)

"""A synthetic seasonal time series and the windowing that turns it into examples."""

from __future__ import annotations

import numpy as np


def seasonal_series(
    n: int = 1000,
    period: int = 50,
    trend: float = 0.001,
    noise: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """A noisy seasonal series with a linear trend.

    ``s[t] = trend * t + sin(2 pi t / period) + 0.5 sin(4 pi t / period) + noise * e[t]``
    with ``e[t]`` standard normal: a season with a second harmonic (so it is not a pure
    sine), a slow drift, and noise the forecaster cannot predict.

    Args:
        n: length T of the series.
        period: length of one season, in steps.
        trend: drift per step (0 for a stationary series).
        noise: standard deviation of the noise.
        seed: seed of the generator.

    Returns:
        (T,) float32 series.
    """
    if n < 1 or period < 1:
        raise ValueError(f"n and period must be >= 1, got n={n}, period={period}")
    if noise < 0:
        raise ValueError(f"noise is a standard deviation and must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    phase = 2 * np.pi * t / period
    s = trend * t + np.sin(phase) + 0.5 * np.sin(2 * phase) + noise * rng.standard_normal(n)
    return s.astype(np.float32)


def make_windows(
    series: np.ndarray, window: int, horizon: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Slide a window over a series: each ``window`` steps predict the next ``horizon``.

    Args:
        series: (T,) values.
        window: input length W.
        horizon: number of future steps to predict.

    Returns:
        X: (N, W) inputs, ``X[i] = series[i : i + W]``.
        y: (N, horizon) targets, ``y[i] = series[i + W : i + W + horizon]``,
        with N = T - W - horizon + 1, in the dtype of ``series``.

    Raises:
        ValueError: ``series`` is not 1-D, or too short for one window and its horizon.
    """
    series = np.asarray(series)
    if series.ndim != 1:
        raise ValueError(f"series must be 1-D (T,), got shape {series.shape}")
    if window < 1 or horizon < 1:
        raise ValueError(f"window and horizon must be >= 1, got {window} and {horizon}")
    n = len(series) - window - horizon + 1
    if n < 1:
        raise ValueError(
            f"series of length {len(series)} is too short for window={window} + "
            f"horizon={horizon}"
        )
    views = np.lib.stride_tricks.sliding_window_view(series, window + horizon)  # (N, W + h)
    X = views[:, :window].copy()
    y = views[:, window:].copy()
    return X, y

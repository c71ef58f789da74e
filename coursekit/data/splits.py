"""Train/validation/test splits, k-fold indices and a seeded PyTorch DataLoader."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # annotations only; torch is imported when a loader is made
    from torch.utils.data import DataLoader


class Split(NamedTuple):
    """Six arrays; unpack in this order or use the names."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must be arrays with one row per example, not scalars")
    if len(X) != len(y):
        raise ValueError(f"X and y must have one row per example: got {len(X)} rows in X "
                         f"and {len(y)} in y")
    if len(X) == 0:
        raise ValueError("X and y are empty")
    return X, y


def train_val_test_split(
    X: np.ndarray,
    y: np.ndarray,
    val: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    stratify: bool = True,
) -> Split:
    """Shuffle and split a dataset three ways.

    Args:
        X: (N, ...) inputs.
        y: (N, ...) targets.
        val, test: fractions of the examples for validation and test (each in [0, 1),
            together below 1); the rest is for training.
        seed: seed of the shuffle.
        stratify: keep each class's share the same in all three parts (``y`` must then
            hold class labels, shape (N,)). Sizes are rounded per class, so a part's
            size may differ from ``fraction * N`` by up to the number of classes.

    Returns:
        ``Split(X_train, y_train, X_val, y_val, X_test, y_test)``: a named tuple, so both
        ``X_tr, y_tr, X_va, y_va, X_te, y_te = train_val_test_split(X, y)`` and
        ``split.X_val`` work. Rows keep their dtype; the order within a part is random.

    Raises:
        ValueError: mismatched lengths, bad fractions, or an empty training part.
    """
    X, y = _check_xy(X, y)
    for name, frac in (("val", val), ("test", test)):
        if not 0 <= frac < 1:
            raise ValueError(f"{name}={frac} must be a fraction in [0, 1)")
    if val + test >= 1:
        raise ValueError(f"val + test = {val + test} leaves nothing to train on; keep it below 1")

    rng = np.random.default_rng(seed)
    if stratify:
        if y.ndim != 1:
            raise ValueError(f"stratify=True needs class labels y of shape (N,), got {y.shape}; "
                             "pass stratify=False for other targets")
        groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    else:
        groups = [np.arange(len(y))]

    parts: list[list[np.ndarray]] = [[], [], []]
    for idx in groups:
        idx = rng.permutation(idx)
        n_test = int(round(test * len(idx)))
        n_val = int(round(val * len(idx)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    train, val_idx, test_idx = (rng.permutation(np.concatenate(p)) for p in parts)
    if len(train) == 0:
        raise ValueError(f"no examples left for training out of {len(y)}")
    return Split(X[train], y[train], X[val_idx], y[val_idx], X[test_idx], y[test_idx])


def kfold_indices(
    n: int, k: int, shuffle: bool = True, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Indices for k-fold cross-validation.

    The N indices are split into ``k`` folds whose sizes differ by at most one (the
    first ``n % k`` folds get the extra example); fold i is the validation part of
    round i and the other folds are its training part.

    Args:
        n: number of examples N.
        k: number of folds, 2 <= k <= N.
        shuffle: shuffle before splitting (otherwise folds are contiguous blocks).
        seed: seed of the shuffle.

    Returns:
        A list of ``k`` pairs ``(train_idx, val_idx)`` of int64 arrays; each index is in
        exactly one ``val_idx``, and ``train_idx`` is sorted.
    """
    if not isinstance(n, (int, np.integer)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"n and k must be integers, got {n!r} and {k!r}")
    if k < 2:
        raise ValueError(f"k={k}: cross-validation needs at least 2 folds")
    if k > n:
        raise ValueError(f"k={k} folds need at least k examples, got n={n}")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    folds = np.array_split(order.astype(np.int64), k)
    out = []
    for i, val_idx in enumerate(folds):
        train_idx = np.sort(np.concatenate([f for j, f in enumerate(folds) if j != i]))
        out.append((train_idx, val_idx))
    return out


def make_loader(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
) -> DataLoader:
    """A PyTorch DataLoader over arrays, reproducible for a given seed.

    Args:
        X: (N, ...) inputs; become float32 tensors.
        y: (N, ...) targets; integer labels become int64 (what ``cross_entropy``
            wants), anything else float32 (regression, reconstruction targets).
        batch_size: B; the last batch may be smaller.
        shuffle: reshuffle every epoch. The order comes from a generator seeded with
            ``seed``, so a rerun of the notebook sees the same batches.
        seed: seed of that generator.

    Returns:
        A DataLoader yielding ``(xb, yb)`` with xb (B, ...) and yb (B, ...) on the CPU.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    X, y = _check_xy(X, y)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    y_dtype = torch.int64 if np.issubdtype(y.dtype, np.integer) else torch.float32
    dataset = TensorDataset(torch.as_tensor(X, dtype=torch.float32),
                            torch.as_tensor(y, dtype=y_dtype))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=int(batch_size), shuffle=shuffle, generator=generator)

"""Offline datasets, splits and loaders (NumPy at import; torch only in ``make_loader``).

- ``digits``: scikit-learn's bundled 8x8 digits.
- ``toy_2d``, ``gaussian_mixture_2d``, ``ring_centers``: 2-D toy problems.
- ``seasonal_series``, ``make_windows``: a synthetic time series and its windows.
- ``text_corpus``: a small public-domain text shipped with the package.
- ``train_val_test_split``, ``kfold_indices``, ``make_loader``: splitting and batching.
- ``load_idx``, ``load_mnist``, ``DataError``: MNIST-format files from disk or a URL.
"""

from coursekit.data.idx import (
    CLASS_NAMES,
    DataError,
    default_cache_dir,
    load_idx,
    load_mnist,
    parse_idx,
)
from coursekit.data.series import make_windows, seasonal_series
from coursekit.data.splits import Split, kfold_indices, make_loader, train_val_test_split
from coursekit.data.text import CORPORA, text_corpus
from coursekit.data.toy import TOY_NAMES, digits, gaussian_mixture_2d, ring_centers, toy_2d

__all__ = [
    "CLASS_NAMES",
    "CORPORA",
    "DataError",
    "Split",
    "TOY_NAMES",
    "default_cache_dir",
    "digits",
    "gaussian_mixture_2d",
    "kfold_indices",
    "load_idx",
    "load_mnist",
    "make_loader",
    "make_windows",
    "parse_idx",
    "ring_centers",
    "seasonal_series",
    "text_corpus",
    "toy_2d",
    "train_val_test_split",
]

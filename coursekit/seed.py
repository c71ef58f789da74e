"""One call to make a notebook's random numbers repeatable."""

from __future__ import annotations

import importlib.util
import os
import random
import sys

import numpy as np


def seed_everything(seed: int = 0) -> int:
    """Seed every random number generator the course uses; returns ``seed``.

    Seeds Python's ``random``, NumPy's global generator, PyTorch (CPU and, when present,
    all CUDA devices) and TensorFlow/Keras. Also sets ``PYTHONHASHSEED`` so that child
    processes (e.g. DataLoader workers) hash strings the same way on every run.

    PyTorch is imported if it is installed (about a second). TensorFlow is seeded only
    if ``tensorflow`` or ``keras`` is already imported, because importing it takes
    seconds and prints warnings, which a PyTorch-only notebook should not pay for.
    So in a Keras notebook, **import keras/tensorflow first, then call this**.

    Args:
        seed: a non-negative integer below 2**32 (NumPy's limit).

    Raises:
        ValueError: ``seed`` is not an integer in [0, 2**32).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)

    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)  # the CPU and every CUDA/MPS device

    if "keras" in sys.modules:
        # Seeds Python, NumPy and Keras' backend (TensorFlow, JAX or torch) together.
        sys.modules["keras"].utils.set_random_seed(seed)
    if "tensorflow" in sys.modules:
        # Also when Keras runs on another backend but TensorFlow is used directly.
        sys.modules["tensorflow"].random.set_seed(seed)
    return seed

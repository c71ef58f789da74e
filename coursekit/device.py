"""Pick the compute device and the number of CPU threads.

PyTorch is imported inside the functions, never at module import, so ``import coursekit``
and NumPy-only notebooks stay fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for annotations only; no runtime import of torch
    import torch

DEVICE_ENV = "COURSEKIT_DEVICE"
THREADS_ENV = "COURSEKIT_THREADS"

# Chosen from benchmarks/threads.py (see configure_threads' docstring for the numbers).
DEFAULT_THREADS = 1

_ORDER = ("cuda", "mps", "cpu")


def available_devices() -> list[str]:
    """Device types PyTorch can use here, best first, e.g. ``["cuda", "cpu"]``."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on: cuda > mps > cpu, unless asked otherwise.

    Args:
        prefer: ``"auto"``/``None`` for the best available, or an explicit device
            (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a ``torch.device``). Wins
            over the environment.

    The environment variable ``COURSEKIT_DEVICE`` (e.g. ``COURSEKIT_DEVICE=cpu``) sets the
    choice when ``prefer`` is not given, e.g. to force the CPU on a GPU machine.

    Also applies :func:`configure_threads`' default (PyTorch CPU threads).

    Returns:
        A ``torch.device``. Never requires a GPU: without one this is the CPU.

    Raises:
        ValueError: an explicit request for a device that is not available here (the
            message names the ones that are) or a string that is not a device.
    """
    import torch

    request = str(prefer) if prefer is not None else os.environ.get(DEVICE_ENV, "")
    request = request.strip().lower()
    found = available_devices()
    # The notebooks' setup cell calls this once: the place to apply the measured thread default.
    configure_threads()
    if request in ("", "auto"):
        return torch.device(found[0])

    source = "prefer" if prefer is not None else f"${DEVICE_ENV}"
    try:
        device = torch.device(request)
    except RuntimeError as err:
        raise ValueError(
            f"{source}={request!r} is not a device name; use one of {found} or 'auto'"
        ) from err
    if device.type not in found:
        raise ValueError(
            f"{source}={request!r} asks for {device.type}, which is not available here; "
            f"available: {found}. Use 'auto' (or unset {DEVICE_ENV}) to pick the best one."
        )
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise ValueError(
                f"{source}={request!r}: only {count} CUDA device(s) here "
                f"(indices 0..{count - 1})"
            )
    return device


def configure_threads(n: int | None = None) -> int:
    """Set PyTorch's intra-op CPU threads; returns the number now in use.

    Args:
        n: threads to use. ``None`` reads ``COURSEKIT_THREADS`` and otherwise uses
            ``DEFAULT_THREADS`` (1), capped at the number of cores.

    Why one thread by default: the course's models are tiny (batches of 64 through
    layers of a few hundred units), so an op takes microseconds to milliseconds and
    splitting it over OpenMP threads saves little. On 2-core machines (Colab's CPU
    runtime; this course's reference machine) the second thread competes with the
    notebook kernel, the browser and other processes, and OpenMP threads wait for each
    other at every op, so one preempted thread stalls them all. ``benchmarks/threads.py``
    timed one Adam training step (batch 64) of an MLP (64-128-128-10) and a small CNN
    (two 3x3 convolutions on 8x8 images) on the reference machine (2 cores, PyTorch 2.13),
    ms per step over 5-7 fresh processes x 200 steps::

        machine                 model   1 thread: median  p90   2 threads: median    p90
        quiet                   MLP               0.85   1.03              0.84     1.06
        quiet                   CNN               4.98   6.75              3.39     4.72
        + 1 busy process        MLP               0.65   0.96              1.18     5.84
        + 1 busy process        CNN               4.80   6.36              8.25    14.09
        shared (load 2-5)       MLP               0.81   1.08              0.95     3.09
        shared (load 2-5)       CNN               5.12   8.85              5.28   154.21
        shared + 1 busy         MLP               0.75   4.90              1.21   135.81
        shared + 1 busy         CNN              13.22  30.40             21.74   410.11

    Two threads win only on a quiet machine, and only for the CNN (1.5x). As soon as
    anything else runs they lose: medians up to 1.8x slower and a slow tail (p90) 2-30x
    worse, the "5-10x slower at random" seen in notebooks. One thread stays steady.

    Set ``COURSEKIT_THREADS`` (or pass ``n``) to use more threads for larger models
    on machines with more cores. Has no effect on the GPU.

    Raises:
        ValueError: ``n`` (or ``COURSEKIT_THREADS``) is not a positive integer.
    """
    import torch

    if n is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if raw:
            try:
                n = int(raw)
            except ValueError:
                raise ValueError(
                    f"${THREADS_ENV}={raw!r} is not an integer; set it to e.g. 1 or unset it"
                ) from None
            source = f"${THREADS_ENV}"
        else:
            n = min(DEFAULT_THREADS, os.cpu_count() or 1)
            source = "default"
    else:
        source = "n"
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{source}={n!r}: the number of threads must be an integer >= 1")
    torch.set_num_threads(n)
    return torch.get_num_threads()

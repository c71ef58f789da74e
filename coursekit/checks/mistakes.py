"""Known mistakes built from a correct implementation: its answer with one part changed; and the
exercise every loss shares (it returns ``(loss, grad)`` and invites the same mistakes).

    wrong=[*loss_mistakes(_mae),                                   # the mistakes every loss invites
           (replaced(_grads, 2, lambda dout, *rest: dout.sum(axis=(2, 3))), DB_HINT),
           (rescaled(_huber, lambda yp, y, delta=1.0: 1 / delta), SMOOTH_L1_HINT)]

Each builder returns a function with the reference's signature (an ``Exercise``'s ``wrong``
entries): it calls the reference on the same arguments, then changes its answer. A builder's
``fn`` or ``factor`` may return None where the mistake does not apply: the mistake then answers
None, which explains nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coursekit.checks.exercise import Exercise

__all__ = ["replaced", "rescaled", "reordered", "loss_mistakes", "loss_exercise", "MEAN",
           "GRAD_MEAN", "GRAD_SIGN"]

MEAN = ("the loss is the mean over the batch, not the sum: divide by the number of elements "
        "(and each gradient entry too)")
GRAD_MEAN = "the loss is a mean, so each entry of its gradient carries the factor 1/N too"
GRAD_SIGN = ("the gradient is d loss / d (first argument), pointing uphill: you have its negative "
             "(check the order of a subtraction such as y_pred - y or sigmoid(z) - y)")


def replaced(reference: Callable, part: int, fn: Callable) -> Callable:
    """``reference``'s tuple answer with part ``part`` replaced by ``fn(*args, **kwargs)``."""

    def mistake(*args: Any, **kwargs: Any) -> Any:
        value = fn(*args, **kwargs)
        if value is None:
            return None
        answer = list(reference(*args, **kwargs))
        answer[part] = value
        return tuple(answer)

    return mistake


def rescaled(reference: Callable, factor: Callable, parts: Sequence[int] | None = None) -> Callable:
    """``reference``'s answer times ``factor(*args, **kwargs)``: every part of a tuple answer, or
    only those at ``parts``."""

    def mistake(*args: Any, **kwargs: Any) -> Any:
        scale = factor(*args, **kwargs)
        if scale is None:
            return None
        answer = reference(*args, **kwargs)
        if not isinstance(answer, tuple):
            return scale * answer
        return tuple(v * scale if parts is None or i in parts else v for i, v in enumerate(answer))

    return mistake


def reordered(reference: Callable, order: Sequence[int]) -> Callable:
    """``reference``'s tuple answer with its parts in another ``order`` (``(1, 0)``: swapped)."""

    def mistake(*args: Any, **kwargs: Any) -> tuple:
        answer = reference(*args, **kwargs)
        return tuple(answer[i] for i in order)

    return mistake


def loss_mistakes(reference: Callable, count: Callable[[Any], float] = np.size) -> list:
    """The mistakes every loss that returns ``(loss, grad)`` invites, its mean taken over
    ``count(first argument)`` items: the gradient without the mean's 1/N, the sum instead of the
    mean, the gradient's sign flipped. The gradient-only mistake comes first: a diagnosis names
    the first mistake that matches, and a sum gives that gradient too."""

    def n(first: Any, *rest: Any, **kwargs: Any) -> float:
        return count(first)

    return [(rescaled(reference, n, parts=(1,)), GRAD_MEAN), (rescaled(reference, n), MEAN),
            (rescaled(reference, lambda *args, **kwargs: -1.0, parts=(1,)), GRAD_SIGN)]


def loss_exercise(name: str, signature: str, reference: Callable, grad_of: str,
                  hint: dict[str, str], wrong: Sequence = (), *, numpy_reference: Callable,
                  count: Callable[[Any], float] = np.size, **kwargs: Any) -> Exercise:
    """A loss that returns ``(loss, grad)``: the loss as a float, ``grad`` = d loss / d (first
    argument), of the shape ``grad_of`` describes. Its known mistakes are ``wrong``, then
    :func:`loss_mistakes` of ``numpy_reference`` (a correct implementation to build them from)."""
    return Exercise(name, signature=signature, reference=reference, returns=("loss", "grad"),
                    hints={"": "return a tuple (loss, grad): the loss as a float, the gradient "
                               "as an array",
                           "loss": "return the loss as one number: float(np.mean(...))",
                           "grad.shape": f"the gradient has the shape of {grad_of}"},
                    hint=hint, wrong=[*wrong, *loss_mistakes(numpy_reference, count)], **kwargs)

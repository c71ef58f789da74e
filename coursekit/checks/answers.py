"""What an answer is, and how it reads in a message: the vocabulary the comparisons share.

Tensors are recognised by duck typing (nothing here imports torch or TensorFlow); a value's
precision is the dtype it was computed in; a nested answer (tuples of arrays, lists of tuples) is
walked part by part, each part named ("grad", "result[1]"). ``Failure`` is what a comparison
returns when it finds a difference, ``Wrong`` the known mistakes that can explain one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Wrong = Sequence[tuple[Any, str]] | Callable[[], Sequence[tuple[Any, str]]]
LOW_PRECISIONS = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class Tolerance:
    """``|got - expected| <= atol * scale + rtol * |expected|`` with scale = max(1, max |expected|):
    an absolute tolerance relative to the answer's size, written once for every check."""

    rtol: float = 1e-6
    atol: float = 1e-9


@dataclass
class Failure:
    where: str      # the part of the answer that failed ("grad", "out[1]"), "" for the whole
    detail: str
    hint: str
    tolerance: str = ""

    def subcheck(self, base: str) -> str:
        return f"{base} ({self.where})" if self.where else base


def is_tensor(value: Any) -> bool:
    # Duck-typed so that nothing here imports torch or tensorflow.
    return (type(value).__module__.split(".")[0] in {"torch", "tensorflow"}
            and hasattr(value, "shape") and hasattr(value, "dtype"))


def to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # torch.Tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    if hasattr(value, "numpy"):  # tf.Tensor
        return np.asarray(value.numpy())
    return np.asarray(value)


def precision(value: Any) -> str:
    """The floating-point precision a value was computed in: "float64", "float32", ..."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return "float64"  # a Python float or int
    name = str(dtype).removeprefix("torch.")
    return name if name in LOW_PRECISIONS else "float64"


def _fmt(v: Any) -> str:
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return repr(v)


def summarize(value: Any, max_items: int = 6) -> str:
    """A short, readable rendering of a value for failure messages (never the whole answer)."""
    if isinstance(value, np.ndarray) or is_tensor(value):
        arr = to_numpy(value)
        if arr.ndim == 0:
            return f"{arr.item():.6g}"
        flat = arr.reshape(-1)
        shown = ", ".join(_fmt(v) for v in flat[:max_items])
        more = ", ..." if flat.size > max_items else ""
        return (f"{type(value).__name__} shape {tuple(arr.shape)} dtype "
                f"{str(value.dtype).removeprefix('torch.')} [{shown}{more}]")
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, list | tuple):
        inner = ", ".join(summarize(v, max_items=3) for v in value[:max_items])
        more = ", ..." if len(value) > max_items else ""
        return f"{type(value).__name__} of {len(value)}: [{inner}{more}]"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def pair(expected: float, got: float) -> tuple[str, str]:
    """Both numbers with just enough digits to tell them apart."""
    for digits in (6, 9, 12, 17):
        e, g = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if e != g:
            break
    return e, g


def describe(expected: Any, names: Any = None) -> str:
    """What the reference returns, in words: "an array of shape (4, 5)", "(loss, grad)"."""
    if expected is None:
        return "None"
    if is_tensor(expected):
        return f"a tensor of shape {tuple(expected.shape)}"
    if isinstance(expected, np.ndarray):
        return f"an array of shape {expected.shape}"
    if isinstance(expected, bool | np.bool_):
        return "True or False"
    if isinstance(expected, int | np.integer):
        return "a whole number (int)"
    if isinstance(expected, float | np.floating):
        return "a number"
    if isinstance(expected, tuple | list):
        if isinstance(names, tuple) and len(names) == len(expected):
            return f"a tuple ({', '.join(names)})"
        return f"a {type(expected).__name__} of {len(expected)}"
    return type(expected).__name__


def children(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, dict):
        return list(value.items())
    return list(enumerate(value))


def child_name(parent: str, key: Any, names: Any) -> str:
    if parent == "" and isinstance(names, tuple) and isinstance(key, int) and key < len(names):
        return names[key]
    return f"{parent or 'result'}[{key!r}]"


def part_at(value: Any, path: tuple) -> Any:
    for key in path:
        try:
            value = value[key]
        except (TypeError, KeyError, IndexError):
            return MISSING
    return value


MISSING = object()


def wrong_list(wrong: Wrong) -> list[tuple[Any, str]]:
    return list(wrong() if callable(wrong) else wrong)


def same_shape(a: Any, b: Any) -> bool:
    return (hasattr(a, "shape") and hasattr(b, "shape")
            and tuple(a.shape) == tuple(b.shape))


def leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, leaf) for every number, array or tensor in a nested answer, in order."""
    if isinstance(value, tuple | list | dict):
        for key, child in children(value):
            yield from leaves(child, (*path, key))
    elif value is not None:
        yield path, value


def path_name(path: tuple, names: Any) -> str:
    name = ""
    for key in path:
        name = child_name(name, key, names)
    return name



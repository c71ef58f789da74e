"""Does an answer have the type, structure and shapes of the reference's answer?

The expected answer says what is wanted: a NumPy array asks for a NumPy array of that shape, a
float for a plain number, an int for a whole number, a tensor for a tensor, a tuple for a tuple
of as many parts (a list is accepted too), None for nothing. A wrong shape is explained by a
known mistake that gives that shape; a wrong type gets the part's hint, or one that names the
likely cause (a one-element array where a number is due, a number-like class of the student's).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from coursekit.checks.answers import (
    MISSING,
    Failure,
    Wrong,
    child_name,
    children,
    describe,
    is_tensor,
    part_at,
    same_shape,
    summarize,
    wrong_list,
)


def conform(got: Any, expected: Any, *, names: Any = None, hints: dict[str, str] | None = None,
            wrong: Wrong = ()) -> tuple[Any, Failure | None]:
    """Does ``got`` have the type, structure and shapes of ``expected``? Returns ``(got, None)``
    or ``(got, Failure)``. ``names`` names the parts of a tuple answer; ``hints`` maps a part's
    name ("" for the whole answer) to the hint for a part of the wrong type."""
    hints = hints or {}
    wrongs: list[tuple[Any, str]] | None = None

    def explained(path: tuple, g: Any) -> str:
        nonlocal wrongs
        if wrongs is None:
            wrongs = wrong_list(wrong)
        for candidate, hint in wrongs:
            c = part_at(candidate, path)
            if c is MISSING:
                continue
            if same_shape(c, g) and not same_shape(c, part_at(expected, path)):
                return hint
            if isinstance(c, list | tuple) and isinstance(g, list | tuple) and len(c) == len(g) \
                    and len(c) != len(part_at(expected, path)):
                return hint
        return ""

    def walk(g: Any, e: Any, path: tuple, name: str) -> Failure | None:
        where = name if path else ""
        kind_hint = hints.get(name if path else "", "")
        failure = _leaf_type(g, e, where, kind_hint)
        if failure is not None:
            return failure
        if isinstance(e, tuple | list):
            if len(g) != len(e):
                detail = (f"expected {describe(e, names if not path else None)}, got "
                          f"{len(g)} items: {summarize(g)}")
                wanted = (f"({', '.join(names)})" if not path and isinstance(names, tuple)
                          else f"{len(e)} items")
                return Failure(where, detail, explained(path, g) or kind_hint
                               or f"return exactly {wanted}, in that order")
            for key, child in children(e):
                failure = walk(g[key], child, (*path, key), child_name(name, key, names))
                if failure is not None:
                    return failure
        elif isinstance(e, dict):
            if set(g) != set(e):
                return Failure(where, f"expected keys {sorted(e)}, got {sorted(g)}",
                               kind_hint or "return a dict with exactly these keys")
            for key, child in e.items():
                failure = walk(g[key], child, (*path, key), f"{name or 'result'}[{key!r}]")
                if failure is not None:
                    return failure
        elif (isinstance(e, np.ndarray) or is_tensor(e)) and tuple(g.shape) != tuple(e.shape):
            return Failure(where, f"expected shape {tuple(e.shape)}, got {tuple(g.shape)}",
                           explained(path, g) or hints.get(f"{name}.shape", "")
                           or hints.get(".shape", "")
                           or "check the shape of every step (print x.shape): which axis you "
                              "reduce over, keepdims, the order of a matrix product")
        return None

    return got, walk(got, expected, (), names if isinstance(names, str) else "")


def _leaf_type(g: Any, e: Any, where: str, hint: str) -> Failure | None:
    """Is ``g`` the kind of thing ``e`` is? (shapes and children are checked by the caller)"""
    got_desc = f"{type(g).__name__}: {summarize(g)}"
    if e is None:
        if g is None:
            return None
        return Failure(where, f"expected None, got {got_desc}",
                       hint or "return nothing: this changes the object in place")
    if g is None:
        return Failure(where, f"expected {describe(e)}, got None",
                       hint or "nothing was returned: did you forget a `return`?")
    if is_tensor(e):
        if not is_tensor(g):
            return Failure(where, f"expected a torch tensor, got {got_desc}",
                           hint or "this exercise works in PyTorch: return a torch.Tensor "
                                   "(torch.as_tensor(...)), not a NumPy array or a number")
        return _float_dtype(g, e, where)
    if isinstance(e, np.ndarray):
        if is_tensor(g):
            return Failure(where, f"expected a NumPy array, got a {type(g).__module__} tensor",
                           hint or "this exercise works in NumPy: return a np.ndarray "
                                   "(tensor.numpy())")
        if not isinstance(g, np.ndarray):
            return Failure(where, f"expected a NumPy array, got {got_desc}",
                           hint or ("return a np.ndarray, not a list: np.array(...)"
                                    if isinstance(g, list) else "return a np.ndarray"))
        if not (np.issubdtype(g.dtype, np.number) or g.dtype == np.bool_):
            return Failure(where, f"expected numbers, got dtype {g.dtype}",
                           hint or "the array should hold numbers (float64)")
        return _float_dtype(g, e, where)
    if isinstance(e, bool | np.bool_):
        if isinstance(g, bool | np.bool_):
            return None
        return Failure(where, f"expected True or False, got {got_desc}",
                       hint or "return a bool (True or False)")
    if isinstance(e, int | np.integer):
        if isinstance(g, int | np.integer) and not isinstance(g, bool | np.bool_):
            return None
        return Failure(where, f"expected a whole number (int), got {got_desc}",
                       hint or "return an int, e.g. int(total)")
    if isinstance(e, float | np.floating):
        return _number(g, where, hint)
    if isinstance(e, tuple | list):
        if isinstance(g, tuple | list):
            return None
        return Failure(where, f"expected {describe(e)}, got {got_desc}",
                       hint or "return a tuple of the parts, in order; did you forget a `return`?")
    if isinstance(e, dict):
        if isinstance(g, dict):
            return None
        return Failure(where, f"expected a dict, got {got_desc}", hint or "return a dict")
    return None


def _number(g: Any, where: str, hint: str) -> Failure | None:
    if isinstance(g, numbers.Real | np.number) and not isinstance(g, bool | np.bool_):
        return None
    if isinstance(g, np.ndarray) and g.ndim == 0 and np.issubdtype(g.dtype, np.number):
        return None
    detail = f"expected a number, got {type(g).__name__}: {summarize(g)}"
    if is_tensor(g) or (isinstance(g, np.ndarray) and g.size == 1):
        return Failure(where, detail, hint or "return a plain number, not a one-element "
                                              "array or tensor: float(x) or x.item()")
    if isinstance(g, np.ndarray):
        return Failure(where, detail, hint or f"reduce to one number (np.sum, np.mean, np.max): "
                                              f"this is an array of shape {g.shape}")
    if hasattr(type(g), "__float__"):  # converts to a number but is not one
        return Failure(where, detail, "return a plain number (a float or a NumPy float), not an "
                                      f"object of type {type(g).__name__}: float(value) converts it")
    return Failure(where, detail, hint or "return a single number, e.g. float(...)")


def _float_dtype(g: Any, e: Any, where: str) -> Failure | None:
    e_float = "float" in str(e.dtype) or "complex" in str(e.dtype)
    g_float = "float" in str(g.dtype) or "complex" in str(g.dtype)
    if e_float and not g_float:
        return Failure(where, f"expected floats, got dtype {str(g.dtype).removeprefix('torch.')}",
                       "return floats, not booleans or integers: e.g. .astype(float), or "
                       "np.where(condition, 1.0, 0.0)")
    return None



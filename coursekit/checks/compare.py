"""Comparing a student's answer with the reference's: type, structure, shape, then values.

The expected answer (computed by the reference, in float64) says what is wanted: a NumPy array
asks for a NumPy array of that shape, a float for a plain number, an int for a whole number, a
tensor for a tensor, a tuple for a tuple of as many parts (a list is accepted too), None for
nothing. :func:`conform` checks that; :func:`match_values` then compares the numbers.

One dtype policy for every check: a float32 (or float16/bfloat16) answer is judged at its own
precision, unless the exercise requires float64, in which case the failure says so. "Its own
precision" is measured, not guessed: the reference is run again on the inputs rounded to that
dtype, and the tolerance covers how far the answer moves (plus a few units of rounding on the
answer's scale). A failure whose numbers would print the same shows more digits, and the dtypes.

Known-wrong answers (``wrong``: ``[(answer, hint), ...]``, or a function returning that list, so
that it is only computed on failure) explain a failure: a wrong shape is explained by a mistake
that gives that shape, a wrong value by a mistake that gives that value (at the same tolerance);
a mistake that also gives the right answer on these inputs explains nothing and is skipped.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Wrong = Sequence[tuple[Any, str]] | Callable[[], Sequence[tuple[Any, str]]]
_LOW = ("float32", "float16", "bfloat16")


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


# --------------------------------------------------------------------------------------------
# what things are
# --------------------------------------------------------------------------------------------
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
    return name if name in _LOW else "float64"


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


# --------------------------------------------------------------------------------------------
# structure: type and shape
# --------------------------------------------------------------------------------------------
def _children(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, dict):
        return list(value.items())
    return list(enumerate(value))


def _child_name(parent: str, key: Any, names: Any) -> str:
    if parent == "" and isinstance(names, tuple) and isinstance(key, int) and key < len(names):
        return names[key]
    return f"{parent or 'result'}[{key!r}]"


def _at(value: Any, path: tuple) -> Any:
    for key in path:
        try:
            value = value[key]
        except (TypeError, KeyError, IndexError):
            return _MISSING
    return value


_MISSING = object()


def _wrong_list(wrong: Wrong) -> list[tuple[Any, str]]:
    return list(wrong() if callable(wrong) else wrong)


def _same_shape(a: Any, b: Any) -> bool:
    return (hasattr(a, "shape") and hasattr(b, "shape")
            and tuple(a.shape) == tuple(b.shape))


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
            wrongs = _wrong_list(wrong)
        for candidate, hint in wrongs:
            c = _at(candidate, path)
            if c is _MISSING:
                continue
            if _same_shape(c, g) and not _same_shape(c, _at(expected, path)):
                return hint
            if isinstance(c, list | tuple) and isinstance(g, list | tuple) and len(c) == len(g) \
                    and len(c) != len(_at(expected, path)):
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
            for key, child in _children(e):
                failure = walk(g[key], child, (*path, key), _child_name(name, key, names))
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
        elif hasattr(e, "shape") and tuple(g.shape) != tuple(e.shape):
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


# --------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------
def leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, leaf) for every number, array or tensor in a nested answer, in order."""
    if isinstance(value, tuple | list | dict):
        for key, child in _children(value):
            yield from leaves(child, (*path, key))
    elif value is not None:
        yield path, value


def _as_float(value: Any) -> np.ndarray:
    return np.asarray(to_numpy(value) if is_tensor(value) else value, dtype=float)


def _within(g: np.ndarray, e: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        # an infinite e would make rtol * |e| infinite and accept any finite g: only equal
        # infinities agree (same_special)
        close = (np.abs(g - e) <= atol + rtol * np.abs(e)) & np.isfinite(e)
    same_special = (np.isnan(g) & np.isnan(e)) | (np.isinf(g) & (g == e))
    return close | same_special


def match_values(got: Any, expected: Any, *, tol: Tolerance, hint: str | dict[str, str],
                 wrong: Wrong = (), at_precision: Callable[[str], Any] | None = None,
                 float64: bool = False, unstable_hint: str = "", note: str = "",
                 names: Any = None) -> Failure | None:
    """Every number of ``got`` (already conformed) against ``expected``; None when all agree.

    ``at_precision(dtype)`` is the reference run on the inputs rounded to ``dtype``: it sets how
    far a correct float32 answer may move. ``float64`` makes a lower precision a failure."""
    wrongs: list[tuple[Any, str]] | None = None
    for path, e_leaf in leaves(expected):
        g_leaf = _at(got, path)
        where = _path_name(path, names)
        part_hint = hint.get(where, hint.get("", "")) if isinstance(hint, dict) else hint
        g, e = _as_float(g_leaf), _as_float(e_leaf)
        prec = precision(g_leaf)
        if prec != "float64" and float64:
            return Failure(where, f"returned {prec}; this exercise needs float64",
                           "compute in float64, as the inputs are: no .astype(np.float32), and "
                           "torch tensors made with dtype=torch.float64 (torch's default is float32)")
        scale = max(1.0, float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)))
        atol, rtol, judged = tol.atol * scale, tol.rtol, ""
        if prec != "float64":
            # units of rounding allowed on top of how far the inputs' rounding moves the answer:
            # 32 for float32 (about 4e-6); a float16's 10 bits afford only a few
            eps, ulps = {"float32": (2.0**-23, 32), "float16": (2.0**-10, 4),
                         "bfloat16": (2.0**-7, 2)}[prec]
            moved = 0.0
            if at_precision is not None:
                low = _as_float(_at(at_precision(prec), path))
                finite = np.isfinite(low) & np.isfinite(e)
                moved = float(np.max(np.abs(low - e)[finite], initial=0.0))
            atol, rtol = max(atol, ulps * eps * scale + 8 * moved), max(rtol, ulps * eps)
            judged = f" (judged at {prec} precision)"
        tolerance = f"rtol={rtol:.3g}, atol={atol:.3g}{judged}"
        bad = ~_within(g, e, atol, rtol)
        if not np.any(bad):
            continue
        if wrongs is None:
            wrongs = _wrong_list(wrong)
        named = _diagnose(g, e, path, wrongs, atol, rtol)
        blown = np.any(~np.isfinite(g) & np.isfinite(e))
        if blown:
            detail = f"got nan or inf where the answer is finite: {summarize(g_leaf)}"
            chosen = named or unstable_hint or part_hint
        else:
            detail = _difference(g, e, bad, g_leaf, e_leaf)
            chosen = named or part_hint
        return Failure(where, detail, chosen + note, tolerance)
    return None


def _path_name(path: tuple, names: Any) -> str:
    name = ""
    for key in path:
        name = _child_name(name, key, names)
    return name


def _diagnose(g: np.ndarray, e: np.ndarray, path: tuple, wrongs: list[tuple[Any, str]],
              atol: float, rtol: float) -> str:
    for candidate, hint in wrongs:
        c = _at(candidate, path)
        if c is _MISSING:
            continue
        try:
            c = _as_float(c)
        except (TypeError, ValueError):
            continue
        if c.shape != g.shape or np.all(_within(c, e, atol, rtol)):
            continue  # another shape, or right on these inputs: it explains nothing
        if np.all(_within(g, c, atol, rtol)):
            return hint
    return ""


def _difference(g: np.ndarray, e: np.ndarray, bad: np.ndarray, g_leaf: Any, e_leaf: Any) -> str:
    dtypes = ""
    g_prec, e_prec = precision(g_leaf), precision(e_leaf)
    if g_prec != e_prec:
        dtypes = f" (yours is {g_prec}, the reference {e_prec})"
    if g.ndim == 0:
        exp, got = pair(e.item(), g.item())
        return f"expected {exp}, got {got}{dtypes}"
    diff = np.where(bad, np.abs(np.nan_to_num(g - e, nan=np.inf)), -1.0)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    exp, got = pair(float(e[worst]), float(g[worst]))
    return (f"{int(np.sum(bad))} of {g.size} values differ; worst at index "
            f"{tuple(int(i) for i in worst)}: expected {exp}, got {got}{dtypes}")


def agrees(got: Any, expected: Any, *, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    """For hidden tests: does ``got`` have the type and shape of ``expected`` and its values, at
    the precision ``got`` was computed in? Strict: a rigged object, a proxy or a list where an
    array is due is False. ``atol`` is relative to the answer's scale, as in :class:`Tolerance`.

        assert agrees(softmax(z), np.array([[0.25, 0.75]])), "softmax is wrong on other logits"
    """
    expected = _expected_like(expected)
    _, failure = conform(got, expected)
    if failure is not None:
        return False
    return match_values(got, expected, tol=Tolerance(rtol, atol), hint="") is None


def _expected_like(value: Any) -> Any:
    """Literals in a hidden test, read as the reference would give them: lists of numbers become
    float arrays (a tuple stays a tuple of parts), ints stay ints."""
    if isinstance(value, list) and value and all(isinstance(v, int | float | list) and not
                                                 isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=float)
    if isinstance(value, tuple):
        return tuple(_expected_like(v) for v in value)
    return value

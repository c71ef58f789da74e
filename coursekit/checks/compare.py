"""Comparing a student's numbers with the reference's, once the answer has the right form
(:mod:`coursekit.checks.structure`).

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

from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks.answers import (
    MISSING,
    Failure,
    Tolerance,
    Wrong,
    is_tensor,
    leaves,
    pair,
    part_at,
    path_name,
    precision,
    summarize,
    to_numpy,
    wrong_list,
)
from coursekit.checks.structure import conform

__all__ = ["Tolerance", "agrees", "match_values"]


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
        g_leaf = part_at(got, path)
        where = path_name(path, names)
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
                low = _as_float(part_at(at_precision(prec), path))
                finite = np.isfinite(low) & np.isfinite(e)
                moved = float(np.max(np.abs(low - e)[finite], initial=0.0))
            atol, rtol = max(atol, ulps * eps * scale + 8 * moved), max(rtol, ulps * eps)
            judged = f" (judged at {prec} precision)"
        tolerance = f"rtol={rtol:.3g}, atol={atol:.3g}{judged}"
        bad = ~_within(g, e, atol, rtol)
        if not np.any(bad):
            continue
        if wrongs is None:
            wrongs = wrong_list(wrong)
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


def _diagnose(g: np.ndarray, e: np.ndarray, path: tuple, wrongs: list[tuple[Any, str]],
              atol: float, rtol: float) -> str:
    """The hint of the known mistake ``g`` is closest to, among those it matches within the
    tolerance; the first listed wins a tie. (Two mistakes can both lie within the tolerance of an
    answer, e.g. two placements of an optimizer's eps; only the closest explains it.)"""
    best, closest = "", np.inf
    for candidate, hint in wrongs:
        c = part_at(candidate, path)
        if c is MISSING:
            continue
        try:
            c = _as_float(c)
        except (TypeError, ValueError):
            continue
        if c.shape != g.shape or np.all(_within(c, e, atol, rtol)):
            continue  # another shape, or right on these inputs: it explains nothing
        if np.all(_within(g, c, atol, rtol)):
            with np.errstate(invalid="ignore", over="ignore"):
                diff, room = np.abs(g - c), atol + rtol * np.abs(c)
                # where both are the same nan or inf, they agree: no distance there
                gap = np.where(np.isfinite(diff) & np.isfinite(room), diff / room, 0.0)
            distance = float(np.max(gap, initial=0.0))
            if distance < closest:
                best, closest = hint, distance
    return best


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

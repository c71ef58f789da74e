"""The small core every check is built on.

A check is a function ``check_<exercise>(student_fn)`` that calls the student's
callable on inputs it chooses, compares against a reference computed *now*
(never a constant recorded under one library version), and either prints one
line (``✅ softmax: 6/6 checks passed``) or raises :class:`CheckFailed` with a
message a student can act on.

Writing a check::

    @check("softmax")
    def check_softmax(t: Checker, softmax) -> None:
        z = t.rng.normal(size=(4, 5))                  # fresh inputs, own generator
        out = t.call(softmax, z)                       # stub -> "not attempted yet"
        t.is_array("returns an array", out, shape=(4, 5))
        t.close("matches the reference", out, reference(z),
                diagnose=[(wrong_axis(z), "did you normalise over the wrong axis?")],
                hint="rows should sum to 1")

Sub-checks run in order and the first failure stops the check. ``diagnose``
lists known-wrong answers: when the student's output matches one of them, its
hint replaces the generic one, so the message names the likely mistake.
"""

from __future__ import annotations

import copy
import functools
import numbers
import os
import secrets
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["CheckFailed", "NotAttempted", "Checker", "check", "summarize"]

_COURSEKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CheckFailed(AssertionError):
    """A check did not pass. An ``AssertionError`` so nbgrader and "Run all" stop on it."""

    def _render_traceback_(self) -> list[str]:
        # IPython/Jupyter show this instead of a stack trace: the message already says what
        # failed, on which inputs, and where in the student's code; coursekit's frames would
        # only bury it.
        return [f"{type(self).__name__}: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines())]


class NotAttempted(CheckFailed):
    """The student's function is still the stub (it raised ``NotImplementedError``)."""


def summarize(value: Any, max_items: int = 6) -> str:
    """A short, readable rendering of a value for failure messages (never the whole answer)."""
    if isinstance(value, np.ndarray) or _is_tensor(value):
        arr = _to_numpy(value)
        if arr.ndim == 0:
            return f"{arr.item():.6g}"
        flat = arr.reshape(-1)
        shown = ", ".join(_fmt(v) for v in flat[:max_items])
        more = ", ..." if flat.size > max_items else ""
        kind = type(value).__name__
        return f"{kind} shape {tuple(arr.shape)} dtype {arr.dtype} [{shown}{more}]"
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, list | tuple):
        inner = ", ".join(summarize(v, max_items=3) for v in value[:max_items])
        more = ", ..." if len(value) > max_items else ""
        return f"{type(value).__name__} of {len(value)}: [{inner}{more}]"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fmt(v: Any) -> str:
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return repr(v)


def _is_tensor(value: Any) -> bool:
    # Duck-typed so that checks never import torch or tensorflow themselves.
    return type(value).__module__.split(".")[0] in {"torch", "tensorflow"} and hasattr(
        value, "shape"
    )


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # torch.Tensor
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):  # tf.Tensor
        return np.asarray(value.numpy())
    return np.asarray(value)


def _shape_of(value: Any) -> str:
    if hasattr(value, "shape"):
        return str(tuple(value.shape))
    if isinstance(value, numbers.Number):
        return "scalar"
    return type(value).__name__


def _student_frames(tb) -> str:
    """The last frames of a traceback that are not coursekit's own: where the student's bug is."""
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_COURSEKIT_DIR)]
    if not frames:
        return ""
    lines = []
    for f in frames[-2:]:
        in_notebook = f.filename.startswith("<") or "ipykernel_" in f.filename  # a cell, not a file
        where = "your code" if in_notebook else os.path.basename(f.filename)
        lines.append(f"    {where}, line {f.lineno}: {(f.line or '').strip()}")
    return "\n".join(lines)


class Checker:
    """State of one run of one check: its random generator, a pass counter, and the assertions.

    Each assertion takes the sub-check's name first; on failure it raises
    :class:`CheckFailed` with the exercise, the sub-check, the input shapes, a
    summary of expected vs got, the tolerance, and a hint.
    """

    def __init__(self, exercise: str, seed: int | None = None):
        self.exercise = exercise
        self.seed = secrets.randbelow(2**31) if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.passed = 0
        self._inputs = ""

    # -- calling the student's code -------------------------------------------------------
    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` on deep copies of the arguments (so an in-place edit cannot corrupt the
        reference), turning a stub into "not attempted" and any exception into a readable failure."""
        self._inputs = ", ".join(_shape_of(a) for a in args)
        if not callable(fn):
            self.fail("is callable", f"expected a function, got {type(fn).__name__}",
                      hint=f"pass the function itself: check_{self.exercise}({self.exercise})")
        args_copy = copy.deepcopy(args)
        kwargs_copy = copy.deepcopy(kwargs)
        try:
            return fn(*args_copy, **kwargs_copy)
        except NotImplementedError:
            raise NotAttempted(
                f"{self.exercise}: not attempted yet. Replace `raise NotImplementedError()` "
                "with your code, run that cell, then run this check again."
            ) from None
        except RecursionError:
            self.fail("runs without error", "RecursionError: maximum recursion depth exceeded",
                      hint="a function that calls itself needs a base case")
        except Exception as exc:  # noqa: BLE001 - any error in student code is reported, not raised
            where = _student_frames(exc.__traceback__)
            detail = f"{type(exc).__name__}: {exc}" + (f"\n{where}" if where else "")
            self.fail("runs without error", detail,
                      hint="read the error above; check the shapes your code assumes")

    # -- assertions ---------------------------------------------------------------------------
    def fail(self, subcheck: str, detail: str, *, hint: str, tolerance: str = "") -> None:
        lines = [f"❌ {self.exercise}: failed '{subcheck}' ({self.passed} sub-checks passed before it)"]
        if self._inputs:
            lines.append(f"  inputs: {self._inputs}")
        lines.extend("  " + line for line in detail.splitlines())
        if tolerance:
            lines.append(f"  tolerance: {tolerance}")
        lines.append(f"  hint: {hint}")
        lines.append(f"  (random seed {self.seed}: the inputs change each run)")
        raise CheckFailed("\n".join(lines))

    def ok(self) -> None:
        self.passed += 1

    def true(self, subcheck: str, condition: bool, *, detail: str = "", hint: str) -> None:
        """A yes/no sub-check with a hand-written explanation."""
        if not condition:
            self.fail(subcheck, detail or "condition not met", hint=hint)
        self.ok()

    def is_number(self, subcheck: str, got: Any, *, hint: str = "") -> float:
        """``got`` must be a real scalar (Python or NumPy number, or a one-element 0-d array).
        Returns it as a float. Booleans and objects with a rigged ``__eq__`` are refused."""
        ok = isinstance(got, numbers.Real | np.number) and not isinstance(got, bool | np.bool_)
        if isinstance(got, np.ndarray) and got.ndim == 0 and np.issubdtype(got.dtype, np.number):
            ok = True
        if not ok:
            if hasattr(type(got), "__float__") and not isinstance(got, np.ndarray) and not _is_tensor(got):
                # converts to a number but is not one: a number-like class of the student's own
                hint = ("return a plain number (a float or a NumPy float), not an object of type "
                        f"{type(got).__name__}: float(value) converts it")
            self.fail(subcheck, f"expected a number, got {summarize(got)} ({type(got).__name__})",
                      hint=hint or "return a single number, e.g. float(...)")
        self.ok()
        return float(got)

    def is_array(self, subcheck: str, got: Any, *, shape: Sequence[int] | None = None,
                 hint: str = "", shape_hints: dict[tuple[int, ...], str] | None = None) -> np.ndarray:
        """``got`` must be a NumPy array (of ``shape`` when given). Returns it.

        ``shape_hints`` maps a known-wrong shape to the mistake that produces it."""
        if _is_tensor(got):
            self.fail(subcheck, f"expected a NumPy array, got a {type(got).__module__} tensor",
                      hint="this exercise works in NumPy: return a np.ndarray (tensor.numpy())")
        if not isinstance(got, np.ndarray):
            self.fail(subcheck, f"expected a NumPy array, got {type(got).__name__}: {summarize(got)}",
                      hint=hint or "return a np.ndarray; did you forget a `return`?")
        if not np.issubdtype(got.dtype, np.number) and got.dtype != np.bool_:
            self.fail(subcheck, f"expected numbers, got dtype {got.dtype}",
                      hint="the array should hold numbers (float64)")
        if shape is not None and tuple(got.shape) != tuple(shape):
            wrong_shape_hint = (shape_hints or {}).get(tuple(got.shape))
            self.fail(subcheck, f"expected shape {tuple(shape)}, got {tuple(got.shape)}",
                      hint=wrong_shape_hint or hint or "check which axis you reduce or multiply over")
        self.ok()
        return got

    def close(self, subcheck: str, got: Any, expected: Any, *, rtol: float = 1e-6,
              atol: float = 1e-8, hint: str,
              diagnose: Iterable[tuple[Any, str]] = ()) -> None:
        """``got`` must equal ``expected`` within ``rtol``/``atol`` (NumPy ``allclose`` semantics).

        ``diagnose`` is a list of ``(wrong_answer, hint)``: if ``got`` matches a known-wrong
        answer, that hint is given instead of the generic one.
        """
        got_arr = np.asarray(_to_numpy(got) if _is_tensor(got) else got, dtype=float)
        exp_arr = np.asarray(expected, dtype=float)
        tolerance = f"rtol={rtol:g}, atol={atol:g}"
        if got_arr.shape != exp_arr.shape:
            self.fail(subcheck, f"expected shape {exp_arr.shape}, got {got_arr.shape}",
                      hint=hint, tolerance=tolerance)
        bad_nan = np.isnan(got_arr) & ~np.isnan(exp_arr)
        diagnose = list(diagnose)
        if np.any(bad_nan) or (np.any(~np.isfinite(got_arr) & np.isfinite(exp_arr))):
            detail = f"got nan or inf where the answer is finite: {summarize(got_arr)}"
            self.fail(subcheck, detail, hint=self._diagnosed(got_arr, exp_arr, diagnose, hint, rtol, atol),
                      tolerance=tolerance)
        if not np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol, equal_nan=True):
            self.fail(subcheck, self._difference(got_arr, exp_arr, rtol, atol),
                      hint=self._diagnosed(got_arr, exp_arr, diagnose, hint, rtol, atol),
                      tolerance=tolerance)
        self.ok()

    @staticmethod
    def _diagnosed(got: np.ndarray, expected: np.ndarray, diagnose: list[tuple[Any, str]],
                   default: str, rtol: float, atol: float) -> str:
        """The hint of the first known-wrong answer that ``got`` matches (with the check's own
        tolerance), skipping any that would also match the right answer (no information)."""
        for wrong, wrong_hint in diagnose:
            wrong_arr = np.asarray(wrong, dtype=float)
            if wrong_arr.shape != got.shape:
                continue
            if np.allclose(wrong_arr, expected, rtol=rtol, atol=atol, equal_nan=True):
                continue
            if np.allclose(got, wrong_arr, rtol=rtol, atol=atol, equal_nan=True):
                return wrong_hint
        return default

    @staticmethod
    def _difference(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
        if got.ndim == 0:
            return f"expected {expected.item():.6g}, got {got.item():.6g}"
        diff = np.abs(np.nan_to_num(got - expected, nan=np.inf))
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        n_bad = int(np.sum(~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)))
        return (f"{n_bad} of {got.size} values differ; worst at index {tuple(int(i) for i in worst)}: "
                f"expected {expected[worst]:.6g}, got {got[worst]:.6g}")


def check(exercise: str, *, seed: int | None = None) -> Callable:
    """Decorator that turns ``body(t: Checker, student_fn, ...)`` into a public check.

    The public function prints one line on success and raises :class:`CheckFailed` on
    failure, with no traceback into coursekit's internals.
    """

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def public_check(student_fn: Any, *args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # IPython and pytest hide this frame
            t = Checker(exercise, seed=seed)
            failure: CheckFailed | None = None
            try:
                body(t, student_fn, *args, **kwargs)
            except CheckFailed as exc:
                failure = exc
            if failure is not None:
                # Re-raised here, outside the body, so the traceback stops at this frame.
                raise type(failure)(str(failure)) from None
            print(f"✅ {exercise}: {t.passed}/{t.passed} checks passed")

        public_check.exercise = exercise
        return public_check

    return decorate

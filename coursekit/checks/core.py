"""The core every check is built on: calling student code, sub-checks, messages.

A check is ``check_<exercise>(student_fn)``: it calls the student's callable on inputs it draws
itself, compares with a reference computed *now* (never a constant recorded under one library
version), and either prints one line (``✅ softmax: 26/26 checks passed``) or raises
:class:`CheckFailed` with a message a student can act on. Most checks are declarative (see
:mod:`coursekit.checks.exercise`): a topic module gives the reference, the cases and the known
mistakes; this module and its neighbours do the rest, once:

    core       CheckFailed/NotAttempted, the @check decorator, Checker (calls, sub-checks, messages)
    errors     a hint chosen from the type and message of an exception the student's code raised
    compare    types, shapes and values against the reference; one dtype policy; diagnosis
    exercise   Exercise (the spec of one graded function) and its cases
    torchref   PyTorch references in float64, imported on first use
    probe      running coursekit's own code next to a student's objects (in the grading sandbox)

A stub (``raise NotImplementedError``) is "not attempted yet": in a notebook the check says so
and returns, so that Run All goes on; when grading (``COURSEKIT_GRADING=1``) it raises, and the
cell scores 0.
"""

from __future__ import annotations

import copy
import functools
import os
import secrets
import traceback
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from coursekit.checks.answers import Tolerance, Wrong, summarize
from coursekit.checks.compare import agrees, match_values
from coursekit.checks.errors import hint_for_exception
from coursekit.checks.structure import conform

__all__ = ["CheckFailed", "NotAttempted", "Checker", "check", "summarize", "grading",
           "Tolerance", "agrees"]

_COURSEKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_VALUE_MODULES = {"builtins", "numpy", "torch", "tensorflow", "keras", "jax", "pandas", "scipy"}
GRADING_ENV = "COURSEKIT_GRADING"


def grading() -> bool:
    """True while a grader runs the checks: a stub then fails its cell instead of only saying so."""
    return os.environ.get(GRADING_ENV) == "1"


class CheckFailed(AssertionError):
    """A check did not pass. An ``AssertionError``, so nbgrader scores the cell 0."""

    def _render_traceback_(self) -> list[str]:
        # IPython/Jupyter show this instead of a stack trace: the message already says what
        # failed, on which inputs, and where in the student's code; coursekit's frames would
        # only bury it.
        return [f"{type(self).__name__}: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines())]


class NotAttempted(CheckFailed):
    """The student's function is still the stub (it raised ``NotImplementedError``)."""


def _student_frames(tb) -> str:
    """The last frames of a traceback that are not coursekit's own: where the student's bug is."""
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_COURSEKIT_DIR)]
    lines = []
    for f in frames[-2:]:
        in_notebook = f.filename.startswith("<") or "ipykernel_" in f.filename  # a cell, not a file
        where = "your code" if in_notebook else os.path.basename(f.filename)
        lines.append(f"    {where}, line {f.lineno}: {(f.line or '').strip()}")
    return "\n".join(lines)


def _shape_of(value: Any) -> str:
    if hasattr(value, "shape") and not callable(value):
        return str(tuple(value.shape))
    if isinstance(value, bool | int | float | np.number):
        return "scalar"
    if isinstance(value, list | tuple) and value and all(hasattr(v, "shape") for v in value):
        return f"{type(value).__name__} of {len(value)} arrays"
    return type(value).__name__


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class Checker:
    """State of one run of one check: its random generator, a pass counter, and the sub-checks.

    Each sub-check takes its name first; on failure it raises :class:`CheckFailed` with the
    exercise, the sub-check, the input shapes, expected vs got, the tolerance, and a hint.
    """

    def __init__(self, exercise: str, seed: int | None = None):
        self.exercise = exercise
        if seed is None:
            # Fresh inputs each run for a student; when grading, the same inputs for everyone
            # (COURSEKIT_GRADING_SEED picks them), so that grading is reproducible.
            shared = os.environ.get("COURSEKIT_GRADING_SEED", "0")
            seed = (zlib.crc32(f"{exercise}:{shared}".encode()) if grading()
                    else secrets.randbelow(2**31))
        self.seed = seed
        self.rng = np.random.default_rng(self.seed)
        self.passed = 0
        self._inputs = ""
        self.fp_note = ""  # what NumPy reported during the last call ("overflow, invalid value")

    # -- calling the student's code -------------------------------------------------------
    def call(self, fn: Callable, *args: Any, copy_args: bool = True, context: str = "",
             error_hints: tuple[tuple[str, str], ...] = (), signature: str = "",
             inputs: str | None = None, **kwargs: Any) -> Any:
        """Call ``fn`` (on deep copies of the arguments, so that an in-place edit cannot corrupt
        the reference), turning a stub into "not attempted" and an exception into a failure whose
        hint follows from the exception (``error_hints``: (text in "Type: message", hint) pairs
        first). NumPy's floating-point warnings are recorded in ``fp_note``, not printed."""
        if inputs is not None:
            self._inputs = inputs
        elif args or kwargs:
            self._inputs = ", ".join(_shape_of(a) for a in (*args, *kwargs.values()))
        if not callable(fn):
            kind = type(fn).__name__
            # an object of a library type is a value; any other, an instance of the student's class
            hint = (f"pass the function itself: check_{self.exercise}({self.exercise})"
                    if type(fn).__module__.split(".")[0] in _VALUE_MODULES else
                    f"pass the class, not an instance: check_{self.exercise}({kind})")
            self.fail("is callable", f"expected a function or class, got {kind}", hint=hint)
        if copy_args:
            args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
        reported: list[str] = []
        try:
            with np.errstate(over="call", divide="call", invalid="call", under="ignore",
                             call=lambda kind, _flag: reported.append(kind)):
                return fn(*args, **kwargs)
        except NotImplementedError:
            raise NotAttempted(
                f"{self.exercise}: not attempted yet. Replace `raise NotImplementedError()` "
                "with your code, run that cell, then run this check again.") from None
        except RecursionError:
            self.fail("runs without error", "RecursionError: maximum recursion depth exceeded",
                      hint="a function that calls itself needs a base case; a class whose "
                           "__getattr__ or property reads itself recurses forever")
        except Exception as exc:  # noqa: BLE001 - any error in student code is reported, not raised
            where = _student_frames(exc.__traceback__)
            detail = f"{type(exc).__name__}: {exc}" + (f"\n{where}" if where else "")
            if context:
                detail = f"while computing: {context}\n{detail}"
            self.fail("runs without error", detail,
                      hint=hint_for_exception(exc, signature=signature, extra=error_hints))
        finally:
            self.fp_note = (f" (NumPy reported: {', '.join(sorted(set(reported)))})"
                            if reported else "")

    def probe(self, probe: Callable, *args: Any, context: str = "",
              expect: Mapping[str, type | tuple[type, ...]] | None = None, **kwargs: Any) -> Any:
        """Run one of coursekit's probes next to the student's objects (in the grading sandbox
        when grading, see :mod:`coursekit.checks.probe`), with :meth:`call`'s handling of stubs
        and exceptions. The arguments are not copied: the student's objects go as themselves.
        ``expect`` ({key: type}): the answer, data from the student's process, must be a dict
        with these keys, of these types; else the check fails instead of trusting it."""
        from coursekit.checks.probe import in_student_process

        data = [a for a in (*args, *kwargs.values()) if not callable(a)]  # not the functions
        answer = self.call(in_student_process, probe, *args, copy_args=False, context=context,
                           inputs=", ".join(_shape_of(a) for a in data), **kwargs)
        if expect is not None and not (isinstance(answer, dict) and all(
                isinstance(answer.get(key), kind) for key, kind in expect.items())):
            self.fail("the probe of your code answers", f"expected a dict with keys "
                      f"{sorted(expect)}, got {summarize(answer)}",
                      hint="do not replace or patch coursekit's functions in your notebook: run "
                           "the check again in a fresh kernel")
        return answer

    # -- sub-checks ---------------------------------------------------------------------------
    def fail(self, subcheck: str, detail: str, *, hint: str, tolerance: str = "") -> None:
        lines = [f"❌ {self.exercise}: failed '{subcheck}' "
                 f"({_plural(self.passed, 'sub-check')} passed before it)"]
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

    def conform(self, subcheck: str, got: Any, expected: Any, *, names: Any = None,
                hints: dict[str, str] | None = None, wrong: Wrong = (), count: bool = True) -> Any:
        """``got`` must have the type, structure and shapes of ``expected`` (the reference's
        answer): see :func:`coursekit.checks.structure.conform`. Returns ``got``, normalised.
        ``count=False``: a failure fails the check, a success is not counted as a sub-check (a
        form check inside a larger one, such as each step of a run)."""
        out, failure = conform(got, expected, names=names, hints=hints or {}, wrong=wrong)
        if failure is not None:
            self.fail(failure.subcheck(subcheck), failure.detail, hint=failure.hint)
        if count:
            self.ok()
        return out

    def close(self, subcheck: str, got: Any, expected: Any, *, hint: str,
              tol: Tolerance | None = None, wrong: Wrong = (),
              at_precision: Callable[[str], Any] | None = None, float64: bool = False,
              unstable_hint: str = "", names: Any = None) -> None:
        """``got`` (already conformed) must equal ``expected`` within the tolerance, judged at
        the precision of ``got`` (see :func:`coursekit.checks.compare.match_values`). ``wrong``
        lists known-wrong answers with their hints: the first that ``got`` matches names the
        mistake instead of ``hint``."""
        failure = match_values(got, expected, tol=tol or Tolerance(), wrong=wrong,
                               hint=hint, at_precision=at_precision, float64=float64,
                               unstable_hint=unstable_hint, note=self.fp_note, names=names)
        if failure is not None:
            self.fail(failure.subcheck(subcheck), failure.detail, hint=failure.hint,
                      tolerance=failure.tolerance)
        self.ok()

    def is_number(self, subcheck: str, got: Any, *, hint: str = "") -> float:
        """``got`` must be a real number (not a bool, not an object with a rigged ``__eq__``)."""
        return float(self.conform(subcheck, got, 0.0, hints={"": hint} if hint else None))

    def is_array(self, subcheck: str, got: Any, *, shape: tuple[int, ...] | None = None,
                 hint: str = "",
                 shape_hints: dict[tuple[int, ...], str] | None = None) -> np.ndarray:
        """``got`` must be a NumPy array of numbers (of ``shape`` when given)."""
        like = np.zeros(shape if shape is not None else np.shape(got) if
                        isinstance(got, np.ndarray) else (0,))
        wrong = [(np.zeros(s), h) for s, h in (shape_hints or {}).items()]
        return self.conform(subcheck, got, like, hints={"": hint} if hint else None, wrong=wrong)


def check(exercise: Any, *, seed: int | None = None) -> Callable:
    """Decorator that turns ``body(t: Checker, student_fn, ...)`` into a public check.

    The public function prints one line on success and raises :class:`CheckFailed` on
    failure, with no traceback into coursekit's internals. A stub prints "not attempted yet"
    and returns, except when grading. ``exercise`` is the exercise's name, or its spec (an
    :class:`~coursekit.checks.exercise.Exercise`): the body then gets the student's function's
    ``Run`` instead of the Checker (``run.case(...)``, ``run.rng``, ``run.t``).
    """
    spec, exercise = (None, exercise) if isinstance(exercise, str) else (exercise, exercise.name)

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def public_check(student_fn: Any, *args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # IPython and pytest hide this frame
            t = Checker(exercise, seed=seed)
            failure: CheckFailed | None = None
            try:
                if spec is None:
                    body(t, student_fn, *args, **kwargs)
                else:
                    from coursekit.checks.exercise import Run

                    body(Run(t, spec, student_fn), student_fn, *args, **kwargs)
            except CheckFailed as exc:
                failure = exc
            outcome = ("passed" if failure is None else
                       "not attempted" if isinstance(failure, NotAttempted) else "failed")
            _track(body.__module__, exercise, outcome)
            if isinstance(failure, NotAttempted) and not grading():
                print(f"⏳ {failure}")  # Run All goes on; when grading, the cell scores 0
                return
            if failure is not None:
                # Re-raised here, outside the body, so the traceback stops at this frame.
                raise type(failure)(str(failure)) from None
            print(f"✅ {exercise}: {t.passed}/{t.passed} checks passed")

        public_check.exercise = exercise
        return public_check

    return decorate



def _track(module: str, exercise: str, outcome: str) -> None:
    """The student's progress file (coursekit.tracking): local, best effort, off when grading."""
    from coursekit import tracking

    tracking.record(tracking.notebook_of(module), exercise, outcome)

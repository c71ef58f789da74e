"""The declarative layer: an exercise's spec, and its cases.

A topic module describes each graded function once, as data::

    SOFTMAX = Exercise(
        "softmax", signature="softmax(z, axis=-1)",
        reference=lambda z, axis=-1: torchref.no_grad(lambda t: t.softmax(dim=axis), z),
        hint="exp(z - m) / sum(exp(z - m)) along `axis`, with m the max along `axis`",
        wrong=[(lambda z, axis=-1: np.exp(z) / np.exp(z).sum(axis, keepdims=True), OVERFLOW)],
    )

and its check lists the cases in the house order (by hand → random → edge cases)::

    @check("softmax")
    def check_softmax(t, softmax):
        run = Run(t, SOFTMAX, softmax)
        run.case("by hand: z = [0, ln 2, ln 5]", np.log([[1.0, 2.0, 5.0]]),
                 expected=[[.125, .25, .625]])
        run.case("random inputs", t.rng.normal(size=(4, 5)))
        run.unchanged("leaves its input unchanged", t.rng.normal(size=(4, 5)))

Each case calls the student's function (a stub is "not attempted"; an exception gets the hint
its type and message call for), checks the answer's type, structure and shapes against the
reference's answer, then its values (at the answer's own precision, unless the spec requires
float64), and names the likely mistake when a known-wrong implementation gives what the student
gave. Wrong implementations are evaluated only when something fails.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coursekit.checks.answers import Tolerance, describe, is_tensor, leaves
from coursekit.checks.core import Checker

Mistake = tuple[Any, str]  # (a known-wrong implementation, or a known-wrong answer; its hint)


@dataclass(frozen=True)
class Exercise:
    """One graded function: how to call it, the reference, and the mistakes worth naming.

    ``returns`` names the answer's parts when it is a tuple (``("loss", "grad")``); ``hint`` is
    the hint for wrong values (a dict: one per part, "" for the rest); ``hints`` maps a part's
    name ("" for the whole answer, "NAME.shape" for its shape) to the hint for a wrong type or
    shape; ``wrong`` lists known mistakes, each a function with the exercise's signature (or a
    fixed answer) and its hint. ``float64``: the spec requires float64 results. ``tol``: the
    tolerance at float64 (lower precisions get their own, see coursekit.checks.compare).
    ``mistakes_by_position``: each mistake gets every parameter of ``signature``, in order, the
    defaults filled in, so that it can use short names (``lambda x, w, b, s, p: ...``) whatever
    a case passes by name."""

    name: str
    reference: Callable[..., Any]
    hint: str | Mapping[str, str]
    signature: str = ""
    returns: str | tuple[str, ...] = ""
    wrong: Sequence[Mistake] = ()
    hints: Mapping[str, str] = field(default_factory=dict)
    float64: bool = False
    tol: Tolerance = Tolerance()
    unstable_hint: str = ""
    error_hints: Sequence[tuple[str, str]] = ()
    mistakes_by_position: bool = False

    def mistake_arguments(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The arguments a known mistake is called with (see ``mistakes_by_position``)."""
        if not self.mistakes_by_position:
            return args, kwargs
        bound = _parameters(self.signature).bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments.values()), {}


@functools.cache
def _parameters(signature: str) -> inspect.Signature:
    """The parameters of a spec's signature, "conv2d(x, w, b, stride=1, padding=0)", defaults
    included (literals)."""
    node = ast.parse(f"def {signature}: pass").body[0].args
    plain = [*node.posonlyargs, *node.args]
    defaults = [inspect.Parameter.empty] * (len(plain) - len(node.defaults)) + node.defaults
    return inspect.Signature([
        *(inspect.Parameter(a.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                            default=d if d is inspect.Parameter.empty else ast.literal_eval(d))
          for a, d in zip(plain, defaults, strict=True)),
        *(inspect.Parameter(a.arg, inspect.Parameter.KEYWORD_ONLY,
                            default=inspect.Parameter.empty if d is None else ast.literal_eval(d))
          for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True))])


def rounded(value: Any, dtype: str) -> Any:
    """``value`` with every float array, tensor and number rounded to ``dtype`` (and back to
    float64): the inputs a float32 implementation effectively sees."""
    if isinstance(value, tuple | list):
        return type(value)(rounded(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: rounded(v, dtype) for k, v in value.items()}
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return _round_array(value, dtype)
    if isinstance(value, float):
        return float(_round_array(np.asarray(value), dtype))
    if is_tensor(value) and value.is_floating_point():
        import torch

        low = {"float32": torch.float32, "float16": torch.float16,
               "bfloat16": torch.bfloat16}[dtype]
        return value.detach().to(low).to(value.dtype)
    return value


def _round_array(a: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":  # no NumPy bfloat16: keep the top 16 bits of the float32 pattern
        bits = a.astype(np.float32).view(np.uint32) & np.uint32(0xFFFF0000)
        return bits.view(np.float32).astype(a.dtype)
    return a.astype(dtype).astype(a.dtype)


def _evaluate(mistake: Any, args: tuple, kwargs: dict) -> Any:
    """A known-wrong implementation's answer on these inputs (None if it cannot run on them)."""
    if not callable(mistake):
        return mistake
    try:
        with np.errstate(all="ignore"):
            return mistake(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    except Exception:  # noqa: BLE001 - a mistake that cannot run here explains nothing
        return None


class Run:
    """One check's run of one exercise: the student's function and the spec, case by case."""

    def __init__(self, t: Checker, spec: Exercise, student_fn: Callable):
        self.t, self.spec, self.fn = t, spec, student_fn

    @property
    def rng(self) -> np.random.Generator:
        """The check's random generator (``t.rng``), for the cases' inputs."""
        return self.t.rng

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """The student's answer on copies of the inputs (stub and exceptions handled)."""
        return self.t.call(self.fn, *args, signature=self.spec.signature,
                           error_hints=tuple(self.spec.error_hints), **kwargs)

    def case(self, label: str, *args: Any, expected: Any = None, wrong: Sequence[Mistake] = (),
             hint: str | None = None, **kwargs: Any) -> Any:
        """Call the student's function on ``args``: two sub-checks, its structure ("returns
        ...") and its values (``label``). ``expected`` gives a by-hand case's answer (else the
        reference's); ``wrong`` adds mistakes that only this case can show. Returns the answer."""
        spec = self.spec
        got = self.call(*args, **kwargs)
        reference = spec.reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        if expected is not None:
            expected = _like(expected, reference)
        else:
            expected = reference
        mistakes = [*wrong, *spec.wrong]

        def wrong_answers() -> list[tuple[Any, str]]:
            margs, mkwargs = spec.mistake_arguments(args, kwargs)
            answers = [(_evaluate(m, margs, mkwargs), h) for m, h in mistakes]
            return [(a, h) for a, h in answers if a is not None]

        names = spec.returns or None
        self.t.conform(f"{label}: returns {describe(expected, names)}", got, expected,
                       names=names, hints=dict(spec.hints), wrong=wrong_answers)

        def at_precision(dtype: str) -> Any:
            return spec.reference(*rounded(args, dtype), **rounded(kwargs, dtype))

        self.t.close(label, got, expected, hint=hint or _as_hint(spec.hint), tol=spec.tol,
                     wrong=wrong_answers, at_precision=at_precision, float64=spec.float64,
                     unstable_hint=spec.unstable_hint, names=names)
        return got

    def unchanged(self, label: str, *args: Any, hint: str = "", **kwargs: Any) -> None:
        """Call the student's function and check that it left its inputs as they were (through
        the grading sandbox too: its in-place writes to arguments are mirrored back). ``hint``
        replaces the generic one where the exercise has a likelier cause (a perturbed element
        not restored, say)."""
        held = copy.deepcopy(args)
        self.t.call(self.fn, *held, copy_args=False, signature=self.spec.signature,
                    error_hints=tuple(self.spec.error_hints), **copy.deepcopy(kwargs))
        changed, total = 0, 0
        for (_, before), (_, after) in zip(leaves(args), leaves(held), strict=True):
            if isinstance(before, np.ndarray):
                changed += int(np.sum(before != after))
                total += before.size
        self.t.true(label, changed == 0,
                    detail=f"your function changed {changed} of the {total} input values",
                    hint=hint or "an in-place update (x[...] = ..., x -= ..., x *= ..., out=x) "
                                 "also changes the caller's array: compute a new array instead "
                                 "(x = x - m, np.where)")


def _as_hint(hint: str | Mapping[str, str]) -> str | dict[str, str]:
    return hint if isinstance(hint, str) else dict(hint)


def _like(expected: Any, reference: Any) -> Any:
    """A by-hand answer written as literals, in the reference's types (arrays, tuples, floats)."""
    if isinstance(reference, tuple | list):
        return type(reference)(_like(e, r) for e, r in zip(expected, reference, strict=True))
    if isinstance(reference, np.ndarray):
        return np.asarray(expected, dtype=reference.dtype)
    if is_tensor(reference):
        import torch

        return torch.as_tensor(np.asarray(expected), dtype=reference.dtype)
    if isinstance(reference, float | np.floating):
        return float(expected)
    return expected

"""Checking an object over a sequence of steps: an optimizer stepped 25 times, an early-stopping
rule fed a validation curve.

The check drives the student's object through the inputs (:func:`drive`): after each call of its
method it observes the step's answer and some attributes, read as copies (the student's arrays
keep changing; when grading, attributes come through the sandbox as copies anyway). Then it
compares the observations with the reference's, step by step (:func:`compare`): one sub-check,
failing at the first step that differs. The mistake it names is one whose whole run the
student's reproduces, else, for numbers, one that agrees at that step::

    opt = t.call(SGD, params, lr=0.1)
    got = drive(t, "25 steps", opt, "step", grads, reads=("params",), like=(None, params))
    compare(t, lambda k: f"params after step {k + 1}", [g[1] for g in got], expected,
            hint="p -= lr * g", mistakes=lambda: [(run_of(mistake), hint) for ...])
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from coursekit.checks.answers import Tolerance, leaves
from coursekit.checks.compare import match_values
from coursekit.checks.core import Checker, summarize

__all__ = ["drive", "compare", "same_values", "identical", "independent", "probe_in_place",
           "in_place"]


def same_values(got: Any, expected: Any) -> bool:
    """Do two observations agree within the default float64 tolerance?"""
    return match_values(got, expected, tol=Tolerance(), hint="") is None


def identical(a: Any, b: Any) -> bool:
    """Are two observations (nested tuples, lists and dicts of numbers and arrays) equal, with
    the same structure?"""
    left, right = list(leaves(a)), list(leaves(b))
    return len(left) == len(right) and all(
        pa == pb and np.shape(va) == np.shape(vb) and bool(np.array_equal(va, vb))
        for (pa, va), (pb, vb) in zip(left, right))


def drive(t: Checker, label: str, obj: Any, method: str, inputs: Sequence, *,
          reads: Sequence[str] = (), like: Any = None, names: tuple[str, ...] | None = None,
          hints: Mapping[str, str] | None = None, stop: bool = False,
          unchanged: str = "") -> list[tuple]:
    """``obj.<method>(x)`` for each x of ``inputs`` (through ``t.call``: a stub is "not
    attempted", an error names the step), each followed by an observation: the tuple of the
    step's answer and the attributes ``reads``. Returns the observations.

    ``like``: the reference's observation, or its run (a list: step k is like its k-th
    observation, or its last): each observation must have its types and shapes, its parts named
    by ``names`` and hinted by ``hints`` (no sub-check is counted: :func:`compare` counts one).
    ``stop``: the run ends after a step whose answer is true (an early-stopping rule).
    ``unchanged``: each x goes in as a copy that must come back unchanged; the hint if not."""
    seen: list[tuple] = []
    for k, x in enumerate(inputs):
        held = copy.deepcopy(x)
        shown = f"{x:g}" if isinstance(x, int | float) else "..."
        answer = t.call(lambda held=held: getattr(obj, method)(held),
                        context=f"call {k + 1}: {method}({shown})")
        if unchanged and not identical(held, x):
            t.fail(f"{label}: {method}() leaves its argument unchanged",
                   f"call {k + 1} of {method}() changed its argument", hint=unchanged)
        observed = (answer, *(copy.deepcopy(t.call(lambda name=name: getattr(obj, name)))
                              for name in reads))
        if like is not None:
            observed = t.conform(f"{label}: {method}() call {k + 1}", observed,
                                 like[min(k, len(like) - 1)] if isinstance(like, list) else like,
                                 names=names, hints=dict(hints or {}), count=False)
        seen.append(tuple(observed))
        if stop and answer:
            break
    return seen


def _render(observed: Any, names: Sequence[str] | None) -> str:
    """``step() -> True, best 0.8, best_epoch 1``: the step's answer first, then each read."""
    if names is None or not isinstance(observed, tuple):
        return str(observed)
    values = [f"{v:.6g}" if isinstance(v, float) else str(v) for v in observed]
    return ", ".join(f"{name} -> {v}" if i == 0 else f"{name} {v}"
                     for i, (name, v) in enumerate(zip(names, values)))


def compare(t: Checker, subcheck: str | Callable[[int], str], got: Sequence, expected: Sequence,
            *, hint: str, mistakes: Callable[[], Sequence[tuple[Sequence, str]]] = tuple,
            names: tuple[str, ...] | None = None, exact: bool = False, context: str = "",
            inputs: Sequence | None = None) -> None:
    """One sub-check: the observations ``got`` after each step against the reference's
    ``expected`` (either may end earlier). ``subcheck`` names it (a function of the first step
    that differs, from 0). ``mistakes`` gives known-wrong runs (computed only on a failure), each
    with its hint.

    By default observations are numbers and arrays, compared within the default tolerance
    (:meth:`Checker.close`: the differing step's values are shown, and a mistake is named if it
    agrees there; whole-run matches are preferred). ``exact``, or runs of different lengths:
    the step is shown from both runs (``names``: the answer's, then the reads'), below
    ``context`` followed by the ``inputs`` up to that step, and the hint is that of the first
    mistake whose whole run is the student's, else ``hint``."""
    same = identical if exact else same_values
    k = next((i for i in range(max(len(got), len(expected)))
              if i >= min(len(got), len(expected)) or not same(got[i], expected[i])), None)
    if k is None:
        t.ok()
        return
    label = subcheck(k) if callable(subcheck) else subcheck
    runs = list(mistakes())
    whole = [(run, h) for run, h in runs if len(run) == len(got) and all(map(same, got, run))]
    if not exact and k < min(len(got), len(expected)):  # both runs reached step k
        t.close(label, got[k], expected[k], hint=hint, names=names,
                wrong=[(run[k], h) for run, h in whole or runs if k < len(run)])
        return

    def at(run: Sequence) -> str:
        return _render(run[k], names) if k < len(run) else "no further step (stopped before)"

    lines = [context] if context else []
    if inputs is not None:
        shown = ", ".join(f"{v:g}" if isinstance(v, int | float) else "..." for v in inputs[:k + 1])
        lines = [" ".join([*lines, f"[{shown}{', ...' if k + 1 < len(inputs) else ''}]"])]
    lines += [f"at step {k}: expected {at(expected)}", f"           got      {at(got)}"]
    t.fail(label, "\n".join(lines), hint=whole[0][1] if whole else hint)


def independent(t: Checker, make: Callable[[], Any], method: str, inputs: tuple[Sequence, Sequence],
                read: str, expected: tuple, *, hint: str) -> None:
    """Sub-check: two instances keep their own state. Two objects from ``make()``, stepped through
    ``inputs[0]`` and then ``inputs[1]``; then ``read`` on each must give ``expected``."""
    objects = [make(), make()]
    for obj, xs in zip(objects, inputs, strict=True):
        for x in xs:
            t.call(lambda obj=obj, x=x: getattr(obj, method)(x))
    got = tuple(t.call(lambda obj=obj: getattr(obj, read)) for obj in objects)
    t.true("two instances keep their own state", identical(got, tuple(expected)), hint=hint,
           detail=f"after {method}() on {list(inputs[0])} with one and on {list(inputs[1])} with "
                  f"another: {read} {summarize(got[0])} and {summarize(got[1])}")


def probe_in_place(cls: Callable, arrays: list, kwargs: dict, x: Any, *, attr: str = "params",
                   method: str = "step") -> dict:
    """In the student's process (a probe): does ``cls(arrays, **kwargs).<attr>`` hold the very
    arrays it was given ("kept"), still after ``<method>(x)`` ("still")? And the caller's arrays
    after that step ("caller"): an object that updates a model's weights must write into them."""

    def same(held: Any) -> bool:
        return len(held) == len(arrays) and all(a is b for a, b in zip(held, arrays))

    obj = cls(arrays, **kwargs)
    kept = same(list(getattr(obj, attr)))
    getattr(obj, method)(x)
    return {"kept": kept, "still": same(list(getattr(obj, attr))),
            "caller": [np.array(a) for a in arrays]}


def in_place(t: Checker, cls: Callable, arrays: list, kwargs: dict, x: Any, expected: list, *,
             kept: str, written: str, names: Any = None, attr: str = "params",
             method: str = "step") -> None:
    """Three sub-checks, by :func:`probe_in_place` next to the student's object: it holds the very
    arrays it was given (else the hint ``kept``), still after a step, and the caller's arrays
    then hold ``expected`` (else the hint ``written``: it made new arrays)."""
    got = t.probe(probe_in_place, cls, [a.copy() for a in arrays], kwargs, copy.deepcopy(x),
                  attr=attr, method=method, expect={"kept": bool, "still": bool, "caller": list},
                  context=f"{method}() on a new object, next to it")
    t.true(f"{attr} holds the very arrays it was given", got["kept"], hint=kept,
           detail=f"obj.{attr}[i] is not the i-th array it was given: the object holds copies")
    t.true(f"{method}() updates those arrays in place", got["still"], hint=written,
           detail=f"after {method}(), obj.{attr} holds other arrays than the ones it was given")
    t.close(f"the caller's arrays hold the new values after {method}()", got["caller"], expected,
            hint=written, wrong=[(arrays, written)], names=names)

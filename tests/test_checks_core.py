"""The check core itself: the dtype policy, messages, hints from exceptions, stubs, probes.

The topic checks test the core in use (tests/test_checks_*.py); these pin the rules every topic
relies on, each with an exercise made up here.
"""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.checks import agrees
from coursekit.checks.core import GRADING_ENV, CheckFailed, NotAttempted, Tolerance, check
from coursekit.checks.errors import hint_for_exception
from coursekit.checks.exercise import Exercise, Run
from coursekit.checks.probe import resolve

SCALE = Exercise(
    "scale", signature="scale(x, factor=2.0)",
    reference=lambda x, factor=2.0: factor * x,
    hint="multiply every element by `factor`",
    wrong=[(lambda x, factor=2.0: x + factor, "multiply by factor, do not add it")],
)
SCALE64 = Exercise("scale64", reference=SCALE.reference, hint="multiply", float64=True)
TIGHT = Exercise("tight", reference=SCALE.reference, hint="multiply", tol=Tolerance(1e-12, 1e-15))
PAIR = Exercise("pair", reference=lambda x: (float(np.sum(x)), 2 * x), returns=("total", "doubled"),
                hint={"total": "sum every element", "doubled": "twice each element"})


@check("scale")
def check_scale(t, fn):
    run = Run(t, SCALE, fn)
    run.case("by hand", np.array([1.0, 2.0]), expected=[2.0, 4.0])
    run.case("random", t.rng.normal(size=(3, 4)) * 100)
    run.case("factor=-1.5", t.rng.normal(size=5), factor=-1.5)


@check("scale64")
def check_scale64(t, fn):
    Run(t, SCALE64, fn).case("random", t.rng.normal(size=(3, 4)))


@check("tight")
def check_tight(t, fn):
    Run(t, TIGHT, fn).case("by hand", np.array([0.3527730891]))


@check("pair")
def check_pair(t, fn):
    Run(t, PAIR, fn).case("random", t.rng.normal(size=6))


def _message(check_fn, fn) -> str:
    with pytest.raises(CheckFailed) as info:
        check_fn(fn)
    return str(info.value)


def test_float32_is_judged_at_float32_precision_and_float64_is_not_loosened(capsys):
    check_scale(lambda x, factor=2.0: (np.float32(factor) * x.astype(np.float32)))
    assert "✅ scale" in capsys.readouterr().out
    # an error far above float64's precision but within float32's: fails a float64 answer
    message = _message(check_scale, lambda x, factor=2.0: factor * x * (1 + 3e-6))
    assert "failed 'by hand'" in message or "failed 'random'" in message
    assert "judged at" not in message


def test_a_float64_exercise_says_so(capsys):
    message = _message(check_scale64, lambda x: (2 * x).astype(np.float32))
    assert "returned float32; this exercise needs float64" in message


def test_numbers_that_print_the_same_show_more_digits_and_dtypes():
    message = _message(check_tight, lambda x, factor=2.0: factor * x * (1 + 1e-9))
    line = next(ln for ln in message.splitlines() if "expected" in ln)
    expected, got = line.split("expected ")[1].split(", got ")
    assert expected.split()[0] != got.split()[0] and len(expected.split()[0]) > 8, line
    message = _message(check_scale, lambda x, factor=2.0: (factor * x).astype(np.float32) * 1.0001)
    assert "yours is float32, the reference float64" in message
    assert "judged at float32 precision" in message
    message = _message(check_scale, lambda x, factor=2.0: (factor * x).astype(np.float16) * 1.01)
    assert "judged at float16 precision" in message


def test_a_known_mistake_names_itself_and_a_shape_failure_gets_the_shape_hint():
    assert "do not add it" in _message(check_scale, lambda x, factor=2.0: x + factor)
    message = _message(check_scale, lambda x, factor=2.0: (factor * x).reshape(-1, 1))
    assert "expected shape (2,), got (2, 1)" in message
    assert "hint: check the shape of every step" in message


def test_parts_of_a_tuple_are_named_with_their_own_hints():
    message = _message(check_pair, lambda x: (float(np.sum(x)), 3 * x))
    assert "(doubled)" in message and "hint: twice each element" in message
    message = _message(check_pair, lambda x: float(np.sum(x)))
    assert "a tuple (total, doubled)" in message


def test_exceptions_get_a_hint_from_their_type_and_message():
    assert "no parameter `factor`" in _message(check_scale, lambda x: 2 * x)
    assert "`np` is not defined where your function runs" in hint_for_exception(
        NameError("name 'np' is not defined"))
    assert "define `tanh` on your class Value" in hint_for_exception(
        AttributeError("'Value' object has no attribute 'tanh'"))
    assert "shapes do not fit" in hint_for_exception(
        ValueError("operands could not be broadcast together with shapes (2,3) (4,)"))


def test_a_stub_says_not_attempted_and_only_fails_when_grading(monkeypatch, capsys):
    def stub(x, factor=2.0):
        raise NotImplementedError()

    monkeypatch.delenv(GRADING_ENV, raising=False)
    assert check_scale(stub) is None
    assert "⏳ scale: not attempted yet" in capsys.readouterr().out
    monkeypatch.setenv(GRADING_ENV, "1")
    with pytest.raises(NotAttempted):
        check_scale(stub)


def test_agrees_is_strict_about_types_and_fair_about_precision():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    assert agrees(np.float32(0.8807971), 0.8807970779778823)
    assert not agrees(0.88079, 0.8807970779778823)
    assert not agrees(AlwaysEqual(0.0), 5.5)
    assert not agrees([1.0, 2.0], [1, 2])  # a list where an array is due
    assert agrees(np.array([1.0, 2.0]), [1, 2]) and not agrees(3.0, 3)
    assert agrees(0.5, np.float64(0.5)) and agrees((np.log(2.0), np.ones(2)), (np.log(2.0), np.ones(2)))


@pytest.mark.parametrize("name", [
    "os:system", "coursekit.instructor.grade:probe_x", "coursekit.checks.core:Checker",
    "coursekit.checks.neurons:check_neuron", "coursekit.checks.x.y:probe_z;import os", 42,
])
def test_only_coursekit_probes_can_be_run_by_name(name):
    with pytest.raises((PermissionError, ModuleNotFoundError)):
        resolve(name)

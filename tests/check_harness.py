"""The one harness for the tests of every topic's checks.

A test module for ``coursekit.checks.<topic>`` defines, in the module itself:

    MODULE = coursekit.checks.<topic>
    CORRECT = {check_x: [reference, loop_version, in_float32(reference), ...], ...}
    WRONG = [(check_x, wrong_implementation, "distinctive words of its hint"), ...]

and imports the shared tests::

    from check_harness import (test_correct_implementations_pass,
                               test_wrong_implementations_fail_with_their_hint,
                               test_stub_is_not_attempted, test_every_check_is_tested_both_ways)

conftest.py parametrizes them from those names. Wrong implementations are written in the test
module, never built from the check module's own helpers (a check tested against itself proves
nothing). The hint is matched on the message's ``hint:`` line only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from coursekit.checks.core import GRADING_ENV, CheckFailed, NotAttempted

MIN_WRONG = 4  # classic mistakes per exercise, each with its hint (the definition of done)


def run_check(check: Callable, fn: Any, capsys) -> int:
    """Run ``check(fn)``; it must pass. Returns the number of sub-checks it ran."""
    check(fn)
    out = capsys.readouterr().out.strip().splitlines()
    assert out, "the check printed nothing"
    m = re.fullmatch(rf"✅ {re.escape(check.exercise)}: (\d+)/(\d+) checks passed", out[-1])
    assert m, out[-1]
    return int(m[1])


def failure(check: Callable, fn: Any) -> str:
    """Run ``check(fn)``; it must fail (and not as "not attempted"). Returns the message."""
    with pytest.raises(CheckFailed) as info:
        check(fn)
    assert not isinstance(info.value, NotAttempted), str(info.value)
    return str(info.value)


def hint_line(message: str) -> str:
    lines = [line for line in message.splitlines() if line.strip().startswith("hint:")]
    assert len(lines) == 1, message
    return lines[0]


def assert_fails_with(check: Callable, fn: Any, hint: str, subcheck: str = "") -> str:
    message = failure(check, fn)
    assert hint in hint_line(message), message
    if subcheck:
        assert f"failed '{subcheck}" in message.splitlines()[0], message
    return message


def in_float32(fn: Callable) -> Callable:
    """``fn`` computing in float32: float arrays (also in lists and tuples) and floats are cast
    down on the way in, as a float32 implementation (Keras, torch's default dtype) would."""

    def down(v: Any) -> Any:
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
            return v.astype(np.float32)
        if isinstance(v, float):
            return np.float32(v)
        if isinstance(v, list | tuple):
            return type(v)(down(x) for x in v)
        return v

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return fn(*(down(a) for a in args), **{k: down(v) for k, v in kwargs.items()})

    wrapped.__name__ = f"{fn.__name__}_float32"
    return wrapped


def stub(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError()


# -- the shared tests (parametrized by conftest.pytest_generate_tests) ---------------------------
def test_correct_implementations_pass(correct_case, capsys):
    """The reference and every alternative pass, each running the same sub-checks."""
    check, implementations = correct_case
    counts = {getattr(fn, "__name__", repr(fn)): run_check(check, fn, capsys)
              for fn in implementations}
    assert len(set(counts.values())) == 1, f"different numbers of sub-checks: {counts}"
    assert min(counts.values()) >= 3, counts


def test_wrong_implementations_fail_with_their_hint(wrong_case):
    check, fn, hint = wrong_case
    assert_fails_with(check, fn, hint)


def test_stub_is_not_attempted(correct_case, capsys, monkeypatch):
    """In a notebook a stub is reported and Run All goes on; when grading, it fails the cell."""
    check, _ = correct_case
    monkeypatch.delenv(GRADING_ENV, raising=False)
    assert check(stub) is None
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "Traceback" not in out
    monkeypatch.setenv(GRADING_ENV, "1")
    with pytest.raises(NotAttempted, match="not attempted yet"):
        check(stub)


def test_every_check_is_tested_both_ways(check_module):
    """Every public check has a reference and an alternative, and at least MIN_WRONG mistakes."""
    module, correct, wrong = check_module
    for name in module.__all__:
        check = getattr(module, name)
        assert len(correct.get(check, [])) >= 2, f"{name}: a reference and an alternative"
        mistakes = [w for w in wrong if w[0] is check]
        assert len(mistakes) >= MIN_WRONG, f"{name}: {len(mistakes)} wrong implementations"

"""The check core itself: the dtype policy, messages, hints from exceptions, stubs, probes.

The topic checks test the core in use (tests/test_checks_*.py); these pin the rules every topic
relies on, each with an exercise made up here.
"""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.checks import agrees, randomness, steps, torchref
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


def test_of_two_mistakes_within_the_tolerance_the_closer_one_is_named():
    """Both mistakes lie within the (loose) tolerance of the answer; the one it equals is named,
    listed first or second. (Adam's two eps placements were told apart by chance before.)"""
    def off_by(delta):
        return lambda x: x + delta

    for order in ((0.010, 0.011), (0.011, 0.010)):
        spec = Exercise("near", reference=lambda x: x, hint="return x",
                        tol=Tolerance(rtol=1e-9, atol=2e-3),
                        wrong=[(off_by(d), f"off by {d}") for d in order])

        @check(spec)
        def check_near(run, fn):
            run.case("by hand", np.array([0.0, 1.0]))

        assert "hint: off by 0.011" in _message(check_near, off_by(0.011))


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
    assert agrees(0.5, np.float64(0.5))
    assert agrees((np.log(2.0), np.ones(2)), (np.log(2.0), np.ones(2)))


@pytest.mark.parametrize("name", [
    "os:system", "coursekit.instructor.grade:probe_x", "coursekit.checks.core:Checker",
    "coursekit.checks.neurons:check_neuron", "coursekit.checks.x.y:probe_z;import os", 42,
])
def test_only_coursekit_probes_can_be_run_by_name(name):
    with pytest.raises((PermissionError, ModuleNotFoundError)):
        resolve(name)


# -- the core's helpers for topic modules (each used by a topic; tested on made-up exercises) --
def test_an_instance_passed_for_a_class_is_told_to_pass_the_class():
    class Thing:
        pass

    assert "hint: pass the class, not an instance: check_scale(Thing)" in _message(
        check_scale, Thing())
    assert "hint: pass the function itself: check_scale(scale)" in _message(
        check_scale, np.ones(3))


def test_a_probe_answer_is_checked_before_it_is_trusted(capsys):
    @check("probed")
    def check_probed(t, fn):
        answer = t.probe(fn, 2, expect={"value": int, "items": list})
        t.true("answered", answer["value"] == 2, hint="")

    check_probed(lambda n: {"value": n, "items": []})
    assert "✅ probed: 1/1" in capsys.readouterr().out
    message = _message(check_probed, lambda n: {"value": "2", "items": []})
    assert "failed 'the probe of your code answers'" in message
    assert "do not replace or patch coursekit's functions" in message


def test_a_form_check_may_count_no_sub_check(capsys):
    @check("forms")
    def check_forms(t, fn):
        t.conform("a number", fn(), 0.0, count=False)

    check_forms(lambda: 1.5)
    assert "✅ forms: 0/0" in capsys.readouterr().out
    assert "failed 'a number'" in _message(check_forms, lambda: "1.5")


CONV = Exercise(
    "shift", signature="shift(x, by=1, scale=1.0)", mistakes_by_position=True,
    reference=lambda x, by=1, scale=1.0: scale * np.roll(x, by),
    hint="roll x by `by`, then multiply by `scale`",
    wrong=[(lambda x, b, s: s * np.roll(x, -b), "roll forwards: np.roll(x, by), not -by"),
           (lambda x, b, s: np.roll(x, b), "multiply by `scale` too")],
)


@check(CONV)
def check_shift(run, fn):
    assert run.rng is run.t.rng  # the cases draw from the check's generator
    run.case("random", run.rng.normal(size=7), by=2, scale=3.0)
    run.case("the defaults", run.rng.normal(size=5))


def test_a_check_of_one_exercise_gets_its_run_and_mistakes_by_position(capsys):
    check_shift(lambda x, by=1, scale=1.0: scale * np.roll(x, by))
    assert "✅ shift: 4/4" in capsys.readouterr().out
    assert "not -by" in _message(check_shift, lambda x, by=1, scale=1.0: scale * np.roll(x, -by))
    assert "multiply by `scale` too" in _message(check_shift, lambda x, by=1, scale=1.0:
                                                 np.roll(x, by))
    assert CONV.mistake_arguments((np.ones(2),), {"scale": 2.0})[0][1:] == (1, 2.0)


def test_mistakes_built_from_a_reference():
    from coursekit.checks.mistakes import loss_mistakes, reordered, replaced, rescaled

    def ref(x, k=2.0):
        return k * x, x + 1

    x = np.arange(3.0)
    assert np.array_equal(replaced(ref, 1, lambda x, k=2.0: -x)(x)[1], -x)
    assert replaced(ref, 1, lambda x, k=2.0: None)(x) is None  # does not apply: explains nothing
    assert np.array_equal(rescaled(ref, lambda x, k=2.0: k, parts=(1,))(x, k=3.0)[1], 3 * (x + 1))
    assert np.array_equal(reordered(ref, (1, 0))(x)[0], x + 1)
    grad_only, summed, flipped = (m for m, _ in loss_mistakes(lambda y, t: (1.0, y - t)))
    assert grad_only(np.ones(4), np.zeros(4))[0] == 1.0 and summed(np.ones(4), np.zeros(4))[0] == 4
    assert np.array_equal(flipped(np.ones(2), np.zeros(2))[1], -np.ones(2))


def _mse(y_pred, y):
    return float(np.mean((y_pred - y) ** 2)), 2 * (y_pred - y) / y.size


def test_a_loss_exercise_names_the_mistakes_every_loss_invites():
    from coursekit.checks.mistakes import loss_exercise
    from coursekit.checks.torchref import with_grad

    spec = loss_exercise("mse", "mse(y_pred, y)",
                         with_grad(lambda yp, y: ((yp - torchref.tensor(y)) ** 2).mean()),
                         "y_pred", {"loss": "mean of squares", "grad": "2 (y_pred - y) / N"},
                         numpy_reference=_mse)

    @check(spec)
    def check_mse(run, fn):
        run.case("random", run.rng.normal(size=6), run.rng.normal(size=6))

    check_mse(_mse)
    for wrong, hint in (
            (lambda yp, y: (_mse(yp, y)[0] * y.size, _mse(yp, y)[1] * y.size), "not the sum"),
            (lambda yp, y: (_mse(yp, y)[0], _mse(yp, y)[1] * y.size), "the factor 1/N too"),
            (lambda yp, y: (_mse(yp, y)[0], -_mse(yp, y)[1]), "you have its negative"),
            (lambda yp, y: _mse(yp, y)[0], "return a tuple (loss, grad)")):
        assert hint in _message(check_mse, wrong)


def test_torch_references_build_modules_in_float64_without_touching_the_generator():
    import torch

    W, b = np.arange(6.0).reshape(3, 2), np.array([1.0, -1.0, 0.5])
    state = torch.random.get_rng_state()
    layer = torchref.module("Linear", 2, 3, state={"weight": W, "bias": b})
    assert torch.equal(state, torch.random.get_rng_state())
    assert layer.weight.dtype == torch.float64 and np.array_equal(torchref.numpy(layer.weight), W)
    assert np.allclose(torchref.no_grad(layer, np.ones((1, 2))), [[2.0, 4.0, 9.5]])
    with pytest.raises(KeyError):
        torchref.load(layer, {"weights": W})
    value, grad = torchref.with_grad(lambda x, y: ((x - torchref.tensor(y)) ** 2).sum())(
        np.array([1.0, 2.0]), np.zeros(2))
    assert value == 5.0 and np.array_equal(grad, [2.0, 4.0])
    assert torchref.functional() is torch.nn.functional


class Average:
    """A running average: the made-up stateful exercise of the steps tests."""

    def __init__(self, decay):
        self.decay, self.value, self.count = decay, 0.0, 0

    def step(self, x):
        self.count += 1
        self.value = self.decay * self.value + (1 - self.decay) * x
        return self.count >= 3  # stops after three steps


def _average_run(decay, xs, keep=False):
    value, out = 0.0, []
    for i, x in enumerate(xs):
        value = value if keep else decay * value + (1 - decay) * x
        out.append((i + 1 >= 3, value, i + 1))
    return out


@check("average")
def check_average(t, Cls, exact=True):
    xs, names = [1.0, 2.0, 4.0, 8.0], ("step()", "value", "count")
    expected = _average_run(0.5, xs)[:3]
    got = steps.drive(t, "four inputs", t.call(Cls, 0.5), "step", xs, reads=names[1:], stop=True,
                      like=expected, names=names, hints={"count": "count is an int"})
    mistaken = [(_average_run(0.5, xs, keep=True)[:3], "update the value at each step")]
    if exact:
        steps.compare(t, "four inputs", got, expected, hint="v = d v + (1 - d) x", exact=True,
                      mistakes=lambda: mistaken, names=names, context="decay=0.5,", inputs=xs)
    else:  # the values only, within the tolerance
        steps.compare(t, lambda k: f"value after step {k + 1}", [g[1] for g in got],
                      [e[1] for e in expected], hint="v = d v + (1 - d) x",
                      mistakes=lambda: [([e[1] for e in run], h) for run, h in mistaken])
    steps.independent(t, lambda: t.call(Cls, 0.5), "step", ([2.0], [4.0]), "value", (1.0, 2.0),
                      hint="keep the state on the instance")


def test_a_stateful_object_is_checked_over_its_steps(capsys):
    check_average(Average)
    check_average(Average, exact=False)
    assert capsys.readouterr().out.count("✅ average: 2/2") == 2

    class Frozen(Average):
        def step(self, x):
            self.count += 1
            return self.count >= 3

    assert "update the value at each step" in _message(check_average, Frozen)
    message = _message(lambda cls: check_average(cls, exact=False), Frozen)
    assert "failed 'value after step 1'" in message and "update the value" in message

    class Late(Average):
        def step(self, x):
            super().step(x)
            return self.count >= 4

    message = _message(check_average, Late)
    assert "decay=0.5, [1, 2, 4, ...]\n  at step 2: expected step() -> True, value 2.625" in message
    assert "got      step() -> False, value 2.625, count 3" in message
    message = _message(lambda cls: check_average(cls, exact=False), Late)  # one step too many
    assert "at step 3: expected no further step (stopped before)" in message

    class Floats(Average):
        def step(self, x):
            stop = super().step(x)
            self.count = float(self.count)
            return stop

    assert "hint: count is an int" in _message(check_average, Floats)

    class Shared(Average):
        value = 0.0

        def __init__(self, decay):
            self.decay, self.count = decay, 0

        def step(self, x):
            self.count += 1
            Shared.value = self.decay * Shared.value + (1 - self.decay) * x
            return self.count >= 3

    assert "keep the state on the instance" in _message(check_average, Shared)


class Scaler:
    """Multiplies the arrays it holds, in place (what an optimizer does to a model's weights)."""

    def __init__(self, params, factor=2.0):
        self.params, self.factor = list(params), factor

    def step(self, x):
        for p in self.params:
            p *= self.factor * x


@check("scaler")
def check_scaler(t, Cls):
    arrays = [t.rng.normal(size=3), t.rng.normal(size=(2, 2))]
    steps.in_place(t, Cls, arrays, {"factor": 3.0}, 0.5, [1.5 * a for a in arrays],
                   kept="keep the arrays", written="write into them")


def test_an_object_must_update_the_arrays_it_was_given(capsys):
    check_scaler(Scaler)
    assert "✅ scaler: 3/3" in capsys.readouterr().out

    class Copies(Scaler):
        def __init__(self, params, factor=2.0):
            super().__init__([p.copy() for p in params], factor)

    class NewArrays(Scaler):
        def step(self, x):
            self.params = [p * self.factor * x for p in self.params]

    assert "hint: keep the arrays" in _message(check_scaler, Copies)
    assert "hint: write into them" in _message(check_scaler, NewArrays)


def dropout(x, p, rng=None):
    rng = np.random.default_rng() if rng is None else rng
    return np.where(rng.random(x.shape) >= p, x / (1 - p), 0.0)


def _dropout_in_place(x, p, rng=None):
    x *= np.where(rng.random(x.shape) >= p, 1 / (1 - p), 0.0)
    return x


@check("drops")
def check_drops(t, fn):
    x = t.rng.normal(size=(100, 50))
    got = t.probe(randomness.probe_seeded, fn, x, 0.3, seed=int(t.rng.integers(1000)))
    randomness.masked(t, "p = 0.3", got["first"], x, 0.3, scale=1 / 0.7,
                      wrong=((lambda p: 1.0, "scale the kept values"),))
    randomness.reproducible(t, got, "mask")


def test_a_random_answer_is_checked_by_what_every_correct_draw_does(capsys):
    check_drops(dropout)
    assert "✅ drops: 7/7" in capsys.readouterr().out
    for wrong, hint in (
            (lambda x, p, rng=None: np.where(rng.random(x.shape) >= p, x, 0.0), "scale the kept"),
            (lambda x, p, rng=None: np.where(rng.random(x.shape) < p, x / (1 - p), 0.0),
             "the probability of DROPPING"),
            (lambda x, p, rng=None: np.where(np.random.random(x.shape) >= p, x / (1 - p), 0.0),
             "NumPy's global generator"),
            (lambda x, p, rng=None: dropout(x, p, np.random.default_rng(0)), "a fixed seed"),
            (lambda x, p, rng=None: dropout(x, p, np.random.default_rng()),
             "the generator you are"),
            (_dropout_in_place, "changes the caller's array")):
        assert hint in _message(check_drops, wrong), hint
    state = np.random.get_state()
    randomness.probe_seeded(lambda n, seed=None: np.random.permutation(n), 5, seed=1, by="seed")
    assert np.array_equal(state[1], np.random.get_state()[1])  # the global generator restored


def test_a_callback_records_every_call_through_copies():
    import copy

    from coursekit.checks.probe import Recorded

    recorded = Recorded(lambda a, b: a + b)
    assert copy.deepcopy([recorded])[0] is recorded
    assert recorded(1, 2) == 3 and copy.deepcopy(recorded)(3, 4) == 7
    assert recorded.calls == [(1, 2), (3, 4)]


def test_a_student_module_is_probed_where_it_lives(capsys):
    import torch

    from coursekit.checks import modules

    class Unused(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.used(x)

    @check("model")
    def check_model(t, build):
        model = t.call(build)
        modules.is_module(t, model, "build()", {"class": "return an instance"})
        facts = t.probe(modules.probe_backward, model, np.ones((5, 4)), np.arange(5) % 3,
                        count=("Linear",), expect=modules.BACKWARD)
        t.true("two layers", facts["counts"]["Linear"] == 2, hint="")
        modules.trains_everywhere(t, facts, "build()")

    assert "return an instance" in _message(check_model, lambda: Unused)
    assert "never used in forward" in _message(check_model, Unused)
    model = Unused()
    model.train(False)
    assert modules.probe_backward(model, np.ones((2, 4)), [0, 1])["unreached"] == [
        "unused.weight", "unused.bias"]
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert modules.probe_kind(None) == {"module": False, "class": False, "type": "NoneType",
                                        "framework": "builtins"}

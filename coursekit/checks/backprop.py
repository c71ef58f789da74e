"""Checks for notebook 03 Backpropagation.

Every reference is computed at check time in float64 on fresh random inputs: ``torch.autograd``
for the scalar engine ``Value``, ``linear_backward``, ``mse_loss_and_grad`` and
``mlp_gradients``; ``torch.nn.utils.clip_grad_norm_`` for clipping; analytic gradients for
``numerical_gradient``; :func:`coursekit.gradcheck.relative_error` (the course's one definition)
for ``relative_error``. PyTorch is imported inside the checks, never when this module loads.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from coursekit.checks.core import Checker, CheckFailed, NotAttempted, check, summarize

__all__ = [
    "check_value",
    "check_linear_backward",
    "check_mse_loss_and_grad",
    "check_mlp_gradients",
    "check_numerical_gradient",
    "check_relative_error",
    "check_clip_grad_norm",
]


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------
def _call(t: Checker, thunk: Callable[[], Any], context: str, error_hint: str = "") -> Any:
    """``t.call`` on a function of no arguments, so nothing is deep-copied (a graph of Values
    keeps its identity; an array the check holds is the one the student's code sees), with a line
    saying what was being computed when it fails, and ``error_hint`` (when given) as the hint
    for an exception raised by the student's code."""
    try:
        return t.call(thunk)
    except NotAttempted:
        raise
    except CheckFailed as exc:
        lines = str(exc).splitlines()
        lines.insert(1, f"  while computing: {context}")
        if error_hint:
            lines = [f"  hint: {error_hint}" if line.startswith("  hint: ") else line
                     for line in lines]
        raise CheckFailed("\n".join(lines)) from None


def _items(t: Checker, subcheck: str, out: Any, names: Sequence[str]) -> list[Any]:
    """``out`` must be a tuple (or list) with one item per name."""
    wanted = f"({', '.join(names)})"
    if not isinstance(out, tuple | list):
        t.fail(subcheck, f"expected a tuple {wanted}, got {type(out).__name__}: {summarize(out)}",
               hint=f"return {wanted}; did you forget a `return`?")
    if len(out) != len(names):
        t.fail(subcheck, f"expected {len(names)} items {wanted}, got {len(out)}: {summarize(out)}",
               hint=f"return exactly {wanted}, in that order")
    t.ok()
    return list(out)


def _flat(arrays: Sequence[Any]) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=float).reshape(-1) for a in arrays])


def _torch():
    import torch  # only when a check runs

    return torch


# ---------------------------------------------------------------------------------------------
# Value: a scalar autograd engine
# ---------------------------------------------------------------------------------------------
_HINT_CHAIN = ("multiply each local derivative by out.grad (the chain rule): "
               "self.grad += <local derivative> * out.grad")
_HINT_ACCUMULATE = ("a node used more than once must add up the gradient from every use: "
                    "write `self.grad += ...` in each _backward, not `self.grad = ...`")
_HINT_TOPO = ("every node must receive all of its gradient before it passes it on: build a "
              "topological order (a depth-first search that appends a node after its children), "
              "then call _backward on each node once, in reverse topological order")
_HINT_SHARED = ("a shared inner node collects gradient from each of its uses (+=) and must pass "
                "it on once, after all of them: call _backward once per node, in reverse "
                "topological order")
_HINT_POW = "d(a**n)/da = n * a**(n - 1): bring the exponent down and lower it by one"
_HINT_DIV = ("d(a/b)/da = 1/b and d(a/b)/db = -a / b**2 (or write a / b as a * b**-1 and let "
             "__mul__ and __pow__ do the work)")
_HINT_TANH = "d tanh(a)/da = 1 - t**2, where t = tanh(a) is the output (out.data), not the input"
_HINT_RELU = ("relu passes the gradient on unchanged where its input is > 0 and blocks it (0) "
              "elsewhere: self.grad += (out.data > 0) * out.grad")
_HINT_RSUB = "`c - a` calls a.__rsub__(c): it must return other - self, not self - other"
_HINT_RDIV = ("`c / a` calls a.__rtruediv__(c): it must return other / self "
              "(other * self**-1), not self / other")
_HINT_WRAP = ("wrap a plain number in a Value first (`other = other if isinstance(other, Value) "
              "else Value(other)`) and return a new Value from every operation")

# (method an expression needs, how the expression is written)
_VALUE_METHODS = (
    ("__add__", "a + b"), ("__radd__", "2 + a"), ("__sub__", "a - b"), ("__rsub__", "2 - a"),
    ("__mul__", "a * b"), ("__rmul__", "2 * a"), ("__truediv__", "a / b"),
    ("__rtruediv__", "2 / a"), ("__pow__", "a ** 2"), ("__neg__", "-a"),
    ("tanh", "a.tanh()"), ("exp", "a.exp()"), ("relu", "a.relu()"), ("backward", "f.backward()"),
)


class _Op:
    """One operation checked on its own: ``f = build(a, b) * g`` so that the chain rule shows."""

    def __init__(self, text: str, build: Callable, a: float, b: float,
                 forward_wrong: Sequence[tuple[float, str]] = (),
                 local_wrong: Sequence[tuple[tuple[float, float], str]] = ()):
        self.text, self.build, self.a, self.b = text, build, a, b
        self.forward_wrong = list(forward_wrong)
        self.local_wrong = list(local_wrong)  # wrong (d/da, d/db) of build, with a hint


def _value_ops(t: Checker) -> list[_Op]:
    rng = t.rng

    def signed(lo: float = 0.5, hi: float = 2.0) -> float:
        return float(rng.uniform(lo, hi) * rng.choice([-1.0, 1.0]))

    def pos(lo: float = 0.5, hi: float = 2.0) -> float:
        return float(rng.uniform(lo, hi))

    c = float(rng.choice([0.5, 1.5, 2.5, 3.0]))  # a constant that prints exactly
    a, b = signed(), signed()
    ops = [
        _Op("a + b", lambda a, b: a + b, a, b),
        _Op("a * b", lambda a, b: a * b, a, b,
            local_wrong=[((a, b), "d(a*b)/da = b and d(a*b)/db = a: each side gets the other "
                                  "factor")]),
        _Op("-a", lambda a, b: -a, a, b, local_wrong=[((1.0, 0.0), "d(-a)/da = -1")]),
        _Op("a - b", lambda a, b: a - b, a, b,
            forward_wrong=[(b - a, "a - b subtracts b from a: check the order in __sub__")],
            local_wrong=[((-1.0, 1.0), "d(a - b)/da = +1 and d(a - b)/db = -1")]),
    ]
    for n in (2, 3, -1, 0.5):
        a = pos() if n == 0.5 else signed()  # a fractional power needs a positive base
        ops.append(_Op(f"a ** {n}", lambda a, b, n=n: a ** n, a, b,
                       local_wrong=[((n * a ** n, 0.0), _HINT_POW), ((a ** (n - 1), 0.0), _HINT_POW),
                                    (((n - 1) * a ** (n - 1), 0.0), _HINT_POW)]))
    a, b = signed(), signed()
    ops.append(_Op("a / b", lambda a, b: a / b, a, b,
                   forward_wrong=[(b / a, "a / b divides a by b: check the order in __truediv__")],
                   local_wrong=[((1 / b, a / b ** 2), _HINT_DIV), ((1 / b, -a / b), _HINT_DIV),
                                ((1 / b, 1 / a), _HINT_DIV), ((b, -a / b ** 2), _HINT_DIV)]))
    # a number on either side of an operator (b is unused from here on)
    a = signed()
    ops += [
        _Op(f"a + {c}", lambda a, b: a + c, a, b),
        _Op(f"{c} + a", lambda a, b: c + a, a, b),
        _Op(f"a - {c}", lambda a, b: a - c, a, b,
            forward_wrong=[(c - a, "a - c subtracts c from a: check the order in __sub__")]),
        _Op(f"{c} - a", lambda a, b: c - a, a, b, forward_wrong=[(a - c, _HINT_RSUB)],
            local_wrong=[((1.0, 0.0), _HINT_RSUB)]),
        _Op(f"a * {c}", lambda a, b: a * c, a, b),
        _Op(f"{c} * a", lambda a, b: c * a, a, b),
        _Op(f"a / {c}", lambda a, b: a / c, a, b,
            forward_wrong=[(c / a, "a / c divides a by c: check the order in __truediv__")]),
        _Op(f"{c} / a", lambda a, b: c / a, a, b, forward_wrong=[(a / c, _HINT_RDIV)],
            local_wrong=[((c / a ** 2, 0.0), _HINT_RDIV), ((1 / c, 0.0), _HINT_RDIV)]),
    ]
    a = signed(0.2, 2.0)
    ops.append(_Op("a.tanh()", lambda a, b: a.tanh(), a, b,
                   local_wrong=[((1 - a ** 2, 0.0), _HINT_TANH),
                                ((1 - math.tanh(a), 0.0), _HINT_TANH),
                                ((math.tanh(a), 0.0), _HINT_TANH)]))
    a = signed(0.2, 2.0)
    ops.append(_Op("a.exp()", lambda a, b: a.exp(), a, b,
                   local_wrong=[((a * math.exp(a - 1), 0.0),
                                 "d exp(a)/da = exp(a), the output itself (not a power rule)")]))
    a = pos(0.3, 2.0)  # relu is not differentiable at 0: stay away from it
    ops += [
        _Op("a.relu() for a > 0", lambda a, b: a.relu(), a, b, local_wrong=[((a, 0.0), _HINT_RELU)]),
        _Op("a.relu() for a < 0", lambda a, b: a.relu(), -a, b,
            local_wrong=[((1.0, 0.0), _HINT_RELU)]),
    ]
    return ops


def _torch_graph(build: Callable, values: Sequence[float]) -> tuple[float, list[float]]:
    """The same expression in float64 PyTorch: the output and d output / d leaf for each leaf."""
    torch = _torch()
    leaves = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in values]
    out = build(*leaves)
    out.backward()
    return float(out.item()), [0.0 if x.grad is None else float(x.grad.item()) for x in leaves]


def _number_attr(t: Checker, node: Any, attr: str, context: str) -> float:
    """``node.data`` or ``node.grad`` as a float, failing readably when it is missing or odd."""
    if not hasattr(node, attr):
        t.fail(f"Values have .{attr}", f"{context} has no attribute .{attr}",
               hint="store the number in self.data and its gradient in self.grad, as micrograd does")
    value = getattr(node, attr)
    ok = isinstance(value, numbers.Real | np.number) and not isinstance(value, bool | np.bool_)
    if isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.number):
        ok = True
    if not ok:
        hint = "`.data` and `.grad` hold plain Python floats"
        if hasattr(value, "data") and hasattr(value, "grad"):
            hint = "a Value ended up inside a Value: use other.data, and wrap numbers, not Values"
        t.fail(f".{attr} is a number", f"{context}.{attr} is {summarize(value)} "
               f"({type(value).__name__})", hint=hint)
    return float(value)


def _is_value(t: Checker, out: Any, Value: type, context: str) -> None:
    if not isinstance(out, Value):
        t.fail(f"{context} returns a Value", f"{context} returned {summarize(out)} "
               f"({type(out).__name__}), not a Value", hint=_HINT_WRAP)


def _backward(t: Checker, out: Any, context: str) -> None:
    if not callable(getattr(out, "backward", None)):
        t.fail("Values have .backward()", f"{context} has no backward() method",
               hint="define backward(self) on Value")
    _call(t, out.backward, f"({context}).backward()")


def _compare(t: Checker, subcheck: str, names: Sequence[str], got: Sequence[float],
             expected: Sequence[float], *, context: str, hint: str,
             diagnose: Sequence[tuple[Sequence[float], str]] = (), rtol: float = 1e-6,
             atol: float = 1e-9) -> None:
    """Scalars (a forward value, leaf gradients) against the reference, named one by one."""
    g, e = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if np.all(np.isfinite(g)) and np.allclose(g, e, rtol=rtol, atol=atol):
        t.ok()
        return
    for wrong, wrong_hint in diagnose:
        if np.allclose(g, np.asarray(wrong, dtype=float), rtol=1e-5, atol=1e-7, equal_nan=True):
            hint = wrong_hint
            break
    rows = [f"f = {context}"]
    for name, gv, ev in zip(names, g, e, strict=True):
        mark = "" if np.isclose(gv, ev, rtol=rtol, atol=atol) else "   <- differs"
        rows.append(f"{name}: expected {ev:.6g}, got {gv:.6g}{mark}")
    t.fail(subcheck, "\n".join(rows), hint=hint, tolerance=f"rtol={rtol:g}, atol={atol:g}")


def _graph_case(t: Checker, Value: type, subcheck: str, text: str, build: Callable,
                values: dict[str, float], *, hint: str,
                diagnose: Sequence[tuple[Sequence[float], str]] = (), rtol: float = 1e-6) -> None:
    """Build ``f = build(*leaves)`` with the student's Value, call f.backward(), and compare f and
    every leaf's gradient with PyTorch on the same graph."""
    shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
    context = f"{text}   with {shown}"

    def run():
        leaves = [Value(v) for v in values.values()]
        return leaves, build(*leaves)

    leaves, out = _call(t, run, context)
    _is_value(t, out, Value, text)
    _backward(t, out, text)
    got = [_number_attr(t, out, "data", "f")]
    got += [_number_attr(t, leaf, "grad", name) for leaf, name in zip(leaves, values, strict=True)]
    data, grads = _torch_graph(build, list(values.values()))
    scale = max(1.0, *(abs(x) for x in [data, *grads]))
    _compare(t, subcheck, ["f", *(f"{k}.grad" for k in values)], got, [data, *grads],
             context=context, hint=hint, diagnose=diagnose, rtol=rtol, atol=1e-9 * scale)


@check("value")
def check_value(t: Checker, Value: type) -> None:
    # 1. structure: a class with the methods the exercise asks for
    if not isinstance(Value, type):
        t.fail("is a class", f"expected the class Value itself, got {summarize(Value)} "
               f"({type(Value).__name__})", hint="pass the class, not an instance: check_value(Value)")
    missing = [f"{name} (for {usage})" for name, usage in _VALUE_METHODS if not hasattr(Value, name)]
    t.true("has every operation", not missing, detail="missing: " + "; ".join(missing),
           hint="a number on the left (`2 + a`) calls a.__radd__(2), so each operator needs "
                "its reflected twin too; define every method listed")
    a = _call(t, lambda: Value(2.0), "Value(2.0)")
    data = _number_attr(t, a, "data", "Value(2.0)")
    grad = _number_attr(t, a, "grad", "Value(2.0)")
    t.true("Value(x) stores x in .data and 0 in .grad", data == 2.0 and grad == 0.0,
           detail=f"Value(2.0).data = {data:g}, Value(2.0).grad = {grad:g}",
           hint="__init__ sets self.data = data and self.grad = 0.0")
    for text, build in (("a + b", lambda a, b: a + b), ("a * b", lambda a, b: a * b),
                        ("a + 3", lambda a, b: a + 3), ("3 * a", lambda a, b: 3 * a),
                        ("a.tanh()", lambda a, b: a.tanh())):
        out = _call(t, lambda build=build: build(Value(2.0), Value(-3.0)), text)
        _is_value(t, out, Value, text)
    t.ok()

    # 2. a case small enough to do by hand: f = a*b + c, so df/da = b, df/db = a, df/dc = 1
    _graph_case(
        t, Value, "by hand: f = a*b + c with a=2, b=-3, c=10", "a * b + c",
        lambda a, b, c: a * b + c, {"a": 2.0, "b": -3.0, "c": 10.0},
        hint="f = -6 + 10 = 4; df/da = b = -3, df/db = a = 2, df/dc = 1",
        diagnose=[([4.0, 0.0, 0.0, 0.0], "backward() must start by setting the output's grad to "
                                         "1.0 (df/df = 1) before propagating"),
                  ([4.0, 0.0, 0.0, 1.0], "the gradient stopped one step from the output: "
                                         "backward() must call _backward on every node, from the "
                                         "output back to the leaves (reverse topological order)"),
                  ([4.0, 2.0, -3.0, 1.0], "d(a*b)/da = b and d(a*b)/db = a: each side gets the "
                                          "other factor")])

    # 3. every operation on its own, then scaled by g so that missing chain rules show
    for op in _value_ops(t):
        g = float(t.rng.uniform(1.5, 3.0) * t.rng.choice([-1.0, 1.0]))
        uses_b = "b" in op.text
        shown = f"a={op.a:.4g}" + (f", b={op.b:.4g}" if uses_b else "")

        def run(op=op, g=g):
            leaves = (Value(op.a), Value(op.b), Value(g))
            return leaves, op.build(leaves[0], leaves[1])

        (la, lb, lg), out = _call(t, run, f"{op.text} with {shown}")
        _is_value(t, out, Value, op.text)
        value, local = _torch_graph(op.build, [op.a, op.b])
        _compare(t, f"forward: {op.text}", ["value"], [_number_attr(t, out, "data", op.text)],
                 [value], context=f"{op.text}   with {shown}",
                 hint=f"check the forward computation of {op.text}",
                 diagnose=[([w], h) for w, h in op.forward_wrong])
        f = _call(t, lambda out=out, lg=lg: out * lg, f"({op.text}) * g")
        _is_value(t, f, Value, f"({op.text}) * g")
        _backward(t, f, f"({op.text}) * g")
        got = [_number_attr(t, leaf, "grad", name)
               for leaf, name in zip((la, lb, lg), "abg", strict=True)]
        _, expected = _torch_graph(lambda x, y, z, op=op: op.build(x, y) * z, [op.a, op.b, g])
        wrong = [([g * wa, g * wb, value], h) for (wa, wb), h in op.local_wrong]
        wrong.append(([local[0], local[1], value], _HINT_CHAIN))
        names = ["a.grad", "b.grad" if uses_b else "b.grad (unused)", "g.grad"]
        _compare(t, f"gradient: f = ({op.text}) * g", names, got, expected,
                 context=f"({op.text}) * g   with {shown}, g={g:.4g}",
                 hint=f"check the _backward of {op.text}", diagnose=wrong,
                 atol=1e-9 * max(1.0, *map(abs, expected)))

    # 4. a leaf used twice: its gradients from both uses add up
    a, b = float(t.rng.uniform(0.5, 2.0)), float(t.rng.uniform(-2.0, -0.5))
    _graph_case(t, Value, "node used twice: f = a * a", "a * a", lambda a: a * a, {"a": a},
                hint=_HINT_ACCUMULATE)
    _graph_case(t, Value, "node used twice: f = a + a", "a + a", lambda a: a + a, {"a": a},
                hint=_HINT_ACCUMULATE)

    # 5. graph order: an inner node reached by a short and a long path, a shared intermediate,
    #    a deep graph. Each inner node must have all its gradient before it passes it on.
    def short_and_long(a, b):
        h = a * b
        long_path = ((h * 3.0).tanh() * 2.0 + 1.0).exp()
        return long_path + h  # h is one step from f, and four steps away through long_path

    _graph_case(t, Value, "node reached by a short and a long path (topological order)",
                "exp(tanh(3h)*2 + 1) + h with h = a*b", short_and_long,
                {"a": float(t.rng.uniform(0.2, 0.6)), "b": float(t.rng.uniform(-0.6, 0.6))},
                hint=_HINT_TOPO)

    def shared(a, b):
        c = a * b
        return c * c + c

    _graph_case(t, Value, "shared intermediate: c = a*b, f = c*c + c", "c*c + c with c = a*b",
                shared, {"a": a, "b": b}, hint=_HINT_SHARED)

    def deep(a, b, c):
        x = a
        for _ in range(25):
            x = (x * c + b).tanh() + a * 0.5
        return x * x

    _graph_case(t, Value, "deep graph: 25 layers of x = tanh(x*c + b) + a/2, f = x*x",
                "25 x (tanh(x*c + b) + a*0.5), then x*x", deep,
                {"a": float(t.rng.uniform(-1, 1)), "b": float(t.rng.uniform(-1, 1)),
                 "c": float(t.rng.uniform(0.5, 1.5))}, hint=_HINT_TOPO)

    # 6. large inputs: saturated tanh, huge and tiny exp, division by a tiny number
    hint_tanh = ("tanh(30) rounds to 1, so its gradient 1 - t**2 is 0: use math.tanh, or a "
                 "formula that stays finite for large |a|")
    hint_exp = "d exp(a)/da = exp(a): reuse out.data; math.exp handles a = ±30"
    for text, build, values, hint in (
        ("a.tanh() * b", lambda a, b: a.tanh() * b, {"a": 30.0, "b": 2.0}, hint_tanh),
        ("a.tanh() * b", lambda a, b: a.tanh() * b, {"a": -30.0, "b": 2.0}, hint_tanh),
        ("a.exp() * b", lambda a, b: a.exp() * b, {"a": 30.0, "b": 0.5}, hint_exp),
        ("a.exp() * b", lambda a, b: a.exp() * b, {"a": -30.0, "b": 0.5}, hint_exp),
        ("a / b", lambda a, b: a / b, {"a": 1.5, "b": 1e-6}, _HINT_DIV),
    ):
        shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
        _graph_case(t, Value, f"large inputs: {text} with {shown}", text, build, values, hint=hint)


# ---------------------------------------------------------------------------------------------
# linear_backward
# ---------------------------------------------------------------------------------------------
def _torch_linear(dout: np.ndarray, X: np.ndarray, W: np.ndarray):
    torch = _torch()
    Xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    Wt = torch.tensor(W, dtype=torch.float64, requires_grad=True)
    bt = torch.zeros(W.shape[1], dtype=torch.float64, requires_grad=True)
    (Xt @ Wt + bt).backward(torch.tensor(dout, dtype=torch.float64))
    return Xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


_HINT_DX = "dX = dout @ W.T: (N, M) @ (M, D) gives X's shape (N, D)"
_HINT_DX_W = "dX uses W transposed: dX = dout @ W.T, not dout @ W"
_HINT_DW = "dW = X.T @ dout: (D, N) @ (N, M) gives W's shape (D, M)"
_HINT_DW_T = "dW is transposed: dW = X.T @ dout, not dout.T @ X (which is its transpose)"
_HINT_DB = ("b is added to every row, so db sums dout over the batch: db = dout.sum(axis=0), "
            "shape (M,)")
_HINT_DB_MEAN = ("db is the sum of dout over the batch, not the mean: the 1/N, if any, is "
                 "already inside dout")


def _linear_results(t: Checker, out: Any, N: int, D: int, M: int) -> tuple[np.ndarray, ...]:
    dX, dW, db = _items(t, "returns a tuple (dX, dW, db)", out, ("dX", "dW", "db"))
    dX = t.is_array(f"dX has X's shape ({N}, {D})", dX, shape=(N, D), hint=_HINT_DX)
    dW = t.is_array(f"dW has W's shape ({D}, {M})", dW, shape=(D, M), hint=_HINT_DW,
                    shape_hints={(M, D): _HINT_DW_T} if M != D else None)
    db = t.is_array(f"db has b's shape ({M},)", db, shape=(M,), hint=_HINT_DB,
                    shape_hints={(N, M): "db must be summed over the batch axis: "
                                         "db = dout.sum(axis=0)",
                                 (N,): "sum over axis 0 (the batch), not axis 1",
                                 (1, M): "db has b's shape (M,): sum without keepdims",
                                 (): "sum over the batch axis only (axis=0): db has one entry "
                                     "per output"})
    return dX, dW, db


def _linear_compare(t: Checker, label: str, got: tuple[np.ndarray, ...], dout: np.ndarray,
                    X: np.ndarray, W: np.ndarray, expected=None) -> None:
    dX, dW, db = got
    eX, eW, eb = _torch_linear(dout, X, W) if expected is None else expected

    def scale(e: np.ndarray) -> float:  # an absolute tolerance relative to the answer's size
        return 1e-9 * max(1.0, float(np.max(np.abs(e)))) if e.size else 1e-9

    wrong_dX = [(dout @ W, _HINT_DX_W)] if W.shape[0] == W.shape[1] else []
    t.close(f"dX {label}", dX, eX, atol=scale(eX), hint="dX = dout @ W.T", diagnose=wrong_dX)
    wrong_dW = [(eW.T, _HINT_DW_T)] if W.shape[0] == W.shape[1] else []
    wrong_dW.append((X.T @ dout / len(X), "no 1/N here: dW = X.T @ dout (dout already holds it)"))
    t.close(f"dW {label}", dW, eW, atol=scale(eW), hint="dW = X.T @ dout", diagnose=wrong_dW)
    t.close(f"db {label}", db, eb, atol=scale(eb), hint=_HINT_DB,
            diagnose=[(dout.mean(axis=0), _HINT_DB_MEAN)])


@check("linear_backward")
def check_linear_backward(t: Checker, linear_backward: Callable) -> None:
    # 1. structure and shapes; W is square here so that a transposition mistake still runs
    N, D, M = 4, 3, 3
    X, W, dout = t.rng.normal(size=(N, D)), t.rng.normal(size=(D, M)), t.rng.normal(size=(N, M))
    first = _linear_results(t, t.call(linear_backward, dout, X, W), N, D, M)

    # 2. by hand: with dout = I, dX = W.T, dW = X.T and db = [1, 1]
    Xh, Wh, douth = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [2.0, 0.0]]), np.eye(2)
    got = _linear_results(t, t.call(linear_backward, douth, Xh, Wh), 2, 2, 2)
    _linear_compare(t, "by hand (dout = I: dX = W.T, dW = X.T, db = [1, 1])", got, douth, Xh, Wh,
                    expected=(Wh.T, Xh.T, np.ones(2)))

    # 3. against torch.autograd on random inputs, square then rectangular
    _linear_compare(t, "matches torch.autograd (N=4, D=M=3)", first, dout, X, W)
    for N, D, M in ((5, 4, 3), (7, 2, 6)):
        X, W, dout = t.rng.normal(size=(N, D)), t.rng.normal(size=(D, M)), t.rng.normal(size=(N, M))
        got = _linear_results(t, t.call(linear_backward, dout, X, W), N, D, M)
        _linear_compare(t, f"matches torch.autograd (N={N}, D={D}, M={M})", got, dout, X, W)

    # 4. edge cases: a batch of one; values of very different magnitudes
    X, W, dout = t.rng.normal(size=(1, 4)), t.rng.normal(size=(4, 2)), t.rng.normal(size=(1, 2))
    got = _linear_results(t, t.call(linear_backward, dout, X, W), 1, 4, 2)
    _linear_compare(t, "batch of one (N=1)", got, dout, X, W)
    X, W = 1e6 * t.rng.normal(size=(3, 4)), 1e-3 * t.rng.normal(size=(4, 5))
    dout = 1e3 * t.rng.normal(size=(3, 5))
    got = _linear_results(t, t.call(linear_backward, dout, X, W), 3, 4, 5)
    _linear_compare(t, "large and small values", got, dout, X, W)


# ---------------------------------------------------------------------------------------------
# mse_loss_and_grad
# ---------------------------------------------------------------------------------------------
def _torch_mse(y_pred: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    torch = _torch()
    yp = torch.tensor(y_pred, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.mse_loss(yp, torch.tensor(y, dtype=torch.float64))
    loss.backward()
    return float(loss.item()), yp.grad.numpy()


_HINT_MSE_GRAD = "d/dy_pred mean((y_pred - y)**2) = 2 * (y_pred - y) / y_pred.size"


def _mse_wrong(y_pred: np.ndarray, y: np.ndarray) -> tuple[list, list]:
    diff, size = y_pred - y, y_pred.size
    loss_wrong = [
        (np.sum(diff ** 2), "the loss is the mean of the squared errors, not their sum"),
        (np.mean(np.abs(diff)), "square the errors: (y_pred - y)**2, not |y_pred - y|"),
        (0.5 * np.mean(diff ** 2), "no factor 1/2 here: loss = mean((y_pred - y)**2)"),
        (np.sum(diff ** 2) / len(y_pred), "average over all y.size elements, not over the "
                                           "len(y) rows"),
        (np.sqrt(np.mean(diff ** 2)), "that is the root of the MSE: do not take the square root"),
    ]
    grad_wrong = [
        (diff / size, "the factor 2 is missing: d(u**2)/du = 2u, so grad = 2 * (y_pred - y) / size"),
        (2 * diff, "the 1/size of the mean is missing: grad = 2 * (y_pred - y) / y_pred.size"),
        (diff, "both the factor 2 and the 1/size are missing: grad = 2 * (y_pred - y) / size"),
        (-2 * diff / size, "the sign is flipped: the gradient is 2 * (y_pred - y) / size, "
                           "it points towards larger loss"),
        (2 * diff / len(y_pred), "divide by all y.size elements, not by the len(y) rows"),
    ]
    return loss_wrong, grad_wrong


def _mse_case(t: Checker, fn: Callable, label: str, y_pred: np.ndarray, y: np.ndarray,
              expected: tuple[float, np.ndarray] | None = None) -> None:
    out = t.call(fn, y_pred, y)
    loss, grad = _items(t, "returns a tuple (loss, d_y_pred)", out, ("loss", "d_y_pred"))
    loss = t.is_number("the loss is a number", loss,
                       hint="return the loss as one float, averaged over every element: "
                            "float(np.mean((y_pred - y)**2))")
    grad = t.is_array("d_y_pred has y_pred's shape", grad, shape=y_pred.shape,
                      hint="the gradient has one entry per prediction: the shape of y_pred")
    e_loss, e_grad = _torch_mse(y_pred, y) if expected is None else expected
    loss_wrong, grad_wrong = _mse_wrong(y_pred, y)
    scale = max(1.0, float(np.max(np.abs(e_grad))))
    t.close(f"loss {label}", loss, e_loss, atol=1e-12 * max(1.0, e_loss),
            hint="loss = mean((y_pred - y)**2) over every element", diagnose=loss_wrong)
    t.close(f"gradient {label}", grad, e_grad, atol=1e-9 * scale, hint=_HINT_MSE_GRAD,
            diagnose=grad_wrong)


@check("mse_loss_and_grad")
def check_mse_loss_and_grad(t: Checker, mse_loss_and_grad: Callable) -> None:
    fn = mse_loss_and_grad
    # 1-2. structure, then by hand: errors [0, 2, 3] give loss 13/3 and grad 2*[0, 2, 3]/3
    y_pred, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0])
    _mse_case(t, fn, "by hand: y_pred=[1,2,3], y=[1,0,0] gives 13/3 and [0, 4/3, 2]", y_pred, y,
              expected=(13 / 3, np.array([0.0, 4 / 3, 2.0])))
    # 3. against torch on random inputs, 1-D and 2-D (the mean is over every element)
    for shape in ((8,), (6, 3)):
        y_pred, y = t.rng.normal(size=shape), t.rng.normal(size=shape)
        _mse_case(t, fn, f"matches torch (shape {shape})", y_pred, y)
    # 4. edge cases: a batch of one, a perfect prediction, large values
    y_pred, y = t.rng.normal(size=(1, 1)), t.rng.normal(size=(1, 1))
    _mse_case(t, fn, "batch of one (shape (1, 1))", y_pred, y)
    y = t.rng.normal(size=(4, 2))
    _mse_case(t, fn, "perfect prediction (loss 0, gradient 0)", y.copy(), y)
    y_pred, y = 1e6 * t.rng.normal(size=(5, 2)), 1e6 * t.rng.normal(size=(5, 2))
    _mse_case(t, fn, "large values", y_pred, y)


# ---------------------------------------------------------------------------------------------
# mlp_gradients
# ---------------------------------------------------------------------------------------------
def _torch_mlp(X: np.ndarray, y: np.ndarray, params) -> list[tuple[np.ndarray, np.ndarray]]:
    torch = _torch()
    tensors = [(torch.tensor(W, dtype=torch.float64, requires_grad=True),
                torch.tensor(b, dtype=torch.float64, requires_grad=True)) for W, b in params]
    h = torch.tensor(X, dtype=torch.float64)
    for i, (W, b) in enumerate(tensors):
        h = h @ W + b
        if i < len(tensors) - 1:
            h = torch.tanh(h)
    torch.nn.functional.mse_loss(h, torch.tensor(y, dtype=torch.float64)).backward()
    return [(W.grad.numpy(), b.grad.numpy()) for W, b in tensors]


def _mlp_variant(X, y, params, *, local: str = "1-a^2", last_tanh: bool = False,
                 dloss: str = "2/size") -> list[tuple[np.ndarray, np.ndarray]]:
    """A NumPy backward pass with one switch flipped: the gradients a known mistake gives."""
    hs, zs, h = [X], [], X
    for i, (W, b) in enumerate(params):
        z = h @ W + b
        h = np.tanh(z) if (i < len(params) - 1 or last_tanh) else z
        zs.append(z)
        hs.append(h)
    diff = h - y
    d = {"2/size": 2 * diff / diff.size, "1/size": diff / diff.size, "2": 2 * diff,
         "2/N": 2 * diff / len(diff)}[dloss]
    grads = []
    for i in reversed(range(len(params))):
        if i < len(params) - 1 or last_tanh:
            a = hs[i + 1]
            d = d * {"1-a^2": 1 - a ** 2, "none": 1.0, "1-z^2": 1 - zs[i] ** 2, "1-a": 1 - a}[local]
        grads.append((hs[i].T @ d, d.sum(axis=0)))
        d = d @ params[i][0].T
    return grads[::-1]


_HINT_MLP = ("backward, last layer first: dZ = dL/dy_pred; dW = H_prev.T @ dZ; db = dZ.sum(0); "
             "dH_prev = dZ @ W.T; then through the tanh below: dZ_prev = dH_prev * (1 - H_prev**2)")
_MLP_WRONG = (
    (dict(local="none"), "multiply by tanh'(z) = 1 - tanh(z)**2 when going back through each "
                         "hidden layer's activation"),
    (dict(local="1-z^2"), "tanh'(z) = 1 - a**2 with a = tanh(z), the layer's output: you used "
                          "the pre-activation z"),
    (dict(local="1-a"), "tanh'(z) = 1 - a**2: square the activation"),
    (dict(last_tanh=True), "the last layer is linear: no tanh on the output, so no tanh' in "
                           "its backward"),
    (dict(dloss="1/size"), "the loss gradient misses its factor 2: dL/dy_pred = 2 (y_pred - y) / "
                           "y.size"),
    (dict(dloss="2"), "the loss gradient misses the 1/size of the mean: dL/dy_pred = "
                      "2 (y_pred - y) / y.size"),
    (dict(dloss="2/N"), "average over all y.size elements (N * D_out), not over the N rows"),
)


def _mlp_params(t: Checker, sizes: Sequence[int], gain: float = 1.0):
    return [(gain * t.rng.normal(size=(a, c)) / math.sqrt(a), 0.5 * t.rng.normal(size=c))
            for a, c in zip(sizes[:-1], sizes[1:], strict=False)]


def _mlp_case(t: Checker, mlp_gradients: Callable, label: str, X: np.ndarray, y: np.ndarray,
              params, expected=None) -> None:
    out = t.call(mlp_gradients, X, y, params)
    L = len(params)
    if not isinstance(out, list | tuple):
        t.fail("returns a list of (dW, db)", f"expected a list of {L} (dW, db) pairs, got "
               f"{type(out).__name__}: {summarize(out)}",
               hint="return one (dW, db) per layer; did you forget a `return`?")
    if len(out) != L:
        t.fail("one (dW, db) per layer", f"params has {L} layers, got {len(out)} items: "
               f"{summarize(out)}", hint="return a list with one (dW, db) tuple per (W, b) in params")
    shapes = [(W.shape, b.shape) for W, b in params]
    got_pairs = []
    for i, pair in enumerate(out):
        dW, db = _items(t, f"layer {i + 1} gives (dW, db)", pair, ("dW", "db"))
        t.is_array(f"layer {i + 1}: dW is an array", dW)
        t.is_array(f"layer {i + 1}: db is an array", db)
        got_pairs.append((dW, db))
    got_shapes = [(dW.shape, db.shape) for dW, db in got_pairs]
    if got_shapes != shapes:
        hint = "dW has the shape of its W and db of its b, layer by layer in the order of params"
        if got_shapes == shapes[::-1]:
            hint = ("the layers come out reversed: the backward pass visits them last to first, "
                    "but return them in the order of params (e.g. reverse the list at the end)")
        t.fail("shapes match params", f"expected shapes {shapes}, got {got_shapes}", hint=hint)
    t.ok()
    expected = _torch_mlp(X, y, params) if expected is None else expected
    variants = [(_mlp_variant(X, y, params, **kw), hint) for kw, hint in _MLP_WRONG]
    scale = 1e-9 * max(1.0, float(np.max(np.abs(_flat([g for p in expected for g in p])))))
    # last layer first, the order backward visits them: the first mismatch shows where it goes wrong
    for layer in reversed(range(L)):
        for k, name in enumerate(("dW", "db")):
            t.close(f"layer {layer + 1} of {L}: {name} {label}", got_pairs[layer][k],
                    expected[layer][k], atol=scale, hint=_HINT_MLP,
                    diagnose=[(v[layer][k], hint) for v, hint in variants])


@check("mlp_gradients")
def check_mlp_gradients(t: Checker, mlp_gradients: Callable) -> None:
    # 1-2. structure and a case by hand: W1 = 0 so the hidden layer is tanh(0) = 0 and
    #      tanh'(0) = 1; y_pred = b2 = 3, y = 1, dL/dy_pred = 2 * (3 - 1) = 4
    X, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    params = [(np.zeros((2, 1)), np.zeros(1)), (np.array([[1.0]]), np.array([3.0]))]
    expected = [(np.array([[4.0], [8.0]]), np.array([4.0])), (np.zeros((1, 1)), np.array([4.0]))]
    _mlp_case(t, mlp_gradients, "by hand (2-1-1 net, W1 = 0: dW1 = [[4], [8]], db1 = [4], "
              "dW2 = [[0]], db2 = [4])", X, y, params, expected=expected)
    # 3. against torch.autograd on random networks
    for sizes, n in (([3, 5, 4, 2], 8), ([4, 6, 1], 5)):
        X, params = t.rng.normal(size=(n, sizes[0])), _mlp_params(t, sizes)
        y = t.rng.normal(size=(n, sizes[-1]))
        _mlp_case(t, mlp_gradients, f"vs torch.autograd (sizes {sizes}, N={n})", X, y, params)
    # 4. edge cases: no hidden layer, a batch of one, a deep stack, saturated units
    for label, sizes, n, gain in (("one linear layer", [3, 2], 6, 1.0),
                                  ("batch of one", [2, 4, 3], 1, 1.0),
                                  ("deep: 5 hidden layers", [2, 4, 4, 4, 4, 4, 1], 6, 1.0),
                                  ("saturated tanh (large weights)", [3, 5, 2], 6, 8.0)):
        X, params = t.rng.normal(size=(n, sizes[0])), _mlp_params(t, sizes, gain)
        y = t.rng.normal(size=(n, sizes[-1]))
        _mlp_case(t, mlp_gradients, f"{label} (sizes {sizes}, N={n})", X, y, params)


# ---------------------------------------------------------------------------------------------
# numerical_gradient
# ---------------------------------------------------------------------------------------------
_HINT_CENTRAL = ("use central differences, (f(x + eps) - f(x - eps)) / (2 * eps): a one-sided "
                 "difference (f(x + eps) - f(x)) / eps has an error of order eps, central of "
                 "order eps**2")
_HINT_ANY_SHAPE = ("x can have any shape: perturb one element at a time, e.g. loop over "
                   "np.ndindex(x.shape) (or over range(x.size) on x.reshape(-1), a view)")


def _one_sided(f: Callable, x: np.ndarray, eps: float, forward: bool) -> np.ndarray:
    grad, x = np.zeros_like(x), x.copy()
    fx = f(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps if forward else old - eps
        grad[idx] = (f(x) - fx) / eps if forward else (fx - f(x)) / eps
        x[idx] = old
    return grad


def _num_grad_case(t: Checker, fn: Callable, label: str, f: Callable, x: np.ndarray,
                   expected: np.ndarray, *, eps: float | None = None, hint: str,
                   rtol: float = 1e-6) -> None:
    args = (f, x) if eps is None else (f, x, eps)
    shape_hint = "the gradient has one entry per element of x: fill a np.zeros_like(x)"
    got = t.is_array(f"returns an array shaped like x {label}", t.call(fn, *args), shape=x.shape,
                     hint=_HINT_ANY_SHAPE if x.ndim > 1 else shape_hint,
                     shape_hints={(x.size,): "keep x's shape: fill a np.zeros_like(x)"}
                     if x.ndim > 1 else None)
    step = 1e-5 if eps is None else eps
    wrong = [(_one_sided(f, x, step, True), _HINT_CENTRAL),
             (_one_sided(f, x, step, False), _HINT_CENTRAL),
             (2 * expected, "divide the difference by 2 * eps: the two points are 2 * eps apart")]
    t.close(f"gradient {label}", got, expected, rtol=rtol,
            atol=1e-7 * max(1.0, float(np.max(np.abs(expected)))), diagnose=wrong, hint=hint)


@check("numerical_gradient")
def check_numerical_gradient(t: Checker, numerical_gradient: Callable) -> None:
    # 1-2. structure and a case by hand: f(x) = sum(x**2) has gradient 2x
    x = np.array([0.1, -0.2, 0.3])
    _num_grad_case(t, numerical_gradient,
                   "by hand: f = sum(x**2) at [0.1, -0.2, 0.3] gives [0.2, -0.4, 0.6]",
                   lambda v: float(np.sum(v ** 2)), x, 2 * x,
                   hint="perturb one element at a time by +eps and -eps and take the difference "
                        "of f over 2 * eps")

    # 3. accuracy: exp(k x) curves fast (f'' = k f'), so a one-sided difference is off by ~k*eps/2
    k = 20.0
    x = t.rng.uniform(0.0, 0.5, size=8)
    _num_grad_case(t, numerical_gradient, "of sum(exp(20 x)) (large second derivative)",
                   lambda v: float(np.sum(np.exp(k * v))), x, k * np.exp(k * x),
                   hint=_HINT_CENTRAL)

    # 4. x is left as it was (t.call copies its arguments, so call directly on an array we keep)
    x = t.rng.normal(size=5)
    kept = x.copy()
    _call(t, lambda: numerical_gradient(lambda v: float(np.sum(np.sin(v) * v)), x),
          f"numerical_gradient(f, x) on x of shape {x.shape}")
    changed = ~np.isclose(x, kept, rtol=1e-12, atol=1e-14)
    worst = int(np.argmax(np.abs(x - kept)))
    t.true("x is unchanged afterwards", not np.any(changed),
           detail=f"{int(np.sum(changed))} of {x.size} entries of x changed; x[{worst}] was "
                  f"{kept[worst]:.10g} and is now {x[worst]:.10g}",
           hint="restore each element after perturbing it (old = x[i]; ...; x[i] = old), "
                "or work on a copy of x")

    # 5. x of any shape: f(X) = sum(tanh(X @ A)) needs X's real shape
    A = t.rng.normal(size=(4, 3))
    for shape in ((5, 4), (2, 3, 4)):
        X = t.rng.normal(size=shape)
        expected = (1 - np.tanh(X @ A) ** 2) @ A.T
        _num_grad_case(t, numerical_gradient, f"for x of shape {shape}",
                       lambda v: float(np.sum(np.tanh(v @ A))), X, expected, hint=_HINT_ANY_SHAPE)

    # 6. the eps argument is used: for sum(x**3) the central difference is exactly 3x**2 + eps**2
    x = t.rng.normal(size=6)
    _num_grad_case(t, numerical_gradient, "with eps=0.1 on sum(x**3) (exactly 3x**2 + eps**2)",
                   lambda v: float(np.sum(v ** 3)), x, 3 * x ** 2 + 0.01, eps=0.1,
                   hint="use the eps argument as the step; do not hard-code one")


# ---------------------------------------------------------------------------------------------
# relative_error
# ---------------------------------------------------------------------------------------------
def _reference_relative_error(a, b) -> float:
    from coursekit.gradcheck import relative_error

    return relative_error(a, b)


def _relative_error_wrong(a, b) -> list[tuple[float, str]]:
    from coursekit.gradcheck import TINY

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    den = np.maximum(np.abs(a) + np.abs(b), TINY)
    with np.errstate(divide="ignore", invalid="ignore"):
        return [
            (float(np.max((a - b) / den)), "take the absolute value |a - b|: without it a "
                                           "negative difference looks like a perfect match"),
            (float(np.max(np.abs(a - b) / np.maximum(np.abs(a + b), TINY))),
             "divide by |a| + |b| (absolute values first, then add), not |a + b|"),
            (float(np.mean(np.abs(a - b) / den)), "take the max over elements, not the mean"),
            (float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), TINY))),
             "divide by |a| + |b|, not max(|a|, |b|)"),
            (float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), TINY)),
             "this course's relative error is elementwise: max over i of |a_i - b_i| / "
             "max(|a_i| + |b_i|, 1e-12), not a ratio of norms"),
            (float(np.max(np.abs(a - b) / np.maximum(np.abs(b), TINY))),
             "divide by |a| + |b| (symmetric), not by |b| alone"),
        ]


def _relative_error_case(t: Checker, fn: Callable, label: str, a, b, *, hint: str,
                         expected: float | None = None, diagnose: bool = True) -> None:
    got = t.is_number(f"returns a number {label}", t.call(fn, a, b),
                      hint="reduce to one number with the max over all elements: float(np.max(...))")
    expected = _reference_relative_error(a, b) if expected is None else expected
    t.close(f"relative error {label}", got, expected, rtol=1e-9, atol=1e-15,
            diagnose=_relative_error_wrong(a, b) if diagnose else (), hint=hint)


@check("relative_error")
def check_relative_error(t: Checker, relative_error: Callable) -> None:
    formula = "max over elements of |a - b| / max(|a| + |b|, 1e-12)"
    # 1-2. structure and a case by hand
    _relative_error_case(t, relative_error, "by hand: a=[2, 1], b=[1, 3] gives max(1/3, 2/4) = 0.5",
                         np.array([2.0, 1.0]), np.array([1.0, 3.0]), expected=0.5, hint=formula)
    # 3. random arrays of mixed signs
    for shape in ((7,), (3, 4)):
        a = t.rng.normal(size=shape)
        b = a + 0.3 * t.rng.normal(size=shape) * np.abs(a)
        _relative_error_case(t, relative_error, f"of random arrays of shape {shape}", a, b,
                             hint=formula)
    # 4. symmetric: the error of (a, b) is the error of (b, a)
    _relative_error_case(t, relative_error, "with a and b swapped", b, a, hint=formula)
    # 5. edge cases: opposite signs (error 1), both 0 (0/0), tiny magnitudes (the floor), scalars
    a = t.rng.normal(size=6)
    _relative_error_case(t, relative_error, "when a and b have opposite signs (error 1)", a,
                         -a * t.rng.uniform(0.5, 2.0, size=6), hint=formula)
    a, b = np.array([0.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0])
    _relative_error_case(t, relative_error, "when a and b are both 0 somewhere", a, b,
                         hint="two zeros agree: floor the denominator, max(|a| + |b|, 1e-12), so "
                              "0/0 does not give nan")
    _relative_error_case(t, relative_error, "for tiny values (a=[1e-20], b=[3e-20])",
                         np.array([1e-20]), np.array([3e-20]), diagnose=False,  # all ~0
                         hint="the denominator's floor is 1e-12, as the docstring says: "
                              "2e-20 / max(4e-20, 1e-12) = 2e-8")
    _relative_error_case(t, relative_error, "for scalars 1.0 and 1.5 (0.5 / 2.5 = 0.2)", 1.0, 1.5,
                         hint="it also works for plain numbers: np.abs and np.max accept them")


# ---------------------------------------------------------------------------------------------
# clip_grad_norm
# ---------------------------------------------------------------------------------------------
def _torch_clip(grads: Sequence[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    torch = _torch()
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g, dtype=torch.float64)
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad.numpy() for p in params], float(norm)


def _clip_wrong(grads: Sequence[np.ndarray], max_norm: float):
    norms = [float(np.sqrt(np.sum(g ** 2))) for g in grads]
    total = float(np.sqrt(sum(n ** 2 for n in norms)))
    per_grad = [g * min(1.0, max_norm / (n + 1e-6)) for g, n in zip(grads, norms, strict=True)]
    always = [g * max_norm / (total + 1e-6) for g in grads]
    summed = sum(norms)
    by_sum = [g * min(1.0, max_norm / (summed + 1e-6)) for g in grads]
    clipped = [
        (_flat(per_grad), "clip by the global norm of all gradients together, "
                          "sqrt(sum of every squared entry), not each gradient by its own norm"),
        (_flat(always), "only scale down when the total norm exceeds max_norm: scale = "
                        "min(1, max_norm / (total_norm + 1e-6))"),
        (_flat(by_sum), "the total norm is sqrt(sum of squares of all entries), not the sum of "
                        "each gradient's norm"),
    ]
    norm = [
        (min(total, max_norm), "return the total norm from before clipping (as "
                               "torch.nn.utils.clip_grad_norm_ does), not after"),
        (summed, "the total norm is sqrt(sum of squares of all entries), not the sum of each "
                 "gradient's norm"),
        (total ** 2, "take the square root: the norm is sqrt(sum of squares)"),
        (max(norms) if norms else 0.0, "the total norm covers every gradient together, not the "
                                       "largest one"),
    ]
    return clipped, norm


def _clip_case(t: Checker, fn: Callable, label: str, grads: list[np.ndarray], max_norm: float,
               *, hint: str, error_hint: str = "") -> None:
    if error_hint:
        shapes = ", ".join(str(g.shape) for g in grads)
        out = _call(t, lambda: fn(copy.deepcopy(grads), max_norm),
                    f"clip_grad_norm(grads, {max_norm:g}) with {label}, grads of shapes {shapes}",
                    error_hint=error_hint)
    else:
        out = t.call(fn, grads, max_norm)
    if isinstance(out, list | tuple) and all(isinstance(o, np.ndarray) and o.ndim for o in out):
        t.fail("returns a tuple (clipped_grads, total_norm)", f"got {summarize(out)}",
               hint="did you return only the clipped gradients? return (clipped_grads, total_norm)")
    clipped, norm = _items(t, "returns a tuple (clipped_grads, total_norm)", out,
                           ("clipped_grads", "total_norm"))
    if not isinstance(clipped, list | tuple) or len(clipped) != len(grads):
        t.fail("clipped_grads is a list like grads", f"expected a list of {len(grads)} arrays, "
               f"got {summarize(clipped)}", hint="return one clipped array per gradient, in a "
                                                 "list: [g * scale for g in grads]")
    for i, (c, g) in enumerate(zip(clipped, grads, strict=True)):
        t.is_array(f"clipped gradient {i} has its gradient's shape", c, shape=g.shape,
                   hint="scale each gradient; keep its shape")
    norm = t.is_number("total_norm is a number", norm,
                       hint="return the total norm as a float: float(np.sqrt(...))")
    e_clipped, e_norm = _torch_clip(grads, max_norm)
    wrong_clipped, wrong_norm = _clip_wrong(grads, max_norm)
    t.close(f"total_norm {label}", norm, e_norm, rtol=1e-7, atol=1e-12 * max(1.0, e_norm),
            diagnose=wrong_norm, hint="total_norm = sqrt(sum over every gradient of the sum of "
                                      "its squared entries), before clipping")
    e = _flat(e_clipped)
    t.close(f"clipped gradients {label}", _flat(clipped), e, rtol=1e-6,
            atol=1e-12 * max(1.0, float(np.max(np.abs(e))) if e.size else 1.0),
            diagnose=wrong_clipped, hint=hint)


@check("clip_grad_norm")
def check_clip_grad_norm(t: Checker, clip_grad_norm: Callable) -> None:
    rule = ("scale = max_norm / (total_norm + 1e-6); multiply every gradient by it only if it "
            "is < 1")
    # 1-2. structure and a case by hand: norms 3 and 4 give a total norm of 5
    _clip_case(t, clip_grad_norm, "by hand: grads [3.] and [4.], max_norm=1 (total norm 5, "
               "clipped to about [0.6] and [0.8])", [np.array([3.0]), np.array([4.0])], 1.0, hint=rule)

    # 3. against torch.nn.utils.clip_grad_norm_ on parameter-shaped gradients
    def grads_like(shapes, scale=1.0):
        return [scale * t.rng.normal(size=s) for s in shapes]

    shapes = [(3, 5), (5,), (5, 2), (2,)]
    grads = grads_like(shapes)
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
    _clip_case(t, clip_grad_norm, "matches torch clip_grad_norm_ (norm above max_norm)", grads,
               0.3 * total, hint=rule)
    # 4. edge cases: below max_norm nothing changes; all zeros; one big gradient; huge values
    grads = grads_like(shapes)
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
    _clip_case(t, clip_grad_norm, "below max_norm (left unchanged)", grads, 2.0 * total,
               hint="when the total norm is below max_norm the gradients are returned unchanged")
    _clip_case(t, clip_grad_norm, "all-zero gradients (norm 0, nothing to clip)",
               [np.zeros((3, 2)), np.zeros(2)], 1.0,
               error_hint="a zero norm must not divide by zero: divide by (total_norm + 1e-6)",
               hint="a zero norm must not divide by zero: the 1e-6 in the denominator keeps the "
                    "scale finite, and a scale >= 1 is not applied")
    _clip_case(t, clip_grad_norm, "a single gradient", grads_like([(4, 4)]), 0.5, hint=rule)
    _clip_case(t, clip_grad_norm, "huge gradients (exploding)", grads_like(shapes, 1e8), 5.0,
               hint=rule)

"""The backprop checks: correct code passes (two styles, float32), known mistakes get their hint."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    assert_fails_with,
    failure,
    in_float32,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import NotAttempted
from coursekit.checks import backprop as checks
from coursekit.checks.core import GRADING_ENV


# =============================================================================================
# Value: a clean micrograd-style reference, and a configurable engine for the variants
# =============================================================================================
class Value:
    """Reference: micrograd's engine (recursive topological sort; - and / built from + * **)."""

    def __init__(self, data, _children=()):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, n):
        out = Value(self.data ** n, (self,))

        def _backward():
            self.grad += n * self.data ** (n - 1) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():
            self.grad += (1 - t ** 2) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,))

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,))

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1

    def __rtruediv__(self, other):
        return other * self ** -1


def make_value(*, accumulate=True, order="iterative", chain=True, seed=True, div="ok", pow_="ok",
               rsub="ok", tanh="ok", relu="ok", returns="value", stub=False, dtype=float,
               missing=(), grad_name="grad"):
    """A second engine, written differently (direct formulas for every op, an iterative
    topological sort), with one switch per known mistake; ``dtype=np.float32`` keeps every
    number in float32, as a float32 engine would."""

    class V:
        def __init__(self, data, children=()):
            self.data, self.children = dtype(data), tuple(children)
            setattr(self, grad_name, dtype(0.0))  # "gradient": a Value without .grad
            self.grad_fn = None

        @staticmethod
        def _wrap(x):
            return x if isinstance(x, V) else V(x)

        def _give(self, node, local, out):
            if stub:
                raise NotImplementedError
            g = dtype(local) * out.grad if chain else dtype(local)
            node.grad = node.grad + g if accumulate else g

        def _make(self, data, children, grad_fn):
            if stub:
                raise NotImplementedError()
            if returns == "float":
                return data
            out = V(data, children)
            out.grad_fn = lambda: grad_fn(out)
            return out

        def __add__(self, o):
            o = V._wrap(o)
            return self._make(self.data + o.data, (self, o),
                              lambda out: (self._give(self, 1.0, out), self._give(o, 1.0, out)))

        def __radd__(self, o):
            return self + o

        def __neg__(self):
            return self._make(-self.data, (self,), lambda out: self._give(self, -1.0, out))

        def __sub__(self, o):
            o = V._wrap(o)
            return self._make(self.data - o.data, (self, o),
                              lambda out: (self._give(self, 1.0, out), self._give(o, -1.0, out)))

        def __rsub__(self, o):
            if rsub == "swapped":
                return self - o
            return V._wrap(o) - self

        def __mul__(self, o):
            o = V._wrap(o)
            return self._make(self.data * o.data, (self, o),
                              lambda out: (self._give(self, o.data, out),
                                           self._give(o, self.data, out)))

        def __rmul__(self, o):
            return self * o

        def __truediv__(self, o):
            o = V._wrap(o)
            a, b = self.data, o.data
            if div == "raise":
                raise ZeroDivisionError("float division by zero")
            db = {"ok": -a / b ** 2, "sign": a / b ** 2, "no_square": -a / b}[div]
            return self._make(a / b, (self, o),
                              lambda out: (self._give(self, 1 / b, out), self._give(o, db, out)))

        def __rtruediv__(self, o):
            return V._wrap(o) / self

        def __pow__(self, n):
            a = self.data
            local = {"ok": n * a ** (n - 1), "n_a_n": n * a ** n}[pow_]
            return self._make(a ** n, (self,), lambda out: self._give(self, local, out))

        def tanh(self):
            t = dtype(math.tanh(self.data))
            local = {"ok": 1 - t ** 2, "input": 1 - self.data ** 2}[tanh]
            return self._make(t, (self,), lambda out: self._give(self, local, out))

        def exp(self):
            e = dtype(math.exp(self.data))
            return self._make(e, (self,), lambda out: self._give(self, e, out))

        def relu(self):
            r = max(self.data, dtype(0.0))
            local = {"ok": float(self.data > 0), "value": r}[relu]
            return self._make(r, (self,), lambda out: self._give(self, local, out))

        def _order(self):
            if order == "iterative":  # post-order depth-first search with an explicit stack
                topo, seen, stack = [], set(), [(self, False)]
                while stack:
                    node, expanded = stack.pop()
                    if expanded:
                        topo.append(node)
                    elif id(node) not in seen:
                        seen.add(id(node))
                        stack.append((node, True))
                        stack.extend((c, False) for c in node.children)
                return topo[::-1]
            if order == "bfs":  # breadth-first from the output: not a topological order
                seen, queue, out = {id(self)}, [self], []
                while queue:
                    node = queue.pop(0)
                    out.append(node)
                    for c in node.children:
                        if id(c) not in seen:
                            seen.add(id(c))
                            queue.append(c)
                return out
            if order == "only_output":
                return [self]
            raise ValueError(order)

        def backward(self):
            if stub:
                raise NotImplementedError()
            if seed:
                self.grad = dtype(1.0)
            if order == "naive_recursive":  # each node pushes its grad, then recurses
                def push(node):
                    if node.grad_fn:
                        node.grad_fn()
                    for c in node.children:
                        push(c)
                push(self)
                return
            for node in self._order():
                if node.grad_fn:
                    node.grad_fn()

    if rsub == "missing":
        del V.__rsub__
    for name in missing:
        delattr(V, name)
    return V


# =============================================================================================
# reference and alternative implementations of the array exercises
# =============================================================================================
def linear_backward(dout, X, W):
    return dout @ W.T, X.T @ dout, dout.sum(axis=0)


def linear_backward_loop(dout, X, W):
    N, D = X.shape
    M = W.shape[1]
    dX, dW, db = np.zeros((N, D)), np.zeros((D, M)), np.zeros(M)
    for n in range(N):
        for m in range(M):
            db[m] += dout[n, m]
            for d in range(D):
                dX[n, d] += dout[n, m] * W[d, m]
                dW[d, m] += X[n, d] * dout[n, m]
    return dX, dW, db


def linear_backward_torch_float32(dout, X, W):
    Xt = torch.tensor(X, dtype=torch.float32, requires_grad=True)
    Wt = torch.tensor(W, dtype=torch.float32, requires_grad=True)
    bt = torch.zeros(W.shape[1], requires_grad=True)
    (Xt @ Wt + bt).backward(torch.tensor(dout, dtype=torch.float32))
    return Xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


def mse_loss_and_grad(y_pred, y):
    diff = y_pred - y
    return float(np.mean(diff ** 2)), 2 * diff / diff.size


def mse_loss_and_grad_torch(y_pred, y):
    yp = torch.tensor(y_pred, requires_grad=True)
    loss = ((yp - torch.tensor(y)) ** 2).mean()
    loss.backward()
    return loss.item(), yp.grad.numpy()


def mse_loss_and_grad_float32(y_pred, y):
    diff = y_pred.astype(np.float32) - y.astype(np.float32)
    return np.mean(diff ** 2), 2 * diff / diff.size  # a float32 number and array


def mlp_gradients(X, y, params):
    hs, h = [X], X
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = np.tanh(h)
        hs.append(h)
    _, d = mse_loss_and_grad(h, y)
    grads = []
    for i in reversed(range(len(params))):
        if i < len(params) - 1:
            d = d * (1 - hs[i + 1] ** 2)
        dX, dW, db = linear_backward(d, hs[i], params[i][0])
        grads.append((dW, db))
        d = dX
    return grads[::-1]


def mlp_gradients_torch(X, y, params, dtype=torch.float64):
    ts = [(torch.tensor(W, dtype=dtype, requires_grad=True),
           torch.tensor(b, dtype=dtype, requires_grad=True)) for W, b in params]
    h = torch.tensor(X, dtype=dtype)
    for i, (W, b) in enumerate(ts):
        h = h @ W + b
        h = torch.tanh(h) if i < len(ts) - 1 else h
    ((h - torch.tensor(y, dtype=dtype)) ** 2).mean().backward()
    return [(W.grad.numpy(), b.grad.numpy()) for W, b in ts]


def mlp_gradients_torch_float32(X, y, params):
    return mlp_gradients_torch(X, y, params, dtype=torch.float32)


def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        plus = f(x)
        x[i] = old - eps
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
        it.iternext()
    return grad


def numerical_gradient_flat(f, x, eps=1e-5):
    x = np.array(x, dtype=float)  # a copy
    flat, grad = x.reshape(-1), np.zeros(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        grad[i] = (f((flat + e).reshape(x.shape)) - f((flat - e).reshape(x.shape))) / (2 * eps)
    return grad.reshape(x.shape)


def numerical_gradient_torch_float32(f, x, eps=1e-5):
    """The differences in float64 (f's own precision), stored in torch's default float32."""
    grad = torch.zeros(x.shape)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad.numpy()


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))


def relative_error_loop(a, b):
    worst = 0.0
    for x, y in zip(np.ravel(a), np.ravel(b), strict=True):
        worst = max(worst, abs(x - y) / max(abs(x) + abs(y), 1e-12))
    return worst


def relative_error_float32(a, b):
    a, b = np.float32(a), np.float32(b)  # a float32 number comes back
    return np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), np.float32(1e-12)))


def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))
    scale = max_norm / (total + 1e-6)
    return ([g * scale for g in grads] if scale < 1 else [g.copy() for g in grads]), total


def clip_grad_norm_torch(grads, max_norm, dtype=torch.float64):
    ts = [torch.tensor(g, dtype=dtype) for g in grads]
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in ts]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [(t * scale).numpy() for t in ts], total.numpy()


def clip_grad_norm_torch_float32(grads, max_norm):
    return clip_grad_norm_torch(grads, max_norm, dtype=torch.float32)


MODULE = checks
CORRECT = {
    checks.check_value: [Value, make_value(), make_value(dtype=np.float32)],
    checks.check_linear_backward: [linear_backward, linear_backward_loop,
                                   in_float32(linear_backward), linear_backward_torch_float32],
    checks.check_mse_loss_and_grad: [mse_loss_and_grad, mse_loss_and_grad_torch,
                                     mse_loss_and_grad_float32],
    checks.check_mlp_gradients: [mlp_gradients, mlp_gradients_torch, in_float32(mlp_gradients),
                                 mlp_gradients_torch_float32],
    checks.check_numerical_gradient: [numerical_gradient, numerical_gradient_flat,
                                      numerical_gradient_torch_float32],
    checks.check_relative_error: [relative_error, relative_error_loop, relative_error_float32],
    checks.check_clip_grad_norm: [clip_grad_norm, clip_grad_norm_torch, in_float32(clip_grad_norm),
                                  clip_grad_norm_torch_float32],
}


# =============================================================================================
# known-wrong implementations: (check, implementation, distinctive part of the intended hint)
# =============================================================================================
def _lb(dX=None, dW=None, db=None):
    def fn(dout, X, W):
        return ((dout @ W.T if dX is None else dX(dout, X, W)),
                (X.T @ dout if dW is None else dW(dout, X, W)),
                (dout.sum(0) if db is None else db(dout, X, W)))
    return fn


def _mse(loss=None, grad=None):
    def fn(y_pred, y):
        d = y_pred - y
        return (float(np.mean(d ** 2)) if loss is None else loss(d),
                2 * d / d.size if grad is None else grad(d))
    return fn


def mlp_variant(*, local="1-a^2", last_tanh=False, dloss="2/size"):
    """A NumPy backward pass with one known mistake switched on."""
    def fn(X, y, params):
        hs, zs, h = [X], [], X
        for i, (W, b) in enumerate(params):
            z = h @ W + b
            h = np.tanh(z) if (i < len(params) - 1 or last_tanh) else z
            zs.append(z)
            hs.append(h)
        diff = h - y
        d = {"2/size": 2 * diff / diff.size, "1/size": diff / diff.size,
             "2/N": 2 * diff / len(diff)}[dloss]
        grads = []
        for i in reversed(range(len(params))):
            if i < len(params) - 1 or last_tanh:
                a = hs[i + 1]
                d = d * {"1-a^2": 1 - a ** 2, "none": 1.0, "1-z^2": 1 - zs[i] ** 2}[local]
            grads.append((hs[i].T @ d, d.sum(axis=0)))
            d = d @ params[i][0].T
        return grads[::-1]
    return fn


def _mlp_reversed(X, y, params):
    return mlp_gradients(X, y, params)[::-1]


def _ng_forward(f, x, eps=1e-5):
    x, grad = x.copy(), np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        grad[i] = (f(x) - fx) / eps
        x[i] = old
    return grad


def _ng_no_restore(f, x, eps=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += eps
        plus = f(x)
        x[i] -= 2 * eps
        grad[i] = (plus - f(x)) / (2 * eps)  # x[i] is left at old - eps
    return grad


def _ng_rows(f, x, eps=1e-5):  # x[i] is a whole row when x is 2-D
    grad = np.zeros_like(x)
    for i in range(len(x)):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / (2 * eps)
    return grad


def _ng_1d_zeros(f, x, eps=1e-5):
    grad = np.zeros(len(x))
    for i in range(len(x)):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / (2 * eps)
    return grad


def _ng_no_two(f, x, eps=1e-5):
    return 2 * numerical_gradient_flat(f, x, eps)


def _ng_fixed_eps(f, x, eps=1e-5):
    return numerical_gradient_flat(f, x, 1e-5)


def _re(expr):
    def fn(a, b):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(expr(a, b))
    return fn


def _clip_per_grad(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
    out = []
    for g in grads:
        n = np.sqrt(np.sum(g ** 2))
        out.append(g * min(1.0, max_norm / (n + 1e-6)))
    return out, total


def _clip_norm_after(grads, max_norm):
    clipped, _ = clip_grad_norm(grads, max_norm)
    return clipped, float(np.sqrt(sum(np.sum(g ** 2) for g in clipped)))


def _clip_always(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
    return [g * max_norm / (total + 1e-6) for g in grads], total


def _clip_no_eps(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
    scale = min(1.0, max_norm / total)  # ZeroDivisionError when every gradient is 0
    return [g * scale for g in grads], total


def _clip_sum_of_norms(grads, max_norm):
    total = float(sum(np.sqrt(np.sum(g ** 2)) for g in grads))
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads], total


WRONG = [
    # Value
    (checks.check_value, make_value(accumulate=False), "not `self.grad = ...`"),
    (checks.check_value, make_value(order="bfs"), "reverse topological order"),
    (checks.check_value, make_value(order="naive_recursive"), "reverse topological order"),
    (checks.check_value, make_value(order="only_output"), "stopped one step from the output"),
    (checks.check_value, make_value(seed=False), "setting the output's grad to 1.0"),
    (checks.check_value, make_value(chain=False), "(the chain rule)"),
    (checks.check_value, make_value(div="sign"), "d(a/b)/db = -a / b**2"),
    (checks.check_value, make_value(div="no_square"), "d(a/b)/db = -a / b**2"),
    (checks.check_value, make_value(pow_="n_a_n"), "n * a**(n - 1)"),
    (checks.check_value, make_value(rsub="swapped"), "a.__rsub__(c)"),
    (checks.check_value, make_value(tanh="input"), "not the input"),
    (checks.check_value, make_value(relu="value"), "relu passes the gradient"),
    (checks.check_value, make_value(returns="float"), "return a new Value from every operation"),
    # linear_backward
    (checks.check_linear_backward, _lb(dW=lambda d, X, W: d.T @ X), "not dout.T @ X"),
    (checks.check_linear_backward, _lb(db=lambda d, X, W: d.mean(0)), "not the mean"),
    (checks.check_linear_backward, _lb(db=lambda d, X, W: d), "summed over the batch axis"),
    (checks.check_linear_backward, _lb(db=lambda d, X, W: d.sum(1)), "not axis 1"),
    (checks.check_linear_backward, _lb(dX=lambda d, X, W: d @ W), "not dout @ W"),
    # mse_loss_and_grad
    (checks.check_mse_loss_and_grad, _mse(grad=lambda d: d / d.size), "factor 2 is missing"),
    (checks.check_mse_loss_and_grad, _mse(grad=lambda d: 2 * d), "1/size of the mean is missing"),
    (checks.check_mse_loss_and_grad, _mse(grad=lambda d: 2 * d / len(d)), "not by the len(y) rows"),
    (checks.check_mse_loss_and_grad, _mse(grad=lambda d: -2 * d / d.size), "sign is flipped"),
    (checks.check_mse_loss_and_grad, _mse(loss=lambda d: np.sum(d ** 2)), "not the sum"),
    (checks.check_mse_loss_and_grad, _mse(loss=lambda d: np.mean(d ** 2, axis=0)),
     "averaged over every element"),
    # mlp_gradients
    (checks.check_mlp_gradients, mlp_variant(local="none"), "multiply by tanh'(z)"),
    (checks.check_mlp_gradients, mlp_variant(local="1-z^2"), "pre-activation"),
    (checks.check_mlp_gradients, mlp_variant(last_tanh=True), "the last layer is linear"),
    (checks.check_mlp_gradients, mlp_variant(dloss="1/size"), "misses its factor 2"),
    (checks.check_mlp_gradients, mlp_variant(dloss="2/N"), "not over the N rows"),
    (checks.check_mlp_gradients, _mlp_reversed, "the layers come out reversed"),
    # numerical_gradient
    (checks.check_numerical_gradient, _ng_forward, "use central differences"),
    (checks.check_numerical_gradient, _ng_no_restore, "restore each element"),
    (checks.check_numerical_gradient, _ng_rows, "x can have any shape"),
    (checks.check_numerical_gradient, _ng_1d_zeros, "x can have any shape"),
    (checks.check_numerical_gradient, _ng_no_two, "divide the difference by 2 * eps"),
    (checks.check_numerical_gradient, _ng_fixed_eps, "use the eps argument"),
    # relative_error
    (checks.check_relative_error,
     _re(lambda a, b: np.max((a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12))),
     "take the absolute value |a - b|"),
    (checks.check_relative_error, _re(lambda a, b: np.max(np.abs(a - b) / (np.abs(a) + np.abs(b)))),
     "floor the denominator"),
    (checks.check_relative_error,
     _re(lambda a, b: np.max(np.abs(a - b) / np.maximum(np.abs(a + b), 1e-12))), "not |a + b|"),
    (checks.check_relative_error,
     _re(lambda a, b: np.mean(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12))),
     "not the mean"),
    (checks.check_relative_error,
     _re(lambda a, b: np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8))),
     "floor is 1e-12"),
    (checks.check_relative_error,
     _re(lambda a, b: np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))),
     "not a ratio of norms"),
    (checks.check_relative_error,
     _re(lambda a, b: np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))), "not by |b| alone"),
    # clip_grad_norm
    (checks.check_clip_grad_norm, _clip_per_grad, "not each gradient by its own norm"),
    (checks.check_clip_grad_norm, _clip_norm_after, "before clipping"),
    (checks.check_clip_grad_norm, _clip_always, "only scale down"),
    (checks.check_clip_grad_norm, _clip_no_eps, "must not divide by zero"),
    (checks.check_clip_grad_norm, _clip_sum_of_norms, "not the sum of each gradient's norm"),
]


# =============================================================================================
# specific tests
# =============================================================================================
def test_value_stub_with_working_init_is_not_attempted(monkeypatch):
    class Stub(Value):
        def __add__(self, other):
            raise NotImplementedError()

    monkeypatch.setenv(GRADING_ENV, "1")  # so that "not attempted" raises instead of printing
    with pytest.raises(NotAttempted, match="value: not attempted yet"):
        checks.check_value(Stub)
    with pytest.raises(NotAttempted, match="value: not attempted yet"):
        checks.check_value(make_value(stub=True))


@pytest.mark.parametrize("check, bad, message", [
    (checks.check_linear_backward, lambda dout, X, W: None, "expected a tuple of 3, got None"),
    (checks.check_linear_backward, lambda dout, X, W: (dout @ W.T, X.T @ dout),
     "expected a tuple (dX, dW, db), got 2 items"),
    (checks.check_linear_backward,
     lambda dout, X, W: tuple(torch.tensor(a) for a in linear_backward(dout, X, W)),
     "expected a NumPy array, got a torch tensor"),
    (checks.check_mse_loss_and_grad, lambda y_pred, y: None, "returns a tuple (loss, d_y_pred)"),
    (checks.check_mse_loss_and_grad, lambda y_pred, y: (1.0,), "got 1 items"),
    (checks.check_mse_loss_and_grad,
     lambda y_pred, y: tuple(torch.tensor(v) for v in mse_loss_and_grad(y_pred, y)),
     "expected a number, got"),
    (checks.check_mse_loss_and_grad,
     lambda y_pred, y: (mse_loss_and_grad(y_pred, y)[0], torch.tensor(y_pred - y)),
     "expected a NumPy array, got a torch tensor"),
    (checks.check_mlp_gradients, lambda X, y, params: None, "expected a list of 2, got None"),
    (checks.check_mlp_gradients, lambda X, y, params: mlp_gradients(X, y, params)[:1],
     "expected a list of 2, got 1 items"),
    (checks.check_mlp_gradients, lambda X, y, params: [g[:1] for g in mlp_gradients(X, y, params)],
     "expected a tuple of 2, got 1 items"),
    (checks.check_mlp_gradients,
     lambda X, y, params: [tuple(torch.tensor(a) for a in g) for g in mlp_gradients(X, y, params)],
     "expected a NumPy array, got a torch tensor"),
    (checks.check_numerical_gradient, lambda f, x, eps=1e-5: None, "got None"),
    (checks.check_numerical_gradient, lambda f, x, eps=1e-5: torch.tensor(numerical_gradient(f, x)),
     "expected a NumPy array, got a torch tensor"),
    (checks.check_numerical_gradient, lambda f, x, eps=1e-5: list(numerical_gradient(f, x)),
     "expected a NumPy array, got list"),
    (checks.check_relative_error, lambda a, b: None, "expected a number, got None"),
    (checks.check_relative_error, lambda a, b: (relative_error(a, b), 0.0), "expected a number"),
    (checks.check_relative_error, lambda a, b: torch.tensor(relative_error(a, b)),
     "expected a number, got"),
    (checks.check_relative_error, lambda a, b: np.abs(np.asarray(a) - np.asarray(b)),
     "reduce to one number with the max"),
    (checks.check_clip_grad_norm, lambda grads, m: None,
     "returns a tuple (clipped_grads, total_norm)"),
    (checks.check_clip_grad_norm, lambda grads, m: clip_grad_norm(grads, m)[0],
     "did you return only the clipped gradients?"),
    (checks.check_clip_grad_norm, lambda grads, m: (clip_grad_norm(grads, m)[0][:1], 5.0),
     "expected a list of 2"),
    (checks.check_clip_grad_norm,
     lambda grads, m: ([torch.tensor(g) for g in clip_grad_norm(grads, m)[0]], 5.0),
     "expected a NumPy array, got a torch tensor"),
    (checks.check_clip_grad_norm,
     lambda grads, m: (clip_grad_norm(grads, m)[0], torch.tensor(5.0)), "(total_norm)"),
])
def test_wrong_structure_fails_with_structural_message(check, bad, message):
    assert message in failure(check, bad)


@pytest.mark.parametrize("bad, message", [
    (make_value(returns="float"), "gave float"),
    (make_value(rsub="missing"), "unsupported operand type(s) for -: 'float' and 'V'"),
    (make_value(grad_name="gradient"), "has no attribute 'grad'"),
    (Value(2.0), "pass the class, not an instance"),
])
def test_value_wrong_structure(bad, message):
    assert message in failure(checks.check_value, bad)


@pytest.mark.parametrize("name", ["tanh", "exp", "backward"])
def test_a_value_without_a_method_gets_a_hint_naming_it(name):
    message = assert_fails_with(checks.check_value, make_value(missing=[name]),
                                f"define `{name}` on your class V")
    assert "reflected" not in message
    assert f"'V' object has no attribute '{name}'" in message


def test_a_value_without_a_reflected_operator_is_told_about_reflection():
    assert_fails_with(checks.check_value, make_value(rsub="missing"), "a.__rsub__(2)")


def test_failure_names_inputs_tolerance_and_seed():
    message = failure(checks.check_linear_backward, _lb(db=lambda d, X, W: d.mean(0)))
    for part in ("inputs: (2, 2), (2, 2), (2, 2)", "tolerance: rtol=", "random seed",
                 "failed 'by hand (dout = I: dX = W.T, dW = X.T, db = [1, 1]) (db)'"):
        assert part in message, message


def test_value_failure_shows_the_expression_and_the_gradient():
    message = failure(checks.check_value, make_value(div="sign"))
    first = message.splitlines()[0]
    assert "f = (a / b) * g with a=" in first and "(b.grad)'" in first, message
    assert "expected" in message and "got" in message and "tolerance: rtol=" in message


def test_mlp_failure_names_the_part_and_its_mistake():
    message = failure(checks.check_mlp_gradients, mlp_variant(local="none"))
    first = message.splitlines()[0]
    assert "failed 'vs torch.autograd (sizes [3, 5, 4, 2], N=8) (result[0][" in first, message
    assert "worst at index" in message and "hint: multiply by tanh'(z)" in message


def test_student_error_is_reported_without_coursekit_internals():
    def broken(dout, X, W):
        return dout @ W.T, X.T @ dout, dout.sum(0) + np.zeros(3)  # a size written in by hand

    message = failure(checks.check_linear_backward, broken)
    assert "runs without error" in message and "ValueError" in message
    assert "core.py" not in message and "checks/backprop.py" not in message
    assert "test_checks_backprop.py, line" in message  # the student's own line is shown


def test_an_error_inside_value_says_which_expression_it_came_from():
    message = failure(checks.check_value, make_value(div="raise"))
    assert "while computing: f = (a / b) * g with a=" in message, message
    assert "ZeroDivisionError" in message


def test_float32_value_is_judged_at_float32_precision(capsys):
    for _ in range(3):
        checks.check_value(make_value(dtype=np.float32))
    assert capsys.readouterr().out.count("✅ value") == 3


def test_importing_the_checks_does_not_import_torch():
    code = ("import sys, coursekit.checks.backprop; "
            "assert 'torch' not in sys.modules, 'backprop imported torch at import time'")
    subprocess.run([sys.executable, "-c", code], check=True)


FLOAT32_VALUE_CELL = '''
class Value:
    """A float32 engine that uses NumPy's tanh and exp: no `import math` anywhere."""

    def __init__(self, data, _children=()):
        self.data, self.grad = np.float32(data), np.float32(0.0)
        self._backward, self._prev = (lambda: None), set(_children)

    def _node(self, data, children, local):
        out = Value(data, children)

        def _backward():
            for child, derivative in zip(children, local):
                child.grad += derivative * out.grad

        out._backward = _backward
        return out

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return self._node(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return self._node(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, n):
        return self._node(self.data ** n, (self,), (n * self.data ** (n - 1),))

    def tanh(self):
        t = np.tanh(self.data)
        return self._node(t, (self,), (1 - t * t,))

    def exp(self):
        e = np.exp(self.data)
        return self._node(e, (self,), (e,))

    def relu(self):
        return self._node(max(self.data, 0), (self,), (float(self.data > 0),))

    def backward(self):
        topo, seen = [], set()

        def build(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = np.float32(1.0)
        for v in reversed(topo):
            v._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1

    def __rtruediv__(self, other):
        return other * self ** -1
'''


@pytest.mark.slow
def test_value_is_graded_through_the_sandbox(tmp_path):
    """Value is a class: its instances live in the sandbox and the check and the hidden tests
    reach them through the channel. A float32 Value that imports nothing gets full marks (the
    hidden test imports math itself); a wrong one gets 0 and its hint."""
    from pathlib import Path

    import nbformat
    from conftest import require_sandbox

    require_sandbox()
    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.sandbox import grade_submission

    root = Path(__file__).resolve().parents[1]
    source = root / "solutions" / "03_backprop.ipynb"
    answered = answered_notebook(root, "03_backprop", only={"value"})
    results = {}
    for student, cell_source in (
            ("float32", FLOAT32_VALUE_CELL),
            ("swapped", FLOAT32_VALUE_CELL.replace("return other + (-self)", "return self - other"))):
        submission = nbformat.from_dict(answered)
        cell = next(c for c in submission.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == "value")
        cell.source = cell_source
        rows, executed = grade_submission(source, submission, student=student, cell_timeout=120)
        test_cell = next(c for c in executed.cells
                         if c.metadata.get("nbgrader", {}).get("grade_id") == "value_test")
        text = "".join(o.get("text", "") + o.get("evalue", "") + "".join(o.get("traceback", []))
                       for o in test_cell.outputs)
        results[student] = (next(r for r in rows if r.cell == "value_test"), text)
    row, text = results["float32"]
    assert row.status == "passed" and row.score == row.max_score, (row, text)
    row, text = results["swapped"]
    assert row.status.startswith("failed") and row.score == 0, (row, text)
    assert "a.__rsub__(c)" in row.status + text, (row, text)  # the hint crossed the channel


def test_rigged_equality_objects_do_not_pass():
    class AlwaysEqual(float):  # a float that compares equal to anything
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    rigged = make_value()
    rigged.backward = lambda self: setattr(self, "grad", AlwaysEqual(0.0))
    message = failure(checks.check_value, rigged)  # compared as numbers, not with its __eq__
    assert "failed 'by hand: f = c + a*b with c=10, a=2, b=-3 (c.grad)'" in message, message

    class Anything:
        def __eq__(self, other):
            return True

    message = failure(checks.check_relative_error, lambda a, b: Anything())
    assert "expected a number, got Anything" in message
    message = failure(checks.check_mse_loss_and_grad, lambda y_pred, y: (Anything(), Anything()))
    assert "expected a number, got Anything" in message

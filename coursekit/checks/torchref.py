"""PyTorch as the reference, in float64, imported on the first check that needs it.

    no_grad(lambda t: t.softmax(dim=-1), z)             # (N, K) array -> (N, K) array
    value, (dx,) = value_and_grads(lambda t: t.tanh().sum(), x)
    dq, dk = tensor_grads(lambda q, k: (q @ k.T).sum(), Q, K)   # as float64 tensors
    outputs, grads = value_and_grads(lambda x, w: x @ w, X, W, grad_output=dout)
    reference = with_grad(lambda yp, y: functional().l1_loss(yp, tensor(y)))  # (loss, d/d y_pred)
    cell = module("RNNCell", 3, 5, state={"weight_ih": W.T, ...})          # float64, W copied in

Arrays go in and come out as float64 NumPy arrays (numbers as floats), so a topic module never
converts by hand and never imports torch when it loads; a check on the student's tensors gets its
references as float64 tensors (:func:`as_float64`, :func:`tensor_grads`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


@functools.cache
def torch():
    """The torch module (imported once, on first use)."""
    import torch as _torch

    return _torch


def functional():
    """torch.nn.functional (imported on first use)."""
    return torch().nn.functional


def tensor(x: Any, *, grad: bool = False):
    """A float64 tensor copy of ``x`` (an array, number or tensor)."""
    t = torch()
    if isinstance(x, t.Tensor):
        out = x.detach().to(t.float64).clone()
    else:
        out = t.tensor(np.asarray(x, dtype=np.float64))
    return out.requires_grad_(grad)


def as_float64(x: Any):
    """``x`` as a float64 tensor that keeps its autograd graph when ``x`` is a tensor (a
    reference computed from the student's inputs); anything else becomes a new tensor."""
    return x.to(torch().float64) if isinstance(x, torch().Tensor) else tensor(x)


def numpy(value: Any) -> Any:
    """Tensors (also inside tuples and lists) back as float64 arrays; 0-d ones as floats."""
    t = torch()
    if isinstance(value, t.Tensor):
        arr = value.detach().to(t.float64).cpu().numpy()
        return float(arr) if arr.ndim == 0 else arr
    if isinstance(value, tuple | list):
        return type(value)(numpy(v) for v in value)
    return value


def no_grad(fn: Callable[..., Any], *arrays: Any, **kwargs: Any) -> Any:
    """``fn(*tensors, **kwargs)`` on float64 copies of ``arrays``, without autograd."""
    with torch().no_grad():
        return numpy(fn(*(tensor(a) for a in arrays), **kwargs))


def value_and_grads(fn: Callable[..., Any], *arrays: Any, grad_output: Any = None,
                    wrt: Sequence[int] | None = None) -> tuple[Any, list[Any]]:
    """``fn(*tensors)`` and the gradient of (the sum of) its result with respect to each input
    (or the inputs at positions ``wrt``); with ``grad_output``, the vector-Jacobian product, as
    ``out.backward(grad_output)`` computes it. An input the result does not use gets zeros."""
    wrt = range(len(arrays)) if wrt is None else wrt
    tensors = [tensor(a, grad=i in wrt) for i, a in enumerate(arrays)]
    out = fn(*tensors)
    seed = tensor(grad_output) if grad_output is not None else torch().ones_like(out)
    grads = torch().autograd.grad(out, [tensors[i] for i in wrt], grad_outputs=seed,
                                  allow_unused=True)
    grads = [torch().zeros_like(tensors[i]) if g is None else g
             for i, g in zip(wrt, grads, strict=True)]
    return numpy(out), [numpy(g) for g in grads]


def tensor_grads(fn: Callable[..., Any], *arrays: Any, grad_output: Any = None) -> list[Any]:
    """The gradients of :func:`value_and_grads` as float64 tensors: what a check compares with the
    gradients a probe of the student's torch code sends back."""
    return [tensor(g) for g in value_and_grads(fn, *arrays, grad_output=grad_output)[1]]


def with_grad(fn: Callable[..., Any]) -> Callable[..., tuple[Any, Any]]:
    """A reference ``(x, *rest, **kwargs) -> (value, d value / d x)``: ``fn(x, *rest, **kwargs)``
    with ``x`` a float64 tensor and ``rest`` passed as they are (targets, labels), and its
    gradient with respect to ``x`` only (a loss and its gradient, say)."""

    def reference(x: Any, *rest: Any, **kwargs: Any) -> tuple[Any, Any]:
        value, (grad,) = value_and_grads(lambda xt: fn(xt, *rest, **kwargs), x)
        return value, grad

    return reference


def load(module: Any, state: Mapping[str, Any]) -> Any:
    """``module`` with each entry of ``state`` (an array, number or tensor) copied into its
    parameter or buffer of that name (the names of ``module.state_dict()``), in place and without
    autograd, in the module's own dtype. A name the module lacks is an error (KeyError)."""
    t = torch()
    own = module.state_dict(keep_vars=True)
    with t.no_grad():
        for name, value in state.items():
            source = value if isinstance(value, t.Tensor) else t.as_tensor(np.asarray(value))
            own[name].copy_(source)
    return module


def module(cls: str | Callable[..., Any], *args: Any, state: Mapping[str, Any] | None = None,
           **kwargs: Any) -> Any:
    """``torch.nn.<cls>(*args, **kwargs)`` (or ``cls(...)``, a callable building a module) in
    float64, with ``state`` copied in (see :func:`load`). Built inside ``fork_rng``: its random
    initialisation, overwritten at once, leaves the caller's torch generator where it was."""
    t = torch()
    build = getattr(t.nn, cls) if isinstance(cls, str) else cls
    with t.random.fork_rng(devices=[]):
        built = build(*args, **kwargs).to(t.float64)
    return load(built, state or {})

"""Running coursekit's own code next to a student's objects: probes.

Some exercises take or return objects that cannot cross the grading sandbox's data-only channel:
a ``train_step`` that must update real ``nn.Module`` s and optimizers, a model whose gradients
must reach every parameter, an ``anomaly_scores(model, X)`` that must leave the model's mode as
it found it. A *probe* is a function of a topic module, named ``probe_<what>``, that does that
part of a check where the student's objects live and returns plain data (numbers, arrays,
tensors, lists, dicts) to compare in the check:

    def probe_train_step(train_step, state, real, z):      # in coursekit/checks/gan.py
        G, D = build_pair(state)                            # the same small modules as the check's
        ...
        return d_loss, g_loss, G.state_dict(), D.state_dict()

    d_loss, g_loss, g_after, d_after = t.probe(probe_train_step, train_step, state, real, z)

In a notebook the probe is called directly. When grading, the student's function is a proxy for
an object in the sandbox: the probe runs there, by name, with the student's objects handed back
as themselves and everything else as copies. Its answer is data from an untrusted process, so a
check compares it with a reference it computed itself, from inputs it chose.

One probe serves every exercise whose gradients matter (a returned tensor crosses the sandbox
without its graph): :func:`probe_input_gradients` backpropagates through the student's function
where it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from coursekit.checks import torchref

PREFIX = "coursekit.checks."


def name_of(probe: Callable) -> str:
    module, name = probe.__module__, probe.__qualname__
    if not module.startswith(PREFIX) or not name.startswith("probe_") or "." in name:
        raise ValueError(f"{module}.{name} is not a probe: probes are top-level functions named "
                         f"probe_* in a coursekit.checks module")
    return f"{module}:{name}"


def resolve(name: Any) -> Callable:
    """The probe called ``name`` ("coursekit.checks.<topic>:probe_<what>"), and nothing else:
    the grader can only ask the student's process to run coursekit's probes."""
    if type(name) is not str or name.count(":") != 1:
        raise PermissionError("a probe is named 'coursekit.checks.<topic>:probe_<what>'")
    module, attr = name.split(":")
    if (not module.startswith(PREFIX) or not attr.startswith("probe_")
            or not all(part.isidentifier() for part in (*module.split("."), attr))):
        raise PermissionError(f"not a probe: {name[:100]}")
    fn = getattr(importlib.import_module(module), attr, None)
    if not callable(fn):
        raise PermissionError(f"no probe {name[:100]}")
    return fn


def session_of(value: Any, depth: int = 0) -> Any:
    """The grading session a proxy (or a proxy inside a list, tuple or dict) belongs to, else None.
    Duck-typed, so that checks never import the grader."""
    for attr in ("_sandbox_session", "_sandbox_class_session"):
        try:
            return object.__getattribute__(value, attr)
        except AttributeError:
            pass
    if isinstance(value, type):
        session = getattr(value, "_sandbox_class_session", None)
        if session is not None:
            return session
    if depth < 3 and isinstance(value, list | tuple | dict):
        for item in value.values() if isinstance(value, dict) else value:
            if (session := session_of(item, depth + 1)) is not None:
                return session
    return None


def in_student_process(probe: Callable, *args: Any, **kwargs: Any) -> Any:
    """``probe(*args, **kwargs)`` where the student's objects among the arguments live."""
    session = next((s for s in map(session_of, (*args, *kwargs.values())) if s is not None), None)
    if session is None:
        return probe(*args, **kwargs)
    return session.request("probe", name=name_of(probe),
                           args=session.codec.encode(list(args)),
                           kwargs=session.codec.encode(dict(kwargs)))


def probe_input_gradients(fn: Callable, *inputs: Any, grad_out: Any = None) -> list | None:
    """Backpropagate through ``fn(*inputs)`` where ``fn`` lives: ``fn`` gets leaf copies of its
    floating-point tensor inputs (the others as they are, a mask say). Returns the gradient that
    reached each leaf (zeros where none did), or None when the result (the first part of a tuple,
    such as attention's (out, weights)) is not a tensor in the autograd graph.

    Without ``grad_out`` the result is a loss, a one-element tensor, and the gradients are d loss /
    d input; with it, the vector-Jacobian product ``out.backward(grad_out)``. Each gradient is in
    the lower of its input's and the result's precision: a float32 function on float64 inputs
    sends back float64 gradients that carry float32 errors, and a float32 input's gradient is
    float32 however it was computed."""
    torch = torchref.torch()
    leaves = [x.detach().clone().requires_grad_(True)
              if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs]
    wrt = [x for x in leaves if isinstance(x, torch.Tensor) and x.requires_grad]
    out = fn(*leaves)
    if isinstance(out, tuple | list) and out:
        out = out[0]
    if not (isinstance(out, torch.Tensor) and out.requires_grad
            and (grad_out is not None or out.numel() == 1)):
        return None
    seed = None if grad_out is None else grad_out.to(out.dtype)
    grads = torch.autograd.grad(out.sum() if seed is None else out, wrt, seed, allow_unused=True)
    return [(torch.zeros_like(x) if g is None else g.detach())
            .to(min(x.dtype, out.dtype, key=lambda d: torch.finfo(d).bits))
            for x, g in zip(wrt, grads, strict=True)]


class Recorded:
    """A function the check hands to the student's code (a callback such as ``grad_fn``) that
    records the arguments of each call (``calls``). The check's deep copies of the arguments
    record into the same list, and when grading the student's code calls it back across the
    sandbox's channel: either way ``calls`` is every call, in order."""

    def __init__(self, fn: Callable):
        self.fn, self.calls = fn, []

    def __deepcopy__(self, memo: dict) -> Recorded:
        return self

    def __call__(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.fn(*args)

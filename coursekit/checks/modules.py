"""Checking a student's ``torch.nn.Module`` where it lives (the grading sandbox, when grading).

A ``build_<model>()`` exercise returns a module, which stays in the student's process: its
forward calls cross the channel as data, but what needs the module itself is asked with probes
(see :mod:`coursekit.checks.probe`), whose answers are data::

    model = t.call(build_cnn, num_classes=3)
    is_module(t, model, "build_cnn(num_classes=3)", hints={"class": "return CNN(...), ..."})
    facts = t.probe(probe_backward, model, x, y, expect=BACKWARD)
    trains_everywhere(t, facts, "build_cnn(num_classes=3)")

A module class the check constructs itself (``MultiHeadAttention(C, H)``) is read with
:func:`probe_module_parameters` (its parameters' names and shapes) and backpropagated through on
the check's weights with :func:`probe_module_gradients`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coursekit.checks.core import Checker

__all__ = ["probe_kind", "probe_backward", "probe_module_parameters", "probe_module_gradients",
           "is_module", "trains_everywhere", "KIND", "BACKWARD"]

KIND = {"module": bool, "class": bool, "type": str, "framework": str}
BACKWARD = {"parameters": int, "frozen": list, "unreached": list, "counts": dict}


def probe_kind(obj: Any) -> dict:
    """What ``obj`` is: a torch.nn.Module instance ("module")? a class ("class")? its name (the
    class's own, or its type's: "type") and the package its type comes from ("framework")."""
    import torch

    return {"module": isinstance(obj, torch.nn.Module), "class": isinstance(obj, type),
            "type": getattr(obj, "__name__", "") if isinstance(obj, type) else type(obj).__name__,
            "framework": type(obj).__module__.split(".")[0]}


def is_module(t: Checker, obj: Any, label: str, hints: Mapping[str, str]) -> None:
    """Sub-check: ``obj`` is a torch.nn.Module instance. ``hints`` by what it is instead:
    "class" (the class itself), "keras" (a Keras or TensorFlow model), or a type's name
    ("NoneType")."""
    kind = t.probe(probe_kind, obj, expect=KIND)
    reason = ("class" if kind["class"] else
              "keras" if kind["framework"] in ("keras", "tensorflow") else kind["type"])
    t.true(f"{label} returns a torch.nn.Module", kind["module"],
           detail=f"got {'the class ' if kind['class'] else 'a '}{kind['type']}",
           hint=hints.get(reason, "return a torch.nn.Module, e.g. nn.Sequential(...)"))


def probe_backward(model: Any, x: Any, y: Any, loss: str = "cross_entropy",
                   count: tuple[str, ...] = ()) -> dict:
    """One training step's backward pass of ``loss`` (a torch.nn.functional name) on ``model(x)``
    and ``y``, in train mode (the mode is restored and the gradients cleared after): the number
    of parameters, those frozen (requires_grad=False) and those the gradient never reached, and
    how many modules of each torch.nn class in ``count`` the model has ("counts")."""
    import torch

    was_training = model.training
    model.train()
    model.zero_grad(set_to_none=True)
    try:
        x = torch.as_tensor(x, dtype=torch.float32)
        target = torch.as_tensor(y, dtype=torch.int64 if loss == "cross_entropy" else torch.float32)
        getattr(torch.nn.functional, loss)(model(x), target).backward()
        named = list(model.named_parameters())
        return {"parameters": int(sum(p.numel() for _, p in named)),
                "frozen": [name for name, p in named if not p.requires_grad],
                "unreached": [name for name, p in named if p.requires_grad and p.grad is None],
                "counts": {c: sum(isinstance(m, getattr(torch.nn, c)) for m in model.modules())
                           for c in count}}
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)


def trains_everywhere(t: Checker, facts: dict, label: str) -> None:
    """Two sub-checks on :func:`probe_backward`'s answer: no parameter is frozen, and the
    gradient reaches every parameter."""
    t.true(f"{label}: every parameter trains", not facts["frozen"],
           detail=f"frozen (requires_grad=False): {', '.join(map(str, facts['frozen'][:6]))}",
           hint="do not freeze layers here: every parameter must have requires_grad=True")
    t.true(f"{label}: gradients reach every parameter", not facts["unreached"],
           detail=f"no gradient for: {', '.join(map(str, facts['unreached'][:6]))}",
           hint="a layer defined in __init__ but never used in forward (or whose output is cut "
                "off with .detach(), .data or torch.no_grad()) gets no gradient: use every "
                "layer you define, on the path to the output")


def probe_module_parameters(module: Any) -> dict:
    """Whether ``module`` is a torch.nn.Module ("module"), and the shape of each entry of its
    state dict ("shapes": {name: [sizes]})."""
    import torch

    if not isinstance(module, torch.nn.Module):
        return {"module": False, "shapes": {}}
    return {"module": True, "shapes": {k: list(v.shape) for k, v in module.state_dict().items()}}


def probe_module_gradients(module: Any, state: Mapping[str, Any], x: Any, *args: Any,
                           grad_out: Any) -> dict | None:
    """Load ``state`` (``load_state_dict(strict=False)``), backpropagate ``grad_out`` through
    ``module(x, *args)`` (``args`` as they are, a mask say): the gradients of x ("x") and of each
    parameter named in ``state`` (zeros where none arrived), in the output's dtype, or None when
    the output is not in the autograd graph."""
    import torch

    module.load_state_dict(state, strict=False)
    module.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    out = module(x, *args)
    if not (isinstance(out, torch.Tensor) and out.requires_grad):
        return None
    out.backward(grad_out.to(out.dtype))
    params = dict(module.named_parameters())
    return {name: (torch.zeros_like(p) if p.grad is None else p.grad.detach()).to(out.dtype)
            for name, p in (("x", x), *((n, params[n]) for n in state))}

"""A hint for an exception the student's code raised, chosen from its type and message.

The message itself is shown above the hint (with the student's line); the hint says what
usually causes it: a parameter the spec has and the function lacks, a method a class lacks, a
shape that does not fit, a name that is not imported where the function runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SHAPE_WORDS = ("shape", "broadcast", "aligned", "matmul", "size mismatch", "dimension",
                "cannot be multiplied", "must match the size", "mismatch in shape")
_GRAPH_WORDS = ("does not require grad", "does not have a grad_fn")


def _signature_tail(signature: str) -> str:
    return f": the spec's signature is {signature}" if signature else ""


def hint_for_exception(exc: BaseException, *, signature: str = "",
                       extra: Sequence[tuple[str, str]] = ()) -> str:
    """The hint for ``exc``; ``extra`` (text found in "Type: message" → hint) is tried first, so
    that an exercise can name its own likely causes (a zero norm divided by, say)."""
    kind, message = type(exc).__name__, str(exc)
    text = f"{kind}: {message}"
    for needle, hint in extra:
        if needle in text:
            return hint
    if kind == "TypeError":
        if m := re.search(r"unexpected keyword argument '(\w+)'", message):
            return (f"your function has no parameter `{m[1]}`; the check passes it by name"
                    f"{_signature_tail(signature)}")
        if m := re.search(r"missing \d+ required (?:positional|keyword-only) arguments?: (.+)$",
                          message):
            return (f"your function requires {m[1]}, which the check does not pass: give it a "
                    f"default or remove it{_signature_tail(signature)}")
        if re.search(r"takes \d+ positional arguments? but \d+ (?:were|was) given", message):
            return ("your function takes fewer parameters than the check passes"
                    f"{_signature_tail(signature)}")
        if "not subscriptable" in message or "not iterable" in message:
            return ("a value is not the kind you expected (a number where you index or loop, or "
                    "None from a function without `return`): print its type")
        if "unsupported operand" in message:
            return ("an operation got a type it cannot handle (often None from a helper without "
                    "`return`, or a Value and a plain number): print the operands' types")
    if kind == "AttributeError":
        if m := re.search(r"'(\w+)' object has no attribute '(\w+)'", message):
            owner, attr = m[1], m[2]
            if owner in ("ndarray", "Tensor", "float", "int", "list", "tuple", "NoneType"):
                return (f"a {owner} has no `{attr}`: a value is not what you expected (print its "
                        "type), or the name is misspelled")
            return (f"define `{attr}` on your class {owner} (as a method, or set self.{attr} in "
                    "__init__)")
        if m := re.search(r"has no attribute '(\w+)'", message):
            return f"`{m[1]}` does not exist there: check its spelling and where it is defined"
    if kind in ("NameError", "UnboundLocalError"):
        if m := re.search(r"name '(\w+)' is not defined", message):
            return (f"`{m[1]}` is not defined where your function runs: import or define it in "
                    "your own cell (each exercise cell must stand on its own)")
        return "a variable is used before it is assigned: assign it on every path first"
    if any(word in message for word in _SHAPE_WORDS) and kind in ("ValueError", "RuntimeError",
                                                                  "IndexError"):
        return ("shapes do not fit: check the shape of each array your code combines "
                "(print x.shape), the order of a matrix product, and keepdims=True on reductions")
    if kind == "RuntimeError" and any(word in message for word in _GRAPH_WORDS):
        return ("the result is cut off from the autograd graph: do not use .detach(), .item(), "
                ".numpy() or torch.no_grad() on the way, so that gradients can flow")
    if kind == "RuntimeError" and "backward through the graph a second time" in message:
        return ("the graph was freed by an earlier backward(): build the forward pass again "
                "for each backward (or .detach() what must not be differentiated)")
    if kind == "IndexError":
        return ("an index is out of range: check the sizes your loops and slices assume "
                "against the input shapes above")
    if kind in ("ZeroDivisionError", "FloatingPointError"):
        return "a division by zero: guard the denominator (e.g. max(denominator, 1e-12))"
    if kind == "OverflowError":
        return ("a number grew too large (math.exp overflows above about 709): use a "
                "numerically stable form")
    if kind == "KeyError":
        return f"the key {message} is missing: check the names you look up"
    return "read the error above: it was raised by your code, at the line shown"

"""In-place changes to array arguments, mirrored across the channel.

Arrays cross the channel by value, so a student's function that writes into an array it was
given (``x[i] += eps`` without restoring it, ``np.clip(g, ..., out=g)``) would change only the
sandbox's copy, and a check that the caller's array is left as it was could never fail. So a
call also reports, for every NumPy array among its arguments (at the top level or inside
lists, tuples and dicts, a few levels deep), the array's new contents when the call changed it;
the grader copies them into its own arrays. A call into the sandbox then behaves like a local
call, as far as arrays go.

Both sides use :func:`arrays_in`; the student's side :func:`changed_arrays`, the grader's
:func:`apply_changes` (which trusts nothing it receives: a bad path or shape is ignored).
"""

from __future__ import annotations

from typing import Any

MAX_ARRAYS = 64  # arrays watched per call
MAX_LEVELS = 3  # containers looked into: f(x), f([x]), f([[x]]), f({"W": [x]})

Path = list  # keys from the argument list down to the array: [0], [1, "W"], ["kwarg", 2]


def arrays_in(args: list, kwargs: dict) -> list[tuple[Path, Any]]:
    """Every ``np.ndarray`` reachable from the arguments, with its path, in a fixed order."""
    import numpy as np

    found: list[tuple[Path, Any]] = []

    def walk(value: Any, path: Path, level: int) -> None:
        if len(found) >= MAX_ARRAYS:
            return
        if type(value) is np.ndarray:
            found.append((path, value))
        elif level < MAX_LEVELS and type(value) in (list, tuple):
            for i, item in enumerate(value):
                walk(item, [*path, i], level + 1)
        elif level < MAX_LEVELS and type(value) is dict:
            for key, item in value.items():
                if type(key) in (str, int):
                    walk(item, [*path, key], level + 1)

    for i, arg in enumerate(args):
        walk(arg, [i], 0)
    for name, arg in kwargs.items():
        walk(arg, [name], 0)
    return found


def snapshot(args: list, kwargs: dict) -> list[tuple[Path, Any, Any]]:
    """(path, array, copy of its contents) before a call."""
    return [(path, array, array.copy()) for path, array in arrays_in(args, kwargs)]


def changed_arrays(before: list[tuple[Path, Any, Any]]) -> list[list]:
    """``[[path, new contents], ...]`` for the arrays a call changed (same object, new values)."""
    import numpy as np

    changed = []
    for path, array, old in before:
        try:
            same = array.shape == old.shape and np.array_equal(array, old, equal_nan=True)
        except TypeError:  # a dtype with no NaN: compare without
            same = array.shape == old.shape and np.array_equal(array, old)
        if not same:
            changed.append([path, array])
    return changed


def apply_changes(changes: Any, args: tuple | list, kwargs: dict) -> None:
    """Copy reported new contents into the caller's arrays, where path, type and shape agree."""
    import numpy as np

    if type(changes) is not list:
        return
    for entry in changes[:MAX_ARRAYS]:
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not list:
            continue
        path, new = entry
        target = _follow(path, args, kwargs)
        if (type(target) is np.ndarray and type(new) is np.ndarray and target.shape == new.shape
                and target.flags.writeable):
            np.copyto(target, new, casting="unsafe")


def _follow(path: list, args: tuple | list, kwargs: dict) -> Any:
    if not path or len(path) > MAX_LEVELS + 1:
        return None
    head, rest = path[0], path[1:]
    if type(head) is int and 0 <= head < len(args):
        value = args[head]
    elif type(head) is str and head in kwargs:
        value = kwargs[head]
    else:
        return None
    for key in rest:
        if type(value) in (list, tuple) and type(key) is int and 0 <= key < len(value):
            value = value[key]
        elif type(value) is dict and type(key) in (str, int) and key in value:
            value = value[key]
        else:
            return None
    return value

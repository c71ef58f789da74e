"""Checking an answer drawn at random (dropout's mask, a shuffle): it has no single reference
value, so a check tests what every correct draw does.

    got = t.probe(probe_seeded, dropout, x, 0.5, seed=seed)   # three draws, where dropout runs
    masked(t, "p = 0.5", got["first"], x, 0.5, scale=2.0)  # 0 or 2x, about half of each
    reproducible(t, got, "mask")      # one generator state, one draw; another state, another

:func:`probe_seeded` is a probe (see :mod:`coursekit.checks.probe`): a ``np.random.Generator``
cannot cross the grading sandbox's data-only channel, so the generators are made where the
student's function runs, and only the draws come back.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks.answers import leaves
from coursekit.checks.core import Checker, summarize
from coursekit.checks.steps import identical

__all__ = ["probe_seeded", "reproducible", "share", "masked"]


def probe_seeded(fn: Callable, *args: Any, seed: int, by: str = "rng", **kwargs: Any) -> dict:
    """``fn(*args, **kwargs)`` three times, on copies of the arguments, its keyword ``by`` given
    a ``np.random.default_rng`` seeded ``seed`` (twice) and ``seed + 1``; a ``by`` other than
    "rng" is given the seed itself. Returns the answers ("first", "second", "other"), whether
    ``fn`` drew from NumPy's global generator ("global"; its state is restored), and how many
    values of its array arguments the first call changed ("changed"; None without arrays)."""

    def source(s: int) -> Any:
        return np.random.default_rng(s) if by == "rng" else s

    state, held = np.random.get_state(), copy.deepcopy(args)
    answers = [fn(*(held if i == 0 else copy.deepcopy(args)), **kwargs, **{by: source(s)})
               for i, s in enumerate((seed, seed, seed + 1))]
    after = np.random.get_state()
    np.random.set_state(state)
    arrays = [(a, b) for (_, a), (_, b) in zip(leaves(args), leaves(held))
              if isinstance(a, np.ndarray)]
    return {"first": answers[0], "second": answers[1], "other": answers[2],
            "changed": sum(int(np.sum(a != b)) for a, b in arrays) if arrays else None,
            "global": not (np.array_equal(state[1], after[1]) and state[2:] == after[2:])}


def reproducible(t: Checker, got: dict, what: str, *, by: str = "rng", example: str = "") -> None:
    """Sub-checks on :func:`probe_seeded`'s answer: the same generator state (or seed) gives the
    same ``what``, another state another draw, and the array arguments come back unchanged.
    ``example``: how a correct function draws, for the hints ("rng.random(x.shape)")."""
    if by == "rng":
        source, state = "the generator you are given", "generator state"
        fixed = (f"the {by} argument (a generator you create yourself, with a fixed seed, "
                 "ignores it)")
    else:
        source, state = f"a generator made from the seed, np.random.default_rng({by})", by
        fixed = f"a generator made from the {by} argument, not from a fixed seed"
    source += f", {example}" if example else ""
    t.true(f"the same {state} gives the same {what}", identical(got["first"], got["second"]),
           detail=f"two calls with the same {state} gave different answers",
           hint=f"draw only from {source}: np.random.rand, np.random.binomial, np.random."
                "permutation... use NumPy's global generator instead" if got["global"] else
                f"draw the {what} from {source}: the same {state} must give the same {what}")
    t.true(f"another {state} gives another draw", not identical(got["first"], got["other"]),
           detail=f"two calls with different {state}s gave the same answer",
           hint=f"draw the {what} from {fixed}")
    if got["changed"] is not None:
        t.true("leaves its inputs unchanged", got["changed"] == 0,
               detail=f"your function changed {got['changed']} of its input values",
               hint="an in-place update (x[...] = ..., x *= ...) changes the caller's array: "
                    "compute a new one")


def share(t: Checker, subcheck: str, observed: float, p: float, n: int, *, what: str,
          hint: str, swapped_hint: str = "") -> None:
    """``observed``, the share of ``n`` independent draws that came out true with probability
    ``p``, must lie within six standard deviations of p (plus 1e-3): a correct draw fails about
    once in 10^9 runs. ``swapped_hint`` replaces ``hint`` when it lies near 1 - p instead."""
    margin = 6 * math.sqrt(p * (1 - p) / n) + 1e-3
    near = abs(observed - (1 - p)) <= margin
    t.true(subcheck, abs(observed - p) <= margin,
           detail=f"{observed:.3f} of the {n} {what} (expected {p} ± {margin:.3f})",
           hint=swapped_hint if swapped_hint and near else hint)


def masked(t: Checker, label: str, out: Any, x: np.ndarray, p: float, *, scale: float,
           wrong: tuple[tuple[Callable[[float], float], str], ...] = (), hint: str = "") -> None:
    """Sub-checks on ``out``, meant to be ``x`` with each entry zeroed with probability ``p``
    (dropped) and the others times ``scale`` (inverted dropout): an array of x's shape, every
    value 0 or x * scale (``wrong``: (scale(p), hint) for scales that name a mistake), a new draw
    for every entry (rows differ), and about a share p of zeros."""
    out = t.conform(f"{label}: returns an array of x's shape", out, np.zeros_like(x),
                    hints={"": "return a NumPy array of x's shape (the mask times x, scaled)"})
    kept = out != 0
    ratio = out[kept] / x[kept]
    if not np.allclose(ratio, scale, rtol=1e-5, atol=0.0):
        named = [h for factor, h in wrong
                 if ratio.size and np.allclose(ratio, factor(p), rtol=1e-5)]
        t.fail(label, f"p = {p}: kept values should be x * {scale:.6g}; yours are x * "
                      f"{summarize(ratio)}",
               hint=(named or [hint or f"each value is either 0 (dropped) or x * {scale:.6g}"])[0])
    t.ok()
    if x.ndim == 2 and len(x) > 1:
        t.true(f"{label}: a new draw for every entry", not np.all(kept == kept[:1]),
               detail="every row was dropped at the same positions",
               hint="draw one random number per entry: rng.random(x.shape), not "
                    "rng.random(x.shape[1])")
    share(t, f"{label}: drops about a share p", 1 - float(kept.mean()), p, x.size,
          what=f"values were dropped (p = {p})",
          hint="drop each value with probability p: mask = rng.random(x.shape) >= p",
          swapped_hint="p is the probability of DROPPING a value: keep it where "
                       "rng.random(x.shape) >= p (yours drops about 1 - p of them)")

"""Checks for notebook 12 Scaling out: data-parallel training on torch.distributed.

``shard_indices`` is compared with ``torch.utils.data.DistributedSampler`` itself (padding, the
round-robin deal, the shuffle seeded with seed + epoch) for many (n, world_size, rank, epoch);
``average_gradients`` with a float64 NumPy mean over ranks.

``ddp_train_step`` runs for real on forked gloo ranks (:mod:`coursekit.checks.ranks`): every
rank's parameters after every step, and the losses it returned, are compared to 1e-6 with one
process stepping on the concatenated batch (float64), and a mistake is named from the same ranks
simulated in one process (gradients summed, not all-reduced, parameters averaged...). PyTorch is
imported on the first check, not with this module.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import Checker, check
from coursekit.checks.exercise import Exercise, Run
from coursekit.checks.probe import in_student_process
from coursekit.checks.ranks import probe_ddp_train_step, ranks_in_one_process

__all__ = ["check_shard_indices", "check_average_gradients", "check_ddp_train_step"]


# -- shard_indices ------------------------------------------------------------------------------
def _sampler(n, world_size, rank, shuffle=False, seed=0, epoch=0) -> np.ndarray:
    """What DistributedSampler gives ``rank`` in ``epoch``: torch itself, at check time."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=shuffle,
                                 seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    return np.array(list(sampler), dtype=np.int64)


def _shard(n, world_size, rank, shuffle=False, seed=0, epoch=0, *, pad="first", block=False,
           seeded=lambda seed, epoch, rank: seed + epoch, numpy=False) -> np.ndarray:
    """The sampler's rule with one thing changed (the keywords): the known mistakes."""
    s = seeded(seed, epoch, rank)
    order = (list(range(n)) if not shuffle else np.random.default_rng(s).permutation(n).tolist()
             if numpy else torchref.torch().randperm(
                 n, generator=torchref.torch().Generator().manual_seed(s)).tolist())
    size = math.ceil(n / world_size) * world_size
    order = {"first": (order * size)[:size], "last": order + order[n - (size - n):],
             "once": order + order[:size - n], "none": order, "drop": order[:n - n % world_size]}[pad]
    share = len(order) // world_size
    return np.array(order[rank * share:(rank + 1) * share] if block else order[rank::world_size])


PAD = ("drop_last=False pads: repeat the first indices until the list is a multiple of "
       "world_size, so that every rank gets ceil(n / world_size) of them")
SHARD = Exercise(
    "shard_indices", signature="shard_indices(n, world_size, rank, shuffle=False, seed=0, epoch=0)",
    reference=_sampler,
    hint="order = torch.randperm(n, generator=g) with g seeded seed + epoch (or range(n)); pad it "
         "with its first indices to a multiple of world_size; rank takes order[rank::world_size]",
    hints={"": "return a NumPy array of indices: np.array(indices)", ".shape": PAD},
    wrong=[(functools.partial(_shard, block=True),
            "DistributedSampler deals the indices out in turn: rank r takes order[r::world_size] "
            "(after padding), not a contiguous block"),
           (functools.partial(_shard, pad="none"), PAD),
           (functools.partial(_shard, pad="drop"), PAD),
           (functools.partial(_shard, pad="last"), "pad with the FIRST indices of the (shuffled) "
                                                   "order, as the sampler does: order + order[:padding]"),
           (functools.partial(_shard, seeded=lambda seed, epoch, rank: seed),
            "seed the generator with seed + epoch (what sampler.set_epoch changes): without the "
            "epoch every epoch sees the same order"),
           (functools.partial(_shard, seeded=lambda seed, epoch, rank: seed + epoch + rank),
            "every rank must draw the same permutation (the same seed on every rank), or the "
            "shards overlap and miss examples; only the slice differs"),
           (functools.partial(_shard, numpy=True),
            "shuffle as the sampler does, with torch.randperm(n, generator=g) and "
            "g = torch.Generator().manual_seed(seed + epoch): NumPy's generator gives another "
            "order")],
)
LONG_PADDING = ("when the padding is longer than the list (world_size > n), repeat the whole "
                "list as often as needed, as the sampler does")


@check("shard_indices")
def check_shard_indices(t: Checker, shard_indices: Callable) -> None:
    run = Run(t, SHARD, shard_indices)
    got = run.case("by hand: n=10, 3 ranks, no shuffle: order 0..9 padded with 0, 1; rank 1 "
                   "takes [1, 4, 7, 0]", 10, 3, 1, expected=[1, 4, 7, 0])
    t.true("returns whole numbers (indices)", np.issubdtype(got.dtype, np.integer),
           detail=f"the array's dtype is {got.dtype}",
           hint="indices index arrays: return integers, np.array(indices, dtype=np.int64)")
    run.case("n=10, 3 ranks, rank 2, shuffled with seed 0 in epoch 0", 10, 3, 2, shuffle=True)
    for _ in range(10):
        n, world_size = int(t.rng.integers(1, 60)), int(t.rng.integers(1, 9))
        rank, seed, epoch = int(t.rng.integers(world_size)), int(t.rng.integers(100)), int(t.rng.integers(6))
        shuffle = bool(t.rng.integers(2)) or epoch > 3
        run.case(f"n={n}, {world_size} ranks, rank {rank}, shuffle={shuffle}, seed {seed}, "
                 f"epoch {epoch}", n, world_size, rank, shuffle=shuffle, seed=seed, epoch=epoch)
    for epoch in (0, 1, 2):
        run.case(f"set_epoch({epoch}) reshuffles: n=17, 4 ranks, rank 3, seed 5", 17, 4, 3,
                 shuffle=True, seed=5, epoch=epoch)
    run.case("one rank gets every index", 7, 1, 0, shuffle=True, seed=3, epoch=1)
    run.case("more ranks than examples: n=3, 8 ranks, rank 6", 3, 8, 6, shuffle=True, seed=1,
             wrong=[(functools.partial(_shard, pad="once"), LONG_PADDING)])


# -- average_gradients --------------------------------------------------------------------------
def _mean_over_ranks(per_rank_grads: list) -> list:
    return [np.mean(np.stack([np.asarray(g[i]) for g in per_rank_grads]), axis=0)
            for i in range(len(per_rank_grads[0]))]


AVERAGE = Exercise(
    "average_gradients", signature="average_gradients(per_rank_grads)",
    reference=_mean_over_ranks,
    hint="for each parameter i: the mean over the ranks r of per_rank_grads[r][i], element by "
         "element",
    hints={"": "return a list with one array per parameter",
           ".shape": "each parameter's average has that parameter's shape: average over the "
                     "ranks, element by element, not over a parameter's values"},
    wrong=[(lambda pr: [sum(g[i] for g in pr) for i in range(len(pr[0]))],
            "all-reduce SUMS: divide by the number of ranks, len(per_rank_grads), to average"),
           (lambda pr: [np.array(g, dtype=float) for g in pr[0]],
            "average over every rank, not only rank 0's gradients"),
           (lambda pr: [sum(g[i] for g in pr) / len(pr[0]) for i in range(len(pr[0]))],
            "divide by the number of ranks, len(per_rank_grads), not the number of parameters"),
           (lambda pr: [float(np.mean(np.concatenate([np.ravel(x) for x in g]))) for g in pr],
            "one array per parameter, each the mean over the ranks: loop over the parameters, "
            "not over the ranks")],
)


@check("average_gradients")
def check_average_gradients(t: Checker, average_gradients: Callable) -> None:
    run = Run(t, AVERAGE, average_gradients)
    run.case("by hand: 3 ranks, 2 parameters: [[1, 2], [3]], [[3, 6], [-1]] and [[2, 1], [4]] "
             "give [[2, 3], [2]]", [[np.array([1.0, 2.0]), np.array([3.0])],
                                    [np.array([3.0, 6.0]), np.array([-1.0])],
                                    [np.array([2.0, 1.0]), np.array([4.0])]],
             expected=[[2.0, 3.0], [2.0]])
    shapes = [(4, 3), (3,), (2, 1, 5)]
    for ranks in (3, 2, 5):
        run.case(f"{ranks} ranks, parameters of shapes {shapes}",
                 [[t.rng.normal(size=s) for s in shapes] for _ in range(ranks)])
    run.case("one rank: its own gradients", [[t.rng.normal(size=s) for s in shapes[:2]]])
    run.case("8 ranks, one parameter", [[t.rng.normal(size=(6, 2))] for _ in range(8)])
    run.unchanged("leaves every rank's gradients unchanged",
                  [[t.rng.normal(size=s) for s in shapes] for _ in range(3)],
                  hint="`total = per_rank_grads[0]; total += ...` adds into rank 0's own array: "
                       "start from a copy (np.zeros_like, or sum(...) which makes a new array)")


STEP = ("optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); then for every "
        "parameter dist.all_reduce(p.grad) (a sum over the ranks) and p.grad /= "
        "dist.get_world_size(); then optimizer.step()")
MISTAKES = (
    ("local", "all-reduce every gradient before optimizer.step(): each rank stepped on its own "
              "share's gradient, so the ranks drift apart"),
    ("sum", "dist.all_reduce sums the gradients over the ranks: divide each by "
            "dist.get_world_size() to average them"),
    ("by_two", "divide by dist.get_world_size(), not by a fixed 2: this run has 3 ranks"),
    ("twice", "average once: you divided by the world size twice (the loss and the gradients?)"),
    ("average_params", "average the gradients before the step, not the parameters after it: "
                       "with Adam (not linear in the gradient) the two differ"),
    ("no_zero_grad", "zero the gradients first (optimizer.zero_grad()): backward() adds to what "
                     ".grad already holds from an earlier step"),
    ("no_step", "call optimizer.step() after averaging the gradients: the parameters did not "
                "move"),
)
SAME_CALLS = ("every rank must make the same collective calls (all_reduce), in the same order, "
              "on tensors of the same sizes (an all_reduce under `if rank == 0` waits forever)")
STEP_ERRORS = (
    ("did not finish within", SAME_CALLS), ("crashed", SAME_CALLS),
    ("Connection closed by peer", SAME_CALLS),
    ("initialize the default process group twice",
     "torchrun's script (and this check) create the process group: ddp_train_step only uses it, "
     "no dist.init_process_group inside"),
    ("same device", "x and y arrive on the model's device: do not move them (no .to(device) in "
                    "ddp_train_step)"),
    ("Expected parameter `tensor`", "a parameter has no gradient to all-reduce yet: call "
                                    "loss.backward() before the all-reduce"),
    ("ReduceOp.AVG", "this PyTorch's gloo has no ReduceOp.AVG: all-reduce with the default "
                     "SUM, then divide by dist.get_world_size()"),
)


def _case(rng: np.random.Generator, world_size: int, sizes: list, steps: int, batch: int,
          loss: str, optimizer: str, hyper: dict) -> dict:
    """A random case: initial parameters, stale gradients, and each step's batch per rank."""
    shapes = {f"{2 * i}.{kind}": shape for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
              for kind, shape in (("weight", (b, a)), ("bias", (b,)))}
    per_rank = (lambda: rng.integers(0, sizes[-1], batch)) if loss == "cross_entropy" else (
        lambda: rng.normal(size=(batch, sizes[-1])))
    return {"sizes": sizes, "bias": True, "loss": loss, "optimizer": optimizer, "hyper": hyper,
            "state": {k: rng.normal(0, 1 / math.sqrt(s[-1]), s) for k, s in shapes.items()},
            "stale": {k: rng.normal(0, 0.5, s) for k, s in shapes.items()},
            "xs": [[rng.normal(size=(batch, sizes[0])) for _ in range(world_size)] for _ in range(steps)],
            "ys": [[per_rank() for _ in range(world_size)] for _ in range(steps)]}


BY_HAND = {"sizes": [1, 1], "bias": False, "loss": "mse", "optimizer": "sgd", "hyper": {"lr": 0.1},
           "state": {"0.weight": np.ones((1, 1))}, "stale": {"0.weight": np.zeros((1, 1))},
           "xs": [[np.ones((1, 1)), np.ones((1, 1))]], "ys": [[np.full((1, 1), 3.0), np.zeros((1, 1))]]}


def _number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _compare(t: Checker, label: str, case: dict, ranks: list) -> None:
    """One case's sub-checks: every rank returns a number; its parameters after every step, and
    the losses it returns, are those of one process on the whole batch."""
    world_size, steps = len(ranks), len(case["xs"])
    try:
        got = [[r["losses"][k] for r in ranks] for k in range(steps)]
        params = [{f"rank {i}": r["params"][k] for i, r in enumerate(ranks)} for k in range(steps)]
    except (TypeError, KeyError, IndexError):
        t.fail(f"{label}: the ranks answered", "the ranks' answers could not be read", hint=STEP)
    odd = next((v for row in got for v in row if not _number(v)), 0.0)
    t.true(f"{label}: returns the loss as a number on every rank", _number(odd),
           detail=f"a rank returned {odd.strip('<>') + ' object' if isinstance(odd, str) else odd!r}",
           hint="return the loss averaged over the ranks, as a plain number: .item() of the "
                "all-reduced loss")
    reference = ranks_in_one_process(case, 0)
    simulated = functools.cache(lambda mistake: ranks_in_one_process(case, world_size, mistake))
    mistakes = [(m, h) for m, h in MISTAKES if m != "by_two" or world_size != 2]
    for k in range(steps):
        expected = {f"rank {i}": reference["params"][k]["rank 0"] for i in range(world_size)}
        subcheck = (f"{label}: every rank's parameters after step {k + 1} of {steps} equal one "
                    "step on the whole batch")
        t.close(subcheck, t.conform(subcheck, params[k], expected), expected, hint=STEP,
                wrong=lambda k=k: [(simulated(m)["params"][k], h) for m, h in mistakes])
    local = np.array(simulated("local")["losses"])  # (steps, ranks): each rank's own loss
    t.close(f"{label}: the loss returned is the whole batch's on every rank",
            np.array(got, dtype=float), np.array(reference["losses"]).repeat(world_size, axis=1),
            hint="return the loss of the whole global batch on every rank: all-reduce a copy of "
                 "the loss (loss.detach().clone()), divide it by dist.get_world_size(), .item()",
            wrong=[(local, "all-reduce the loss too, so that every rank logs the global batch's "
                           "loss, not its own share's"),
                   (local.sum(axis=1, keepdims=True).repeat(world_size, axis=1),
                    "the all-reduced loss is a sum over the ranks: divide it by the world size")])


def _run(t: Checker, ddp_train_step: Callable, world_size: int, cases: list) -> list:
    # t.probe's work, called without arguments: the "inputs:" line would list only the probe
    return t.call(functools.partial(in_student_process, probe_ddp_train_step, ddp_train_step,
                                    world_size, cases),
                  signature="ddp_train_step(model, optimizer, loss_fn, x, y)",
                  error_hints=STEP_ERRORS)


def run_ddp_step(ddp_train_step: Callable, world_size: int, sizes: list, state: dict, xs: list,
                 ys: list, *, lr: float = 0.1) -> list:
    """For hidden tests: ``ddp_train_step`` on ``world_size`` forked ranks (where it lives), one
    SGD step with cross-entropy per entry of ``xs``/``ys`` (each a list of the ranks' batches).
    Returns each rank's parameters after the last step, {name: array}."""
    case = {"sizes": sizes, "bias": True, "loss": "cross_entropy", "optimizer": "sgd",
            "hyper": {"lr": lr}, "state": state, "xs": xs, "ys": ys,
            "stale": {k: np.zeros_like(np.asarray(v)) for k, v in state.items()}}
    ranks = in_student_process(probe_ddp_train_step, ddp_train_step, world_size, [case])[0]
    return [r["params"][-1] for r in ranks]


@check("ddp_train_step")
def check_ddp_train_step(t: Checker, ddp_train_step: Callable) -> None:
    cases = [("by hand: w = 1; rank 0 has (x=1, y=3), rank 1 (x=1, y=0); MSE, SGD lr 0.1: "
              "gradients -4 and 2, mean -1, so w = 1.1 on both ranks", BY_HAND),
             ("2 ranks, MLP 6-8-3, cross-entropy, SGD with momentum, 3 steps of 4 examples a "
              "rank", _case(t.rng, 2, [6, 8, 3], 3, 4, "cross_entropy", "sgd",
                            {"lr": 0.1, "momentum": 0.9})),
             ("2 ranks, MLP 5-7-4, cross-entropy, Adam, 2 steps of 3 examples a rank",
              _case(t.rng, 2, [5, 7, 4], 2, 3, "cross_entropy", "adam", {"lr": 0.01}))]
    for (label, case), ranks in zip(cases, _run(t, ddp_train_step, 2, [c for _, c in cases])):
        _compare(t, label, case, ranks)
    case = _case(t.rng, 3, [4, 6, 2], 2, 2, "mse", "sgd", {"lr": 0.05})
    _compare(t, "3 ranks, MLP 4-6-2, MSE, SGD, 2 steps of 2 examples a rank", case,
             _run(t, ddp_train_step, 3, [case])[0])

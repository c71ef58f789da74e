"""The distributed checks: correct code passes (loops, vectorised, DistributedSampler itself,
float32, one flat all-reduce, DDP), known mistakes get their hint, and the data-parallel step is
run for real in forked gloo ranks, also through the grading sandbox."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    assert_fails_with,
    in_float32,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)

from coursekit.checks import distributed as checks
from coursekit.checks import ranks as forked_ranks

ROOT = Path(__file__).resolve().parents[1]
STEM = "12_distributed"


# --- shard_indices ---------------------------------------------------------------------------
def _order(n, shuffle, seed):
    if not shuffle:
        return list(range(n))
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.randperm(n, generator=g).tolist()


def shard_indices(n, world_size, rank, shuffle=False, seed=0, epoch=0):
    order = _order(n, shuffle, seed + epoch)
    total = math.ceil(n / world_size) * world_size
    while len(order) < total:
        order += order[:total - len(order)]
    return np.array(order[rank:total:world_size])


def shard_indices_resize(n, world_size, rank, shuffle=False, seed=0, epoch=0):
    """np.resize repeats the array cyclically: exactly the sampler's padding."""
    order = np.array(_order(n, shuffle, seed + epoch))
    return np.resize(order, math.ceil(n / world_size) * world_size)[rank::world_size]


def shard_indices_sampler(n, world_size, rank, shuffle=False, seed=0, epoch=0):
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(list(range(n)), num_replicas=world_size, rank=rank,
                                 shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    return np.fromiter(sampler, dtype=np.int32)


def _shards(pad="first", block=False, seed_of=lambda seed, epoch, rank: seed + epoch, numpy=False):
    def wrong(n, world_size, rank, shuffle=False, seed=0, epoch=0):
        s = seed_of(seed, epoch, rank)
        order = (np.random.default_rng(s).permutation(n).tolist() if numpy and shuffle
                 else _order(n, shuffle, s))
        total = math.ceil(n / world_size) * world_size
        extra = total - n
        if pad == "first":
            order = list(np.resize(order, total))
        elif pad == "last" and extra:
            order = order + order[-extra:]
        elif pad == "once":
            order = order + order[:extra]
        elif pad == "drop":
            order = order[:n - n % world_size]
        if block:
            share = len(order) // world_size
            return np.array(order[rank * share:(rank + 1) * share])
        return np.array(order[rank::world_size])
    return wrong


# --- average_gradients -----------------------------------------------------------------------
def average_gradients(per_rank_grads):
    return [sum(grads) / len(grads) for grads in zip(*per_rank_grads)]


def average_gradients_stacked(per_rank_grads):
    return [np.stack(grads).mean(axis=0) for grads in zip(*per_rank_grads)]


def average_gradients_torch(per_rank_grads):
    out = []
    for i in range(len(per_rank_grads[0])):
        stacked = torch.stack([torch.as_tensor(g[i]) for g in per_rank_grads])  # (R, ...)
        out.append(stacked.mean(dim=0).numpy())
    return out


def _accumulate_in_place(per_rank_grads):
    total = per_rank_grads[0]
    for grads in per_rank_grads[1:]:
        for t, g in zip(total, grads):
            t += g
    return [t / len(per_rank_grads) for t in total]


# --- ddp_train_step --------------------------------------------------------------------------
def ddp_train_step(model, optimizer, loss_fn, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    world_size = dist.get_world_size()
    for p in model.parameters():
        dist.all_reduce(p.grad)
        p.grad /= world_size
    optimizer.step()
    total = loss.detach().clone()
    dist.all_reduce(total)
    return total.item() / world_size


def ddp_train_step_flat(model, optimizer, loss_fn, x, y):
    """One all-reduce for every gradient and the loss together (what DDP's buckets do)."""
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1)])
    dist.all_reduce(flat, op=dist.ReduceOp.AVG)
    start = 0
    for g in grads:
        g.copy_(flat[start:start + g.numel()].view_as(g))
        start += g.numel()
    optimizer.step()
    return float(flat[-1])


def ddp_train_step_scaled_loss(model, optimizer, loss_fn, x, y):
    """The loss divided by the world size before backward, then summed gradients."""
    world_size = dist.get_world_size()
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y) / world_size
    loss.backward()
    for p in model.parameters():
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
    optimizer.step()
    total = loss.detach().clone()
    dist.all_reduce(total)
    return total.item()


def ddp_train_step_ddp(model, optimizer, loss_fn, x, y):
    """DistributedDataParallel does the all-reduce inside backward()."""
    from torch.nn.parallel import DistributedDataParallel

    wrapped = DistributedDataParallel(model)
    optimizer.zero_grad()
    loss = loss_fn(wrapped(x), y)
    loss.backward()
    optimizer.step()
    total = loss.detach().clone()
    dist.all_reduce(total)
    return total.item() / dist.get_world_size()


def _step(*, reduce=True, divide=None, zero=True, step=True, loss_reduce=True, as_tensor=False,
          average_params=False, twice=False):
    def wrong(model, optimizer, loss_fn, x, y):
        world_size = dist.get_world_size()
        if zero:
            optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        if twice:
            loss = loss / world_size
        loss.backward()
        for p in model.parameters() if reduce else ():
            dist.all_reduce(p.grad)
            p.grad /= world_size if divide is None else divide
        if step:
            optimizer.step()
        if average_params:
            with torch.no_grad():
                for p in model.parameters():
                    dist.all_reduce(p)
                    p /= world_size
        total = loss.detach().clone()
        if loss_reduce:
            dist.all_reduce(total)
            total /= world_size
        return total if as_tensor else total.item()
    return wrong


MODULE = checks
CORRECT = {
    checks.check_shard_indices: [shard_indices, shard_indices_resize, shard_indices_sampler],
    checks.check_average_gradients: [average_gradients, average_gradients_stacked,
                                     in_float32(average_gradients), average_gradients_torch],
    checks.check_ddp_train_step: [ddp_train_step, ddp_train_step_flat, ddp_train_step_scaled_loss,
                                  ddp_train_step_ddp],
}

WRONG = [
    (checks.check_shard_indices, _shards(block=True), "not a contiguous block"),
    (checks.check_shard_indices, _shards(pad="none"), "drop_last=False pads"),
    (checks.check_shard_indices, _shards(pad="drop"), "drop_last=False pads"),
    (checks.check_shard_indices, _shards(pad="last"), "pad with the FIRST indices"),
    (checks.check_shard_indices, _shards(seed_of=lambda s, e, r: s), "seed + epoch"),
    (checks.check_shard_indices, _shards(seed_of=lambda s, e, r: s + e + r),
     "the same permutation"),
    (checks.check_shard_indices, _shards(numpy=True), "NumPy's generator gives another order"),
    (checks.check_shard_indices, _shards(pad="once"), "repeat the whole list"),
    (checks.check_shard_indices, lambda *a, **k: list(shard_indices(*a, **k)), "return a NumPy array"),
    (checks.check_shard_indices, lambda *a, **k: shard_indices(*a, **k).astype(float),
     "return integers"),
    (checks.check_average_gradients, lambda pr: [sum(g) for g in zip(*pr)], "all-reduce SUMS"),
    (checks.check_average_gradients, lambda pr: [g.copy() for g in pr[0]], "not only rank 0's"),
    (checks.check_average_gradients, lambda pr: [sum(g) / len(pr[0]) for g in zip(*pr)],
     "not the number of parameters"),
    (checks.check_average_gradients,
     lambda pr: [float(np.mean(np.concatenate([x.ravel() for x in g]))) for g in pr],
     "loop over the parameters, not over the ranks"),
    (checks.check_average_gradients, _accumulate_in_place, "adds into rank 0's own array"),
    (checks.check_average_gradients, lambda pr: np.mean([np.concatenate([x.ravel() for x in g])
                                                         for g in pr], axis=0),
     "a list with one array per parameter"),
    (checks.check_ddp_train_step, _step(reduce=False), "all-reduce every gradient"),
    (checks.check_ddp_train_step, _step(divide=1), "divide each by dist.get_world_size()"),
    (checks.check_ddp_train_step, _step(divide=2), "not by a fixed 2"),
    (checks.check_ddp_train_step, _step(twice=True), "divided by the world size twice"),
    (checks.check_ddp_train_step, _step(reduce=False, average_params=True),
     "not the parameters after it"),
    (checks.check_ddp_train_step, _step(zero=False), "zero the gradients first"),
    (checks.check_ddp_train_step, _step(step=False), "call optimizer.step()"),
    (checks.check_ddp_train_step, _step(loss_reduce=False), "all-reduce the loss too"),
    (checks.check_ddp_train_step, _step(as_tensor=True), ".item() of the all-reduced loss"),
]


# --- beyond the harness ---------------------------------------------------------------------
def test_the_by_hand_answers_are_the_sampler_and_the_big_batch():
    assert checks._sampler(10, 3, 1).tolist() == [1, 4, 7, 0]
    one = forked_ranks.ranks_in_one_process(checks.BY_HAND, 0)
    assert one["params"][0]["rank 0"]["0.weight"].item() == pytest.approx(1.1)
    assert one["losses"] == [[pytest.approx(2.5)]]


def test_an_error_on_one_rank_is_reported_with_the_students_line():
    def only_rank_zero_breaks(model, optimizer, loss_fn, x, y):
        if dist.get_rank() == 0:
            raise ValueError("boom")
        return ddp_train_step(model, optimizer, loss_fn, x, y)

    message = assert_fails_with(checks.check_ddp_train_step, only_rank_zero_breaks, "")
    assert "ValueError: boom (on rank 0)" in message, message
    assert 'raise ValueError("boom")' in message, message


def test_collectives_that_do_not_match_are_named():
    """Rank 0 all-reduces once more than rank 1: gloo aborts rank 0 at the next collective."""
    def rank_zero_reduces_more(model, optimizer, loss_fn, x, y):
        out = ddp_train_step(model, optimizer, loss_fn, x, y)
        if dist.get_rank() == 0:
            dist.all_reduce(torch.zeros(1))
        return out

    message = assert_fails_with(checks.check_ddp_train_step, rank_zero_reduces_more,
                                "same collective calls")
    assert "rank 0 crashed" in message, message


def test_a_rank_that_never_answers_is_stopped(monkeypatch):
    monkeypatch.setattr(forked_ranks, "GLOO_TIMEOUT_S", 1)
    monkeypatch.setattr(forked_ranks, "PROBE_TIMEOUT_S", 3)

    def rank_one_sleeps(model, optimizer, loss_fn, x, y):
        if dist.get_rank() == 1:
            import time
            time.sleep(600)
        return ddp_train_step(model, optimizer, loss_fn, x, y)

    message = assert_fails_with(checks.check_ddp_train_step, rank_one_sleeps, "same collective calls")
    assert "did not finish within 3 s" in message, message


def test_the_ranks_are_gone_after_the_check():
    import os

    before = set(os.listdir("/proc")) if os.path.isdir("/proc") else set()
    checks.check_ddp_train_step(ddp_train_step)
    if before:
        children = [p for p in set(os.listdir("/proc")) - before if p.isdigit()
                    and os.path.exists(f"/proc/{p}/stat")
                    and int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) == os.getpid()]
        assert children == []


def test_hidden_test_helper_returns_every_ranks_parameters():
    rng = np.random.default_rng(0)
    state = {"0.weight": rng.normal(size=(2, 3)), "0.bias": rng.normal(size=2)}
    xs = [[rng.normal(size=(2, 3)) for _ in range(4)]]
    ys = [[rng.integers(0, 2, 2) for _ in range(4)]]
    ranks = checks.run_ddp_step(ddp_train_step, 4, [3, 2], state, xs, ys, lr=0.5)
    model = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(state["0.weight"]))
        model.bias.copy_(torch.as_tensor(state["0.bias"]))
    loss = torch.nn.functional.cross_entropy(model(torch.as_tensor(np.concatenate(xs[0]))),
                                             torch.as_tensor(np.concatenate(ys[0])))
    loss.backward()
    want = (model.weight - 0.5 * model.weight.grad).detach().numpy()
    assert len(ranks) == 4
    for params in ranks:
        np.testing.assert_allclose(params["0.weight"], want, rtol=1e-10)


@pytest.mark.slow
def test_wrong_ddp_steps_get_their_hints_through_the_sandbox():
    """Graded by the sandbox: the ranks are forked inside the student's sandboxed process and
    meet over its own loopback; a step that sums the gradients, and one where the ranks never
    all-reduce (each trains on its own share as if alone), get their hints across the channel;
    the other answers keep their points."""
    from conftest import require_sandbox

    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.results import graded_cells
    from coursekit.instructor.sandbox import grade_submission

    require_sandbox()
    source = ROOT / "solutions" / f"{STEM}.ipynb"
    hints = {"summed": "divide each by dist.get_world_size()",
             "alone": "all-reduce every gradient"}
    bodies = {
        "summed": "        dist.all_reduce(p.grad)\n",
        "alone": "        pass\n",
    }
    for name, body in bodies.items():
        nb = answered_notebook(ROOT, STEM)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "ddp_train_step":
                cell.source = WRONG_STEP.format(body=body)
        rows, executed = grade_submission(source, nb, student=f"eve-{name}", cell_timeout=120)
        for row in rows:
            points = dict(graded_cells(source))[row.cell]
            if row.cell == "ddp_train_step_test":
                assert row.score == 0 and row.status.startswith("failed"), row.status
                test_cell = next(c for c in executed.cells
                                 if c.source.startswith("check_ddp_train_step("))
                text = "".join(o.get("evalue", "") + o.get("text", "") for o in test_cell.outputs)
                hint = [line for line in text.splitlines() if line.strip().startswith("hint:")]
                assert len(hint) == 1 and hints[name] in hint[0], text
            else:
                assert row.status == "passed" and row.score == points, (row.cell, row.status)


WRONG_STEP = '''
import torch.distributed as dist


def ddp_train_step(model, optimizer, loss_fn, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    for p in model.parameters():
{body}    optimizer.step()
    total = loss.detach().clone()
    dist.all_reduce(total)
    return total.item() / dist.get_world_size()
'''

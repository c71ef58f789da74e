"""Forked gloo ranks: a data-parallel training step run for real, where the student's code lives.

:func:`probe_ddp_train_step` forks ``world_size`` ranks from the process that holds the student's
function (the notebook's kernel, or the student's process in the grading sandbox), joins them in
a gloo process group (a FileStore in a private temporary folder for the rendezvous, gloo's pairs
over the loopback interface, which the sandbox's own network namespace has), runs the step on
each rank's share of every batch and returns each rank's parameters after every step and the
losses it returned, as data. :func:`ranks_in_one_process` computes the same in one process: the
reference (one process on the concatenated batch) and the known mistakes. Forking copies the
student's process as it is, so the step needs no file and no pickling (os.fork: Linux and macOS,
Colab included). A *case* is a dict of plain data: layer sizes, loss, optimizer and its
hyper-parameters, the initial parameters ("state"), the stale gradients an earlier step left
("stale"), and per step, per rank, the batch ("xs", "ys").
"""

from __future__ import annotations

import builtins
import datetime
import faulthandler
import functools
import io
import os
import pickle
import select
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import _student_frames

GLOO_TIMEOUT_S = 20   # a rank waiting for a collective the others never make fails after this
PROBE_TIMEOUT_S = 60  # then the ranks are killed (the grader's own timeout per test is longer)
COLLECTIVE_NOISE = ("Connection closed by peer", "Connection reset by peer", "Timed out",
                    "timed out", "Broken pipe")  # what a rank says when it lost its peer


@functools.cache
def _warm_up() -> None:
    """Run the optimizers' first step here, once: their lazy imports then happen before the
    fork, and the forked ranks start in milliseconds instead of seconds each."""
    torch = torchref.torch()
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    for opt in (torch.optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.Adam([p])):
        p.grad = torch.ones_like(p)
        opt.step()


def build(case: dict):
    """(model, optimizer, loss_fn) of a case: Linear layers with tanh between them, in float64,
    with the stale gradients an earlier step left."""
    torch, nn = torchref.torch(), torchref.torch().nn
    sizes = case["sizes"]
    layers = [layer for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
              for layer in ([nn.Tanh()] if i else []) + [nn.Linear(a, b, bias=case["bias"])]]
    model = nn.Sequential(*layers).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.as_tensor(np.asarray(case["state"][name])))
            p.grad = torch.as_tensor(np.array(case["stale"][name]))
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[case["optimizer"]](
        model.parameters(), **case["hyper"])
    return model, opt, {"mse": nn.MSELoss(), "cross_entropy": nn.CrossEntropyLoss()}[case["loss"]]


def _params(model) -> dict:
    return {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}


def _batch(case: dict, step: int, rank: int | None):
    """Step ``step``'s batch of ``rank`` (None: every rank's, concatenated) as tensors."""
    xs, ys = case["xs"][step], case["ys"][step]
    pick = (lambda v: np.concatenate(v)) if rank is None else (lambda v: np.asarray(v[rank]))
    return torchref.torch().as_tensor(pick(xs)), torchref.torch().as_tensor(pick(ys))


def _rank_main(step: Callable, cases: list, rank: int, world_size: int, store: str,
               out_fd: int) -> None:
    """One forked rank: run every case, write the answer (or the error) to ``out_fd``, exit."""
    answer: dict = {"cases": []}
    try:
        sys.stdout = sys.stderr = io.StringIO()  # the notebook's streams belong to the parent,
        faulthandler.disable()                  # and so do fds 1 and 2 (gloo's C++ warnings);
        quiet = os.open(os.devnull, os.O_WRONLY)  # a crash is reported by the parent, once
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        torch = torchref.torch()
        torch.set_num_threads(1)  # the ranks share the machine's cores
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
        torch.distributed.init_process_group(
            "gloo", init_method=f"file://{store}", rank=rank, world_size=world_size,
            timeout=datetime.timedelta(seconds=GLOO_TIMEOUT_S))
        for case in cases:
            model, opt, loss_fn = build(case)
            params, losses = [], []
            for k in range(len(case["xs"])):
                out = step(model, opt, loss_fn, *_batch(case, k, rank))
                losses.append(out.detach().cpu() if isinstance(out, torch.Tensor) else out
                              if out is None or isinstance(out, int | float | np.number)
                              else f"<{type(out).__name__}>")  # only data goes back
                params.append(_params(model))
            answer["cases"].append({"params": params, "losses": losses})
        torch.distributed.destroy_process_group()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        answer = {"error": (type(exc).__name__, str(exc)[:2000], _student_frames(exc.__traceback__))}
    finally:
        try:
            data = pickle.dumps(answer)
            while data:
                data = data[os.write(out_fd, data):]
        finally:
            os._exit(0)


def _collect(children: list) -> list:
    """Every rank's answer (None for a rank that wrote nothing), read until each pipe closes."""
    buffers = {fd: bytearray() for _, fd in children}
    waiting, deadline = set(buffers), time.monotonic() + PROBE_TIMEOUT_S
    while waiting:
        left = deadline - time.monotonic()
        ready = select.select(list(waiting), [], [], left)[0] if left > 0 else []
        if not ready:
            raise TimeoutError(f"the ranks did not finish within {PROBE_TIMEOUT_S} s")
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            buffers[fd] += chunk
            if not chunk:
                waiting.discard(fd)
    return [pickle.loads(bytes(buffers[fd])) if buffers[fd] else None for _, fd in children]


def _raise(rank: int, kind: str, message: str, where: str) -> None:
    """The rank's exception, again, here: a builtin type keeps its type (NotImplementedError is
    "not attempted"), any other becomes a RuntimeError that names it."""
    message = f"{message} (on rank {rank})" + (f"\n{where}" if where else "")
    cls = getattr(builtins, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls, message = RuntimeError, f"{kind}: {message}"
    try:
        exc = cls(message)
    except TypeError:  # a builtin that wants other arguments (UnicodeDecodeError)
        exc = RuntimeError(f"{kind}: {message}")
    raise exc


def probe_ddp_train_step(ddp_train_step: Callable, world_size: int, cases: list) -> list:
    """Fork ``world_size`` ranks in one gloo process group and run ``ddp_train_step`` on each
    rank's share of every step of every case. Returns, per case, per rank, {"params": [the
    parameters after each step], "losses": [what each step returned]}. An error in a rank is
    raised here: the one that started it, not those of the ranks that lost their peer."""
    if not hasattr(os, "fork"):
        raise RuntimeError("this check starts its ranks with os.fork, which Windows lacks: run "
                           "the notebook in Colab, on Linux or macOS, or in WSL")
    _warm_up()
    children, status, grace = [], {}, 0.0
    with tempfile.TemporaryDirectory(prefix="coursekit-ddp-") as folder:
        try:
            for rank in range(world_size):
                read_fd, write_fd = os.pipe()
                with warnings.catch_warnings():  # Python 3.12+ warns about forking with threads
                    warnings.simplefilter("ignore", DeprecationWarning)
                    pid = os.fork()
                if pid == 0:  # the rank: never returns
                    os.close(read_fd)
                    _rank_main(ddp_train_step, cases, rank, world_size, f"{folder}/store", write_fd)
                os.close(write_fd)
                children.append((pid, read_fd))
            answers, grace = _collect(children), time.monotonic() + 2  # the ranks are exiting
        finally:
            for rank, (pid, read_fd) in enumerate(children):
                done, status[rank] = os.waitpid(pid, os.WNOHANG)
                while not done and time.monotonic() < grace:
                    time.sleep(0.002)
                    done, status[rank] = os.waitpid(pid, os.WNOHANG)
                if not done:  # a rank that hung, or the probe was interrupted
                    os.kill(pid, signal.SIGKILL)
                    status[rank] = os.waitpid(pid, 0)[1]
                os.close(read_fd)
    errors = [(rank, *a["error"]) for rank, a in enumerate(answers) if a and "error" in a]
    first = [e for e in errors if not any(word in e[2] for word in COLLECTIVE_NOISE)]
    if first:
        _raise(*first[0])
    if None in answers:
        rank = answers.index(None)
        how = (f"was killed by {signal.Signals(os.WTERMSIG(status[rank])).name}"
               if os.WIFSIGNALED(status[rank]) else f"exited ({os.WEXITSTATUS(status[rank])})")
        raise RuntimeError(f"rank {rank} crashed: it {how} without an answer. Collective calls "
                           "that do not match across the ranks (another number of all_reduce "
                           "calls, tensors of other sizes) abort gloo; so do os._exit and "
                           "resource limits")
    if errors:
        _raise(*errors[0])
    return [[answers[rank]["cases"][c] for rank in range(world_size)] for c in range(len(cases))]




def ranks_in_one_process(case: dict, world_size: int, mistake: str = "") -> dict:
    """``world_size`` ranks simulated in one process: a correct data-parallel step, or one with
    a ``mistake``; with world_size 0, the reference: one process on the concatenated batch."""
    torch = torchref.torch()
    ranks = [build(case) for _ in range(max(world_size, 1))]
    params, losses = [], []
    for k in range(len(case["xs"])):
        local = []
        for r, (model, opt, loss_fn) in enumerate(ranks):
            if mistake != "no_zero_grad":
                opt.zero_grad()
            x, y = _batch(case, k, r if world_size else None)
            loss = loss_fn(model(x), y)
            loss.backward()
            local.append(loss.item())
        for grads in zip(*[[p.grad for p in m.parameters()] for m, _, _ in ranks]):
            total = sum(g.clone() for g in grads)
            mean = {"sum": total, "by_two": total / 2, "twice": total / len(ranks) ** 2}.get(
                mistake, total / len(ranks))
            for g in grads if mistake not in ("local", "average_params") else ():
                g.copy_(mean)
        for _, opt, _ in ranks if mistake != "no_step" else ():
            opt.step()
        with torch.no_grad():
            for ps in zip(*[list(m.parameters()) for m, _, _ in ranks]) if mistake == "average_params" else ():
                mean = sum(p.clone() for p in ps) / len(ranks)
                for p in ps:
                    p.copy_(mean)
        params.append({f"rank {r}": _params(m) for r, (m, _, _) in enumerate(ranks)})
        losses.append(local)
    return {"params": params, "losses": losses}

"""Checks for notebook 09 Generative adversarial networks (PyTorch tensors in, tensors out).

The losses take logits and return a scalar tensor. Their values are compared with float64
PyTorch references computed at check time; a float32 answer is judged at float32 precision.
"Differentiable" means gradients reach the logits: a returned tensor crosses the grading
sandbox as a copy without its graph, so the core's ``probe_input_gradients`` backpropagates
where the student's function runs and returns the gradients as data.

``train_step(G, D, opt_G, opt_D, real, z)`` takes modules and optimizers, which cannot cross
the sandbox at all. The check chooses two small networks (:func:`small_gan`), their initial
parameters and stale gradients (what an earlier step leaves behind), and
:func:`probe_train_step` builds them in the student's process, with optimizers that record
each ``step()``: which network it moved, the gradients it used and the parameters after it.
The check runs the textbook step the same way on its own copies, in float64, and compares the
bookkeeping (which optimizer stepped, in which order), the gradients of each update, that
neither update moved the other network, the returned losses and every parameter afterwards.
PyTorch is imported on the first check, not with this module.
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
from coursekit.checks.probe import in_student_process, probe_input_gradients

__all__ = ["check_discriminator_loss", "check_generator_loss", "check_train_step"]

LN2 = math.log(2.0)


def _f32(a: Any):
    """A float32 tensor (the dtype a GAN trains in) from an array or nested list."""
    return torchref.torch().tensor(np.asarray(a, dtype=np.float32))


# -- the losses -------------------------------------------------------------------------------
def _bce(logits, target: float, reduction: str = "mean", *, cast: bool = True):
    """BCE of logits against a constant label (log-sigmoid: finite for any logit), in float64;
    ``cast=False``: in the logits' own dtype (the reference step, run at the networks' dtype)."""
    x = torchref.as_float64(logits) if cast else logits
    return torchref.functional().binary_cross_entropy_with_logits(
        x, torchref.torch().full_like(x, target), reduction=reduction)


def _naive_bce(logits, target: float):
    """BCE through probabilities, as torch computes it: log clamped at -100 (wrong for big logits)."""
    p = torchref.as_float64(logits).sigmoid()
    return torchref.functional().binary_cross_entropy(p, torchref.torch().full_like(p, target))


def _d_loss(real, fake):
    return _bce(real, 1.0) + _bce(fake, 0.0)


def _g_loss(fake):
    return _bce(fake, 1.0)


NOT_DIFFERENTIABLE = (
    "the loss is cut off from the autograd graph: compute it from the logits with torch "
    "operations only (no .item(), .detach(), .numpy(), float(), np.* or torch.tensor(...) on "
    "the way), so that its gradient can reach D and G")
WITH_LOGITS = ("D returns logits, not probabilities: use F.binary_cross_entropy_with_logits, "
               "which applies the sigmoid inside a stable log-sigmoid. sigmoid(x) rounds to 0 or "
               "1 for large |x|, and log(0) is -inf (torch's binary_cross_entropy cuts it at -100)")
TARGETS_LIKE = ("make the targets with torch.ones_like(logits) and torch.zeros_like(logits): "
                "they then have the logits' shape, dtype and device")
MEAN_NOT_SUM = "average over the batch (reduction='mean'), do not sum: the loss must not grow with B"
ONE_MEAN = ("average each term over its own batch: one mean over real and fake together "
            "weighs the bigger batch more")
LOSS_ERRORS = (
    ("should be between 0 and 1", WITH_LOGITS),
    ("Found dtype", TARGETS_LIKE),
    ("same device", TARGETS_LIKE),
    ("must be the same as input size", TARGETS_LIKE),
)
LOSS_HINTS = {"": "return the loss as a scalar torch tensor (not .item(), not a NumPy value), "
                  "so that you can call .backward() on it",
              ".shape": "return one number for the whole batch, a tensor of shape (): take the "
                        "mean over the batch (reduction='mean')"}

DISCRIMINATOR_LOSS = Exercise(
    "discriminator_loss", signature="discriminator_loss(real_logits, fake_logits)",
    reference=_d_loss,
    hint="mean BCE of real_logits against 1 plus mean BCE of fake_logits against 0: "
         "F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + ...",
    hints=LOSS_HINTS, unstable_hint=WITH_LOGITS, error_hints=LOSS_ERRORS,
    wrong=[(lambda r, f: _bce(r, 0.0) + _bce(f, 1.0),
            "the labels are swapped: real samples are labelled 1, fakes 0"),
           (lambda r, f: (_bce(r, 1.0) + _bce(f, 0.0)) / 2,
            "add the two mean losses, do not average them: BCE(real, 1) + BCE(fake, 0)"),
           (lambda r, f: -(_bce(r, 1.0) + _bce(f, 0.0)),
            "the loss is minus the log-likelihood: BCE is already positive, no minus sign"),
           (lambda r, f: _bce(r, 1.0), "add the fake term: D must also call the fakes fake"),
           (lambda r, f: _bce(f, 0.0), "add the real term: D must also call the real samples real"),
           (lambda r, f: _bce(r, 1.0, "sum") + _bce(f, 0.0, "sum"), MEAN_NOT_SUM),
           (lambda r, f: _naive_bce(r, 1.0) + _naive_bce(f, 0.0), WITH_LOGITS)],
)

GENERATOR_LOSS = Exercise(
    "generator_loss", signature="generator_loss(fake_logits)", reference=_g_loss,
    hint="the non-saturating loss: mean BCE of fake_logits against 1 (-log D(G(z))), "
         "F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))",
    hints=LOSS_HINTS, unstable_hint=WITH_LOGITS, error_hints=LOSS_ERRORS,
    wrong=[(lambda f: -_bce(f, 0.0),
            "that is the saturating loss mean log(1 - D(G(z))) of the minimax game, whose "
            "gradient vanishes when D rejects the fakes: use BCE of the fake logits against 1"),
           (lambda f: _bce(f, 0.0),
            "the generator wants D to call its fakes real: the target is 1, not 0"),
           (lambda f: -_bce(f, 1.0), "no minus sign: G minimises BCE(fake_logits, 1)"),
           (lambda f: _bce(f, 1.0, "sum"), MEAN_NOT_SUM),
           (lambda f: _naive_bce(f, 1.0), WITH_LOGITS)],
)


def loss_gradients(loss_fn: Callable, *logits) -> list | None:
    """d loss / d logits, computed where ``loss_fn`` lives (the grading sandbox, or here): for
    hidden tests. None when the loss does not reach the logits through autograd."""
    return in_student_process(probe_input_gradients, loss_fn, *logits)


def _gradients(t: Checker, spec: Exercise, fn: Callable, label: str, *logits) -> None:
    """Two sub-checks: the loss reaches the logits through autograd, with the right gradient."""
    # Called without arguments so that the failure's "inputs:" line keeps naming the logits of
    # the case just before (these same logits), not the probe and the student's function.
    got = t.call(functools.partial(in_student_process, probe_input_gradients, fn, *logits),
                 signature=spec.signature, error_hints=tuple(spec.error_hints))
    t.true(f"{label}: the loss is differentiable", got is not None,
           detail="the loss you returned does not require grad", hint=NOT_DIFFERENTIABLE)
    expected = torchref.tensor_grads(spec.reference, *logits)
    names = tuple(f"{a.strip()}.grad" for a in spec.signature.split("(")[1].rstrip(")").split(","))
    got = t.conform(f"{label}: one gradient per input", got, expected, names=names)
    cut = [torchref.torch().zeros_like(e) for e in expected]
    t.close(f"{label}: d loss / d logits", got, expected, names=names,
            hint="the gradient of BCE with logits is (sigmoid(logit) - label) / B for each term",
            wrong=lambda: [(cut, "the loss does not depend on the logits through autograd: a "
                                 "tensor built from a value (torch.tensor(loss.item())) is cut "
                                 "off from them")]
                          + [(torchref.tensor_grads(w, *logits), h)
                             for w, h in spec.wrong if callable(w)])


@check("discriminator_loss")
def check_discriminator_loss(t: Checker, discriminator_loss: Callable) -> None:
    run = Run(t, DISCRIMINATOR_LOSS, discriminator_loss)
    # BCE(0, 1) = ln(1 + e^0) = ln 2; BCE(ln 3, 0) = ln(1 + e^(ln 3)) = ln 4
    run.case("by hand: a real logit 0 (D says 1/2) and a fake logit ln 3 (D says 3/4) give "
             "ln 2 + ln 4 = 2.079", _f32([[0.0]]), _f32([[math.log(3.0)]]), expected=3 * LN2)
    real, fake = _f32(t.rng.normal(0, 2, (16, 1))), _f32(t.rng.normal(0, 2, (16, 1)))
    run.case("random logits (B=16)", real, fake)
    _gradients(t, DISCRIMINATOR_LOSS, discriminator_loss, "random logits", real, fake)
    run.case("8 real and 24 fake logits: each term is the mean over its own batch",
             _f32(t.rng.normal(0, 2, (8, 1))), _f32(t.rng.normal(0, 2, (24, 1))),
             wrong=[(lambda r, f, k=k: k * torchref.torch().cat(
                 [_bce(r, 1.0, "none"), _bce(f, 0.0, "none")]).mean(), ONE_MEAN) for k in (1, 2)])
    run.case("logits of shape (B,)", _f32(t.rng.normal(0, 2, 10)), _f32(t.rng.normal(0, 2, 10)))
    big_real, big_fake = _f32([[-500.0], [3.0]]), _f32([[400.0], [-2.0]])
    run.case("large logits (D confidently wrong): the loss stays finite", big_real, big_fake)
    _gradients(t, DISCRIMINATOR_LOSS, discriminator_loss, "large logits", big_real, big_fake)
    run.case("float64 logits", torchref.tensor(t.rng.normal(0, 2, (5, 1))),
             torchref.tensor(t.rng.normal(0, 2, (5, 1))))


@check("generator_loss")
def check_generator_loss(t: Checker, generator_loss: Callable) -> None:
    run = Run(t, GENERATOR_LOSS, generator_loss)
    run.case("by hand: fake logits [0, ln 3] (D says 1/2 and 3/4) give (ln 2 + ln 4/3) / 2 = 0.490",
             _f32([[0.0], [math.log(3.0)]]), expected=(LN2 + math.log(4 / 3)) / 2)
    fake = _f32(t.rng.normal(0, 2, (16, 1)))
    run.case("random logits (B=16)", fake)
    _gradients(t, GENERATOR_LOSS, generator_loss, "random logits", fake)
    run.case("logits of shape (B,)", _f32(t.rng.normal(0, 2, 10)))
    big = _f32([[-500.0], [-40.0], [2.0]])
    run.case("large negative logits (D spots the fakes): the loss stays finite", big)
    _gradients(t, GENERATOR_LOSS, generator_loss, "large negative logits", big)
    run.case("float64 logits", torchref.tensor(t.rng.normal(0, 2, (5, 1))))


# -- train_step -------------------------------------------------------------------------------
def small_gan(z_dim: int, hidden: int, x_dim: int) -> tuple:
    """The check's networks: G (B, z_dim) -> (B, x_dim) and D (B, x_dim) -> (B, 1) logits, each
    an MLP with one tanh hidden layer (smooth, so float32 and float64 agree closely)."""
    nn = torchref.torch().nn
    G = nn.Sequential(nn.Linear(z_dim, hidden), nn.Tanh(), nn.Linear(hidden, x_dim))
    D = nn.Sequential(nn.Linear(x_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))
    return G, D


def small_gan_state(rng: np.random.Generator, z_dim: int = 3, hidden: int = 5,
                    x_dim: int = 2) -> dict:
    """Random float32 parameters for :func:`small_gan`: {"G": {name: array}, "D": {...}}."""
    G, D = small_gan(z_dim, hidden, x_dim)
    return {name: {k: rng.normal(0, 0.8, tuple(p.shape)).astype(np.float32)
                   for k, p in net.named_parameters()}
            for name, net in (("G", G), ("D", D))}


def _snapshot(nets: dict, grads: bool = False) -> dict:
    """Each network's parameters (or gradients, zeros where None) as arrays, by name."""
    out = {}
    for name, net in nets.items():
        out[name] = {}
        for k, p in net.named_parameters():
            value = p.grad if grads else p
            value = torchref.torch().zeros_like(p) if value is None else value
            out[name][k] = value.detach().cpu().numpy().copy()
    return out


def probe_train_step(train_step: Callable, state: dict, real, z, stale: dict,
                     optimizer: str = "sgd", lr: tuple = (0.05, 0.1)) -> dict:
    """Build G and D from ``state`` (in ``real``'s dtype) with ``stale`` gradients left on every
    parameter, and an optimizer each (``lr`` = (G's, D's)) that records its ``step()`` calls;
    call ``train_step(G, D, opt_G, opt_D, real, z)``. Returns data: what it returned, the
    networks stepped in order ("D", "G"), the gradients each step used, the parameters after
    each step and at the end."""
    torch = torchref.torch()
    (hidden, z_dim), x_dim = state["G"]["0.weight"].shape, len(state["G"]["2.weight"])
    G, D = small_gan(z_dim, hidden, x_dim)
    nets = {"G": G, "D": D}
    for name, net in nets.items():
        torchref.load(net, state[name]).to(real.dtype)
        for k, p in net.named_parameters():
            p.grad = torch.as_tensor(np.asarray(stale[name][k])).to(real.dtype).clone()
    log: list[dict] = []
    base = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]

    def recorded(name: str, params, rate: float):
        class Recorded(base):
            def step(self, closure=None):
                entry = {"net": name, "grads": _snapshot(nets, grads=True)}
                out = super().step(closure)
                entry["params"] = _snapshot(nets)
                log.append(entry)
                return out

        Recorded.__name__ = Recorded.__qualname__ = base.__name__  # what a student sees
        return Recorded(params, lr=rate)

    opt_G, opt_D = recorded("G", G.parameters(), lr[0]), recorded("D", D.parameters(), lr[1])
    returned = train_step(G, D, opt_G, opt_D, real, z)
    return {"returned": returned, "steps": [e["net"] for e in log],
            "grads": [e["grads"] for e in log], "params": [e["params"] for e in log],
            "final": _snapshot(nets)}


def run_train_step(train_step: Callable, state: dict, real, z, stale: dict,
                   optimizer: str = "sgd", lr: tuple = (0.05, 0.1)) -> dict:
    """:func:`probe_train_step` where ``train_step`` lives (the grading sandbox, or here): for
    hidden tests, which compare it with a reference step of their own."""
    return in_student_process(probe_train_step, train_step, state, real, z, stale,
                              optimizer=optimizer, lr=lr)


def _textbook_step(G, D, opt_G, opt_D, real, z, *, detach=True, zero_d=True, zero_g=True,
                   zero_first=False, d_labels=(1.0, 0.0), g_loss=_g_loss):
    """The reference step; the keywords build the classic mistakes."""
    if zero_first:
        opt_D.zero_grad()
        opt_G.zero_grad()
    fake = G(z)
    real_logits, fake_logits = D(real), D(fake.detach() if detach else fake)
    d_loss = (_bce(real_logits, d_labels[0], cast=False)
              + _bce(fake_logits, d_labels[1], cast=False))
    if zero_d:
        opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    g = g_loss(D(G(z)))
    if zero_g:
        opt_G.zero_grad()
    g.backward()
    opt_G.step()
    return d_loss.item(), g.item()


ZERO_D = ("call opt_D.zero_grad() before d_loss.backward(): gradients already on D (from the "
          "previous step, and the generator's backward fills D's gradients too) are added to "
          "the new ones")
ZERO_G = ("call opt_G.zero_grad() before g_loss.backward(): gradients already on G are added "
          "to the new ones")
DETACH = ("detach the fakes in the discriminator update, D(G(z).detach()): otherwise "
          "d_loss.backward() also fills G's gradients, and G is moved to help D")
TEXTBOOK = ("one discriminator update on D(real) and D(G(z).detach()) (opt_D.zero_grad(), "
            "backward, opt_D.step()), then one generator update on D(G(z)) with generator_loss "
            "(opt_G.zero_grad(), backward, opt_G.step()), with the z you are given. Your "
            "discriminator_loss and generator_loss must pass their checks first")
MISTAKES = (
    (dict(zero_d=False), ZERO_D),
    (dict(zero_g=False), ZERO_G),
    (dict(detach=False, zero_first=True, zero_d=False, zero_g=False), DETACH),
    (dict(g_loss=lambda f: -_bce(f, 0.0, cast=False)),
     "that is the saturating generator loss log(1 - D(G(z))): use generator_loss (BCE of "
     "D(G(z)) against 1)"),
    (dict(g_loss=lambda f: _bce(f, 0.0, cast=False)),
     "the generator's loss labels its fakes 1 (real): generator_loss, not BCE against 0"),
    (dict(d_labels=(0.0, 1.0)), "in the discriminator loss real samples are labelled 1, fakes 0"),
)
STEP_ERRORS = (
    ("modified by an inplace operation",
     "opt_D.step() changed D's weights after the generator's graph through D was built: "
     "compute D(G(z)) for the generator loss after the discriminator update"),
    ("same device", "train_step gets real and z on the networks' device: do not move them "
                    "(no .to(device) inside train_step)"),
)


def _steps_hint(steps: list) -> str:
    if not steps:
        return ("nothing was updated: call opt_D.step() after d_loss.backward() and "
                "opt_G.step() after g_loss.backward()")
    if "D" not in steps:
        return "the discriminator is never updated: opt_D.step() after d_loss.backward()"
    if "G" not in steps:
        return ("the generator is never updated: after g_loss.backward() step opt_G, not opt_D "
                "(stepping opt_D there moves D with the generator's gradients)")
    if steps[0] == "G":
        return "update the discriminator first, then the generator"
    return "one update each: opt_D.step() once, then opt_G.step() once"


def _reference_runs(state, real, z, stale, optimizer, lr) -> Callable:
    """The textbook step (and its mistakes) on the check's own copies: dtype -> record."""
    @functools.cache
    def run(dtype: str, mistake: int = -1) -> dict:
        kwargs = MISTAKES[mistake][0] if mistake >= 0 else {}
        cast = getattr(torchref.torch(), dtype)
        return probe_train_step(functools.partial(_textbook_step, **kwargs), state,
                                real.to(cast), z.to(cast), stale, optimizer, lr)
    return run


def _train_step_case(t: Checker, train_step: Callable, label: str, sizes: tuple, batch: tuple,
                     optimizer: str, lr: tuple) -> None:
    z_dim, hidden, x_dim = sizes
    state, stale = small_gan_state(t.rng, *sizes), small_gan_state(t.rng, *sizes)
    real = _f32(t.rng.normal(0, 1.5, (batch[0], x_dim)))
    z = _f32(t.rng.normal(size=(batch[1], z_dim)))
    # t.probe's work, called without arguments: the label describes the inputs, and an
    # "inputs:" line would only list the probe, the student's function and a dict
    got = t.call(functools.partial(in_student_process, probe_train_step, train_step, state, real,
                                   z, stale, optimizer, lr),
                 signature="train_step(G, D, opt_G, opt_D, real, z)", error_hints=STEP_ERRORS)
    reference = _reference_runs(state, real, z, stale, optimizer, lr)
    want = reference("float64")
    t.conform(f"{label}: returns (d_loss, g_loss)", got["returned"], want["returned"],
              names=("d_loss", "g_loss"),
              hints={name: "return the two losses as plain numbers: d_loss.item(), g_loss.item()"
                     for name in ("", "d_loss", "g_loss")})
    steps = got["steps"]
    t.true(f"{label}: updates D once, then G once", steps == ["D", "G"],
           detail=f"the optimizers stepped in this order: {steps} (expected ['D', 'G'])",
           hint=_steps_hint(steps))

    def compare(what: str, names: tuple, path: Callable, hint: str) -> None:
        """``path(record)`` is a tuple of parts named ``names`` (failures say "D.grad['0.bias']")."""
        expected = path(want)
        value = t.conform(f"{label}: {what}", path(got), expected, names=names)
        t.close(f"{label}: {what}", value, expected, hint=hint, names=names,
                at_precision=lambda dtype: path(reference(dtype)),
                wrong=lambda: [(path(reference("float64", i)), h) for i, (_, h) in enumerate(MISTAKES)])

    compare("D's gradients in the discriminator update", ("D.grad",),
            lambda r: (r["grads"][0]["D"],), TEXTBOOK)
    at_d_step = t.conform(f"{label}: G's gradients in the discriminator update",
                          got["grads"][0]["G"], want["grads"][0]["G"])
    # G's gradients may still be the stale ones (zeroed later) or zero, but nothing new
    leak = [k for k, g in at_d_step.items()
            if not (np.allclose(g, 0.0, atol=1e-6) or np.allclose(g, stale["G"][k], atol=1e-5))]
    t.true(f"{label}: the discriminator update sends no gradient to G (fakes detached)", not leak,
           detail=f"after d_loss.backward(), G's {', '.join(leak)} had gradients from the "
                  "discriminator loss", hint=DETACH)
    compare("the discriminator update leaves G unchanged", ("G",), lambda r: (r["params"][0]["G"],),
            "only opt_D may move parameters in the discriminator update")
    compare("G's gradients in the generator update", ("G.grad",), lambda r: (r["grads"][1]["G"],),
            TEXTBOOK)
    compare("the generator update leaves D unchanged", ("D",), lambda r: (r["params"][1]["D"],),
            "only opt_G may move parameters in the generator update")
    # the losses at the networks' precision (float32 for the student's, float64 for the reference)
    compare("the losses returned", ("d_loss", "g_loss"),
            lambda r: tuple(r["final"]["D"]["0.bias"].dtype.type(v) for v in r["returned"]),
            "return d_loss (computed before the updates) and g_loss (computed through the updated "
            "D), in that order, as .item()")
    compare("every parameter of G and D after the step", ("G", "D"),
            lambda r: (r["final"]["G"], r["final"]["D"]), TEXTBOOK)


@check("train_step")
def check_train_step(t: Checker, train_step: Callable) -> None:
    _train_step_case(t, train_step, "SGD, batches of 8", (3, 5, 2), (8, 8), "sgd", (0.05, 0.1))
    _train_step_case(t, train_step, "Adam, 6 real and 10 fake", (4, 6, 3), (6, 10), "adam",
                     (0.01, 0.02))

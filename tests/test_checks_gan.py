"""The GAN checks: correct losses and training steps pass (other formulas, modules, float32),
classic mistakes get their hint, and a wrong train_step is explained across the grading sandbox."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)
from torch import nn

from coursekit.checks import CheckFailed
from coursekit.checks import gan as checks

ROOT = Path(__file__).resolve().parents[1]


# --- the losses: reference and alternatives ------------------------------------------------
def discriminator_loss(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def discriminator_loss_softplus(real_logits, fake_logits):
    # BCE(x, 1) = log(1 + e^-x) = softplus(-x); BCE(x, 0) = softplus(x)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def discriminator_loss_module(real_logits, fake_logits):
    bce = nn.BCEWithLogitsLoss()
    return bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))


def discriminator_loss_float32(real_logits, fake_logits):
    return discriminator_loss_softplus(real_logits.float(), fake_logits.float())


def generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def generator_loss_logsigmoid(fake_logits):
    return -F.logsigmoid(fake_logits).mean()


def generator_loss_float32(fake_logits):
    return nn.BCEWithLogitsLoss()(fake_logits.float(), torch.ones_like(fake_logits.float()))


# --- the losses: classic mistakes ------------------------------------------------------------
def d_swapped(r, f):
    return discriminator_loss(f, r)


def d_averaged(r, f):
    return discriminator_loss(r, f) / 2


def d_sigmoid_then_bce(r, f):
    p, q = torch.sigmoid(r), torch.sigmoid(f)
    return F.binary_cross_entropy(p, torch.ones_like(p)) + F.binary_cross_entropy(q, torch.zeros_like(q))


def d_log_sigmoid_naive(r, f):
    return -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean())


def d_one_mean(r, f):
    logits = torch.cat([r.reshape(-1), f.reshape(-1)])
    labels = torch.cat([torch.ones(r.numel()), torch.zeros(f.numel())]).to(logits.dtype)
    return 2 * F.binary_cross_entropy_with_logits(logits, labels)


def d_item(r, f):
    return discriminator_loss(r, f).item()


def d_rebuilt(r, f):
    return torch.tensor(discriminator_loss(r, f).item(), requires_grad=True)


def d_detached(r, f):
    return discriminator_loss(r, f).detach()


def d_probabilities(r, f):
    return F.binary_cross_entropy(r, torch.ones_like(r)) + F.binary_cross_entropy(f, torch.zeros_like(f))


def d_summed(r, f):
    return F.softplus(-r).sum() + F.softplus(f).sum()


def d_per_example(r, f):
    return F.softplus(-r) + F.softplus(f)


def g_saturating(f):
    return torch.log(1 - torch.sigmoid(f)).mean()


def g_saturating_stable(f):
    return -F.softplus(f).mean()


def g_target_zero(f):
    return F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))


def g_naive(f):
    return -torch.log(torch.sigmoid(f)).mean()


def g_numpy(f):
    return float(np.mean(np.logaddexp(0.0, -f.detach().numpy())))


def g_summed(f):
    return -F.logsigmoid(f).sum()


# --- train_step: reference and alternatives --------------------------------------------------
def train_step(G, D, opt_G, opt_D, real, z):
    fake = G(z).detach()
    d_loss = discriminator_loss(D(real), D(fake))
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    g_loss = generator_loss(D(G(z)))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return d_loss.item(), g_loss.item()


def train_step_no_grad(G, D, opt_G, opt_D, real, z):
    with torch.no_grad():
        fake = G(z)
    D.zero_grad()
    d_loss = discriminator_loss_softplus(D(real), D(fake))
    d_loss.backward()
    opt_D.step()
    G.zero_grad()
    g_loss = generator_loss_logsigmoid(D(G(z)))
    g_loss.backward()
    opt_G.step()
    return float(d_loss.detach()), float(g_loss.detach())


def train_step_one_forward(G, D, opt_G, opt_D, real, z):
    """One G(z) for both updates, one D call on real and fake together, grads kept as zeros."""
    opt_G.zero_grad(set_to_none=False)
    opt_D.zero_grad(set_to_none=False)
    fake = G(z)
    logits = D(torch.cat([real, fake.detach()]))  # (B_real + B_fake, 1)
    d_loss = discriminator_loss(logits[: len(real)], logits[len(real):])
    d_loss.backward()
    opt_D.step()
    g_loss = generator_loss(D(fake))
    opt_G.zero_grad(set_to_none=False)
    g_loss.backward()
    opt_G.step()
    return d_loss.item(), g_loss.item()


# --- train_step: classic mistakes ------------------------------------------------------------
def step_with(*, detach=True, zero_top=False, zero_d=True, zero_g=True, g_loss_fn=None,
              d_opt="D", g_opt="G", extra_d_step=False, g_first=False, swap=False, new_z=False,
              returns=None):
    g_loss_fn = g_loss_fn or generator_loss

    def step(G, D, opt_G, opt_D, real, z):
        opts = {"D": opt_D, "G": opt_G}

        def d_update():
            fake = G(z)
            r, f = D(real), D(fake.detach() if detach else fake)
            loss = discriminator_loss(f, r) if swap else discriminator_loss(r, f)
            if zero_d:
                opt_D.zero_grad()
            loss.backward()
            opts[d_opt].step()
            return loss

        def g_update():
            loss = g_loss_fn(D(G(torch.randn_like(z) if new_z else z)))
            if zero_g:
                opt_G.zero_grad()
            loss.backward()
            opts[g_opt].step()
            if extra_d_step:
                opt_D.step()
            return loss

        if zero_top:
            opt_D.zero_grad()
            opt_G.zero_grad()
        if g_first:
            g_loss, d_loss = g_update(), d_update()
        else:
            d_loss, g_loss = d_update(), g_update()
        if returns == "tensors":
            return d_loss, g_loss
        if returns == "swapped":
            return g_loss.item(), d_loss.item()
        return d_loss.item(), g_loss.item()

    return step


def step_zero_after(G, D, opt_G, opt_D, real, z):
    """backward, step, zero_grad: the generator's backward leaves gradients on D."""
    d_loss = discriminator_loss(D(real), D(G(z).detach()))
    d_loss.backward()
    opt_D.step()
    opt_D.zero_grad()
    g_loss = generator_loss(D(G(z)))
    g_loss.backward()
    opt_G.step()
    opt_G.zero_grad()
    return d_loss.item(), g_loss.item()


def step_graph_before_update(G, D, opt_G, opt_D, real, z):
    fake = G(z)
    fake_logits = D(fake)  # built before opt_D.step() changes D
    d_loss = discriminator_loss(D(real), D(fake.detach()))
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    g_loss = generator_loss(fake_logits)
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return d_loss.item(), g_loss.item()


MODULE = checks
CORRECT = {
    checks.check_discriminator_loss: [discriminator_loss, discriminator_loss_softplus,
                                      discriminator_loss_module, discriminator_loss_float32],
    checks.check_generator_loss: [generator_loss, generator_loss_logsigmoid, generator_loss_float32],
    checks.check_train_step: [train_step, train_step_no_grad, train_step_one_forward],
}

WRONG = [
    (checks.check_discriminator_loss, d_swapped, "labels are swapped"),
    (checks.check_discriminator_loss, d_averaged, "do not average them"),
    (checks.check_discriminator_loss, lambda r, f: -discriminator_loss(r, f), "no minus sign"),
    (checks.check_discriminator_loss, lambda r, f: generator_loss(r), "add the fake term"),
    (checks.check_discriminator_loss, d_sigmoid_then_bce, "binary_cross_entropy_with_logits"),
    (checks.check_discriminator_loss, d_log_sigmoid_naive, "binary_cross_entropy_with_logits"),
    (checks.check_discriminator_loss, d_one_mean, "over its own batch"),
    (checks.check_discriminator_loss, d_item, "scalar torch tensor"),
    (checks.check_discriminator_loss, d_rebuilt, "cut off from them"),
    (checks.check_discriminator_loss, d_detached, "cut off from the autograd graph"),
    (checks.check_discriminator_loss, d_probabilities, "logits, not probabilities"),
    (checks.check_discriminator_loss, d_summed, "do not sum"),
    (checks.check_discriminator_loss, d_per_example, "a tensor of shape ()"),
    (checks.check_generator_loss, g_saturating, "saturating loss"),
    (checks.check_generator_loss, g_saturating_stable, "saturating loss"),
    (checks.check_generator_loss, g_target_zero, "the target is 1, not 0"),
    (checks.check_generator_loss, lambda f: -generator_loss(f), "no minus sign"),
    (checks.check_generator_loss, g_naive, "binary_cross_entropy_with_logits"),
    (checks.check_generator_loss, g_numpy, "scalar torch tensor"),
    (checks.check_generator_loss, g_summed, "do not sum"),
    (checks.check_train_step, step_with(detach=False, zero_top=True, zero_d=False, zero_g=False),
     "detach the fakes"),
    (checks.check_train_step, step_with(detach=False), "detach the fakes"),
    (checks.check_train_step, step_with(zero_d=False, zero_g=False), "opt_D.zero_grad()"),
    (checks.check_train_step, step_with(zero_g=False), "opt_G.zero_grad()"),
    (checks.check_train_step, step_zero_after, "opt_D.zero_grad() before d_loss.backward()"),
    (checks.check_train_step, step_with(g_loss_fn=g_saturating_stable), "saturating generator loss"),
    (checks.check_train_step, step_with(g_loss_fn=g_target_zero), "labels its fakes 1"),
    (checks.check_train_step, step_with(swap=True), "real samples are labelled 1"),
    (checks.check_train_step, step_with(d_opt="G"), "the discriminator is never updated"),
    (checks.check_train_step, step_with(g_opt="D"), "the generator is never updated"),
    (checks.check_train_step, step_with(extra_d_step=True), "one update each"),
    (checks.check_train_step, step_with(g_first=True), "discriminator first"),
    (checks.check_train_step, step_with(returns="tensors"), "d_loss.item(), g_loss.item()"),
    (checks.check_train_step, step_with(returns="swapped"), "in that order"),
    (checks.check_train_step, step_with(new_z=True), "the z you are given"),
    (checks.check_train_step, step_graph_before_update, "after the discriminator update"),
]


# --- more than hints -------------------------------------------------------------------------
def test_a_float64_loss_is_judged_tightly_and_a_float32_one_at_its_precision():
    r = torch.tensor([[0.3], [-1.2]], dtype=torch.float64)
    exact = float(discriminator_loss(r, -r))
    assert abs(exact - 2 * float(F.softplus(-r).mean())) < 1e-12
    checks.check_discriminator_loss(discriminator_loss_float32)  # passes at float32


def test_the_train_step_check_explains_a_wrong_final_state():
    with pytest.raises(CheckFailed) as info:
        checks.check_train_step(step_with(new_z=True))
    message = str(info.value)
    for part in ("train_step", "failed '", "expected", "tolerance", "hint:", "random seed"):
        assert part in message, part
    assert len(message) < 1500


def test_loss_gradients_helper_for_hidden_tests():
    r = torch.tensor([[1.0], [-2.0]])
    grads = checks.loss_gradients(discriminator_loss, r, -r)
    assert torch.allclose(grads[0], (torch.sigmoid(r) - 1) / 2)
    assert checks.loss_gradients(d_detached, r, -r) is None


def test_run_train_step_helper_for_hidden_tests():
    rng = np.random.default_rng(0)
    state, stale = checks.small_gan_state(rng, 2, 4, 2), checks.small_gan_state(rng, 2, 4, 2)
    real, z = torch.randn(5, 2), torch.randn(5, 2)
    a = checks.run_train_step(train_step, state, real, z, stale, optimizer="adam", lr=(0.01, 0.02))
    b = checks.run_train_step(train_step_no_grad, state, real, z, stale, optimizer="adam", lr=(0.01, 0.02))
    assert a["steps"] == b["steps"] == ["D", "G"]
    assert all(isinstance(v, float) for v in a["returned"])
    for net in ("G", "D"):
        for k, v in a["final"][net].items():
            assert np.allclose(v, b["final"][net][k], atol=1e-6)
            assert not np.allclose(v, state[net][k])  # both networks moved
    assert math.isfinite(a["returned"][0])


# --- across the grading sandbox --------------------------------------------------------------
_CUT_OFF_LOSS = '''def generator_loss(fake_logits):
    value = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits)).item()
    return torch.tensor(value, requires_grad=True)  # the right number, cut off from the logits
'''

_UNDETACHED_STEP = '''def train_step(G, D, opt_G, opt_D, real, z):
    d_loss = discriminator_loss(D(real), D(G(z)))  # the fakes are not detached
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    fake_logits = D(G(z))
    g_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return d_loss.item(), g_loss.item()
'''


def _test_output(feedback, grade_id: str) -> str:
    cell = next(c for c in feedback.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) + "".join(o.get("traceback", []))
                     for o in cell.get("outputs", []))


@pytest.mark.slow
def test_wrong_answers_get_their_hints_through_the_sandbox():
    """Graded by `coursekit grade`'s sandbox, where a returned tensor crosses without its graph
    and modules and optimizers never leave the student's process: a loss with the right value
    but no gradient, and a train_step that does not detach the fakes, are each told so (the
    probes run next to the student's code and send back data)."""
    from conftest import require_sandbox

    require_sandbox()
    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.sandbox import grade_submission

    nb = answered_notebook(ROOT, "09_gan")
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == "generator_loss":
            cell.source = _CUT_OFF_LOSS
        elif grade_id == "train_step":
            cell.source = _UNDETACHED_STEP
    grades, feedback = grade_submission(ROOT / "solutions" / "09_gan.ipynb", nb, cell_timeout=120)
    status = {g.cell: g.status for g in grades}
    assert status["discriminator_loss_test"] == "passed", status
    assert status["generator_loss_test"] != "passed", status
    assert status["train_step_test"] != "passed", status
    assert "cut off from them" in _test_output(feedback, "generator_loss_test")
    assert "detach the fakes" in _test_output(feedback, "train_step_test")

"""The autoencoders checks: correct code passes (torch, another style, float32), known mistakes get
their hint, also through the grading sandbox, where tensors cross without their graph and the
model lives in the student's process."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from check_harness import (  # noqa: F401 - the shared tests, parametrized by conftest
    assert_fails_with,
    test_correct_implementations_pass,
    test_every_check_is_tested_both_ways,
    test_stub_is_not_attempted,
    test_wrong_implementations_fail_with_their_hint,
)
from torch.distributions import Normal, kl_divergence

from coursekit.checks import autoencoders as checks

ROOT = Path(__file__).resolve().parents[1]
STEM = "10_autoencoders"


# --- reference and alternative correct implementations -------------------------------------
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


def reparameterize_addcmul(mu, logvar, eps):
    std = torch.sqrt(torch.exp(logvar))
    return torch.addcmul(mu, std, eps)


def reparameterize_loop(mu, logvar, eps):
    rows = [m + lv.div(2).exp() * e for m, lv, e in zip(mu, logvar, eps)]
    return torch.stack(rows)


def reparameterize_float32(mu, logvar, eps):
    return mu.float() + torch.exp(0.5 * logvar.float()) * eps.float()


def vae_loss(x_logits, x, mu, logvar, beta=1.0):
    rec = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").sum(dim=1).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()
    return rec + beta * kl, rec, kl


def vae_loss_by_hand(x_logits, x, mu, logvar, beta=1.0):
    """Stable BCE written out, the KL from torch.distributions, sums divided by the batch size."""
    b = x.shape[0]
    bce = x_logits.clamp(min=0) - x_logits * x + torch.log1p(torch.exp(-x_logits.abs()))
    rec = bce.sum() / b
    posterior = Normal(mu, torch.exp(0.5 * logvar))
    kl = kl_divergence(posterior, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum() / b
    return rec + beta * kl, rec, kl


def vae_loss_float32(x_logits, x, mu, logvar, beta=1.0):
    return vae_loss(x_logits.float(), x.float(), mu.float(), logvar.float(), beta)


def anomaly_scores(model, X):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        errors = (model(X) - X) ** 2  # (N, D)
    model.train(was_training)
    return errors.mean(dim=1).cpu().numpy()


def anomaly_scores_inference_mode(model, X):
    was_training = model.training
    try:
        model.eval()
        with torch.inference_mode():
            return F.mse_loss(model(X), X, reduction="none").mean(dim=1).numpy()
    finally:
        model.train(was_training)


def anomaly_scores_loop_float64(model, X):
    """One example at a time, on a copy of the model (the original's mode is never touched),
    returned as float64."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        return np.array([float(((model(x[None]) - x) ** 2).mean()) for x in X])


MODULE = checks
CORRECT = {
    checks.check_reparameterize: [reparameterize, reparameterize_addcmul, reparameterize_loop,
                                  reparameterize_float32],
    checks.check_vae_loss: [vae_loss, vae_loss_by_hand, vae_loss_float32],
    checks.check_anomaly_scores: [anomaly_scores, anomaly_scores_inference_mode,
                                  anomaly_scores_loop_float64],
}


# --- known-wrong implementations, each with the hint it must get ---------------------------
def _reparameterize_own_noise(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def _reparameterize_no_grad(mu, logvar, eps):
    with torch.no_grad():
        return mu + torch.exp(0.5 * logvar) * eps


def _reparameterize_fixed_std(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar.detach()) * eps


def _vae_loss_bce_on_logits(x_logits, x, mu, logvar, beta=1.0):
    rec = F.binary_cross_entropy(x_logits, x, reduction="none").sum(dim=1).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()
    return rec + beta * kl, rec, kl


def _vae_loss_floats(x_logits, x, mu, logvar, beta=1.0):
    return tuple(float(p) for p in vae_loss(x_logits, x, mu, logvar, beta))


def _vae_loss_rebuilt(x_logits, x, mu, logvar, beta=1.0):
    total, rec, kl = vae_loss(x_logits, x, mu, logvar, beta)
    return torch.tensor(total.item(), dtype=total.dtype), rec, kl


def _vae_loss_manual_bce(x_logits, x, mu, logvar, beta=1.0):
    p = torch.sigmoid(x_logits)
    rec = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=1).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()
    return rec + beta * kl, rec, kl


def _kl(mu, logvar):
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp())


def _rec(x_logits, x):
    return F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")


def _scores_no_eval(model, X):
    with torch.no_grad():
        return ((model(X) - X) ** 2).mean(dim=1).numpy()


def _scores_left_in_eval(model, X):
    model.eval()
    with torch.no_grad():
        return ((model(X) - X) ** 2).mean(dim=1).numpy()


def _scores_forced_train(model, X):
    model.eval()
    with torch.no_grad():
        scores = ((model(X) - X) ** 2).mean(dim=1).numpy()
    model.train()
    return scores


def _scores_with_grad(model, X):
    was_training = model.training
    model.eval()
    scores = ((model(X) - X) ** 2).mean(dim=1).detach().numpy()
    model.train(was_training)
    return scores


def _scores_numpy_of_graph(model, X):
    was_training = model.training
    model.eval()
    scores = ((model(X) - X) ** 2).mean(dim=1).numpy()  # raises: the result requires grad
    model.train(was_training)
    return scores


def _scores_variant(errors, reduce):
    def scores(model, X):
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out = reduce(errors(model(X), X))
        model.train(was_training)
        return out.numpy()
    return scores


def _scores_tensor(model, X):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = ((model(X) - X) ** 2).mean(dim=1)
    model.train(was_training)
    return out


_SQUARED = lambda r, x: (r - x) ** 2  # noqa: E731

WRONG = [
    (checks.check_reparameterize, lambda mu, lv, eps: mu + torch.exp(lv) * eps, "std = exp(0.5"),
    (checks.check_reparameterize, lambda mu, lv, eps: mu + lv * eps, "log of the variance"),
    (checks.check_reparameterize, lambda mu, lv, eps: torch.exp(0.5 * lv) * eps, "add the mean"),
    (checks.check_reparameterize, _reparameterize_own_noise, "with the eps you are given"),
    (checks.check_reparameterize, _reparameterize_no_grad, "cut off from the autograd graph"),
    (checks.check_reparameterize, _reparameterize_fixed_std, "z must depend on logvar"),
    (checks.check_reparameterize,
     lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps).numpy(), "return a torch tensor"),
    (checks.check_vae_loss,
     lambda xl, x, mu, lv, beta=1.0: (_rec(xl, x).sum(1).mean() - beta * _kl(mu, lv).sum(1).mean(),
                                      _rec(xl, x).sum(1).mean(), -_kl(mu, lv).sum(1).mean()),
     "sign error in the KL term"),
    (checks.check_vae_loss,
     lambda xl, x, mu, lv, beta=1.0: (_rec(xl, x).sum(1).mean() + beta * _kl(mu, lv).mean(),
                                      _rec(xl, x).sum(1).mean(), _kl(mu, lv).mean()),
     "sum the KL over the latent dimensions"),
    (checks.check_vae_loss,
     lambda xl, x, mu, lv, beta=1.0: vae_loss(torch.sigmoid(xl), x, mu, lv, beta),
     "no sigmoid first"),
    (checks.check_vae_loss, _vae_loss_bce_on_logits, "not probabilities"),
    (checks.check_vae_loss,
     lambda xl, x, mu, lv, beta=1.0: (_rec(xl, x).mean() + beta * _kl(mu, lv).sum(1).mean(),
                                      _rec(xl, x).mean(), _kl(mu, lv).sum(1).mean()),
     "sum the reconstruction loss over the features"),
    (checks.check_vae_loss,
     lambda xl, x, mu, lv, beta=1.0: (beta * _rec(xl, x).sum(1).mean() + _kl(mu, lv).sum(1).mean(),
                                      _rec(xl, x).sum(1).mean(), _kl(mu, lv).sum(1).mean()),
     "beta weighs the KL term only"),
    (checks.check_vae_loss,
     lambda xl, x, mu, lv, beta=1.0: tuple(p * len(x) for p in vae_loss(xl, x, mu, lv, beta)),
     "average over the batch, do not sum"),
    (checks.check_vae_loss, _vae_loss_manual_bce, "computed stably from the logits"),
    (checks.check_vae_loss, _vae_loss_floats, "return the three scalar tensors"),
    (checks.check_vae_loss, _vae_loss_rebuilt, "total is what training calls .backward() on"),
    (checks.check_anomaly_scores, _scores_no_eval, "call model.eval()"),
    (checks.check_anomaly_scores, _scores_left_in_eval, "put the model back in the mode"),
    (checks.check_anomaly_scores, _scores_forced_train, "instead of calling model.train()"),
    (checks.check_anomaly_scores, _scores_with_grad, "inside `with torch.no_grad():`"),
    (checks.check_anomaly_scores, _scores_numpy_of_graph, "inside `with torch.no_grad():`"),
    (checks.check_anomaly_scores,
     _scores_variant(_SQUARED, lambda e: e.sum(dim=1)), "do not sum them"),
    (checks.check_anomaly_scores,
     _scores_variant(_SQUARED, lambda e: e.mean()), "not over the batch"),
    (checks.check_anomaly_scores,
     _scores_variant(_SQUARED, lambda e: e.mean(dim=0)), "not over the examples"),
    (checks.check_anomaly_scores,
     _scores_variant(lambda r, x: (r - x).abs(), lambda e: e.mean(dim=1)), "square the errors"),
    (checks.check_anomaly_scores, _scores_tensor, "return a NumPy array"),
]


# --- through the grading sandbox ---------------------------------------------------------------
WRONG_ANOMALY = '''\
def anomaly_scores(model, X):
    model.eval()  # and never put back
    with torch.no_grad():
        return ((model(X) - X) ** 2).mean(dim=1).numpy()
'''

DETACHED_REPARAMETERIZE = '''\
def reparameterize(mu, logvar, eps):
    return (mu + torch.exp(0.5 * logvar) * eps).detach()
'''


def _answered(replacements: dict[str, str]) -> nbformat.NotebookNode:
    from coursekit.instructor.course import answered_notebook

    nb = answered_notebook(ROOT, STEM)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell.source = replacements[grade_id]
    return nb


def _outputs(nb: nbformat.NotebookNode, grade_id: str) -> str:
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(o.get("text", "") + o.get("evalue", "") + "\n".join(o.get("traceback", []))
                     for o in cell.outputs)


@pytest.mark.slow
def test_object_passing_answers_are_graded_through_the_sandbox():
    """The probes run next to the student's objects: a correct anomaly_scores and vae_loss get
    their points; a reparameterize whose result is detached, and an anomaly_scores that leaves the
    model in eval mode, fail with their hints, although their values are right."""
    from conftest import require_sandbox

    from coursekit.instructor.sandbox import grade_submission

    require_sandbox()
    nb = _answered({"reparameterize": DETACHED_REPARAMETERIZE, "anomaly_scores": WRONG_ANOMALY})
    rows, executed = grade_submission(ROOT / "solutions" / f"{STEM}.ipynb", nb, student="probe",
                                      cell_timeout=120)
    status = {r.cell: r.status for r in rows}
    assert status["vae_loss_test"] == "passed", status
    assert status["reparameterize_test"] != "passed" and status["anomaly_scores_test"] != "passed"
    reparameterize_out = _outputs(executed, "reparameterize_test")
    assert "cut off from the autograd graph" in reparameterize_out, reparameterize_out
    anomaly_out = _outputs(executed, "anomaly_scores_test")
    assert "leaves it in train mode" in anomaly_out, anomaly_out
    assert "put the model back in the mode you found it in" in anomaly_out, anomaly_out


# --- the probes' answers are data, and the checks say what failed ------------------------------
def test_a_forgotten_eval_is_named_even_where_dropout_cannot_change_the_values():
    message = assert_fails_with(checks.check_anomaly_scores, _scores_no_eval, "call model.eval()")
    assert "by hand" not in message.splitlines()[0]  # the mode sub-check, not the values
    assert "reconstructs in evaluation mode" in message.splitlines()[0]


def test_a_probe_answer_that_is_not_its_dict_fails_readably(monkeypatch):
    monkeypatch.setattr(checks, "probe_anomaly_scores", lambda *a, **k: "all good")
    message = assert_fails_with(checks.check_anomaly_scores, anomaly_scores,
                                "do not replace or patch coursekit's functions")
    assert "the probe of your function answered" in message


def test_anomaly_probe_for_hidden_tests_runs_here_without_a_sandbox():
    weights = (torch.zeros(2, 3), torch.zeros(2), torch.zeros(3, 2), torch.tensor([1.0, 0.0, 0.0]))
    facts = checks.anomaly_probe(anomaly_scores, weights, torch.tensor([[1.0, 1.0, 1.0]]))
    assert np.allclose(facts["scores"], [2 / 3])
    assert facts["forward"] == [[False, False]] and all(facts["after"])

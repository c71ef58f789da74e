"""Checks for notebook 10 Autoencoders: the reparameterisation trick, the VAE loss, anomaly scores.

References are computed at check time in float64 (PyTorch's BCE with logits, the closed-form KL,
``torch.autograd``); torch is imported on the first check. When grading, a tensor crosses the
sandbox's channel as a copy without its graph and a model cannot cross at all, so the gradients
of a result and what ``anomaly_scores`` does to the model it is given are found out by probes
(``probe_*``) where the student's code runs; the checks compare their data with own references.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks import torchref
from coursekit.checks.core import Checker, Tolerance, check
from coursekit.checks.exercise import Exercise, Run, rounded
from coursekit.checks.probe import in_student_process

__all__ = ["check_reparameterize", "check_vae_loss", "check_anomaly_scores"]

LN2 = math.log(2.0)


_t = torchref.torch  # the torch module, imported on first use
_tensor = torchref.tensor  # a float64 tensor from an array or nested list


# -- reparameterize -----------------------------------------------------------------------------
def _reparameterize(mu, logvar, eps):
    with _t().no_grad():
        return mu + _t().exp(0.5 * logvar) * eps


STD_HINT = "std = exp(0.5 * logvar): logvar is the log of the variance, so halve it before exp"
CUT_OFF = ("z is cut off from the autograd graph: build it from mu and logvar with torch "
           "operations only (no .detach(), .item(), .numpy(), torch.tensor(...) or "
           "torch.no_grad() on the way), so that the encoder can learn through the sample")

REPARAMETERIZE = Exercise(
    "reparameterize", signature="reparameterize(mu, logvar, eps)", reference=_reparameterize,
    hint="z = mu + exp(0.5 * logvar) * eps, with the eps you are given (do not draw your own "
         "noise: the randomness comes in through eps)",
    hints={"": "return a torch tensor of mu's shape: z must stay in the autograd graph"},
    wrong=[(lambda mu, lv, eps: mu + _t().exp(lv) * eps, STD_HINT),
           (lambda mu, lv, eps: mu + lv * eps, STD_HINT),
           (lambda mu, lv, eps: mu + _t().exp(-0.5 * lv) * eps,
            "sign error: std = exp(+0.5 * logvar); exp(-0.5 * logvar) is 1 / std"),
           (lambda mu, lv, eps: _t().exp(0.5 * lv) * eps, "add the mean: z = mu + std * eps"),
           (lambda mu, lv, eps: mu * _t().exp(0.5 * lv) + eps,
            "scale the noise, not the mean: z = mu + std * eps"),
           (lambda mu, lv, eps: mu + _t().exp(0.5 * lv) * eps.abs(),
            "use eps as given: it is standard normal noise, negative half of the time")],
)


def probe_reparameterize(reparameterize: Callable, mu, logvar, eps, grad_out) -> dict:
    """Backpropagate ``grad_out`` through ``reparameterize`` on leaves: whether its result is in
    the graph, and the gradients that reached mu and logvar (None where none did)."""
    torch = _t()
    mu, logvar = mu.detach().clone().requires_grad_(True), logvar.detach().clone().requires_grad_(True)
    z = reparameterize(mu, logvar, eps)
    tracked = isinstance(z, torch.Tensor) and z.requires_grad and z.shape == grad_out.shape
    if tracked:
        z.backward(grad_out.to(z.dtype))
    dtype = z.dtype if isinstance(z, torch.Tensor) else torch.float64
    grads = [None if g is None else g.detach().to(dtype) for g in (mu.grad, logvar.grad)]
    return {"tracked": bool(tracked), "mu": grads[0], "logvar": grads[1]}


def _reparameterize_grads(mu, logvar, eps, grad_out) -> tuple:
    _, grads = torchref.value_and_grads(lambda m, lv: m + _t().exp(0.5 * lv) * _tensor(eps),
                                        mu, logvar, grad_output=grad_out)
    return tuple(_tensor(g) for g in grads)


@check("reparameterize")
def check_reparameterize(t: Checker, reparameterize: Callable) -> None:
    run = Run(t, REPARAMETERIZE, reparameterize)
    # std = exp(0.5 * logvar) = [1, 2], so z = [0 + 1 * 1, 1 + 2 * (-1)]
    run.case("by hand: mu=[0, 1], logvar=[0, 2 ln 2], eps=[1, -1] gives z=[1, -1]",
             _tensor([[0.0, 1.0]]), _tensor([[0.0, 2 * LN2]]), _tensor([[1.0, -1.0]]),
             expected=[[1.0, -1.0]])
    for b, z in ((8, 2), (16, 8)):
        run.case(f"matches mu + exp(0.5 logvar) * eps (B={b}, Z={z})",
                 *(_tensor(t.rng.normal(size=(b, z))) for _ in range(3)))
    run.case("eps = 0 gives z = mu exactly", *(_tensor(t.rng.normal(size=(4, 3))) for _ in range(2)),
             _tensor(np.zeros((4, 3))),
             hint="with eps = 0 the sample is the mean: use the eps you are given, do not draw "
                  "your own (torch.randn_like) inside the function")
    run.case("batch of one, large and small variances", _tensor(t.rng.normal(size=(1, 5))),
             _tensor([[-8.0, -2.0, 0.0, 3.0, 6.0]]), _tensor(t.rng.normal(size=(1, 5))))

    # Gradients, where the student's function runs (a returned tensor crosses without its graph).
    mu, logvar, eps, g = (t.rng.normal(size=(6, 3)) for _ in range(4))
    facts = t.probe(probe_reparameterize, reparameterize, _tensor(mu), _tensor(logvar),
                    _tensor(eps), _tensor(g), signature=REPARAMETERIZE.signature)
    _gradients(t, facts, ("mu", "logvar"), _reparameterize_grads(mu, logvar, eps, g),
               lambda dtype: _reparameterize_grads(*rounded((mu, logvar, eps, g), dtype)),
               result="z", untracked=CUT_OFF,
               hint={"mu.grad": "dz/dmu = 1: add mu itself, unscaled",
                     "logvar.grad": "dz/dlogvar = 0.5 * exp(0.5 * logvar) * eps: compute the "
                                    "std from logvar inside the graph"})


# -- vae_loss -----------------------------------------------------------------------------------
def _bce(x_logits, x):
    return _t().nn.functional.binary_cross_entropy_with_logits(x_logits, x, reduction="none")


def _kl(mu, logvar):
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp())  # (B, Z): per latent dimension


def _vae_loss(x_logits, x, mu, logvar, beta=1.0):
    with _t().no_grad():
        return _vae_wrong()(x_logits, x, mu, logvar, beta)


def _vae_wrong(rec: Callable = lambda xl, x: _bce(xl, x).sum(-1),
               kl: Callable = lambda mu, lv: _kl(mu, lv).sum(-1),
               total: Callable = lambda r, k, beta: r + beta * k) -> Callable:
    """The VAE loss from per-example terms (B,) averaged over the batch; a known mistake swaps
    one part."""
    def loss(xl, x, mu, lv, beta=1.0):
        r, k = rec(xl, x).mean(), kl(mu, lv).mean()
        return (total(r, k, beta), r, k)
    return loss


KL_SIGN = ("sign error in the KL term: kl = -0.5 * sum(1 + logvar - mu**2 - exp(logvar)), "
           "which is never negative")
WITH_LOGITS = ("x_logits are logits (any real number), not probabilities: use "
               "F.binary_cross_entropy_with_logits(x_logits, x, reduction='none') on them "
               "directly, with no sigmoid first")
STABLE = ("for large logits sigmoid rounds to exactly 0 or 1 and log(0) breaks the loss: use "
          "F.binary_cross_entropy_with_logits, which is computed stably from the logits")
PER_EXAMPLE = ("each term is a sum over an example's features (or latent dimensions), then a "
               "mean over the batch: .sum(dim=1).mean()")

VAE_LOSS = Exercise(
    "vae_loss", signature="vae_loss(x_logits, x, mu, logvar, beta=1.0)", reference=_vae_loss,
    returns=("total", "reconstruction", "kl"),
    hint="reconstruction = BCE with logits summed over the features, kl = -0.5 * sum over the "
         "latent dims of (1 + logvar - mu**2 - exp(logvar)), each averaged over the batch; "
         "total = reconstruction + beta * kl",
    hints={"": "return the three scalar tensors (total, reconstruction, kl)",
           **dict.fromkeys(("total", "reconstruction", "kl"),
                           "return the three scalar tensors (total, reconstruction, kl), not "
                           "Python numbers: no .item() or float(), so that total.backward() "
                           "works"),
           ".shape": "each part is one number, a 0-d tensor: sum over features, then .mean() "
                     "over the batch"},
    unstable_hint=STABLE,
    error_hints=[("between 0 and 1", WITH_LOGITS)],
    wrong=[(_vae_wrong(kl=lambda mu, lv: -_kl(mu, lv).sum(-1)), KL_SIGN),
           (_vae_wrong(kl=lambda mu, lv: _kl(mu, lv).mean(-1)),
            "sum the KL over the latent dimensions (each is one independent Gaussian), then "
            "average over the batch; you averaged over the latent dimensions"),
           (_vae_wrong(kl=lambda mu, lv: (-0.5 * (lv - mu ** 2 - lv.exp())).sum(-1)),
            "the KL term has a 1 inside: -0.5 * (1 + logvar - mu**2 - exp(logvar))"),
           (_vae_wrong(rec=lambda xl, x: _bce(_t().sigmoid(xl), x).sum(-1)), WITH_LOGITS),
           (_vae_wrong(rec=lambda xl, x: _t().nn.functional.binary_cross_entropy(
               xl, x, reduction="none").sum(-1)), WITH_LOGITS),
           (_vae_wrong(rec=lambda xl, x: _bce(xl, x).mean(-1)),
            "sum the reconstruction loss over the features of each example, do not average "
            "it: averaging divides it by D and lets the KL term dominate"),
           (_vae_wrong(rec=lambda xl, x: ((_t().sigmoid(xl) - x) ** 2).sum(-1)),
            "the reconstruction term is binary cross-entropy with logits, not squared error"),
           (_vae_wrong(rec=lambda xl, x: _t().nn.functional.binary_cross_entropy(
               _t().sigmoid(xl), x, reduction="none").sum(-1)), STABLE),  # log clamped at -100
           (_vae_wrong(total=lambda r, k, beta: beta * r + k),
            "beta weighs the KL term only: total = reconstruction + beta * kl"),
           (_vae_wrong(total=lambda r, k, beta: r + k),
            "use the `beta` argument: total = reconstruction + beta * kl"),
           (lambda xl, x, *rest, **kw: tuple(p * len(x) for p in _vae_loss(xl, x, *rest, **kw)),
            "average over the batch, do not sum: the loss must not grow with the batch size"),
           (lambda xl, x, mu, lv, beta=1.0: (
               _bce(xl, x).sum(-1) + beta * _kl(mu, lv).sum(-1), _bce(xl, x).sum(-1),
               _kl(mu, lv).sum(-1)), PER_EXAMPLE)],
)


def probe_vae_loss(vae_loss: Callable, x_logits, x, mu, logvar, beta) -> dict:
    """Backpropagate ``vae_loss``'s total on leaves: whether it is in the graph, and the
    gradients that reached x_logits, mu and logvar."""
    torch = _t()
    leaves = [a.detach().clone().requires_grad_(True) for a in (x_logits, mu, logvar)]
    out = vae_loss(leaves[0], x, leaves[1], leaves[2], beta=beta)
    total = out[0] if isinstance(out, tuple | list) and len(out) == 3 else None
    tracked = isinstance(total, torch.Tensor) and total.requires_grad and total.numel() == 1
    if tracked:
        total.reshape(()).backward()
    dtype = total.dtype if isinstance(total, torch.Tensor) else torch.float64
    grads = [None if a.grad is None else a.grad.detach().to(dtype) for a in leaves]
    return {"tracked": bool(tracked), "x_logits": grads[0], "mu": grads[1], "logvar": grads[2]}


def _vae_loss_grads(x_logits, x, mu, logvar, beta) -> tuple:
    _, grads = torchref.value_and_grads(lambda xl, m, lv: _vae_wrong()(xl, _tensor(x), m, lv, beta)[0],
                                        x_logits, mu, logvar)
    return tuple(_tensor(g) for g in grads)


@check("vae_loss")
def check_vae_loss(t: Checker, vae_loss: Callable) -> None:
    run = Run(t, VAE_LOSS, vae_loss)
    # logits 0 give BCE ln 2 per feature whatever x is; KL of N(1, 1) from N(0, 1) is 1/2
    run.case("by hand: 4 logits of 0 and mu=[1, 0], logvar=[0, 0]: reconstruction 4 ln 2, "
             "kl 0.5", _tensor(np.zeros((1, 4))), _tensor([[1.0, 0.0, 1.0, 0.0]]),
             _tensor([[1.0, 0.0]]), _tensor([[0.0, 0.0]]),
             expected=(4 * LN2 + 0.5, 4 * LN2, 0.5))

    def inputs(b: int, d: int, z: int, scale: float = 2.0) -> tuple:
        return (_tensor(scale * t.rng.normal(size=(b, d))), _tensor(t.rng.uniform(size=(b, d))),
                _tensor(t.rng.normal(size=(b, z))), _tensor(0.7 * t.rng.normal(size=(b, z))))

    run.case("matches the reference (B=8, D=16, Z=3)", *inputs(8, 16, 3))
    run.case("beta = 0.25 weighs the KL term", *inputs(8, 16, 3), beta=0.25)
    run.case("beta = 4 (B=5, D=64, Z=2)", *inputs(5, 64, 2), beta=4.0)
    run.case("batch of one", *inputs(1, 10, 4), beta=0.5)
    xl = _tensor(40.0 * np.sign(t.rng.normal(size=(6, 8))))
    x = _tensor((t.rng.uniform(size=(6, 8)) < 0.5).astype(float))
    run.case("large logits (±40) stay finite and exact", xl, x, *inputs(6, 8, 2)[2:])

    # Gradients of the total, where the student's function runs.
    (xl, x, mu, lv), beta = inputs(5, 12, 3), 0.5
    facts = t.probe(probe_vae_loss, vae_loss, xl, x, mu, lv, beta,
                    signature=VAE_LOSS.signature, error_hints=tuple(VAE_LOSS.error_hints))
    _gradients(t, facts, ("x_logits", "mu", "logvar"), _vae_loss_grads(xl, x, mu, lv, beta),
               lambda dtype: _vae_loss_grads(*rounded((xl, x, mu, lv), dtype), beta),
               result="total", untracked="total is what training calls .backward() on: compute "
               "it with torch operations only (no .item(), float(), .detach() or torch.tensor(...))",
               hint="the gradients follow from the values: check the total with beta = 0.5")


# -- anomaly_scores -----------------------------------------------------------------------------
def _anomaly_model(weights):
    """Linear, Tanh, Dropout(0.5) (a forgotten model.eval() shows), Linear, with ``weights`` =
    (W1 (H, D), b1 (H,), W2 (D, H), b2 (D,)) as nn.Linear stores them."""
    nn, (hidden, d) = _t().nn, weights[0].shape
    model = nn.Sequential(nn.Linear(d, hidden), nn.Tanh(), nn.Dropout(0.5), nn.Linear(hidden, d))
    with _t().no_grad():
        for param, value in zip(model.parameters(), weights, strict=True):
            param.copy_(value)
    return model.to(weights[0].dtype)


def probe_anomaly_scores(anomaly_scores: Callable, weights, X, training: bool) -> dict:
    """``anomaly_scores(model, X)`` on the check's model in train or eval mode: the scores, for
    each pass through the dropout layer [in train mode?, autograd recording?] (``forward``), and
    every module's mode afterwards (``after``)."""
    torch = _t()
    model = _anomaly_model(weights)
    model.train(bool(training))
    forward: list[list[bool]] = []

    def record(module, inputs, output):
        forward.append([bool(module.training), bool(torch.is_grad_enabled())])

    hooks = [m.register_forward_hook(record) for m in model.modules()
             if isinstance(m, torch.nn.Dropout)]
    scores = anomaly_scores(model, X)
    for hook in hooks:
        hook.remove()
    return {"scores": scores, "forward": forward,
            "after": [bool(m.training) for m in model.modules()]}


def anomaly_probe(anomaly_scores: Callable, weights, X, training: bool = True) -> dict:
    """For hidden tests: :func:`probe_anomaly_scores` run where ``anomaly_scores`` lives (the
    grading sandbox, or here). ``weights``: (W1 (H, D), b1 (H,), W2 (D, H), b2 (D,)) float32
    tensors; ``X``: (N, D) float32 tensor."""
    return in_student_process(probe_anomaly_scores, anomaly_scores, weights, X, training)


def _scores(model, X, err: Callable = lambda r, x: (r - x) ** 2, reduce: str = "mean"):
    with _t().no_grad():
        e = err(model(X), X)
        return getattr(e, reduce)(dim=1).numpy().astype(np.float64)


EVAL_HINT = ("call model.eval() before reconstructing: in train mode dropout zeroes random "
             "units, so the scores change from call to call")
NO_GRAD_HINT = ("reconstruct inside `with torch.no_grad():`: scoring needs no gradients, and "
                "recording the graph costs memory and time")
RESTORE_HINT = ("put the model back in the mode you found it in: was_training = model.training "
                "first, model.train(was_training) at the end")
FORCED_TRAIN = ("the model came in eval mode and left in train mode: restore the mode you found "
                "(model.train(was_training)) instead of calling model.train()")
# the scores are computed by a float32 model, whatever dtype they are returned in
SCORE_TOL = Tolerance(rtol=1e-5, atol=1e-6)


def _anomaly_case(t: Checker, fn: Callable, label: str, weights: tuple, X, *, training: bool,
                  expected: list[float] | None = None) -> None:
    mode = "train" if training else "eval"
    facts = t.probe(probe_anomaly_scores, fn, weights, X.clone(), training,
                    signature="anomaly_scores(model, X)",
                    error_hints=(("requires grad", NO_GRAD_HINT),))
    _facts_are(t, facts, ("scores", "forward", "after"))
    model = _anomaly_model(weights).eval()
    ref32 = _scores(model, X)
    model64 = _anomaly_model(tuple(w.double() for w in weights)).eval()
    reference = _scores(model64, X.double()) if expected is None else np.asarray(expected)
    n, d = X.shape

    def wrong() -> list:
        return [(np.zeros(()), "one score per example: average over the features only "
                               "(dim=1), not over the batch"),
                (np.zeros((n, d)), "average the squared errors over the features: "
                                   "((reconstruction - X) ** 2).mean(dim=1)"),
                (np.zeros((d,)), "average over the features (dim=1), not over the examples "
                                 "(dim=0): one score per example"),
                *((np.zeros(shape), "return a 1-D array of N scores (no extra axis)")
                  for shape in ((1, n), (n, 1))),
                (_scores(model64, X.double(), reduce="sum"),
                 "average over the features (mean), do not sum them"),
                (_scores(model64, X.double(), err=lambda r, x: (r - x).abs()),
                 "square the errors: (reconstruction - X) ** 2, not their absolute value"),
                (np.sqrt(reference), "the mean squared error, without a square root")]

    t.true(f"model found in {mode} mode: your function calls the model", len(facts["forward"]) > 0,
           detail="the model's forward pass never ran", hint="reconstruct X with the model: model(X)")
    scores = t.conform(f"model found in {mode} mode: returns an array of shape ({n},)",
                       facts["scores"], reference,
                       hints={"": "return a NumPy array with one score per example: "
                                  "errors.mean(dim=1).cpu().numpy()"},
                       wrong=wrong)
    t.true(f"model found in {mode} mode: reconstructs in evaluation mode",
           not any(was_training for was_training, _ in facts["forward"]),
           detail="dropout was active (train mode) while your function ran the model",
           hint=EVAL_HINT)
    t.close(f"model found in {mode} mode: {label}", scores, reference, tol=SCORE_TOL,
            wrong=wrong, at_precision=lambda dtype: ref32,
            hint="score = mean over the D features of (model(X) - X) ** 2, one per example")
    t.true(f"model found in {mode} mode: computes without gradients",
           not any(grad for _, grad in facts["forward"]),
           detail="autograd was recording while your function ran the model", hint=NO_GRAD_HINT)
    t.true(f"model found in {mode} mode: leaves it in {mode} mode", all(
        after == training for after in facts["after"]),
        detail=f"the model was in {mode} mode before your function and in "
               f"{'eval' if training else 'train'} mode after it",
        hint=RESTORE_HINT if training else FORCED_TRAIN)


def _random_weights(t: Checker, d: int, hidden: int) -> tuple:
    shapes = (((hidden, d), 1 / math.sqrt(d)), ((hidden,), 0.1), ((d, hidden), 1 / math.sqrt(hidden)),
              ((d,), 0.1))
    return tuple(_t().tensor(s * t.rng.normal(size=shape), dtype=_t().float32) for shape, s in shapes)


@check("anomaly_scores")
def check_anomaly_scores(t: Checker, anomaly_scores: Callable) -> None:
    torch = _t()
    zero = (torch.zeros(3, 4), torch.zeros(3), torch.zeros(4, 3), torch.zeros(4))
    # a model that outputs zeros: each score is the mean of x ** 2 over the features
    _anomaly_case(t, anomaly_scores, "by hand: a model that outputs 0 scores [[1,1,1,1], "
                  "[2,2,0,0]] as [1, 2]", zero,
                  torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 0.0, 0.0]]), training=True,
                  expected=[1.0, 2.0])
    for training in (True, False):
        weights = _random_weights(t, 16, 6)
        X = torch.tensor(t.rng.uniform(size=(12, 16)), dtype=torch.float32)
        _anomaly_case(t, anomaly_scores, "matches the mean squared reconstruction error (N=12, "
                      "D=16)", weights, X, training=training)
    weights = _random_weights(t, 8, 3)
    _anomaly_case(t, anomaly_scores, "batch of one", weights,
                  torch.tensor(t.rng.uniform(size=(1, 8)), dtype=torch.float32), training=True)


# -- shared ---------------------------------------------------------------------------------------
def _gradients(t: Checker, facts: Any, inputs: tuple[str, ...], expected: tuple, at_precision,
               *, result: str, untracked: str, hint: str | dict[str, str]) -> None:
    """Sub-checks on a gradient probe's answer: the result is in the graph, a gradient reached
    every input, and each equals torch.autograd's in float64 (judged at the answer's precision)."""
    _facts_are(t, facts, ("tracked", *inputs))
    t.true(f"{result} is in the autograd graph ({result}.requires_grad)", facts["tracked"] is True,
           detail=f"{', '.join(inputs)} required grad, but the {result} you returned does not",
           hint=untracked)
    for name in inputs:
        t.true(f"gradients reach {name}", facts[name] is not None,
               detail=f"after {result}.backward(), {name}.grad is None",
               hint=f"{result} must depend on {name} through torch operations")
    names = tuple(f"{name}.grad" for name in inputs)
    got = t.conform("gradients: one tensor per input", tuple(facts[n] for n in inputs), expected,
                    names=names)
    t.close(f"d {result} / d inputs match torch.autograd (float64)", got, expected, names=names,
            at_precision=at_precision, hint=hint)


def _facts_are(t: Checker, facts: Any, keys: tuple[str, ...]) -> None:
    """A probe's answer has its keys (it is data from the student's process: never assumed)."""
    t.true("the probe of your function answered", isinstance(facts, dict) and set(facts) == set(keys),
           detail=f"expected a dict with {list(keys)}, got {type(facts).__name__}",
           hint="do not replace or patch coursekit's functions in your notebook")

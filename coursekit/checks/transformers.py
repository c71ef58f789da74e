"""Checks for notebook 11 Transformers (PyTorch tensors in, tensors out).

References are PyTorch's own, in float64, computed at check time: attention's output from
``F.scaled_dot_product_attention``, its weights softmax(q k^T / sqrt(d)) with the mask; a
multi-head module against ``torch.nn.MultiheadAttention`` holding the same weights (``in_proj``
from ``qkv``, ``out_proj`` from ``proj``). A float32 answer is judged at float32 precision.

``MultiHeadAttention`` is a class, a proxy when grading: the check constructs it, calls
``.double()`` and ``load_state_dict`` (a plain dict of tensors) and calls it, all as data across
the channel; listing its parameters and backpropagating through it (or through attention) are
the core's probes. PyTorch is imported on the first check, not with this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from coursekit.checks import torchref
from coursekit.checks.core import Checker, check, summarize
from coursekit.checks.exercise import Exercise, Run
from coursekit.checks.modules import probe_module_gradients, probe_module_parameters
from coursekit.checks.probe import probe_input_gradients

__all__ = ["check_scaled_dot_product_attention", "check_causal_mask",
           "check_positional_encoding", "check_multi_head_attention"]


_f64 = torchref.as_float64  # a tensor keeps its graph; an array or nested list becomes a tensor


def _randn(t: Checker, *shape: int, scale: float = 1.0, dtype: str = "float64"):
    torch = torchref.torch()
    return torch.tensor(scale * t.rng.normal(size=shape), dtype=getattr(torch, dtype))


# -- scaled dot-product attention ---------------------------------------------------------------
def _ref_attention(q, k, v, mask=None):
    """(out, weights): out from torch's fused function, weights from their definition."""
    q, k, v = (_f64(a) for a in (q, k, v))
    out = torchref.functional().scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    return out, scores.softmax(dim=-1)


def _attention(q, k, v, mask=None, *, divide=math.sqrt, dim=-1, fill=-math.inf, after=False,
               invert=False, swap=False):
    """Attention with one mistake switched on by a keyword (for the known mistakes)."""
    q, k, v = (_f64(a) for a in (q, k, v))
    scores = q @ k.transpose(-2, -1) / divide(q.shape[-1])
    allowed = None if mask is None else (~mask if invert else mask)
    if allowed is not None and not after:
        scores = scores.masked_fill(~allowed, fill)
    weights = scores.softmax(dim=dim)
    if allowed is not None and after:
        weights = weights * allowed
    return (weights, weights @ v) if swap else (weights @ v, weights)


MASK_FIRST = ("apply the mask to the scores before the softmax (masked_fill(~mask, -inf)): "
              "zeroing weights afterwards leaves rows that no longer sum to 1")
SHAPES_FIT = ("shapes do not fit: transpose only the last two axes of k, k.transpose(-2, -1) "
              "(k.T and k.transpose(1, 2) assume fewer axes), and let the mask broadcast "
              "against the scores (..., Tq, Tk)")
ATTENTION = Exercise(
    "scaled_dot_product_attention", signature="scaled_dot_product_attention(q, k, v, mask=None)",
    reference=_ref_attention, returns=("out", "weights"),
    hint={"weights": "weights = softmax(q @ k.transpose(-2, -1) / sqrt(d)) over the last axis "
                     "(the keys), with masked scores set to -inf first",
          "out": "out = weights @ v"},
    hints={"": "return a tuple (out, weights) of tensors",
           "out.shape": "out is (..., Tq, dv): weights (..., Tq, Tk) @ v (..., Tk, dv)",
           "weights.shape": "weights is (..., Tq, Tk): one row per query, one column per key"},
    unstable_hint="use torch.softmax (it subtracts the max): exp of large scores overflows",
    error_hints=[("must match the size", SHAPES_FIT), ("cannot be multiplied", SHAPES_FIT),
                 ("batch2", SHAPES_FIT), ("Dimension out of range", SHAPES_FIT)],
    wrong=[(lambda q, k, v, m=None: _attention(q, k, v, m, divide=lambda d: 1.0),
            "divide the scores by sqrt(d): without it they grow with d and the softmax saturates"),
           (lambda q, k, v, m=None: _attention(q, k, v, m, divide=float),
            "divide by sqrt(d), not by d"),
           (lambda q, k, v, m=None: _attention(q, k, v, m, dim=-2),
            "softmax over the keys, the last axis (dim=-1): each query's weights sum to 1"),
           (lambda q, k, v, m=None: _attention(q, k, v, m, swap=True),
            "return (out, weights), in that order")],
)
MASK_MISTAKES = [
    (lambda q, k, v, m=None: _attention(q, k, v, m, invert=True),
     "True in the mask marks where attention is allowed: fill the scores where it is False, "
     "scores.masked_fill(~mask, float('-inf'))"),
    (lambda q, k, v, m=None: _attention(q, k, v, m, fill=0.0),
     "fill masked scores with float('-inf'), not 0: exp(0) = 1 still gives them weight"),
    (lambda q, k, v, m=None: _attention(q, k, v, m, after=True), MASK_FIRST),
    (lambda q, k, v, m=None: _attention(q, k, v), "use the mask: masked_fill(~mask, -inf) on the "
                                                  "scores before the softmax"),
]


CUT = ("gradients must reach the inputs: use torch operations only, no .detach(), .numpy(), "
       ".item(), torch.no_grad() or torch.tensor(...) of intermediate results")


@check("scaled_dot_product_attention")
def check_scaled_dot_product_attention(t: Checker, scaled_dot_product_attention: Callable) -> None:
    run, torch = Run(t, ATTENTION, scaled_dot_product_attention), torchref.torch()
    ln3 = math.log(3.0)
    # scores = q . k / sqrt(4) = [ln 3, 0]; softmax gives [3/4, 1/4]
    run.case("by hand: q = [2 ln 3, 0, 0, 0], keys e1 and 0, d = 4: scores [ln 3, 0], weights "
             "[3/4, 1/4], out = 3/4 [4, 0] + 1/4 [0, 4] = [3, 1]",
             torchref.tensor([[2 * ln3, 0.0, 0.0, 0.0]]),
             torchref.tensor([[1.0, 0.0, 0.0, 0.0], [0.0] * 4]),
             torchref.tensor([[4.0, 0.0], [0.0, 4.0]]), expected=([[3.0, 1.0]], [[0.75, 0.25]]))
    run.case("random q, k, v (B=2, T=5, d=8)", _randn(t, 2, 5, 8), _randn(t, 2, 5, 8),
             _randn(t, 2, 5, 8))
    run.case("batched heads (B=2, H=3, T=6, d=4)", _randn(t, 2, 3, 6, 4), _randn(t, 2, 3, 6, 4),
             _randn(t, 2, 3, 6, 4))
    run.case("Tq=4 queries, Tk=7 keys, values of dv=5", _randn(t, 3, 4, 8), _randn(t, 3, 7, 8),
             _randn(t, 3, 7, 5))
    T = 6
    causal = _causal(T)
    qkv = [_randn(t, 2, 3, T, 4) for _ in range(3)]
    run.case("a causal (T, T) mask, broadcast over batch and heads", *qkv, causal,
             wrong=MASK_MISTAKES)
    lengths = [7, 4, 2]  # keys at positions >= length are padding
    padding = (torch.arange(7)[None, :] < torch.tensor(lengths)[:, None])[:, None, None, :]
    run.case("a padding mask (B, 1, 1, Tk): padded keys get no weight", _randn(t, 3, 2, 5, 4),
             _randn(t, 3, 2, 7, 4), _randn(t, 3, 2, 7, 4), padding, wrong=MASK_MISTAKES)
    run.case("float32 inputs (what a model trains in)", _randn(t, 2, 5, 8, dtype="float32"),
             _randn(t, 2, 5, 8, dtype="float32"), _randn(t, 2, 5, 8, dtype="float32"), causal[:5, :5],
             wrong=MASK_MISTAKES)
    # each query points along one key's axis: its score is near 900, the others near 0, so
    # exp overflows unless the max is subtracted (and the weights are one-hot at any precision)
    axes = 50 * torch.eye(8, dtype=torch.float64)[:5]                    # (5, d)
    run.case("large scores (one key per query scores about 900): the softmax stays finite",
             axes[t.rng.permutation(5)] + _randn(t, 2, 5, 8), axes + _randn(t, 2, 5, 8),
             _randn(t, 2, 5, 8))
    run.case("one query, one key", _randn(t, 1, 1, 3), _randn(t, 1, 1, 3), _randn(t, 1, 1, 2))
    grad_out = _randn(t, 2, 3, T, 4)
    got = t.probe(probe_input_gradients, scaled_dot_product_attention, *qkv, causal,
                  grad_out=grad_out, signature=ATTENTION.signature)
    t.true("gradients flow back to q, k and v", got is not None,
           detail="the `out` you returned does not require grad", hint=CUT)
    expected = torchref.tensor_grads(lambda q, k, v: _ref_attention(q, k, v, causal)[0], *qkv,
                                     grad_output=grad_out)
    got = t.conform("gradients flow back to q, k and v: dq, dk, dv", got, expected)
    t.close("gradients flow back to q, k and v: dq, dk, dv", got, expected, hint=CUT)


# -- causal mask --------------------------------------------------------------------------------
def _causal(T, side="tril", diagonal=0):
    """torch.tril (or ``side``) of a (T, T) boolean tensor of True: the mask, and its mistakes."""
    torch = torchref.torch()
    return getattr(torch, side)(torch.ones(T, T, dtype=torch.bool), diagonal=diagonal)


CAUSAL_MASK = Exercise(
    "causal_mask", signature="causal_mask(T)", reference=_causal,
    hint="row t (a query) may see columns 0..t: torch.tril(torch.ones(T, T, dtype=torch.bool))",
    hints={"": "return a (T, T) torch tensor of booleans",
           ".shape": "the mask is (T, T): one row per query, one column per key"},
    wrong=[(lambda T: _causal(T, "triu"),
            "True goes on and *below* the diagonal (keys at or before the query): torch.tril, "
            "not torch.triu"),
           (lambda T: _causal(T, diagonal=-1),
            "a token may attend to itself: include the diagonal (tril with diagonal=0)"),
           (lambda T: _causal(T, "triu", diagonal=1),
            "True marks what a query may see (the past and itself), not what is blocked: "
            "torch.tril(...), not its complement"),
           (lambda T: _causal(T, diagonal=T),  # all True
            "block the future: keys after the query (above the diagonal) must be False")],
)


@check("causal_mask")
def check_causal_mask(t: Checker, causal_mask: Callable) -> None:
    run = Run(t, CAUSAL_MASK, causal_mask)
    got = run.call(4)
    dtype = getattr(got, "dtype", None)
    t.true("returns a boolean tensor", str(dtype) == "torch.bool",
           detail=f"got {summarize(got)}",
           hint="return a tensor of dtype torch.bool (True/False), e.g. torch.ones(T, T, "
                "dtype=torch.bool): a float mask cannot be inverted with ~ and is easy to misuse")
    run.case("by hand: T = 3 gives [[T, F, F], [T, T, F], [T, T, T]]", 3,
             expected=[[True, False, False], [True, True, False], [True, True, True]])
    for T in (1, 8, int(t.rng.integers(20, 70))):
        run.case(f"T = {T}", T)


# -- positional encoding ------------------------------------------------------------------------
def _pe(T, C, *, dtype="float64", sin_first=True, odd_exponent=False, halves=False, start=0,
        scale=2.0, multiply=False):
    """PE[t, 2i] = sin(t / 10000^(2i/C)), PE[t, 2i+1] = cos(...), in ``dtype``'s arithmetic;
    the keywords switch on known mistakes."""
    torch = torchref.torch()
    cast = getattr(torch, dtype)
    t = torch.arange(start, start + T, dtype=cast)[:, None]             # (T, 1)
    i = torch.arange(0, C, 2, dtype=cast) / 2                           # (C/2,) pair index
    freq = 10000.0 ** (scale * i / C)                                   # (C/2,)
    freq_odd = 10000.0 ** ((2 * i + 1) / C) if odd_exponent else freq
    first, second = (torch.sin, torch.cos) if sin_first else (torch.cos, torch.sin)
    a, b = (first(t * freq), second(t * freq_odd)) if multiply else \
        (first(t / freq), second(t / freq_odd))                         # (T, C/2) each
    out = torch.cat([a, b], dim=1) if halves else torch.stack([a, b], dim=2).reshape(T, C)
    return out.to(torch.float64)


PE_SHAPE = "the encoding is (T, C): one row per position, one column per feature"
POSITIONAL_ENCODING = Exercise(
    "positional_encoding", signature="positional_encoding(T, C)", reference=_pe,
    hint="PE[t, 2i] = sin(t / 10000^(2i/C)) and PE[t, 2i+1] = cos(t / 10000^(2i/C)), t = 0..T-1",
    hints={"": "return a (T, C) torch tensor of floats", ".shape": PE_SHAPE},
    wrong=[(lambda T, C: _pe(T, C, sin_first=False), "sin goes in the even columns 2i, cos in the "
                                                   "odd columns 2i+1"),
           (lambda T, C: _pe(T, C, odd_exponent=True),
            "columns 2i and 2i+1 share one frequency, 1 / 10000^(2i/C): the exponent of column "
            "2i+1 is 2i/C too, not (2i+1)/C"),
           (lambda T, C: _pe(T, C, scale=1.0),
            "the exponent is 2i/C, with i the pair index (column 2i): i/C stretches the "
            "wavelengths"),
           (lambda T, C: _pe(T, C, multiply=True),
            "divide the position by 10000^(2i/C), do not multiply"),
           (lambda T, C: _pe(T, C, halves=True),
            "interleave: sin in the even columns, cos in the odd ones (sin in the first half and "
            "cos in the second is another layout)"),
           (lambda T, C: _pe(T, C, start=1), "positions start at t = 0: the first row is "
                                             "[0, 1, 0, 1, ...]"),
           (lambda T, C: _pe(T, C).T, PE_SHAPE)],
)


def _pe_case(t: Checker, run: Run, label: str, T: int, C: int, expected=None) -> None:
    """One case, judged at the answer's precision: a float32 encoding differs from the exact one
    by about as much as the formula computed in float32 does (large t / frequency angles lose
    digits), which ``at_precision`` measures."""
    spec = POSITIONAL_ENCODING
    got = run.call(T, C)
    want = _pe(T, C) if expected is None else torchref.tensor(expected)

    def wrong():
        return [(mistake(T, C), hint) for mistake, hint in spec.wrong]

    got = t.conform(f"{label}: returns a tensor of shape {(T, C)}", got, want,
                    hints=dict(spec.hints), wrong=wrong)
    t.close(label, got, want, hint=spec.hint, wrong=wrong,
            at_precision=lambda dtype: _pe(T, C, dtype=dtype))


@check("positional_encoding")
def check_positional_encoding(t: Checker, positional_encoding: Callable) -> None:
    run = Run(t, POSITIONAL_ENCODING, positional_encoding)
    _pe_case(t, run, "by hand: T = 2, C = 4 gives rows [0, 1, 0, 1] and "
                     "[sin 1, cos 1, sin 0.01, cos 0.01]", 2, 4,
             expected=[[0.0, 1.0, 0.0, 1.0],
                       [math.sin(1.0), math.cos(1.0), math.sin(0.01), math.cos(0.01)]])
    for T, C in ((16, 8), (int(t.rng.integers(30, 80)), 32), (5, 2), (1, 6)):
        _pe_case(t, run, f"T = {T}, C = {C}", T, C)
    _pe_case(t, run, "long sequences: T = 512, C = 64", 512, 64)


# -- multi-head attention -----------------------------------------------------------------------
def _shapes(C: int) -> dict:
    return {"qkv.weight": (3 * C, C), "qkv.bias": (3 * C,), "proj.weight": (C, C), "proj.bias": (C,)}


TORCH_NAMES = {"qkv.weight": "in_proj_weight", "qkv.bias": "in_proj_bias",
               "proj.weight": "out_proj.weight", "proj.bias": "out_proj.bias"}


def _torch_mha(C, H, state):
    """torch.nn.MultiheadAttention(C, H, batch_first=True) in float64 holding ``state``'s
    weights, and its parameters under our names."""
    mha = torchref.module("MultiheadAttention", C, H, batch_first=True,
                          state={TORCH_NAMES[name]: value for name, value in state.items()})
    params = dict(mha.named_parameters())
    return mha, {ours: params[theirs] for ours, theirs in TORCH_NAMES.items()}


def _ref_mha(C, H, state, x, mask=None):
    x = _f64(x)
    mha, _ = _torch_mha(C, H, state)
    with torchref.torch().no_grad():
        return mha(x, x, x, attn_mask=None if mask is None else ~mask, need_weights=False)[0]


def _mha(C, H, state, x, mask=None, *, order="qkv", split=True, divide=None, proj=True,
         use_mask=True, merge=True):
    """Multi-head attention written out, with one mistake switched on by a keyword."""
    x = _f64(x)
    B, T, _ = x.shape
    d = C // H
    parts = dict(zip(order, (x @ _f64(state["qkv.weight"]).T + _f64(state["qkv.bias"])).split(C, -1)))
    if split:
        q, k, v = (parts[n].reshape(B, T, H, d).transpose(1, 2) for n in "qkv")  # (B, H, T, d)
    else:
        q, k, v = (parts[n].reshape(B, H, T, d) for n in "qkv")
    out, _ = _attention(q, k, v, mask if use_mask else None, divide=divide or math.sqrt)
    out = out.transpose(1, 2).reshape(B, T, C) if merge else out.reshape(B, T, C)
    return out @ _f64(state["proj.weight"]).T + _f64(state["proj.bias"]) if proj else out


QKV_ORDER = ("qkv(x) holds queries, keys and values in that order: q, k, v = "
             "self.qkv(x).split(C, dim=-1)")
MULTI_HEAD_ATTENTION = Exercise(
    "multi_head_attention", signature="MultiHeadAttention(C, H)(x, mask=None)",
    reference=_ref_mha,
    hint="q, k, v = qkv(x).split(C, -1); each (B, T, C) -> (B, H, T, C/H) with .view(B, T, H, "
         "C // H).transpose(1, 2); attention per head; transpose back, reshape to (B, T, C); proj",
    hints={"": "forward returns one tensor (B, T, C)",
           ".shape": "forward returns (B, T, C): transpose the heads back, "
                     "out.transpose(1, 2).reshape(B, T, C), then apply self.proj"},
    error_hints=[("is invalid for input of size", "reshape (B, T, C) into heads with "
                  ".view(B, T, H, C // H): use the input's own B, T, C and self's H")],
    wrong=[*[(lambda *a, o=o: _mha(*a, order=o), QKV_ORDER)
             for o in ("kqv", "qvk", "vkq", "kvq", "vqk")],
           (lambda *a: _mha(*a, split=False),
            "split the heads along C: (B, T, C) -> view(B, T, H, C // H) -> transpose(1, 2) "
            "gives (B, H, T, C/H); reshaping straight to (B, H, T, C/H) mixes time steps and "
            "heads"),
           (lambda *a: _mha(*a, merge=False),
            "merge the heads back with out.transpose(1, 2).reshape(B, T, C): reshaping "
            "(B, H, T, C/H) directly mixes heads and time steps"),
           (lambda *a: _mha(*a, divide=lambda d: math.sqrt(d * a[1])),
            "scale each head's scores by sqrt(C / H), its own dimension, not sqrt(C)"),
           (lambda *a: _mha(*a, proj=False), "apply the output projection self.proj to the "
                                             "merged heads"),
           (lambda *a: _mha(*a, use_mask=False), "pass the mask on to the attention of every "
                                                 "head"),
           (lambda C, H, s, x, m=None: _mha(C, 1, s, x, m),
            "split into H heads of size C // H: you computed one head over all of C")],
)


def _state(t: Checker, C: int) -> dict:
    """Random weights of a sensible scale, biases included (so that a dropped bias shows)."""
    return {name: _randn(t, *shape, scale=1 / math.sqrt(C) if "weight" in name else 0.5)
            for name, shape in _shapes(C).items()}


def _build(t: Checker, cls: type, C: int, H: int):
    """The student's module for (C, H) in float64, after checking what it is made of."""
    label = f"MultiHeadAttention({C}, {H})"
    module = t.call(cls, C, H, context=label, signature=MULTI_HEAD_ATTENTION.signature)
    facts = t.probe(probe_module_parameters, module, context=label)
    t.true(f"{label} is an nn.Module", facts["module"],
           hint="class MultiHeadAttention(nn.Module), with super().__init__() first in __init__")
    for name, shape in _shapes(C).items():
        got = facts["shapes"].get(name)
        t.true(f"{label} has {name} of shape {shape}", got == list(shape),
               detail=f"got {'no ' + name if got is None else tuple(got)}",
               hint="self.qkv = nn.Linear(C, 3 * C) and self.proj = nn.Linear(C, C), under "
                    "exactly these names")
    return t.call(module.double, context=f"{label}.double()")


@check("multi_head_attention")
def check_multi_head_attention(t: Checker, MultiHeadAttention: type) -> None:
    if not isinstance(MultiHeadAttention, type):
        if callable(MultiHeadAttention) and not hasattr(MultiHeadAttention, "state_dict"):
            # a stub function is "not attempted"; an instance is told to pass the class
            t.call(MultiHeadAttention, 8, 2, context="MultiHeadAttention(8, 2)")
        t.fail("is a class", f"got {summarize(MultiHeadAttention)}, not a class",
               hint="pass the class itself: check_multi_head_attention(MultiHeadAttention)")
    modules = {(C, H): _build(t, MultiHeadAttention, C, H)
               for C, H in ((2, 1), (8, 2), (12, 3), (16, 4), (8, 1))}

    def forward(C, H, state, x, mask=None):
        module = modules[(C, H)]
        module.load_state_dict(state, strict=False)
        return module(x) if mask is None else module(x, mask)

    run = Run(t, MULTI_HEAD_ATTENTION, forward)
    identity = torchref.tensor([[1.0, 0.0], [0.0, 1.0]])
    by_hand = {"qkv.weight": identity.repeat(3, 1), "qkv.bias": torchref.tensor([0.0] * 6),
               "proj.weight": identity, "proj.bias": torchref.tensor([0.0, 0.0])}
    run.case("by hand: identity weights, C = 2, H = 1, causal mask, x = [[1, 0], [0, 0]]: token "
             "0 sees only itself ([1, 0]); token 1's query is 0, so it averages both values: "
             "[0.5, 0]", 2, 1, by_hand, torchref.tensor([[[1.0, 0.0], [0.0, 0.0]]]),
             _causal(2), expected=[[[1.0, 0.0], [0.5, 0.0]]])
    for B, T, C, H in ((2, 5, 8, 2), (3, 7, 12, 3), (1, 6, 16, 4), (2, 4, 8, 1)):
        state, x = _state(t, C), _randn(t, B, T, C)
        run.case(f"matches torch.nn.MultiheadAttention (B={B}, T={T}, C={C}, H={H}), no mask",
                 C, H, state, x)
        run.case(f"... and with a causal mask (B={B}, T={T}, C={C}, H={H})", C, H, state, x,
                 _causal(T))
    C, H, T = 8, 2, 6
    state, x, mask = _state(t, C), _randn(t, 2, T, C), _causal(T)
    grad_out = _randn(t, 2, T, C)
    got = t.probe(probe_module_gradients, modules[(C, H)], state, x, mask, grad_out=grad_out,
                  context="backward through MultiHeadAttention(8, 2)")
    t.true("gradients reach x and every parameter", got is not None,
           detail="the output of forward does not require grad", hint=CUT)
    mha, params = _torch_mha(C, H, state)
    x64 = torchref.tensor(x, grad=True)
    out = mha(x64, x64, x64, attn_mask=~mask, need_weights=False)[0]
    grads = torchref.torch().autograd.grad(out, [x64, *params.values()], grad_out)
    expected = dict(zip(("x", *params), grads))
    got = t.conform("gradients reach x and every parameter: d/dx, d/dqkv, d/dproj", got, expected)
    t.close("gradients reach x and every parameter: d/dx, d/dqkv, d/dproj", got, expected,
            hint=CUT)

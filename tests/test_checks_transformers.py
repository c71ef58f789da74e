"""The transformer checks: correct attention, masks, encodings and modules pass (other styles,
float32, torch's own functions), classic mistakes get their hint, and a wrong
MultiHeadAttention is explained across the grading sandbox."""

from __future__ import annotations

import math
from pathlib import Path

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
from torch import nn

from coursekit.checks import transformers as checks

ROOT = Path(__file__).resolve().parents[1]


# --- scaled dot-product attention ----------------------------------------------------------
def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def attention_einsum_where(q, k, v, mask=None):
    """Another style: einsum, torch.where, a hand-written stable softmax."""
    scores = torch.einsum("...qd,...kd->...qk", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    weights = e / e.sum(dim=-1, keepdim=True)
    return torch.einsum("...qk,...kv->...qv", weights, v), weights


def attention_float32_fused(q, k, v, mask=None):
    """torch's fused function for out (in float32), the weights beside it."""
    q, k, v = q.float(), k.float(), v.float()
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out, attention(q, k, v, mask)[1]


def attention_large_negative(q, k, v, mask=None):
    """-1e9 instead of -inf for masked scores: the same weights to float64 precision."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -1e9)
    weights = scores.softmax(-1)
    return weights @ v, weights


def _att(q, k, v, mask=None, *, divide=math.sqrt, dim=-1, fill=float("-inf"), after=False,
         invert=False):
    scores = q @ k.transpose(-2, -1) / divide(q.shape[-1])
    if mask is not None and not after:
        scores = scores.masked_fill(mask if invert else ~mask, fill)
    weights = scores.softmax(dim)
    if mask is not None and after:
        weights = weights * mask
    return weights @ v, weights


def att_k_transpose_12(q, k, v, mask=None):
    """Right for 3-D inputs, breaks for batched heads."""
    scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = scores.softmax(-1)
    return w @ v, w


def att_naive_exp(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    e = torch.exp(scores)
    w = e / e.sum(-1, keepdim=True)
    return w @ v, w


def att_detached(q, k, v, mask=None):
    out, w = attention(q.detach(), k.detach(), v.detach(), mask)
    return out, w


# --- causal mask ---------------------------------------------------------------------------
def causal_mask(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))


def causal_mask_compare(T):
    """Another style: key index <= query index."""
    i = torch.arange(T)
    return i[None, :] <= i[:, None]


def causal_mask_loop(T):
    m = torch.zeros(T, T, dtype=torch.bool)
    for q in range(T):
        m[q, : q + 1] = True
    return m


# --- positional encoding -------------------------------------------------------------------
def positional_encoding(T, C):
    pos = torch.arange(T, dtype=torch.float64)[:, None]        # (T, 1)
    i = torch.arange(0, C, 2, dtype=torch.float64)             # (C/2,) the even columns 2i
    angle = pos / 10000 ** (i / C)                              # (T, C/2)
    pe = torch.zeros(T, C, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def positional_encoding_float32_exp(T, C):
    """The float32 exp-log form of many tutorials (torch's default dtype)."""
    pos = torch.arange(T).unsqueeze(1)
    div = torch.exp(torch.arange(0, C, 2) * (-math.log(10000.0) / C))
    pe = torch.zeros(T, C)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


def positional_encoding_numpy_loop(T, C):
    pe = np.zeros((T, C))
    for t in range(T):
        for i in range(C // 2):
            pe[t, 2 * i] = math.sin(t / 10000 ** (2 * i / C))
            pe[t, 2 * i + 1] = math.cos(t / 10000 ** (2 * i / C))
    return torch.from_numpy(pe)


def _pe_wrong(T, C, *, odd_exponent=False, i_over_c=False, swap=False, halves=False, start=0):
    pos = torch.arange(start, start + T, dtype=torch.float64)[:, None]
    cols = torch.arange(C, dtype=torch.float64)
    if odd_exponent:
        exponent = cols / C                          # column j uses j/C
    else:
        pair = torch.div(cols, 2, rounding_mode="floor")
        exponent = (pair if i_over_c else 2 * pair) / C
    angle = pos / 10000 ** exponent                 # (T, C)
    even = (torch.arange(C) % 2 == 0)
    if halves:
        half = pos / 10000 ** (2 * torch.arange(C // 2, dtype=torch.float64) / C)
        return torch.cat([torch.sin(half), torch.cos(half)], dim=1)
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    return torch.where(even, first(angle), second(angle))


# --- multi-head attention ------------------------------------------------------------------
class MultiHeadAttention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x, mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)
        q, k, v = (a.view(B, T, self.H, C // self.H).transpose(1, 2) for a in (q, k, v))
        out, _ = attention(q, k, v, mask)                       # (B, H, T, C/H)
        return self.proj(out.transpose(1, 2).reshape(B, T, C))


class MultiHeadAttentionLoop(nn.Module):
    """Another style: one head at a time on column slices, torch.cat of the heads."""

    def __init__(self, C, H):
        super().__init__()
        self.C, self.H = C, H
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x, mask=None):
        C, d = self.C, self.C // self.H
        qkv = self.qkv(x)
        heads = []
        for h in range(self.H):
            cols = slice(h * d, (h + 1) * d)
            q, k, v = qkv[..., :C][..., cols], qkv[..., C:2 * C][..., cols], qkv[..., 2 * C:][..., cols]
            heads.append(attention_einsum_where(q, k, v, mask)[0])
        return self.proj(torch.cat(heads, dim=-1))


class MultiHeadAttentionTorch(nn.Module):
    """torch's own functional multi-head attention on our two layers' weights."""

    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x, mask=None):
        x_t = x.transpose(0, 1)  # (T, B, C): the functional form is sequence-first
        out, _ = F.multi_head_attention_forward(
            x_t, x_t, x_t, x.shape[-1], self.H, self.qkv.weight, self.qkv.bias, None, None,
            False, 0.0, self.proj.weight, self.proj.bias, training=self.training,
            need_weights=False, attn_mask=None if mask is None else ~mask)
        return out.transpose(0, 1)


class MultiHeadAttentionFloat32(MultiHeadAttention):
    """Computes in float32 whatever .double() did (the casts stay in the autograd graph):
    judged at float32 precision."""

    def forward(self, x, mask=None):
        B, T, C = x.shape
        qkv = F.linear(x.float(), self.qkv.weight.float(), self.qkv.bias.float())
        q, k, v = (a.view(B, T, self.H, C // self.H).transpose(1, 2) for a in qkv.split(C, -1))
        out = attention(q, k, v, mask)[0].transpose(1, 2).reshape(B, T, C)
        return F.linear(out, self.proj.weight.float(), self.proj.bias.float())


class MultiHeadAttentionWithBuffer(MultiHeadAttention):
    """An extra buffer in the state dict (a causal mask kept for later) is allowed."""

    def __init__(self, C, H):
        super().__init__(C, H)
        self.register_buffer("tril", torch.tril(torch.ones(64, 64, dtype=torch.bool)))


def _mha_variant(**mistake):
    """A MultiHeadAttention with one classic mistake."""

    class Wrong(MultiHeadAttention):
        def forward(self, x, mask=None):
            B, T, C = x.shape
            H = 1 if mistake.get("one_head") else self.H
            parts = dict(zip(mistake.get("order", "qkv"), self.qkv(x).split(C, dim=-1)))
            q, k, v = parts["q"], parts["k"], parts["v"]
            if mistake.get("no_transpose"):
                q, k, v = (a.reshape(B, H, T, C // H) for a in (q, k, v))
            else:
                q, k, v = (a.view(B, T, H, C // H).transpose(1, 2) for a in (q, k, v))
            divide = (lambda d: math.sqrt(C)) if mistake.get("scale_c") else math.sqrt
            out, _ = _att(q, k, v, None if mistake.get("no_mask") else mask, divide=divide)
            if mistake.get("merge_no_transpose"):
                out = out.reshape(B, T, C)
            else:
                out = out.transpose(1, 2).reshape(B, T, C)
            return out if mistake.get("no_proj") else self.proj(out)

    return Wrong


class MHAWrongNames(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.in_proj = nn.Linear(C, 3 * C)
        self.out_proj = nn.Linear(C, C)


class MHANotAModule:
    def __init__(self, C, H):
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)


class MHANoGrad(MultiHeadAttention):
    def forward(self, x, mask=None):
        with torch.no_grad():
            return super().forward(x, mask)


class MHADetachedQKV(MultiHeadAttention):
    """Right values, but the queries, keys and values are cut off from qkv's weights."""

    def forward(self, x, mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).detach().split(C, dim=-1)
        q, k, v = (a.view(B, T, self.H, C // self.H).transpose(1, 2) for a in (q, k, v))
        out, _ = attention(q, k, v, mask)
        return self.proj(out.transpose(1, 2).reshape(B, T, C))


MODULE = checks
CORRECT = {
    checks.check_scaled_dot_product_attention: [attention, attention_einsum_where,
                                                 attention_float32_fused, attention_large_negative],
    checks.check_causal_mask: [causal_mask, causal_mask_compare, causal_mask_loop],
    checks.check_positional_encoding: [positional_encoding, positional_encoding_float32_exp,
                                       positional_encoding_numpy_loop],
    checks.check_multi_head_attention: [MultiHeadAttention, MultiHeadAttentionLoop,
                                        MultiHeadAttentionTorch, MultiHeadAttentionFloat32,
                                        MultiHeadAttentionWithBuffer],
}

_attn = checks.check_scaled_dot_product_attention
_mask = checks.check_causal_mask
_pe = checks.check_positional_encoding
_mha = checks.check_multi_head_attention
WRONG = [
    (_attn, lambda q, k, v, m=None: _att(q, k, v, m, divide=lambda d: 1.0), "divide the scores by sqrt(d)"),
    (_attn, lambda q, k, v, m=None: _att(q, k, v, m, divide=float), "not by d"),
    (_attn, lambda q, k, v, m=None: _att(q, k, v, m, dim=-2), "softmax over the keys"),
    (_attn, lambda q, k, v, m=None: _att(q, k, v, m, invert=True), "True in the mask marks where"),
    (_attn, lambda q, k, v, m=None: _att(q, k, v, m, fill=0.0), "not 0"),
    (_attn, lambda q, k, v, m=None: _att(q, k, v, m, after=True), "before the softmax"),
    (_attn, lambda q, k, v, m=None: _att(q, k, v), "use the mask"),
    (_attn, att_k_transpose_12, "transpose only the last two axes of k"),
    (_attn, lambda q, k, v, m=None: attention(q, k, v, m)[::-1], "return (out, weights)"),
    (_attn, att_naive_exp, "use torch.softmax"),
    (_attn, att_detached, "gradients must reach the inputs"),
    (_attn, lambda q, k, v, m=None: attention(q, k, v, m)[0], "return a tuple (out, weights)"),
    (_mask, lambda T: torch.triu(torch.ones(T, T, dtype=torch.bool)), "not torch.triu"),
    (_mask, lambda T: torch.tril(torch.ones(T, T, dtype=torch.bool), -1), "include the diagonal"),
    (_mask, lambda T: torch.triu(torch.ones(T, T, dtype=torch.bool), 1), "not what is blocked"),
    (_mask, lambda T: torch.ones(T, T, dtype=torch.bool), "block the future"),
    (_mask, lambda T: torch.tril(torch.ones(T, T)), "dtype torch.bool"),
    (_mask, lambda T: np.tril(np.ones((T, T), dtype=bool)), "dtype torch.bool"),
    (_mask, lambda T: causal_mask(T)[None], "the mask is (T, T)"),
    (_pe, lambda T, C: _pe_wrong(T, C, swap=True), "sin goes in the even columns"),
    (_pe, lambda T, C: _pe_wrong(T, C, odd_exponent=True), "share one frequency"),
    (_pe, lambda T, C: _pe_wrong(T, C, i_over_c=True), "i/C stretches"),
    (_pe, lambda T, C: _pe_wrong(T, C, halves=True), "interleave"),
    (_pe, lambda T, C: _pe_wrong(T, C, start=1), "positions start at t = 0"),
    (_pe, lambda T, C: positional_encoding(T, C).T,
     "one row per position"),
    (_pe, lambda T, C: torch.sin(torch.arange(T, dtype=torch.float64)[:, None]
                                 * 10000 ** (2 * torch.arange(C, dtype=torch.float64) // 2 / C)),
     "PE[t, 2i] = sin"),
    (_pe, lambda T, C: positional_encoding(T, C).numpy(), "torch tensor"),
    (_mha, _mha_variant(order="kqv"), "queries, keys and values in that order"),
    (_mha, _mha_variant(order="vkq"), "queries, keys and values in that order"),
    (_mha, _mha_variant(no_transpose=True), "reshaping straight to (B, H, T, C/H)"),
    (_mha, _mha_variant(merge_no_transpose=True), "merge the heads back"),
    (_mha, _mha_variant(scale_c=True), "not sqrt(C)"),
    (_mha, _mha_variant(no_proj=True), "output projection"),
    (_mha, _mha_variant(no_mask=True), "pass the mask on"),
    (_mha, _mha_variant(one_head=True), "one head over all of C"),
    (_mha, MHAWrongNames, "under exactly these names"),
    (_mha, MHANotAModule, "class MultiHeadAttention(nn.Module)"),
    (_mha, MHANoGrad, "gradients must reach"),
    (_mha, MHADetachedQKV, "gradients must reach"),
]


def test_a_stub_class_and_an_instance_are_told_apart():
    class Stub(nn.Module):
        def __init__(self, C, H):
            super().__init__()
            raise NotImplementedError()

    import os

    os.environ.pop("COURSEKIT_GRADING", None)
    assert checks.check_multi_head_attention(Stub) is None  # "not attempted yet"
    assert_fails_with(_mha, MultiHeadAttention(8, 2), "pass the class itself")


_WRONG_MHA_CELL = '''
class MultiHeadAttention(nn.Module):
    """Forgets to transpose when splitting the heads."""

    def __init__(self, C: int, H: int):
        super().__init__()
        self.H = H
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x, mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)
        q, k, v = (a.reshape(B, self.H, T, C // self.H) for a in (q, k, v))
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.proj(out.transpose(1, 2).reshape(B, T, C))
'''


@pytest.mark.slow
def test_a_wrong_multi_head_attention_gets_its_hint_through_the_sandbox():
    """Graded by `coursekit grade`'s sandbox: the class is a proxy; constructing it, .double(),
    load_state_dict and calls cross as data, probes list its parameters and backpropagate next
    to it, and a module that splits heads without the transpose is told so."""
    from conftest import require_sandbox

    require_sandbox()
    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.sandbox import grade_submission

    source = ROOT / "solutions" / "11_transformers.ipynb"
    nb = answered_notebook(ROOT, "11_transformers")
    cell = next(c for c in nb.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "multi_head_attention")
    cell.source = _WRONG_MHA_CELL
    grades, feedback = grade_submission(source, nb, cell_timeout=120)
    status = {g.cell: g.status for g in grades}
    for name in ("scaled_dot_product_attention", "causal_mask", "positional_encoding"):
        assert status[f"{name}_test"] == "passed", status
    assert status["multi_head_attention_test"] != "passed", status
    outputs = next(c for c in feedback.cells if c.get("metadata", {}).get("nbgrader", {})
                   .get("grade_id") == "multi_head_attention_test").get("outputs", [])
    text = "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) + "".join(o.get("traceback", []))
                     for o in outputs)
    assert "reshaping straight to (B, H, T, C/H)" in text, text

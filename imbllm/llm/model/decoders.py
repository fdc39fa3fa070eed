"""Incremental decoders: run a causal LM one token at a time over a left-padded batch.

A decoder keeps the key/value cache of one batch and offers three calls, so that the
sampling loop in :mod:`imbllm.llm.model.sampling` is the same for every backbone:

* ``start(ids, mask, max_new_tokens)``: run the left-padded prompts, return the last logits;
* ``step(tokens)``: feed one token per row, return the next logits;
* ``select(rows)``: keep only these rows (finished rows stop costing arithmetic).

:class:`HFDecoder` works for any Hugging Face causal LM through its ``forward`` and
``past_key_values``. :class:`GPT2Decoder` is the same computation for GPT-2-architecture
models (the compact backbone and distilgpt2) written directly over their weights with a
preallocated cache: on a CPU a small model's step is dominated by per-call overhead and cache
concatenation, and this removes both. ``tests/test_llm_train_sample.py`` checks that the two
give the same logits.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    # GPT-2's formula as transformers writes it ("gelu_new"); on CPUs it is ~5x faster than
    # F.gelu(approximate="tanh").
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3.0))))


#: Activations the direct GPT-2 path reproduces.
_ACTIVATIONS = {
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu": F.gelu,
}


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of a left-padded batch: 0 at each row's first real token."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


class HFDecoder:
    """Any causal LM, through ``model.forward`` with a ``DynamicCache``.

    transformers 5 names the cache argument (and output) ``cache`` and warns on the older
    ``past_key_values``, which 4.x needs: the name is read from the model's signature.
    """

    def __init__(self, model):
        self.model = model
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        params = inspect.signature(base.forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"

    def _forward(self, ids, mask, pos, cache):
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            use_cache=True,
            **{self.cache_arg: cache},
        )
        self.cache = out[self.cache_arg]
        return out.logits[:, -1].float()

    def start(self, ids: torch.Tensor, mask: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        from transformers import DynamicCache

        self.mask = mask.long()
        pos = positions(self.mask)
        self.pos = pos[:, -1]
        return self._forward(ids, self.mask, pos, DynamicCache())

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, self.mask.new_ones(len(tokens), 1)], dim=1)
        self.pos = self.pos + 1
        return self._forward(tokens[:, None], self.mask, self.pos[:, None], self.cache)

    def select(self, rows: torch.Tensor) -> None:
        self.cache.batch_select_indices(rows)
        self.mask, self.pos = self.mask[rows], self.pos[rows]


class GPT2Decoder:
    """GPT-2's forward pass written over the model's weights, with a preallocated cache."""

    def __init__(self, model):
        tr = model.transformer
        cfg = model.config
        self.n_head = cfg.n_head
        self.eps = cfg.layer_norm_epsilon
        self.width = (cfg.n_embd,)
        self.act = _ACTIVATIONS[cfg.activation_function]
        self.scale = (cfg.n_embd // cfg.n_head) ** -0.5 if cfg.scale_attn_weights else 1.0
        self.wte, self.wpe = tr.wte.weight, tr.wpe.weight
        self.ln_f = (tr.ln_f.weight, tr.ln_f.bias)
        self.head = model.lm_head.weight
        self.blocks = [
            (
                (b.ln_1.weight, b.ln_1.bias),
                (b.attn.c_attn.weight, b.attn.c_attn.bias),
                (b.attn.c_proj.weight, b.attn.c_proj.bias),
                (b.ln_2.weight, b.ln_2.bias),
                (b.mlp.c_fc.weight, b.mlp.c_fc.bias),
                (b.mlp.c_proj.weight, b.mlp.c_proj.bias),
            )
            for b in tr.h
        ]

    @staticmethod
    def supports(model) -> bool:
        """True for a plain GPT-2 LM on the CPU whose options this class reproduces."""
        from transformers import GPT2LMHeadModel

        cfg = getattr(model, "config", None)
        return (
            type(model) is GPT2LMHeadModel
            and next(model.parameters()).device.type == "cpu"
            and cfg.activation_function in _ACTIVATIONS
            and not cfg.scale_attn_by_inverse_layer_idx
            and not cfg.reorder_and_upcast_attn
        )

    def _ln(self, x, wb):
        # torch.layer_norm is the kernel F.layer_norm calls, without its per-call Python (the
        # F.layer_norm line was a tenth of the sampling threads' samples holding the lock).
        return torch.layer_norm(x, self.width, wb[0], wb[1], self.eps, False)

    def _mlp(self, x, block):
        (fc_w, fc_b), (pr_w, pr_b) = block[4], block[5]
        h = self.act(torch.addmm(fc_b, self._ln(x, block[3]), fc_w))
        return torch.addmm(pr_b, h, pr_w)

    def start(self, ids: torch.Tensor, mask: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        b, w = ids.shape
        e = self.wte.shape[1]
        d = e // self.n_head
        # Keys and values of every layer live in one buffer sized for the whole completion, so
        # a step writes one column instead of concatenating a new cache.
        self.k = self.wte.new_empty(len(self.blocks), b, self.n_head, w + max_new_tokens, d)
        self.v = torch.empty_like(self.k)
        # Additive attention bias over the cache: 0 for real tokens, -inf for padding and for
        # columns not yet written. A float bias is built once per step and shared by every
        # layer (a boolean mask would be converted again in each attention call).
        self.bias = self.wte.new_full((b, w + max_new_tokens), float("-inf"))
        self.bias[:, :w].masked_fill_(mask.bool(), 0.0)
        pos = positions(mask)
        causal = torch.ones(w, w, dtype=torch.bool).tril()
        # A padding query may see nothing; letting it see itself keeps softmax finite.
        allowed = (causal & mask.bool()[:, None, None, :]) | torch.eye(w, dtype=torch.bool)
        allowed = torch.zeros(allowed.shape, dtype=self.wte.dtype).masked_fill_(
            ~allowed, float("-inf")
        )
        x = (self.wte[ids] + self.wpe[pos]).reshape(b * w, e)
        for i, block in enumerate(self.blocks):
            qkv = torch.addmm(block[1][1], self._ln(x, block[0]), block[1][0])
            q, k, v = qkv.view(b, w, 3, self.n_head, d).permute(2, 0, 3, 1, 4)
            self.k[i, :, :, :w], self.v[i, :, :, :w] = k, v
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=self.scale)
            x = x + torch.addmm(block[2][1], a.transpose(1, 2).reshape(b * w, e), block[2][0])
            x = x + self._mlp(x, block)
        self.t, self.pos = w, pos[:, -1].clone()
        last = x.view(b, w, e)[:, -1]
        # fp32 logits under bf16 autocast (a no-op in fp32), as the HF path returns them.
        return (self._ln(last, self.ln_f) @ self.head.T).float()

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        b, t = len(tokens), self.t
        e = self.wte.shape[1]
        d = e // self.n_head
        self.pos += 1
        self.bias[:, t] = 0.0
        seen = self.bias[:, None, None, : t + 1]
        x = self.wte[tokens] + self.wpe[self.pos]
        # Every layer's cache up to this column, sliced once a step (an index per layer and
        # tensor cost more than the small products beside it).
        keys, values = self.k[:, :, :, : t + 1], self.v[:, :, :, : t + 1]
        for i, block in enumerate(self.blocks):
            qkv = torch.addmm(block[1][1], self._ln(x, block[0]), block[1][0])
            q, k, v = qkv.view(b, 3, self.n_head, d).unbind(1)
            ki, vi = keys[i], values[i]
            ki.select(2, t).copy_(k)
            vi.select(2, t).copy_(v)
            # One query per row: two batched products beat the fused kernel at this size.
            w = torch.matmul(q.unsqueeze(2), ki.transpose(-1, -2))
            w = torch.softmax(w.mul_(self.scale).add_(seen), dim=-1)
            a = torch.matmul(w, vi)
            x = x + torch.addmm(block[2][1], a.reshape(b, e), block[2][0])
            x = x + self._mlp(x, block)
        self.t = t + 1
        return (self._ln(x, self.ln_f) @ self.head.T).float()

    def select(self, rows: torch.Tensor) -> None:
        # Copy only the filled part of the cache; the rest is rewritten before it is read.
        t = self.t
        k, v = self.k[:, rows, :, :t], self.v[:, rows, :, :t]
        self.k = self.k.new_empty(k.shape[:3] + self.k.shape[3:])
        self.v = torch.empty_like(self.k)
        self.k[:, :, :, :t], self.v[:, :, :, :t] = k, v
        self.bias, self.pos = self.bias[rows], self.pos[rows]


def make_decoder(model):
    """The fastest decoder that reproduces ``model``'s forward pass."""
    return GPT2Decoder(model) if GPT2Decoder.supports(model) else HFDecoder(model)

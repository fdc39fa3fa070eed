"""Sampling completions: batched, KV-cached, left-padded, each row stopping at its end token.

Prompts are sorted by token length and cut into batches, so a batch holds prompts of similar
length and little padding is computed. Each batch is left-padded (every row's next token is
in the last column) with an attention mask and per-row positions. A step samples one token
per row with temperature and top-k; a row that draws the end token is finished, finished
rows are dropped from the batch once they are a quarter of it, and the batch ends when every
row has finished or ``max_new_tokens`` is reached.

On a CPU the batches run side by side on worker threads, one per torch thread, each batch's
arithmetic on one thread and its draws from its own generator seeded by ``(seed, batch)``:
the completions depend on the seed only, not on the number of cores.

With a ``constraint`` (a :class:`~imbllm.llm.model.masking.RowConstraint`: the drawer binds
the row grammar of :mod:`imbllm.llm.constrain` to this model's tokenizer) each row carries a
state through the batch, its logits are masked before the draw
(:class:`~imbllm.llm.model.masking.MaskedLogits`) so that the completion stays a valid row, and
the state follows the row when finished rows are dropped.
"""

from __future__ import annotations

import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm.auto import tqdm

from imbllm.llm.model.causal import CausalLM, Generation
from imbllm.llm.model.decoders import make_decoder
from imbllm.llm.model.detokenize import completion_texts
from imbllm.llm.model.masking import MaskedLogits, MaskTable, RowConstraint

log = logging.getLogger(__name__)

#: Drop finished rows from the batch once they are this share of it: copying the cache
#: costs about one step, so doing it after every finished row would cost more than it saves.
_COMPACT_SHARE = 0.25


def _check(temperature: float, top_k: int, batch_size: int, max_new_tokens: int) -> None:
    if not temperature > 0:
        raise ValueError(
            f"temperature={temperature!r} must be positive (use top_k=1 for greedy decoding)."
        )
    for name, value in (
        ("top_k", top_k),
        ("batch_size", batch_size),
        ("max_new_tokens", max_new_tokens),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer.")


def _top_k_draw(scaled: torch.Tensor, top_k: int, gen: torch.Generator) -> torch.Tensor:
    values, index = scaled.topk(top_k, dim=-1)
    choice = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=gen)
    return index.gather(1, choice).squeeze(1)


def sample_next(
    logits: torch.Tensor,
    temperature: float,
    top_k: int,
    gen: torch.Generator,
    most_allowed: int | None = None,
) -> torch.Tensor:
    """One token per row from the ``top_k`` largest logits, softmax at ``temperature``.

    ``topk`` costs as much as a layer of a small model, so a row first draws from the whole
    distribution by inverting its CDF (one uniform number per row) and keeps the draw when it
    lies among the ``top_k`` largest logits; only the other rows draw again from the exact
    top-k distribution. The result follows the top-k distribution exactly: a kept draw has
    probability ``p_i`` and a redraw ``(1 - S) p_i / S`` (``S`` the top-k mass), ``p_i / S`` in all.
    ``most_allowed``: at most this many logits of a row are finite (a constraint's masks);
    fewer than ``top_k``, and no draw can lie outside the top k: the check is skipped.
    """
    if top_k == 1:
        return logits.argmax(-1)
    scaled = logits / temperature if temperature != 1 else logits
    cdf = torch.softmax(scaled, dim=-1).cumsum_(-1)
    u = torch.rand((len(cdf), 1), generator=gen, device=cdf.device) * cdf[:, -1:]
    choice = torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=cdf.shape[1] - 1)
    if top_k < scaled.shape[-1] and (most_allowed is None or most_allowed >= top_k):
        outside = (scaled > scaled.gather(1, choice[:, None])).sum(-1) >= top_k
        if outside.any():
            choice[outside] = _top_k_draw(scaled[outside], top_k, gen)
    return choice


def _left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and attention mask of the prompts right-aligned (each row's last token in the last
    column), built in numpy in one scatter: a tensor per row cost a few percent of the
    sampling threads' time, with the lock held."""
    lengths = np.fromiter(map(len, prompts), dtype=np.int64, count=len(prompts))
    width = int(lengths.max())
    mask = np.arange(width) >= (width - lengths)[:, None]
    ids = np.full((len(prompts), width), pad_id, dtype=np.int64)
    ids[mask] = np.fromiter(itertools.chain.from_iterable(prompts), dtype=np.int64,
                            count=int(lengths.sum()))
    return torch.from_numpy(ids), torch.from_numpy(mask.astype(np.int64))


def _sample_batch(
    decoder, prompts, *, eos, banned, temperature, top_k, max_new_tokens, gen, device, guide=None,
    n_text=None,
):
    """Token ids sampled after each prompt, up to (not including) its end token; ``guide``
    (a :class:`~imbllm.llm.model.masking.MaskedLogits` over the same rows) masks each step.
    Logits from ``n_text`` on (embedding rows past the tokenizer's last id) are never drawn."""
    n = len(prompts)
    ids, mask = _left_pad(prompts, eos)
    logits = decoder.start(ids.to(device), mask.to(device), max_new_tokens)
    # Tokens by batch row; a finished row may be written past its end token, which is harmless
    # because a completion stops at its first end token. That keeps a step to a few tensor ops.
    out = torch.full((n, max_new_tokens), eos, dtype=torch.long)
    slot_row = torch.arange(n)  # the batch row each decoder slot holds
    running = torch.ones(n, dtype=torch.bool)
    for t in range(max_new_tokens):
        if banned is not None:
            logits[:, banned] = float("-inf")
        if n_text is not None and logits.shape[1] > n_text:
            logits[:, n_text:] = float("-inf")
        if guide is not None and top_k > 1:
            # Scaled once, for the masks' telemetry and the draw (x / T + 0 == (x + 0) / T).
            logits = logits / temperature
            token = sample_next(logits, 1, top_k, gen, guide.apply(logits)).cpu()
        else:
            if guide is not None:
                guide.apply(logits / temperature, logits)
            token = sample_next(logits, temperature, top_k, gen).cpu()
        if guide is not None:
            guide.advance(token)
        out[slot_row, t] = token
        running &= token != eos
        n_running = int(running.sum())
        if n_running == 0 or t == max_new_tokens - 1:
            break
        if n_running <= (1 - _COMPACT_SHARE) * len(slot_row):
            keep = running.nonzero().squeeze(1)
            decoder.select(keep.to(device))
            slot_row, token, running = slot_row[keep], token[keep], running[keep]
            if guide is not None:
                guide.select(keep)
        logits = decoder.step(token.to(device))
    ended = out == eos
    length = torch.where(ended.any(1), ended.int().argmax(1), max_new_tokens)
    return [out[i, : length[i]].tolist() for i in range(n)], int(
        length.sum() + (length < max_new_tokens).sum()
    )


def batch_seed(seed: int, batch: int) -> int:
    """Seed of one batch's generator, derived from the call's seed and the batch index."""
    return int(np.random.SeedSequence([seed, batch]).generate_state(1, np.uint64)[0] >> 1)


def generate(
    lm: CausalLM,
    prompts: list[str],
    *,
    temperature: float,
    top_k: int,
    batch_size: int,
    max_new_tokens: int,
    seed: int,
    progress: bool = True,
    constraint: RowConstraint | None = None,
) -> Generation:
    """One completion per prompt, in prompt order, with the call's telemetry.

    The same ``seed`` gives the same completions on the CPU. A completion that reaches
    ``max_new_tokens`` without an end token is returned as it stands (counted as
    ``n_truncated``; ``finished`` says per prompt whether its completion drew the end
    token); the parser decides whether it is a valid row. ``constraint`` (a row grammar bound
    to this model's tokenizer: :func:`imbllm.llm.decoding.for_model`) keeps every completion
    a row the strict check accepts, and ends it in time: no row is cut when
    ``max_new_tokens`` is at least its ``min_new_tokens(prompts)``.
    """
    _check(temperature, top_k, batch_size, max_new_tokens)
    tok = lm.tokenizer
    eos = tok.eos_token_id
    start = time.perf_counter()
    if not len(prompts):
        empty = dict(generated_tokens=0, sample_seconds=0.0, tokens_per_second=0.0)
        return Generation([], {**empty, "n_prompts": 0, "n_truncated": 0, "finished": []})
    # Each distinct prompt once: a draw's prompts repeat (a label and one feature value).
    unique = list(dict.fromkeys(prompts))
    ids = dict(zip(unique, tok(unique, add_special_tokens=True)["input_ids"], strict=True))
    encoded = [ids[p] for p in prompts]
    # A tokenizer that appends the end token would end every prompt before it starts.
    encoded = [p[:-1] if len(p) > 1 and p[-1] == eos else p for p in encoded]
    if any(len(p) == 0 for p in encoded):
        raise ValueError("An empty prompt has no token to condition on; give every prompt text.")
    room = lm.max_length - max((len(p) for p in encoded), default=0)
    if room < 1:
        raise ValueError(
            f"The longest prompt fills the backbone's {lm.max_length} positions; shorten the "
            "prompts or raise llm.n_positions."
        )
    if max_new_tokens > room:
        log.warning(
            "max_new_tokens=%d cut to %d to fit the backbone's %d positions.",
            max_new_tokens,
            room,
            lm.max_length,
        )
        max_new_tokens = room
    banned = tok.pad_token_id if tok.pad_token_id not in (None, eos) else None
    bound = constraint
    if bound is not None:
        dead_before = bound.n_dead
        table = MaskTable(lm.device)  # the masks on the device, shared by the batches
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    model = lm.model.eval()

    guides = [None] * len(batches)
    worker_seconds = [0.0] * len(batches)

    def run(j: int) -> tuple[list[list[int]], int, list[str]]:
        # Each batch has its own generator and runs its arithmetic on one thread, so its rows
        # depend on (seed, batch) only: the same on 1 core or 16, in any completion order.
        t0 = time.perf_counter()
        if lm.device.type == "cpu":
            torch.set_num_threads(1)
        gen = torch.Generator(device=lm.device).manual_seed(batch_seed(seed, j))
        if bound is not None:
            masks = bound.guide([prompts[i] for i in batches[j]], max_new_tokens)
            guides[j] = MaskedLogits(masks, table)
        batch = [encoded[i] for i in batches[j]]
        with torch.inference_mode(), lm.autocast():
            got, sampled = _sample_batch(
                make_decoder(model),
                batch,
                eos=eos,
                banned=banned,
                temperature=temperature,
                top_k=top_k,
                max_new_tokens=max_new_tokens,
                gen=gen,
                device=lm.device,
                guide=guides[j],
                # A model may have more embedding rows than its tokenizer has tokens (GPT-2
                # style widths rounded up, or a local tokenizer short of the width): those ids
                # decode to nothing, so they are never drawn.
                n_text=len(tok),
            )
        # Decoded here, so that one batch's text is made while the other threads compute.
        texts = completion_texts(tok, batch, got)
        worker_seconds[j] = time.perf_counter() - t0
        return got, sampled, texts

    completions: list[list[int]] = [[] for _ in encoded]
    texts: list[str] = [""] * len(encoded)
    n_tokens = n_truncated = 0
    # On a CPU, batches run side by side, one per core: a small model's step is too small to
    # split across cores, whole batches are not. PyTorch releases the GIL inside each op.
    threads = torch.get_num_threads()
    workers = min(threads, len(batches)) if lm.device.type == "cpu" else 1
    bar = tqdm(total=len(encoded), desc="generate", unit="row", disable=not progress, leave=False)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for rows, (got, sampled, text) in zip(
                batches, pool.map(run, range(len(batches))), strict=True
            ):
                for i, c, x in zip(rows, got, text, strict=True):
                    completions[i], texts[i] = c, x
                    n_truncated += len(c) == max_new_tokens
                n_tokens += sampled
                bar.update(len(rows))
    finally:
        torch.set_num_threads(threads)
        bar.close()
    seconds = time.perf_counter() - start
    stats = {
        "generated_tokens": n_tokens,
        "sample_seconds": seconds,
        "tokens_per_second": n_tokens / seconds if seconds > 0 else float("nan"),
        "n_prompts": len(encoded),
        "n_truncated": n_truncated,
        # A completion is returned without its end token, so only its length tells.
        "finished": [len(c) < max_new_tokens for c in completions],
        "rows_per_second": len(encoded) / seconds if seconds > 0 else float("nan"),
        "constrained": bound is not None,
        # Seconds the worker threads spent on their batches, summed: the denominator of a
        # share of the threads' time (``mask_seconds`` is summed over them too).
        "worker_seconds": sum(worker_seconds),
    }
    if bound is not None:
        steps = sum(g.row_steps for g in guides)
        stats.update(
            # Mean over the steps of rows still writing: how far the model strays.
            masked_mass=sum(g.masked_mass for g in guides) / steps if steps else 0.0,
            mask_seconds=sum(g.seconds for g in guides),
            n_dead_states=bound.n_dead - dead_before,
            # Rows whose prompt left too few tokens to finish them (ended early, invalid).
            n_cut=sum(g.n_cut for g in guides),
        )
    return Generation(texts, stats)

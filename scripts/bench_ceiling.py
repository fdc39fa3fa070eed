"""The forward ceiling of the decoders on a workload's own prompts (``bench_generation.py``'s (a)).

Forward-only tokens/s: the prompts batched and left-padded as ``generate`` batches them, each
row's prefill and the decode steps that make rows of a given length, no sampling; the Hugging
Face forward and the direct decoder, the latter also on one batch per thread as ``generate``
runs it. What the engine keeps of this is ``ceiling_fraction``.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from imbllm.llm.model.decoders import GPT2Decoder, HFDecoder
from imbllm.llm.model.sampling import _left_pad


def decode_only(decoder, batches: list[tuple[torch.Tensor, torch.Tensor]], steps: int,
                autocast=contextlib.nullcontext) -> float:
    """Seconds for each batch's prefill and ``steps`` decode steps (no sampling), under the
    model's decoding ``autocast`` (its ``llm.precision``, as ``generate`` runs it)."""
    start = time.perf_counter()
    with torch.inference_mode(), autocast():
        for ids, mask in batches:
            token = ids[:, -1]
            decoder.start(ids, mask, steps + 1)
            for _ in range(steps):
                decoder.step(token)
    return time.perf_counter() - start


def workload_batches(lm, prompts: list[str], batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The prompts as ``generate`` runs them: sorted by token length, cut into batches of
    ``batch``, each left-padded with its attention mask."""
    encoded = lm.tokenizer(list(prompts))["input_ids"]
    encoded.sort(key=len)
    return [_left_pad(encoded[s : s + batch], lm.tokenizer.eos_token_id)
            for s in range(0, len(encoded), batch)]


def ceiling(lm, prompts: list[str], batch: int, per_row: int, reps: int) -> dict:
    """Forward-only tokens/s making ``per_row`` tokens a row after the workload's own
    prompts: the prefill (which gives the first token's logits) and ``per_row - 1`` decode
    steps, as ``generate`` needs for rows of that length; each decoder with torch's threads
    inside each op, and the direct decoder on one batch per thread, as ``generate`` runs them."""
    batches = workload_batches(lm, prompts, batch)
    tokens = sum(len(ids) for ids, _ in batches) * per_row
    steps = per_row - 1
    model = lm.model.eval()
    out = {}
    for name, make in (("hf_forward", HFDecoder), ("direct", GPT2Decoder)):
        if make is GPT2Decoder and not GPT2Decoder.supports(model):
            continue
        best = min(decode_only(make(model), batches, steps, lm.autocast) for _ in range(reps))
        out[name] = tokens / best
    if not GPT2Decoder.supports(model):
        return out
    threads = torch.get_num_threads()

    def one(pair):
        torch.set_num_threads(1)
        return decode_only(GPT2Decoder(model), [pair], steps, lm.autocast)

    try:
        best = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, batches))
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    out[f"direct_x{threads}_threads"] = tokens / best
    return out

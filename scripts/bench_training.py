"""Training throughput against the model's own forward+backward ceiling (issue 23, item 2).

Imported by ``bench_generation.py``; its figures come from the fit that script makes:

- achieved: real (non-pad) tokens per second of the training loop, per stage (pretraining and
  fine-tuning), as the loop itself reports them (``train_tokens_per_second``: tokenising,
  batching, padding, the optimiser and the schedule included);
- ceiling: forward+backward of the same model in training mode (its dropout, if any, on), on
  dense batches of the stage's batch size and its mean real tokens per row, with no padding and
  nothing else, best of ``reps`` (at least 20) timed steps after one warm-up step;
- ``train_ceiling_fraction`` = achieved / ceiling (target >= 0.7).
"""

from __future__ import annotations

import contextlib
import copy
import time

import torch

from imbllm.llm.model.train import next_token_loss


def forward_backward_ceiling(model: torch.nn.Module, batch: int, length: int, vocab: int,
                             reps: int = 5, seed: int = 0, autocast=contextlib.nullcontext) -> float:
    """Tokens/s of forward+backward on dense ``batch`` x ``length`` batches of a copy of
    ``model`` (its weights and gradients untouched), the forward under ``autocast`` (the
    model's ``llm.precision``, as the training loop runs it)."""
    model = copy.deepcopy(model).train()
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (batch, length), generator=gen)
    best = float("inf")
    for i in range(reps + 1):
        start = time.perf_counter()
        with autocast():
            logits = model(input_ids=ids).logits
        loss = next_token_loss(logits, ids)
        loss.backward()
        model.zero_grad(set_to_none=True)
        if i:  # the first step warms the allocator and the kernels
            best = min(best, time.perf_counter() - start)
    return batch * length / best


def stage_figures(lm, telemetry: dict, batch_size: int, reps: int) -> dict:
    """Achieved and ceiling tokens/s, and their ratio, for each stage the fit ran (a cache hit
    trains nothing and reports nothing)."""
    vocab = lm.model.get_input_embeddings().num_embeddings
    stages = {
        "finetune": (telemetry.get("train_tokens_per_second"), telemetry.get("train_tokens"),
                     telemetry.get("lm_epochs"), telemetry.get("lm_rows_per_epoch")),
        "pretrain": (telemetry.get("pretrain_tokens_per_second"),
                     telemetry.get("pretrain_tokens"), telemetry.get("pretrain_epochs_run"),
                     telemetry.get("pretrain_rows_per_epoch")),
    }
    out = {}
    for name, (achieved, tokens, epochs, rows) in stages.items():
        if not achieved or not tokens or not epochs or not rows or achieved != achieved:
            continue
        length = max(2, round(tokens / (epochs * rows)))
        # At least 20 timed steps: best of 3 once put the ceiling at 0.79 of the loop itself.
        top = forward_backward_ceiling(lm.model, batch_size, length, vocab, max(reps, 20),
                                       autocast=lambda: lm.autocast(training=True))
        out[name] = {"tokens_per_s": achieved, "ceiling": top, "length": length,
                     "fraction": achieved / top}
    return out

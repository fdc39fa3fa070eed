"""Fine-tuning: a plain PyTorch loop, because on a small model the Hugging Face ``Trainer``
spends more time on bookkeeping than on arithmetic.

Each training sentence is ``text + eos``. Batches are cut from length-sorted chunks of a
seeded shuffle so that sentences of similar length share a batch and little padding is
computed; padding goes on the right, where a causal model's real tokens never attend to it,
so no attention mask is needed and the loss ignores it (labels ``-100``). AdamW with the
linear warm-up/decay schedule of the paper's recipe, gradients clipped at 1.0 (the
``Trainer`` default the paper ran with).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from imbllm.llm.model.causal import CausalLM
from imbllm.llm.model.checkpoint import TrainingCheckpoint
from imbllm.llm.model.config import Budget, check_budget, fit_to_tokens
from imbllm.llm.model.device import scoped_seed

log = logging.getLogger(__name__)

#: Batches per length-sorted chunk: large enough to group similar lengths, small enough
#: that the order stays random across the epoch.
_CHUNK_BATCHES = 50
_MAX_GRAD_NORM = 1.0


def encode_texts(lm: CausalLM, texts: list[str]) -> list[list[int]]:
    """Token ids of ``text + eos`` for each text, checked against the model's length limit."""
    tok = lm.tokenizer
    eos = tok.eos_token_id
    ids = tok(list(texts), add_special_tokens=True)["input_ids"]
    # Some tokenizers append the end token themselves: never train on two of them.
    ids = [x if (x and x[-1] == eos) else x + [eos] for x in ids]
    longest = max(map(len, ids), default=0)
    if longest > lm.max_length:
        raise ValueError(
            f"The longest training sentence has {longest} tokens but the backbone holds "
            f"{lm.max_length} positions. Raise llm.n_positions (compact backbone) or use a "
            "backbone with a longer context."
        )
    return ids


def length_batches(lengths: list[int], batch_size: int, gen: torch.Generator) -> list[list[int]]:
    """Indices of a seeded shuffle cut into batches of similar length, batches in random order."""
    n = len(lengths)
    order = torch.randperm(n, generator=gen).tolist()
    chunk = batch_size * _CHUNK_BATCHES
    batches = []
    for start in range(0, n, chunk):
        part = sorted(order[start : start + chunk], key=lengths.__getitem__)
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


def collate(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids and labels (``-100`` on padding).

    The training loop pads with the end token: right padding is never attended to, and a pad
    id inside ``input_ids`` without a mask only makes transformers warn.
    """
    lengths = torch.tensor([len(x) for x in ids])
    width = int(lengths.max())
    inputs = torch.tensor([x + [pad_id] * (width - len(x)) for x in ids], dtype=torch.long)
    labels = inputs.masked_fill(torch.arange(width) >= lengths[:, None], -100)
    return inputs, labels


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each token given the ones before it, padding (-100) ignored."""
    # Shift the labels rather than the logits: slicing the logits would copy them.
    target = torch.cat([labels[:, 1:], labels.new_full((len(labels), 1), -100)], dim=1)
    return F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=-100)


def _optimizer(model: torch.nn.Module, budget: Budget) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    # As the Trainer does: no weight decay on biases and LayerNorm gains (1-d tensors).
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": budget.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    # One fused kernel for all tensors instead of a dozen small ops per tensor per step.
    return torch.optim.AdamW(groups, lr=budget.learning_rate, fused=True)


def _schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _global_rng(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_global_rng(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def finetune(
    lm: CausalLM,
    texts_for_epoch: Callable[[int], list[str]],
    budget: Budget,
    seed: int,
    progress: bool = True,
    checkpoint: TrainingCheckpoint | None = None,
    stage: str = "fine-tune",
) -> dict:
    """Fine-tune ``lm`` in place on the sentences ``texts_for_epoch(epoch)`` returns; the
    progress bar reads ``stage`` (pretraining is this loop on the whole table, and says so).

    Returns ``train_tokens`` (real tokens trained on, padding excluded), ``fit_seconds``,
    ``train_tokens_per_second``, ``final_loss`` (token-weighted mean of the last epoch),
    ``rows_per_epoch``, ``max_text_tokens`` (the longest sentence seen, end token included),
    ``train_threads`` (the CPU threads it ran on) and ``resumed_epochs`` (epochs taken from
    ``checkpoint``, which saves the loop's state at epoch ends so that a killed training goes
    on where it stopped, to the same weights). Only the weights of ``lm`` change.
    """
    check_budget(budget)
    model, tok = lm.model, lm.tokenizer
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    first = list(texts_for_epoch(0))
    if not first:
        raise ValueError("texts_for_epoch(0) returned no sentences: there is nothing to train on.")
    n_rows = (
        len(first)
        if budget.max_rows_per_epoch is None
        else min(len(first), budget.max_rows_per_epoch)
    )
    epochs = budget.epochs
    if budget.max_train_tokens is not None:
        per_row = sum(map(len, encode_texts(lm, first))) / len(first)
        epochs, n_rows = fit_to_tokens(epochs, n_rows, per_row, budget.max_train_tokens)
        if epochs < budget.epochs:
            log.info("Training %d of %d epochs (budget.max_train_tokens=%d, %.0f tokens a row).",
                     epochs, budget.epochs, budget.max_train_tokens, per_row)
    if n_rows < len(first):
        log.info("Training on %d of %d rows per epoch.", n_rows, len(first))
    steps_per_epoch = math.ceil(n_rows / budget.batch_size)
    total = steps_per_epoch * epochs
    optimizer = _optimizer(model, budget)
    scheduler = _schedule(optimizer, int(budget.warmup_ratio * total), total)
    train_tokens, max_tokens, first_epoch = 0, 0, 0
    fingerprint = {"budget": repr(budget), "seed": int(seed), "rows": n_rows, "steps": total}
    saved = checkpoint.load(fingerprint) if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        gen.set_state(saved["generator"])
        train_tokens, max_tokens = saved["train_tokens"], saved["max_tokens"]
        first_epoch = saved["epoch"]
    epoch_loss = epoch_tokens = 0.0
    model.train()
    bar = tqdm(total=total, initial=first_epoch * steps_per_epoch, desc=stage, unit="step",
               disable=not progress, leave=False)
    # Dropout draws from torch's global generator: seed it here and give the caller's back.
    with scoped_seed(seed, lm.device):
        if saved is not None:
            _set_global_rng(saved["global_rng"], lm.device)
        for epoch in range(first_epoch, epochs):
            texts = first if epoch == 0 else list(texts_for_epoch(epoch))
            if len(texts) > n_rows:
                keep = torch.randperm(len(texts), generator=gen)[:n_rows].sort().values
                texts = [texts[i] for i in keep.tolist()]
            ids = encode_texts(lm, texts)
            lengths = [len(x) for x in ids]
            max_tokens = max(max_tokens, max(lengths))
            epoch_loss = epoch_tokens = 0.0
            for batch in length_batches(lengths, budget.batch_size, gen):
                inputs, labels = collate([ids[i] for i in batch], tok.eos_token_id)
                inputs, labels = inputs.to(lm.device), labels.to(lm.device)
                with lm.autocast(training=True):
                    logits = model(input_ids=inputs).logits
                loss = next_token_loss(logits, labels)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), _MAX_GRAD_NORM)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                # The loss is a mean over predicted tokens: every token but each row's first.
                n_pred = sum(lengths[i] - 1 for i in batch)
                value = loss.item()
                epoch_loss += value * n_pred
                epoch_tokens += n_pred
                train_tokens += n_pred + len(batch)
                if progress:
                    bar.update()
                    bar.set_postfix(epoch=epoch + 1, loss=f"{value:.3f}", refresh=False)
            now = time.perf_counter()
            if checkpoint is not None and epoch + 1 < epochs and checkpoint.due(now):
                state = {
                    "fingerprint": fingerprint, "epoch": epoch + 1, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "generator": gen.get_state(), "global_rng": _global_rng(lm.device),
                    "train_tokens": train_tokens, "max_tokens": max_tokens,
                }
                checkpoint.save(state, now)
    bar.close()
    model.eval()
    seconds = time.perf_counter() - start
    stats = {
        "train_tokens": int(train_tokens),
        "fit_seconds": seconds,
        "train_tokens_per_second": train_tokens / seconds if seconds > 0 else float("nan"),
        "final_loss": epoch_loss / epoch_tokens if epoch_tokens else float("nan"),
        "rows_per_epoch": n_rows,
        "epochs": epochs,
        "max_text_tokens": max_tokens,
        "train_threads": torch.get_num_threads(),
        "resumed_epochs": first_epoch,
    }
    log.info(
        "Fine-tuned %d epochs on %d rows: loss %.3f, %.0f tokens/s, %.1f s.",
        epochs,
        n_rows,
        stats["final_loss"],
        stats["train_tokens_per_second"],
        seconds,
    )
    return stats

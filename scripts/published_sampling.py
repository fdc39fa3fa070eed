"""The published code's sampling loop, for ``scripts/bench_generation.py``'s figure (c).

Not an entry point: the bench imports :func:`naive` and times it against the engine on the
same fitted sampler. Only the loop is the published one; valid rows are counted by the
engine's own parser and strict check, so both sides are judged alike.
"""

from __future__ import annotations

import time

import pandas as pd
import torch

from imbllm.llm.text.repair import check_rows

__all__ = ["naive", "n_valid", "parse_row_by_row"]


def n_valid(sampler, prompts: list[str], completions: list[str]) -> int:
    """Completions the engine's parser and strict check accept."""
    plan = sampler.plan_
    cells = plan.codec.parse([p + c for p, c in zip(prompts, completions, strict=True)])
    return int(check_rows(cells, plan.codec, plan.schema, "strict").keep.sum())


def parse_row_by_row(texts: list[str], frame: pd.DataFrame) -> pd.DataFrame:
    """As the published code parses: one dict and one ``pd.concat`` per generated row, appended
    to the frame of every row generated so far."""
    columns = list(frame.columns)
    for text in texts:
        cells = {c: [None] for c in columns}
        for piece in text.split(","):
            parts = piece.strip().split(" is ")
            if parts[0] in columns and cells[parts[0]][0] is None and len(parts) > 1:
                cells[parts[0]] = [parts[1]]
        frame = pd.concat([frame, pd.DataFrame(cells)], ignore_index=True, axis=0)
    return frame


def naive(sampler, rows: int, seed: int) -> dict:
    """The published sampling loop on the label prompt: ``generate`` on 100 copies (no
    attention mask), one ``decode`` per row, row-by-row parsing into the growing frame and the
    numeric and missing-value filters after every batch; valid rows by the engine's check."""
    lm = sampler.lm_
    tok, model = lm.tokenizer, lm.model.eval()
    prompt = sampler.plan_.prompter.label_piece + ","
    ids = torch.tensor([tok(prompt)["input_ids"]] * 100)
    numeric = list(sampler.plan_.schema.numeric)
    torch.manual_seed(seed)  # the published code seeds the global generator
    start, cpu = time.perf_counter(), time.process_time()
    frame = pd.DataFrame(columns=sampler.plan_.codec.features)
    texts_all: list[str] = []
    n_tokens = 0
    while len(texts_all) < rows:
        out = model.generate(
            input_ids=ids,
            max_length=ids.shape[1] + sampler.drawer_.max_new_tokens,
            do_sample=True,
            temperature=0.7,
            top_k=50,
            pad_token_id=tok.eos_token_id,
        )
        new = out[:, ids.shape[1] :]
        n_tokens += int((new != tok.eos_token_id).sum()) + len(new)
        texts = [tok.decode(t).replace(tok.eos_token, "").replace("\n", " ") for t in new]
        frame = parse_row_by_row(texts, frame)
        for c in numeric:
            frame = frame[pd.to_numeric(frame[c], errors="coerce").notnull()]
        frame = frame.drop(frame[frame.isna().any(axis=1)].index)
        texts_all += texts
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    valid = n_valid(sampler, [prompt] * len(texts_all), texts_all)
    return {"rows": len(texts_all), "valid": valid, "seconds": seconds, "cpu_seconds": cpu,
            "tokens": n_tokens}

"""Generation and fine-tuning throughput of the compact backbone, against the published way.

Everything is measured in one run, on one machine, with one model (issue 3, item 7)::

    .venv/bin/python scripts/bench_generation.py            # full: 20,000 rows (several minutes)
    .venv/bin/python scripts/bench_generation.py --quick    # a smaller run (about a minute)

Workload: the insurance minority rows of the seed-0 split, written ``"charges is high, <f> is
<v>, ..."`` with the features in a fresh order each epoch; a compact backbone fine-tuned on
them with the ``compact`` budget; prompts ``"charges is high,"`` (label-conditioned).

(a) ceiling: decode-only forward throughput (tokens/s) at the generation batch size, prompts
    and completion length as in (b), best of the Hugging Face forward and our direct decoder;
(b) ours: ``LanguageModel.generate`` plus vectorised parsing, in a fresh process whose peak
    resident memory is the ``peak_rss_mb`` figure;
(c) naive, as the published code samples: ``model.generate`` on batches of 100 prompts
    without an attention mask, then row-by-row pandas parsing (one ``concat`` per row);
(d) fine-tuning: our loop against the Hugging Face ``Trainer`` with the published collator
    (labels = input ids, padding included) and per-item shuffling and tokenisation.

Valid rows (b, c) parse with every column present, numbers readable and categories known.
The last line is ``speedup_vs_naive=<x> ceiling_fraction=<y> finetune_speedup=<z>
peak_rss_mb=<m>``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imbllm.data import load_dataset  # noqa: E402
from imbllm.llm.backbone import Budget, LanguageModel, LLMConfig  # noqa: E402
from imbllm.llm.decoders import GPT2Decoder, HFDecoder  # noqa: E402
from imbllm.protocol import make_split  # noqa: E402

log = logging.getLogger("bench_generation")
TARGET = "charges"


class Workload:
    """Insurance minority rows as sentences, a fresh feature order per epoch."""

    def __init__(self, seed: int):
        ds = load_dataset("insurance")
        split = make_split(ds.X, ds.y, seed=seed)
        rows = split.X_imb[split.y_imb == split.minority].reset_index(drop=True)
        self.columns = list(rows.columns)
        self.numeric = list(ds.spec.numeric)
        self.categories = {c: set(rows[c].astype(str)) for c in ds.spec.categorical}
        self.cells = rows.astype(str).to_numpy()
        self.minority = split.minority
        self.prompt = f"{TARGET} is {self.minority},"
        self.seed = seed

    def texts(self, epoch: int) -> list[str]:
        rng = np.random.default_rng([self.seed, epoch])
        head = f"{TARGET} is {self.minority}, "
        return [
            head + ", ".join(f"{self.columns[j]} is {row[j]}" for j in rng.permutation(len(row)))
            for row in self.cells
        ]

    def n_valid(self, df: pd.DataFrame) -> int:
        """Rows with every column present, numbers readable and categories known."""
        ok = df[self.columns].notna().all(axis=1)
        for c in self.numeric:
            ok &= pd.to_numeric(df[c], errors="coerce").notna()
        for c, cats in self.categories.items():
            ok &= df[c].isin(cats)
        return int(ok.sum())


def parse_vectorised(texts: list[str], columns: list[str]) -> pd.DataFrame:
    """The engine's parser (one regular expression over all completions)."""
    from imbllm.llm.serialize import parse_texts

    return parse_texts(texts, columns)


def parse_row_by_row(texts: list[str], frame: pd.DataFrame) -> pd.DataFrame:
    """As the published code parses: one dict and one ``pd.concat`` per generated row, appended
    to the frame of every row generated so far."""
    columns = list(frame.columns)
    for text in texts:
        cells = dict.fromkeys(columns)
        for piece in text.split(","):
            parts = piece.strip().split(" is ")
            if parts[0] in columns and not cells[parts[0]] and len(parts) > 1:
                cells[parts[0]] = [parts[1]]
        frame = pd.concat([frame, pd.DataFrame(cells)], ignore_index=True, axis=0)
    return frame


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- (d) fine-tuning ----------------------------------------------------------------------
class Clock:
    """Wall-clock and process CPU seconds of a block (CPU time shows what contention hides)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def finetune_ours(work: Workload, budget: Budget, seed: int) -> tuple[LanguageModel, Clock]:
    lm = LanguageModel.build(LLMConfig(), work.texts(0), seed=seed)
    with Clock() as clock:
        lm.finetune(work.texts, budget, seed=seed, progress=False)
    return lm, clock


def finetune_trainer(work: Workload, budget: Budget, seed: int) -> Clock:
    """Time the Hugging Face ``Trainer`` takes for the same epochs, the published way."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    class PublishedCollator(DataCollatorWithPadding):
        def __call__(self, features):
            batch = super().__call__(features)
            batch["labels"] = batch["input_ids"].clone()  # padding included in the loss
            return batch

    lm = LanguageModel.build(LLMConfig(), work.texts(0), seed=seed)
    tok = lm.tokenizer
    rng = np.random.default_rng(seed)

    class ShuffledRows(torch.utils.data.Dataset):
        # The published dataset permutes a row's features and tokenises it on every access.
        def __len__(self):
            return len(work.cells)

        def __getitem__(self, i):
            row = work.cells[i]
            order = rng.permutation(len(row))
            text = f"{TARGET} is {work.minority}, " + ", ".join(
                f"{work.columns[j]} is {row[j]}" for j in order
            )
            return tok(text)

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            num_train_epochs=budget.epochs,
            per_device_train_batch_size=budget.batch_size,
            learning_rate=budget.learning_rate,
            lr_scheduler_type="linear",
            warmup_steps=budget.warmup_ratio,  # a float below 1 is a share of the steps
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            use_cpu=True,
            seed=seed,
            remove_unused_columns=False,
        )
        trainer = Trainer(
            model=lm.model,
            args=args,
            train_dataset=ShuffledRows(),
            data_collator=PublishedCollator(tok),
        )
        with Clock() as clock:
            trainer.train()
        return clock


# -- (a) ceiling --------------------------------------------------------------------------
def decode_only(decoder, ids: torch.Tensor, steps: int) -> float:
    """Seconds for a prefill and ``steps`` decode steps of a full batch (no sampling)."""
    mask = torch.ones_like(ids)
    token = ids[:, -1]
    start = time.perf_counter()
    with torch.inference_mode():
        decoder.start(ids, mask, steps + 1)
        for _ in range(steps):
            decoder.step(token)
    return time.perf_counter() - start


def ceiling(lm: LanguageModel, prompt: str, batch: int, steps: int, reps: int) -> dict:
    """Decode-only tokens/s at ``batch`` rows: the Hugging Face forward and the direct decoder
    with torch's threads inside each op, and the direct decoder on one batch per thread (the
    way ``generate`` spreads batches over cores)."""
    ids = torch.tensor([lm.tokenizer(prompt)["input_ids"]] * batch)
    model = lm.model.eval()
    out = {}
    for name, make in (("hf_forward", HFDecoder), ("direct", GPT2Decoder)):
        best = min(decode_only(make(model), ids, steps) for _ in range(reps))
        out[name] = batch * steps / best
    threads = torch.get_num_threads()

    def one(_):
        torch.set_num_threads(1)
        return decode_only(GPT2Decoder(model), ids, steps)

    try:
        with ThreadPoolExecutor(threads) as pool:
            best = min(max(pool.map(one, range(threads))) for _ in range(reps))
    finally:
        torch.set_num_threads(threads)
    out[f"direct_x{threads}_threads"] = threads * batch * steps / best
    return out


# -- (b) ours, in a fresh process -----------------------------------------------------------
def _ours_child(path: str, prompt: str, rows: int, budget: Budget, seed: int, queue) -> None:
    work = Workload(seed)
    lm = LanguageModel.load(path)
    start, cpu = time.perf_counter(), time.process_time()
    texts = lm.generate(
        [prompt] * rows,
        temperature=0.7,
        top_k=50,
        batch_size=budget.gen_batch_size,
        max_new_tokens=lm.max_text_tokens_ + 8,
        seed=seed,
        progress=False,
    )
    df = parse_vectorised(texts, work.columns)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    stats = lm.last_generate_stats_
    queue.put(
        {
            "rows": rows,
            "valid": work.n_valid(df),
            "seconds": seconds,
            "cpu_seconds": cpu,
            "tokens_per_second": stats["tokens_per_second"],
            "mean_tokens": stats["generated_tokens"] / rows,
            "truncated": stats["n_truncated"],
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def ours(path: Path, work: Workload, rows: int, budget: Budget, seed: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(
        target=_ours_child, args=(str(path), work.prompt, rows, budget, seed, queue)
    )
    child.start()
    result = queue.get()
    child.join()
    return result


# -- (c) naive -------------------------------------------------------------------------------
def naive(lm: LanguageModel, work: Workload, rows: int, max_new: int, seed: int) -> dict:
    """The published sampling loop: ``generate`` on 100 copies of the prompt (no attention
    mask), one ``decode`` per row, row-by-row parsing into the growing frame, then the numeric
    and missing-value filters on the whole frame after every batch."""
    tok, model = lm.tokenizer, lm.model.eval()
    ids = torch.tensor([tok(work.prompt)["input_ids"]] * 100)
    torch.manual_seed(seed)  # the published code seeds the global generator
    start, cpu = time.perf_counter(), time.process_time()
    frame = pd.DataFrame(columns=work.columns)
    drawn = n_tokens = 0
    while drawn < rows:
        out = model.generate(
            input_ids=ids,
            max_length=ids.shape[1] + max_new,
            do_sample=True,
            temperature=0.7,
            top_k=50,
            pad_token_id=tok.eos_token_id,
        )
        new = out[:, ids.shape[1] :]
        n_tokens += int((new != tok.eos_token_id).sum()) + len(new)
        texts = [tok.decode(t).replace(tok.eos_token, "").replace("\n", " ") for t in new]
        frame = parse_row_by_row(texts, frame)
        for c in work.numeric:
            frame = frame[pd.to_numeric(frame[c], errors="coerce").notnull()]
        frame = frame.drop(frame[frame.isna().any(axis=1)].index)
        drawn += len(texts)
    return {
        "rows": drawn,
        "valid": work.n_valid(frame),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "tokens": n_tokens,
    }


def load_budget(name: str) -> Budget:
    return Budget.from_dict(yaml.safe_load((ROOT / "conf" / "budget" / f"{name}.yaml").read_text()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20000, help="rows generated by (b) and (c)")
    ap.add_argument("--trainer-epochs", type=int, default=30, help="epochs per timing of (d)")
    ap.add_argument("--reps", type=int, default=3, help="alternating timings of (d), best kept")
    ap.add_argument("--budget", default="compact", help="conf/budget preset for the model")
    ap.add_argument("--model-steps", type=int, default=600, help="optimizer steps of the model")
    ap.add_argument("--quick", action="store_true", help="2,000 rows, shorter timings")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.quick:
        args.rows, args.trainer_epochs, args.reps = 2000, 3, 2
    budget = load_budget(args.budget)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}"
    )
    print(f"budget {args.budget}: {budget}")
    work = Workload(args.seed)
    tok = LanguageModel.build(LLMConfig(), work.texts(0), 0).tokenizer
    n_tok = sum(len(x) + 1 for x in tok(work.texts(0))["input_ids"])  # row tokens + end token

    # (d) the same epochs, rows and batch size through both loops, alternating, best of each.
    short = Budget(**{**budget.__dict__, "epochs": args.trainer_epochs})
    runs: dict[str, list[Clock]] = {"ours": [], "trainer": []}
    for _ in range(args.reps):
        runs["ours"].append(finetune_ours(work, short, args.seed)[1])
        runs["trainer"].append(finetune_trainer(work, short, args.seed))
    ft = {k: (min(c.wall for c in v), min(c.cpu for c in v)) for k, v in runs.items()}
    work_tokens = n_tok * short.epochs
    print(
        f"(d) fine-tune {short.epochs} epochs x {len(work.cells)} rows ({work_tokens} tokens), "
        f"best of {args.reps}: ours {ft['ours'][0]:.2f} s ({work_tokens / ft['ours'][0]:.0f} tok/s), "
        f"Trainer {ft['trainer'][0]:.2f} s ({work_tokens / ft['trainer'][0]:.0f} tok/s); "
        f"CPU seconds ours {ft['ours'][1]:.2f}, Trainer {ft['trainer'][1]:.2f}"
    )

    # The model every generation figure uses. The minority rows alone are ~100 sentences (4
    # steps an epoch): the budget's learning rate over enough epochs for ~600 steps, where this
    # model writes mostly valid rows.
    steps_per_epoch = -(-len(work.cells) // budget.batch_size)
    model_budget = Budget(**{**budget.__dict__, "epochs": -(-args.model_steps // steps_per_epoch)})
    lm, fit = finetune_ours(work, model_budget, args.seed)
    print(
        f"model: {model_budget.epochs} epochs in {fit.wall:.1f} s; "
        f"longest row {lm.max_text_tokens_} tokens"
    )
    max_new = lm.max_text_tokens_ + 8
    with tempfile.TemporaryDirectory() as tmp:
        lm.save(tmp)
        b = ours(Path(tmp), work, args.rows, budget, args.seed)
    print(
        f"(b) ours: {b['rows']} rows in {b['seconds']:.1f} s ({b['cpu_seconds']:.1f} CPU s), "
        f"{b['valid']} valid = {b['valid'] / b['seconds']:.0f} valid rows/s, "
        f"{b['tokens_per_second']:.0f} tok/s, {b['mean_tokens']:.1f} tokens/row, "
        f"{b['truncated']} truncated, peak RSS {b['peak_rss_mb']:.0f} MB"
    )
    steps = max(1, round(b["mean_tokens"]))
    a = ceiling(lm, work.prompt, budget.gen_batch_size, steps, reps=3)
    top = max(a.values())
    print(
        f"(a) ceiling, batch {budget.gen_batch_size}, {steps} steps: "
        + ", ".join(f"{k} {v:.0f} tok/s" for k, v in a.items())
    )
    c = naive(lm, work, args.rows, max_new, args.seed)
    print(
        f"(c) naive: {c['rows']} rows in {c['seconds']:.1f} s ({c['cpu_seconds']:.1f} CPU s), "
        f"{c['valid']} valid = {c['valid'] / c['seconds']:.0f} valid rows/s, "
        f"{c['tokens'] / c['seconds']:.0f} tok/s"
    )
    speedup = (b["valid"] / b["seconds"]) / (c["valid"] / c["seconds"])
    cpu_speedup = (b["valid"] / b["cpu_seconds"]) / (c["valid"] / c["cpu_seconds"])
    print(
        f"load {os.getloadavg()[0]:.2f}; per CPU second: speedup_vs_naive {cpu_speedup:.2f}, "
        f"finetune_speedup {ft['trainer'][1] / ft['ours'][1]:.2f}"
    )
    print(
        f"speedup_vs_naive={speedup:.2f} ceiling_fraction={b['tokens_per_second'] / top:.2f} "
        f"finetune_speedup={ft['trainer'][0] / ft['ours'][0]:.2f} peak_rss_mb={b['peak_rss_mb']:.0f}"
    )


if __name__ == "__main__":
    main()

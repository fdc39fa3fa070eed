"""A backbone of the paper's size made offline: distilgpt2's shape, random weights, own tokenizer.

    python scripts/make_local_backbone.py /tmp/distilgpt2-local
    imbllm-bench llm=distilgpt2 llm.name_or_path=/tmp/distilgpt2-local budget=paper ...

distilgpt2 (82M parameters: 6 layers, 768 wide, 12 heads, 1,024 positions, a 50,257-token
byte-level BPE) cannot be downloaded here, so this builds the same shape with weights drawn
from ``--seed`` and a byte-level BPE tokenizer of GPT-2's kind (GPT-2's pre-tokenizer, its
byte alphabet, ``<|endoftext|>`` as the last id, 50,256) trained with ``tokenizers`` on the text
at hand: the ten benchmark tables' rows as the engine serialises them, then this interpreter's
standard-library sources, in sorted order, up to ``--max-mb``. The model's embedding keeps
distilgpt2's 50,257 rows whatever size the tokenizer reaches; rows past the tokenizer's last
id are never sampled (the engine bans them under free decoding, and constrained decoding's
masks hold only tokens with bytes). The folder (config.json, model.safetensors, tokenizer
files) loads with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``. About a minute
on two cores, 316 MB. A table the mirror lacks (a lent GPU machine has none) is left out.
"""

from __future__ import annotations

import argparse
import json
import logging
import sysconfig
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("make_local_backbone")

#: distilgpt2's config.json values (the shape; its weights need the hub).
DISTILGPT2 = {
    "n_layer": 6, "n_embd": 768, "n_head": 12, "n_positions": 1024, "vocab_size": 50257,
    "activation_function": "gelu_new",
}
EOS = "<|endoftext|>"


def table_rows() -> Iterator[str]:
    """The ten benchmark tables' rows as the engine writes them (features, then the label)."""
    from imbllm.data import DatasetError, available_datasets, load_dataset
    from imbllm.llm.text.serialize import RowCodec, join_pieces
    from imbllm.schema import TableSchema

    for name in available_datasets():
        try:
            ds = load_dataset(name, allow_download=False)
        except DatasetError as err:  # a machine without the mirror (a lent GPU) trains on the rest
            log.warning("%s left out of the tokenizer's text: %s", name, err)
            continue
        X = ds.X.rename(columns=str)
        schema = TableSchema.infer(X)
        target = str(ds.y.name or "target")
        codec = RowCodec(X.columns, schema.numeric, schema.categories, target,
                         sorted(ds.y.unique(), key=str))
        yield from join_pieces(codec.pieces(X, ds.y))


def library_text(max_bytes: int) -> Iterator[str]:
    """This interpreter's standard-library ``.py`` files, in sorted order, up to ``max_bytes``."""
    root = Path(sysconfig.get_paths()["stdlib"])
    left = max_bytes
    for path in sorted(root.rglob("*.py")):
        if left <= 0 or "site-packages" in path.parts:
            return
        text = path.read_text(encoding="utf-8", errors="replace")
        left -= len(text)
        yield text


def train_tokenizer(texts: list[str], vocab_size: int):
    """GPT-2's kind of byte-level BPE on ``texts``: ``vocab_size - 1`` merges and bytes, then
    the end token as the last id (where GPT-2 has it)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2TokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1, special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_special_tokens([EOS])
    return GPT2TokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=EOS,
        add_prefix_space=False, clean_up_tokenization_spaces=False, model_max_length=1024,
    )


def make(folder: Path, seed: int = 0, max_mb: float = 24.0) -> dict:
    """Write the backbone to ``folder``; returns what was made (sizes, counts)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    shape = DISTILGPT2
    rows = list(table_rows())
    texts = rows + list(library_text(int(max_mb * 2**20)))
    tokenizer = train_tokenizer(texts, shape["vocab_size"])
    eos = tokenizer.eos_token_id
    config = GPT2Config(**shape, bos_token_id=eos, eos_token_id=eos)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    made = {
        "folder": str(folder), "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "embedding_rows": shape["vocab_size"], "tokenizer_vocabulary": len(tokenizer),
        "unused_embedding_rows": shape["vocab_size"] - len(tokenizer),
        "table_rows": len(rows), "corpus_mb": round(sum(map(len, texts)) / 2**20, 1),
        "folder_mb": round(size / 2**20, 1),
    }
    (folder / "imbllm_backbone.json").write_text(json.dumps(made, indent=2))
    return made


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to write the Hugging Face folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--max-mb", type=float, default=24.0,
                        help="megabytes of standard-library source added to the tables' rows")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info(json.dumps(make(args.folder, args.seed, args.max_mb)))


if __name__ == "__main__":
    main()

"""The compact backbone's tokenizer: byte-level BPE trained on the rows it will model.

Hub backbones keep their own tokenizers; :mod:`imbllm.llm.model.backbone` builds this one only for
``name_or_path="compact"``. Nothing here imports torch.
"""

from __future__ import annotations

__all__ = ["EOS_TOKEN", "PAD_TOKEN", "SPLITS", "train_tokenizer"]

#: Special tokens of the compact tokenizer (hub tokenizers keep their own).
EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
SPLITS = ("pieces", "fields", "words")


def train_tokenizer(corpus: list[str], vocab_size: int, split: str = "fields"):
    """A byte-level BPE tokenizer trained on ``corpus``, with end and padding tokens.

    ``split`` says where merges may not cross. Every ``","`` is a token of its own in all
    three, so a prompt, which ends with ``","``, ends on a token boundary as in training.

    * ``"fields"`` (default): a piece splits after ``" is "``, so ``" smoker is "`` and
      ``"no"`` are tokens: one token names the column, the value follows. Insurance rows take
      20 tokens instead of 29, and a small model writes far more valid rows (measured on
      insurance, GReaT and ImbLLM strategies, seeds 1 and 2: 100% and 88-99% valid against
      99% and 13-32% with ``"words"``).
    * ``"pieces"``: merges may cross spaces inside a piece (``" smoker is no"`` one token):
      13 tokens a row, but a column is then hidden in many rare tokens and GReaT-style rows
      lose columns (1-18% valid).
    * ``"words"``: GPT-2's split (merges stay within words, numbers, punctuation runs).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if not corpus:
        raise ValueError("corpus is empty: the compact backbone trains its tokenizer on it.")
    if split not in SPLITS:
        raise ValueError(f"llm.tokenizer_split={split!r} must be one of {', '.join(SPLITS)}.")
    tok = Tokenizer(models.BPE())
    # Byte level: every string round-trips, whatever characters the table holds.
    if split in ("pieces", "fields"):
        rules = [pre_tokenizers.Split(Regex(","), behavior="isolated")]
        if split == "fields":
            rules.append(pre_tokenizers.Split(Regex(" is "), behavior="merged_with_previous"))
        rules.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
        tok.pre_tokenizer = pre_tokenizers.Sequence(rules)
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        bos_token=EOS_TOKEN,
        # Keep " ," and " ." as written: decode(encode(text)) must give the text back.
        clean_up_tokenization_spaces=False,
    )

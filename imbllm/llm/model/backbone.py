"""The language model behind every LLM oversampler: build, fine-tune, sample, save, load.

Two kinds of backbone share one class:

* ``name_or_path="compact"`` (the offline default): a small GPT-2-style model built from
  :class:`LLMConfig` and a byte-level BPE tokenizer trained on the corpus it will be
  fine-tuned on. Nothing is downloaded.
* anything else: a Hugging Face causal LM by hub id (``"distilgpt2"``) or local folder,
  loaded with ``from_pretrained`` (safetensors, never ``trust_remote_code``).

Example (a tiny model, a few seconds on a CPU)::

    from imbllm.llm.model.backbone import Budget, LanguageModel, LLMConfig
    texts = ["age is 19, smoker is yes", "age is 33, smoker is no"] * 20
    lm = LanguageModel.build(LLMConfig(n_layer=1, n_embd=32, n_head=2), texts, seed=0)
    lm.finetune(lambda epoch: texts, Budget(epochs=30, learning_rate=3e-3), seed=0)
    out = lm.generate(["age is"], temperature=0.7, top_k=50, batch_size=8, max_new_tokens=12,
                      seed=0)
    out.texts, out.stats["tokens_per_second"]
"""

from __future__ import annotations

import copy
import json
import logging
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch

from imbllm.llm.model import sampling as _sampling
from imbllm.llm.model import train as _train
from imbllm.llm.model.causal import Generation
from imbllm.llm.model.config import COMPACT, Budget, LLMConfig, bf16_autocast
from imbllm.llm.model.device import cpu_has_bf16, resolve_device, scoped_seed
from imbllm.llm.model.tokenizer import EOS_TOKEN, train_tokenizer

__all__ = ["Budget", "LLMConfig", "LanguageModel", "train_tokenizer"]

log = logging.getLogger(__name__)

_META_FILE = "imbllm_llm.json"


class LanguageModel:
    """A tokenizer and a causal LM on one device, with the three operations the engine needs.

    Build with :meth:`build` or :meth:`load`. :meth:`finetune` delegates to
    :func:`imbllm.llm.model.train.finetune` and :meth:`generate` to
    :func:`imbllm.llm.model.sampling.generate` (which returns the completions with their stats).
    """

    def __init__(self, tokenizer, model, config: LLMConfig):
        self.tokenizer = tokenizer
        self.model = model
        self.config = config
        self.device = next(model.parameters()).device
        #: Longest fine-tuning sentence in tokens (end token included); 0 before fine-tuning.
        self.max_text_tokens_: int = 0
        #: CPU threads the fine-tuning ran on (None before fine-tuning, or in a model saved
        #: before this was recorded): on a CPU the weights are bit-reproducible only at a
        #: fixed count, since matrix products sum in a thread-dependent order.
        self.train_threads_: int | None = None

    # -- construction ------------------------------------------------------------------
    @classmethod
    def build(cls, config: LLMConfig, corpus: list[str], seed: int) -> LanguageModel:
        """A fresh backbone for ``corpus`` (the serialised training rows).

        ``compact`` trains its tokenizer on ``corpus`` and initialises the weights from
        ``seed``; a hub id or folder is loaded with its pretrained weights.
        """
        device = resolve_device(config.device)
        if config.precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
            log.warning(
                "llm.precision=bf16 on a CPU without bf16 units (%s): autocast emulates bf16 and "
                "trains about 10x slower than fp32 here; use llm.precision=auto.",
                torch.backends.cpu.get_cpu_capability(),
            )
        with scoped_seed(seed, device):
            if config.name_or_path == COMPACT:
                tokenizer = train_tokenizer(corpus, config.vocab_size, config.tokenizer_split)
                n_positions = config.n_positions or context_length(tokenizer, corpus)
                model = _compact_model(config, tokenizer, n_positions)
            else:
                tokenizer, model = _pretrained(config, device)
            if config.lora:
                model = _with_lora(model, config)
        model.to(device)
        lm = cls(tokenizer, model, config)
        log.info(
            "Built backbone %r: %.2fM parameters (%.2fM trainable), vocabulary %d, on %s.",
            config.name_or_path,
            sum(p.numel() for p in model.parameters()) / 1e6,
            sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6,
            len(tokenizer),
            device,
        )
        return lm

    @property
    def max_length(self) -> int:
        """Longest sequence (prompt plus completion) the model's positions allow."""
        cfg = self.model.config
        return int(getattr(cfg, "n_positions", None) or cfg.max_position_embeddings)

    def autocast(self, training: bool = False):
        """bf16 autocast (fp32 master weights) where ``llm.precision`` asks for it: on CUDA
        unless "fp32", on the CPU with "bf16" while ``training``
        (:func:`imbllm.llm.model.config.bf16_autocast`)."""
        if bf16_autocast(self.config.precision, self.device.type, training):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    # -- the two operations, written in their own modules --------------------------------
    def finetune(
        self, texts_for_epoch, budget: Budget, seed: int, progress: bool = True, checkpoint=None,
        stage: str = "fine-tune",
    ) -> dict:
        """:func:`imbllm.llm.model.train.finetune` on this model; keeps the longest sentence and
        the thread count it ran on (saved with the model). ``stage`` labels the progress bar."""
        stats = _train.finetune(self, texts_for_epoch, budget, seed, progress, checkpoint, stage)
        self.max_text_tokens_ = max(self.max_text_tokens_, stats["max_text_tokens"])
        self.train_threads_ = stats["train_threads"]
        return stats

    def generate(self, prompts: list[str], **kwargs) -> Generation:
        """:func:`imbllm.llm.model.sampling.generate` on this model: completions and their stats."""
        return _sampling.generate(self, prompts, **kwargs)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write weights (safetensors), tokenizer and config to the folder ``path``.

        A LoRA model over a hub backbone saves its adapter only (the base is reloaded from
        ``name_or_path``); over the compact backbone, which no hub holds, the merged weights.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        model, adapter = self.model, False
        if hasattr(model, "merge_and_unload"):  # a peft model
            adapter = self.config.name_or_path != COMPACT
            if not adapter:
                model = copy.deepcopy(model).merge_and_unload()
        model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        meta = {
            "config": asdict(self.config),
            "adapter": adapter,
            "max_text_tokens": self.max_text_tokens_,
            "train_threads": self.train_threads_,
        }
        (path / _META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> LanguageModel:
        """Read a model written by :meth:`save` onto ``device``.

        The weights are read on the CPU and moved to ``device``, so where the model was
        trained does not matter. Without ``device``, the device saved in its config, or the
        CPU when that is CUDA and this host has none (the model cache passes the run's own).
        A missing or torn file raises an ``OSError`` or a decode error
        (:data:`imbllm.llm.model.cache.READ_ERRORS`).
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not (path / _META_FILE).is_file():
            raise FileNotFoundError(
                f"{path} holds no saved LanguageModel ({_META_FILE} missing); save one with "
                "LanguageModel.save(path) first."
            )
        meta = json.loads((path / _META_FILE).read_text())
        adapter = bool(meta.get("adapter"))
        weights_config = path / ("adapter_config.json" if adapter else "config.json")
        if not weights_config.is_file():  # transformers would raise a ValueError, not OSError
            raise FileNotFoundError(f"{weights_config} is missing; save the model again.")
        config = LLMConfig.from_dict(meta["config"])
        if device is None and _cuda_missing(config.device):
            log.warning("%s was saved for llm.device=%r; this host has no CUDA, loading it on "
                        "the CPU.", path, config.device)
            device = "cpu"
        if device is not None:
            config.device = device
        dev = resolve_device(config.device)
        tokenizer = AutoTokenizer.from_pretrained(path)
        if adapter:
            from peft import PeftModel

            _, base = _pretrained(config, dev, tokenizer=tokenizer)
            model = PeftModel.from_pretrained(base, path, torch_device=str(dev))
        else:
            model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True)
        model.to(dev)
        model.eval()
        lm = cls(tokenizer, model, config)
        lm.max_text_tokens_ = int(meta.get("max_text_tokens", 0))
        lm.train_threads_ = meta.get("train_threads")
        return lm


def _cuda_missing(device: str) -> bool:
    """True when ``device`` names CUDA and this host has none."""
    return str(device).startswith("cuda") and not torch.cuda.is_available()


def context_length(tokenizer, corpus: list[str]) -> int:
    """Positions the compact backbone needs for ``corpus``: twice its longest sentence (end
    token included), because a continuation prompt holds a whole row and asks for a value
    more, plus 32, rounded up to a multiple of 64."""
    longest = max(len(ids) for ids in tokenizer(list(corpus))["input_ids"]) + 1
    return -(-(2 * longest + 32) // 64) * 64


def _compact_model(config: LLMConfig, tokenizer, n_positions: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    if config.n_embd % config.n_head:
        raise ValueError(
            f"llm.n_embd={config.n_embd} is not a multiple of llm.n_head={config.n_head}; "
            "pick sizes such as n_embd=128, n_head=4."
        )
    gpt_config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # The exact (erf) GELU: a model trained from scratch has no reason to keep GPT-2's
        # tanh approximation, and on CPUs PyTorch's exact kernel is the fastest (~18x the
        # fused tanh one, ~4x the five-op formula, measured with torch 2.13).
        activation_function="gelu",
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
    )
    return GPT2LMHeadModel(gpt_config)


def _pretrained(config: LLMConfig, device: torch.device, tokenizer=None):
    """Tokenizer and model from a hub id or a local folder, with a padding token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = config.name_or_path
    # Frozen LoRA base weights on a GPU can live in bf16; fully trained weights stay fp32
    # (bf16 autocast does the speed-up) because AdamW updates at lr 5e-5 vanish in bf16.
    dtype = torch.bfloat16 if (config.lora and device.type == "cuda") else torch.float32
    try:
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, use_safetensors=True)
    except OSError as err:
        raise ValueError(
            f"llm.name_or_path={name!r} could not be loaded ({err.__class__.__name__}: "
            f"{str(err).splitlines()[0]}). Offline, use llm=compact (built locally) or a local "
            "folder holding a saved model (config.json, model.safetensors, tokenizer files); "
            "set HF_HUB_OFFLINE=1 to skip the network retries."
        ) from err
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            if config.lora:
                raise ValueError(
                    f"llm.name_or_path={name!r} has no end-of-text token; adding one needs "
                    "trained embeddings, which LoRA does not train. Use llm.lora=false."
                )
            tokenizer.add_special_tokens({"eos_token": EOS_TOKEN})
        # Padding positions are masked out of the loss and of attention, so reusing the end
        # token keeps the pretrained vocabulary (and its embedding matrix) unchanged.
        tokenizer.pad_token = tokenizer.eos_token
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


def _with_lora(model, config: LLMConfig):
    from peft import LoraConfig, get_peft_model
    from transformers.pytorch_utils import Conv1D

    lora = LoraConfig(
        # GPT-2's Conv1D stores weights transposed (in, out); tell peft instead of letting it warn.
        fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        task_type="CAUSAL_LM",
        target_modules="all-linear",
    )
    return get_peft_model(model, lora)

"""What the LLM engine accepts, declared once: its constructor's constraints, what the host
must offer the backbone, and what the data decide.

:data:`ENGINE_CONSTRAINTS` is :class:`imbllm.llm.engine.LLMOversampler`'s
``_parameter_constraints`` (scikit-learn's form, as every sampler of the project declares
them); :func:`check_host` and :func:`check_backbone_data` are the parts of its
``check_params`` and ``check_data`` that need more than the values. The engine calls them at
``fit_resample``; the command line calls them before a run opens (:mod:`imbllm.validate_run`).
Nothing here downloads a model: a hub id is taken from the local Hugging Face cache or refused
when the hub cannot be reached.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path
from urllib.parse import urlparse

from sklearn.utils._param_validation import Interval, StrOptions

from imbllm.base import ParameterError
from imbllm.llm.decoding import DECODINGS
from imbllm.llm.model.config import COMPACT, Budget, LLMConfig
from imbllm.llm.text.repair import REPAIRS
from imbllm.llm.text.serialize import NUMBER_FORMATS
from imbllm.llm.text.strategies import LABELS, PERMUTATIONS, PROMPTS, TRAINING_ROWS

_POSITIVE_INT = [None, Interval(Integral, 1, None, closed="left")]

ENGINE_CONSTRAINTS = {
    "llm": [str, Mapping, LLMConfig],
    "llm_config": [None, Mapping, LLMConfig],
    "budget": [None, Mapping, Budget],
    "epochs": _POSITIVE_INT,
    "batch_size": _POSITIVE_INT,
    "learning_rate": [None, Interval(Real, 0, None, closed="neither")],
    "warmup_ratio": [None, Interval(Real, 0, 1, closed="left")],
    "weight_decay": [None, Interval(Real, 0, None, closed="left")],
    "max_rows_per_epoch": _POSITIVE_INT,
    "max_new_tokens": _POSITIVE_INT,
    "temperature": [Interval(Real, 0, None, closed="neither")],
    "top_k": [Interval(Integral, 1, None, closed="left")],
    "gen_batch_size": _POSITIVE_INT,
    "permutation": [None, StrOptions(set(PERMUTATIONS))],
    "training_rows": [None, StrOptions(set(TRAINING_ROWS))],
    "prompt": [None, StrOptions(set(PROMPTS))],
    "label": [None, StrOptions(set(LABELS))],
    "number_format": [None, StrOptions(set(NUMBER_FORMATS))],
    "interpolation_ratio": [Interval(Real, 0, None, closed="left")],
    "label_format": [StrOptions({"name", "code"})],
    "repair": [StrOptions(set(REPAIRS))],
    "decoding": [None, StrOptions(set(DECODINGS))],
    "patience": [None, Interval(Real, 1, None, closed="left")],
    "max_continuations": [Interval(Integral, 0, None, closed="left")],
    "on_shortfall": [None, StrOptions({"raise", "record"})],
    "cache_dir": [None, str, os.PathLike],
    "device": [str],
    "progress": ["boolean"],
}

#: Backbones, decodings and columns found good (a sweep's cells repeat them).
_CHECKED: set[tuple] = set()
#: Whether the hub answered, per endpoint (asked once per process: a sweep asks once).
_HUB: dict[str, str | None] = {}

_FOLDER = "give a folder holding a saved model (config.json, model.safetensors, tokenizer files), " \
    "or use llm=compact (built locally)"


def check_host(config: LLMConfig, device_arg: str) -> None:
    """The backbone's device exists on this host, and its model files can be read without a
    download that cannot happen. ``device_arg`` is the estimator's ``device`` (it wins over
    ``llm.device`` unless it is ``"auto"``)."""
    _check_device(config.device, "device" if device_arg != "auto" else "llm.device")
    if config.name_or_path != COMPACT:
        _check_model_files(config.name_or_path)


def _check_device(device: str, key: str) -> None:
    if device in ("auto", "cpu"):
        return
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ParameterError(key, device, "it is not a torch device; use auto, cpu or cuda[:i]") from None
    if dev.type != "cuda":
        return
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not n:
        raise ParameterError(key, device, "this host has no CUDA device; use auto (CUDA when "
                             "present, else the CPU) or cpu")
    if dev.index is not None and dev.index >= n:
        raise ParameterError(key, device, f"this host has {n} CUDA device(s), cuda:0 to cuda:{n - 1}")


def _check_model_files(name: str) -> None:
    key = "llm.name_or_path"
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ParameterError(key, name, f"the folder {path} holds no config.json; {_FOLDER}")
        return
    if name.startswith((".", "/", "~")) or name.count("/") > 1:  # a hub id is [owner/]name
        raise ParameterError(key, name, f"there is no folder {path}; {_FOLDER}")
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except HFValidationError:
        raise ParameterError(key, name, f"it is neither a folder nor a hub id; {_FOLDER}") from None
    if isinstance(cached, str):
        return
    why = _hub_unreachable()
    if why:
        raise ParameterError(key, name, f"it is neither a local folder nor in the Hugging Face cache, "
                             f"and the hub cannot be reached ({why}); {_FOLDER}")


def _hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the hub cannot be reached, or None when it answers."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    if f"{host}:{port}" not in _HUB:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            _HUB[f"{host}:{port}"] = None
        except OSError as exc:
            _HUB[f"{host}:{port}"] = f"{host}:{port}: {exc.strerror or exc}"
    return _HUB[f"{host}:{port}"]


def check_backbone_data(config: LLMConfig, decoding: str, columns: list[str]) -> None:
    """What a hub or folder backbone's own tokenizer and positions allow, read from its local
    files: a byte-level tokenizer under constrained decoding, and room for a row of these
    ``columns`` (their names alone, a lower bound on any training sentence). The compact
    backbone trains its tokenizer (byte-level) and sizes its positions on the data."""
    key = (config.name_or_path, decoding, tuple(columns))
    if config.name_or_path == COMPACT or key in _CHECKED:
        return
    from transformers import AutoConfig, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.name_or_path, local_files_only=True)
    except OSError:  # not on disk yet: the hub answers (check_host), fit downloads it
        return
    if decoding == "constrained":
        from imbllm.llm.constrain import byte_vocabulary

        try:
            byte_vocabulary(tokenizer)
        except ValueError:
            raise ParameterError("decoding", decoding, f"the tokenizer of {config.name_or_path!r} "
                                 "is not byte-level BPE, which constrained decoding needs; use "
                                 "decoding=free with this backbone") from None
    model = AutoConfig.from_pretrained(config.name_or_path, local_files_only=True)
    positions = getattr(model, "n_positions", None) or getattr(model, "max_position_embeddings", None)
    names = len(tokenizer(", ".join(f"{c} is " for c in columns))["input_ids"])
    if positions and names >= positions:
        raise ParameterError("llm.name_or_path", config.name_or_path, f"its {positions} positions "
                             f"cannot hold a row of {len(columns)} columns (their names alone take "
                             f"{names} tokens); use a backbone with more positions, or llm=compact")
    _CHECKED.add(key)

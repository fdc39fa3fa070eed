"""The device and seeding helpers the model layer shares (imports torch)."""

from __future__ import annotations

from contextlib import contextmanager

import torch


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; any torch device string is accepted."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"llm.device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda[:i]'."
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"llm.device={device!r} but CUDA is not available; use llm.device=auto.")
    return dev


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX). Without either,
    autocast emulates bf16: on an AMD EPYC with AVX2 only, pretraining the compact backbone under
    ``llm.precision=bf16`` took 1.7 s a step against 0.17 s in fp32."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


@contextmanager
def scoped_seed(seed: int, device: torch.device):
    """Seed torch inside a block and restore the caller's random state afterwards."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield

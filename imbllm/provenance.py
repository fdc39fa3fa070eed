"""Where a result was made: what cache keys hold besides their inputs, and what runs record.

The policy, written once (issue 21). A cache key holds what changes the bytes it stands for
and nothing else: the data, the settings, the seed and the code digest (each cache adds its
own), plus the *setup* built here: the versions of the libraries that decide the result, the
thread count, the device kind and its number type, and the CPU's BLAS kernel or the GPU's
name. A cache therefore never serves rows or weights made under another setup; a change of
setup is a miss, never a wrong hit.

* :func:`model_setup`: trained models (:func:`imbllm.llm.model.cache.model_cache_key`).
* :func:`sampler_setup`: oversampled sets (:class:`imbllm.store.ResampleStore`), by method
  family: scikit-learn and imbalanced-learn for SMOTE and its kin, the torch side for the
  deep and LLM methods.

The run key (:func:`imbllm.runspec.run_key`) is the cell of the experiment and stays free of
all this: versions and the machine are provenance, recorded with every run as tags
(:func:`run_tags`). Nothing here imports torch unless the setup asked for is torch's.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

#: Libraries whose version decides the weights a model training makes (peft with LoRA).
MODEL_LIBRARIES = ("torch", "transformers", "tokenizers")
LORA_LIBRARIES = ("peft",)
#: Libraries whose version decides an oversampled set, per method family. The reference rows
#: copy their input; ImbLLM's interpolated rows are imbalanced-learn's SMOTE-NC.
SAMPLER_LIBRARIES = {
    "reference": (),
    "classical": ("scikit-learn", "imbalanced-learn"),
    "deep": ("ctgan", "rdt", "scikit-learn", "torch"),
    # ForestFlow and adversarial random forests (the modern extra): their packages and the tree
    # libraries they fit with.
    "forest": ("forestdiffusion", "arfpy", "xgboost", "lightgbm", "scikit-learn"),
    "llm": (*MODEL_LIBRARIES, *LORA_LIBRARIES, "scikit-learn", "imbalanced-learn"),
}
#: Libraries each run records the version of (the classifiers' included).
TAG_LIBRARIES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "imbalanced-learn",
    "xgboost",
    "catboost",
    "torch",
    "transformers",
    "tokenizers",
)


@cache
def version(distribution: str) -> str:
    """The installed version of ``distribution`` (from its metadata, without importing it),
    or ``"absent"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """``{name: version}`` for ``names``."""
    return {name: version(name) for name in names}


def blas_libraries() -> list[dict]:
    """threadpoolctl's record of the BLAS and OpenMP runtimes of numpy, SciPy and
    scikit-learn, loaded first so that the answer does not depend on what the process
    imported before (torch's own OpenMP runtime is left out: :func:`model_setup` reads
    torch's thread count from torch)."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn  # noqa: F401  (loads its OpenMP runtime)
    from threadpoolctl import threadpool_info

    return [lib for lib in threadpool_info() if "torch" not in Path(lib["filepath"]).parts]


def _owner(lib: dict) -> str:
    """The package a runtime ships with (``numpy`` for ``.../numpy.libs/libscipy_openblas...``)."""
    folder = Path(lib["filepath"]).parent.name
    return folder.removesuffix(".libs") if folder.endswith(".libs") else str(lib.get("prefix"))


def blas_kernel() -> str:
    """The BLAS libraries with their kernel, e.g. ``"openblas 0.3.30 Haswell"``: on a CPU
    the kernel decides how products sum, so two machine types can give different bytes."""
    found = {
        " ".join(str(lib.get(k)) for k in ("internal_api", "version", "architecture"))
        for lib in blas_libraries()
        if lib["user_api"] == "blas"
    }
    return "; ".join(sorted(found)) or "none"


def cpu_threads() -> dict[str, int]:
    """The largest thread count of the loaded BLAS and OpenMP runtimes."""
    out: dict[str, int] = {}
    for lib in blas_libraries():
        out[lib["user_api"]] = max(out.get(lib["user_api"], 0), int(lib["num_threads"]))
    return out


def model_setup(device: str = "auto", lora: bool = False, precision: str = "auto") -> dict:
    """The setup part of a trained model's key, for a run asking for ``device``.

    The device kind and its number type (fp32, or bf16 autocast where
    :func:`imbllm.llm.model.config.bf16_autocast` says so for ``precision``); on the CPU the
    torch thread count (products sum in a thread-dependent order) and the BLAS kernel, on CUDA
    the GPU's name; the versions of :data:`MODEL_LIBRARIES` (and peft with LoRA).
    """
    import torch

    from imbllm.llm.model.config import bf16_autocast

    kind = device_kind(device)
    setup: dict = {
        "device": kind,
        "dtype": "bfloat16-autocast" if bf16_autocast(precision, kind) else "float32",
        "versions": library_versions(MODEL_LIBRARIES + (LORA_LIBRARIES if lora else ())),
    }
    if kind == "cpu":
        setup.update(threads=torch.get_num_threads(), kernel=blas_kernel())
    elif kind == "cuda" and torch.cuda.is_available():
        # Without CUDA the backbone refuses the device, with the fix, before training.
        setup["gpu"] = torch.cuda.get_device_name(
            torch.device(kind if device == "auto" else device)
        )
    return setup


def device_kind(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` (``"auto"`` as :func:`imbllm.llm.model.device.resolve_device` reads
    it: CUDA when present); an unknown string is left for the backbone to refuse."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return torch.device(device).type
    except RuntimeError:
        return str(device)


def sampler_setup(family: str | None = None) -> dict:
    """The setup part of an oversampled set's key, for a method of ``family``.

    ``None`` (the family unknown) takes every family's libraries and the CPU's threads and
    kernel, without importing torch: a key that misses more often, never one that hits
    wrongly. The LLM family keys on the device ``"auto"`` gives on this host (a set made on a
    GPU is not served to a CPU-only host); an explicit device is part of the sampler's
    settings already.
    """
    if family is None:
        return _cpu_setup(sorted({n for libs in SAMPLER_LIBRARIES.values() for n in libs}))
    if family not in SAMPLER_LIBRARIES:
        raise ValueError(
            f"method.family={family!r} names no known set of libraries; use one of "
            f"{sorted(SAMPLER_LIBRARIES)}."
        )
    libraries = SAMPLER_LIBRARIES[family]
    if family == "reference":
        return {}
    if family in ("classical", "forest"):
        return _cpu_setup(libraries)
    # CTGAN and TVAE run with enable_gpu=False; the LLM methods where "auto" puts them.
    setup = model_setup("cpu" if family == "deep" else "auto")
    setup["versions"] = library_versions(libraries)
    return setup


def _cpu_setup(libraries: Iterable[str]) -> dict:
    return {
        "versions": library_versions(libraries),
        "threads": cpu_threads(),
        "kernel": blas_kernel(),
    }


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` says)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: platform's answer below
    return platform.processor() or platform.machine() or "unknown"


def run_tags() -> dict[str, str]:
    """Where a run ran, as tags: CPU model, BLAS libraries and kernels, thread counts (torch's
    only once the run loaded it), library versions and Python's."""
    libs = blas_libraries()
    blas = sorted(
        f"{_owner(lib)}: {lib.get('internal_api')} {lib.get('version')} {lib.get('architecture')}"
        for lib in libs
        if lib["user_api"] == "blas"
    )
    torch = sys.modules.get("torch")
    tags = {
        "host_cpu": cpu_model(),
        "host_blas": "; ".join(blas) or "none",
        "threads_torch": str(torch.get_num_threads()) if torch is not None else "not loaded",
        "threads_omp_env": os.environ.get("OMP_NUM_THREADS", "unset"),
        "version_python": platform.python_version(),
    }
    for api, n in cpu_threads().items():
        tags[f"threads_{api}"] = str(n)
    tags.update({f"version_{name}": v for name, v in library_versions(TAG_LIBRARIES).items()})
    return tags

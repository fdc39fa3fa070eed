"""A fitted LLM oversampler in a folder: the model as safetensors, everything else pickled.

:meth:`imbllm.llm.engine.LLMOversampler.save` and ``load`` call these; the folder holds
``model/`` (:meth:`imbllm.llm.model.backbone.LanguageModel.save`) and ``sampler.joblib`` (the
sampler's class and fitted state: the plan with schema, prompts and labeller).

"""

from __future__ import annotations

from pathlib import Path

from imbllm.llm import model

__all__ = ["load_sampler", "save_sampler"]

def save_sampler(sampler, path: str | Path) -> None:
    """Write the fitted ``sampler`` to the folder ``path``."""
    import joblib

    if getattr(sampler, "lm_", None) is None:
        raise RuntimeError(
            f"{type(sampler).__name__}.save needs a fitted model; call fit_resample first."
        )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sampler.lm_.save(path / "model")
    # The drawer holds the model; it is made again from the plan at load.
    state = {k: v for k, v in sampler.__dict__.items() if k not in ("lm_", "drawer_")}
    joblib.dump({"class": type(sampler), "state": state}, path / "sampler.joblib")


def load_sampler(path: str | Path, device: str | None = None):
    """The sampler written by :func:`save_sampler`, its model loaded (on ``device`` if given)
    but its drawer not yet made (pickle: load only folders you trust)."""
    import joblib

    path = Path(path)
    if not (path / "sampler.joblib").is_file():
        raise FileNotFoundError(
            f"{path} holds no saved sampler (sampler.joblib missing); "
            "write one with save(path) after fit_resample."
        )
    saved = joblib.load(path / "sampler.joblib")
    if "plan_" not in saved["state"]:
        raise ValueError(
            f"{path} holds a sampler saved by an older version of imbllm (no plan_ in "
            "sampler.joblib); fit it again with fit_resample and save it anew."
        )
    obj = saved["class"].__new__(saved["class"])
    obj.__dict__.update(saved["state"])
    obj.lm_ = model.language_model().load(path / "model", device=device)
    return obj

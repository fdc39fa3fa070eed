"""imbllm: a reproducible benchmark harness for oversampling imbalanced tables with language
models, and the ImbLLM oversampler (arXiv 2510.09783).

``from imbllm import ImbLLM`` gives the imbalanced-learn compatible sampler. It is imported on
first use so that ``import imbllm`` stays light (no torch until a model is built).
"""

__all__ = ["ImbLLM"]


def __getattr__(name: str):
    if name == "ImbLLM":
        from imbllm.llm.methods import ImbLLM

        return ImbLLM
    raise AttributeError(f"module 'imbllm' has no attribute {name!r}")
